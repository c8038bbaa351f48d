//! SQL for the hash-chained audit log. The chain logic lives in `crate::audit`.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::StoreResult;
use crate::error::AppError;

/// One stored row, exactly as hashed (details as the stored JSON text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: i64,
    pub at: i64,
    pub actor_user_id: Option<String>,
    pub actor_name: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

const COLUMNS: &str =
    "seq, at, actor_user_id, actor_name, ip, user_agent, action, target, details, prev_hash, hash";

fn from_row(r: &Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        seq: r.get(0)?,
        at: r.get(1)?,
        actor_user_id: r.get(2)?,
        actor_name: r.get(3)?,
        ip: r.get(4)?,
        user_agent: r.get(5)?,
        action: r.get(6)?,
        target: r.get(7)?,
        details: r.get(8)?,
        prev_hash: r.get(9)?,
        hash: r.get(10)?,
    })
}

pub fn insert(conn: &Connection, row: &AuditRow) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO audit_events ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?
    .execute(params![
        row.seq,
        row.at,
        row.actor_user_id,
        row.actor_name,
        row.ip,
        row.user_agent,
        row.action,
        row.target,
        row.details,
        row.prev_hash,
        row.hash
    ])?;
    Ok(())
}

/// `name` is `head` or `anchor`.
pub fn chain_get(conn: &Connection, name: &str) -> StoreResult<Option<(i64, String)>> {
    Ok(conn
        .prepare_cached("SELECT seq, hash FROM audit_chain WHERE name = ?1")?
        .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

pub fn chain_put(conn: &Connection, name: &str, seq: i64, hash: &str) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO audit_chain(name, seq, hash) VALUES (?1, ?2, ?3)
         ON CONFLICT(name) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
    )?
    .execute(params![name, seq, hash])?;
    Ok(())
}

pub fn by_seq(conn: &Connection, seq: i64) -> StoreResult<Option<AuditRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM audit_events WHERE seq = ?1"
        ))?
        .query_row([seq], from_row)
        .optional()?)
}

pub fn count(conn: &Connection) -> StoreResult<i64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM audit_events", [], |r| r.get(0))?)
}

/// Calls `f` for every row in sequence order without loading the table into memory.
pub fn for_each<E: From<AppError>>(
    conn: &Connection,
    mut f: impl FnMut(AuditRow) -> Result<(), E>,
) -> Result<(), E> {
    let mut stmt = conn
        .prepare(&format!("SELECT {COLUMNS} FROM audit_events ORDER BY seq"))
        .map_err(|e| E::from(AppError::from(e)))?;
    let mut rows = stmt.query([]).map_err(|e| E::from(AppError::from(e)))?;
    while let Some(r) = rows.next().map_err(|e| E::from(AppError::from(e)))? {
        f(from_row(r).map_err(|e| E::from(AppError::from(e)))?)?;
    }
    Ok(())
}

/// The smallest seq at or after `at`, i.e. where retention must stop.
pub fn first_seq_since(conn: &Connection, at: i64) -> StoreResult<Option<i64>> {
    Ok(conn.query_row(
        "SELECT MIN(seq) FROM audit_events WHERE at >= ?1",
        [at],
        |r| r.get(0),
    )?)
}

pub fn delete_through(conn: &Connection, seq: i64) -> StoreResult<usize> {
    Ok(conn.execute("DELETE FROM audit_events WHERE seq <= ?1", [seq])?)
}

/// Query filters; every field is optional and they combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuditFilter {
    /// Exact action, or a prefix ending in `*` (`login.*`).
    pub action: Option<String>,
    /// A user id or a user name (case-insensitive).
    pub actor: Option<String>,
    pub target: Option<String>,
    /// Inclusive, epoch ms.
    pub since: Option<i64>,
    /// Exclusive, epoch ms.
    pub until: Option<i64>,
}

const WHERE: &str =
    "WHERE (?1 IS NULL OR action = ?1 OR (?2 IS NOT NULL AND substr(action, 1, length(?2)) = ?2))
      AND (?3 IS NULL OR actor_user_id = ?3 OR actor_name = ?3 COLLATE NOCASE)
      AND (?4 IS NULL OR target = ?4)
      AND (?5 IS NULL OR at >= ?5)
      AND (?6 IS NULL OR at < ?6)";

fn prefix(f: &AuditFilter) -> Option<String> {
    f.action
        .as_deref()
        .and_then(|a| a.strip_suffix('*'))
        .map(str::to_string)
}

/// Total matching rows and one page of them, newest first.
pub fn query(
    conn: &Connection,
    f: &AuditFilter,
    offset: i64,
    limit: i64,
) -> StoreResult<(i64, Vec<AuditRow>)> {
    let pre = prefix(f);
    let args = params![f.action, pre, f.actor, f.target, f.since, f.until];
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM audit_events {WHERE}"),
        args,
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM audit_events {WHERE} ORDER BY seq DESC LIMIT ?7 OFFSET ?8"
    ))?;
    let rows = stmt
        .query_map(
            params![
                f.action, pre, f.actor, f.target, f.since, f.until, limit, offset
            ],
            from_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((total, rows))
}

/// Calls `f` for every matching row, oldest first (for export).
pub fn for_each_matching<E: From<AppError>>(
    conn: &Connection,
    filter: &AuditFilter,
    mut f: impl FnMut(AuditRow) -> Result<(), E>,
) -> Result<(), E> {
    let pre = prefix(filter);
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {COLUMNS} FROM audit_events {WHERE} ORDER BY seq"
        ))
        .map_err(|e| E::from(AppError::from(e)))?;
    let mut rows = stmt
        .query(params![
            filter.action,
            pre,
            filter.actor,
            filter.target,
            filter.since,
            filter.until
        ])
        .map_err(|e| E::from(AppError::from(e)))?;
    while let Some(r) = rows.next().map_err(|e| E::from(AppError::from(e)))? {
        f(from_row(r).map_err(|e| E::from(AppError::from(e)))?)?;
    }
    Ok(())
}
