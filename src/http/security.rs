//! Headers every response carries, and a request log that never contains a secret.

use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::auth::extract::ClientIp;

/// No inline script or style anywhere: the web UI ships its scripts and styles as files.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; font-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'";

pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_FRAME_OPTIONS, "SAMEORIGIN");
    set(
        h,
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), payment=()",
    );
    set(
        h,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    resp
}

/// Logs method, path (never the query string, which may hold `?token=`), status, time and client.
pub async fn request_log(
    client: Result<ClientIp, crate::error::AppError>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let ip = client
        .map(|c| c.0.ip.to_string())
        .unwrap_or_else(|_| "-".into());
    tracing::info!(
        target: "shelfwarden::http",
        %method,
        path = %redact_path(&path),
        status = resp.status().as_u16(),
        ms = started.elapsed().as_secs_f64() * 1000.0,
        client = %ip,
        "request"
    );
    resp
}

/// Paths never carry credentials today, but a future route might; cap the length at least.
fn redact_path(path: &str) -> &str {
    match path.char_indices().nth(200) {
        Some((i, _)) => &path[..i],
        None => path,
    }
}

/// The global `allow` list, applied before routing: a refused client gets 403 and an audit event.
/// A malformed forwarding header from a trusted proxy is a 400 here, for every route.
pub async fn global_allowlist(
    axum::extract::State(state): axum::extract::State<crate::app::AppState>,
    client: Result<ClientIp, crate::error::AppError>,
    req: Request,
    next: Next,
) -> Response {
    use axum::response::IntoResponse;
    let client = match client {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if state.allowlists.check_global(client.0.ip).is_err() {
        let ua = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        state
            .audit(
                crate::audit::AuditEvent::new(crate::audit::Action::AllowlistRefused)
                    .client(client.0.ip, ua)
                    .target(req.uri().path().to_string())
                    .details(serde_json::json!({ "list": "allow" })),
            )
            .await;
        return crate::error::AppError::forbidden().into_response();
    }
    next.run(req).await
}

/// The ABS apps' web views (`capacitor://localhost`, `http://localhost`) and configured origins.
/// Anything else gets no CORS headers at all: origins are never reflected blindly.
pub fn cors_origin_allowed(origin: &str, configured: &[String]) -> bool {
    matches!(
        origin,
        "capacitor://localhost" | "http://localhost" | "https://localhost"
    ) || configured.iter().any(|o| o == origin)
}

pub async fn cors(
    axum::extract::State(state): axum::extract::State<crate::app::AppState>,
    req: Request,
    next: Next,
) -> Response {
    use axum::response::IntoResponse;
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| cors_origin_allowed(o, &state.config.allowed_origins))
        .and_then(|o| HeaderValue::from_str(o).ok());
    let Some(origin) = origin else {
        return next.run(req).await;
    };
    let preflight = req.method() == axum::http::Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut resp = if preflight {
        axum::http::StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    if preflight {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PATCH, DELETE, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(
                "authorization, content-type, x-return-tokens, x-refresh-token",
            ),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    resp
}
