//! Listening progress and bookmarks.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::StoreResult;
use crate::model::{Bookmark, MediaProgress};

const COLUMNS: &str = "p.id, p.user_id, p.item_id, p.episode_id, i.book_id, p.duration, p.position, p.progress, \
    p.is_finished, p.hide_from_continue, p.ebook_location, p.ebook_progress, p.finished_at, p.started_at, p.last_update";

fn from_row(r: &Row<'_>) -> rusqlite::Result<MediaProgress> {
    Ok(MediaProgress {
        id: r.get(0)?,
        user_id: r.get(1)?,
        item_id: r.get(2)?,
        episode_id: r.get(3)?,
        media_item_id: r.get(4)?,
        duration: r.get(5)?,
        current_time: r.get(6)?,
        progress: r.get(7)?,
        is_finished: r.get(8)?,
        hide_from_continue: r.get(9)?,
        ebook_location: r.get(10)?,
        ebook_progress: r.get(11)?,
        finished_at: r.get(12)?,
        started_at: r.get(13)?,
        last_update: r.get(14)?,
    })
}

/// Everything a user's JSON carries of their listening: every progress row and bookmark.
pub fn listening_of(
    conn: &Connection,
    user_id: &str,
) -> StoreResult<(Vec<MediaProgress>, Vec<Bookmark>)> {
    Ok((
        list_for_user(conn, user_id)?,
        bookmarks_for_user(conn, user_id)?,
    ))
}

pub fn list_for_user(conn: &Connection, user_id: &str) -> StoreResult<Vec<MediaProgress>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM media_progress p JOIN items i ON i.id = p.item_id
         WHERE p.user_id = ?1 ORDER BY p.last_update DESC"
    ))?;
    let rows = stmt.query_map([user_id], from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn get(
    conn: &Connection,
    user_id: &str,
    item_id: &str,
    episode_id: &str,
) -> StoreResult<Option<MediaProgress>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM media_progress p JOIN items i ON i.id = p.item_id
             WHERE p.user_id = ?1 AND p.item_id = ?2 AND p.episode_id = ?3"
        ))?
        .query_row(params![user_id, item_id, episode_id], from_row)
        .optional()?)
}

pub fn by_id(conn: &Connection, id: &str) -> StoreResult<Option<MediaProgress>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM media_progress p JOIN items i ON i.id = p.item_id WHERE p.id = ?1"
        ))?
        .query_row([id], from_row)
        .optional()?)
}

/// Inserts or replaces the one row for (user, item, episode).
pub fn upsert(conn: &Connection, p: &MediaProgress) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO media_progress (id, user_id, item_id, episode_id, duration, position, progress,
             is_finished, hide_from_continue, ebook_location, ebook_progress, finished_at, started_at, last_update)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
         ON CONFLICT (user_id, item_id, episode_id) DO UPDATE SET
             duration = excluded.duration, position = excluded.position, progress = excluded.progress,
             is_finished = excluded.is_finished, hide_from_continue = excluded.hide_from_continue,
             ebook_location = excluded.ebook_location, ebook_progress = excluded.ebook_progress,
             finished_at = excluded.finished_at, last_update = excluded.last_update",
    )?
    .execute(params![
        p.id,
        p.user_id,
        p.item_id,
        p.episode_id,
        p.duration,
        p.current_time,
        p.progress,
        p.is_finished,
        p.hide_from_continue,
        p.ebook_location,
        p.ebook_progress,
        p.finished_at,
        p.started_at,
        p.last_update
    ])?;
    Ok(())
}

/// A user's book progress finished within `[from, to)` (ms), for the year in review.
pub fn finished_between(
    conn: &Connection,
    user_id: &str,
    from: i64,
    to: i64,
) -> StoreResult<Vec<MediaProgress>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM media_progress p JOIN items i ON i.id = p.item_id
         WHERE p.user_id = ?1 AND p.episode_id = '' AND p.is_finished = 1
           AND p.finished_at >= ?2 AND p.finished_at < ?3
         ORDER BY p.finished_at"
    ))?;
    let rows = stmt.query_map(params![user_id, from, to], from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Hides one of the user's rows from "continue listening"; false if it is not theirs.
pub fn hide_from_continue(conn: &Connection, user_id: &str, id: &str) -> StoreResult<bool> {
    // SQLite counts a matched row as changed even when it was already hidden.
    Ok(conn.execute(
        "UPDATE media_progress SET hide_from_continue = 1 WHERE id = ?1 AND user_id = ?2",
        params![id, user_id],
    )? > 0)
}

pub fn delete(conn: &Connection, id: &str) -> StoreResult<bool> {
    Ok(conn.execute("DELETE FROM media_progress WHERE id = ?1", [id])? > 0)
}

pub fn bookmarks_for_user(conn: &Connection, user_id: &str) -> StoreResult<Vec<Bookmark>> {
    let mut stmt = conn.prepare_cached(
        "SELECT item_id, title, time, created_at FROM bookmarks WHERE user_id = ?1 ORDER BY item_id, time",
    )?;
    let rows = stmt.query_map([user_id], |r| {
        Ok(Bookmark {
            item_id: r.get(0)?,
            title: r.get(1)?,
            time: r.get(2)?,
            created_at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Adds a bookmark; one at the same time on the same item gets the new title (ABS's rule).
pub fn put_bookmark(conn: &Connection, user_id: &str, b: &Bookmark) -> StoreResult<Bookmark> {
    conn.execute(
        "INSERT INTO bookmarks (user_id, item_id, time, title, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (user_id, item_id, time) DO UPDATE SET title = excluded.title",
        params![user_id, b.item_id, b.time, b.title, b.created_at],
    )?;
    Ok(conn.query_row(
        "SELECT item_id, title, time, created_at FROM bookmarks WHERE user_id = ?1 AND item_id = ?2 AND time = ?3",
        params![user_id, b.item_id, b.time],
        |r| {
            Ok(Bookmark {
                item_id: r.get(0)?,
                title: r.get(1)?,
                time: r.get(2)?,
                created_at: r.get(3)?,
            })
        },
    )?)
}

pub fn update_bookmark_title(
    conn: &Connection,
    user_id: &str,
    item_id: &str,
    time: f64,
    title: &str,
) -> StoreResult<bool> {
    Ok(conn.execute(
        "UPDATE bookmarks SET title = ?4 WHERE user_id = ?1 AND item_id = ?2 AND time = ?3",
        params![user_id, item_id, time, title],
    )? > 0)
}

pub fn delete_bookmark(
    conn: &Connection,
    user_id: &str,
    item_id: &str,
    time: f64,
) -> StoreResult<bool> {
    Ok(conn.execute(
        "DELETE FROM bookmarks WHERE user_id = ?1 AND item_id = ?2 AND time = ?3",
        params![user_id, item_id, time],
    )? > 0)
}
