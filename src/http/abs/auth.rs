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
use crate::auth::extract::{ClientIp, Principal, SelfUser, UnthrottledClient, url_query_value};
use crate::auth::mfa::{self, Policy};
use crate::auth::password::{self, Verified};
use crate::auth::sessions::{self, ClientMeta, IssuedTokens, SessionPolicy};
use crate::auth::throttle::AccountDecision;
use crate::auth::tokens::token_hash;
use crate::auth::{app_passwords, secrets, setup};
use crate::error::{AppError, AppResult};
use crate::http::body::{JsonBody, JsonOrForm};
use crate::http::cookies::{self, REFRESH_COOKIE};
use crate::model::{User, UserType};
use crate::store::two_factor::{self, SessionFacts};
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
            let (rows, marks) = progress::listening_of(c, &uid)?;
            let first = crate::store::libraries::ids_in_display_order(c)?
                .into_iter()
                .find(|id| accessible.is_empty() || accessible.contains(id));
            Ok((rows, marks, first))
        })
        .await?;
    let legacy = state.keys.legacy_for(user)?;
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

pub fn wants_tokens_in_body(headers: &HeaderMap) -> bool {
    headers
        .get("x-return-tokens")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub fn user_agent(headers: &HeaderMap) -> Option<&str> {
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

/// How a login's password step was passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// The account password.
    Password,
    /// An app password: it skips the second factor and its session carries the scopes.
    AppPassword { id: String, scopes: String },
}

/// The throttled credential check every password route goes through: the per-IP limit, then the
/// per-account softlock (a right password during a lock fails like a wrong one), then the password.
/// App passwords are never accepted here (password change, 2FA changes, the OIDC login page).
pub async fn guarded_check(
    state: &AppState,
    client: &crate::auth::client_ip::ClientInfo,
    headers: &HeaderMap,
    username: &str,
    password_text: String,
) -> AppResult<User> {
    guarded_check_with(state, client, headers, username, password_text, false)
        .await
        .map(|(u, _)| u)
}

/// `guarded_check`, optionally also accepting one of the user's app passwords (`POST /login` only).
pub async fn guarded_check_with(
    state: &AppState,
    client: &crate::auth::client_ip::ClientInfo,
    headers: &HeaderMap,
    username: &str,
    password_text: String,
    allow_app_password: bool,
) -> AppResult<(User, Credential)> {
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
    let app = match allow_app_password
        .then(|| app_passwords::canonical(&password_text))
        .flatten()
    {
        Some(canonical) => check_app_password(state, username, canonical).await?,
        None => None,
    };
    let outcome = match app {
        Some(found) => Ok(found),
        None => check_credentials(state, username.to_string(), password_text)
            .await
            .map(|u| (u, Credential::Password)),
    };
    match outcome {
        Ok(found) => {
            state.throttle.record_success(username, now).await?;
            Ok(found)
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

/// Verifies an app password of `username`: only hashes whose hint matches are checked.
async fn check_app_password(
    state: &AppState,
    username: &str,
    canonical: String,
) -> AppResult<Option<(User, Credential)>> {
    let (name, hint) = (
        username.to_string(),
        app_passwords::hint(&canonical).to_string(),
    );
    let found = state
        .store
        .read(move |c| {
            let Some(user) = users::by_username(c, &name)?.filter(|u| u.is_active) else {
                return Ok(None);
            };
            let rows = two_factor::app_passwords_by_hint(c, &user.id, &hint)?;
            Ok(Some((user, rows)))
        })
        .await?;
    let Some((user, rows)) = found.filter(|(_, rows)| !rows.is_empty()) else {
        return Ok(None);
    };
    let matched = tokio::task::spawn_blocking(move || {
        rows.into_iter().find(|r| {
            matches!(
                password::verify(&canonical, &r.password_hash),
                Verified::Yes | Verified::YesRehash
            )
        })
    })
    .await
    .map_err(AppError::internal)?;
    let Some(row) = matched else {
        return Ok(None);
    };
    let (id, now) = (row.id.clone(), state.now_ms());
    state
        .store
        .write(move |tx| two_factor::app_password_used(tx, &id, now))
        .await?;
    Ok(Some((
        user,
        Credential::AppPassword {
            id: row.id,
            scopes: row.scopes,
        },
    )))
}

/// Refuses a user outside the networks they (or admins) may log in from; audited.
pub async fn check_allowlist(
    state: &AppState,
    client: &crate::auth::client_ip::ClientInfo,
    headers: &HeaderMap,
    user: &User,
    target: &str,
) -> AppResult<()> {
    let networks = crate::auth::allowlist::parse_list(&user.allowed_networks).unwrap_or_default();
    if let Err(refusal) = state
        .allowlists
        .check_user(client.ip, user.is_admin(), &networks)
    {
        state
            .audit(
                AuditEvent::new(Action::AllowlistRefused)
                    .actor(user.id.clone(), user.username.clone())
                    .client(client.ip, user_agent(headers))
                    .target(target.to_string())
                    .details(json!({ "list": refusal.as_str() })),
            )
            .await;
        return Err(AppError::forbidden());
    }
    Ok(())
}

/// Opens a refresh session after every login step has passed, auditing the success with `method`.
pub async fn open_session(
    state: &AppState,
    client: &crate::auth::client_ip::ClientInfo,
    headers: &HeaderMap,
    user: &User,
    facts: SessionFacts,
    method: &str,
) -> AppResult<IssuedTokens> {
    let policy = session_policy(state);
    let meta_ip = client.ip.to_string();
    let ua = user_agent(headers).map(str::to_string);
    let now = state.now_ms();
    let keys = state.keys.clone();
    let u = user.clone();
    let event = AuditEvent::new(Action::LoginSuccess)
        .actor(user.id.clone(), user.username.clone())
        .client(client.ip, user_agent(headers))
        .details(json!({ "method": method, "enrolOnly": facts.enrol_only }));
    let tokens = state
        .store
        .write(move |tx| {
            users::touch_last_seen(tx, &u.id, now)?;
            audit::append(tx, &event, now)?;
            sessions::open_with(
                tx,
                &keys,
                &policy,
                &u,
                &ClientMeta {
                    ip: Some(meta_ip),
                    user_agent: ua.as_deref(),
                },
                now,
                &facts,
            )
        })
        .await?;
    tracing::info!(user = %user.username, client = %client.ip, method, "login");
    Ok(tokens)
}

/// The `/login`-shaped answer with the refresh cookie; the refresh token is in the body only for
/// callers that ask with `x-return-tokens` (or always, for the OIDC code exchange).
pub async fn login_response(
    state: &AppState,
    client: &crate::auth::client_ip::ClientInfo,
    user: &User,
    tokens: &IssuedTokens,
    refresh_in_body: bool,
    enrol_only: bool,
) -> AppResult<Response> {
    let refresh = refresh_in_body.then_some(tokens.refresh_token.as_str());
    let mut body = login_payload(state, user, Some(&tokens.access_token), refresh).await?;
    if enrol_only && let Some(obj) = body.as_object_mut() {
        // Not ABS: tells Shelfwarden-aware clients why every other route answers 403.
        obj.insert("mfaEnrollmentRequired".into(), true.into());
    }
    Ok(with_refresh_cookie(
        state,
        body,
        &tokens.refresh_token,
        client.https,
    ))
}

/// The end of every login whose factors all passed (second step, passkey): clears the account's
/// throttle, applies the user's network allowlist, opens a session authenticated now and answers
/// the `/login` payload.
pub async fn complete_login(
    state: &AppState,
    client: &crate::auth::client_ip::ClientInfo,
    headers: &HeaderMap,
    user: &User,
    method: &str,
    route: &str,
) -> AppResult<Response> {
    let now = state.now_ms();
    state.throttle.record_success(&user.username, now).await?;
    check_allowlist(state, client, headers, user, route).await?;
    let facts = SessionFacts {
        authenticated_at: Some(now),
        ..SessionFacts::default()
    };
    let tokens = open_session(state, client, headers, user, facts, method).await?;
    login_response(
        state,
        client,
        user,
        &tokens,
        wants_tokens_in_body(headers),
        false,
    )
    .await
}

/// Whether `user` must enrol a second factor before using a password-only session.
pub async fn must_enrol(state: &AppState, user: &User) -> AppResult<bool> {
    let policy = Policy::parse(&state.config.require_2fa).unwrap_or(Policy::Auto);
    if policy == Policy::Off {
        return Ok(false);
    }
    let (uid, is_admin) = (user.id.clone(), user.is_admin());
    state
        .store
        .read(move |c| {
            if two_factor::has_active_totp(c, &uid)? {
                return Ok(false);
            }
            let any_admin = is_admin && two_factor::any_admin_enrolled(c)?;
            Ok(policy.requires(is_admin, any_admin))
        })
        .await
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
    let (user, credential) =
        guarded_check_with(&state, &client, &headers, &username, password_text, true).await?;
    check_allowlist(&state, &client, &headers, &user, "/login").await?;
    let now = state.now_ms();
    let facts = match credential {
        Credential::AppPassword { id, scopes } => {
            // Never fresh: an app password cannot be used to change credentials.
            let facts = SessionFacts {
                authenticated_at: None,
                scopes: Some(scopes),
                enrol_only: false,
                app_password_id: Some(id.clone()),
            };
            let tokens =
                open_session(&state, &client, &headers, &user, facts, "app_password").await?;
            tracing::debug!(app_password = %id, "app password login");
            return login_response(
                &state,
                &client,
                &user,
                &tokens,
                wants_tokens_in_body(&headers),
                false,
            )
            .await;
        }
        Credential::Password => {
            let uid = user.id.clone();
            let has_totp = state
                .store
                .read(move |c| two_factor::has_active_totp(c, &uid))
                .await?;
            if has_totp {
                return mfa_challenge(&state, &client, &headers, &user).await;
            }
            SessionFacts {
                authenticated_at: Some(now),
                scopes: None,
                enrol_only: must_enrol(&state, &user).await?,
                app_password_id: None,
            }
        }
    };
    let enrol_only = facts.enrol_only;
    let tokens = open_session(&state, &client, &headers, &user, facts, "password").await?;
    login_response(
        &state,
        &client,
        &user,
        &tokens,
        wants_tokens_in_body(&headers),
        enrol_only,
    )
    .await
}

/// The password was right but a second factor is needed: 401 with a single-use intermediate token.
async fn mfa_challenge(
    state: &AppState,
    client: &crate::auth::client_ip::ClientInfo,
    headers: &HeaderMap,
    user: &User,
) -> AppResult<Response> {
    let token = secrets::random_token(32);
    let (hash, uid, now) = (token_hash(&token), user.id.clone(), state.now_ms());
    let owner = user.id.clone();
    let mut methods = vec!["totp", "recovery"];
    if state
        .store
        .read(move |c| two_factor::has_passkey(c, &owner))
        .await?
    {
        methods.push("passkey");
    }
    let event = AuditEvent::new(Action::Other("2fa.challenge".into()))
        .actor(user.id.clone(), user.username.clone())
        .client(client.ip, user_agent(headers));
    state
        .store
        .write(move |tx| {
            two_factor::mfa_token_insert(tx, &hash, &uid, now + mfa::MFA_TOKEN_TTL_MS, now)?;
            audit::append(tx, &event, now).map(|_| ())
        })
        .await?;
    Ok((
        StatusCode::UNAUTHORIZED,
        Json(json!({
            "error": "Second factor required",
            "mfaRequired": true,
            "mfaToken": token,
            "methods": methods,
        })),
    )
        .into_response())
}

pub async fn refresh(
    State(state): State<AppState>,
    UnthrottledClient(client): UnthrottledClient,
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
    UnthrottledClient(client): UnthrottledClient,
    headers: HeaderMap,
    JsonBody(body): JsonBody<InitBody>,
) -> AppResult<Response> {
    let now = state.now_ms();
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
