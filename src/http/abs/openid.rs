//! ABS's OpenID login flows with Shelfwarden as its own identity provider, so the ABS apps get
//! two-factor login through their existing "Login with OpenID" button, unchanged.
//!
//! Mobile: the app calls `GET /auth/openid?response_type=code&redirect_uri=audiobookshelf://oauth
//! &code_challenge=…&code_challenge_method=S256&state=…` without following redirects, keeps the
//! cookie, and opens the `Location` (our login page) in a browser. The page posts username,
//! password and code to `/auth/openid/login`, which 302s to `/auth/openid/mobile-redirect`, which
//! 302s to `audiobookshelf://oauth?code&state`. The app then calls `/auth/openid/callback?state
//! &code&code_verifier` and gets the JSON login payload. The code is bound to the PKCE challenge
//! (the verifier never left the app), lives 60 s and is burnt by its first use, right or wrong.
//!
//! Web: `GET /auth/openid?callback=/same/origin/path` → the same page → 302 to
//! `callback?setToken=…&accessToken=…` with the refresh cookie, as ABS does.

use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::{self, user_agent};
use super::two_factor::check_factor;
use crate::app::AppState;
use crate::audit::{Action, AuditEvent};
use crate::auth::client_ip::ClientInfo;
use crate::auth::extract::{ClientIp, UnthrottledClient};
use crate::auth::tokens::token_hash;
use crate::auth::{mfa, secrets};
use crate::error::{AppError, AppResult};
use crate::http::body::JsonOrForm;
use crate::http::cookies;
use crate::store::two_factor::{self, OidcFlow, SessionFacts};

/// Binds the app's `/auth/openid` request to its `/auth/openid/callback` (ABS's session cookie).
const FLOW_COOKIE: &str = "sw_oidc_flow";
/// Double-submit CSRF cookie of the login page (the browser's own cookie jar).
const CSRF_COOKIE: &str = "sw_oidc_csrf";

#[derive(Deserialize, Default)]
pub struct StartQuery {
    response_type: Option<String>,
    redirect_uri: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    state: Option<String>,
    callback: Option<String>,
}

/// The base path the client used: apps saved with `https://host/audiobookshelf` stay under it, which
/// matters behind a proxy that forwards only that prefix.
fn base(uri: &OriginalUri) -> &'static str {
    if uri
        .path()
        .starts_with(&format!("{}/", crate::http::ABS_BASE_PATH))
    {
        crate::http::ABS_BASE_PATH
    } else {
        ""
    }
}

fn redirect(location: &str) -> Response {
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

fn enc(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|e| e.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

/// A same-origin web callback: an absolute path (not `//host`), or under the configured public URL.
fn same_origin_callback(state: &AppState, cb: &str) -> bool {
    let path_ok = cb.starts_with('/') && !cb.starts_with("//") && !cb.contains('\\');
    let public_ok = state
        .config
        .public_url
        .as_deref()
        .map(|u| u.trim_end_matches('/'))
        .is_some_and(|base| cb.starts_with(&format!("{base}/")));
    path_ok || public_ok
}

/// `GET /auth/openid`: validates the request, records the flow, and sends the client to the login page.
pub async fn start(
    State(state): State<AppState>,
    UnthrottledClient(client): UnthrottledClient,
    uri: OriginalUri,
    Query(q): Query<StartQuery>,
) -> AppResult<Response> {
    let now = state.now_ms();
    let mut flow = OidcFlow {
        id: secrets::random_token(24),
        // Replaced when the login page is shown; a random value nobody knows until then.
        csrf_hash: token_hash(&secrets::random_token(32)),
        redirect_uri: None,
        callback: None,
        code_challenge: None,
        state: q.state.clone(),
        user_id: None,
        code_expires_at: None,
        expires_at: now + mfa::FLOW_TTL_MS,
    };
    if let Some(uri) = q.redirect_uri {
        if q.response_type.as_deref() != Some("code") {
            return Err(AppError::bad_request(
                "Invalid response_type, only code supported",
            ));
        }
        if !state.config.openid_redirect_uris.contains(&uri) {
            return Err(AppError::bad_request("Invalid redirect_uri"));
        }
        let challenge = q.code_challenge.unwrap_or_default();
        if q.code_challenge_method.as_deref() != Some("S256") || !mfa::valid_challenge(&challenge) {
            return Err(AppError::bad_request(
                "code_challenge with code_challenge_method=S256 is required",
            ));
        }
        flow.redirect_uri = Some(uri);
        flow.code_challenge = Some(challenge);
    } else if let Some(cb) = q.callback {
        if !same_origin_callback(&state, &cb) {
            return Err(AppError::bad_request("Invalid callback"));
        }
        flow.callback = Some(cb);
    } else {
        return Err(AppError::bad_request(
            "redirect_uri or callback is required",
        ));
    }
    if flow.state.as_ref().is_some_and(|s| s.len() > 512) {
        return Err(AppError::bad_request("state too long"));
    }
    let id = flow.id.clone();
    let stored = flow.clone();
    state
        .store
        .write(move |tx| two_factor::flow_insert(tx, &stored, now))
        .await?;
    let mut resp = redirect(&format!(
        "{}/auth/openid/login?flow={}",
        base(&uri),
        enc(&id)
    ));
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookies::set(FLOW_COOKIE, &id, mfa::FLOW_TTL_MS / 1000, client.https),
    );
    Ok(resp)
}

#[derive(Deserialize)]
pub struct PageQuery {
    flow: Option<String>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The login page: a plain form, no script or inline style (the CSP forbids both).
fn page(base: &str, flow_id: &str, csrf: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p role=\"alert\"><strong>{}</strong></p>\n", escape(e)))
        .unwrap_or_default();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Shelfwarden sign-in</title></head><body>\n<main>\n<h1>Shelfwarden</h1>\n{error}\
<form method=\"post\" action=\"{base}/auth/openid/login\">\n\
<input type=\"hidden\" name=\"flow\" value=\"{flow}\">\n\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
<p><label>Username<br><input name=\"username\" autocomplete=\"username\" autocapitalize=\"none\" required></label></p>\n\
<p><label>Password<br><input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label></p>\n\
<p><label>Authenticator code or recovery code<br><input name=\"code\" autocomplete=\"one-time-code\" inputmode=\"text\"></label></p>\n\
<p><button type=\"submit\">Sign in</button></p>\n</form>\n</main>\n</body></html>\n",
        flow = escape(flow_id),
        csrf = escape(csrf),
    )
}

/// The CSP of the login page: the default one, but the form may end in a redirect to the app.
fn page_csp(state: &AppState) -> HeaderValue {
    let mut form_action = String::from("'self'");
    for uri in &state.config.openid_redirect_uris {
        match uri.split_once("://") {
            Some(("http" | "https", _)) => form_action.push_str(&format!(" {uri}")),
            Some((scheme, _)) => form_action.push_str(&format!(" {scheme}:")),
            None => {}
        }
    }
    let csp = crate::http::security::CONTENT_SECURITY_POLICY
        .replace("form-action 'self'", &format!("form-action {form_action}"));
    HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static(
        crate::http::security::CONTENT_SECURITY_POLICY,
    ))
}

/// Shows the form with a new CSRF token bound to this flow (its hash is stored on the flow).
async fn render(
    state: &AppState,
    client: &ClientInfo,
    base: &str,
    flow_id: &str,
    error: Option<&str>,
    status: StatusCode,
) -> AppResult<Response> {
    let csrf = secrets::random_token(32);
    let (id, hash, now) = (flow_id.to_string(), token_hash(&csrf), state.now_ms());
    let live = state
        .store
        .write(move |tx| {
            Ok(tx.execute(
                "UPDATE oidc_flows SET csrf_hash = ?2 WHERE id = ?1 AND code_hash IS NULL AND expires_at > ?3",
                rusqlite::params![id, hash, now],
            )? > 0)
        })
        .await?;
    if !live {
        return Err(AppError::bad_request(
            "This sign-in has expired; start again from the app",
        ));
    }
    let mut resp = (status, page(base, flow_id, &csrf, error)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CONTENT_SECURITY_POLICY, page_csp(state));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.append(
        header::SET_COOKIE,
        cookies::set(CSRF_COOKIE, &csrf, mfa::FLOW_TTL_MS / 1000, client.https),
    );
    Ok(resp)
}

/// `GET /auth/openid/login?flow=…`
pub async fn login_page(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    uri: OriginalUri,
    Query(q): Query<PageQuery>,
) -> AppResult<Response> {
    let flow = q
        .flow
        .filter(|f| !f.is_empty())
        .ok_or_else(|| AppError::bad_request("flow is required"))?;
    render(&state, &client, base(&uri), &flow, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct LoginForm {
    flow: Option<String>,
    csrf: Option<String>,
    username: Option<String>,
    password: Option<String>,
    code: Option<String>,
}

/// `POST /auth/openid/login`: password (throttled through `guarded_check`) and, for users who
/// have one, the second factor. Success ends in a redirect carrying the single-use code.
pub async fn login_submit(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    uri: OriginalUri,
    headers: HeaderMap,
    JsonOrForm(form): JsonOrForm<LoginForm>,
) -> AppResult<Response> {
    let now = state.now_ms();
    let flow_id = form.flow.unwrap_or_default();
    let csrf = form.csrf.unwrap_or_default();
    let lookup = flow_id.clone();
    let flow = state
        .store
        .read(move |c| two_factor::flow_by_id(c, &lookup, now))
        .await?
        .filter(|f| f.user_id.is_none());
    let cookie_ok = cookies::get(&headers, CSRF_COOKIE).is_some_and(|c| {
        use subtle::ConstantTimeEq;
        !csrf.is_empty() && bool::from(c.as_bytes().ct_eq(csrf.as_bytes()))
    });
    let Some(flow) =
        flow.filter(|f| cookie_ok && token_hash(&csrf).as_bytes() == f.csrf_hash.as_bytes())
    else {
        return Err(AppError::Forbidden(
            "This sign-in form has expired or was not issued to this browser; start again".into(),
        ));
    };
    let (Some(username), Some(password_text)) = (form.username, form.password) else {
        return render(
            &state,
            &client,
            base(&uri),
            &flow.id,
            Some("Enter your username and password"),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let username = username.trim().to_string();
    let user = match auth::guarded_check(&state, &client, &headers, &username, password_text).await
    {
        Ok(u) => u,
        Err(AppError::TooManyRequests { .. }) => {
            return render(
                &state,
                &client,
                base(&uri),
                &flow.id,
                Some("Too many attempts; wait a few minutes"),
                StatusCode::TOO_MANY_REQUESTS,
            )
            .await;
        }
        Err(AppError::Internal(e)) => return Err(AppError::Internal(e)),
        Err(_) => {
            return render(
                &state,
                &client,
                base(&uri),
                &flow.id,
                Some("Invalid username, password or code"),
                StatusCode::UNAUTHORIZED,
            )
            .await;
        }
    };
    let uid = user.id.clone();
    let has_totp = state
        .store
        .read(move |c| two_factor::has_active_totp(c, &uid))
        .await?;
    if has_totp {
        let code = form.code.unwrap_or_default();
        // Six digits are an authenticator code; anything else is tried as a recovery code.
        let digits = code.trim().len() == 6 && code.trim().bytes().all(|b| b.is_ascii_digit());
        let factor = if digits {
            check_factor(&state, &user.id, Some(&code), None).await?
        } else {
            check_factor(&state, &user.id, None, Some(&code)).await?
        };
        if factor.is_none() {
            state
                .throttle
                .record_failure(client.ip, Some(&user.username), now)
                .await?;
            state
                .audit(
                    AuditEvent::new(Action::Other("2fa.failure".into()))
                        .actor(user.id.clone(), user.username.clone())
                        .client(client.ip, user_agent(&headers))
                        .target("/auth/openid/login"),
                )
                .await;
            return render(
                &state,
                &client,
                base(&uri),
                &flow.id,
                Some("Invalid username, password or code"),
                StatusCode::UNAUTHORIZED,
            )
            .await;
        }
    }
    auth::check_allowlist(&state, &client, &headers, &user, "/auth/openid/login").await?;

    if let Some(cb) = flow.callback.clone() {
        // Web flow: the browser itself gets the session.
        let id = flow.id.clone();
        state
            .store
            .write(move |tx| {
                tx.execute("DELETE FROM oidc_flows WHERE id = ?1", [&id])?;
                Ok(())
            })
            .await?;
        let facts = SessionFacts {
            authenticated_at: Some(now),
            enrol_only: !has_totp && auth::must_enrol(&state, &user).await?,
            ..SessionFacts::default()
        };
        let tokens =
            auth::open_session(&state, &client, &headers, &user, facts, "openid_web").await?;
        let legacy = state.keys.legacy_for(&user)?;
        let sep = if cb.contains('?') { '&' } else { '?' };
        let mut location = format!(
            "{cb}{sep}setToken={}&accessToken={}",
            enc(&legacy),
            enc(&tokens.access_token)
        );
        if let Some(s) = &flow.state {
            location.push_str(&format!("&state={}", enc(s)));
        }
        let mut resp = redirect(&location);
        let h = resp.headers_mut();
        h.append(
            header::SET_COOKIE,
            cookies::set(
                cookies::REFRESH_COOKIE,
                &tokens.refresh_token,
                state.config.refresh_token_expiry as i64,
                client.https,
            ),
        );
        h.append(
            header::SET_COOKIE,
            cookies::clear(CSRF_COOKIE, client.https),
        );
        return Ok(resp);
    }

    let code = secrets::random_token(32);
    let (id, uid, hash) = (flow.id.clone(), user.id.clone(), token_hash(&code));
    let bound = state
        .store
        .write(move |tx| two_factor::flow_set_code(tx, &id, &uid, &hash, now + mfa::CODE_TTL_MS))
        .await?;
    if !bound {
        return Err(AppError::bad_request("This sign-in was already completed"));
    }
    let mut location = format!(
        "{}/auth/openid/mobile-redirect?code={}",
        base(&uri),
        enc(&code)
    );
    if let Some(s) = &flow.state {
        location.push_str(&format!("&state={}", enc(s)));
    }
    let mut resp = redirect(&location);
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookies::clear(CSRF_COOKIE, client.https),
    );
    Ok(resp)
}

#[derive(Deserialize)]
pub struct CodeQuery {
    code: Option<String>,
    state: Option<String>,
    code_verifier: Option<String>,
}

/// `GET /auth/openid/mobile-redirect?code&state`: hands the code to the app's allow-listed URI.
pub async fn mobile_redirect(
    State(state): State<AppState>,
    _: UnthrottledClient,
    Query(q): Query<CodeQuery>,
) -> AppResult<Response> {
    let now = state.now_ms();
    let code = q
        .code
        .filter(|c| !c.is_empty())
        .ok_or_else(|| AppError::bad_request("code is required"))?;
    let hash = token_hash(&code);
    let flow = state
        .store
        .read(move |c| two_factor::flow_redirect_by_code(c, &hash, now))
        .await?;
    let Some((Some(uri), flow_state)) = flow else {
        return Err(AppError::bad_request("Invalid or expired code"));
    };
    if flow_state != q.state {
        return Err(AppError::bad_request("state mismatch"));
    }
    let sep = if uri.contains('?') { '&' } else { '?' };
    let mut location = format!("{uri}{sep}code={}", enc(&code));
    if let Some(s) = &flow_state {
        location.push_str(&format!("&state={}", enc(s)));
    }
    Ok(redirect(&location))
}

/// A refused code exchange: counted by the throttle, audited, one uniform answer.
async fn refuse(
    state: &AppState,
    client: &ClientInfo,
    headers: &HeaderMap,
    reason: &'static str,
) -> AppResult<Response> {
    state
        .throttle
        .record_failure(client.ip, None, state.now_ms())
        .await?;
    state
        .audit(
            AuditEvent::new(Action::Other("openid.failure".into()))
                .client(client.ip, user_agent(headers))
                .details(serde_json::json!({ "reason": reason })),
        )
        .await;
    Err(AppError::bad_request("Invalid authorization code"))
}

/// `GET /auth/openid/callback?code&state&code_verifier`: the app's code exchange. The code is
/// taken (deleted) before anything is checked, so a wrong verifier burns it.
pub async fn callback(
    State(state): State<AppState>,
    UnthrottledClient(client): UnthrottledClient,
    headers: HeaderMap,
    Query(q): Query<CodeQuery>,
) -> AppResult<Response> {
    let now = state.now_ms();
    let (Some(code), Some(verifier)) = (q.code, q.code_verifier) else {
        return Err(AppError::bad_request("code and code_verifier are required"));
    };
    let hash = token_hash(&code);
    let flow = state
        .store
        .write(move |tx| two_factor::flow_take_by_code(tx, &hash))
        .await?;
    let Some(flow) = flow else {
        return refuse(&state, &client, &headers, "unknown code").await;
    };
    if flow.code_expires_at.is_none_or(|t| t <= now) {
        return refuse(&state, &client, &headers, "expired code").await;
    }
    if flow.state != q.state {
        return refuse(&state, &client, &headers, "state mismatch").await;
    }
    // The app's cookie from `/auth/openid`, when it sends one, must be this flow's. PKCE is the
    // binding that matters: only the app that started the flow knows the verifier.
    if cookies::get(&headers, FLOW_COOKIE).is_some_and(|c| !c.is_empty() && c != flow.id) {
        return refuse(&state, &client, &headers, "flow cookie mismatch").await;
    }
    let challenge = flow.code_challenge.clone().unwrap_or_default();
    if !mfa::pkce_s256_matches(&verifier, &challenge) {
        return refuse(&state, &client, &headers, "code_verifier mismatch").await;
    }
    let uid = flow.user_id.clone().unwrap_or_default();
    let user = state
        .store
        .read(move |c| crate::store::users::by_id(c, &uid))
        .await?
        .filter(|u| u.is_active);
    let Some(user) = user else {
        return refuse(&state, &client, &headers, "user gone").await;
    };
    let uid = user.id.clone();
    let has_totp = state
        .store
        .read(move |c| two_factor::has_active_totp(c, &uid))
        .await?;
    let enrol_only = !has_totp && auth::must_enrol(&state, &user).await?;
    let facts = SessionFacts {
        authenticated_at: Some(now),
        enrol_only,
        ..SessionFacts::default()
    };
    let tokens = auth::open_session(&state, &client, &headers, &user, facts, "openid").await?;
    let mut resp = auth::login_response(&state, &client, &user, &tokens, true, enrol_only).await?;
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookies::clear(FLOW_COOKIE, client.https),
    );
    Ok(resp)
}
