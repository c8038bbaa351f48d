//! Two-factor routes: TOTP enrolment and removal, recovery codes, the second step of `/login`,
//! step-up re-authentication, app passwords, and the admin reset.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{self, user_agent};
use crate::app::AppState;
use crate::audit::{self, Action, AuditEvent};
use crate::auth::api_keys::Scope;
use crate::auth::client_ip::ClientInfo;
use crate::auth::extract::{
    AdminUser, ClientIp, CurrentUser, EnrollingUser, FreshUser, FullSessionUser, Principal,
    SelfUser, UnthrottledClient,
};
use crate::auth::tokens::token_hash;
use crate::auth::{app_passwords, mfa, password, recovery, totp};
use crate::error::{AppError, AppResult};
use crate::http::body::JsonBody;
use crate::model::{User, UserType};
use crate::store::two_factor::{self, AppPasswordRow};
use crate::store::users;

fn seed_key(state: &AppState) -> AppResult<[u8; 32]> {
    totp::load_or_create_key(&state.data_dir).map_err(AppError::internal)
}

/// Which second factor was proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    Totp,
    Recovery,
    Passkey,
}

impl Factor {
    fn as_str(self) -> &'static str {
        match self {
            Factor::Totp => "totp",
            Factor::Recovery => "recovery_code",
            Factor::Passkey => "passkey",
        }
    }
}

/// Checks a TOTP code (once per step: replay refused) or consumes a recovery code of `user_id`.
/// `Ok(None)` is a wrong or missing factor; the caller decides how to refuse.
pub async fn check_factor(
    state: &AppState,
    user_id: &str,
    code: Option<&str>,
    recovery_code: Option<&str>,
) -> AppResult<Option<Factor>> {
    let now_ms = state.now_ms();
    if let Some(code) = code.filter(|c| !c.trim().is_empty()) {
        let uid = user_id.to_string();
        let Some(row) = state
            .store
            .read(move |c| two_factor::totp(c, &uid))
            .await?
            .filter(|r| r.confirmed)
        else {
            return Ok(None);
        };
        let seed =
            totp::open(&seed_key(state)?, user_id, &row.secret_enc).map_err(AppError::internal)?;
        let Some(step) = totp::verify(&seed, code, now_ms.div_euclid(1000), row.last_step) else {
            return Ok(None);
        };
        let uid = user_id.to_string();
        let fresh = state
            .store
            .write(move |tx| two_factor::totp_use_step(tx, &uid, step))
            .await?;
        return Ok(fresh.then_some(Factor::Totp));
    }
    if let Some(rc) = recovery_code.filter(|c| !c.trim().is_empty()) {
        let (uid, hash) = (user_id.to_string(), recovery::hash(rc));
        let used = state
            .store
            .write(move |tx| two_factor::recovery_consume(tx, &uid, &hash, now_ms))
            .await?;
        return Ok(used.then_some(Factor::Recovery));
    }
    Ok(None)
}

/// A wrong second factor: counted by the throttle like a wrong password, audited, and answered
/// with the same uniform 401.
async fn factor_failed(
    state: &AppState,
    client: &ClientInfo,
    headers: &HeaderMap,
    user: &User,
) -> AppResult<AppError> {
    let now = state.now_ms();
    state
        .throttle
        .record_failure(client.ip, Some(&user.username), now)
        .await?;
    state
        .audit(
            AuditEvent::new(Action::Other("2fa.failure".into()))
                .actor(user.id.clone(), user.username.clone())
                .client(client.ip, user_agent(headers)),
        )
        .await;
    Ok(AppError::invalid_credentials())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecondStepBody {
    mfa_token: Option<String>,
    code: Option<String>,
    recovery_code: Option<String>,
    passkey: Option<super::passkeys::PasskeyAssertion>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MfaTokenBody {
    mfa_token: Option<String>,
}

/// The live user behind an intermediate login token.
async fn mfa_token_owner(state: &AppState, token: &str) -> AppResult<Option<User>> {
    let (hash, now) = (token_hash(token), state.now_ms());
    Ok(state
        .store
        .read(move |c| {
            let Some(uid) = two_factor::mfa_token_user(c, &hash, now)? else {
                return Ok(None);
            };
            users::by_id(c, &uid)
        })
        .await?
        .filter(|u| u.is_active))
}

/// `POST /login/2fa/passkey {mfaToken}`: WebAuthn request options for the second step
/// (`{challengeId, options}`), to answer with `POST /login/2fa {mfaToken, passkey: {challengeId, credential}}`.
pub async fn login_passkey_options(
    State(state): State<AppState>,
    UnthrottledClient(client): UnthrottledClient,
    JsonBody(body): JsonBody<MfaTokenBody>,
) -> AppResult<Json<Value>> {
    let now = state.now_ms();
    let token = body.mfa_token.unwrap_or_default();
    let Some(user) = mfa_token_owner(&state, &token).await? else {
        state.throttle.record_failure(client.ip, None, now).await?;
        return Err(AppError::invalid_credentials());
    };
    super::passkeys::login_options(&state, &user)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::bad_request("No passkeys registered"))
}

/// `POST /login/2fa`: the second step of a login that answered `mfaRequired`.
pub async fn login_second_step(
    State(state): State<AppState>,
    UnthrottledClient(client): UnthrottledClient,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SecondStepBody>,
) -> AppResult<Response> {
    let now = state.now_ms();
    let token = body
        .mfa_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AppError::bad_request("Bad Request"))?;
    let hash = token_hash(&token);
    let Some(user) = mfa_token_owner(&state, &token).await? else {
        state.throttle.record_failure(client.ip, None, now).await?;
        return Err(AppError::invalid_credentials());
    };
    if let crate::auth::throttle::AccountDecision::Locked { .. } =
        state.throttle.check_account(&user.username, false, now)
    {
        return Err(factor_failed(&state, &client, &headers, &user).await?);
    }
    let factor = match &body.passkey {
        Some(assertion) => super::passkeys::check(&state, &user, assertion)
            .await?
            .then_some(Factor::Passkey),
        None => {
            check_factor(
                &state,
                &user.id,
                body.code.as_deref(),
                body.recovery_code.as_deref(),
            )
            .await?
        }
    };
    let Some(factor) = factor else {
        let h = hash.clone();
        state
            .store
            .write(move |tx| two_factor::mfa_token_fail(tx, &h, mfa::MFA_TOKEN_MAX_ATTEMPTS))
            .await?;
        return Err(factor_failed(&state, &client, &headers, &user).await?);
    };
    // Single use: of two racing requests with valid factors only one gets a session.
    let consumed = state
        .store
        .write(move |tx| two_factor::mfa_token_consume(tx, &hash))
        .await?;
    if !consumed {
        return Err(AppError::invalid_credentials());
    }
    auth::complete_login(
        &state,
        &client,
        &headers,
        &user,
        factor.as_str(),
        "/login/2fa",
    )
    .await
}

/// `GET /api/me/2fa`: what the caller has set up and whether the policy demands it.
pub async fn status(
    State(state): State<AppState>,
    SelfUser(me): SelfUser,
) -> AppResult<Json<Value>> {
    let uid = me.user.id.clone();
    let (row, remaining, apps) = state
        .store
        .read(move |c| {
            Ok((
                two_factor::totp(c, &uid)?,
                two_factor::recovery_remaining(c, &uid)?,
                two_factor::app_passwords_for(c, &uid)?.len(),
            ))
        })
        .await?;
    let enabled = row.as_ref().is_some_and(|r| r.confirmed);
    let required = enabled || auth::must_enrol(&state, &me.user).await?;
    Ok(Json(json!({
        "totp": enabled,
        "totpPending": row.is_some_and(|r| !r.confirmed),
        "recoveryCodesRemaining": remaining,
        "appPasswords": apps,
        "required": required,
    })))
}

/// `POST /api/me/2fa/totp/enroll`: a new pending seed; it becomes a factor only once confirmed.
pub async fn totp_enroll(
    State(state): State<AppState>,
    EnrollingUser(me): EnrollingUser,
) -> AppResult<Json<Value>> {
    let seed = totp::new_seed();
    let sealed = totp::seal(&seed_key(&state)?, &me.user.id, &seed).map_err(AppError::internal)?;
    let (uid, now) = (me.user.id.clone(), state.now_ms());
    let stored = state
        .store
        .write(move |tx| two_factor::totp_put_pending(tx, &uid, &sealed, now))
        .await?;
    if !stored {
        return Err(AppError::bad_request(
            "Two-factor authentication is already on; remove it first",
        ));
    }
    let uri = totp::otpauth_uri(&seed, &me.user.username).map_err(AppError::internal)?;
    Ok(Json(json!({
        "secret": totp::base32(&seed).map_err(AppError::internal)?,
        "otpauthUri": uri,
        "qrSvg": totp::qr_svg(&uri),
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeBody {
    code: Option<String>,
}

fn recovery_hashes(codes: &[String]) -> Vec<String> {
    codes.iter().map(|c| recovery::hash(c)).collect()
}

/// `POST /api/me/2fa/totp/confirm {code}`: activates the pending seed; returns the recovery codes once.
pub async fn totp_confirm(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    EnrollingUser(me): EnrollingUser,
    JsonBody(body): JsonBody<CodeBody>,
) -> AppResult<Json<Value>> {
    let uid = me.user.id.clone();
    let row = state
        .store
        .read(move |c| two_factor::totp(c, &uid))
        .await?
        .filter(|r| !r.confirmed)
        .ok_or_else(|| AppError::bad_request("No pending enrolment; call enroll first"))?;
    let seed =
        totp::open(&seed_key(&state)?, &me.user.id, &row.secret_enc).map_err(AppError::internal)?;
    let now = state.now_ms();
    let step = body
        .code
        .as_deref()
        .and_then(|code| totp::verify(&seed, code, now.div_euclid(1000), row.last_step));
    let Some(step) = step else {
        state
            .throttle
            .record_failure(client.ip, Some(&me.user.username), now)
            .await?;
        return Err(AppError::bad_request("Invalid code"));
    };
    let codes = recovery::generate();
    let hashes = recovery_hashes(&codes);
    let uid = me.user.id.clone();
    let sid = session_id(&me);
    let event = AuditEvent::new(Action::TwoFactorEnable)
        .actor(me.user.id.clone(), me.user.username.clone())
        .client(client.ip, user_agent(&headers))
        .details(json!({ "method": "totp" }));
    let confirmed = state
        .store
        .write(move |tx| {
            if !two_factor::totp_confirm(tx, &uid, step, now)? {
                return Ok(false);
            }
            two_factor::recovery_replace(tx, &uid, &hashes, now)?;
            if let Some(sid) = &sid {
                two_factor::session_reauthenticated(tx, sid, now)?;
            }
            audit::append(tx, &event, now)?;
            Ok(true)
        })
        .await?;
    if !confirmed {
        return Err(AppError::bad_request(
            "No pending enrolment; call enroll first",
        ));
    }
    Ok(Json(json!({ "enabled": true, "recoveryCodes": codes })))
}

fn session_id(me: &CurrentUser) -> Option<String> {
    match &me.principal {
        Principal::Session { session_id } => Some(session_id.clone()),
        _ => None,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FactorBody {
    password: Option<String>,
    code: Option<String>,
    recovery_code: Option<String>,
}

/// `DELETE /api/me/2fa/totp {password, code | recoveryCode}`: turns 2FA off (TOTP and recovery codes).
pub async fn totp_remove(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    FullSessionUser(me): FullSessionUser,
    JsonBody(body): JsonBody<FactorBody>,
) -> AppResult<Response> {
    let pw = body
        .password
        .ok_or_else(|| AppError::bad_request("password is required"))?;
    auth::guarded_check(&state, &client, &headers, &me.user.username, pw).await?;
    let factor = check_factor(
        &state,
        &me.user.id,
        body.code.as_deref(),
        body.recovery_code.as_deref(),
    )
    .await?;
    if factor.is_none() {
        return Err(factor_failed(&state, &client, &headers, &me.user).await?);
    }
    let (uid, now) = (me.user.id.clone(), state.now_ms());
    let event = AuditEvent::new(Action::TwoFactorDisable)
        .actor(me.user.id.clone(), me.user.username.clone())
        .client(client.ip, user_agent(&headers))
        .target(me.user.id.clone());
    state
        .store
        .write(move |tx| {
            two_factor::remove_all_factors(tx, &uid)?;
            audit::append(tx, &event, now).map(|_| ())
        })
        .await?;
    Ok((StatusCode::OK, "OK").into_response())
}

/// `POST /api/me/2fa/recovery-codes`: ten new codes replace all old ones (step-up required).
pub async fn regenerate_recovery(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    FreshUser(me): FreshUser,
) -> AppResult<Json<Value>> {
    let uid = me.user.id.clone();
    let enabled = state
        .store
        .read(move |c| two_factor::has_active_totp(c, &uid))
        .await?;
    if !enabled {
        return Err(AppError::bad_request("Two-factor authentication is off"));
    }
    let codes = recovery::generate();
    let hashes = recovery_hashes(&codes);
    let (uid, now) = (me.user.id.clone(), state.now_ms());
    let event = AuditEvent::new(Action::Other("2fa.recovery_codes".into()))
        .actor(me.user.id.clone(), me.user.username.clone())
        .client(client.ip, user_agent(&headers));
    state
        .store
        .write(move |tx| {
            two_factor::recovery_replace(tx, &uid, &hashes, now)?;
            audit::append(tx, &event, now).map(|_| ())
        })
        .await?;
    Ok(Json(json!({ "recoveryCodes": codes })))
}

/// `POST /api/me/2fa/step-up {password, code | recoveryCode}`: makes the current session fresh
/// again for sensitive changes. The second factor is required when the user has one.
pub async fn step_up(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    SelfUser(me): SelfUser,
    JsonBody(body): JsonBody<FactorBody>,
) -> AppResult<Response> {
    let Some(sid) = session_id(&me).filter(|_| me.session_scopes().is_none()) else {
        return Err(AppError::forbidden());
    };
    let pw = body
        .password
        .ok_or_else(|| AppError::bad_request("password is required"))?;
    auth::guarded_check(&state, &client, &headers, &me.user.username, pw).await?;
    let uid = me.user.id.clone();
    let has_totp = state
        .store
        .read(move |c| two_factor::has_active_totp(c, &uid))
        .await?;
    if has_totp {
        let factor = check_factor(
            &state,
            &me.user.id,
            body.code.as_deref(),
            body.recovery_code.as_deref(),
        )
        .await?;
        if factor.is_none() {
            return Err(factor_failed(&state, &client, &headers, &me.user).await?);
        }
    }
    let now = state.now_ms();
    // The enrolment-only limit stays until a factor is enrolled.
    state
        .store
        .write(move |tx| {
            tx.execute(
                "UPDATE auth_sessions SET authenticated_at = ?2 WHERE id = ?1",
                rusqlite::params![sid, now],
            )?;
            Ok(())
        })
        .await?;
    Ok((StatusCode::OK, "OK").into_response())
}

// ---- App passwords ----

#[derive(Deserialize)]
pub struct AppPasswordBody {
    name: Option<String>,
    scopes: Option<Vec<String>>,
}

fn app_password_json(r: &AppPasswordRow) -> Value {
    let scopes: Value = serde_json::from_str(&r.scopes).unwrap_or(Value::Null);
    json!({
        "id": r.id,
        "name": r.name,
        "scopes": scopes,
        "lastUsedAt": r.last_used_at,
        "createdAt": r.created_at,
    })
}

/// `POST /api/me/app-passwords {name, scopes?}`: the password is in this answer only.
pub async fn app_password_create(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    FreshUser(me): FreshUser,
    JsonBody(body): JsonBody<AppPasswordBody>,
) -> AppResult<Json<Value>> {
    let name = body
        .name
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty() && n.chars().count() <= 100)
        .ok_or_else(|| AppError::bad_request("name is required (at most 100 characters)"))?;
    let names = body
        .scopes
        .unwrap_or_else(|| vec!["read".into(), "progress".into()]);
    let mut scopes = Vec::new();
    for n in &names {
        let scope =
            Scope::parse(n).ok_or_else(|| AppError::bad_request(format!("unknown scope {n:?}")))?;
        if scope == Scope::Admin && !me.user.is_admin() {
            return Err(AppError::forbidden());
        }
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    if scopes.is_empty() {
        return Err(AppError::bad_request("scopes must not be empty"));
    }
    let scope_names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    let secret = app_passwords::generate();
    let canonical = app_passwords::canonical(&secret)
        .ok_or_else(|| AppError::internal("generated app password is malformed"))?;
    let hint = app_passwords::hint(&canonical).to_string();
    let hash = tokio::task::spawn_blocking(move || password::hash(&canonical))
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)?;
    let row = AppPasswordRow {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: me.user.id.clone(),
        name,
        password_hash: hash,
        scopes: serde_json::to_string(&scope_names).map_err(AppError::internal)?,
        last_used_at: None,
        created_at: state.now_ms(),
    };
    let now = row.created_at;
    let event = AuditEvent::new(Action::Other("apppassword.create".into()))
        .actor(me.user.id.clone(), me.user.username.clone())
        .client(client.ip, user_agent(&headers))
        .target(row.id.clone())
        .details(json!({ "name": row.name, "scopes": scope_names }));
    let stored = row.clone();
    state
        .store
        .write(move |tx| {
            two_factor::app_password_insert(tx, &stored, &hint)?;
            audit::append(tx, &event, now).map(|_| ())
        })
        .await?;
    let mut out = app_password_json(&row);
    if let Some(obj) = out.as_object_mut() {
        obj.insert("password".into(), secret.into());
    }
    Ok(Json(out))
}

/// `GET /api/me/app-passwords`
pub async fn app_password_list(
    State(state): State<AppState>,
    me: CurrentUser,
) -> AppResult<Json<Value>> {
    let uid = me.user.id.clone();
    let rows = state
        .store
        .read(move |c| two_factor::app_passwords_for(c, &uid))
        .await?;
    Ok(Json(json!({
        "appPasswords": rows.iter().map(app_password_json).collect::<Vec<_>>()
    })))
}

/// `DELETE /api/me/app-passwords/:id`: revokes it and ends the sessions it opened.
pub async fn app_password_delete(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    me: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let event = AuditEvent::new(Action::Other("apppassword.delete".into()))
        .actor(me.user.id.clone(), me.user.username.clone())
        .client(client.ip, user_agent(&headers))
        .target(id.clone());
    let uid = me.user.id.clone();
    delete_own_audited(&state, event, move |tx| {
        two_factor::app_password_delete(tx, &uid, &id)
    })
    .await
}

/// Deletes one of the caller's own rows with `delete` and appends `event` in the same
/// transaction; 404 when the row was not theirs or did not exist (nothing is audited then).
pub async fn delete_own_audited(
    state: &AppState,
    event: AuditEvent,
    delete: impl FnOnce(&rusqlite::Transaction<'_>) -> AppResult<bool> + Send + 'static,
) -> AppResult<Response> {
    let now = state.now_ms();
    let deleted = state
        .store
        .write(move |tx| {
            let deleted = delete(tx)?;
            if deleted {
                audit::append(tx, &event, now)?;
            }
            Ok(deleted)
        })
        .await?;
    if !deleted {
        return Err(AppError::not_found());
    }
    Ok((StatusCode::OK, "OK").into_response())
}

/// `DELETE /api/users/:id/2fa` (admin): removes a user's second factors, e.g. a lost phone.
/// Only root may reset root. Audited with the target user.
pub async fn admin_reset(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let lookup = id.clone();
    let target = state
        .store
        .read(move |c| users::by_id(c, &lookup))
        .await?
        .ok_or_else(AppError::not_found)?;
    if target.user_type == UserType::Root && admin.user.user_type != UserType::Root {
        return Err(AppError::forbidden());
    }
    let (uid, now) = (target.id.clone(), state.now_ms());
    let event = AuditEvent::new(Action::TwoFactorDisable)
        .actor(admin.user.id.clone(), admin.user.username.clone())
        .client(client.ip, user_agent(&headers))
        .target(target.id.clone())
        .details(json!({ "adminReset": true, "username": target.username }));
    let removed = state
        .store
        .write(move |tx| {
            let removed = two_factor::remove_all_factors(tx, &uid)?;
            audit::append(tx, &event, now)?;
            Ok(removed)
        })
        .await?;
    Ok(Json(json!({ "success": true, "removed": removed })).into_response())
}
