//! Cross-site request forgery guard for the only two routes a browser authenticates by cookie:
//! `POST /auth/refresh` and `POST /logout` (the refresh token lives in an HttpOnly cookie).
//! SameSite=Lax already keeps the cookie off cross-site POSTs; this is the second layer, for
//! browsers or same-site-but-cross-origin pages (another port, a sibling subdomain) where Lax
//! does not help. A cross-origin caller must send a header a plain form or `fetch` without CORS
//! cannot send: `X-Requested-With` (the web app) or `x-refresh-token` (ABS apps, which carry the
//! token themselves and so are not riding on an ambient cookie). Origins the CORS policy already
//! trusts (the ABS apps' web views, configured origins) are exempt, so those apps keep working.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::http::ABS_BASE_PATH;

fn is_cookie_route(path: &str) -> bool {
    let path = path.strip_prefix(ABS_BASE_PATH).unwrap_or(path);
    matches!(path, "/auth/refresh" | "/logout")
}

/// `Origin` is `scheme://host[:port]` (or `null`); compare its authority with the host the
/// request was addressed to. A forwarded host counts too: a cross-site page cannot set that
/// header without a CORS preflight this server never grants.
fn same_origin(headers: &HeaderMap, uri_authority: Option<&str>) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let Some((_, authority)) = origin.split_once("://") else {
        return false;
    };
    let authority = authority.trim_end_matches('/');
    let candidates = [
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
        headers
            .get("x-forwarded-host")
            .and_then(|v| v.to_str().ok()),
        uri_authority,
    ];
    candidates
        .into_iter()
        .flatten()
        .any(|h| h.trim().eq_ignore_ascii_case(authority))
}

fn has_custom_header(headers: &HeaderMap) -> bool {
    ["x-requested-with", "x-refresh-token"]
        .iter()
        .any(|h| headers.get(*h).is_some_and(|v| !v.is_empty()))
}

/// Whether a request may proceed; pure so it is easy to test.
pub fn allowed(method: &Method, path: &str, headers: &HeaderMap, authority: Option<&str>) -> bool {
    *method != Method::POST
        || !is_cookie_route(path)
        || same_origin(headers, authority)
        || has_custom_header(headers)
}

fn trusted_origin(headers: &HeaderMap, configured: &[String]) -> bool {
    headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|o| crate::http::security::cors_origin_allowed(o, configured))
}

pub async fn guard(
    axum::extract::State(state): axum::extract::State<crate::app::AppState>,
    req: Request,
    next: Next,
) -> Response {
    let authority = req.uri().authority().map(|a| a.as_str().to_string());
    if !trusted_origin(req.headers(), &state.config.allowed_origins)
        && !allowed(
            req.method(),
            req.uri().path(),
            req.headers(),
            authority.as_deref(),
        )
    {
        tracing::warn!(path = %req.uri().path(), "cross-origin cookie request refused");
        return AppError::Forbidden("Cross-origin request refused".into()).into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, axum::http::HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_abs_apps_origins_are_trusted() {
        let h = headers(&[("origin", "capacitor://localhost")]);
        assert!(trusted_origin(&h, &[]));
        let h = headers(&[("origin", "https://evil.example")]);
        assert!(!trusted_origin(&h, &[]));
        assert!(trusted_origin(&h, &["https://evil.example".to_string()]));
    }

    #[test]
    fn same_origin_and_no_origin_pass() {
        let m = Method::POST;
        assert!(allowed(&m, "/auth/refresh", &headers(&[]), None));
        let h = headers(&[
            ("host", "a.example:8080"),
            ("origin", "https://a.example:8080"),
        ]);
        assert!(allowed(&m, "/auth/refresh", &h, None));
    }

    #[test]
    fn cross_origin_needs_a_custom_header() {
        let m = Method::POST;
        let h = headers(&[("host", "a.example"), ("origin", "https://evil.example")]);
        assert!(!allowed(&m, "/auth/refresh", &h, None));
        assert!(!allowed(&m, "/logout", &h, None));
        assert!(!allowed(&m, "/audiobookshelf/logout", &h, None));
        assert!(allowed(&m, "/login", &h, None));
        assert!(allowed(&Method::GET, "/logout", &h, None));
        let h = headers(&[
            ("host", "a.example"),
            ("origin", "https://evil.example"),
            ("x-requested-with", "XMLHttpRequest"),
        ]);
        assert!(allowed(&m, "/auth/refresh", &h, None));
        let h = headers(&[("host", "a.example"), ("origin", "null")]);
        assert!(!allowed(&m, "/logout", &h, None));
    }
}
