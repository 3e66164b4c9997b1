//! The Oblivious HTTP gateway (RFC 9458) in front of the anonymous path: a relay run by
//! another party sees the member's address but only an encrypted request; this gateway
//! decrypts it but sees only the relay's address.
//!
//! - `GET /ohttp/keys`: the key configuration (`application/ohttp-keys`, RFC 9458 §3), one
//!   X25519 key with HKDF-SHA256 and AES-128-GCM, generated when the server starts and kept in
//!   memory only. Each server has its own; rotation on a schedule (with the previous config
//!   accepted for a grace period) is still to come.
//! - `POST /ohttp/gateway`: a `message/ohttp-req` holding a Binary HTTP request (RFC 9292). A
//!   body that does not decrypt (tampered, truncated, or sealed for another key) is refused
//!   outside the encapsulation with 400, before anything else runs. Once it decrypts, every
//!   answer goes back encapsulated under outer status 200, so the relay learns nothing from
//!   the status: a request for a path outside `/anon/` gets 403 inside, and every `/anon`
//!   request is dispatched to the same `/anon` handlers (the cookie refusal included), with
//!   no cookie and no client address.
//!
//! Both routes sit in the anon group: no cookies, not logged, not counted
//! (`kernel::ops::record_metrics`), not compressed. With `require_ohttp`, [`require_gateway`]
//! refuses `/anon` requests that did not come through here.

use std::io::Cursor;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kintsugi_app::Error;
use ohttp::hpke::{Aead, Kdf, Kem};
use ohttp::{KeyConfig, SymmetricSuite};
use tower::ServiceExt;

use crate::kernel::AppState;
use crate::kernel::error::HttpError;

/// The media types of RFC 9458.
pub const KEYS_TYPE: &str = "application/ohttp-keys";
pub const REQUEST_TYPE: &str = "message/ohttp-req";
pub const RESPONSE_TYPE: &str = "message/ohttp-res";

/// The largest inner response sent back: the anonymous path's downloads fit well under it.
const RESPONSE_LIMIT: usize = 16 * 1024 * 1024;

/// Marks a request that arrived through the gateway. Only the gateway inserts it: a request
/// from outside cannot carry an extension.
#[derive(Clone, Copy, Debug)]
pub struct ThroughGateway;

/// The gateway's key, and the `/anon` routes it hands decrypted requests to.
struct Gateway {
    /// None when no key could be made: both routes then answer 503.
    server: Option<ohttp::Server>,
    /// The encoded key configuration list served at `/ohttp/keys`.
    keys: Vec<u8>,
    anon: Router,
}

impl Gateway {
    fn new(anon: Router) -> Self {
        match make_server() {
            Ok((server, keys)) => Self {
                server: Some(server),
                keys,
                anon,
            },
            Err(e) => {
                tracing::error!(error = %e, "no Oblivious HTTP gateway key");
                Self {
                    server: None,
                    keys: Vec::new(),
                    anon,
                }
            }
        }
    }
}

/// A fresh key configuration (id 1 until rotation numbers them) and its encoded list.
fn make_server() -> Result<(ohttp::Server, Vec<u8>), ohttp::Error> {
    let config = KeyConfig::new(
        1,
        Kem::X25519Sha256,
        vec![SymmetricSuite::new(Kdf::HkdfSha256, Aead::Aes128Gcm)],
    )?;
    let keys = KeyConfig::encode_list(&[&config])?;
    Ok((ohttp::Server::new(config)?, keys))
}

/// `/ohttp/keys` and `/ohttp/gateway`, over `anon`: the `/anon` routes with their guards and
/// state, which decrypted requests are dispatched to.
pub fn routes(anon: Router) -> Router<AppState> {
    Router::new()
        .route("/ohttp/keys", get(keys))
        .route("/ohttp/gateway", post(gateway))
        .with_state(Arc::new(Gateway::new(anon)))
}

fn unready() -> Response {
    HttpError::from(Error::Unready(
        "this server has no Oblivious HTTP key; see its log".into(),
    ))
    .into_response()
}

async fn keys(State(gw): State<Arc<Gateway>>) -> Response {
    if gw.server.is_none() {
        return unready();
    }
    (
        [
            (header::CONTENT_TYPE, KEYS_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        gw.keys.clone(),
    )
        .into_response()
}

async fn gateway(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(server) = &gw.server else {
        return unready();
    };
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !media.eq_ignore_ascii_case(REQUEST_TYPE) {
        return HttpError::from(Error::BadRequest(format!(
            "the gateway takes only {REQUEST_TYPE} (an Oblivious HTTP request, RFC 9458)"
        )))
        .into_response();
    }
    let Ok((inner, reply)) = server.decapsulate(&body) else {
        return HttpError::from(Error::BadRequest(
            "the encapsulated request could not be opened: it was changed on the way, cut short, or sealed for another key configuration (fetch /ohttp/keys again)".into(),
        ))
        .into_response();
    };
    let answer = dispatch(&gw.anon, &inner).await;
    match reply.encapsulate(&answer) {
        Ok(sealed) => (
            [
                (header::CONTENT_TYPE, RESPONSE_TYPE),
                (header::CACHE_CONTROL, "no-store"),
            ],
            sealed,
        )
            .into_response(),
        Err(_) => HttpError::from(Error::Internal).into_response(),
    }
}

/// Decodes the Binary HTTP request, answers it, and encodes the answer as Binary HTTP.
async fn dispatch(anon: &Router, inner: &[u8]) -> Vec<u8> {
    let response = match to_request(inner) {
        Ok(request) => match anon.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        },
        Err(e) => HttpError::from(e).into_response(),
    };
    encode(response).await
}

/// The decrypted request, if it is a well-formed Binary HTTP request for `/anon/`.
fn to_request(inner: &[u8]) -> Result<Request, Error> {
    let message = bhttp::Message::read_bhttp(&mut Cursor::new(inner)).map_err(|_| {
        Error::BadRequest("the encapsulated request is not a Binary HTTP request (RFC 9292)".into())
    })?;
    let control = message.control();
    let (Some(method), Some(path)) = (control.method(), control.path()) else {
        return Err(Error::BadRequest(
            "the encapsulated message is a response, not a request".into(),
        ));
    };
    let path = std::str::from_utf8(path)
        .map_err(|_| Error::BadRequest("the request's path is not text".into()))?;
    if !on_anonymous_path(path) {
        return Err(Error::Forbidden(
            "the gateway forwards only requests for /anon/".into(),
        ));
    }
    let method = Method::from_bytes(method)
        .map_err(|_| Error::BadRequest("the request's method is not one HTTP knows".into()))?;
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::from(message.content().to_vec()))
        .map_err(|_| Error::BadRequest("the request's path is not a valid URI path".into()))?;
    for field in message.header().iter() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(field.name()),
            HeaderValue::from_bytes(field.value()),
        ) else {
            return Err(Error::BadRequest(
                "the request carries a header HTTP does not allow".into(),
            ));
        };
        request.headers_mut().append(name, value);
    }
    request.extensions_mut().insert(ThroughGateway);
    Ok(request)
}

/// Whether a request target is under `/anon/`, with no dot segment that could climb out.
fn on_anonymous_path(target: &str) -> bool {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    path.starts_with("/anon/")
        && !path
            .split('/')
            .any(|s| s == ".." || s == "." || s.contains('%') || s.contains('\\'))
}

/// The response as Binary HTTP (known-length form).
async fn encode(response: Response) -> Vec<u8> {
    let (parts, body) = response.into_parts();
    let (status, content) = match axum::body::to_bytes(body, RESPONSE_LIMIT).await {
        Ok(bytes) => (parts.status, bytes),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, Bytes::new()),
    };
    let code = bhttp::StatusCode::try_from(status.as_u16()).unwrap_or(bhttp::StatusCode::OK);
    let mut message = bhttp::Message::response(code);
    for (name, value) in &parts.headers {
        message.put_header(name.as_str(), value.as_bytes());
    }
    message.write_content(&content);
    let mut out = Vec::new();
    if message
        .write_bhttp(bhttp::Mode::KnownLength, &mut out)
        .is_err()
    {
        out.clear();
    }
    out
}

/// With `require_ohttp`, an `/anon` request that did not come through the gateway is refused.
pub async fn require_gateway(State(required): State<bool>, req: Request, next: Next) -> Response {
    if required && req.extensions().get::<ThroughGateway>().is_none() {
        return HttpError::from(Error::Forbidden(
            "send this through the relay: this server takes anonymous requests only through its Oblivious HTTP gateway (/ohttp/gateway)".into(),
        ))
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::{make_server, on_anonymous_path, to_request};
    use hpke::Deserializable;
    use hpke::kem::X25519HkdfSha256;

    /// RFC 9458 Appendix A, "Complete Example of a Request and Response".
    const SK_R: &str = "3c168975674b2fa8e465970b79c8dcf09f1c741626480bd4c6162fc5b6a98e1a";
    const KEY_CONFIG: &str = "01002031e1f05a740102115220e9af918f738674aec95f54db6e04eb705aae8e79815500080001000100010003";
    const REQUEST: &str = "00034745540568747470730b6578616d706c652e636f6d012f";
    const ENCAPSULATED_REQUEST: &str = "010020000100014b28f881333e7c164ffc499ad9796f877f4e1051ee6d31bad19dec96c208b4726374e469135906992e1268c594d2a10c695d858c40a026e7965e7d86b83dd440b2c0185204b4d63525";

    /// Opens an encapsulated request for key id 1 with the RFC's private key, framed as
    /// RFC 9458 §4.3 says (header, then enc, then the ciphertext; info is the label, a zero
    /// byte and the header).
    fn open_with_rfc_key(sealed: &[u8]) -> Vec<u8> {
        let (header, rest) = sealed.split_at(7);
        let (enc, ct) = rest.split_at(32);
        let mut info = b"message/bhttp request\0".to_vec();
        info.extend_from_slice(header);
        let sk =
            <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(&hex::decode(SK_R).unwrap())
                .unwrap();
        let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(enc).unwrap();
        let mut ctx = hpke::setup_receiver::<
            hpke::aead::AesGcm128,
            hpke::kdf::HkdfSha256,
            X25519HkdfSha256,
        >(&hpke::OpModeR::Base, &sk, &enc, &info)
        .unwrap();
        ctx.open(ct, b"").unwrap()
    }

    #[test]
    fn rfc_9458_appendix_a() {
        // The published encapsulated request opens to the published Binary HTTP request.
        let request = hex::decode(REQUEST).unwrap();
        assert_eq!(
            open_with_rfc_key(&hex::decode(ENCAPSULATED_REQUEST).unwrap()),
            request
        );
        // The ohttp crate's client, given the published key configuration, seals in the same
        // framing: the same header, the same length, and the RFC's key opens it.
        let client =
            ohttp::ClientRequest::from_encoded_config(&hex::decode(KEY_CONFIG).unwrap()).unwrap();
        let (sealed, _) = client.encapsulate(&request).unwrap();
        assert_eq!(
            &sealed[..7],
            &hex::decode(&ENCAPSULATED_REQUEST[..14]).unwrap()[..]
        );
        assert_eq!(sealed.len(), ENCAPSULATED_REQUEST.len() / 2);
        assert_eq!(open_with_rfc_key(&sealed), request);
        // Our key configuration has the RFC's layout: key id 1, X25519 (0x0020), a 32-byte key,
        // then HKDF-SHA256 with AES-128-GCM (the RFC's first suite; we offer no other).
        let (_, keys) = make_server().unwrap();
        let config = &keys[2..];
        assert_eq!(
            u16::from_be_bytes([keys[0], keys[1]]) as usize,
            config.len()
        );
        assert_eq!(&config[..3], &hex::decode("010020").unwrap()[..]);
        assert_eq!(&config[35..], &hex::decode("000400010001").unwrap()[..]);
        // The RFC's request (GET https://example.com/) is not for /anon/: the gateway refuses it.
        assert!(matches!(
            to_request(&request),
            Err(kintsugi_app::Error::Forbidden(_))
        ));
    }

    #[test]
    fn only_paths_under_anon_pass() {
        for ok in ["/anon/rounds/x/answers", "/anon/replies?x=1"] {
            assert!(on_anonymous_path(ok), "{ok}");
        }
        for refused in [
            "/anon",
            "/api/v1/me",
            "/metrics",
            "/anon/../metrics",
            "/anon/./x",
            "/anon/%2e%2e/metrics",
            "anon/x",
            "//anon/x",
            "",
        ] {
            assert!(!on_anonymous_path(refused), "{refused}");
        }
    }
}
