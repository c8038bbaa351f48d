//! One complete backup run (create, prune, off-site copies, record the outcome) and the scheduler
//! loop that triggers it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use super::create::{CreateOptions, CreatedBackup, create_backup};
use super::crypto::Encryption;
use super::offsite::{self, S3Settings};
use super::schedule::{CronSchedule, RetentionPolicy};
use super::status;
use crate::audit::{self, Action, AuditEvent};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::store::Store;

/// Everything a run needs, resolved from the configuration once.
#[derive(Debug, Clone)]
pub struct Job {
    pub data_dir: PathBuf,
    pub passphrase_file: Option<PathBuf>,
    pub recipients: Vec<String>,
    pub include_secrets: bool,
    pub destinations: Vec<PathBuf>,
    pub s3: Option<S3Settings>,
    pub policy: RetentionPolicy,
    /// Who asked (user id, name) for the audit log; `None` for the scheduler and the CLI.
    pub actor: Option<(String, String)>,
}

impl Job {
    pub fn from_config(config: &Config, data_dir: PathBuf) -> Job {
        Job {
            data_dir,
            passphrase_file: config.backup_passphrase_file.clone(),
            recipients: config.backup_recipients.clone(),
            include_secrets: config.backup_include_secrets,
            destinations: config.backup_destinations.clone(),
            s3: S3Settings::from_config(config),
            policy: RetentionPolicy {
                last: config.backup_keep_last,
                daily: config.backup_keep_daily,
                weekly: config.backup_keep_weekly,
                monthly: config.backup_keep_monthly,
            },
            actor: None,
        }
    }
}

#[derive(Debug)]
pub struct RunOutcome {
    pub backup: CreatedBackup,
    pub copies: Vec<String>,
    pub pruned: Vec<String>,
    pub offsite_errors: Vec<String>,
}

/// Creates a backup in the data dir's backups folder, then copies and prunes. The backup itself
/// failing is an error; an off-site destination failing is reported in the outcome (and in the
/// recorded status) so one unreachable NAS does not stop the others.
pub async fn run_once(
    store: &Store,
    job: &Job,
    encryption: Option<Encryption>,
    out: Option<PathBuf>,
    offsite: bool,
    now_ms: i64,
) -> anyhow::Result<RunOutcome> {
    let result = run_inner(store, job, encryption, out, offsite, now_ms).await;
    let mut event = AuditEvent::new(Action::BackupCreate);
    if let Some((id, name)) = &job.actor {
        event = event.actor(id.clone(), name.clone());
    }
    let recorded = match &result {
        Ok(o) => {
            let file = o.backup.path.display().to_string();
            let size = o.backup.size;
            let errors = o.offsite_errors.clone();
            let copied = o.copies.len();
            let event = event.target(file.clone()).details(serde_json::json!({
                "ok": errors.is_empty(),
                "bytes": size,
                "sha256": o.backup.sha256,
                "copies": o.copies,
                "offsiteErrors": errors,
            }));
            store
                .write(move |tx| {
                    status::record_success(tx, now_ms, &file, size, errors, copied)?;
                    audit::append(tx, &event, now_ms).map(|_| ())
                })
                .await
        }
        Err(e) => {
            let msg = format!("{e:#}");
            let event = event.details(serde_json::json!({ "ok": false, "error": msg }));
            store
                .write(move |tx| {
                    status::record_failure(tx, now_ms, &msg)?;
                    audit::append(tx, &event, now_ms).map(|_| ())
                })
                .await
        }
    };
    if let Err(e) = recorded {
        tracing::error!(error = %e, "cannot record the backup status");
    }
    result
}

async fn run_inner(
    store: &Store,
    job: &Job,
    encryption: Option<Encryption>,
    out: Option<PathBuf>,
    offsite: bool,
    now_ms: i64,
) -> anyhow::Result<RunOutcome> {
    let encryption = match encryption {
        Some(e) => e,
        None => Encryption::from_sources(job.passphrase_file.as_deref(), &job.recipients)?,
    };
    let opts = CreateOptions {
        data_dir: job.data_dir.clone(),
        out: out.clone(),
        encryption,
        include_secrets: job.include_secrets,
        now_ms,
    };
    let s = store.clone();
    let backup = tokio::task::spawn_blocking(move || create_backup(&s, &opts))
        .await
        .context("the backup task failed")??;

    let mut pruned = Vec::new();
    if out.is_none() {
        let dir = super::backups_dir(&job.data_dir);
        let policy = job.policy;
        pruned.extend(
            tokio::task::spawn_blocking(move || offsite::prune_dir(&dir, now_ms, &policy))
                .await
                .context("the prune task failed")??,
        );
    }
    let mut copies = Vec::new();
    let mut offsite_errors = Vec::new();
    if offsite {
        for dest in &job.destinations {
            let (file, sha, dir, policy) = (
                backup.path.clone(),
                backup.sha256.clone(),
                dest.clone(),
                job.policy,
            );
            let r =
                tokio::task::spawn_blocking(move || -> anyhow::Result<(PathBuf, Vec<String>)> {
                    let copied = offsite::copy_to_dir(&file, &dir, &sha)?;
                    let pruned = offsite::prune_dir(&dir, now_ms, &policy)?;
                    Ok((copied, pruned))
                })
                .await
                .context("the copy task failed")
                .and_then(|r| r);
            match r {
                Ok((copied, p)) => {
                    copies.push(copied.display().to_string());
                    pruned.extend(p);
                }
                Err(e) => offsite_errors.push(format!("{}: {e:#}", dest.display())),
            }
        }
        if let Some(s3) = &job.s3 {
            match upload_s3(s3, &backup, now_ms, &job.policy).await {
                Ok((key, p)) => {
                    copies.push(format!("s3://{}/{key}", s3.bucket));
                    pruned.extend(p);
                }
                Err(e) => offsite_errors.push(format!("{}: {e:#}", s3.describe())),
            }
        }
    }
    for e in &offsite_errors {
        tracing::error!(error = %e, "OFF-SITE BACKUP COPY FAILED");
    }
    Ok(RunOutcome {
        backup,
        copies,
        pruned,
        offsite_errors,
    })
}

#[cfg(feature = "s3")]
async fn upload_s3(
    s3: &S3Settings,
    backup: &CreatedBackup,
    now_ms: i64,
    policy: &RetentionPolicy,
) -> anyhow::Result<(String, Vec<String>)> {
    let target = offsite::S3Target::new(s3)?;
    let key = target.upload(&backup.path, &backup.sha256).await?;
    let pruned = target.prune(now_ms, policy).await?;
    Ok((key, pruned))
}

#[cfg(not(feature = "s3"))]
async fn upload_s3(
    _: &S3Settings,
    _: &CreatedBackup,
    _: i64,
    _: &RetentionPolicy,
) -> anyhow::Result<(String, Vec<String>)> {
    anyhow::bail!("this shelfwarden was built without S3 support (cargo feature `s3`)")
}

/// When the scheduler should next run, given the time now; `None` when the schedule never fires.
pub fn next_run_ms(schedule: &CronSchedule, now_ms: i64) -> Option<i64> {
    let now = chrono::DateTime::from_timestamp_millis(now_ms)?;
    schedule.next_after(now).map(|t| t.timestamp_millis())
}

/// True when a scheduled run fell between the last success and now (the server was down or asleep
/// at that minute): the scheduler then runs once at start instead of waiting for the next slot.
pub fn missed_run(schedule: &CronSchedule, last_success_ms: Option<i64>, now_ms: i64) -> bool {
    last_success_ms
        .and_then(|last| next_run_ms(schedule, last))
        .is_some_and(|due| due <= now_ms)
}

/// Longest single sleep: the wall clock is re-read at least this often, so a suspended laptop or
/// a corrected clock does not push a backup back by hours.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// Runs scheduled backups until the task is dropped. Returns at once when no schedule is set.
/// Spawn it from `server::serve`: `tokio::spawn(backup::run_scheduler(store, config, data_dir, clock))`.
pub async fn run_scheduler(store: Store, config: Config, data_dir: PathBuf, clock: SharedClock) {
    let Some(spec) = config.backup_schedule.clone() else {
        return;
    };
    let schedule: CronSchedule = match spec.parse() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "backup_schedule is invalid; scheduled backups are OFF");
            return;
        }
    };
    let job = Job::from_config(&config, data_dir);
    // An unreadable key would otherwise only surface at the first run, possibly a day later.
    if let Err(e) = Encryption::from_sources(job.passphrase_file.as_deref(), &job.recipients) {
        let msg = format!("{e:#}");
        tracing::error!(error = %msg, "SCHEDULED BACKUPS WILL FAIL: the backup key is unusable");
        let now = clock.now_ms();
        if let Err(e) = store
            .write(move |tx| status::record_failure(tx, now, &msg))
            .await
        {
            tracing::error!(error = %e, "cannot record the backup status");
        }
    }
    tracing::info!(schedule = %spec, "scheduled backups on");
    let last_success = store
        .read(status::load)
        .await
        .ok()
        .and_then(|s| s.last_success_ms);
    let mut catch_up = missed_run(&schedule, last_success, clock.now_ms());
    loop {
        if std::mem::take(&mut catch_up) {
            tracing::warn!(
                "a scheduled backup was missed while the server was down; running it now"
            );
            run_logged(&store, &job, clock.now_ms()).await;
        }
        let Some(next) = next_run_ms(&schedule, clock.now_ms()) else {
            tracing::warn!(schedule = %spec, "backup_schedule never fires");
            return;
        };
        loop {
            let wait = next - clock.now_ms();
            if wait <= 0 {
                break;
            }
            let wait = Duration::from_millis(wait.unsigned_abs()).min(MAX_SLEEP);
            tokio::time::sleep(wait).await;
        }
        run_logged(&store, &job, clock.now_ms()).await;
    }
}

async fn run_logged(store: &Store, job: &Job, now: i64) {
    match run_once(store, job, None, None, true, now).await {
        Ok(o) => tracing::info!(
            file = %o.backup.path.display(),
            bytes = o.backup.size,
            copies = o.copies.len(),
            pruned = o.pruned.len(),
            "scheduled backup done"
        ),
        Err(e) => tracing::error!(error = %format!("{e:#}"), "SCHEDULED BACKUP FAILED"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn setup() -> (tempfile::TempDir, Store, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let store = crate::server::open_store(&data).expect("store");
        let pass = dir.path().join("pass");
        std::fs::write(&pass, "scheduler test passphrase\n").expect("write");
        (dir, store, pass)
    }

    #[test]
    fn next_run_follows_the_schedule() {
        let daily: CronSchedule = "30 1 * * *".parse().expect("cron");
        let t = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        assert_eq!(next_run_ms(&daily, t), Some(t + 90 * 60_000));
        assert_eq!(
            next_run_ms(&daily, t + 90 * 60_000),
            Some(t + 90 * 60_000 + 86_400_000)
        );
    }

    #[test]
    fn a_missed_slot_is_caught_up_once() {
        let daily: CronSchedule = "30 1 * * *".parse().expect("cron");
        let day = 86_400_000;
        let t = 1_767_225_600_000 + 90 * 60_000; // 2026-01-01T01:30Z, a slot
        assert!(
            !missed_run(&daily, None, t + 5 * day),
            "never backed up: wait for the slot"
        );
        assert!(
            !missed_run(&daily, Some(t), t + day - 1),
            "next slot not yet reached"
        );
        assert!(
            missed_run(&daily, Some(t), t + day + 60_000),
            "slot passed while down"
        );
    }

    #[tokio::test]
    async fn scheduler_runs_at_the_scheduled_minute_and_records_success() {
        let (dir, store, _) = setup();
        let data = dir.path().join("data");
        // A public key, not the passphrase: scrypt is tuned to take a second, longer on a busy CI box.
        let config = Config {
            backup_schedule: Some("* * * * *".into()),
            backup_recipients: vec![age::x25519::Identity::generate().to_public().to_string()],
            backup_destinations: vec![dir.path().join("nas")],
            ..Config::default()
        };
        // 200 ms before a minute boundary: the loop must wait, then fire once.
        let clock = ManualClock::new(1_767_225_600_000 - 200);
        let task = tokio::spawn(run_scheduler(
            store.clone(),
            config,
            data.clone(),
            clock.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(400)).await;
        clock.advance_ms(1_000);
        let mut found = Vec::new();
        for _ in 0..600 {
            found = std::fs::read_dir(dir.path().join("nas"))
                .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
                .unwrap_or_default();
            if !found.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        task.abort();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].to_str(),
            Some("shelfwarden-20260101-000000.swbak"),
            "named after the scheduled minute"
        );
        let h = store.read(status::health).await.expect("health");
        assert_eq!(h.state, "ok", "{h:?}");
    }

    #[tokio::test]
    async fn a_failed_backup_is_recorded() {
        let (dir, store, _) = setup();
        let job = Job {
            passphrase_file: Some(dir.path().join("missing")),
            ..Job::from_config(&Config::default(), dir.path().join("data"))
        };
        let err = run_once(&store, &job, None, None, false, 5_000)
            .await
            .expect_err("no key, no backup");
        assert!(format!("{err:#}").contains("passphrase"), "{err:#}");
        let h = store.read(status::health).await.expect("health");
        assert_eq!(h.state, "failing");
        assert_eq!(h.status.last_failure_ms, Some(5_000));
        let audited = store
            .read(|c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM audit_events WHERE action = 'backup.create'",
                    [],
                    |r| r.get::<_, i64>(0),
                )?)
            })
            .await
            .expect("audit");
        assert_eq!(audited, 1, "the failure is audited");
    }
}
