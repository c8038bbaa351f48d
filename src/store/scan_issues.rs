//! The library's issue list: files a scan could not use, with the reason.

use rusqlite::{Connection, params};

use crate::library::model::ScanIssue;
use crate::store::StoreResult;

/// Forgets the issues at or under `path` (a re-scanned item folder or file).
pub fn clear_issues_under(conn: &Connection, library_id: &str, path: &str) -> StoreResult<()> {
    conn.prepare_cached(
        "DELETE FROM scan_issues WHERE library_id = ?1 AND (path = ?2 OR substr(path, 1, length(?2) + 1) = ?2 || '/')",
    )?
    .execute(params![library_id, path])?;
    Ok(())
}

pub fn add_issue(conn: &Connection, issue: &ScanIssue) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO scan_issues (library_id, path, reason, found_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(library_id, path) DO UPDATE SET reason = excluded.reason, found_at = excluded.found_at",
    )?
    .execute(params![issue.library_id, issue.path, issue.reason, issue.found_at])?;
    Ok(())
}

/// Drops issues for paths that no longer exist on disk.
pub fn retain_issues(
    conn: &Connection,
    library_id: &str,
    exists: &dyn Fn(&str) -> bool,
) -> StoreResult<()> {
    for issue in list_issues(conn, library_id)? {
        if !exists(&issue.path) {
            conn.execute(
                "DELETE FROM scan_issues WHERE library_id = ?1 AND path = ?2",
                params![library_id, issue.path],
            )?;
        }
    }
    Ok(())
}

pub fn list_issues(conn: &Connection, library_id: &str) -> StoreResult<Vec<ScanIssue>> {
    let mut st = conn.prepare_cached(
        "SELECT library_id, path, reason, found_at FROM scan_issues WHERE library_id = ?1 ORDER BY path",
    )?;
    let rows = st.query_map([library_id], |r| {
        Ok(ScanIssue {
            library_id: r.get(0)?,
            path: r.get(1)?,
            reason: r.get(2)?,
            found_at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
