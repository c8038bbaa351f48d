//! `/api/libraries` and `/api/tasks`: listing libraries for users, managing them for admins.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::browse::{filter_data, visible_library};
use super::catalog::Catalog;
use super::items_json;
use crate::access;
use crate::app::AppState;
use crate::audit::{Action, AuditEvent};
use crate::auth::extract::{AdminUser, ClientIp, CurrentUser};
use crate::error::{AppError, AppResult};
use crate::http::body::JsonBody;
use crate::library::folders::validate_folders;
use crate::library::model::LibrarySettings;
use crate::store::{libraries, scan_issues};

fn stats(ix: &super::catalog::LibraryIndex, user: &crate::model::User) -> Value {
    let visible: Vec<_> = ix
        .items
        .iter()
        .filter(|i| access::can_see_item(user, i))
        .collect();
    json!({
        "totalItems": visible.len(),
        "totalSize": visible.iter().map(|i| i.size).sum::<u64>(),
        "totalDuration": visible.iter().map(|i| i.duration).sum::<f64>(),
        "numAudioFiles": visible.iter().map(|i| i.num_audio_files()).sum::<usize>(),
    })
}

pub async fn list(
    State(state): State<AppState>,
    me: CurrentUser,
    Query(p): Query<HashMap<String, String>>,
) -> AppResult<Json<Value>> {
    let with_stats = p
        .get("include")
        .is_some_and(|v| v.split(',').any(|x| x == "stats"));
    let mut out = Vec::new();
    for id in Catalog::library_ids(&state.store).await? {
        if !access::can_access_library(&me.user, &id) {
            continue;
        }
        if let Some(ix) = state.catalog.library(&state.store, &id).await? {
            let mut v = items_json::library(&ix.library);
            if with_stats {
                v["stats"] = stats(&ix, &me.user);
            }
            out.push(v);
        }
    }
    Ok(Json(json!({ "libraries": out })))
}

pub async fn get(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
    Query(p): Query<HashMap<String, String>>,
) -> AppResult<Json<Value>> {
    let ix = visible_library(&state, &me.user, &id).await?;
    let lib = items_json::library(&ix.library);
    if p.get("include")
        .is_some_and(|v| v.split(',').any(|x| x == "filterdata"))
    {
        let issues = if me.user.is_admin() {
            let lid = id.clone();
            state
                .store
                .read(move |c| scan_issues::list_issues(c, &lid))
                .await?
                .len()
        } else {
            0
        };
        return Ok(Json(json!({
            "filterdata": filter_data(&ix, &me.user, state.now_ms()),
            "issues": issues,
            "numUserPlaylists": 0,
            "library": lib,
        })));
    }
    Ok(Json(lib))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct LibraryBody {
    name: Option<String>,
    folders: Option<Vec<FolderBody>>,
    icon: Option<String>,
    media_type: Option<String>,
    provider: Option<String>,
    display_order: Option<i64>,
    settings: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct FolderBody {
    full_path: Option<String>,
    path: Option<String>,
}

fn folder_paths(state: &AppState, folders: &[FolderBody]) -> AppResult<Vec<String>> {
    let raw: Vec<String> = folders
        .iter()
        .filter_map(|f| f.full_path.clone().or_else(|| f.path.clone()))
        .collect();
    validate_folders(&raw, &state.data_dir).map_err(AppError::BadRequest)
}

fn merged_settings(current: &LibrarySettings, patch: Option<&Value>) -> AppResult<LibrarySettings> {
    let Some(patch) = patch else {
        return Ok(current.clone());
    };
    let mut base = serde_json::to_value(current).map_err(AppError::internal)?;
    if let (Some(dst), Some(src)) = (base.as_object_mut(), patch.as_object()) {
        for (k, v) in src {
            dst.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(base)
        .map_err(|e| AppError::bad_request(format!("Invalid settings: {e}")))
}

pub async fn create(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(client): ClientIp,
    JsonBody(body): JsonBody<LibraryBody>,
) -> AppResult<Json<Value>> {
    let name = body
        .name
        .clone()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| AppError::bad_request("Library name is required"))?;
    if body.media_type.as_deref().is_some_and(|m| m != "book") {
        return Err(AppError::bad_request("Only book libraries are supported"));
    }
    let paths = folder_paths(&state, body.folders.as_deref().unwrap_or_default())?;
    let settings = merged_settings(&LibrarySettings::default(), body.settings.as_ref())?;
    let now = state.now_ms();
    let (icon, provider) = (body.icon.clone(), body.provider.clone());
    let lib = state
        .store
        .write(move |tx| {
            let mut lib = libraries::create_library(tx, &name, &paths, &settings, now)?;
            if icon.is_some() || provider.is_some() {
                lib.icon = icon.unwrap_or(lib.icon);
                lib.provider = provider.unwrap_or(lib.provider);
                libraries::update_library(tx, &lib, now)?;
            }
            Ok(lib)
        })
        .await?;
    state
        .audit(
            AuditEvent::new(Action::LibraryCreate)
                .actor(admin.user.id.clone(), admin.user.username.clone())
                .client(client.ip, None)
                .target(format!("library:{}", lib.name))
                .details(json!({ "folders": lib.folders.iter().map(|f| f.path.clone()).collect::<Vec<_>>() })),
        )
        .await;
    crate::tasks::watch_library(&state, &lib);
    crate::tasks::start_scan(&state, &lib, false)?;
    let out = items_json::library(&lib);
    if let Some(rt) = &state.realtime {
        rt.to_authenticated("library_added", &out).await;
    }
    Ok(Json(out))
}

pub async fn update(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(client): ClientIp,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<LibraryBody>,
) -> AppResult<Json<Value>> {
    let lookup = id.clone();
    let mut lib = state
        .store
        .read(move |c| libraries::get_library(c, &lookup))
        .await?
        .ok_or_else(|| AppError::not_found_msg("Library not found"))?;
    let before = items_json::library(&lib);
    let paths = match &body.folders {
        Some(f) => Some(folder_paths(&state, f)?),
        None => None,
    };
    if let Some(name) = body
        .name
        .as_ref()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
    {
        lib.name = name.to_string();
    }
    if let Some(icon) = &body.icon {
        lib.icon = icon.clone();
    }
    if let Some(order) = body.display_order {
        lib.display_order = order;
    }
    lib.settings = merged_settings(&lib.settings, body.settings.as_ref())?;
    let now = state.now_ms();
    let lib_id = lib.id.clone();
    let lib = state
        .store
        .write(move |tx| {
            libraries::update_library(tx, &lib, now)?;
            if let Some(paths) = &paths {
                libraries::set_folders(tx, &lib.id, paths, now)?;
            }
            libraries::get_library(tx, &lib_id)?.ok_or_else(AppError::not_found)
        })
        .await?;
    let out = items_json::library(&lib);
    state
        .audit(
            AuditEvent::new(Action::LibraryUpdate)
                .actor(admin.user.id.clone(), admin.user.username.clone())
                .client(client.ip, None)
                .target(format!("library:{}", lib.name))
                .change(before, out.clone()),
        )
        .await;
    crate::tasks::watch_library(&state, &lib);
    if let Some(rt) = &state.realtime {
        rt.to_authenticated("library_updated", &out).await;
    }
    Ok(Json(out))
}

pub async fn delete(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(client): ClientIp,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    if crate::library::scan::is_scanning(&id) {
        return Err(AppError::bad_request(
            "Library is being scanned; try again when the scan is done",
        ));
    }
    let lookup = id.clone();
    let lib = state
        .store
        .read(move |c| libraries::get_library(c, &lookup))
        .await?
        .ok_or_else(|| AppError::not_found_msg("Library not found"))?;
    let target = id.clone();
    state
        .store
        .write(move |tx| libraries::delete_library(tx, &target))
        .await?;
    crate::tasks::unwatch_library(&state, &id);
    state
        .audit(
            AuditEvent::new(Action::LibraryDelete)
                .actor(admin.user.id.clone(), admin.user.username.clone())
                .client(client.ip, None)
                .target(format!("library:{}", lib.name)),
        )
        .await;
    let out = items_json::library(&lib);
    if let Some(rt) = &state.realtime {
        rt.to_authenticated("library_removed", &out).await;
    }
    Ok(Json(out))
}

pub async fn scan(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    Path(id): Path<String>,
    Query(p): Query<HashMap<String, String>>,
) -> AppResult<&'static str> {
    let lookup = id.clone();
    let lib = state
        .store
        .read(move |c| libraries::get_library(c, &lookup))
        .await?
        .ok_or_else(|| AppError::not_found_msg("Library not found"))?;
    let force = matches!(p.get("force").map(String::as_str), Some("1" | "true"));
    crate::tasks::start_scan(&state, &lib, force)?;
    Ok("OK")
}

pub async fn issues(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let issues = state
        .store
        .read(move |c| scan_issues::list_issues(c, &id))
        .await?;
    Ok(Json(json!({ "issues": issues })))
}

pub async fn tasks(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
) -> AppResult<Json<Value>> {
    Ok(Json(json!({ "tasks": state.tasks.snapshot() })))
}
