//! SQL for API keys. Only the SHA-256 of a key's token is stored.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub user_id: String,
    pub created_by_user_id: Option<String>,
    pub key_hash: String,
    /// JSON array of scope names.
    pub scopes: String,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    pub is_active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, name, description, user_id, created_by_user_id, key_hash, scopes, expires_at, \
    last_used_at, last_used_ip, is_active, created_at, updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ApiKeyRow> {
    Ok(ApiKeyRow {
        id: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        user_id: r.get(3)?,
        created_by_user_id: r.get(4)?,
        key_hash: r.get(5)?,
        scopes: r.get(6)?,
        expires_at: r.get(7)?,
        last_used_at: r.get(8)?,
        last_used_ip: r.get(9)?,
        is_active: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

pub fn insert(conn: &Connection, k: &ApiKeyRow) -> StoreResult<()> {
    conn.execute(
        &format!(
            "INSERT INTO api_keys ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        ),
        params![
            k.id,
            k.name,
            k.description,
            k.user_id,
            k.created_by_user_id,
            k.key_hash,
            k.scopes,
            k.expires_at,
            k.last_used_at,
            k.last_used_ip,
            k.is_active,
            k.created_at,
            k.updated_at
        ],
    )?;
    Ok(())
}

pub fn by_id(conn: &Connection, id: &str) -> StoreResult<Option<ApiKeyRow>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

/// The key with this token hash, with whether its user is active.
pub fn by_hash_with_user(
    conn: &Connection,
    key_hash: &str,
) -> StoreResult<Option<(ApiKeyRow, bool)>> {
    let cols = COLUMNS
        .split(", ")
        .map(|c| format!("k.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {cols}, u.is_active FROM api_keys k JOIN users u ON u.id = k.user_id \
             WHERE k.key_hash = ?1"
        ))?
        .query_row([key_hash], |r| Ok((from_row(r)?, r.get::<_, bool>(13)?)))
        .optional()?)
}

/// Every key, or one user's, newest first.
pub fn list(conn: &Connection, user_id: Option<&str>) -> StoreResult<Vec<ApiKeyRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE (?1 IS NULL OR user_id = ?1) ORDER BY created_at DESC, id"
    ))?;
    let rows = stmt
        .query_map([user_id], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn set_active(conn: &Connection, id: &str, active: bool, now_ms: i64) -> StoreResult<bool> {
    Ok(conn.execute(
        "UPDATE api_keys SET is_active = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, active, now_ms],
    )? > 0)
}

pub fn touch(conn: &Connection, id: &str, ip: Option<&str>, now_ms: i64) -> StoreResult<()> {
    conn.prepare_cached("UPDATE api_keys SET last_used_at = ?2, last_used_ip = ?3 WHERE id = ?1")?
        .execute(params![id, now_ms, ip])?;
    Ok(())
}

pub fn delete(conn: &Connection, id: &str) -> StoreResult<bool> {
    Ok(conn.execute("DELETE FROM api_keys WHERE id = ?1", [id])? > 0)
}

pub fn deactivate_expired(conn: &Connection, now_ms: i64) -> StoreResult<usize> {
    Ok(conn.execute(
        "UPDATE api_keys SET is_active = 0, updated_at = ?1
         WHERE is_active = 1 AND expires_at IS NOT NULL AND expires_at <= ?1",
        [now_ms],
    )?)
}

pub fn deactivate_for_user(conn: &Connection, user_id: &str, now_ms: i64) -> StoreResult<usize> {
    Ok(conn.execute(
        "UPDATE api_keys SET is_active = 0, updated_at = ?2 WHERE user_id = ?1 AND is_active = 1",
        params![user_id, now_ms],
    )?)
}

pub fn user_exists(conn: &Connection, user_id: &str) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM users WHERE id = ?1")?
        .query_row([user_id], |_| Ok(()))
        .optional()?
        .is_some())
}
