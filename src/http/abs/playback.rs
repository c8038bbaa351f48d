//! Playback sessions: `POST /api/items/:id/play`, `/api/session/*`, offline (`local`) sessions, and
//! the session-scoped track URL `/public/session/:id/track/:index`, which works only while the
//! session is open and its user active.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::items::visible_item;
use super::{ABS_COMPAT_VERSION, items_json, json as abs_json};
use crate::app::AppState;
use crate::auth::extract::{ClientIp, CurrentUser, HiddenAdmin, ListeningUser};
use crate::error::{AppError, AppResult};
use crate::http::body::JsonBody;
use crate::http::files;
use crate::library::model::Item;
use crate::listening::progress::{self as rules, ProgressUpdate};
use crate::model::User;
use crate::store::playback::{self, PlaybackSession};
use crate::store::users;

/// Sessions idle this long are closed (ABS forgets them after 36 h).
const STALE_SESSION_MS: i64 = 36 * 3_600_000;

pub fn session_json(s: &PlaybackSession) -> Value {
    json!({
        "id": s.id,
        "userId": s.user_id,
        "libraryId": s.library_id,
        "libraryItemId": s.item_id,
        "bookId": s.media_metadata.get("bookId").cloned().unwrap_or(Value::Null),
        "episodeId": s.episode_id,
        "mediaType": "book",
        "mediaMetadata": s.media_metadata,
        "chapters": s.chapters,
        "displayTitle": s.display_title,
        "displayAuthor": s.display_author,
        "coverPath": Value::Null,
        "duration": s.duration,
        "playMethod": s.play_method,
        "mediaPlayer": s.media_player,
        "deviceInfo": s.device_info,
        "serverVersion": s.server_version,
        "date": s.date,
        "dayOfWeek": s.day_of_week,
        "timeListening": s.time_listening,
        "startTime": s.start_time,
        "currentTime": s.current_time,
        "startedAt": s.started_at,
        "updatedAt": s.updated_at,
    })
}

/// The session as `/play` and `GET /api/session/:id` return it: tracks and the expanded item.
fn session_expanded(s: &PlaybackSession, item: &Item) -> Value {
    let mut v = session_json(s);
    let url =
        |f: &crate::library::model::AudioFile| format!("/api/items/{}/file/{}", item.id, f.ino);
    v["audioTracks"] = json!(items_json::tracks(item, &url));
    v["libraryItem"] = items_json::expanded(item);
    v
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct DeviceInfo {
    device_id: Option<String>,
    client_name: Option<String>,
    client_version: Option<String>,
    manufacturer: Option<String>,
    model: Option<String>,
    sdk_version: Option<i64>,
    device_name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PlayBody {
    device_info: DeviceInfo,
    media_player: Option<String>,
    force_direct_play: Option<bool>,
    force_transcode: Option<bool>,
    supported_mime_types: Option<Vec<String>>,
}

fn clip(s: Option<String>) -> Option<String> {
    s.map(|v| v.chars().take(200).collect())
}

/// `POST /api/items/:id/play`: opens a direct-play session at the caller's saved position.
pub async fn play(
    State(state): State<AppState>,
    ListeningUser(me): ListeningUser,
    ClientIp(client): ClientIp,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PlayBody>,
) -> AppResult<Json<Value>> {
    let (ix, item) = visible_item(&state, &me.user, &id).await?;
    if item.num_tracks() == 0 {
        return Err(AppError::not_found_msg("Book has no audio tracks"));
    }
    let _ = (
        body.force_direct_play,
        body.force_transcode,
        &body.supported_mime_types,
    );
    let now = state.now_ms();
    let (date, day) = crate::listening::stats::day_of(now);
    let d = body.device_info;
    let device_id = clip(d.device_id).unwrap_or_else(|| {
        format!(
            "{}-{}",
            client.ip,
            clip(d.client_name.clone()).unwrap_or_default()
        )
    });
    let device_info = json!({
        "deviceId": device_id, "clientName": d.client_name, "clientVersion": d.client_version,
        "manufacturer": d.manufacturer, "model": d.model, "sdkVersion": d.sdk_version,
        "deviceName": d.device_name, "ipAddress": client.ip.to_string(), "userId": me.user.id,
    });
    let mut metadata = items_json::media_metadata(&item);
    metadata["bookId"] = json!(item.book_id);
    let session = PlaybackSession {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: me.user.id.clone(),
        library_id: ix.library.id.clone(),
        item_id: item.id.clone(),
        episode_id: None,
        device_row_id: None,
        display_title: item.metadata.title.clone(),
        display_author: item.metadata.author_name(),
        duration: item.duration,
        play_method: 0,
        media_player: clip(body.media_player).unwrap_or_else(|| "unknown".into()),
        start_time: 0.0,
        current_time: 0.0,
        time_listening: 0.0,
        media_metadata: metadata,
        chapters: json!(item.chapters),
        device_info,
        server_version: ABS_COMPAT_VERSION.into(),
        date,
        day_of_week: day,
        is_open: true,
        started_at: now,
        updated_at: now,
    };
    let (uid, iid, ip) = (me.user.id.clone(), item.id.clone(), client.ip.to_string());
    let (client_name, client_version, device_name, manufacturer, model) = (
        d.client_name.clone(),
        d.client_version.clone(),
        d.device_name.clone(),
        d.manufacturer.clone(),
        d.model.clone(),
    );
    let (session, closed) = state
        .store
        .write(move |tx| {
            let mut s = session;
            let device_row = playback::upsert_device(
                tx,
                &uid,
                &device_id,
                client_name.as_deref(),
                client_version.as_deref(),
                device_name.as_deref(),
                manufacturer.as_deref(),
                model.as_deref(),
                &ip,
                now,
            )?;
            let closed = playback::close_for_device(tx, &uid, &device_row, now)?;
            playback::close_stale(tx, now - STALE_SESSION_MS)?;
            let saved = crate::store::progress::get(tx, &uid, &iid, "")?;
            let start = saved
                .filter(|p| !p.is_finished)
                .map(|p| p.current_time)
                .unwrap_or(0.0);
            s.start_time = start;
            s.current_time = start;
            s.device_row_id = Some(device_row);
            playback::upsert(tx, &s)?;
            Ok((s, closed))
        })
        .await?;
    if let Some(rt) = &state.realtime {
        for id in closed {
            rt.to_user(&me.user.id, "user_session_closed", &id).await;
        }
    }
    Ok(Json(session_expanded(&session, &item)))
}

/// The caller's own session (another user's is 404, as if it did not exist).
async fn own_session(state: &AppState, user: &User, id: &str) -> AppResult<PlaybackSession> {
    let key = id.to_string();
    let s = state
        .store
        .read(move |c| playback::get(c, &key))
        .await?
        .filter(|s| s.user_id == user.id)
        .ok_or_else(|| AppError::not_found_msg("Session not found"))?;
    Ok(s)
}

pub async fn get(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let s = own_session(&state, &me.user, &id).await?;
    if !s.is_open {
        return Err(AppError::not_found_msg("Session not found"));
    }
    let (_ix, item) = visible_item(&state, &me.user, &s.item_id).await?;
    Ok(Json(session_expanded(&s, &item)))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct SyncBody {
    current_time: Option<f64>,
    time_listened: Option<f64>,
    duration: Option<f64>,
}

/// Applies a sync to an open session and the caller's progress; emits `user_item_progress_updated`.
async fn apply_sync(
    state: &AppState,
    user: &User,
    s: PlaybackSession,
    body: SyncBody,
    close: bool,
) -> AppResult<()> {
    let (ix, item) = visible_item(state, user, &s.item_id).await?;
    let settings = ix.library.settings.clone();
    let now = state.now_ms();
    // A client cannot claim more listening than wall time since its last sync (plus slack).
    let max_listened = ((now - s.updated_at).max(0) as f64 / 1000.0) + 60.0;
    let listened = body
        .time_listened
        .filter(|t| t.is_finite() && *t > 0.0)
        .map(|t| t.min(max_listened))
        .unwrap_or(0.0);
    let update = ProgressUpdate {
        current_time: body.current_time,
        duration: body.duration.or(Some(item.duration)),
        mark_as_finished_time_remaining: settings.mark_as_finished_time_remaining,
        mark_as_finished_percent_complete: settings.mark_as_finished_percent_complete,
        ..ProgressUpdate::default()
    };
    let (uid, iid, bid) = (user.id.clone(), item.id.clone(), item.book_id.clone());
    let has_time = body.current_time.is_some();
    let (session, row) = state
        .store
        .write(move |tx| {
            let mut s = s;
            if let Some(t) = body.current_time.filter(|t| t.is_finite() && *t >= 0.0) {
                s.current_time = t;
            }
            s.time_listening += listened;
            s.updated_at = now;
            if close {
                s.is_open = false;
            }
            playback::upsert(tx, &s)?;
            let row = if has_time {
                Some(rules::record(tx, &uid, &iid, &bid, &update, now)?)
            } else {
                None
            };
            Ok((s, row))
        })
        .await?;
    if let Some(rt) = &state.realtime {
        if let Some(row) = row {
            let device = session
                .device_info
                .get("deviceName")
                .cloned()
                .unwrap_or(Value::Null);
            rt.to_user(&user.id, "user_item_progress_updated", &json!({
                "id": row.id, "sessionId": session.id, "deviceDescription": device, "data": abs_json::progress(&row),
            }))
            .await;
        }
        if close {
            rt.to_user(&user.id, "user_session_closed", &session.id)
                .await;
        }
    }
    Ok(())
}

pub async fn sync(
    State(state): State<AppState>,
    ListeningUser(me): ListeningUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SyncBody>,
) -> AppResult<&'static str> {
    let s = own_session(&state, &me.user, &id).await?;
    if !s.is_open {
        return Err(AppError::not_found_msg("Session not found"));
    }
    apply_sync(&state, &me.user, s, body, false).await?;
    Ok("OK")
}

pub async fn close(
    State(state): State<AppState>,
    ListeningUser(me): ListeningUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SyncBody>,
) -> AppResult<&'static str> {
    let s = own_session(&state, &me.user, &id).await?;
    apply_sync(&state, &me.user, s, body, true).await?;
    Ok("OK")
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct LocalSession {
    id: Option<String>,
    library_item_id: Option<String>,
    current_time: Option<f64>,
    time_listening: Option<f64>,
    duration: Option<f64>,
    started_at: Option<i64>,
    updated_at: Option<i64>,
    media_player: Option<String>,
    device_info: Option<Value>,
}

/// Stores a session recorded offline and its progress (newest write wins).
async fn save_local(state: &AppState, user: &User, l: LocalSession) -> AppResult<bool> {
    let id =
        l.id.clone()
            .filter(|i| !i.is_empty() && i.len() <= 100)
            .ok_or_else(|| AppError::bad_request("Session id required"))?;
    let item_id = l
        .library_item_id
        .clone()
        .ok_or_else(|| AppError::bad_request("libraryItemId required"))?;
    let (ix, item) = visible_item(state, user, &item_id).await?;
    let now = state.now_ms();
    let updated = l
        .updated_at
        .filter(|t| *t > 0 && *t <= now + 60_000)
        .unwrap_or(now);
    let started = l
        .started_at
        .filter(|t| *t > 0 && *t <= updated)
        .unwrap_or(updated);
    let (date, day) = crate::listening::stats::day_of(started);
    let key = id.clone();
    if let Some(existing) = state.store.read(move |c| playback::get(c, &key)).await?
        && existing.user_id != user.id
    {
        return Err(AppError::forbidden());
    }
    let mut metadata = items_json::media_metadata(&item);
    metadata["bookId"] = json!(item.book_id);
    let session = PlaybackSession {
        id,
        user_id: user.id.clone(),
        library_id: ix.library.id.clone(),
        item_id: item.id.clone(),
        display_title: item.metadata.title.clone(),
        display_author: item.metadata.author_name(),
        duration: l
            .duration
            .filter(|d| d.is_finite() && *d >= 0.0)
            .unwrap_or(item.duration),
        play_method: 3,
        media_player: l.media_player.clone().unwrap_or_else(|| "local".into()),
        current_time: l
            .current_time
            .filter(|t| t.is_finite() && *t >= 0.0)
            .unwrap_or(0.0),
        time_listening: l
            .time_listening
            .filter(|t| t.is_finite() && *t >= 0.0)
            .unwrap_or(0.0)
            .min(((updated - started) as f64 / 1000.0) + 60.0),
        media_metadata: metadata,
        chapters: json!(item.chapters),
        device_info: l.device_info.clone().unwrap_or(json!({})),
        server_version: ABS_COMPAT_VERSION.into(),
        date,
        day_of_week: day,
        is_open: false,
        started_at: started,
        updated_at: updated,
        ..PlaybackSession::default()
    };
    let update = ProgressUpdate {
        current_time: Some(session.current_time),
        duration: Some(session.duration),
        last_update: Some(updated),
        mark_as_finished_time_remaining: ix.library.settings.mark_as_finished_time_remaining,
        mark_as_finished_percent_complete: ix.library.settings.mark_as_finished_percent_complete,
        ..ProgressUpdate::default()
    };
    let (uid, iid, bid) = (user.id.clone(), item.id.clone(), item.book_id.clone());
    let row = state
        .store
        .write(move |tx| {
            playback::upsert(tx, &session)?;
            rules::record(tx, &uid, &iid, &bid, &update, now)
        })
        .await?;
    if let Some(rt) = &state.realtime {
        rt.to_user(
            &user.id,
            "user_item_progress_updated",
            &json!({ "id": row.id, "data": abs_json::progress(&row) }),
        )
        .await;
    }
    Ok(row.last_update == updated)
}

pub async fn local(
    State(state): State<AppState>,
    ListeningUser(me): ListeningUser,
    JsonBody(body): JsonBody<LocalSession>,
) -> AppResult<&'static str> {
    save_local(&state, &me.user, body).await?;
    Ok("OK")
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LocalAll {
    sessions: Vec<Value>,
}

pub async fn local_all(
    State(state): State<AppState>,
    ListeningUser(me): ListeningUser,
    JsonBody(body): JsonBody<LocalAll>,
) -> AppResult<Json<Value>> {
    if body.sessions.len() > 1000 {
        return Err(AppError::bad_request("Too many sessions"));
    }
    let mut results = Vec::new();
    for raw in body.sessions {
        let id = raw.get("id").cloned().unwrap_or(Value::Null);
        let parsed: Result<LocalSession, _> = serde_json::from_value(raw);
        let outcome = match parsed {
            Ok(l) => save_local(&state, &me.user, l).await,
            Err(e) => Err(AppError::bad_request(e.to_string())),
        };
        results.push(match outcome {
            Ok(synced) => json!({ "id": id, "success": true, "progressSynced": synced }),
            Err(e) => json!({ "id": id, "success": false, "error": e.to_string() }),
        });
    }
    Ok(Json(json!({ "results": results })))
}

/// `GET /api/sessions/open`: admins only (with the admin scope); others get 404 as in ABS.
pub async fn open_sessions(
    State(state): State<AppState>,
    HiddenAdmin(_admin): HiddenAdmin,
) -> AppResult<Json<Value>> {
    let (list, everyone) = state
        .store
        .read(|c| Ok((playback::list_open(c)?, users::list(c)?)))
        .await?;
    let mut sessions = Vec::with_capacity(list.len());
    for s in &list {
        // ABS lists each session with its owner; its tracks too, which clients that parse the
        // entries as expanded sessions (aioaudiobookshelf-plus) require.
        let mut v = match state.catalog.item(&state.store, &s.item_id).await? {
            Some((_, item)) => {
                let mut v = session_expanded(s, &item);
                if let Some(o) = v.as_object_mut() {
                    o.remove("libraryItem");
                }
                v
            }
            None => {
                let mut v = session_json(s);
                v["audioTracks"] = json!([]);
                v
            }
        };
        v["user"] = everyone
            .iter()
            .find(|u| u.id == s.user_id)
            .map(|u| json!({ "id": u.id, "username": u.username, "type": u.user_type.as_str() }))
            .unwrap_or(Value::Null);
        sessions.push(v);
    }
    Ok(Json(json!({ "sessions": sessions, "shareSessions": [] })))
}

/// `GET /public/session/:id/track/:index`: no bearer token; the open session id is the capability.
pub async fn public_track(
    State(state): State<AppState>,
    Path((id, index)): Path<(String, String)>,
    req: Request,
) -> AppResult<Response> {
    let index: usize = index
        .parse()
        .map_err(|_| AppError::bad_request("Invalid track index"))?;
    let key = id.clone();
    let now = state.now_ms();
    let (session, user) = state
        .store
        .read(move |c| {
            let Some(s) = playback::get(c, &key)? else {
                return Ok(None);
            };
            let u = users::by_id(c, &s.user_id)?;
            Ok(u.map(|u| (s, u)))
        })
        .await?
        .filter(|(s, u)| s.is_open && u.is_active && now - s.updated_at < STALE_SESSION_MS)
        .ok_or_else(|| AppError::not_found_msg("Session not found"))?;
    let (ix, item) = visible_item(&state, &user, &session.item_id)
        .await
        .map_err(|_| AppError::not_found())?;
    let tracks: Vec<&crate::library::model::AudioFile> =
        item.audio_files.iter().filter(|f| !f.exclude).collect();
    let track = index
        .checked_sub(1)
        .and_then(|i| tracks.get(i))
        .ok_or_else(|| AppError::not_found_msg("Track not found"))?;
    let roots: Vec<String> = ix.library.folders.iter().map(|f| f.path.clone()).collect();
    let path = files::confine(&track.metadata.path, &roots)?;
    files::send(&path, &track.mime_type, None, req).await
}
