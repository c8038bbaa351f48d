//! ABS's authentication routes: `/login`, `/auth/refresh`, `/logout`, `/api/authorize`, `/init`,
//! and the password change. Failures of a credential check all look the same to the caller.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::json;
use crate::accounts;
use crate::app::AppState;
use crate::audit::{self, Action, AuditEvent};
use crate::auth::extract::{ClientIp, Principal, SelfUser, url_query_value};
use crate::auth::password::{self, Verified};
use crate::auth::sessions::{self, ClientMeta, IssuedTokens, SessionPolicy};
use crate::auth::setup;
use crate::auth::throttle::AccountDecision;
use crate::error::{AppError, AppResult};
use crate::http::body::{JsonBody, JsonOrForm};
use crate::http::cookies::{self, REFRESH_COOKIE};
use crate::model::{User, UserType};
use crate::store::{progress, users};

pub fn session_policy(state: &AppState) -> SessionPolicy {
    SessionPolicy {
        access_ttl_secs: state.config.access_token_expiry as i64,
        refresh_ttl_secs: state.config.refresh_token_expiry as i64,
        grace_secs: state.config.refresh_token_grace_period as i64,
    }
}

/// The `/login` payload (`Auth.getUserLoginResponsePayload`).
pub async fn login_payload(
    state: &AppState,
    user: &User,
    access_token: Option<&str>,
    refresh_token: Option<&str>,
) -> AppResult<Value> {
    let uid = user.id.clone();
    let accessible = user.libraries_accessible.clone();
    let (rows, marks, default_library) = state
        .store
        .read(move |c| {
            let rows = progress::list_for_user(c, &uid)?;
            let marks = progress::bookmarks_for_user(c, &uid)?;
            let first = crate::store::libraries::ids_in_display_order(c)?
                .into_iter()
                .find(|id| accessible.is_empty() || accessible.contains(id));
            Ok((rows, marks, first))
        })
        .await?;
    let legacy = state.keys.legacy(
        &user.id,
        &user.username,
        &user.legacy_token_id,
        user.created_at / 1000,
    )?;
    let mut user_json = json::user(user, Some(&legacy), &rows, &marks);
    if let Some(obj) = user_json.as_object_mut()
        && let Some(a) = access_token
    {
        obj.insert("accessToken".into(), a.into());
        obj.insert(
            "refreshToken".into(),
            refresh_token.map(Value::from).unwrap_or(Value::Null),
        );
    }
    Ok(json!({
        "user": user_json,
        "userDefaultLibraryId": default_library,
        "serverSettings": json::server_settings(),
        "ereaderDevices": [],
        "Source": "shelfwarden",
    }))
}

#[derive(Deserialize)]
pub struct LoginBody {
    username: Option<String>,
    password: Option<String>,
}

fn wants_tokens_in_body(headers: &HeaderMap) -> bool {
    headers
        .get("x-return-tokens")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
}

fn with_refresh_cookie(state: &AppState, body: Value, refresh: &str, secure: bool) -> Response {
    let cookie = cookies::set(
        REFRESH_COOKIE,
        refresh,
        state.config.refresh_token_expiry as i64,
        secure,
    );
    let mut resp = Json(body).into_response();
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    resp
}

/// Verifies a username and password; every failure is the same `invalid_credentials` in the same time.
/// On success the hash is upgraded when needed and the password is judged against the policy, so an
/// imported or old weak password must be changed before the account can do anything else.
async fn check_credentials(
    state: &AppState,
    username: String,
    password_text: String,
) -> AppResult<User> {
    let lookup_name = username.clone();
    let user = state
        .store
        .read(move |c| users::by_username(c, &lookup_name))
        .await?;
    let pw = password_text.clone();
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let verdict = tokio::task::spawn_blocking(move || match stored {
        Some(h) if !h.is_empty() => password::verify(&pw, &h),
        _ => {
            password::burn_equivalent_time(&pw);
            Verified::No
        }
    })
    .await
    .map_err(AppError::internal)?;
    let mut u = match (user, verdict) {
        (Some(u), Verified::Yes | Verified::YesRehash) if u.is_active => u,
        _ => return Err(AppError::invalid_credentials()),
    };
    let weak = accounts::check_password_policy(&state.config, &u.username, &password_text).is_err();
    if verdict == Verified::YesRehash || weak != u.must_change_password {
        if verdict == Verified::YesRehash {
            u.password_hash = Some(
                tokio::task::spawn_blocking(move || password::hash(&password_text))
                    .await
                    .map_err(AppError::internal)??,
            );
        }
        u.must_change_password = weak;
        u.updated_at = state.now_ms();
        let to_save = u.clone();
        state
            .store
            .write(move |tx| users::update(tx, &to_save))
            .await?;
    }
    Ok(u)
}

/// True when the request carries a live refresh session of `username`: the owner's own device,
/// which the per-account softlock must not lock out.
async fn is_known_device(state: &AppState, headers: &HeaderMap, username: &str) -> AppResult<bool> {
    let token = headers
        .get("x-refresh-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| cookies::get(headers, REFRESH_COOKIE));
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(false);
    };
    let (name, now) = (username.to_string(), state.now_ms());
    state
        .store
        .read(move |c| {
            let hash = crate::auth::tokens::token_hash(&token);
            let Some(session) = crate::store::auth_sessions::by_refresh_hash(c, &hash)? else {
                return Ok(false);
            };
            let owner = users::by_id(c, &session.user_id)?;
            Ok(session.expires_at > now
                && owner.is_some_and(|u| u.username.eq_ignore_ascii_case(&name)))
        })
        .await
}

/// The throttled credential check every password route goes through: the per-IP limit, then the
/// per-account softlock (a right password during a lock fails like a wrong one), then the password.
pub async fn guarded_check(
    state: &AppState,
    client: &crate::auth::client_ip::ClientInfo,
    headers: &HeaderMap,
    username: &str,
    password_text: String,
) -> AppResult<User> {
    let now = state.now_ms();
    let ua = user_agent(headers);
    if let Some(err) = state.throttle.check_ip(client.ip, now).into_error() {
        state
            .audit(
                AuditEvent::new(Action::LoginThrottled)
                    .actor_name(username)
                    .client(client.ip, ua),
            )
            .await;
        return Err(err);
    }
    let known = is_known_device(state, headers, username).await?;
    if let AccountDecision::Locked { .. } = state.throttle.check_account(username, known, now) {
        tokio::task::spawn_blocking(move || password::burn_equivalent_time(&password_text))
            .await
            .map_err(AppError::internal)?;
        state
            .throttle
            .record_failure(client.ip, Some(username), now)
            .await?;
        state
            .audit(
                AuditEvent::new(Action::LoginLocked)
                    .actor_name(username)
                    .client(client.ip, ua),
            )
            .await;
        return Err(AppError::invalid_credentials());
    }
    match check_credentials(state, username.to_string(), password_text).await {
        Ok(user) => {
            state.throttle.record_success(username, now).await?;
            Ok(user)
        }
        Err(e) => {
            state
                .throttle
                .record_failure(client.ip, Some(username), now)
                .await?;
            state
                .audit(
                    AuditEvent::new(Action::LoginFailure)
                        .actor_name(username)
                        .client(client.ip, ua),
                )
                .await;
            Err(e)
        }
    }
}

pub async fn login(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    JsonOrForm(body): JsonOrForm<LoginBody>,
) -> AppResult<Response> {
    let (Some(username), Some(password_text)) = (body.username, body.password) else {
        return Err(AppError::bad_request("Bad Request"));
    };
    let username = username.trim().to_string();
    let user = guarded_check(&state, &client, &headers, &username, password_text).await?;
    let networks = crate::auth::allowlist::parse_list(&user.allowed_networks).unwrap_or_default();
    if let Err(refusal) = state
        .allowlists
        .check_user(client.ip, user.is_admin(), &networks)
    {
        state
            .audit(
                AuditEvent::new(Action::AllowlistRefused)
                    .actor(user.id.clone(), user.username.clone())
                    .client(client.ip, user_agent(&headers))
                    .target("/login")
                    .details(json!({ "list": refusal.as_str() })),
            )
            .await;
        return Err(AppError::forbidden());
    }
    let policy = session_policy(&state);
    let meta_ip = client.ip.to_string();
    let ua = user_agent(&headers).map(str::to_string);
    let now = state.now_ms();
    let keys = state.keys.clone();
    let u = user.clone();
    let event = AuditEvent::new(Action::LoginSuccess)
        .actor(user.id.clone(), user.username.clone())
        .client(client.ip, user_agent(&headers));
    let tokens: IssuedTokens = state
        .store
        .write(move |tx| {
            users::touch_last_seen(tx, &u.id, now)?;
            audit::append(tx, &event, now)?;
            sessions::open(
                tx,
                &keys,
                &policy,
                &u,
                &ClientMeta {
                    ip: Some(meta_ip),
                    user_agent: ua.as_deref(),
                },
                now,
            )
        })
        .await?;
    tracing::info!(user = %user.username, client = %client.ip, "login");
    let refresh_in_body = wants_tokens_in_body(&headers).then_some(tokens.refresh_token.as_str());
    let body = login_payload(&state, &user, Some(&tokens.access_token), refresh_in_body).await?;
    Ok(with_refresh_cookie(
        &state,
        body,
        &tokens.refresh_token,
        client.https,
    ))
}

pub async fn refresh(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
) -> AppResult<Response> {
    let from_header = headers
        .get("x-refresh-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .filter(|s| !s.is_empty());
    let header_caller = from_header.is_some();
    let token = from_header
        .or_else(|| cookies::get(&headers, REFRESH_COOKIE))
        .ok_or_else(|| AppError::json(StatusCode::UNAUTHORIZED, "No refresh token provided"))?;
    let now = state.now_ms();
    if let Some(err) = state.throttle.check_ip(client.ip, now).into_error() {
        return Err(err);
    }
    let policy = session_policy(&state);
    let keys = state.keys.clone();
    let outcome = state
        .store
        .write(move |tx| sessions::refresh(tx, &keys, &policy, &token, now))
        .await?;
    let (user, tokens) = match outcome {
        Ok(v) => v,
        Err(e) => {
            state.throttle.record_failure(client.ip, None, now).await?;
            state
                .audit(
                    AuditEvent::new(Action::RefreshFailure)
                        .client(client.ip, user_agent(&headers))
                        .details(json!({ "reason": e.to_string() })),
                )
                .await;
            return Err(e);
        }
    };
    let refresh_in_body = header_caller.then_some(tokens.refresh_token.as_str());
    let body = login_payload(&state, &user, Some(&tokens.access_token), refresh_in_body).await?;
    Ok(with_refresh_cookie(
        &state,
        body,
        &tokens.refresh_token,
        client.https,
    ))
}

pub async fn logout(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> AppResult<Response> {
    let all = uri
        .query()
        .and_then(|q| url_query_value(q, "allDevices"))
        .is_some_and(|v| v == "1" || v == "true");
    let token = cookies::get(&headers, REFRESH_COOKIE)
        .filter(|s| !s.is_empty())
        .or_else(|| {
            headers
                .get("x-refresh-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        });
    if let Some(token) = token {
        state
            .store
            .write(move |tx| sessions::logout(tx, &token, all))
            .await?;
    }
    let mut resp = Json(json!({ "redirect_url": null })).into_response();
    for name in [REFRESH_COOKIE, "auth_method", "openid_id_token"] {
        resp.headers_mut()
            .append(header::SET_COOKIE, cookies::clear(name, client.https));
    }
    Ok(resp)
}

pub async fn authorize(
    State(state): State<AppState>,
    SelfUser(me): SelfUser,
) -> AppResult<Json<Value>> {
    Ok(Json(login_payload(&state, &me.user, None, None).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitBody {
    new_root: Option<NewRoot>,
    setup_token: Option<String>,
}

#[derive(Deserialize)]
pub struct NewRoot {
    username: String,
    password: String,
}

/// Creates the first (root) user; only with the setup token printed on the server's console.
pub async fn init(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    JsonBody(body): JsonBody<InitBody>,
) -> AppResult<Response> {
    let now = state.now_ms();
    if let Some(err) = state.throttle.check_ip(client.ip, now).into_error() {
        return Err(err);
    }
    let presented = body.setup_token.or_else(|| {
        headers
            .get("x-setup-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    });
    let data_dir = state.data_dir.clone();
    let token_ok = presented.is_some_and(|t| setup::check(&data_dir, &t));
    if !token_ok {
        state.throttle.record_failure(client.ip, None, now).await?;
        return Err(AppError::Forbidden(
            "Setup token required: use the token printed on the server console".into(),
        ));
    }
    if state.store.read(users::count).await? > 0 {
        return Err(AppError::bad_request("Server is already initialized"));
    }
    let root = body
        .new_root
        .ok_or_else(|| AppError::bad_request("newRoot is required"))?;
    let (store, config, now) = (state.store.clone(), state.config.clone(), state.now_ms());
    tokio::task::spawn_blocking(move || {
        accounts::create_user_blocking(
            &store,
            &config,
            root.username.trim(),
            &root.password,
            UserType::Root,
            now,
        )
    })
    .await
    .map_err(AppError::internal)??;
    setup::consume(&data_dir);
    state
        .audit(AuditEvent::new(Action::ServerInit).client(client.ip, user_agent(&headers)))
        .await;
    Ok((StatusCode::OK, "OK").into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordBody {
    password: Option<String>,
    new_password: Option<String>,
}

/// `PATCH /api/me/password`: needs the current password; ends every other session.
pub async fn change_password(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    SelfUser(me): SelfUser,
    JsonBody(body): JsonBody<PasswordBody>,
) -> AppResult<Response> {
    if me.user.user_type == UserType::Guest {
        return Err(AppError::forbidden());
    }
    let (Some(current), Some(new_password)) = (body.password, body.new_password) else {
        return Err(AppError::bad_request("Missing password or newPassword"));
    };
    let username = me.user.username.clone();
    guarded_check(&state, &client, &headers, &username, current).await?;
    let keep = match &me.principal {
        Principal::Session { session_id } => Some(session_id.clone()),
        _ => None,
    };
    let (store, config, now, uid) = (
        state.store.clone(),
        state.config.clone(),
        state.now_ms(),
        me.user.id.clone(),
    );
    tokio::task::spawn_blocking(move || {
        accounts::set_password_blocking(&store, &config, &uid, &new_password, keep.as_deref(), now)
    })
    .await
    .map_err(AppError::internal)??;
    state
        .audit(
            AuditEvent::new(Action::PasswordChange)
                .actor(me.user.id.clone(), me.user.username.clone())
                .client(client.ip, user_agent(&headers)),
        )
        .await;
    Ok((StatusCode::OK, "OK").into_response())
}
