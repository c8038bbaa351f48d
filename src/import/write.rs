//! Shared by the writing steps. Every row is written by id, and its stored form compared before and
//! after, so a repeated import reports exactly what it changed (nothing, when ABS did not change).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use rusqlite::{Connection, params_from_iter};

use super::abs_db::AbsData;
use super::backup::Backup;
use super::map::PathMap;
use super::report::Outcome;
use crate::error::AppError;
use crate::store::StoreResult;

pub struct Ctx<'a> {
    pub data: &'a AbsData,
    pub map: &'a PathMap,
    pub covers_dir: PathBuf,
    /// For the edited-metadata records (`library::edits`).
    pub data_dir: PathBuf,
    pub backup: Option<&'a Backup>,
    /// False in a dry run: cover files are compared but not written.
    pub write_files: bool,
}

/// What later steps need to know about what was imported.
#[derive(Default)]
pub struct Imported {
    pub users: HashSet<String>,
    pub libraries: HashSet<String>,
    pub items: HashSet<String>,
    /// ABS book id → item id.
    pub book_to_item: HashMap<String, String>,
    pub item_titles: HashMap<String, String>,
}

/// Every column of every row the queries return, in order; None when the first query finds nothing.
pub fn digest(conn: &Connection, queries: &[&str], args: &[&str]) -> StoreResult<Option<String>> {
    let mut out = String::new();
    let mut found = false;
    for (qi, q) in queries.iter().enumerate() {
        let mut st = conn.prepare_cached(q)?;
        let n = st.column_count();
        let mut rows = st.query(params_from_iter(args.iter()))?;
        while let Some(row) = rows.next()? {
            found |= qi == 0;
            for i in 0..n {
                let _ = write!(out, "{:?}\u{1f}", row.get_ref(i)?);
            }
            out.push('\u{1e}');
        }
    }
    Ok(found.then_some(out))
}

/// Starts one row's write: its stored form before, and a savepoint to undo an identical rewrite.
pub fn begin_row(
    conn: &Connection,
    queries: &[&str],
    args: &[&str],
) -> StoreResult<Option<String>> {
    let before = digest(conn, queries, args)?;
    conn.execute_batch("SAVEPOINT import_row")?;
    Ok(before)
}

/// Ends one row's write. A rewrite that changed nothing is rolled back, so that triggers (such as
/// the catalogue version) do not fire and a repeated import leaves the database as it was.
pub fn end_row(
    conn: &Connection,
    queries: &[&str],
    args: &[&str],
    before: Option<String>,
) -> StoreResult<Outcome> {
    let after = digest(conn, queries, args)?;
    let result = outcome(&before, &after);
    if result == Outcome::Unchanged {
        conn.execute_batch("ROLLBACK TO import_row")?;
    }
    conn.execute_batch("RELEASE import_row")?;
    Ok(result)
}

fn outcome(before: &Option<String>, after: &Option<String>) -> Outcome {
    match before {
        None => Outcome::New,
        Some(b) if Some(b) == after.as_ref() => Outcome::Unchanged,
        Some(_) => Outcome::Changed,
    }
}

pub fn to_json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(AppError::internal)
}
