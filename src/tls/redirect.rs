//! The plain-HTTP listener next to HTTPS: answers ACME HTTP-01 challenges and sends everything
//! else to the HTTPS address with a 301.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::CertStore;

const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

#[derive(Clone)]
struct Redirect {
    store: Arc<CertStore>,
    https_port: u16,
    /// public_url's host; used instead of the request's Host header when configured.
    host: Option<String>,
}

pub fn router(store: Arc<CertStore>, https_port: u16, host: Option<String>) -> Router {
    Router::new().fallback(handle).with_state(Redirect {
        store,
        https_port,
        host,
    })
}

async fn handle(State(r): State<Redirect>, req: Request) -> Response {
    let path = req.uri().path();
    if let Some(token) = path.strip_prefix(CHALLENGE_PREFIX) {
        return match r.store.http_challenge(token) {
            Some(answer) => {
                ([(header::CONTENT_TYPE, "application/octet-stream")], answer).into_response()
            }
            None => StatusCode::NOT_FOUND.into_response(),
        };
    }
    let host = match r.host.clone().or_else(|| request_host(&req)) {
        Some(h) => h,
        None => return (StatusCode::BAD_REQUEST, "missing Host header").into_response(),
    };
    let location = https_location(
        &host,
        r.https_port,
        req.uri().path_and_query().map(|p| p.as_str()),
    );
    match HeaderValue::from_str(&location) {
        Ok(v) => Response::builder()
            .status(StatusCode::MOVED_PERMANENTLY)
            .header(header::LOCATION, v)
            .body(Body::empty())
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

/// The Host header without its port, if it is a plausible host name or IP literal.
fn request_host(req: &Request) -> Option<String> {
    let raw = req.headers().get(header::HOST)?.to_str().ok()?;
    let host = if raw.starts_with('[') {
        raw.split_inclusive(']').next()?
    } else {
        raw.rsplit_once(':').map(|(h, _)| h).unwrap_or(raw)
    };
    let ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    ok.then(|| host.to_string())
}

pub fn https_location(host: &str, port: u16, path_and_query: Option<&str>) -> String {
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let path = path_and_query.unwrap_or("/");
    if port == 443 {
        format!("https://{host}{path}")
    } else {
        format!("https://{host}:{port}{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            https_location("books.example.org", 443, Some("/a?b=1")),
            "https://books.example.org/a?b=1"
        );
        assert_eq!(
            https_location("127.0.0.1", 8443, None),
            "https://127.0.0.1:8443/"
        );
        assert_eq!(
            https_location("::1", 8443, Some("/")),
            "https://[::1]:8443/"
        );
    }

    #[tokio::test]
    async fn answers_http01_and_redirects_the_rest() {
        use tower::ServiceExt;
        let store = CertStore::new();
        store.put_http_challenge("tok", "tok.thumb");
        let app = router(store, 8443, None);
        let get = |uri: &str| {
            Request::builder()
                .uri(uri)
                .header(header::HOST, "books.test")
                .body(Body::empty())
                .expect("request")
        };
        let r = app
            .clone()
            .oneshot(get("/.well-known/acme-challenge/tok"))
            .await
            .expect("response");
        assert_eq!(r.status(), StatusCode::OK);
        let body = axum::body::to_bytes(r.into_body(), 1024)
            .await
            .expect("body");
        assert_eq!(&body[..], b"tok.thumb");
        let r = app.oneshot(get("/x?y=1")).await.expect("response");
        assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(
            r.headers()[header::LOCATION],
            "https://books.test:8443/x?y=1"
        );
    }

    #[test]
    fn host_header_is_checked() {
        let req = |h: &str| {
            Request::builder()
                .header(header::HOST, h)
                .body(Body::empty())
                .expect("request")
        };
        assert_eq!(request_host(&req("a.test:80")).as_deref(), Some("a.test"));
        assert_eq!(request_host(&req("[::1]:80")).as_deref(), Some("[::1]"));
        assert_eq!(request_host(&req("evil/x")), None);
    }
}
