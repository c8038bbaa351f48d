//! Users.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{StoreResult, json_col};
use crate::model::{Permissions, User, UserType};

const COLUMNS: &str = "id, username, email, password_hash, type, is_active, is_locked, must_change_password, \
    legacy_token_id, permissions, libraries_accessible, item_tags_selected, series_hide_from_continue, \
    allowed_networks, last_seen, created_at, updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    let type_text: String = r.get(4)?;
    let perms: String = r.get(9)?;
    Ok(User {
        id: r.get(0)?,
        username: r.get(1)?,
        email: r.get(2)?,
        password_hash: r.get(3)?,
        user_type: UserType::parse(&type_text).unwrap_or(UserType::Guest),
        is_active: r.get(5)?,
        is_locked: r.get(6)?,
        must_change_password: r.get(7)?,
        legacy_token_id: r.get(8)?,
        permissions: serde_json::from_str::<Permissions>(&perms)
            .unwrap_or_else(|_| Permissions::for_type(UserType::Guest)),
        libraries_accessible: json_col(&r.get::<_, String>(10)?),
        item_tags_selected: json_col(&r.get::<_, String>(11)?),
        series_hide_from_continue: json_col(&r.get::<_, String>(12)?),
        allowed_networks: json_col(&r.get::<_, String>(13)?),
        last_seen: r.get(14)?,
        created_at: r.get(15)?,
        updated_at: r.get(16)?,
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

pub fn insert(conn: &Connection, u: &User) -> StoreResult<()> {
    conn.execute(
        &format!(
            "INSERT INTO users ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
        ),
        params![
            u.id,
            u.username,
            u.email,
            u.password_hash,
            u.user_type.as_str(),
            u.is_active,
            u.is_locked,
            u.must_change_password,
            u.legacy_token_id,
            to_json(&u.permissions),
            to_json(&u.libraries_accessible),
            to_json(&u.item_tags_selected),
            to_json(&u.series_hide_from_continue),
            to_json(&u.allowed_networks),
            u.last_seen,
            u.created_at,
            u.updated_at
        ],
    )?;
    Ok(())
}

/// Writes every mutable field of `u` back, except the series hidden from "continue listening":
/// the listener changes that list through `set_series_hidden` at any moment, and a `u` read
/// before such a change must not undo it.
pub fn update(conn: &Connection, u: &User) -> StoreResult<()> {
    conn.execute(
        "UPDATE users SET username = ?2, email = ?3, password_hash = ?4, type = ?5, is_active = ?6,
            is_locked = ?7, must_change_password = ?8, legacy_token_id = ?9, permissions = ?10,
            libraries_accessible = ?11, item_tags_selected = ?12,
            allowed_networks = ?13, last_seen = ?14, updated_at = ?15
         WHERE id = ?1",
        params![
            u.id,
            u.username,
            u.email,
            u.password_hash,
            u.user_type.as_str(),
            u.is_active,
            u.is_locked,
            u.must_change_password,
            u.legacy_token_id,
            to_json(&u.permissions),
            to_json(&u.libraries_accessible),
            to_json(&u.item_tags_selected),
            to_json(&u.allowed_networks),
            u.last_seen,
            u.updated_at
        ],
    )?;
    Ok(())
}

/// Replaces the whole list of series hidden from "continue listening" (the importer's copy).
pub fn replace_series_hidden(
    conn: &Connection,
    user_id: &str,
    series: &[String],
) -> StoreResult<()> {
    conn.execute(
        "UPDATE users SET series_hide_from_continue = ?2 WHERE id = ?1",
        params![user_id, to_json(&series)],
    )?;
    Ok(())
}

/// Adds or removes a series on the user's "hidden from continue listening" list, reading the
/// list inside the caller's transaction so a concurrent change is not lost. True if it changed.
pub fn set_series_hidden(
    conn: &Connection,
    user_id: &str,
    series_id: &str,
    hidden: bool,
) -> StoreResult<bool> {
    let Some(mut u) = by_id(conn, user_id)? else {
        return Ok(false);
    };
    let listed = u.series_hide_from_continue.iter().any(|s| s == series_id);
    if listed == hidden {
        return Ok(false);
    }
    if hidden {
        u.series_hide_from_continue.push(series_id.to_string());
    } else {
        u.series_hide_from_continue.retain(|s| s != series_id);
    }
    replace_series_hidden(conn, user_id, &u.series_hide_from_continue)?;
    Ok(true)
}

pub fn by_id(conn: &Connection, id: &str) -> StoreResult<Option<User>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

/// Case-insensitive, as ABS matches usernames.
pub fn by_username(conn: &Connection, username: &str) -> StoreResult<Option<User>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM users WHERE username = ?1 COLLATE NOCASE"
        ))?
        .query_row([username], from_row)
        .optional()?)
}

pub fn list(conn: &Connection) -> StoreResult<Vec<User>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM users ORDER BY created_at, username"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn count(conn: &Connection) -> StoreResult<i64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?)
}

pub fn delete(conn: &Connection, id: &str) -> StoreResult<bool> {
    Ok(conn.execute("DELETE FROM users WHERE id = ?1", [id])? > 0)
}

pub fn touch_last_seen(conn: &Connection, id: &str, now: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE users SET last_seen = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

pub fn has_root(conn: &Connection) -> StoreResult<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM users WHERE type = 'root')",
        [],
        |r| r.get(0),
    )?)
}
