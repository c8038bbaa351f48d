//! Every SQL statement lives below this module. Handlers and the domain call typed functions here,
//! so a second backend (PostgreSQL) can be added behind the same functions without touching them.
//!
//! SQLite runs in WAL mode: one writer connection (SQLite allows one writer anyway) and a pool of
//! reader connections. rusqlite is synchronous, so async callers go through `spawn_blocking`.

pub mod api_keys;
pub mod audit;
pub mod auth_sessions;
pub mod items;
pub mod libraries;
pub mod lists;
pub mod playback;
pub mod progress;
pub mod scan_issues;
pub mod settings;
pub mod throttle;
pub mod two_factor;
pub mod users;
pub mod versions;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};

use crate::error::AppError;

/// Migrations compiled into the binary, applied in order; the index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_catalog_version.sql"),
    include_str!("migrations/0003_collections.sql"),
    include_str!("migrations/0004_two_factor.sql"),
    include_str!("migrations/0005_cache_versions.sql"),
];

/// The newest schema version this binary knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Readers kept open for reuse; more are opened on demand under load and closed afterwards.
const IDLE_READERS: usize = 8;

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    watch: Mutex<versions::Watch>,
}

pub type StoreResult<T> = Result<T, AppError>;

impl Store {
    /// Opens (creating if needed) the database and applies pending migrations.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        let mut writer = open_connection(path, false)?;
        migrate(&mut writer)?;
        let watch_conn = open_connection(path, true)?;
        // The watch runs on async workers: better a quick error than a stalled runtime if the
        // database is ever locked (another process recovering the WAL after a crash).
        watch_conn.busy_timeout(std::time::Duration::from_millis(50))?;
        let watch = versions::Watch::new(watch_conn);
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                watch: Mutex::new(watch),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The cache counters as last committed by anyone (see `versions`). Runs inline: it costs a
    /// few microseconds unless something changed.
    pub fn versions(&self) -> StoreResult<Arc<versions::Versions>> {
        // `Watch::current` records what it has seen last, so a panic mid-way leaves it consistent.
        self.inner
            .watch
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .current()
    }

    /// Runs `f` on a reader connection on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_blocking(f))
            .await
            .map_err(|e| AppError::internal(format!("store task failed: {e}")))?
    }

    /// Runs `f` inside an IMMEDIATE transaction on the writer connection; commits when `f` returns Ok.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.write_blocking(f))
            .await
            .map_err(|e| AppError::internal(format!("store task failed: {e}")))?
    }

    pub fn read_blocking<T>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let conn = {
            let mut idle = self.inner.readers.lock().map_err(|_| poisoned())?;
            idle.pop()
        };
        let conn = match conn {
            Some(c) => c,
            None => open_connection(&self.inner.path, true).map_err(AppError::internal)?,
        };
        let result = f(&conn);
        let mut idle = self.inner.readers.lock().map_err(|_| poisoned())?;
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    pub fn write_blocking<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut conn = self.inner.writer.lock().map_err(|_| poisoned())?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Writes a consistent copy of the live database to `dest` (used by backups and tests).
    pub fn snapshot_to(&self, dest: &Path) -> StoreResult<()> {
        let conn = self.inner.writer.lock().map_err(|_| poisoned())?;
        let target = dest.to_string_lossy().to_string();
        conn.execute("VACUUM INTO ?1", [target])?;
        Ok(())
    }
}

fn poisoned() -> AppError {
    AppError::internal("database connection lock poisoned")
}

fn open_connection(path: &Path, read_only: bool) -> anyhow::Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // WAL + NORMAL: a committed transaction survives a killed process (it is in the WAL in the OS
    // cache); only an OS crash or power loss can lose the last moments.
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = NORMAL;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -8000;",
    )?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")?;
    }
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        anyhow::bail!(
            "the database has schema version {current}, newer than this binary knows ({SCHEMA_VERSION}); \
             run a newer shelfwarden or restore a backup made by this version"
        );
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// The SQLite library version linked into this binary.
pub fn sqlite_version() -> &'static str {
    rusqlite::version()
}

/// Converts a JSON text column into a value, treating bad JSON as empty (never panics on old rows).
pub fn json_col<T: serde::de::DeserializeOwned + Default>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_default()
}

/// A trivial query, for health checks.
pub fn ping(conn: &Connection) -> StoreResult<()> {
    conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?;
    Ok(())
}
