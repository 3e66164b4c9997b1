//! An Oblivious HTTP client (RFC 9458) for `kintsugi respond --relay`: each request is encoded
//! as Binary HTTP (RFC 9292), encapsulated with the `ohttp` crate for the server's gateway key,
//! and posted to the relay, which forwards it to the gateway without the client's address.

use anyhow::{Context, bail};

pub struct Oblivious {
    http: reqwest::Client,
    relay: String,
    /// The gateway's key configuration list (`/ohttp/keys`).
    keys: Vec<u8>,
    authority: String,
}

impl Oblivious {
    /// Fetches the gateway's key configuration from `server` (it is the same for everyone).
    pub async fn new(server: &str, relay: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let got = http.get(format!("{server}/ohttp/keys")).send().await?;
        if !got.status().is_success() {
            bail!(
                "the server has no Oblivious HTTP gateway key ({})",
                got.status()
            );
        }
        let keys = got.bytes().await?.to_vec();
        let url = reqwest::Url::parse(server).context("--server is not a URL")?;
        let authority = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => bail!("--server has no host"),
        };
        Ok(Self {
            http,
            relay: relay.to_owned(),
            keys,
            authority,
        })
    }

    /// Sends one request through the relay; the gateway's answer, decapsulated.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        json: Option<&[u8]>,
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        let mut m = bhttp::Message::request(
            method.as_bytes().to_vec(),
            b"https".to_vec(),
            self.authority.as_bytes().to_vec(),
            path.as_bytes().to_vec(),
        );
        if let Some(body) = json {
            m.put_header("content-type", "application/json");
            m.write_content(body);
        }
        let mut inner = Vec::new();
        m.write_bhttp(bhttp::Mode::KnownLength, &mut inner)?;
        let client = ohttp::ClientRequest::from_encoded_config_list(&self.keys)
            .context("the gateway's key configuration is not one this client can use")?;
        let (sealed, pending) = client.encapsulate(&inner)?;
        let resp = self
            .http
            .post(&self.relay)
            .header("content-type", "message/ohttp-req")
            .body(sealed)
            .send()
            .await
            .context("the relay could not be reached")?;
        let status = resp.status();
        let body = resp.bytes().await?;
        if !status.is_success() {
            bail!(
                "the relay or the gateway refused the request ({status}): {}",
                String::from_utf8_lossy(&body).trim()
            );
        }
        let opened = pending
            .decapsulate(&body)
            .context("the gateway's answer did not open")?;
        let answer = bhttp::Message::read_bhttp(&mut std::io::Cursor::new(&opened[..]))?;
        let code = answer
            .control()
            .status()
            .context("the gateway's answer has no status")?
            .code();
        Ok((code, answer.content().to_vec()))
    }
}
