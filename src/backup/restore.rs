//! Restoring into a new data dir. Everything is unpacked and checked in a staging folder beside the
//! target; only then is it renamed into place, so a refused or failed restore leaves the target
//! exactly as it was.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::archive::{Limits, Manifest};
use super::crypto::Decryption;
use super::verify::{scratch_dir, unpack_and_check};

pub struct RestoreOptions {
    pub target: PathBuf,
    /// Replace a non-empty target; the old one is moved aside and kept.
    pub force: bool,
    pub limits: Limits,
}

#[derive(Debug)]
pub struct RestoreReport {
    pub manifest: Manifest,
    pub users: i64,
    /// Where a replaced data dir was moved to.
    pub previous: Option<PathBuf>,
}

pub fn restore_backup(
    backup: &Path,
    decryption: &Decryption,
    opts: &RestoreOptions,
) -> anyhow::Result<RestoreReport> {
    let target = &opts.target;
    let name = target
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("{} is not a folder name", target.display()))?;
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        bail!("{} does not exist; create it first", parent.display());
    }
    let existing = match std::fs::symlink_metadata(target) {
        Ok(m) if m.is_dir() => Some(std::fs::read_dir(target)?.next().is_some()),
        Ok(_) => bail!("{} exists and is not a folder", target.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    if existing == Some(true) && !opts.force {
        bail!(
            "{} is not empty; restore into a new folder, or pass --force to replace it (the old one is kept beside it)",
            target.display()
        );
    }

    let staging = scratch_dir(&parent, ".shelfwarden-restore-")?;
    let (manifest, check) = unpack_and_check(backup, decryption, staging.path(), &opts.limits)?;
    if let Err(e) = audit_restore(staging.path(), backup, &manifest) {
        tracing::warn!(error = %format!("{e:#}"), "cannot note the restore in the audit log");
    }

    let mut previous = None;
    match existing {
        Some(true) => {
            let aside = parent.join(format!(
                "{}.before-restore-{}",
                name.to_string_lossy(),
                chrono::Utc::now().format("%Y%m%d-%H%M%S")
            ));
            std::fs::rename(target, &aside)
                .with_context(|| format!("cannot move {} aside", target.display()))?;
            if let Err(e) = std::fs::rename(staging.path(), target) {
                // Put the old data dir back: a failed restore must leave things as they were.
                let _ = std::fs::rename(&aside, target);
                return Err(e).context("cannot move the restored data into place");
            }
            previous = Some(aside);
        }
        Some(false) => {
            std::fs::remove_dir(target)?;
            std::fs::rename(staging.path(), target)
                .context("cannot move the restored data into place")?;
        }
        None => std::fs::rename(staging.path(), target)
            .context("cannot move the restored data into place")?,
    }
    // The staging folder now is the target; it must not be deleted with the guard.
    let _ = staging.keep();
    super::sync_dir(&parent)?;
    Ok(RestoreReport {
        manifest,
        users: check.users,
        previous,
    })
}

/// The restored server's audit log says where its state came from.
fn audit_restore(staging: &Path, backup: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    use crate::audit::{self, Action, AuditEvent};
    let mut conn = rusqlite::Connection::open(staging.join(crate::server::DB_FILE_NAME))?;
    let tx = conn.transaction()?;
    let now = chrono::Utc::now().timestamp_millis();
    let event = AuditEvent::new(Action::BackupRestore)
        .target(backup.display().to_string())
        .details(serde_json::json!({
            "createdAt": manifest.created_at,
            "shelfwardenVersion": manifest.shelfwarden_version,
            "schemaVersion": manifest.schema_version,
            "files": manifest.files.len(),
            "includesSecrets": manifest.includes_secrets,
        }));
    audit::append(&tx, &event, now).map_err(|e| anyhow::anyhow!("{e}"))?;
    tx.commit()?;
    Ok(())
}
