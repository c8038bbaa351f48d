//! Refresh-token sessions. Only SHA-256 hashes of refresh tokens are stored.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::StoreResult;

#[derive(Debug, Clone)]
pub struct AuthSession {
    pub id: String,
    pub user_id: String,
    pub refresh_hash: String,
    pub last_refresh_hash: Option<String>,
    pub last_refresh_expires_at: Option<i64>,
    pub expires_at: i64,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, user_id, refresh_hash, last_refresh_hash, last_refresh_expires_at, expires_at, \
    ip_address, user_agent, created_at, updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<AuthSession> {
    Ok(AuthSession {
        id: r.get(0)?,
        user_id: r.get(1)?,
        refresh_hash: r.get(2)?,
        last_refresh_hash: r.get(3)?,
        last_refresh_expires_at: r.get(4)?,
        expires_at: r.get(5)?,
        ip_address: r.get(6)?,
        user_agent: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

pub fn insert(conn: &Connection, s: &AuthSession) -> StoreResult<()> {
    conn.execute(
        &format!(
            "INSERT INTO auth_sessions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ),
        params![
            s.id,
            s.user_id,
            s.refresh_hash,
            s.last_refresh_hash,
            s.last_refresh_expires_at,
            s.expires_at,
            s.ip_address,
            s.user_agent,
            s.created_at,
            s.updated_at
        ],
    )?;
    Ok(())
}

pub fn by_id(conn: &Connection, id: &str) -> StoreResult<Option<AuthSession>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM auth_sessions WHERE id = ?1"
        ))?
        .query_row([id], from_row)
        .optional()?)
}

/// The session whose current or previous refresh token has this hash.
pub fn by_refresh_hash(conn: &Connection, hash: &str) -> StoreResult<Option<AuthSession>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM auth_sessions WHERE refresh_hash = ?1 OR last_refresh_hash = ?1"
        ))?
        .query_row([hash], from_row)
        .optional()?)
}

/// The session that once used this (now retired) refresh token.
pub fn session_of_retired(conn: &Connection, hash: &str) -> StoreResult<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT session_id FROM auth_retired_refresh WHERE hash = ?1",
            [hash],
            |r| r.get(0),
        )
        .optional()?)
}

/// Compare-and-set rotation: succeeds only if the session still has `old_hash` as its current token.
pub fn rotate(
    conn: &Connection,
    id: &str,
    old_hash: &str,
    new_hash: &str,
    grace_until: i64,
    expires_at: i64,
    now: i64,
) -> StoreResult<bool> {
    // The token falling out of the grace slot is retired for good, so a later replay is detected.
    conn.execute(
        "INSERT OR IGNORE INTO auth_retired_refresh (hash, session_id, retired_at)
         SELECT last_refresh_hash, id, ?3 FROM auth_sessions
         WHERE id = ?1 AND refresh_hash = ?2 AND last_refresh_hash IS NOT NULL",
        params![id, old_hash, now],
    )?;
    let changed = conn.execute(
        "UPDATE auth_sessions SET last_refresh_hash = refresh_hash, last_refresh_expires_at = ?4,
             refresh_hash = ?3, expires_at = ?5, updated_at = ?6
         WHERE id = ?1 AND refresh_hash = ?2",
        params![id, old_hash, new_hash, grace_until, expires_at, now],
    )?;
    Ok(changed == 1)
}

pub fn delete(conn: &Connection, id: &str) -> StoreResult<bool> {
    Ok(conn.execute("DELETE FROM auth_sessions WHERE id = ?1", [id])? > 0)
}

pub fn delete_for_user(conn: &Connection, user_id: &str) -> StoreResult<usize> {
    Ok(conn.execute("DELETE FROM auth_sessions WHERE user_id = ?1", [user_id])?)
}

pub fn delete_for_user_except(conn: &Connection, user_id: &str, keep: &str) -> StoreResult<usize> {
    Ok(conn.execute(
        "DELETE FROM auth_sessions WHERE user_id = ?1 AND id <> ?2",
        params![user_id, keep],
    )?)
}

pub fn list_for_user(conn: &Connection, user_id: &str) -> StoreResult<Vec<AuthSession>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM auth_sessions WHERE user_id = ?1 ORDER BY updated_at DESC"
    ))?;
    let rows = stmt.query_map([user_id], from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn exists(conn: &Connection, id: &str, now: i64) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM auth_sessions WHERE id = ?1 AND expires_at > ?2")?
        .query_row(params![id, now], |_| Ok(()))
        .optional()?
        .is_some())
}

pub fn purge_expired(conn: &Connection, now: i64) -> StoreResult<usize> {
    Ok(conn.execute("DELETE FROM auth_sessions WHERE expires_at <= ?1", [now])?)
}
