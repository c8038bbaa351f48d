//! `/api/items/*`: one item, several, its cover and its files. Every route checks that the caller
//! may see the item, including the cover route ABS leaves open.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::catalog::LibraryIndex;
use super::{items_json, json as abs_json};
use crate::access;
use crate::app::AppState;
use crate::auth::extract::{CurrentUser, MediaUser};
use crate::error::{AppError, AppResult};
use crate::http::body::JsonBody;
use crate::http::files;
use crate::library::model::Item;
use crate::model::User;
use crate::store::progress;

/// The item if it exists (404) and the caller may see it (403).
pub async fn visible_item(
    state: &AppState,
    user: &User,
    id: &str,
) -> AppResult<(Arc<LibraryIndex>, Arc<Item>)> {
    let (ix, item) = state
        .catalog
        .item(&state.store, id)
        .await?
        .ok_or_else(|| AppError::not_found_msg("Item not found"))?;
    if !access::can_see_item(user, &item) {
        return Err(AppError::forbidden());
    }
    Ok((ix, item))
}

pub async fn get(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
    Query(p): Query<HashMap<String, String>>,
) -> AppResult<Json<Value>> {
    let (_ix, item) = visible_item(&state, &me.user, &id).await?;
    let expanded = matches!(p.get("expanded").map(String::as_str), Some("1" | "true"));
    if !expanded {
        return Ok(Json(items_json::plain(&item)));
    }
    let mut v = items_json::expanded(&item);
    if p.get("include")
        .is_some_and(|i| i.split(',').any(|x| x == "progress"))
    {
        let (uid, iid) = (me.user.id.clone(), item.id.clone());
        let episode = p.get("episode").cloned().unwrap_or_default();
        let row = state
            .store
            .read(move |c| progress::get(c, &uid, &iid, &episode))
            .await?;
        v["userMediaProgress"] = row.map(|r| abs_json::progress(&r)).unwrap_or(Value::Null);
    }
    Ok(Json(v))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct BatchBody {
    library_item_ids: Vec<String>,
}

/// `POST /api/items/batch/get`: 403 if any item is not visible (as ABS).
pub async fn batch_get(
    State(state): State<AppState>,
    me: CurrentUser,
    JsonBody(body): JsonBody<BatchBody>,
) -> AppResult<Json<Value>> {
    if body.library_item_ids.is_empty() || body.library_item_ids.len() > 1000 {
        return Err(AppError::Forbidden("Invalid payload".into()));
    }
    let mut out = Vec::with_capacity(body.library_item_ids.len());
    for id in &body.library_item_ids {
        match state.catalog.item(&state.store, id).await? {
            Some((_, item)) if access::can_see_item(&me.user, &item) => {
                out.push(items_json::expanded(&item))
            }
            Some(_) => return Err(AppError::forbidden()),
            None => {}
        }
    }
    Ok(Json(json!({ "libraryItems": out })))
}

fn roots(ix: &LibraryIndex) -> Vec<String> {
    ix.library.folders.iter().map(|f| f.path.clone()).collect()
}

/// `GET /api/items/:id/cover[?width=&height=&format=&raw=1]`: the cover, resized and cached as ABS
/// does. Covers extracted by the scanner live in the data dir.
pub async fn cover(
    State(state): State<AppState>,
    MediaUser(me): MediaUser,
    Path(id): Path<String>,
    req: Request,
) -> AppResult<Response> {
    let (ix, item) = visible_item(&state, &me.user, &id).await?;
    let cover = item
        .cover_path
        .clone()
        .ok_or_else(|| AppError::not_found_msg("Cover not found"))?;
    let mut allowed = roots(&ix);
    allowed.push(state.data_dir.join("covers").to_string_lossy().into_owned());
    let path = files::confine(&cover, &allowed)?;
    let mut resp = files::send_image(&state.data_dir, &path, req).await?;
    resp.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("private, max-age=86400"),
    );
    Ok(resp)
}

/// A file of the item by inode, from the item's own file lists only.
fn file_of(item: &Item, ino: &str) -> Option<(String, String, String)> {
    if let Some(f) = item.audio_files.iter().find(|f| f.ino == ino) {
        return Some((
            f.metadata.path.clone(),
            f.mime_type.clone(),
            f.metadata.filename.clone(),
        ));
    }
    item.library_files.iter().find(|f| f.ino == ino).map(|f| {
        let mime =
            crate::library::probe::mime_for_ext(f.metadata.ext.trim_start_matches('.')).to_string();
        (f.metadata.path.clone(), mime, f.metadata.filename.clone())
    })
}

async fn send_item_file(
    state: &AppState,
    user: &User,
    id: &str,
    ino: &str,
    download: bool,
    req: Request,
) -> AppResult<Response> {
    let (ix, item) = visible_item(state, user, id).await?;
    if download && !user.permissions.download {
        return Err(AppError::forbidden());
    }
    let (path, mime, name) =
        file_of(&item, ino).ok_or_else(|| AppError::not_found_msg("File not found"))?;
    let real = files::confine(&path, &roots(&ix))?;
    files::send(&real, &mime, download.then_some(name.as_str()), req).await
}

/// `GET /api/items/:id/file/:ino`: streaming, no download permission needed (as ABS).
pub async fn file(
    State(state): State<AppState>,
    MediaUser(me): MediaUser,
    Path((id, ino)): Path<(String, String)>,
    req: Request,
) -> AppResult<Response> {
    send_item_file(&state, &me.user, &id, &ino, false, req).await
}

/// `GET /api/items/:id/file/:ino/download`: needs the download permission.
pub async fn file_download(
    State(state): State<AppState>,
    MediaUser(me): MediaUser,
    Path((id, ino)): Path<(String, String)>,
    req: Request,
) -> AppResult<Response> {
    send_item_file(&state, &me.user, &id, &ino, true, req).await
}

/// `GET /api/items/:id/download` for single-file books.
pub async fn download(
    State(state): State<AppState>,
    MediaUser(me): MediaUser,
    Path(id): Path<String>,
    req: Request,
) -> AppResult<Response> {
    let (_ix, item) = visible_item(&state, &me.user, &id).await?;
    let only = match item.audio_files.as_slice() {
        [one] => one.ino.clone(),
        _ => {
            return Err(AppError::bad_request(
                "This book has several files; download them one by one",
            ));
        }
    };
    send_item_file(&state, &me.user, &id, &only, true, req).await
}
