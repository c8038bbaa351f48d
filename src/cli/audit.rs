//! `shelfwarden audit verify|export|prune`: offline tools over the data dir's database.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::audit::{self, AuditFilter, VerifyError};
use crate::store::Store;

/// The store at `DATA/shelfwarden.sqlite`; refuses to create one (a typo in the path must not
/// "verify" a fresh, empty log).
pub(crate) fn open_existing(data_dir: &Path) -> anyhow::Result<Store> {
    let path = data_dir.join("shelfwarden.sqlite");
    if !path.is_file() {
        anyhow::bail!("no database at {}", path.display());
    }
    Store::open(&path).with_context(|| format!("opening {}", path.display()))
}

/// Verifies the chain and prints a report to stdout; Ok(false) when the chain is broken.
pub fn verify(data_dir: &Path) -> anyhow::Result<bool> {
    verify_to(data_dir, &mut std::io::stdout().lock())
}

pub fn verify_to(data_dir: &Path, out: &mut dyn Write) -> anyhow::Result<bool> {
    let store = open_existing(data_dir)?;
    let result = store.read_blocking(|c| Ok(audit::verify(c)))?;
    match result {
        Ok(r) => {
            writeln!(out, "audit log OK: {} rows", r.rows)?;
            if r.anchor_seq > 0 {
                writeln!(out, "  retention anchor: seq {}", r.anchor_seq)?;
            }
            writeln!(out, "  head: seq {} hash {}", r.head_seq, r.head_hash)?;
            writeln!(
                out,
                "  keep a copy of the head elsewhere to detect a rewrite of the whole log"
            )?;
            Ok(true)
        }
        Err(VerifyError::Broken(b)) => {
            writeln!(out, "audit log BROKEN at seq {}: {}", b.seq, b.reason)?;
            Ok(false)
        }
        Err(VerifyError::Store(e)) => Err(anyhow::anyhow!("reading the audit log: {e}")),
    }
}

/// Writes matching events as JSON lines to `out`; returns how many.
pub fn export(data_dir: &Path, filter: &AuditFilter, out: &mut dyn Write) -> anyhow::Result<u64> {
    let store = open_existing(data_dir)?;
    let n = store.read_blocking(|c| audit::export_jsonl(c, filter, out))?;
    out.flush()?;
    Ok(n)
}

/// Deletes events older than `before_ms` (keeping the chain verifiable); returns how many.
pub fn prune(data_dir: &Path, before_ms: i64, now_ms: i64) -> anyhow::Result<u64> {
    let store = open_existing(data_dir)?;
    let report = store.write_blocking(|tx| {
        audit::prune_before(tx, before_ms, now_ms).map_err(|e| match e {
            VerifyError::Store(e) => e,
            VerifyError::Broken(b) => crate::error::AppError::internal(format!(
                "refusing to prune a broken audit log: {b}"
            )),
        })
    })?;
    Ok(report.deleted)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::audit::{Action, AuditEvent};

    #[test]
    fn verify_export_prune() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            verify_to(dir.path(), &mut Vec::new()).is_err(),
            "no database"
        );
        let store = Store::open(&dir.path().join("shelfwarden.sqlite")).unwrap();
        store
            .write_blocking(|tx| {
                for i in 0..3 {
                    audit::append(tx, &AuditEvent::new(Action::LoginFailure), 1000 * i)?;
                }
                Ok(())
            })
            .unwrap();
        let mut out = Vec::new();
        assert!(verify_to(dir.path(), &mut out).unwrap());
        assert!(String::from_utf8(out).unwrap().contains("OK: 3 rows"));
        let mut jl = Vec::new();
        assert_eq!(
            export(dir.path(), &AuditFilter::default(), &mut jl).unwrap(),
            3
        );
        assert_eq!(prune(dir.path(), 1500, 5000).unwrap(), 2);
        assert!(verify_to(dir.path(), &mut Vec::new()).unwrap());
        store
            .write_blocking(|tx| {
                tx.execute_batch(
                    "DROP TRIGGER audit_events_no_update;
                     UPDATE audit_events SET action = 'x' WHERE seq = 3;",
                )?;
                Ok(())
            })
            .unwrap();
        let mut out = Vec::new();
        assert!(!verify_to(dir.path(), &mut out).unwrap());
        assert!(String::from_utf8(out).unwrap().contains("BROKEN at seq 3"));
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the hash chain; exits non-zero if any row was edited, inserted or removed.
    Verify,
    /// Write events as JSON lines to standard output.
    Export {
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        actor: Option<String>,
        /// Only events at or after this time (epoch milliseconds).
        #[arg(long)]
        since: Option<i64>,
    },
    /// Delete events older than N days (the chain stays verifiable).
    Prune {
        #[arg(long)]
        older_than_days: u32,
    },
}

pub fn run(data: &Path, cmd: AuditCommand) -> anyhow::Result<()> {
    use crate::clock::{Clock, SystemClock};
    let now = SystemClock.now_ms();
    match cmd {
        AuditCommand::Verify => {
            if !verify(data)? {
                anyhow::bail!("the audit log has been tampered with");
            }
        }
        AuditCommand::Export {
            action,
            actor,
            since,
        } => {
            let filter = AuditFilter {
                action,
                actor,
                since,
                ..Default::default()
            };
            export(data, &filter, &mut std::io::stdout().lock())?;
        }
        AuditCommand::Prune { older_than_days } => {
            let before = now - i64::from(older_than_days) * 86_400_000;
            let n = prune(data, before, now)?;
            println!("pruned {n} events");
        }
    }
    Ok(())
}
