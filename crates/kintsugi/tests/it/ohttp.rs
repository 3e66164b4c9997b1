//! Oblivious HTTP (RFC 9458, issue 15): an answer encapsulated with the `ohttp` crate's client,
//! sent through `kintsugi relay` to the server's gateway, reaches the same `/anon` handler;
//! tampered encapsulations and paths outside `/anon/` are refused; `require_ohttp` refuses the
//! direct path.

use std::io::{BufRead, BufReader, Cursor};
use std::process::{Child, Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kintsugi_anon::Token;
use reqwest::StatusCode;
use serde_json::json;

use crate::harness::*;
use crate::rounds::{close_round, fetch_token, group_in, open_round, redeem};

/// A relay process, stopped when dropped.
struct Relay {
    url: String,
    child: Child,
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_relay(gateway: &str, extra: &[&str]) -> Relay {
    let mut child = Command::new(BIN)
        .args(["relay", "--listen", "127.0.0.1:0", "--gateway", gateway])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .strip_prefix("relay listening on ")
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    // Keep draining its stderr so it never blocks.
    std::thread::spawn(move || for _ in lines {});
    Relay {
        url: format!("http://{addr}/"),
        child,
    }
}

/// The server's key configuration list, as a client fetches it.
async fn key_config(app: &App) -> Vec<u8> {
    let got = reqwest::get(format!("{}/ohttp/keys", app.url))
        .await
        .unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.headers()["content-type"], "application/ohttp-keys");
    got.bytes().await.unwrap().to_vec()
}

/// A Binary HTTP request (known length).
fn bhttp_request(method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut m = bhttp::Message::request(
        method.as_bytes().to_vec(),
        b"https".to_vec(),
        b"kintsugi.example".to_vec(),
        path.as_bytes().to_vec(),
    );
    m.put_header("content-type", "application/json");
    m.write_content(body);
    let mut out = Vec::new();
    m.write_bhttp(bhttp::Mode::KnownLength, &mut out).unwrap();
    out
}

fn answer_body(token: &Token) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "token": {"message": STANDARD.encode(&token.prepared), "signature": STANDARD.encode(&token.signature)},
        "answer": {"category": "communication", "comment": "We heard about the dates last."},
    }))
    .unwrap()
}

/// Encapsulates `request` for `keys`, POSTs it to `url`, and returns the outer status and,
/// when it is 200, the decapsulated inner status and body.
async fn send(url: &str, keys: &[u8], request: &[u8]) -> (StatusCode, Option<(u16, String)>) {
    let client = ohttp::ClientRequest::from_encoded_config_list(keys).unwrap();
    let (sealed, pending) = client.encapsulate(request).unwrap();
    let resp = reqwest::Client::new()
        .post(url)
        .header("content-type", "message/ohttp-req")
        .body(sealed)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    if status != StatusCode::OK {
        return (status, None);
    }
    assert_eq!(resp.headers()["content-type"], "message/ohttp-res");
    let opened = pending.decapsulate(&resp.bytes().await.unwrap()).unwrap();
    let inner = bhttp::Message::read_bhttp(&mut Cursor::new(&opened[..])).unwrap();
    let code = inner.control().status().unwrap().code();
    let body = String::from_utf8_lossy(inner.content()).into_owned();
    (status, Some((code, body)))
}

#[tokio::test]
async fn an_answer_through_the_relay_reaches_the_anonymous_path() {
    let g = group_in(App::start(Backend::Sqlite).await, 3, "Through a relay").await;
    let (round, public) = open_round(&g).await;
    let token = fetch_token(&g.members[1], &g.repair, &round, &public)
        .await
        .unwrap();
    let keys = key_config(&g.app).await;
    let gateway = format!("{}/ohttp/gateway", g.app.url);
    let relay = start_relay(&gateway, &["--delay-max", "0.3"]);

    // The relay answers its health check and refuses anything but an OHTTP request.
    let health = reqwest::get(format!("{}healthz", relay.url)).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let wrong = reqwest::Client::new()
        .post(&relay.url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let oversized = reqwest::Client::new()
        .post(&relay.url)
        .header("content-type", "message/ohttp-req")
        .body(vec![0u8; 200 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(oversized.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // A tampered encapsulation: refused outside, before anything runs.
    let client = ohttp::ClientRequest::from_encoded_config_list(&keys).unwrap();
    let path = format!("/anon/rounds/{round}/answers");
    let (mut sealed, _) = client
        .encapsulate(&bhttp_request("POST", &path, &answer_body(&token)))
        .unwrap();
    let last = sealed.len() - 1;
    sealed[last] ^= 1;
    let tampered = reqwest::Client::new()
        .post(&relay.url)
        .header("content-type", "message/ohttp-req")
        .body(sealed)
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), StatusCode::BAD_REQUEST);
    assert!(
        tampered
            .text()
            .await
            .unwrap()
            .contains("could not be opened"),
        "a clear reason"
    );

    // A path outside /anon/ is refused inside the encapsulation.
    let (outer, inner) = send(&relay.url, &keys, &bhttp_request("GET", "/metrics", b"")).await;
    assert_eq!(outer, StatusCode::OK);
    let (code, body) = inner.unwrap();
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("only requests for /anon/"), "{body}");

    // The real answer, through the relay: the same token the tampered request carried, so
    // that one stored nothing.
    let (outer, inner) = send(
        &relay.url,
        &keys,
        &bhttp_request("POST", &path, &answer_body(&token)),
    )
    .await;
    assert_eq!(outer, StatusCode::OK);
    let (code, body) = inner.unwrap();
    assert_eq!(code, 202, "{body}");

    // Sent again, as a client does when it hears nothing back: the mixer holds one answer per
    // token, so it does not count twice (the count below).
    let (outer, _) = send(
        &relay.url,
        &keys,
        &bhttp_request("POST", &path, &answer_body(&token)),
    )
    .await;
    assert_eq!(outer, StatusCode::OK);

    // The gateway is on the anonymous path: a cookie is refused there too.
    let with_cookie = reqwest::Client::new()
        .get(format!("{}/ohttp/keys", g.app.url))
        .header("cookie", "kintsugi_session=anything")
        .send()
        .await
        .unwrap();
    assert_eq!(with_cookie.status(), StatusCode::BAD_REQUEST);

    close_round(&g, &round).await;
    assert_eq!(g.app.scalar("SELECT COUNT(*) FROM round_answers").await, 1);

    // The gateway is not logged, like /anon (the request log names every other route).
    let log = g.app.log.lock().unwrap().clone();
    assert!(
        log.iter().any(|l| l.contains("/api/v1/repairs")),
        "the log is read"
    );
    assert!(
        !log.iter()
            .any(|l| l.contains("/ohttp") || l.contains("/anon")),
        "{log:?}"
    );
}

#[tokio::test]
async fn require_ohttp_refuses_the_direct_path_and_takes_the_gateway() {
    let app = App::start_with(Backend::Sqlite, &[], &[("KINTSUGI_REQUIRE_OHTTP", "true")]).await;
    let g = group_in(app, 3, "Only through a relay").await;
    let (round, public) = open_round(&g).await;
    let token = fetch_token(&g.members[1], &g.repair, &round, &public)
        .await
        .unwrap();
    let direct = redeem(&g.app, &round, &token, "communication", "Direct.").await;
    assert_eq!(direct.status, StatusCode::FORBIDDEN, "{}", direct.body);
    assert!(direct.body.contains("through the relay"), "{}", direct.body);

    let keys = key_config(&g.app).await;
    let (outer, inner) = send(
        &format!("{}/ohttp/gateway", g.app.url),
        &keys,
        &bhttp_request(
            "POST",
            &format!("/anon/rounds/{round}/answers"),
            &answer_body(&token),
        ),
    )
    .await;
    assert_eq!(outer, StatusCode::OK);
    let (code, body) = inner.unwrap();
    assert_eq!(code, 202, "{body}");

    // A key configuration the server never made: refused outside with 400.
    let other = ohttp::KeyConfig::new(
        1,
        ohttp::hpke::Kem::X25519Sha256,
        vec![ohttp::SymmetricSuite::new(
            ohttp::hpke::Kdf::HkdfSha256,
            ohttp::hpke::Aead::Aes128Gcm,
        )],
    )
    .unwrap();
    let other = ohttp::KeyConfig::encode_list(&[&other]).unwrap();
    let (outer, _) = send(
        &format!("{}/ohttp/gateway", g.app.url),
        &other,
        &bhttp_request("GET", &format!("/anon/rounds/{round}/marks"), b""),
    )
    .await;
    assert_eq!(outer, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_relay_limits_each_address_and_says_when_the_gateway_is_down() {
    // Nothing listens on port 9 (discard) here: the gateway is down.
    let relay = start_relay(
        "http://127.0.0.1:9/ohttp/gateway",
        &["--delay-max", "0", "--per-minute", "2"],
    );
    let post = || {
        reqwest::Client::new()
            .post(&relay.url)
            .header("content-type", "message/ohttp-req")
            .body(vec![1u8; 64])
            .send()
    };
    assert_eq!(post().await.unwrap().status(), StatusCode::BAD_GATEWAY);
    assert_eq!(post().await.unwrap().status(), StatusCode::BAD_GATEWAY);
    assert_eq!(
        post().await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Only POST / is relayed.
    let other = reqwest::Client::new()
        .post(format!("{}anon/rounds/x/answers", relay.url))
        .header("content-type", "message/ohttp-req")
        .body(vec![1u8; 64])
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn kintsugi_respond_answers_through_the_relay() {
    // The direct path is refused, so an answer that lands came through the relay.
    let app = App::start_with(Backend::Sqlite, &[], &[("KINTSUGI_REQUIRE_OHTTP", "true")]).await;
    let g = group_in(app, 3, "Answered through a relay").await;
    let (round, _) = open_round(&g).await;
    let relay = start_relay(
        &format!("{}/ohttp/gateway", g.app.url),
        &["--delay-max", "0.2"],
    );
    let respond = |link: &str, extra: &[&str]| {
        Command::new(BIN)
            .args(["respond", "--server", &g.app.url, "--repair", &g.repair])
            .args(["--invitation", link])
            .args([
                "--category",
                "process",
                "--comment",
                "Sent through the relay.",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    // Another member tries the direct path (each member gets one token per round).
    let direct = respond(&g.links[1], &[]);
    assert!(!direct.status.success(), "the direct path is refused");
    assert!(
        String::from_utf8_lossy(&direct.stderr).contains("through the relay"),
        "{}",
        String::from_utf8_lossy(&direct.stderr)
    );
    let out = respond(&g.links[0], &["--relay", &relay.url]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Received"), "{stdout}");
    close_round(&g, &round).await;
    assert_eq!(g.app.scalar("SELECT COUNT(*) FROM round_answers").await, 1);
}

#[tokio::test]
async fn the_relay_holds_each_request_for_a_random_delay() {
    let relay = start_relay("http://127.0.0.1:9/ohttp/gateway", &["--delay-max", "1"]);
    let sends = (0..6).map(|_| {
        let url = relay.url.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let status = reqwest::Client::new()
                .post(url)
                .header("content-type", "message/ohttp-req")
                .body(vec![1u8; 64])
                .send()
                .await
                .unwrap()
                .status();
            (status, started.elapsed())
        })
    });
    let mut held = Vec::new();
    for s in sends {
        let (status, elapsed) = s.await.unwrap();
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        held.push(elapsed.as_secs_f64());
    }
    // Each at most the delay, one tick and the failed connection; not all at once (six draws
    // all under 0.15 s of a second happen once in a hundred thousand runs or so).
    assert!(held.iter().all(|s| *s < 2.0), "{held:?}");
    assert!(held.iter().any(|s| *s > 0.15), "{held:?}");
}
