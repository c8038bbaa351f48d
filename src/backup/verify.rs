//! Checking a backup without restoring it: decrypt, unpack into a private scratch folder (every
//! hash checked on the way), and run SQLite's integrity check on the database copy.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Serialize;

use super::archive::{self, Limits, Manifest};
use super::crypto::Decryption;
use crate::server::DB_FILE_NAME;
use crate::store::SCHEMA_VERSION;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    pub path: PathBuf,
    pub manifest: Manifest,
    pub integrity: String,
    pub schema_version: i64,
    pub users: i64,
}

impl std::fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "backup        {}", self.path.display())?;
        writeln!(f, "created at    {}", self.manifest.created_at)?;
        writeln!(
            f,
            "made by       shelfwarden {}",
            self.manifest.shelfwarden_version
        )?;
        writeln!(f, "schema        {}", self.schema_version)?;
        writeln!(
            f,
            "files         {} ({} bytes), all SHA-256 hashes match",
            self.manifest.files.len(),
            self.manifest.total_size()
        )?;
        writeln!(
            f,
            "secrets       {}",
            if self.manifest.includes_secrets {
                "included"
            } else {
                "not included"
            }
        )?;
        writeln!(f, "users         {}", self.users)?;
        write!(f, "integrity     {}", self.integrity)
    }
}

/// Decrypts and unpacks `backup` into `staging` (empty, private) and checks the database there.
pub(crate) fn unpack_and_check(
    backup: &Path,
    decryption: &Decryption,
    staging: &Path,
    limits: &Limits,
) -> anyhow::Result<(Manifest, DbCheck)> {
    let file = std::fs::File::open(backup)
        .with_context(|| format!("cannot open backup {}", backup.display()))?;
    let plain = decryption.open(std::io::BufReader::with_capacity(1 << 20, file))?;
    let manifest = archive::unpack_validated(plain, staging, limits)?;
    if manifest.schema_version > SCHEMA_VERSION {
        bail!(
            "the backup has schema version {}, newer than this shelfwarden knows ({SCHEMA_VERSION}); \
             restore it with shelfwarden {} or newer",
            manifest.schema_version,
            manifest.shelfwarden_version
        );
    }
    if !manifest.files.iter().any(|f| f.path == DB_FILE_NAME) {
        bail!("the backup holds no database");
    }
    let check = check_database(&staging.join(DB_FILE_NAME))?;
    if check.schema_version != manifest.schema_version {
        bail!(
            "the database has schema version {} but the manifest says {}",
            check.schema_version,
            manifest.schema_version
        );
    }
    if check.integrity != "ok" {
        bail!(
            "the database copy fails SQLite's integrity check: {}",
            check.integrity
        );
    }
    Ok((manifest, check))
}

pub(crate) struct DbCheck {
    pub integrity: String,
    pub schema_version: i64,
    pub users: i64,
}

fn check_database(path: &Path) -> anyhow::Result<DbCheck> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .context("the database copy cannot be opened")?;
    let rows: Vec<String> = {
        let mut stmt = conn.prepare("PRAGMA integrity_check")?;
        stmt.query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()
            .context("the database copy cannot be checked")?
    };
    let integrity = rows.join("; ");
    let schema_version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let users: i64 = conn
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap_or(-1);
    Ok(DbCheck {
        integrity,
        schema_version,
        users,
    })
}

/// A 0700 scratch folder beside `near`, removed when dropped. Plaintext goes only where the owner
/// already keeps plaintext: the data dir, or next to the restore target.
pub(crate) fn scratch_dir(near: &Path, prefix: &str) -> anyhow::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(near)
        .with_context(|| format!("cannot create a scratch folder in {}", near.display()))
}

pub fn verify_backup(
    backup: &Path,
    decryption: &Decryption,
    scratch_parent: &Path,
    limits: &Limits,
) -> anyhow::Result<VerifyReport> {
    let scratch = scratch_dir(scratch_parent, ".shelfwarden-verify-")?;
    let (manifest, check) = unpack_and_check(backup, decryption, scratch.path(), limits)?;
    Ok(VerifyReport {
        path: backup.to_path_buf(),
        manifest,
        integrity: check.integrity,
        schema_version: check.schema_version,
        users: check.users,
    })
}
