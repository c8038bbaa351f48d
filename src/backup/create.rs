//! Making a backup while the server runs. The database copy comes from `VACUUM INTO`, a single
//! read transaction, so it is consistent without stopping writers; that plaintext copy lives only
//! in a 0600 file inside the data dir and is removed however the backup ends.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::archive::{self, FORMAT_VERSION, Manifest, Source};
use super::crypto::Encryption;
use crate::server::DB_FILE_NAME;
use crate::store::{SCHEMA_VERSION, Store};

/// Data-dir files restored only when the owner asked for secrets: with them, a stolen backup plus
/// its passphrase can mint tokens; without them, a restore makes a new signing key and everyone
/// logs in again.
pub const SECRET_FILES: &[&str] = &[
    crate::auth::secrets::JWT_SECRET_FILE,
    crate::config::CONFIG_FILE_NAME,
];
/// Covers extracted by the scanner or uploaded by users; not all of them can be re-derived.
pub const COVERS_DIR: &str = "covers";

pub struct CreateOptions {
    pub data_dir: PathBuf,
    /// Default: `DATA/backups/shelfwarden-YYYYMMDD-HHMMSS.swbak`.
    pub out: Option<PathBuf>,
    pub encryption: Encryption,
    pub include_secrets: bool,
    pub now_ms: i64,
}

#[derive(Debug, Clone)]
pub struct CreatedBackup {
    pub path: PathBuf,
    pub manifest: Manifest,
    pub size: u64,
    pub sha256: String,
}

/// Removes the plaintext snapshot on every exit path, including errors and panics.
struct TempFile(PathBuf, bool);

impl TempFile {
    fn new(path: PathBuf) -> TempFile {
        TempFile(path, true)
    }
    /// The file has been renamed into place; there is nothing left to remove.
    fn disarm(mut self) {
        self.1 = false;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.1 {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

pub fn create_backup(store: &Store, opts: &CreateOptions) -> anyhow::Result<CreatedBackup> {
    let data = &opts.data_dir;
    remove_stale_scratch(data);
    let snapshot = TempFile::new(data.join(format!(
        ".backup-snapshot-{}.sqlite",
        crate::auth::secrets::random_token(12)
    )));
    // VACUUM INTO accepts an existing empty file; creating it first fixes the mode at 0600.
    create_private_file(&snapshot.0)?;
    store
        .snapshot_to(&snapshot.0)
        .map_err(|e| anyhow::anyhow!("cannot snapshot the database: {e}"))?;

    let mut sources = vec![Source {
        archive_path: DB_FILE_NAME.to_string(),
        disk_path: snapshot.0.clone(),
    }];
    collect_dir(data, &data.join(COVERS_DIR), &mut sources)?;
    if opts.include_secrets {
        for name in SECRET_FILES {
            let p = data.join(name);
            if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_file()) {
                sources.push(Source {
                    archive_path: (*name).to_string(),
                    disk_path: p,
                });
            }
        }
    }

    let created_at = chrono::DateTime::from_timestamp_millis(opts.now_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        shelfwarden_version: env!("CARGO_PKG_VERSION").to_string(),
        schema_version: SCHEMA_VERSION,
        created_at,
        created_at_ms: opts.now_ms,
        includes_secrets: opts.include_secrets,
        files: archive::manifest_entries(&sources)?,
    };

    let out = match &opts.out {
        Some(p) => p.clone(),
        None => super::backups_dir(data).join(super::backup_file_name(opts.now_ms)),
    };
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if opts.out.is_none() {
        super::create_private_dir(&dir)?;
    }
    if out.exists() {
        bail!("{} already exists; not overwriting a backup", out.display());
    }
    let partial = TempFile::new(dir.join(format!(
        ".{}.partial-{}",
        out.file_name().and_then(|n| n.to_str()).unwrap_or("backup"),
        crate::auth::secrets::random_token(6)
    )));
    let file = create_private_file(&partial.0)?;
    let encrypted = opts
        .encryption
        .wrap(BufWriter::with_capacity(1 << 20, file))?;
    let encrypted = archive::pack(encrypted, &manifest, &sources)?;
    let mut buffered = encrypted.finish()?;
    buffered.flush()?;
    let file = buffered
        .into_inner()
        .map_err(|e| anyhow::anyhow!("cannot write the backup: {}", e.error()))?;
    file.sync_all()?;
    drop(file);
    drop(snapshot);
    std::fs::rename(&partial.0, &out)
        .with_context(|| format!("cannot move the backup to {}", out.display()))?;
    partial.disarm();
    super::sync_dir(&dir)?;
    let (size, hash) = super::sha256_file(&out)?;
    Ok(CreatedBackup {
        path: out,
        manifest,
        size,
        sha256: hex::encode(hash),
    })
}

/// A killed backup or verify leaves its plaintext scratch behind; clear what is clearly abandoned
/// (old enough that no run in progress can own it).
fn remove_stale_scratch(data: &Path) {
    const STALE: std::time::Duration = std::time::Duration::from_secs(6 * 3600);
    let Ok(entries) = std::fs::read_dir(data) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let is_scratch =
            name.starts_with(".backup-snapshot-") || name.starts_with(".shelfwarden-verify-");
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE);
        if is_scratch && old {
            let p = entry.path();
            let _ = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            tracing::info!(path = %p.display(), "removed abandoned backup scratch");
        }
    }
}

fn create_private_file(path: &Path) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))
}

/// Regular files under `dir`, sorted for a reproducible manifest. Symlinks are skipped: following
/// them could pack files from outside the data dir.
fn collect_dir(root: &Path, dir: &Path, out: &mut Vec<Source>) -> anyhow::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.sort();
    for p in paths {
        let meta = std::fs::symlink_metadata(&p)?;
        if meta.is_dir() {
            collect_dir(root, &p, out)?;
        } else if meta.is_file() {
            let rel = p
                .strip_prefix(root)
                .context("a file outside the data dir")?
                .to_str()
                .ok_or_else(|| anyhow::anyhow!("{} is not a UTF-8 path", p.display()))?
                .to_string();
            if archive::check_path(&rel).is_ok() {
                out.push(Source {
                    archive_path: rel,
                    disk_path: p,
                });
            } else {
                tracing::warn!(path = %p.display(), "skipping a file whose name cannot be backed up");
            }
        }
    }
    Ok(())
}
