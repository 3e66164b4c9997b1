//! RFC 9474 Appendix A, RSABSSA-SHA384-PSS-Randomized: the signer's part and verification
//! reproduce the published values, and the round-trip works with fresh keys.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "the helpers that read the RFC's vectors, outside `#[test]` functions: a failed step fails the test"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "round ids for the round-trip, made here: the one id source is in the application layer"
)]

use blind_rsa_signatures::{MessageRandomizer, SecretKeySha384PSSRandomized, Signature};
use crypto_bigint::BoxedUint;
use kintsugi_anon::{RoundKey, Token, TokenError, client};

#[derive(serde::Deserialize)]
struct Vector {
    p: String,
    q: String,
    n: String,
    e: String,
    d: String,
    msg: String,
    msg_prefix: String,
    blinded_msg: String,
    blind_sig: String,
    sig: String,
}

fn bytes(h: &str) -> Vec<u8> {
    let h = h.trim_start_matches("0x");
    hex::decode(if h.len() % 2 == 1 {
        format!("0{h}")
    } else {
        h.to_owned()
    })
    .unwrap()
}

fn uint(h: &str, bits: u32) -> BoxedUint {
    BoxedUint::from_be_slice(&bytes(h), bits).unwrap()
}

#[test]
fn rfc9474_vectors() {
    let vectors: Vec<Vector> = serde_json::from_str(include_str!("rfc9474-vectors.json")).unwrap();
    assert!(!vectors.is_empty());
    for v in vectors {
        let bits = (bytes(&v.n).len() * 8) as u32;
        let inner = rsa::RsaPrivateKey::from_components(
            uint(&v.n, bits),
            uint(&v.e, bits),
            uint(&v.d, bits),
            vec![uint(&v.p, bits), uint(&v.q, bits)],
        )
        .expect("the RFC's key");
        let sk = SecretKeySha384PSSRandomized::new(inner);
        let pk = sk.public_key().unwrap();

        // The signer's step is deterministic: the published blinded message signs to the published blind signature.
        let blind_sig = sk.blind_sign(bytes(&v.blinded_msg)).unwrap();
        assert_eq!(blind_sig.0, bytes(&v.blind_sig));

        // The published signature verifies over prefix ‖ message, and not over anything else.
        let prefix: [u8; 32] = bytes(&v.msg_prefix).try_into().unwrap();
        let sig = Signature(bytes(&v.sig));
        assert!(
            pk.verify(&sig, Some(MessageRandomizer(prefix)), bytes(&v.msg))
                .is_ok()
        );
        let mut other = bytes(&v.msg);
        other[0] ^= 1;
        assert!(
            pk.verify(&sig, Some(MessageRandomizer(prefix)), other)
                .is_err()
        );
    }
}

#[test]
fn a_token_round_trip_and_its_refusals() {
    let key = RoundKey::generate().unwrap();
    let public = key.public_der().unwrap();
    let round = uuid::Uuid::new_v4();
    let (pending, blinded) = client::Pending::start(round, &public, [7u8; 32]).unwrap();
    assert_eq!(blinded.len(), 256);
    let token = pending
        .finish(&key.sign_blinded(&blinded).unwrap())
        .unwrap();
    assert_eq!(token.round().unwrap(), round);
    token.verify(round, &public).unwrap();

    assert_eq!(
        token.verify(uuid::Uuid::new_v4(), &public),
        Err(TokenError::WrongRound)
    );
    let other_key = RoundKey::generate().unwrap();
    assert_eq!(
        token.verify(round, &other_key.public_der().unwrap()),
        Err(TokenError::BadSignature),
        "another round's key"
    );
    let mut forged = token.clone();
    forged.signature[10] ^= 0xff;
    assert_eq!(forged.verify(round, &public), Err(TokenError::BadSignature));
    let mut tampered = token.clone();
    let last = tampered.prepared.len() - 1;
    tampered.prepared[last] = if tampered.prepared[last] == b'a' {
        b'b'
    } else {
        b'a'
    };
    assert_eq!(
        tampered.verify(round, &public),
        Err(TokenError::BadSignature)
    );

    // The secret key survives the key store's DER round trip.
    let again = RoundKey::from_secret_der(&key.secret_der().unwrap()).unwrap();
    assert_eq!(again.public_der().unwrap(), public);
    assert_eq!(kintsugi_anon::fingerprint(&public).split(' ').count(), 8);
    assert!(Token::from_base64("%%%", "x").is_err());
    assert!(key.sign_blinded(&[1, 2, 3]).is_err());
}
