//! Change detection for the in-memory caches (the catalog, authentication, `/api/me`).
//!
//! Triggers bump counters on every change whoever makes it (migrations 0002 and 0005). Reading
//! them on every request would cost a trip to the blocking pool, so a dedicated connection asks
//! SQLite's `PRAGMA data_version` first: it changes only when another connection has committed,
//! and while it stands still the counters read last are still the truth. The check runs inline on
//! the caller's thread: it touches only the WAL index in shared memory, and the counters are a
//! handful of rows, far cheaper than a hop to another thread.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::Connection;

use super::StoreResult;
use crate::error::AppError;

/// The counters as last committed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Versions {
    /// Users, refresh sessions, TOTP enrolment: what authenticating a request reads.
    pub auth: i64,
    /// Progress and bookmarks.
    pub listening: i64,
    /// Library id → `catalog_version`; a library missing here does not exist.
    pub catalogs: HashMap<String, i64>,
}

impl Versions {
    pub fn catalog(&self, library_id: &str) -> Option<i64> {
        self.catalogs.get(library_id).copied()
    }
}

pub(super) struct Watch {
    conn: Connection,
    /// `None` until the first read, so the first call always loads the counters.
    data_version: Option<i64>,
    current: Arc<Versions>,
}

impl Watch {
    pub(super) fn new(conn: Connection) -> Watch {
        Watch {
            conn,
            data_version: None,
            current: Arc::new(Versions::default()),
        }
    }

    pub(super) fn current(&mut self) -> StoreResult<Arc<Versions>> {
        let seen: i64 = self
            .conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        if self.data_version != Some(seen) {
            // Read before recording `seen`: a commit racing this read shows up as a new
            // data_version on the next call, so nothing is ever recorded as current too early.
            self.current = Arc::new(load(&self.conn)?);
            self.data_version = Some(seen);
        }
        Ok(self.current.clone())
    }
}

fn load(conn: &Connection) -> StoreResult<Versions> {
    // One read transaction, so the counters are from one moment.
    let tx = conn.unchecked_transaction()?;
    let mut versions = Versions::default();
    let (mut auth, mut listening) = (None, None);
    {
        let mut stmt = tx.prepare_cached("SELECT name, version FROM cache_versions")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (name, version) = row?;
            match name.as_str() {
                "auth" => auth = Some(version),
                "listening" => listening = Some(version),
                _ => {}
            }
        }
        let mut stmt = tx.prepare_cached("SELECT id, catalog_version FROM libraries")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (id, version) = row?;
            versions.catalogs.insert(id, version);
        }
    }
    tx.finish()?;
    // Without its row a counter would read 0 for ever and every cache would stay "current".
    let (Some(auth), Some(listening)) = (auth, listening) else {
        return Err(AppError::internal(
            "the cache_versions rows are missing; restore the database from a backup",
        ));
    };
    versions.auth = auth;
    versions.listening = listening;
    Ok(versions)
}
