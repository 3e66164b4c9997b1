//! Compression: pages, the API and assets go out gzip or brotli when the client accepts it; the
//! anonymous path and the operations endpoints never do.

use reqwest::StatusCode;
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING};

use crate::harness::*;
use crate::on_both;

/// The status, `Content-Encoding` and raw bytes (as sent, not decoded) of a GET.
async fn raw(
    client: &reqwest::Client,
    url: &str,
    accept: Option<&str>,
) -> (StatusCode, Option<String>, Vec<u8>) {
    let mut request = client.get(url);
    if let Some(accept) = accept {
        request = request.header(ACCEPT_ENCODING, accept);
    }
    let response = request.send().await.unwrap();
    let encoding = response
        .headers()
        .get(CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap().to_owned());
    (
        response.status(),
        encoding,
        response.bytes().await.unwrap().to_vec(),
    )
}

/// gzip's magic number.
fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

on_both!(pages_and_assets_are_compressed, |backend| async move {
    let c = crate::repairs::cast(backend).await;
    let repair = format!("{}/repairs/{}", c.app.url, c.repair);
    let script = format!("{}/assets/app.js", c.app.url);
    let stylesheet = format!("{}/assets/app.css", c.app.url);
    for (what, client, url) in [
        ("the repair page", &c.fay.client, repair.as_str()),
        ("app.js", &c.fay.client, script.as_str()),
        ("app.css", &c.fay.client, stylesheet.as_str()),
    ] {
        let (status, plain_encoding, plain) = raw(client, url, None).await;
        assert_eq!(status, StatusCode::OK, "{what}");
        assert_eq!(
            plain_encoding, None,
            "{what}: nothing asked, nothing compressed"
        );
        let (status, encoding, gzipped) = raw(client, url, Some("gzip")).await;
        assert_eq!(status, StatusCode::OK, "{what}");
        assert_eq!(encoding.as_deref(), Some("gzip"), "{what}");
        assert!(is_gzip(&gzipped), "{what}: gzip's magic number");
        assert!(
            gzipped.len() * 2 < plain.len(),
            "{what}: {} bytes gzipped, {} plain",
            gzipped.len(),
            plain.len()
        );
        let (_, encoding, _) = raw(client, url, Some("br;q=1.0, gzip;q=0.8")).await;
        assert_eq!(
            encoding.as_deref(),
            Some("br"),
            "{what}: brotli when preferred"
        );
    }
});

on_both!(
    the_anonymous_path_and_operations_are_never_compressed,
    |backend| async move {
        let app = App::start(backend).await;
        let client = reqwest::Client::new();
        let nil = uuid::Uuid::nil();
        for path in [
            format!("/anon/rounds/{nil}/marks"),
            format!("/anon/rounds/{nil}/threads"),
        ] {
            let (status, encoding, body) =
                raw(&client, &format!("{}{path}", app.url), Some("gzip, br")).await;
            assert!(status.is_client_error(), "{path}: {status}");
            // Long enough that the compression layer would have compressed it.
            assert!(body.len() > 32, "{path}: {} bytes", body.len());
            assert_eq!(encoding, None, "{path} is not compressed");
            assert!(!is_gzip(&body), "{path}");
        }
        let posted = client
            .post(format!("{}/anon/replies", app.url))
            .header(ACCEPT_ENCODING, "gzip, br")
            .header("content-type", "application/json")
            .body("{\"not\": \"a reply\"}")
            .send()
            .await
            .unwrap();
        assert!(posted.status().is_client_error(), "{}", posted.status());
        assert_eq!(
            posted.headers().get(CONTENT_ENCODING),
            None,
            "/anon/replies"
        );
        let (_, encoding, _) = raw(&client, &format!("{}/readyz", app.url), Some("gzip")).await;
        assert_eq!(encoding, None, "/readyz is as it was");
    }
);
