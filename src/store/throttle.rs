//! Persisted credential-throttle state: one JSON blob per key (`ip:…` or `acct:…`).

use rusqlite::{Connection, params};

use super::StoreResult;

/// Every stored row as (key, state JSON).
pub fn load_all(conn: &Connection) -> StoreResult<Vec<(String, String)>> {
    let mut stmt = conn.prepare("SELECT key, state FROM throttle_state")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn put(conn: &Connection, key: &str, state: &str, now_ms: i64) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO throttle_state(key, state, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
    )?
    .execute(params![key, state, now_ms])?;
    Ok(())
}

pub fn delete(conn: &Connection, key: &str) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM throttle_state WHERE key = ?1")?
        .execute([key])?;
    Ok(())
}
