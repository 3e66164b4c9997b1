//! Token and answer decoding on the anonymous path (`POST /anon/rounds/{round}/answers`):
//! the JSON body, the base64 token, the round it names and its signature check. Anything a
//! stranger can send must be refused cleanly, never panic, and never verify unless signed.
//! A body that decodes also has its answer checked as every kind of round would check it.
#![no_main]

use std::sync::LazyLock;

use kintsugi_anon::{RoundKey, Token};
use kintsugi_core::rounds::{
    AnswerBody, AnswerContent, MAX_COMMENT_CHARS, RoundKind, check_answer,
};
use libfuzzer_sys::fuzz_target;

/// One round key for the whole run: generating RSA keys per input would be all we measured.
static KEY: LazyLock<(uuid::Uuid, Vec<u8>)> = LazyLock::new(|| {
    let key = RoundKey::generate().expect("a round key");
    (
        "6f1c3f4e-2d8a-4c1b-9a57-0b9a3e1c2d4f".parse().unwrap(),
        key.public_der().unwrap(),
    )
});

fuzz_target!(|data: &[u8]| {
    let (round, public) = &*KEY;
    // Either a whole JSON body, or the two token strings split at the first NUL byte, so
    // the fuzzer reaches the token checks without first having to learn JSON.
    let body = serde_json::from_slice::<AnswerBody>(data).ok();
    let (message, signature) = match &body {
        Some(body) => (body.token.message.clone(), body.token.signature.clone()),
        None => {
            let text = String::from_utf8_lossy(data);
            let (m, s) = text.split_once('\0').unwrap_or((&text, ""));
            (m.to_owned(), s.to_owned())
        }
    };
    if let Ok(token) = Token::from_base64(&message, &signature) {
        let mark = token.spent_mark();
        assert!(mark.len() == 64 && mark.bytes().all(|b| b.is_ascii_hexdigit()));
        let _ = token.round();
        assert!(
            token.verify(*round, public).is_err(),
            "a token nobody signed verified"
        );
    }
    // Checked even when the token is refused: a signed token is out of the fuzzer's reach,
    // and the answer rules must hold whatever arrives with it.
    if let Some(body) = body {
        answer_rules_hold(&body.answer);
    }
});

fn answer_rules_hold(answer: &AnswerContent) {
    for &kind in RoundKind::ALL {
        let Ok(checked) = check_answer(kind, answer, None) else {
            continue;
        };
        if let Some(comment) = &checked.comment {
            assert!(
                comment.chars().count() <= MAX_COMMENT_CHARS,
                "{kind}: a comment over {MAX_COMMENT_CHARS} characters passed"
            );
        }
        if let Some(rating) = checked.rating {
            assert!((1..=7).contains(&rating), "{kind}: rating {rating} passed");
        }
    }
}
