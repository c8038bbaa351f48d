//! `shelfwarden import-abs`: moves an Audiobookshelf install over in one transaction, keeping
//! ABS's ids so the apps' cached ids, downloads and offline progress keep matching.
//!
//! The ABS database is never written: a private copy is read (`source`), a backup is validated
//! before anything is unpacked (`backup`). Everything is read first (`abs_db`), then written in one
//! transaction (`accounts`, `catalogue`, `activity`, `history`, `lists`) with one audit event. A dry run writes the same rows into a
//! throw-away copy of the data folder's database, so its report is what a real run would do.
//!
//! Passwords: ABS's bcrypt hashes are kept and verified at first login, where the login path
//! rehashes them to Argon2id. Their strength cannot be judged without the plaintext, so every
//! imported user with a password gets `must_change_password`; the login path checks the policy on
//! the plaintext at first login and clears or keeps the flag.

mod abs_db;
mod accounts;
mod activity;
mod backup;
mod catalogue;
mod history;
mod item;
mod left_behind;
mod lists;
mod map;
pub mod report;
mod source;
mod write;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::audit::{self, Action, AuditEvent};
use crate::error::AppError;
use crate::server::{self, DB_FILE_NAME};
use crate::store::Store;
pub use map::PathMap;
pub use report::Report;

#[derive(Debug, Clone)]
pub struct Options {
    pub data: PathBuf,
    pub from: PathBuf,
    pub path_map: Vec<String>,
    pub dry_run: bool,
}

pub fn run(opts: &Options, now_ms: i64) -> anyhow::Result<Report> {
    let map = PathMap::parse(&opts.path_map)?;
    let source = source::open(&opts.from)?;
    let data = abs_db::AbsDb::open(&source.db_path)
        .and_then(|db| db.load())
        .with_context(|| format!("refusing {}", source.description))?;
    let mut report = Report {
        source: source.description.clone(),
        abs_version: data.version.clone(),
        dry_run: opts.dry_run,
        warnings: source.warnings.clone(),
        ..Report::default()
    };
    if !abs_db::version_supported(&data.version) {
        report.warnings.push(format!(
            "ABS {} is outside the versions this importer was written for (2.19 to 2.36); check the result",
            data.version
        ));
    }
    let data_dir = std::path::absolute(&opts.data).context("bad --data folder")?;
    let ctx = write::Ctx {
        data: &data,
        map: &map,
        covers_dir: data_dir.join("covers"),
        data_dir: data_dir.to_path_buf(),
        backup: source.backup.as_ref(),
        write_files: !opts.dry_run,
    };
    // Holds the scratch copy of a dry run until the transaction is done.
    let mut _scratch = None;
    let store = if opts.dry_run {
        let (store, dir) = scratch_store(&data_dir)?;
        _scratch = Some(dir);
        store
    } else {
        server::open_store(&data_dir)?
    };
    let dry_run = opts.dry_run;
    store
        .write_blocking(|tx| {
            let mut out = write::Imported::default();
            accounts::users(tx, &ctx, &mut report, &mut out)?;
            let folders = catalogue::libraries(tx, &ctx, &mut report, &mut out)?;
            catalogue::catalogue(tx, &ctx, &mut report, &mut out, &folders)?;
            activity::media_progress(tx, &ctx, &mut report, &out)?;
            activity::bookmarks(tx, &ctx, &mut report, &out)?;
            let devices = history::devices(tx, &ctx, &mut report, &out)?;
            history::sessions(tx, &ctx, &mut report, &out, &devices)?;
            lists::lists(tx, &ctx, &mut report, &out)?;
            left_behind::left_behind(&ctx, &mut report);
            if !dry_run {
                let event = AuditEvent::new(Action::Other("import.abs".into()))
                    .actor_name("cli")
                    .target(report.source.clone())
                    .details(report.audit_details());
                audit::append(tx, &event, now_ms)?;
            }
            Ok::<_, AppError>(())
        })
        .map_err(|e| anyhow::anyhow!("import failed, nothing was written: {e}"))?;
    Ok(report)
}

/// A dry run imports into a copy (or a new, empty database) in a temporary folder, never touching
/// the data folder, which may not even exist.
fn scratch_store(data_dir: &Path) -> anyhow::Result<(Store, tempfile::TempDir)> {
    let dir = tempfile::Builder::new()
        .prefix("shelfwarden-dry-run-")
        .tempdir()?;
    let db = dir.path().join(DB_FILE_NAME);
    let live = data_dir.join(DB_FILE_NAME);
    if live.is_file() {
        std::fs::copy(&live, &db).context("cannot copy the database for the dry run")?;
        let wal = PathBuf::from(format!("{}-wal", live.display()));
        if wal.is_file() {
            std::fs::copy(&wal, format!("{}-wal", db.display()))?;
        }
    }
    Ok((Store::open(&db)?, dir))
}
