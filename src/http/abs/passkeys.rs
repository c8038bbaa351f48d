//! Passkeys (WebAuthn, webauthn-rs): register, list and remove them; use one as the second factor
//! at `POST /login/2fa`, or alone for a passwordless sign-in (`/login/passkey/*`, discoverable
//! credentials, user verification required, so the passkey is both factors). The relying party id
//! and origin come from `public_url`; without it passkeys are off. Registering one requires TOTP to
//! be on, so recovery codes and the ABS apps' sign-in page (which has no script) keep working for
//! every passkey user.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn,
    WebauthnBuilder,
};

use super::auth::{self as login, user_agent};
use crate::app::AppState;
use crate::audit::{self, Action, AuditEvent};
use crate::auth::extract::{ClientIp, CurrentUser, FreshUser, UnthrottledClient};
use crate::auth::secrets;
use crate::error::{AppError, AppResult};
use crate::http::body::JsonBody;
use crate::model::User;
use crate::store::two_factor::{self, PasskeyRow};
use crate::store::users;

/// How long a started ceremony may take.
const CEREMONY_TTL_MS: i64 = 5 * 60 * 1000;
const KIND_REGISTER: &str = "register";
const KIND_LOGIN: &str = "login";
const KIND_PASSWORDLESS: &str = "passwordless";

/// The relying party from `public_url`: its host is the RP id, its origin the only allowed origin.
pub fn webauthn(state: &AppState) -> AppResult<Webauthn> {
    let Some(public) = state.config.public_url.as_deref() else {
        return Err(AppError::bad_request(
            "Passkeys need public_url to be set (the address users reach the server at)",
        ));
    };
    let url = Url::parse(public).map_err(|e| AppError::internal(format!("public_url: {e}")))?;
    let rp_id = url
        .host_str()
        .ok_or_else(|| AppError::internal("public_url has no host"))?
        .to_string();
    WebauthnBuilder::new(&rp_id, &url)
        .and_then(|b| b.rp_name("Shelfwarden").build())
        .map_err(|e| AppError::internal(format!("webauthn: {e}")))
}

/// A stable WebAuthn user handle derived from the user id (no personal data in it).
fn user_handle(user: &User) -> Uuid {
    let digest = Sha256::digest(user.id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

fn load_passkeys(rows: &[PasskeyRow]) -> Vec<(String, Passkey)> {
    rows.iter()
        .filter_map(|r| {
            serde_json::from_str::<Passkey>(&r.passkey)
                .ok()
                .map(|p| (r.id.clone(), p))
        })
        .collect()
}

/// Stores a ceremony's state; `user_id` is None for a passwordless sign-in (the user is not known
/// until the authenticator answers).
async fn save_challenge(
    state: &AppState,
    user_id: Option<&str>,
    kind: &'static str,
    value: String,
) -> AppResult<String> {
    let id = secrets::random_token(16);
    let (cid, uid, expires) = (
        id.clone(),
        user_id.map(str::to_string),
        state.now_ms() + CEREMONY_TTL_MS,
    );
    state
        .store
        .write(move |tx| {
            two_factor::challenge_insert(tx, &cid, uid.as_deref(), kind, &value, expires)
        })
        .await?;
    Ok(id)
}

async fn take_challenge(
    state: &AppState,
    id: &str,
    user_id: Option<&str>,
    kind: &'static str,
) -> AppResult<Option<String>> {
    let (cid, uid, now) = (id.to_string(), user_id.map(str::to_string), state.now_ms());
    state
        .store
        .write(move |tx| two_factor::challenge_take(tx, &cid, uid.as_deref(), kind, now))
        .await
}

/// `POST /api/me/passkeys/register/start` (step-up): the creation options for `navigator.credentials.create`.
pub async fn register_start(
    State(state): State<AppState>,
    FreshUser(me): FreshUser,
) -> AppResult<Json<Value>> {
    let wa = webauthn(&state)?;
    let uid = me.user.id.clone();
    let (has_totp, rows) = state
        .store
        .read(move |c| {
            Ok((
                two_factor::has_active_totp(c, &uid)?,
                two_factor::passkeys_for(c, &uid)?,
            ))
        })
        .await?;
    if !has_totp {
        return Err(AppError::bad_request(
            "Turn on the authenticator-app (TOTP) second factor first; passkeys are an alternative to it",
        ));
    }
    let exclude = load_passkeys(&rows)
        .iter()
        .map(|(_, p)| p.cred_id().clone())
        .collect();
    let (options, reg) = wa
        .start_passkey_registration(
            user_handle(&me.user),
            &me.user.username,
            &me.user.username,
            Some(exclude),
        )
        .map_err(|e| AppError::bad_request(format!("passkey registration: {e}")))?;
    // Ask the authenticator to keep the key (a discoverable credential) where it can, so the same
    // passkey also serves the passwordless sign-in, which names no user. webauthn-rs asks for the
    // opposite and its request type is not exported, so the JSON is amended.
    let mut options = serde_json::to_value(&options).map_err(AppError::internal)?;
    if let Some(selection) = options
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(Value::as_object_mut)
    {
        selection.insert("residentKey".into(), json!("preferred"));
        selection.insert("requireResidentKey".into(), json!(false));
    }
    let saved = serde_json::to_string(&reg).map_err(AppError::internal)?;
    let challenge_id = save_challenge(&state, Some(&me.user.id), KIND_REGISTER, saved).await?;
    Ok(Json(
        json!({ "challengeId": challenge_id, "options": options }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterFinish {
    challenge_id: String,
    name: Option<String>,
    credential: RegisterPublicKeyCredential,
}

/// `POST /api/me/passkeys/register/finish {challengeId, name, credential}`
pub async fn register_finish(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    FreshUser(me): FreshUser,
    JsonBody(body): JsonBody<RegisterFinish>,
) -> AppResult<Json<Value>> {
    let wa = webauthn(&state)?;
    let saved = take_challenge(&state, &body.challenge_id, Some(&me.user.id), KIND_REGISTER)
        .await?
        .ok_or_else(|| AppError::bad_request("Unknown or expired challenge"))?;
    let reg: PasskeyRegistration = serde_json::from_str(&saved).map_err(AppError::internal)?;
    let passkey = wa
        .finish_passkey_registration(&body.credential, &reg)
        .map_err(|e| AppError::bad_request(format!("passkey registration failed: {e}")))?;
    let name = body
        .name
        .map(|n| n.trim().chars().take(100).collect::<String>())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "Passkey".into());
    let row = PasskeyRow {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: me.user.id.clone(),
        name,
        cred_id: hex::encode::<&[u8]>(passkey.cred_id().as_ref()),
        passkey: serde_json::to_string(&passkey).map_err(AppError::internal)?,
        last_used_at: None,
        created_at: state.now_ms(),
    };
    let now = row.created_at;
    let event = AuditEvent::new(Action::PasskeyAdd)
        .actor(me.user.id.clone(), me.user.username.clone())
        .client(client.ip, user_agent(&headers))
        .target(row.id.clone())
        .details(json!({ "name": row.name }));
    let stored = row.clone();
    state
        .store
        .write(move |tx| {
            two_factor::passkey_insert(tx, &stored)?;
            audit::append(tx, &event, now).map(|_| ())
        })
        .await?;
    Ok(Json(passkey_json(&row)))
}

fn passkey_json(r: &PasskeyRow) -> Value {
    json!({ "id": r.id, "name": r.name, "createdAt": r.created_at, "lastUsedAt": r.last_used_at })
}

/// `GET /api/me/passkeys`
pub async fn list(State(state): State<AppState>, me: CurrentUser) -> AppResult<Json<Value>> {
    let uid = me.user.id.clone();
    let rows = state
        .store
        .read(move |c| two_factor::passkeys_for(c, &uid))
        .await?;
    Ok(Json(
        json!({ "passkeys": rows.iter().map(passkey_json).collect::<Vec<_>>() }),
    ))
}

/// `DELETE /api/me/passkeys/:id` (step-up)
pub async fn remove(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    FreshUser(me): FreshUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let event = AuditEvent::new(Action::PasskeyRemove)
        .actor(me.user.id.clone(), me.user.username.clone())
        .client(client.ip, user_agent(&headers))
        .target(id.clone());
    let uid = me.user.id.clone();
    super::two_factor::delete_own_audited(&state, event, move |tx| {
        two_factor::passkey_delete(tx, &uid, &id)
    })
    .await
}

/// The request options for a passkey as the second factor of `user`'s login; None without passkeys.
pub async fn login_options(state: &AppState, user: &User) -> AppResult<Option<Value>> {
    let uid = user.id.clone();
    let rows = state
        .store
        .read(move |c| two_factor::passkeys_for(c, &uid))
        .await?;
    let keys: Vec<Passkey> = load_passkeys(&rows).into_iter().map(|(_, p)| p).collect();
    if keys.is_empty() {
        return Ok(None);
    }
    let wa = webauthn(state)?;
    let (options, auth) = wa
        .start_passkey_authentication(&keys)
        .map_err(|e| AppError::internal(format!("passkey authentication: {e}")))?;
    let saved = serde_json::to_string(&auth).map_err(AppError::internal)?;
    let challenge_id = save_challenge(state, Some(&user.id), KIND_LOGIN, saved).await?;
    Ok(Some(
        json!({ "challengeId": challenge_id, "options": options }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyAssertion {
    challenge_id: String,
    credential: PublicKeyCredential,
}

/// Verifies a passkey assertion for `user` against a login challenge (taken: single-use), and
/// stores the new signature counter. False for any failure.
pub async fn check(state: &AppState, user: &User, assertion: &PasskeyAssertion) -> AppResult<bool> {
    let Some(saved) =
        take_challenge(state, &assertion.challenge_id, Some(&user.id), KIND_LOGIN).await?
    else {
        return Ok(false);
    };
    let auth: PasskeyAuthentication = serde_json::from_str(&saved).map_err(AppError::internal)?;
    let wa = webauthn(state)?;
    let Ok(result) = wa.finish_passkey_authentication(&assertion.credential, &auth) else {
        return Ok(false);
    };
    let cred_id = hex::encode::<&[u8]>(result.cred_id().as_ref());
    let row = state
        .store
        .read(move |c| two_factor::passkey_by_cred(c, &cred_id))
        .await?
        .filter(|r| r.user_id == user.id);
    let Some((row_id, passkey)) = row.and_then(|r| {
        serde_json::from_str::<Passkey>(&r.passkey)
            .ok()
            .map(|p| (r.id, p))
    }) else {
        return Ok(false);
    };
    record_use(state, row_id, passkey, &result).await?;
    Ok(true)
}

/// `POST /login/passkey/start`: request options for a passwordless sign-in; the browser offers the
/// passkeys it holds for this site, so no username is asked (and none can be probed).
pub async fn passwordless_start(
    State(state): State<AppState>,
    _: UnthrottledClient,
) -> AppResult<Json<Value>> {
    let wa = webauthn(&state)?;
    let (options, auth) = wa
        .start_discoverable_authentication()
        .map_err(|e| AppError::internal(format!("passkey authentication: {e}")))?;
    let saved = serde_json::to_string(&auth).map_err(AppError::internal)?;
    let challenge_id = save_challenge(&state, None, KIND_PASSWORDLESS, saved).await?;
    let mut options = serde_json::to_value(&options).map_err(AppError::internal)?;
    // webauthn-rs marks these options for autofill ("conditional") mediation; the sign-in button
    // wants the ordinary modal prompt, and a page that does want autofill asks for it itself.
    if let Some(o) = options.as_object_mut() {
        o.remove("mediation");
    }
    Ok(Json(
        json!({ "challengeId": challenge_id, "options": options }),
    ))
}

/// `POST /login/passkey/finish {challengeId, credential}`: the `/login` payload when the assertion
/// verifies against the passkey it names and that passkey's user may sign in from here.
pub async fn passwordless_finish(
    State(state): State<AppState>,
    UnthrottledClient(client): UnthrottledClient,
    headers: HeaderMap,
    JsonBody(body): JsonBody<PasskeyAssertion>,
) -> AppResult<Response> {
    let now = state.now_ms();
    let Some(user) = verify_passwordless(&state, &body).await? else {
        state.throttle.record_failure(client.ip, None, now).await?;
        state
            .audit(
                AuditEvent::new(Action::LoginFailure)
                    .client(client.ip, user_agent(&headers))
                    .details(json!({ "method": "passkey" })),
            )
            .await;
        return Err(AppError::invalid_credentials());
    };
    if let crate::auth::throttle::AccountDecision::Locked { .. } =
        state.throttle.check_account(&user.username, false, now)
    {
        return Err(AppError::invalid_credentials());
    }
    login::complete_login(
        &state,
        &client,
        &headers,
        &user,
        "passkey",
        "/login/passkey/finish",
    )
    .await
}

/// The active user whose discoverable passkey signed this challenge (taken: single-use), with the
/// passkey's counter updated; None for any failure.
async fn verify_passwordless(
    state: &AppState,
    assertion: &PasskeyAssertion,
) -> AppResult<Option<User>> {
    let Some(saved) =
        take_challenge(state, &assertion.challenge_id, None, KIND_PASSWORDLESS).await?
    else {
        return Ok(None);
    };
    let auth: DiscoverableAuthentication =
        serde_json::from_str(&saved).map_err(AppError::internal)?;
    let wa = webauthn(state)?;
    let Ok((handle, cred_id)) = wa.identify_discoverable_authentication(&assertion.credential)
    else {
        return Ok(None);
    };
    let cred_hex = hex::encode(cred_id);
    let found = state
        .store
        .read(move |c| {
            let Some(row) = two_factor::passkey_by_cred(c, &cred_hex)? else {
                return Ok(None);
            };
            Ok(users::by_id(c, &row.user_id)?.map(|u| (row, u)))
        })
        .await?;
    let Some((row, user)) = found else {
        return Ok(None);
    };
    // The authenticator's user handle must be the one this server gave that user.
    if !user.is_active || handle != user_handle(&user) {
        return Ok(None);
    }
    let Ok(passkey) = serde_json::from_str::<Passkey>(&row.passkey) else {
        return Ok(None);
    };
    let Ok(result) =
        wa.finish_discoverable_authentication_v2(&assertion.credential, auth, &passkey)
    else {
        return Ok(None);
    };
    record_use(state, row.id, passkey, &result).await?;
    Ok(Some(user))
}

/// Stores a passkey's new signature counter and last use after a verified assertion.
async fn record_use(
    state: &AppState,
    row_id: String,
    mut passkey: Passkey,
    result: &AuthenticationResult,
) -> AppResult<()> {
    passkey.update_credential(result);
    let json = serde_json::to_string(&passkey).map_err(AppError::internal)?;
    let now = state.now_ms();
    state
        .store
        .write(move |tx| two_factor::passkey_update(tx, &row_id, &json, now))
        .await
}
