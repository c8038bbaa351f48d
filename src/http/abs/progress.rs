//! The caller's own listening state: progress, items in progress, bookmarks, listening history.
//! Every write checks that the caller may see the item (ABS does not), and every change is pushed
//! to the caller's other devices over Socket.IO.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::items::visible_item;
use super::json as abs_json;
use crate::access;
use crate::app::AppState;
use crate::auth::extract::{CurrentUser, ListeningUser};
use crate::error::{AppError, AppResult};
use crate::http::body::JsonBody;
use crate::listening::progress::{self as rules, ProgressUpdate};
use crate::model::{Bookmark, User};
use crate::store::progress;

/// Pushes the caller's fresh user JSON to their sockets (ABS's `user_updated`).
pub async fn push_user(state: &AppState, user: &User) {
    let Some(rt) = &state.realtime else { return };
    // The payload holds every progress row of the user: built only for a listening client.
    if !rt.is_online(&user.id) {
        return;
    }
    let uid = user.id.clone();
    let Ok((rows, marks)) = state
        .store
        .read(move |c| progress::listening_of(c, &uid))
        .await
    else {
        return;
    };
    rt.to_user(
        &user.id,
        "user_updated",
        &abs_json::user(user, None, &rows, &marks),
    )
    .await;
}

/// For routes that answer with the caller's `/api/me` user after changing it: reads the user's
/// listening once, pushes `user_updated` (without the token) to their sockets, returns the JSON.
pub async fn push_and_render(state: &AppState, user: &User) -> AppResult<Value> {
    let uid = user.id.clone();
    let (rows, marks) = state
        .store
        .read(move |c| progress::listening_of(c, &uid))
        .await?;
    if let Some(rt) = &state.realtime
        && rt.is_online(&user.id)
    {
        rt.to_user(
            &user.id,
            "user_updated",
            &abs_json::user(user, None, &rows, &marks),
        )
        .await;
    }
    let legacy = state.keys.legacy_for(user)?;
    Ok(abs_json::user(user, Some(&legacy), &rows, &marks))
}

pub async fn get(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(item_id): Path<String>,
) -> AppResult<Json<Value>> {
    let uid = me.user.id.clone();
    let row = state
        .store
        .read(move |c| progress::get(c, &uid, &item_id, ""))
        .await?
        .ok_or_else(|| AppError::not_found_msg("Progress not found"))?;
    Ok(Json(abs_json::progress(&row)))
}

async fn write_one(
    state: &AppState,
    user: &User,
    item_id: &str,
    update: ProgressUpdate,
) -> AppResult<()> {
    let (_ix, item) = visible_item(state, user, item_id).await?;
    let (uid, iid, bid, now) = (
        user.id.clone(),
        item.id.clone(),
        item.book_id.clone(),
        state.now_ms(),
    );
    state
        .store
        .write(move |tx| rules::record(tx, &uid, &iid, &bid, &update, now))
        .await?;
    Ok(())
}

/// `PATCH /api/me/progress/:itemId`.
pub async fn patch(
    State(state): State<AppState>,
    ListeningUser(me): ListeningUser,
    Path(item_id): Path<String>,
    JsonBody(update): JsonBody<ProgressUpdate>,
) -> AppResult<&'static str> {
    write_one(&state, &me.user, &item_id, update).await?;
    push_user(&state, &me.user).await;
    Ok("OK")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchEntry {
    library_item_id: String,
    #[serde(flatten)]
    update: ProgressUpdate,
}

/// `PATCH /api/me/progress/batch/update`.
pub async fn batch(
    State(state): State<AppState>,
    ListeningUser(me): ListeningUser,
    JsonBody(entries): JsonBody<Vec<BatchEntry>>,
) -> AppResult<&'static str> {
    if entries.is_empty() {
        return Err(AppError::bad_request("Invalid payload"));
    }
    for e in entries {
        write_one(&state, &me.user, &e.library_item_id, e.update).await?;
    }
    push_user(&state, &me.user).await;
    Ok("OK")
}

/// `DELETE /api/me/progress/:progressId`: only the caller's own rows.
pub async fn delete(
    State(state): State<AppState>,
    ListeningUser(me): ListeningUser,
    Path(id): Path<String>,
) -> AppResult<&'static str> {
    let uid = me.user.id.clone();
    let deleted = state
        .store
        .write(move |tx| match progress::by_id(tx, &id)? {
            Some(p) if p.user_id == uid => progress::delete(tx, &id),
            _ => Ok(false),
        })
        .await?;
    if !deleted {
        return Err(AppError::not_found_msg("Progress not found"));
    }
    push_user(&state, &me.user).await;
    Ok("OK")
}

/// `GET /api/me/items-in-progress`: unfinished, started, visible items, newest first.
pub async fn items_in_progress(
    State(state): State<AppState>,
    me: CurrentUser,
    Query(p): Query<HashMap<String, String>>,
) -> AppResult<Json<Value>> {
    let limit = p
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .min(500);
    let uid = me.user.id.clone();
    let rows = state
        .store
        .read(move |c| progress::list_for_user(c, &uid))
        .await?;
    let mut out = Vec::new();
    for row in rows.iter().filter(|r| {
        !r.is_finished && (r.current_time > 0.0 || r.ebook_progress.unwrap_or(0.0) > 0.0)
    }) {
        if out.len() >= limit {
            break;
        }
        if let Some((_, item)) = state.catalog.item(&state.store, &row.item_id).await?
            && access::can_see_item(&me.user, &item)
        {
            let mut v = super::items_json::minified(&item);
            v["progressLastUpdate"] = json!(row.last_update);
            out.push(v);
        }
    }
    Ok(Json(json!({ "libraryItems": out })))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BookmarkBody {
    time: Option<f64>,
    title: Option<String>,
}

fn valid_bookmark(b: &BookmarkBody) -> AppResult<(f64, String)> {
    let time = b
        .time
        .filter(|t| t.is_finite() && *t >= 0.0)
        .ok_or_else(|| AppError::bad_request("Invalid time"))?;
    let title = b
        .title
        .clone()
        .ok_or_else(|| AppError::bad_request("Invalid title"))?;
    if title.chars().count() > 1000 {
        return Err(AppError::bad_request("Title too long"));
    }
    Ok((time, title))
}

pub async fn create_bookmark(
    State(state): State<AppState>,
    ListeningUser(me): ListeningUser,
    Path(item_id): Path<String>,
    JsonBody(body): JsonBody<BookmarkBody>,
) -> AppResult<Json<Value>> {
    let (_ix, item) = visible_item(&state, &me.user, &item_id).await?;
    let (time, title) = valid_bookmark(&body)?;
    let (uid, now) = (me.user.id.clone(), state.now_ms());
    let b = Bookmark {
        item_id: item.id.clone(),
        title,
        time,
        created_at: now,
    };
    let saved = state
        .store
        .write(move |tx| progress::put_bookmark(tx, &uid, &b))
        .await?;
    push_user(&state, &me.user).await;
    Ok(Json(abs_json::bookmark(&saved)))
}

pub async fn update_bookmark(
    State(state): State<AppState>,
    ListeningUser(me): ListeningUser,
    Path(item_id): Path<String>,
    JsonBody(body): JsonBody<BookmarkBody>,
) -> AppResult<Json<Value>> {
    let (_ix, item) = visible_item(&state, &me.user, &item_id).await?;
    let (time, title) = valid_bookmark(&body)?;
    let uid = me.user.id.clone();
    let iid = item.id.clone();
    let t2 = title.clone();
    let updated = state
        .store
        .write(move |tx| progress::update_bookmark_title(tx, &uid, &iid, time, &t2))
        .await?;
    if !updated {
        return Err(AppError::not_found_msg("Bookmark not found"));
    }
    push_user(&state, &me.user).await;
    Ok(Json(
        json!({ "libraryItemId": item.id, "title": title, "time": time }),
    ))
}

pub async fn delete_bookmark(
    State(state): State<AppState>,
    ListeningUser(me): ListeningUser,
    Path((item_id, time)): Path<(String, String)>,
) -> AppResult<&'static str> {
    let (_ix, item) = visible_item(&state, &me.user, &item_id).await?;
    let time: f64 = time
        .parse()
        .map_err(|_| AppError::bad_request("Invalid time"))?;
    let (uid, iid) = (me.user.id.clone(), item.id.clone());
    let deleted = state
        .store
        .write(move |tx| progress::delete_bookmark(tx, &uid, &iid, time))
        .await?;
    if !deleted {
        return Err(AppError::not_found_msg("Bookmark not found"));
    }
    push_user(&state, &me.user).await;
    Ok("OK")
}

pub async fn bookmarks(
    State(state): State<AppState>,
    me: CurrentUser,
    item: Option<Path<String>>,
) -> AppResult<Json<Value>> {
    let uid = me.user.id.clone();
    let rows = state
        .store
        .read(move |c| progress::bookmarks_for_user(c, &uid))
        .await?;
    let filter = item.map(|Path(i)| i);
    let list: Vec<Value> = rows
        .iter()
        .filter(|b| filter.as_ref().is_none_or(|i| &b.item_id == i))
        .map(abs_json::bookmark)
        .collect();
    Ok(Json(json!({ "bookmarks": list })))
}
