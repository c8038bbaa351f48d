//! Admin user management (`/api/users*`) and the caller's own auth sessions (`/api/me/sessions`).

use axum::Json;
use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::json;
use crate::accounts;
use crate::app::AppState;
use crate::audit::{Action, AuditEvent};
use crate::auth::extract::{AdminUser, ClientIp, CurrentUser, FreshAdmin, Principal};
use crate::error::{AppError, AppResult};
use crate::http::body::JsonBody;
use crate::model::{Permissions, User, UserType};
use crate::store::{auth_sessions, playback, progress, users};

/// A user as an admin sees it: root's legacy token is shown only to root.
async fn user_for_admin(state: &AppState, viewer: &User, u: &User) -> AppResult<Value> {
    let uid = u.id.clone();
    let (rows, marks) = state
        .store
        .read(move |c| progress::listening_of(c, &uid))
        .await?;
    let token = if u.user_type == UserType::Root && viewer.user_type != UserType::Root {
        None
    } else {
        Some(state.keys.legacy_for(u)?)
    };
    Ok(json::user(u, token.as_deref(), &rows, &marks))
}

/// `GET /api/users[?include=latestSession]`: with each user's most recent listening session.
pub async fn list(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Json<Value>> {
    let all = state.store.read(users::list).await?;
    let latest: Option<HashMap<String, Value>> = if q
        .get("include")
        .is_some_and(|i| i.split(',').any(|x| x == "latestSession"))
    {
        let rows = state.store.read(playback::latest_per_user).await?;
        Some(
            rows.iter()
                .map(|s| (s.user_id.clone(), super::playback::session_json(s)))
                .collect(),
        )
    } else {
        None
    };
    let mut out = Vec::with_capacity(all.len());
    for u in &all {
        let mut v = user_for_admin(&state, &admin.user, u).await?;
        if let Some(latest) = &latest {
            v["latestSession"] = latest.get(&u.id).cloned().unwrap_or(Value::Null);
        }
        out.push(v);
    }
    Ok(Json(json!({ "users": out })))
}

pub async fn get(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let u = state
        .store
        .read(move |c| users::by_id(c, &id))
        .await?
        .ok_or_else(|| AppError::not_found_msg("User not found"))?;
    Ok(Json(user_for_admin(&state, &admin.user, &u).await?))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UserBody {
    username: Option<String>,
    password: Option<String>,
    email: Option<String>,
    #[serde(rename = "type")]
    user_type: Option<String>,
    is_active: Option<bool>,
    permissions: Option<Value>,
    libraries_accessible: Option<Vec<String>>,
    item_tags_selected: Option<Vec<String>>,
    /// Networks this user may connect from (CIDRs or presets); empty = anywhere.
    allowed_networks: Option<Vec<String>>,
}

fn parse_type(t: &str) -> AppResult<UserType> {
    match UserType::parse(t) {
        Some(UserType::Root) | None => Err(AppError::bad_request("Invalid user type")),
        Some(t) => Ok(t),
    }
}

/// Applies the editable fields of `body` to `u` (not the password, which has its own path).
fn apply(u: &mut User, body: &UserBody) -> AppResult<()> {
    if let Some(name) = &body.username {
        accounts::validate_username(name.trim())?;
        u.username = name.trim().to_string();
    }
    if let Some(email) = &body.email {
        u.email = (!email.trim().is_empty()).then(|| email.trim().to_string());
    }
    if let Some(perms) = &body.permissions {
        let mut merged = serde_json::to_value(&u.permissions).map_err(AppError::internal)?;
        if let (Some(dst), Some(src)) = (merged.as_object_mut(), perms.as_object()) {
            for (k, v) in src {
                if dst.contains_key(k) {
                    dst.insert(k.clone(), v.clone());
                }
            }
        }
        u.permissions = serde_json::from_value::<Permissions>(merged)
            .map_err(|e| AppError::bad_request(format!("Invalid permissions: {e}")))?;
    }
    if let Some(libs) = &body.libraries_accessible {
        u.libraries_accessible = libs.clone();
    }
    if let Some(tags) = &body.item_tags_selected {
        u.item_tags_selected = tags.clone();
    }
    if let Some(nets) = &body.allowed_networks {
        crate::auth::allowlist::parse_list(nets)
            .map_err(|e| AppError::bad_request(format!("allowedNetworks: {e}")))?;
        u.allowed_networks = nets.clone();
    }
    Ok(())
}

pub async fn create(
    State(state): State<AppState>,
    FreshAdmin(admin): FreshAdmin,
    ClientIp(client): ClientIp,
    JsonBody(body): JsonBody<UserBody>,
) -> AppResult<Json<Value>> {
    let username = body.username.clone().unwrap_or_default();
    let body_active = body.is_active;
    let password = body
        .password
        .clone()
        .ok_or_else(|| AppError::bad_request("Password is required"))?;
    let user_type = parse_type(body.user_type.as_deref().unwrap_or("user"))?;
    let (store, config, now) = (state.store.clone(), state.config.clone(), state.now_ms());
    let name = username.trim().to_string();
    let mut created = tokio::task::spawn_blocking(move || {
        accounts::create_user_blocking(&store, &config, &name, &password, user_type, now)
    })
    .await
    .map_err(AppError::internal)??;
    apply(
        &mut created,
        &UserBody {
            username: None,
            ..body
        },
    )?;
    if let Some(active) = body_active {
        created.is_active = active;
    }
    let saved = created.clone();
    state
        .store
        .write(move |tx| users::update(tx, &saved))
        .await?;
    state
        .audit(
            AuditEvent::new(Action::UserCreate)
                .actor(admin.user.id.clone(), admin.user.username.clone())
                .client(client.ip, None)
                .target(format!("user:{}", created.username))
                .details(json!({ "type": created.user_type.as_str(), "permissions": created.permissions })),
        )
        .await;
    let out = user_for_admin(&state, &admin.user, &created).await?;
    if let Some(rt) = &state.realtime {
        rt.to_admins("user_added", &out).await;
    }
    Ok(Json(json!({ "user": out })))
}

pub async fn update(
    State(state): State<AppState>,
    FreshAdmin(admin): FreshAdmin,
    ClientIp(client): ClientIp,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UserBody>,
) -> AppResult<Json<Value>> {
    let lookup = id.clone();
    let mut u = state
        .store
        .read(move |c| users::by_id(c, &lookup))
        .await?
        .ok_or_else(|| AppError::not_found_msg("User not found"))?;
    if u.user_type == UserType::Root && admin.user.user_type != UserType::Root {
        return Err(AppError::Forbidden("Only root can edit root".into()));
    }
    let before = json!({ "username": u.username, "type": u.user_type.as_str(), "isActive": u.is_active,
        "permissions": u.permissions, "librariesAccessible": u.libraries_accessible, "itemTagsSelected": u.item_tags_selected });
    if let Some(t) = &body.user_type
        && u.user_type != UserType::Root
    {
        u.user_type = parse_type(t)?;
    }
    apply(&mut u, &body)?;
    let deactivate = body.is_active == Some(false) && u.id != admin.user.id;
    if let Some(active) = body.is_active
        && u.id != admin.user.id
    {
        u.is_active = active;
    }
    u.updated_at = state.now_ms();
    if deactivate {
        u.legacy_token_id = uuid::Uuid::new_v4().to_string();
    }
    let saved = u.clone();
    state
        .store
        .write(move |tx| {
            if let Some(other) = users::by_username(tx, &saved.username)?
                && other.id != saved.id
            {
                return Err(AppError::bad_request("Username already taken"));
            }
            users::update(tx, &saved)?;
            if deactivate {
                auth_sessions::delete_for_user(tx, &saved.id)?;
                crate::auth::api_keys::revoke_all_for_user(tx, &saved.id, saved.updated_at)?;
            }
            Ok(())
        })
        .await?;
    let new_password = body.password.filter(|p| !p.is_empty());
    let password_changed = new_password.is_some();
    if let Some(pw) = new_password {
        let (store, config, now, uid) = (
            state.store.clone(),
            state.config.clone(),
            state.now_ms(),
            u.id.clone(),
        );
        u = tokio::task::spawn_blocking(move || {
            accounts::set_password_blocking(&store, &config, &uid, &pw, None, now)
        })
        .await
        .map_err(AppError::internal)??;
    }
    let after = json!({ "username": u.username, "type": u.user_type.as_str(), "isActive": u.is_active,
        "permissions": u.permissions, "librariesAccessible": u.libraries_accessible, "itemTagsSelected": u.item_tags_selected,
        "passwordChanged": password_changed });
    state
        .audit(
            AuditEvent::new(if deactivate {
                Action::UserDisable
            } else {
                Action::UserUpdate
            })
            .actor(admin.user.id.clone(), admin.user.username.clone())
            .client(client.ip, None)
            .target(format!("user:{}", u.username))
            .change(before, after),
        )
        .await;
    let out = user_for_admin(&state, &admin.user, &u).await?;
    if let Some(rt) = &state.realtime {
        rt.to_user(&u.id, "user_updated", &out).await;
    }
    Ok(Json(json!({ "success": true, "user": out })))
}

pub async fn delete(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(client): ClientIp,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    if id == admin.user.id {
        return Err(AppError::bad_request("You cannot delete yourself"));
    }
    let lookup = id.clone();
    let u = state
        .store
        .read(move |c| users::by_id(c, &lookup))
        .await?
        .ok_or_else(|| AppError::not_found_msg("User not found"))?;
    if u.user_type == UserType::Root {
        return Err(AppError::Forbidden("Root cannot be deleted".into()));
    }
    state.store.write(move |tx| users::delete(tx, &id)).await?;
    state
        .audit(
            AuditEvent::new(Action::UserDelete)
                .actor(admin.user.id.clone(), admin.user.username.clone())
                .client(client.ip, None)
                .target(format!("user:{}", u.username)),
        )
        .await;
    if let Some(rt) = &state.realtime {
        rt.to_admins(
            "user_removed",
            &json!({ "id": u.id, "username": u.username }),
        )
        .await;
    }
    Ok(Json(json!({ "success": true })))
}

pub async fn online(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
) -> AppResult<Json<Value>> {
    let ids = state
        .realtime
        .as_ref()
        .map(|r| r.online_user_ids())
        .unwrap_or_default();
    let users_online = state
        .store
        .read(move |c| {
            let mut out = Vec::new();
            for id in ids {
                if let Some(u) = users::by_id(c, &id)? {
                    out.push(json!({ "id": u.id, "username": u.username, "type": u.user_type.as_str(), "lastSeen": u.last_seen, "createdAt": u.created_at }));
                }
            }
            Ok(out)
        })
        .await?;
    let open = state.store.read(playback::list_open).await?;
    let open_sessions: Vec<Value> = open.iter().map(super::playback::session_json).collect();
    Ok(Json(
        json!({ "usersOnline": users_online, "openSessions": open_sessions }),
    ))
}

fn session_json(s: &auth_sessions::AuthSession, current: Option<&str>) -> Value {
    json!({
        "id": s.id,
        "ipAddress": s.ip_address,
        "userAgent": s.user_agent,
        "createdAt": s.created_at,
        "updatedAt": s.updated_at,
        "expiresAt": s.expires_at,
        "isCurrent": current == Some(s.id.as_str()),
    })
}

fn current_session(me: &CurrentUser) -> Option<&str> {
    match &me.principal {
        Principal::Session { session_id } => Some(session_id.as_str()),
        _ => None,
    }
}

pub async fn my_sessions(State(state): State<AppState>, me: CurrentUser) -> AppResult<Json<Value>> {
    let uid = me.user.id.clone();
    let list = state
        .store
        .read(move |c| auth_sessions::list_for_user(c, &uid))
        .await?;
    let sessions: Vec<Value> = list
        .iter()
        .map(|s| session_json(s, current_session(&me)))
        .collect();
    Ok(Json(json!({
        "sessions": sessions,
        "total": sessions.len(),
        "page": 0,
        "itemsPerPage": sessions.len(),
        "numPages": 1,
    })))
}

pub async fn delete_my_session(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<&'static str> {
    if me.user.user_type == UserType::Guest {
        return Err(AppError::forbidden());
    }
    let uid = me.user.id.clone();
    let target = id.clone();
    let deleted = state
        .store
        .write(move |tx| match auth_sessions::by_id(tx, &target)? {
            Some(s) if s.user_id == uid => auth_sessions::delete(tx, &target),
            _ => Ok(false),
        })
        .await?;
    if deleted {
        Ok("OK")
    } else {
        Err(AppError::not_found_msg("Session not found"))
    }
}

/// Every user's refresh sessions, for an admin.
pub async fn all_auth_sessions(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
) -> AppResult<Json<Value>> {
    let list = state
        .store
        .read(|c| {
            let mut out = Vec::new();
            for u in users::list(c)? {
                for s in auth_sessions::list_for_user(c, &u.id)? {
                    let mut v = session_json(&s, None);
                    v["userId"] = json!(u.id);
                    v["username"] = json!(u.username);
                    out.push(v);
                }
            }
            Ok(out)
        })
        .await?;
    Ok(Json(json!({ "sessions": list })))
}
