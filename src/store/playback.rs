//! Playback sessions (listening history) and the devices they were played on.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

use super::{StoreResult, json_col};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlaybackSession {
    pub id: String,
    pub user_id: String,
    pub library_id: String,
    pub item_id: String,
    pub episode_id: Option<String>,
    pub device_row_id: Option<String>,
    pub display_title: String,
    pub display_author: String,
    pub duration: f64,
    pub play_method: i64,
    pub media_player: String,
    pub start_time: f64,
    pub current_time: f64,
    pub time_listening: f64,
    pub media_metadata: Value,
    pub chapters: Value,
    pub device_info: Value,
    pub server_version: String,
    pub date: String,
    pub day_of_week: String,
    pub is_open: bool,
    pub started_at: i64,
    pub updated_at: i64,
}

const COLS: &str = "id, user_id, library_id, item_id, episode_id, device_row_id, display_title, display_author, duration, \
    play_method, media_player, start_time, position, time_listening, media_metadata, chapters, device_info, \
    server_version, date, day_of_week, is_open, started_at, updated_at";

fn row(r: &Row<'_>) -> rusqlite::Result<PlaybackSession> {
    Ok(PlaybackSession {
        id: r.get(0)?,
        user_id: r.get(1)?,
        library_id: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
        item_id: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
        episode_id: r.get(4)?,
        device_row_id: r.get(5)?,
        display_title: r.get(6)?,
        display_author: r.get(7)?,
        duration: r.get(8)?,
        play_method: r.get(9)?,
        media_player: r.get(10)?,
        start_time: r.get(11)?,
        current_time: r.get(12)?,
        time_listening: r.get(13)?,
        media_metadata: json_col::<Value>(&r.get::<_, String>(14)?),
        chapters: json_col::<Value>(&r.get::<_, String>(15)?),
        device_info: json_col::<Value>(&r.get::<_, String>(16)?),
        server_version: r.get(17)?,
        date: r.get(18)?,
        day_of_week: r.get(19)?,
        is_open: r.get(20)?,
        started_at: r.get(21)?,
        updated_at: r.get(22)?,
    })
}

/// Inserts or replaces a session (local sessions from offline clients are upserts).
pub fn upsert(conn: &Connection, s: &PlaybackSession) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO playback_sessions ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)
         ON CONFLICT(id) DO UPDATE SET position = excluded.position, time_listening = excluded.time_listening,
             duration = excluded.duration, is_open = excluded.is_open, updated_at = excluded.updated_at"
    ))?
    .execute(params![
        s.id,
        s.user_id,
        s.library_id,
        s.item_id,
        s.episode_id,
        s.device_row_id,
        s.display_title,
        s.display_author,
        s.duration,
        s.play_method,
        s.media_player,
        s.start_time,
        s.current_time,
        s.time_listening,
        s.media_metadata.to_string(),
        s.chapters.to_string(),
        s.device_info.to_string(),
        s.server_version,
        s.date,
        s.day_of_week,
        s.is_open,
        s.started_at,
        s.updated_at
    ])?;
    Ok(())
}

pub fn get(conn: &Connection, id: &str) -> StoreResult<Option<PlaybackSession>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLS} FROM playback_sessions WHERE id = ?1"
        ))?
        .query_row([id], row)
        .optional()?)
}

/// Closes the user's open sessions on one device (a new play replaces them, as in ABS).
pub fn close_for_device(
    conn: &Connection,
    user_id: &str,
    device_row_id: &str,
    now: i64,
) -> StoreResult<Vec<String>> {
    let mut st = conn.prepare_cached(
        "SELECT id FROM playback_sessions WHERE user_id = ?1 AND device_row_id = ?2 AND is_open = 1",
    )?;
    let ids = st
        .query_map(params![user_id, device_row_id], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    conn.execute(
        "UPDATE playback_sessions SET is_open = 0, updated_at = ?3 WHERE user_id = ?1 AND device_row_id = ?2 AND is_open = 1",
        params![user_id, device_row_id, now],
    )?;
    Ok(ids)
}

/// Open sessions not updated since `before` are closed (clients that vanished).
pub fn close_stale(conn: &Connection, before: i64) -> StoreResult<usize> {
    Ok(conn.execute(
        "UPDATE playback_sessions SET is_open = 0 WHERE is_open = 1 AND updated_at < ?1",
        [before],
    )?)
}

/// A user's history, newest first, with the total count.
pub fn list_for_user(
    conn: &Connection,
    user_id: &str,
    offset: i64,
    limit: i64,
) -> StoreResult<(i64, Vec<PlaybackSession>)> {
    let total: i64 = conn.query_row(
        "SELECT COUNT(*) FROM playback_sessions WHERE user_id = ?1 AND time_listening > 0",
        [user_id],
        |r| r.get(0),
    )?;
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM playback_sessions WHERE user_id = ?1 AND time_listening > 0
         ORDER BY updated_at DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let rows = st
        .query_map(params![user_id, limit, offset], row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((total, rows))
}

pub fn list_open(conn: &Connection) -> StoreResult<Vec<PlaybackSession>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM playback_sessions WHERE is_open = 1 ORDER BY updated_at DESC"
    ))?;
    let rows = st.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Finds or creates the user's device row for a client-supplied device id.
#[allow(clippy::too_many_arguments)]
pub fn upsert_device(
    conn: &Connection,
    user_id: &str,
    device_id: &str,
    client_name: Option<&str>,
    client_version: Option<&str>,
    device_name: Option<&str>,
    manufacturer: Option<&str>,
    model: Option<&str>,
    ip: &str,
    now: i64,
) -> StoreResult<String> {
    let existing: Option<String> = conn
        .query_row(
            "SELECT id FROM devices WHERE user_id = ?1 AND device_id = ?2",
            params![user_id, device_id],
            |r| r.get(0),
        )
        .optional()?;
    let id = existing.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    conn.execute(
        "INSERT INTO devices (id, user_id, device_id, client_name, client_version, device_name, manufacturer, model, ip_address, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
         ON CONFLICT(user_id, device_id) DO UPDATE SET client_name = excluded.client_name,
             client_version = excluded.client_version, device_name = excluded.device_name,
             manufacturer = excluded.manufacturer, model = excluded.model, ip_address = excluded.ip_address,
             updated_at = excluded.updated_at",
        params![id, user_id, device_id, client_name, client_version, device_name, manufacturer, model, ip, now],
    )?;
    Ok(id)
}

/// Where a session history starts and what it holds: one user's sessions (optionally of one
/// item, optionally started within `[from, to)`), newest first. Sessions in which nothing was
/// listened to are not history.
#[derive(Debug, Default, Clone)]
pub struct HistoryFilter<'a> {
    pub user_id: &'a str,
    pub item_id: Option<&'a str>,
    pub started_within: Option<(i64, i64)>,
}

pub fn history(conn: &Connection, f: &HistoryFilter<'_>) -> StoreResult<Vec<PlaybackSession>> {
    let (from, to) = f.started_within.unwrap_or((i64::MIN, i64::MAX));
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM playback_sessions
         WHERE user_id = ?1 AND time_listening > 0 AND (?2 IS NULL OR item_id = ?2)
           AND started_at >= ?3 AND started_at < ?4
         ORDER BY updated_at DESC"
    ))?;
    let rows = st
        .query_map(params![f.user_id, f.item_id, from, to], row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Columns the admin session list may sort by (ABS's names), and the SQL for each.
pub fn sort_column(abs_name: &str) -> Option<&'static str> {
    Some(match abs_name {
        "displayTitle" => "display_title",
        "duration" => "duration",
        "playMethod" => "play_method",
        "startTime" => "start_time",
        "currentTime" => "position",
        "timeListening" => "time_listening",
        "updatedAt" => "updated_at",
        "createdAt" => "started_at",
        _ => return None,
    })
}

/// One page of every user's history for the admin, with each session's username.
pub fn page_all(
    conn: &Connection,
    user_id: Option<&str>,
    sort: &'static str,
    desc: bool,
    offset: i64,
    limit: i64,
) -> StoreResult<(i64, Vec<(PlaybackSession, String)>)> {
    let total: i64 = conn.query_row(
        "SELECT COUNT(*) FROM playback_sessions
         WHERE time_listening > 0 AND (?1 IS NULL OR user_id = ?1)",
        [user_id],
        |r| r.get(0),
    )?;
    let order = if desc { "DESC" } else { "ASC" };
    // The users side is reduced to two aliased columns so the session columns stay unqualified.
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLS}, owner_name FROM playback_sessions
         JOIN (SELECT id AS owner_id, username AS owner_name FROM users) ON owner_id = user_id
         WHERE time_listening > 0 AND (?1 IS NULL OR user_id = ?1)
         ORDER BY {sort} {order}, id LIMIT ?2 OFFSET ?3"
    ))?;
    let rows = st
        .query_map(params![user_id, limit, offset], |r| {
            Ok((row(r)?, r.get::<_, String>("owner_name")?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((total, rows))
}

/// Each user's most recently updated session in which something was listened to.
pub fn latest_per_user(conn: &Connection) -> StoreResult<Vec<PlaybackSession>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM (
             SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY updated_at DESC, id) AS n
             FROM playback_sessions WHERE time_listening > 0)
         WHERE n = 1"
    ))?;
    let rows = st.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Deletes sessions by id; returns the ids that existed.
pub fn delete_many(conn: &Connection, ids: &[String]) -> StoreResult<Vec<String>> {
    let mut st = conn.prepare_cached("DELETE FROM playback_sessions WHERE id = ?1")?;
    let mut deleted = Vec::new();
    for id in ids {
        if st.execute([id])? > 0 {
            deleted.push(id.clone());
        }
    }
    Ok(deleted)
}
