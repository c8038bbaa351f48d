//! The outcome of the last backup runs, kept in the `settings` table so health checks and the
//! admin UI can show a failing backup instead of it failing silently for months.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::store::{StoreResult, settings};

pub const STATUS_KEY: &str = "backup_status";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct BackupStatus {
    pub last_success_ms: Option<i64>,
    pub last_success_file: Option<String>,
    pub last_success_bytes: Option<u64>,
    pub last_failure_ms: Option<i64>,
    pub last_error: Option<String>,
    /// Off-site destinations that failed on the last run, with their errors.
    pub offsite_errors: Vec<String>,
    /// Every backup Shelfwarden writes is age-encrypted; recorded so health checks need not assume.
    pub encrypted: bool,
    /// The last time every configured off-site copy succeeded (None: never copied off-site).
    pub last_offsite_ms: Option<i64>,
}

/// What `/status` and the admin UI show.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BackupHealth {
    /// `ok`, `failing` (the last run failed, or an off-site copy did), or `never`.
    pub state: &'static str,
    #[serde(flatten)]
    pub status: BackupStatus,
}

pub fn load(conn: &Connection) -> StoreResult<BackupStatus> {
    Ok(settings::get(conn, STATUS_KEY)?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default())
}

pub fn health(conn: &Connection) -> StoreResult<BackupHealth> {
    let status = load(conn)?;
    let failed_last = match (status.last_failure_ms, status.last_success_ms) {
        (Some(f), Some(s)) => f >= s,
        (Some(_), None) => true,
        _ => false,
    };
    let state = if failed_last || !status.offsite_errors.is_empty() {
        "failing"
    } else if status.last_success_ms.is_some() {
        "ok"
    } else {
        "never"
    };
    Ok(BackupHealth { state, status })
}

pub fn record_success(
    conn: &Connection,
    now_ms: i64,
    file: &str,
    bytes: u64,
    offsite_errors: Vec<String>,
    offsite_copies: usize,
) -> StoreResult<()> {
    let mut s = load(conn)?;
    s.encrypted = true;
    if offsite_copies > 0 && offsite_errors.is_empty() {
        s.last_offsite_ms = Some(now_ms);
    }
    s.last_success_ms = Some(now_ms);
    s.last_success_file = Some(file.to_string());
    s.last_success_bytes = Some(bytes);
    s.offsite_errors = offsite_errors;
    put(conn, &s)
}

pub fn record_failure(conn: &Connection, now_ms: i64, error: &str) -> StoreResult<()> {
    let mut s = load(conn)?;
    s.last_failure_ms = Some(now_ms);
    s.last_error = Some(error.to_string());
    put(conn, &s)
}

fn put(conn: &Connection, s: &BackupStatus) -> StoreResult<()> {
    let value = serde_json::to_value(s)
        .map_err(|e| crate::error::AppError::internal(format!("backup status: {e}")))?;
    settings::put(conn, STATUS_KEY, &value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_follows_the_last_outcome() {
        let conn = Connection::open_in_memory().expect("db");
        conn.execute_batch("CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            .expect("table");
        assert_eq!(health(&conn).expect("h").state, "never");
        record_failure(&conn, 10, "disk full").expect("rec");
        assert_eq!(health(&conn).expect("h").state, "failing");
        record_success(&conn, 20, "a.swbak", 5, vec![], 0).expect("rec");
        let h = health(&conn).expect("h");
        assert_eq!(h.state, "ok");
        assert_eq!(h.status.last_error.as_deref(), Some("disk full"));
        record_success(&conn, 30, "b.swbak", 5, vec!["s3: denied".into()], 1).expect("rec");
        assert_eq!(health(&conn).expect("h").state, "failing");
    }
}
