//! `shelfwarden backup ...`: create, verify, restore, list and prune encrypted backups.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use super::process_env;
use crate::backup::offsite::{self, S3Settings};
use crate::backup::runner::{Job, run_once};
use crate::backup::{self, Decryption, Encryption, Limits, RestoreOptions, RetentionPolicy};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::server::{self, DB_FILE_NAME};

#[derive(Subcommand, Debug)]
pub enum BackupCommand {
    /// Make an encrypted backup of the running (or stopped) server's data dir.
    Create {
        /// Where to write it (default DATA/backups/shelfwarden-YYYYMMDD-HHMMSS.swbak).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        key: EncryptArgs,
        /// Also back up the token-signing key and the config file.
        #[arg(long)]
        include_secrets: bool,
        /// Copy to the configured destinations and S3 afterwards, then apply retention there.
        #[arg(long)]
        offsite: bool,
        /// Configuration file (default DATA/shelfwarden.toml); S3 and retention settings come from it.
        #[arg(long, env = "SHELFWARDEN_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Decrypt a backup and check every hash and the database's integrity, without restoring.
    Verify {
        /// A backup file, `latest` (newest in DATA/backups), or `s3:NAME` (from the configured bucket).
        backup: String,
        #[command(flatten)]
        key: DecryptArgs,
        /// Configuration file (default DATA/shelfwarden.toml); S3 and retention settings come from it.
        #[arg(long, env = "SHELFWARDEN_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Restore a backup into a new data dir (given with --data); nothing is written unless it all checks out.
    Restore {
        /// A backup file or `s3:NAME` (from the configured bucket).
        backup: String,
        #[command(flatten)]
        key: DecryptArgs,
        /// Replace a non-empty data dir; the old one is kept beside it.
        #[arg(long)]
        force: bool,
        /// Configuration file (default DATA/shelfwarden.toml); S3 and retention settings come from it.
        #[arg(long, env = "SHELFWARDEN_CONFIG")]
        config: Option<PathBuf>,
    },
    /// List backups in DATA/backups (and the S3 bucket with --remote), and the last run's status.
    List {
        #[arg(long)]
        remote: bool,
        /// Configuration file (default DATA/shelfwarden.toml); S3 and retention settings come from it.
        #[arg(long, env = "SHELFWARDEN_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Apply the retention policy to DATA/backups (and the destinations with --offsite).
    Prune {
        #[arg(long)]
        offsite: bool,
        /// Configuration file (default DATA/shelfwarden.toml); S3 and retention settings come from it.
        #[arg(long, env = "SHELFWARDEN_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct EncryptArgs {
    /// Encrypt with the passphrase in this file (at least 12 characters).
    #[arg(long, conflicts_with = "recipients")]
    passphrase_file: Option<PathBuf>,
    /// Encrypt to this age public key (repeatable); restore needs the matching identity.
    #[arg(long = "recipient")]
    recipients: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DecryptArgs {
    /// The passphrase the backup was made with, in a file.
    #[arg(long, conflicts_with = "identity")]
    passphrase_file: Option<PathBuf>,
    /// An age identity file (`age-keygen` output).
    #[arg(long)]
    identity: Option<PathBuf>,
}

impl DecryptArgs {
    fn decryption(&self) -> anyhow::Result<Decryption> {
        Decryption::from_sources(self.passphrase_file.as_deref(), self.identity.as_deref())
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn policy(c: &Config) -> RetentionPolicy {
    RetentionPolicy {
        last: c.backup_keep_last,
        daily: c.backup_keep_daily,
        weekly: c.backup_keep_weekly,
        monthly: c.backup_keep_monthly,
    }
}

pub fn run(data: &Path, cmd: BackupCommand) -> anyhow::Result<()> {
    match cmd {
        BackupCommand::Create {
            out,
            key,
            include_secrets,
            offsite,
            config,
        } => {
            let config = Config::load(data, config.as_deref(), &process_env())?;
            if !data.join(DB_FILE_NAME).is_file() {
                bail!("{} holds no shelfwarden database", data.display());
            }
            let store = server::open_store(data)?;
            let encryption = if key.passphrase_file.is_some() || !key.recipients.is_empty() {
                Some(Encryption::from_sources(
                    key.passphrase_file.as_deref(),
                    &key.recipients,
                )?)
            } else {
                None
            };
            let mut job = Job::from_config(&config, data.to_path_buf());
            job.include_secrets |= include_secrets;
            let now = SystemClock.now_ms();
            let outcome =
                runtime()?.block_on(run_once(&store, &job, encryption, out, offsite, now))?;
            println!(
                "backup written: {} ({} bytes, {} files, sha256 {})",
                outcome.backup.path.display(),
                outcome.backup.size,
                outcome.backup.manifest.files.len(),
                outcome.backup.sha256
            );
            for c in &outcome.copies {
                println!("copied to {c} (verified)");
            }
            for p in &outcome.pruned {
                println!("pruned {p}");
            }
            if !outcome.offsite_errors.is_empty() {
                bail!(
                    "the backup was made, but off-site copies failed:\n  {}",
                    outcome.offsite_errors.join("\n  ")
                );
            }
            Ok(())
        }
        BackupCommand::Verify {
            backup: which,
            key,
            config,
        } => {
            let decryption = key.decryption()?;
            // Plaintext goes where the owner already keeps it: the data dir, else beside the
            // (encrypted) backup itself.
            let scratch_parent = if data.is_dir() {
                data.to_path_buf()
            } else if which.starts_with("s3:") || which == "latest" {
                bail!(
                    "{} does not exist; verify needs a data dir to work in",
                    data.display()
                );
            } else {
                match Path::new(&which).parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                }
            };
            let (file, _tmp) = resolve(data, &which, config.as_deref(), &scratch_parent)?;
            let report =
                backup::verify_backup(&file, &decryption, &scratch_parent, &Limits::default())?;
            println!("{report}");
            println!("OK: the backup can be restored");
            Ok(())
        }
        BackupCommand::Restore {
            backup: which,
            key,
            force,
            config,
        } => {
            let decryption = key.decryption()?;
            let parent = match data.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let (file, _tmp) = resolve(data, &which, config.as_deref(), &parent)?;
            let report = backup::restore_backup(
                &file,
                &decryption,
                &RestoreOptions {
                    target: data.to_path_buf(),
                    force,
                    limits: Limits::default(),
                },
            )?;
            println!(
                "restored {} files from the backup of {} into {} ({} users)",
                report.manifest.files.len(),
                report.manifest.created_at,
                data.display(),
                report.users
            );
            if let Some(prev) = report.previous {
                println!("the previous data dir was kept at {}", prev.display());
            }
            if !report.manifest.includes_secrets {
                println!(
                    "the backup holds no token-signing key: a new one is made at start, so everyone logs in again"
                );
            }
            Ok(())
        }
        BackupCommand::List { remote, config } => {
            let config = Config::load(data, config.as_deref(), &process_env())?;
            let dir = backup::backups_dir(data);
            let mut names: Vec<String> = match std::fs::read_dir(&dir) {
                Ok(rd) => rd
                    .filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().to_str().map(str::to_string))
                    .filter(|n| backup::parse_backup_file_name(n).is_some())
                    .collect(),
                Err(_) => Vec::new(),
            };
            names.sort();
            for n in &names {
                let size = std::fs::metadata(dir.join(n)).map(|m| m.len()).unwrap_or(0);
                println!("{n}  {size} bytes");
            }
            if remote {
                let s3 = s3_settings(&config)?;
                let mut remote_names = runtime()?.block_on(s3_list(&s3))?;
                remote_names.sort();
                for n in remote_names {
                    println!("s3:{n}");
                }
            }
            if data.join(DB_FILE_NAME).is_file() {
                let store = server::open_store(data)?;
                let h = store.read_blocking(backup::health)?;
                println!(
                    "status: {}",
                    serde_json::to_string(&h).unwrap_or_else(|_| h.state.to_string())
                );
            }
            Ok(())
        }
        BackupCommand::Prune { offsite, config } => {
            let config = Config::load(data, config.as_deref(), &process_env())?;
            let p = policy(&config);
            if p.is_off() {
                println!("retention is off (all backup_keep_* are 0): nothing pruned");
                return Ok(());
            }
            let now = SystemClock.now_ms();
            let mut pruned = offsite::prune_dir(&backup::backups_dir(data), now, &p)?;
            if offsite {
                for d in &config.backup_destinations {
                    pruned.extend(offsite::prune_dir(d, now, &p)?);
                }
                if S3Settings::from_config(&config).is_some() {
                    let s3 = s3_settings(&config)?;
                    pruned.extend(runtime()?.block_on(s3_prune(&s3, now, &p))?);
                }
            }
            for n in pruned {
                println!("pruned {n}");
            }
            Ok(())
        }
    }
}

fn s3_settings(config: &Config) -> anyhow::Result<S3Settings> {
    S3Settings::from_config(config)
        .ok_or_else(|| anyhow::anyhow!("no S3 bucket configured (backup_s3_bucket)"))
}

/// The local file for `which`; an S3 backup is downloaded (still encrypted) into `scratch` first.
fn resolve(
    data: &Path,
    which: &str,
    config: Option<&Path>,
    scratch: &Path,
) -> anyhow::Result<(PathBuf, Option<tempfile::TempDir>)> {
    if which == "latest" {
        return Ok((backup::latest_in(&backup::backups_dir(data))?, None));
    }
    if let Some(name) = which.strip_prefix("s3:") {
        let env_data = if data.is_dir() { data } else { scratch };
        let config = Config::load(env_data, config, &process_env())?;
        let s3 = s3_settings(&config)?;
        let tmp = tempfile::Builder::new()
            .prefix(".shelfwarden-download-")
            .tempdir_in(scratch)
            .with_context(|| format!("cannot create a folder in {}", scratch.display()))?;
        let dest = tmp.path().join("backup.swbak");
        runtime()?.block_on(s3_download(&s3, name, &dest))?;
        return Ok((dest, Some(tmp)));
    }
    Ok((PathBuf::from(which), None))
}

#[cfg(feature = "s3")]
async fn s3_download(s3: &S3Settings, name: &str, dest: &Path) -> anyhow::Result<()> {
    offsite::S3Target::new(s3)?.download(name, dest).await
}

#[cfg(feature = "s3")]
async fn s3_list(s3: &S3Settings) -> anyhow::Result<Vec<String>> {
    offsite::S3Target::new(s3)?.list().await
}

#[cfg(feature = "s3")]
async fn s3_prune(s3: &S3Settings, now: i64, p: &RetentionPolicy) -> anyhow::Result<Vec<String>> {
    offsite::S3Target::new(s3)?.prune(now, p).await
}

#[cfg(not(feature = "s3"))]
async fn s3_download(_: &S3Settings, _: &str, _: &Path) -> anyhow::Result<()> {
    bail!("this shelfwarden was built without S3 support (cargo feature `s3`)")
}

#[cfg(not(feature = "s3"))]
async fn s3_list(_: &S3Settings) -> anyhow::Result<Vec<String>> {
    bail!("this shelfwarden was built without S3 support (cargo feature `s3`)")
}

#[cfg(not(feature = "s3"))]
async fn s3_prune(_: &S3Settings, _: i64, _: &RetentionPolicy) -> anyhow::Result<Vec<String>> {
    bail!("this shelfwarden was built without S3 support (cargo feature `s3`)")
}
