//! Token and answer decoding on the anonymous path (`POST /anon/rounds/{round}/answers`):
//! the JSON body, the base64 token, the round it names and its signature check. Anything a
//! stranger can send must be refused cleanly, never panic, and never verify unless signed.
#![no_main]

use std::sync::LazyLock;

use kintsugi_anon::{RoundKey, Token};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

/// One round key for the whole run: generating RSA keys per input would be all we measured.
static KEY: LazyLock<(uuid::Uuid, Vec<u8>)> = LazyLock::new(|| {
    let key = RoundKey::generate().expect("a round key");
    (
        "6f1c3f4e-2d8a-4c1b-9a57-0b9a3e1c2d4f".parse().unwrap(),
        key.public_der().unwrap(),
    )
});

/// The shape the server reads (crates/web/src/anon.rs `AnswerBody`), unknown fields refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Body {
    token: TokenBody,
    answer: serde_json::Value,
    reply_check: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    message: String,
    signature: String,
}

fuzz_target!(|data: &[u8]| {
    let (round, public) = &*KEY;
    // Either a whole JSON body, or the two token strings split at the first NUL byte, so
    // the fuzzer reaches the token checks without first having to learn JSON.
    let (message, signature) = match serde_json::from_slice::<Body>(data) {
        Ok(body) => (body.token.message, body.token.signature),
        Err(_) => {
            let text = String::from_utf8_lossy(data);
            let (m, s) = text.split_once('\0').unwrap_or((&text, ""));
            (m.to_owned(), s.to_owned())
        }
    };
    let Ok(token) = Token::from_base64(&message, &signature) else {
        return;
    };
    let mark = token.spent_mark();
    assert!(mark.len() == 64 && mark.bytes().all(|b| b.is_ascii_hexdigit()));
    let _ = token.round();
    assert!(
        token.verify(*round, public).is_err(),
        "a token nobody signed verified"
    );
});
