//! `kintsugi respond`: answer a round from the command line, without trusting the
//! JavaScript a server sends. It blinds locally, asks for the signature while logged in,
//! then redeems on the anonymous path with a separate client that carries no cookie.

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kintsugi_anon::client;
use serde_json::{Value, json};

pub struct Respond {
    pub server: String,
    pub repair: String,
    pub round: Option<String>,
    pub invitation: Option<String>,
    pub email: Option<String>,
    pub category: Option<String>,
    pub comment: Option<String>,
}

async fn problem(resp: reqwest::Response) -> String {
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    format!(
        "{status}: {}",
        body["detail"].as_str().unwrap_or("no detail")
    )
}

/// Logs in with an invitation link (no password needed) or with email and a password read
/// from `KINTSUGI_PASSWORD` or standard input.
async fn log_in(http: &reqwest::Client, r: &Respond) -> anyhow::Result<()> {
    if let Some(link) = &r.invitation {
        let page = http
            .get(link)
            .send()
            .await
            .context("cannot reach the invitation link")?;
        if !page.status().is_success() {
            bail!("the invitation link does not work: {}", page.status());
        }
        let html = page.text().await?;
        let token = html
            .split("name=\"csrf_token\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .context("the invitation page has no form")?
            .to_owned();
        let resp = http
            .post(format!("{}/continue", link.trim_end_matches('/')))
            .form(&[("csrf_token", token)])
            .send()
            .await?;
        if !resp.status().is_redirection() {
            bail!(
                "signing in through the invitation failed: {}",
                resp.status()
            );
        }
        return Ok(());
    }
    let email = r
        .email
        .as_deref()
        .context("give --invitation LINK or --email EMAIL")?;
    let password = match std::env::var("KINTSUGI_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let resp = http
        .post(format!("{}/api/v1/session", r.server))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("logging in failed: {}", problem(resp).await);
    }
    Ok(())
}

pub async fn run(r: Respond) -> anyhow::Result<()> {
    if r.category.is_none() && r.comment.is_none() {
        bail!("give --category, --comment, or both");
    }
    let server = r.server.trim_end_matches('/').to_owned();
    let r = Respond { server, ..r };
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    log_in(&http, &r).await?;

    let rounds: Value = http
        .get(format!("{}/api/v1/repairs/{}/rounds", r.server, r.repair))
        .send()
        .await?
        .json()
        .await?;
    let open = rounds
        .as_array()
        .context("cannot list the repair's rounds (is the repair id right?)")?;
    let round = open
        .iter()
        .find(|x| x["open"] == true && r.round.as_deref().is_none_or(|id| x["id"] == id))
        .context("this repair has no open round to answer")?;
    let round_id = round["id"].as_str().context("round without id")?.to_owned();
    let public = STANDARD.decode(round["public_key"].as_str().context("round without key")?)?;
    eprintln!(
        "Round {round_id}, key fingerprint {}",
        kintsugi_anon::fingerprint(&public)
    );

    let mut secret = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut secret);
    let (pending, blinded) = client::Pending::start(round_id.parse()?, &public, secret)?;
    let secret_hex = pending.secret_hex.clone();
    let signed = http
        .post(format!(
            "{}/repairs/{}/rounds/{round_id}/token",
            r.server, r.repair
        ))
        .json(&json!({"blinded_message": STANDARD.encode(blinded)}))
        .send()
        .await?;
    if !signed.status().is_success() {
        bail!("no token: {}", problem(signed).await);
    }
    let signed: Value = signed.json().await?;
    let token = pending
        .finish(&STANDARD.decode(signed["blind_signature"].as_str().context("no signature")?)?)?;

    // A fresh client: no cookie jar, nothing shared with the logged-in session.
    let anon = reqwest::Client::new();
    let capability = client::reply_capability(&secret_hex);
    let resp = anon
        .post(format!("{}/anon/rounds/{round_id}/answers", r.server))
        .json(&json!({
            "token": {"message": STANDARD.encode(&token.prepared), "signature": STANDARD.encode(&token.signature)},
            "answer": {"category": r.category, "comment": r.comment},
            "reply_check": client::reply_check(&capability),
        }))
        .send()
        .await?;
    if resp.status().as_u16() != 201 {
        bail!("the answer was refused: {}", problem(resp).await);
    }
    println!(
        "Received. Your answer is anonymous: nobody, the server included, can tell it is yours."
    );
    println!(
        "Reply capability (keep it private; it lets you read and answer replies): {capability}"
    );
    Ok(())
}
