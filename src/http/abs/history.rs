//! Listening history and statistics: the caller's own (`/api/me/listening-*`, the year in
//! review, one item's sessions), another user's for an admin (`/api/users/:id/listening-*`),
//! every user's for an admin (`/api/sessions`), deleting sessions, and hiding books and series
//! from "continue listening".

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::items::visible_item;
use super::playback::session_json;
use super::progress::push_and_render;
use crate::app::AppState;
use crate::audit::{Action, AuditEvent};
use crate::auth::extract::{
    AdminUser, ClientIp, CurrentUser, HiddenAdmin, HistoryReader, ListeningUser, SessionDeleter,
};
use crate::error::{AppError, AppResult};
use crate::http::body::JsonBody;
use crate::listening::stats::{self, BookFacts};
use crate::model::User;
use crate::store::playback::{self, HistoryFilter, PlaybackSession};
use crate::store::{progress, users};

/// Sessions per page unless asked otherwise (ABS's default), and the most one page may hold.
const DEFAULT_PER_PAGE: i64 = 10;
const MAX_PER_PAGE: i64 = 1000;

/// ABS's `page` (from 0) and `itemsPerPage` query values; nonsense falls back to the defaults.
fn paging(q: &HashMap<String, String>) -> (i64, i64) {
    let per_page = q
        .get("itemsPerPage")
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(DEFAULT_PER_PAGE)
        .min(MAX_PER_PAGE);
    // Capped so that `page * per_page` cannot overflow; such a page is empty anyway.
    let page = q
        .get("page")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0)
        .clamp(0, i64::MAX / MAX_PER_PAGE / 2);
    (page, per_page)
}

fn page_json(total: i64, page: i64, per_page: i64, sessions: Vec<Value>) -> Value {
    json!({
        "total": total,
        "numPages": (total + per_page - 1) / per_page,
        "page": page,
        "itemsPerPage": per_page,
        "sessions": sessions,
    })
}

fn with_user(s: &PlaybackSession, username: &str) -> Value {
    let mut v = session_json(s);
    v["user"] = json!({ "id": s.user_id, "username": username });
    v
}

async fn load_history(
    state: &AppState,
    user_id: &str,
    item_id: Option<&str>,
    started_within: Option<(i64, i64)>,
) -> AppResult<Vec<PlaybackSession>> {
    let (uid, iid) = (user_id.to_string(), item_id.map(str::to_string));
    state
        .store
        .read(move |c| {
            playback::history(
                c,
                &HistoryFilter {
                    user_id: &uid,
                    item_id: iid.as_deref(),
                    started_within,
                },
            )
        })
        .await
}

async fn existing_user(state: &AppState, id: &str) -> AppResult<User> {
    let id = id.to_string();
    state
        .store
        .read(move |c| users::by_id(c, &id))
        .await?
        .ok_or_else(|| AppError::not_found_msg("User not found"))
}

/// `GET /api/me/listening-sessions?page&itemsPerPage`.
pub async fn my_sessions(
    State(state): State<AppState>,
    me: CurrentUser,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Json<Value>> {
    history_page(&state, &me.user.id, &q, session_json).await
}

/// One page of a user's sessions, each rendered by `render`.
async fn history_page(
    state: &AppState,
    user_id: &str,
    q: &HashMap<String, String>,
    render: impl Fn(&PlaybackSession) -> Value,
) -> AppResult<Json<Value>> {
    let (page, per_page) = paging(q);
    let uid = user_id.to_string();
    let (total, rows) = state
        .store
        .read(move |c| playback::list_for_user(c, &uid, page * per_page, per_page))
        .await?;
    let sessions = rows.iter().map(render).collect();
    Ok(Json(page_json(total, page, per_page, sessions)))
}

/// `GET /api/me/item/listening-sessions/:itemId[/:episodeId]`: the caller's sessions of one item
/// they may see (of one of its episodes, when named).
pub async fn my_item_sessions(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(path): Path<HashMap<String, String>>,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Json<Value>> {
    let item_id = path.get("id").map(String::as_str).unwrap_or_default();
    let (_ix, item) = visible_item(&state, &me.user, item_id).await?;
    let mut all = load_history(&state, &me.user.id, Some(&item.id), None).await?;
    if let Some(episode) = path.get("episode") {
        all.retain(|s| s.episode_id.as_deref() == Some(episode.as_str()));
    }
    let (page, per_page) = paging(&q);
    let sessions = all
        .iter()
        .skip(usize::try_from(page * per_page).unwrap_or(usize::MAX))
        .take(per_page as usize)
        .map(session_json)
        .collect();
    Ok(Json(page_json(all.len() as i64, page, per_page, sessions)))
}

/// `GET /api/me/listening-stats`.
pub async fn my_stats(State(state): State<AppState>, me: CurrentUser) -> AppResult<Json<Value>> {
    stats_of(&state, &me.user.id).await
}

/// ABS's listening summary of one user's whole history, with "today" by the server's clock.
async fn stats_of(state: &AppState, user_id: &str) -> AppResult<Json<Value>> {
    let all = load_history(state, user_id, None, None).await?;
    let (today, _) = stats::day_of(state.now_ms());
    Ok(Json(stats::summary(&all, &today, session_json)))
}

/// `GET /api/me/stats/year/:year`: the caller's year in review.
pub async fn my_year(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(year): Path<String>,
) -> AppResult<Json<Value>> {
    let (from, to) = year
        .parse::<i32>()
        .ok()
        .and_then(stats::year_bounds)
        .ok_or_else(|| AppError::bad_request("Invalid year"))?;
    let sessions = load_history(&state, &me.user.id, None, Some((from, to))).await?;
    let uid = me.user.id.clone();
    let finished = state
        .store
        .read(move |c| progress::finished_between(c, &uid, from, to))
        .await?;
    // What is known of each book the year touched, as far as the caller may still see it.
    let mut books: HashMap<String, Option<BookFacts>> = HashMap::new();
    let ids = sessions
        .iter()
        .map(|s| &s.item_id)
        .chain(finished.iter().map(|p| &p.item_id));
    for id in ids {
        if books.contains_key(id) {
            continue;
        }
        let facts = match state.catalog.item(&state.store, id).await? {
            Some((_, item)) if crate::access::can_see_item(&me.user, &item) => Some(BookFacts {
                title: item.metadata.title.clone(),
                has_cover: item.cover_path.is_some(),
            }),
            _ => None,
        };
        books.insert(id.clone(), facts);
    }
    Ok(Json(stats::year_in_review(&sessions, &finished, |id| {
        books.get(id).and_then(|f| {
            f.as_ref().map(|f| BookFacts {
                title: f.title.clone(),
                has_cover: f.has_cover,
            })
        })
    })))
}

/// `GET /api/users/:id/listening-sessions`: the user themself or an admin.
pub async fn user_sessions(
    State(state): State<AppState>,
    reader: HistoryReader,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Json<Value>> {
    let user = existing_user(&state, &reader.user_id).await?;
    history_page(&state, &user.id, &q, |s| with_user(s, &user.username)).await
}

/// `GET /api/users/:id/listening-stats`: the user themself or an admin.
pub async fn user_stats(
    State(state): State<AppState>,
    reader: HistoryReader,
) -> AppResult<Json<Value>> {
    let user = existing_user(&state, &reader.user_id).await?;
    stats_of(&state, &user.id).await
}

/// `GET /api/sessions?user&sort&desc&page&itemsPerPage`: every user's history, for admins
/// (404 for anyone else, as in ABS).
pub async fn all_sessions(
    State(state): State<AppState>,
    HiddenAdmin(_admin): HiddenAdmin,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Json<Value>> {
    let (page, per_page) = paging(&q);
    let user_filter = q.get("user").filter(|u| !u.is_empty()).cloned();
    let sort = q
        .get("sort")
        .and_then(|s| playback::sort_column(s))
        .unwrap_or("updated_at");
    let desc = q.get("desc").is_some_and(|d| d == "1");
    let uid = user_filter.clone();
    let (total, rows) = state
        .store
        .read(move |c| playback::page_all(c, uid.as_deref(), sort, desc, page * per_page, per_page))
        .await?;
    let sessions = rows.iter().map(|(s, name)| with_user(s, name)).collect();
    let mut out = page_json(total, page, per_page, sessions);
    if let Some(uid) = user_filter {
        out["userId"] = json!(uid);
    }
    Ok(Json(out))
}

/// `DELETE /api/sessions/:id`: the caller's own session, or anyone's for an admin (audited).
/// Someone else's session is a 404 to a non-admin, so its existence does not leak.
pub async fn delete_session(
    State(state): State<AppState>,
    SessionDeleter { me, admin }: SessionDeleter,
    ClientIp(client): ClientIp,
    Path(id): Path<String>,
) -> AppResult<&'static str> {
    let lookup = id.clone();
    let session = state
        .store
        .read(move |c| playback::get(c, &lookup))
        .await?
        .ok_or_else(|| AppError::not_found_msg("Session not found"))?;
    let own = session.user_id == me.user.id;
    if !own && !admin {
        return Err(AppError::not_found_msg("Session not found"));
    }
    let ids = vec![id];
    state
        .store
        .write(move |tx| playback::delete_many(tx, &ids))
        .await?;
    if !own {
        audit_deletion(&state, &me.user, client.ip, &[session]).await;
    }
    Ok("OK")
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BatchDeleteBody {
    sessions: Vec<String>,
}

/// `POST /api/sessions/batch/delete` `{sessions: [id…]}`: admins only; audited.
pub async fn batch_delete(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(client): ClientIp,
    JsonBody(body): JsonBody<BatchDeleteBody>,
) -> AppResult<&'static str> {
    if body.sessions.is_empty() || body.sessions.iter().any(|s| s.is_empty() || s.len() > 64) {
        return Err(AppError::bad_request(
            "Invalid request body. \"sessions\" array of session id strings is required.",
        ));
    }
    let ids = body.sessions;
    let removed = state
        .store
        .write(move |tx| {
            let mut found = Vec::new();
            for id in &ids {
                if let Some(s) = playback::get(tx, id)? {
                    found.push(s);
                }
            }
            playback::delete_many(tx, &ids)?;
            Ok(found)
        })
        .await?;
    audit_deletion(&state, &admin.user, client.ip, &removed).await;
    Ok("OK")
}

async fn audit_deletion(
    state: &AppState,
    admin: &User,
    ip: std::net::IpAddr,
    removed: &[PlaybackSession],
) {
    if removed.is_empty() {
        return;
    }
    let users: std::collections::BTreeSet<&str> =
        removed.iter().map(|s| s.user_id.as_str()).collect();
    state
        .audit(
            AuditEvent::new(Action::ListeningSessionDelete)
                .actor(admin.id.clone(), admin.username.clone())
                .client(ip, None)
                .target(format!("sessions:{}", removed.len()))
                .details(json!({
                    "sessions": removed.iter().map(|s| &s.id).collect::<Vec<_>>(),
                    "users": users,
                })),
        )
        .await;
}

/// `GET /api/me/progress/:id/remove-from-continue-listening`: hides one of the caller's
/// progress rows from the shelf; the answer is the caller's user JSON.
pub async fn hide_progress(
    State(state): State<AppState>,
    ListeningUser(me): ListeningUser,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let uid = me.user.id.clone();
    let found = state
        .store
        .write(move |tx| progress::hide_from_continue(tx, &uid, &id))
        .await?;
    if !found {
        return Err(AppError::not_found_msg("Progress not found"));
    }
    Ok(Json(push_and_render(&state, &me.user).await?))
}

/// `GET /api/me/series/:id/remove-from-continue-listening`.
pub async fn hide_series(
    State(state): State<AppState>,
    ListeningUser(me): ListeningUser,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    set_series_hidden(&state, &me.user, id, true).await
}

/// `GET /api/me/series/:id/readd-to-continue-listening`.
pub async fn readd_series(
    State(state): State<AppState>,
    ListeningUser(me): ListeningUser,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    set_series_hidden(&state, &me.user, id, false).await
}

async fn set_series_hidden(
    state: &AppState,
    me: &User,
    series_id: String,
    hidden: bool,
) -> AppResult<Json<Value>> {
    // The same 404 as `/api/series/:id` for a series the caller cannot see a book of.
    super::entities::visible_series(state, me, &series_id).await?;
    let uid = me.id.clone();
    let (changed, user) = state
        .store
        .write(move |tx| {
            let changed = users::set_series_hidden(tx, &uid, &series_id, hidden)?;
            Ok((changed, users::by_id(tx, &uid)?))
        })
        .await?;
    let user = user.ok_or_else(|| AppError::not_found_msg("User not found"))?;
    let body = if changed {
        push_and_render(state, &user).await?
    } else {
        super::me::render(state, &user).await?
    };
    Ok(Json(body))
}
