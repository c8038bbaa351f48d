//! Backups that survive the server: a consistent database snapshot plus the files that cannot be
//! re-derived, packed as a tar with a manifest, encrypted with age, verified and restored only after
//! every entry has been checked, copied off-site and pruned by a retention policy.
//!
//! Nothing in here trusts an archive: restore and verify treat it as hostile input until every
//! byte has been counted and hashed against the manifest.

pub mod archive;
pub mod create;
pub mod crypto;
pub mod offsite;
pub mod restore;
pub mod runner;
pub mod schedule;
pub mod status;
pub mod verify;

use std::path::{Path, PathBuf};

pub use archive::{Limits, Manifest};
pub use create::{CreateOptions, CreatedBackup, create_backup};
pub use crypto::{Decryption, Encryption};
pub use restore::{RestoreOptions, restore_backup};
pub use schedule::{CronSchedule, RetentionPolicy, run_scheduler};
pub use status::{BackupHealth, health};
pub use verify::{VerifyReport, verify_backup};

/// Folder inside the data dir where backups are written by default.
pub const BACKUPS_DIR: &str = "backups";
/// File extension of an encrypted backup.
pub const EXTENSION: &str = "swbak";
const NAME_PREFIX: &str = "shelfwarden-";
const NAME_TIME_FORMAT: &str = "%Y%m%d-%H%M%S";

/// `shelfwarden-YYYYMMDD-HHMMSS.swbak` for a UTC instant in milliseconds.
pub fn backup_file_name(created_ms: i64) -> String {
    let t = chrono::DateTime::from_timestamp_millis(created_ms).unwrap_or_default();
    format!("{NAME_PREFIX}{}.{EXTENSION}", t.format(NAME_TIME_FORMAT))
}

/// The creation time encoded in a backup's file name; `None` for anything that is not ours, which
/// retention must then never delete.
pub fn parse_backup_file_name(name: &str) -> Option<i64> {
    let stem = name
        .strip_prefix(NAME_PREFIX)?
        .strip_suffix(&format!(".{EXTENSION}"))?;
    let t = chrono::NaiveDateTime::parse_from_str(stem, NAME_TIME_FORMAT).ok()?;
    Some(t.and_utc().timestamp_millis())
}

pub fn backups_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(BACKUPS_DIR)
}

/// The newest backup (by the time in its name) in a folder.
pub fn latest_in(dir: &Path) -> anyhow::Result<PathBuf> {
    let mut best: Option<(i64, PathBuf)> = None;
    let entries = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot list backups in {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(t) = name.to_str().and_then(parse_backup_file_name) else {
            continue;
        };
        if best.as_ref().is_none_or(|(bt, _)| t > *bt) {
            best = Some((t, entry.path()));
        }
    }
    best.map(|(_, p)| p)
        .ok_or_else(|| anyhow::anyhow!("no backups in {}", dir.display()))
}

/// Creates a folder with mode 0700 (tightening it if it exists): backups are encrypted, but their
/// names and sizes are still nobody else's business.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Makes a rename durable: without syncing the directory a power loss can forget it.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

pub fn sha256_file(path: &Path) -> std::io::Result<(u64, [u8; 32])> {
    use sha2::Digest;
    let mut f = std::fs::File::open(path)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n_total = 0u64;
    loop {
        let n = std::io::Read::read(&mut f, &mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        n_total += n as u64;
    }
    Ok((n_total, h.finalize().into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_foreign_names_are_ignored() {
        let t = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        let name = backup_file_name(t + 3_723_000);
        assert_eq!(name, "shelfwarden-20260101-010203.swbak");
        assert_eq!(parse_backup_file_name(&name), Some(t + 3_723_000));
        for other in [
            "notes.txt",
            "shelfwarden-20260101-010203.swbak.partial",
            "shelfwarden-2026.swbak",
        ] {
            assert_eq!(parse_backup_file_name(other), None, "{other}");
        }
    }
}
