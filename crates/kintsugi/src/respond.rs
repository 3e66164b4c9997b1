//! `kintsugi respond`: answer a round of any kind (a repair's rounds and pulses, a team health
//! check) from the command line, without trusting the JavaScript a server sends. It blinds
//! locally, asks for the signature while logged in, then redeems on the anonymous path with a
//! separate client that carries no cookie. With `--wait` it stays until the round's marks
//! download shows the answer sealed, and sends it again if the server holding it stopped.
//! With `--relay URL`, every anonymous request goes through an Oblivious HTTP relay (RFC 9458)
//! to the server's gateway, encapsulated with the `ohttp` crate: the server sees only the relay.

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kintsugi_anon::client;
use serde_json::{Value, json};

pub struct Respond {
    pub server: String,
    /// None: a team health check.
    pub repair: Option<String>,
    pub round: Option<String>,
    pub invitation: Option<String>,
    pub email: Option<String>,
    pub category: Option<String>,
    pub comment: Option<String>,
    pub rating: Option<i64>,
    /// `KEY=VALUE`, one per rated item (trust pulses, team health checks).
    pub items: Vec<String>,
    /// Ask for the one replacement key (the first is on a lost device).
    pub replace: bool,
    /// Stay until the answer is sealed.
    pub wait: bool,
    /// An Oblivious HTTP relay in front of the server's gateway; none: the direct path.
    pub relay: Option<String>,
}

/// The anonymous path, direct or through a relay.
enum Anon {
    Direct {
        http: reqwest::Client,
        server: String,
    },
    Relay(crate::ohttp_client::Oblivious),
}

impl Anon {
    /// The status and body of an anonymous request for `path` (under `/anon/`).
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        match self {
            Anon::Direct { http, server } => {
                let url = format!("{server}{path}");
                let req = match body {
                    Some(b) => http.post(url).json(b),
                    None => http.request(method.parse()?, url),
                };
                let resp = req.send().await?;
                Ok((resp.status().as_u16(), resp.bytes().await?.to_vec()))
            }
            Anon::Relay(o) => {
                let body = body.map(serde_json::to_vec).transpose()?;
                o.send(method, path, body.as_deref()).await
            }
        }
    }
}

fn detail(status: u16, body: &[u8]) -> String {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    format!(
        "{status}: {}",
        body["detail"].as_str().unwrap_or("no detail")
    )
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

/// The round to answer: its id, its public key and where its token is signed.
async fn find_round(
    http: &reqwest::Client,
    r: &Respond,
) -> anyhow::Result<(String, String, String)> {
    let (list, token_url) = match &r.repair {
        Some(repair) => (
            format!("{}/api/v1/repairs/{repair}/rounds", r.server),
            format!(
                "{}/api/v1/repairs/{repair}/rounds/{{round}}/token",
                r.server
            ),
        ),
        None => (
            format!("{}/api/v1/health/checks", r.server),
            format!("{}/api/v1/health/rounds/{{round}}/token", r.server),
        ),
    };
    let listed: Value = http.get(list).send().await?.json().await?;
    let listed = listed
        .as_array()
        .context("cannot list the rounds (is the repair id right?)")?;
    let id_of = |x: &Value| x["id"].as_str().or(x["round"].as_str()).map(str::to_owned);
    let round = listed
        .iter()
        .filter(|x| r.repair.is_none() || x["open"] == true)
        .find(|x| r.round.is_none() || id_of(x) == r.round)
        .with_context(|| match &r.repair {
            Some(_) => "this repair has no open round to answer".to_owned(),
            None => {
                "you have no open team health check to answer (give --repair for a repair's round)"
                    .to_owned()
            }
        })?;
    let id = id_of(round).context("round without id")?;
    let key = round["public_key"]
        .as_str()
        .context("round without key")?
        .to_owned();
    Ok((token_url.replace("{round}", &id), id, key))
}

fn answer_content(r: &Respond) -> anyhow::Result<Value> {
    let mut items = serde_json::Map::new();
    for item in &r.items {
        let (key, value) = item
            .split_once('=')
            .with_context(|| format!("--item {item:?}: write KEY=VALUE, e.g. --item safety=5"))?;
        let value: i64 = value
            .trim()
            .parse()
            .with_context(|| format!("--item {item:?}: the value must be a whole number"))?;
        items.insert(key.trim().to_owned(), json!(value));
    }
    if r.category.is_none() && r.comment.is_none() && r.rating.is_none() && items.is_empty() {
        bail!("give what you answer: --category and --comment, --rating, or --item KEY=VALUE");
    }
    let mut answer = json!({"category": r.category, "comment": r.comment});
    if let Some(rating) = r.rating {
        answer["rating"] = json!(rating);
    }
    if !items.is_empty() {
        answer["items"] = Value::Object(items);
    }
    Ok(answer)
}

pub async fn run(r: Respond) -> anyhow::Result<()> {
    let answer = answer_content(&r)?;
    let server = r.server.trim_end_matches('/').to_owned();
    let r = Respond { server, ..r };
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    log_in(&http, &r).await?;

    let (token_url, round_id, public) = find_round(&http, &r).await?;
    let public = STANDARD.decode(public)?;
    eprintln!(
        "Round {round_id}, key fingerprint {}",
        kintsugi_anon::fingerprint(&public)
    );

    let mut secret = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut secret);
    let (pending, blinded) = client::Pending::start(round_id.parse()?, &public, secret)?;
    let secret_hex = pending.secret_hex.clone();
    let signed = http
        .post(token_url)
        .json(&json!({"blinded_message": STANDARD.encode(blinded), "replace": r.replace}))
        .send()
        .await?;
    if !signed.status().is_success() {
        let why = problem(signed).await;
        if why.starts_with("409") && !r.replace {
            bail!(
                "no token: {why}. If the device that has your key is lost, run again with --replace (once per round)."
            );
        }
        bail!("no token: {why}");
    }
    let signed: Value = signed.json().await?;
    let token = pending
        .finish(&STANDARD.decode(signed["blind_signature"].as_str().context("no signature")?)?)?;
    let mark = token.spent_mark();

    // A fresh client: no cookie jar, nothing shared with the logged-in session.
    let anon = match &r.relay {
        None => Anon::Direct {
            http: reqwest::Client::new(),
            server: r.server.clone(),
        },
        Some(relay) => Anon::Relay(crate::ohttp_client::Oblivious::new(&r.server, relay).await?),
    };
    let capability = client::reply_capability(&secret_hex);
    let body = json!({
        "token": {"message": STANDARD.encode(&token.prepared), "signature": STANDARD.encode(&token.signature)},
        "answer": answer,
        "reply_check": client::reply_check(&capability),
    });
    let answers = format!("/anon/rounds/{round_id}/answers");
    let marks = format!("/anon/rounds/{round_id}/marks");
    let mut held_by = send(&anon, &answers, &body).await?;
    if held_by.is_some() {
        println!(
            "Received. It waits to be sealed together with other answers (at the latest when the round closes), so not even its arrival time points to you."
        );
    }
    while r.wait && held_by.is_some() {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let (_, now) = anon.call("GET", &marks, None).await?;
        let now: Value = serde_json::from_slice(&now)?;
        let listed = |key: &str, value: &str| {
            now[key]
                .as_array()
                .is_some_and(|xs| xs.iter().any(|x| x == value))
        };
        if listed("sealed", &mark) {
            held_by = None;
        } else if now["open"] != true {
            bail!("the round closed before your answer was sealed, so it was not counted");
        } else if !held_by.as_deref().is_some_and(|id| listed("running", id)) {
            eprintln!("The server holding your answer stopped; sending it again.");
            held_by = send(&anon, &answers, &body).await?;
        }
    }
    if held_by.is_none() {
        println!(
            "Sealed: your answer is counted once, anonymously. Nobody, the server included, can tell it is yours."
        );
    }
    println!(
        "Reply capability (keep it private; it lets you read and answer replies): {capability}"
    );
    Ok(())
}

/// Sends the answer; the server that holds it while it waits, or none once it is sealed.
async fn send(anon: &Anon, path: &str, body: &Value) -> anyhow::Result<Option<String>> {
    let (status, resp) = anon.call("POST", path, Some(body)).await?;
    match status {
        202 => {
            let accepted: Value = serde_json::from_slice(&resp)?;
            Ok(Some(
                accepted["held_by"]
                    .as_str()
                    .context("the server did not say where the answer waits")?
                    .to_owned(),
            ))
        }
        201 => Ok(None),
        _ => bail!("the answer was refused: {}", detail(status, &resp)),
    }
}
