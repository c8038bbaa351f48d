//! `/api/api-keys` in ABS's shapes, plus what ABS lacks: scopes, required expiry, last use.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::audit::{self, Action, AuditEvent};
use crate::auth::api_keys::{self, ApiKey, NewApiKey};
use crate::auth::extract::{AdminUser, ClientIp, FreshAdmin};
use crate::error::{AppError, AppResult};
use crate::http::body::JsonBody;
use crate::model::UserType;
use crate::store::users;

fn key_json(k: &ApiKey, owner: Option<&crate::model::User>) -> Value {
    let mut v = serde_json::to_value(k).unwrap_or(Value::Null);
    v["permissions"] = json!({});
    v["user"] = match owner {
        Some(u) => json!({ "id": u.id, "username": u.username, "type": u.user_type.as_str() }),
        None => Value::Null,
    };
    v
}

fn ua(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
}

pub async fn list(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
) -> AppResult<Json<Value>> {
    let keys = state
        .store
        .read(|c| {
            let mut out = Vec::new();
            for k in api_keys::list(c, None)? {
                let owner = users::by_id(c, &k.user_id)?;
                out.push(key_json(&k, owner.as_ref()));
            }
            Ok(out)
        })
        .await?;
    Ok(Json(json!({ "apiKeys": keys })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct CreateBody {
    name: Option<String>,
    description: Option<String>,
    user_id: Option<String>,
    expires_in: Option<i64>,
    is_active: Option<bool>,
    scopes: Option<Vec<String>>,
}

pub async fn create(
    State(state): State<AppState>,
    FreshAdmin(admin): FreshAdmin,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateBody>,
) -> AppResult<Json<Value>> {
    let user_id = body
        .user_id
        .clone()
        .unwrap_or_else(|| admin.user.id.clone());
    let scopes = api_keys::parse_scopes(&body.scopes.clone().unwrap_or_default())?;
    let (policy, keys, now) = (
        state.config.api_key_policy(),
        state.keys.clone(),
        state.now_ms(),
    );
    let caller = admin.user.clone();
    let event = AuditEvent::new(Action::ApiKeyCreate)
        .actor(caller.id.clone(), caller.username.clone())
        .client(client.ip, ua(&headers));
    let (created, owner) = state
        .store
        .write(move |tx| {
            let owner = users::by_id(tx, &user_id)?.ok_or_else(|| AppError::bad_request("User not found"))?;
            if owner.user_type == UserType::Root && caller.user_type != UserType::Root {
                return Err(AppError::forbidden());
            }
            let new = NewApiKey {
                name: body.name.clone().unwrap_or_default(),
                description: body.description.clone(),
                user_id: owner.id.clone(),
                created_by_user_id: Some(caller.id.clone()),
                scopes,
                expires_in_secs: body.expires_in,
                is_active: body.is_active.unwrap_or(false),
            };
            let created = api_keys::create(tx, &new, &policy, keys.secret(), now)?;
            let event = event
                .target(format!("apikey:{}", created.key.id))
                .details(json!({ "name": created.key.name, "user": owner.username, "scopes": created.key.scopes, "expiresAt": created.key.expires_at }));
            audit::append(tx, &event, now)?;
            Ok((created, owner))
        })
        .await?;
    let mut out = key_json(&created.key, Some(&owner));
    out["apiKey"] = json!(created.token);
    Ok(Json(json!({ "apiKey": out })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UpdateBody {
    user_id: Option<String>,
    is_active: Option<bool>,
}

pub async fn update(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> AppResult<Json<Value>> {
    let now = state.now_ms();
    let caller = admin.user.clone();
    let event = AuditEvent::new(Action::ApiKeyUpdate)
        .actor(caller.id.clone(), caller.username.clone())
        .client(client.ip, ua(&headers))
        .target(format!("apikey:{id}"));
    let (key, owner) = state
        .store
        .write(move |tx| {
            let key = api_keys::get(tx, &id)?
                .ok_or_else(|| AppError::not_found_msg("API key not found"))?;
            let owner = users::by_id(tx, &key.user_id)?;
            if owner
                .as_ref()
                .is_some_and(|o| o.user_type == UserType::Root)
                && caller.user_type != UserType::Root
            {
                return Err(AppError::forbidden());
            }
            if let Some(uid) = &body.user_id
                && uid != &key.user_id
            {
                return Err(AppError::bad_request(
                    "An API key cannot be moved to another user; create a new one",
                ));
            }
            if let Some(active) = body.is_active {
                api_keys::set_active(tx, &id, active, now)?;
            }
            audit::append(
                tx,
                &event.details(json!({ "isActive": body.is_active })),
                now,
            )?;
            let key = api_keys::get(tx, &id)?.ok_or_else(AppError::not_found)?;
            Ok((key, owner))
        })
        .await?;
    Ok(Json(json!({ "apiKey": key_json(&key, owner.as_ref()) })))
}

pub async fn delete(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<&'static str> {
    let now = state.now_ms();
    let caller = admin.user.clone();
    let event = AuditEvent::new(Action::ApiKeyDelete)
        .actor(caller.id.clone(), caller.username.clone())
        .client(client.ip, ua(&headers))
        .target(format!("apikey:{id}"));
    state
        .store
        .write(move |tx| {
            let key = api_keys::get(tx, &id)?
                .ok_or_else(|| AppError::not_found_msg("API key not found"))?;
            if users::by_id(tx, &key.user_id)?.is_some_and(|o| o.user_type == UserType::Root)
                && caller.user_type != UserType::Root
            {
                return Err(AppError::forbidden());
            }
            api_keys::delete(tx, &id)?;
            audit::append(tx, &event, now)?;
            Ok(())
        })
        .await?;
    Ok("OK")
}
