//! The web app: one server-rendered HTML shell and the hand-written ES modules and stylesheet it
//! loads, all embedded in the binary so there is no build step, no CDN and nothing to install.
//! Views are client-side (`/#/library/…`) so no page path collides with an ABS API route.

pub mod csrf;

use std::sync::LazyLock;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::auth::extract::SelfUser;
use crate::auth::password_policy::Strength;
use crate::error::{AppError, AppResult};
use crate::http::body::JsonBody;

/// One embedded file under `/app/`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";

macro_rules! asset {
    ($name:literal, $ty:expr) => {
        Asset {
            name: $name,
            content_type: $ty,
            body: include_bytes!(concat!("../../../web/app/", $name)),
        }
    };
}

static ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("main.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("player.js", JS),
    asset!("views.js", JS),
    asset!("lists.js", JS),
    asset!("listening.js", JS),
    asset!("admin.js", JS),
    asset!("account.js", JS),
    asset!("security.js", JS),
    asset!("webauthn.js", JS),
];

/// Strong validators, computed once: the files never change while the binary runs, so a browser
/// revalidates with `If-None-Match` and gets a bodiless 304 instead of the file.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| format!("\"{}\"", &hex::encode(Sha256::digest(a.body))[..20]))
        .collect()
});

/// The shell carries no inline script or style (the CSP forbids both); everything is in `/app/`.
const SHELL: &str = concat!(
    "<!doctype html>\n",
    "<html lang=\"en\">\n<head>\n",
    "<meta charset=\"utf-8\">\n",
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
    "<meta name=\"color-scheme\" content=\"light dark\">\n",
    "<meta name=\"referrer\" content=\"no-referrer\">\n",
    "<title>Shelfwarden</title>\n",
    "<link rel=\"icon\" href=\"/app/icon.svg\" type=\"image/svg+xml\">\n",
    "<link rel=\"stylesheet\" href=\"/app/app.css\">\n",
    "<script type=\"module\" src=\"/app/main.js\"></script>\n",
    "</head>\n<body>\n",
    "<a class=\"skip\" href=\"#main\">Skip to content</a>\n",
    "<header id=\"top\" class=\"top\" hidden></header>\n",
    "<main id=\"main\" tabindex=\"-1\"><p class=\"loading\">Loading…</p>",
    "<noscript><p>Shelfwarden's web app needs JavaScript.</p></noscript></main>\n",
    "<div id=\"player\" class=\"player\" hidden></div>\n",
    "<div id=\"toast\" class=\"toast\" role=\"status\" aria-live=\"polite\"></div>\n",
    "</body>\n</html>\n"
);

/// The web app's routes; merged at the root only (not under the ABS base path).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(shell))
        .route("/app/{file}", get(asset))
        .route("/api/me/password/strength", post(password_strength))
}

pub async fn shell() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The shell is tiny and names the assets; always revalidate so an upgrade shows at once.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SHELL,
    )
        .into_response()
}

pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some((i, a)) = ASSETS.iter().enumerate().find(|(_, a)| a.name == file) else {
        return AppError::not_found().into_response();
    };
    let etag = &ETAGS[i];
    let cache = [
        // Module imports are unversioned URLs, so the browser must revalidate; the 304 is cheap.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::ETAG,
            HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"0\"")),
        ),
    ];
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (
        cache,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(a.content_type),
        )],
        a.body,
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct StrengthBody {
    password: String,
}

/// The strength meter: the same policy the password change enforces, with its reasons. POST so
/// the candidate password never appears in a URL or a log line.
pub async fn password_strength(
    State(state): State<AppState>,
    SelfUser(me): SelfUser,
    JsonBody(body): JsonBody<StrengthBody>,
) -> AppResult<Json<Strength>> {
    let policy = state.config.password_policy();
    let username = me.user.username.clone();
    let email = me.user.email.clone().unwrap_or_default();
    // zxcvbn on a long input takes milliseconds; keep it off the async workers.
    let strength = tokio::task::spawn_blocking(move || {
        policy.strength(&body.password, &[username.as_str(), email.as_str()])
    })
    .await
    .map_err(AppError::internal)?;
    Ok(Json(strength))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_has_no_inline_script_or_style() {
        assert!(!SHELL.contains("style="));
        assert!(!SHELL.contains("<style"));
        for part in SHELL.split("<script").skip(1) {
            let (attrs, rest) = part.split_once('>').unwrap_or((part, ""));
            assert!(attrs.contains("src="), "inline script: {part}");
            assert!(rest.starts_with("</script>"), "script with a body: {part}");
        }
    }

    #[test]
    fn every_asset_has_a_distinct_etag() {
        assert_eq!(ETAGS.len(), ASSETS.len());
        assert!(ASSETS.iter().all(|a| !a.body.is_empty()));
    }
}
