//! Key/value settings stored as JSON.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreResult;

pub fn get(conn: &Connection, key: &str) -> StoreResult<Option<serde_json::Value>> {
    let text: Option<String> = conn
        .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

pub fn put(conn: &Connection, key: &str, value: &serde_json::Value) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO settings(key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value.to_string()],
    )?;
    Ok(())
}
