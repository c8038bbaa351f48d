//! A library scan: walk, match found items to known ones, re-read only what changed (in
//! parallel, bounded), and write in batched transactions. Blocking; async callers use
//! `spawn_blocking`. Bad files become issues; nothing here panics or writes to the library.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::clock::{Clock, SystemClock};
use crate::error::AppError;
use crate::library::build::{BuildInput, Built, build};
use crate::library::model::{Library, ScanIssue};
use crate::library::plan::{Found, Job, Plan, plan};
use crate::store::{Store, StoreResult, items, libraries, scan_issues};

/// Items written per transaction: large enough to amortise commits, small enough that readers
/// (the API) never wait long for the writer.
const BATCH: usize = 200;

#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Where extracted covers go (`DATA/covers`).
    pub data_dir: PathBuf,
    /// ABS's server setting `scannerParseSubtitle`.
    pub parse_subtitle: bool,
    /// Parallel probes; 0 means one per CPU.
    pub threads: usize,
    /// Re-read every item even when its files look unchanged.
    pub force: bool,
}

impl ScanOptions {
    pub fn new(data_dir: &Path) -> ScanOptions {
        ScanOptions {
            data_dir: data_dir.to_path_buf(),
            parse_subtitle: false,
            threads: 0,
            force: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanPhase {
    Walking,
    Reading,
    Done,
}

#[derive(Debug, Clone)]
pub struct ScanProgress {
    pub library_id: String,
    pub phase: ScanPhase,
    /// Items read so far and to read in this phase.
    pub done: usize,
    pub total: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanSummary {
    pub added: usize,
    pub updated: usize,
    pub missing: usize,
    pub unchanged: usize,
    pub issues: usize,
    /// Files seen by the walk.
    pub files: usize,
    pub elapsed: Duration,
    /// Which items changed, for the `items_added`/`items_updated` events listeners receive.
    pub added_ids: Vec<String>,
    pub updated_ids: Vec<String>,
    pub missing_ids: Vec<String>,
}

/// Libraries with a scan in progress in this process. Two scans of one library (watcher and
/// admin at once) would race to add the same new folders.
static RUNNING: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct RunningGuard(String);

impl RunningGuard {
    fn acquire(library_id: &str) -> StoreResult<RunningGuard> {
        let mut running = RUNNING
            .lock()
            .map_err(|_| AppError::internal("scan registry poisoned"))?;
        if running.iter().any(|id| id == library_id) {
            return Err(AppError::bad_request("Library is already being scanned"));
        }
        running.push(library_id.to_string());
        Ok(RunningGuard(library_id.to_string()))
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        if let Ok(mut running) = RUNNING.lock() {
            running.retain(|id| *id != self.0);
        }
    }
}

/// Whether a scan of the library is running in this process.
pub fn is_scanning(library_id: &str) -> bool {
    RUNNING
        .lock()
        .is_ok_and(|r| r.iter().any(|id| id == library_id))
}

/// Scans one library; fails with 400 if it is already being scanned. `progress` is called from
/// the calling thread only.
pub fn scan_library(
    store: &Store,
    library_id: &str,
    opts: &ScanOptions,
    progress: &dyn Fn(&ScanProgress),
) -> StoreResult<ScanSummary> {
    let _guard = RunningGuard::acquire(library_id)?;
    let started = Instant::now();
    let now = SystemClock.now_ms();
    let library = store
        .read_blocking(|c| libraries::get_library(c, library_id))?
        .ok_or_else(|| AppError::not_found_msg("library not found"))?;
    let report = |phase, done, total| {
        progress(&ScanProgress {
            library_id: library.id.clone(),
            phase,
            done,
            total,
        })
    };
    report(ScanPhase::Walking, 0, 0);
    let precedence_changed = library
        .last_scan_precedence
        .as_ref()
        .is_some_and(|p| *p != library.settings.metadata_precedence);
    let force = opts.force || precedence_changed;

    let Plan {
        found,
        jobs,
        gone,
        walk_issues,
        files,
        unchanged,
    } = plan(store, &library, opts, force)?;
    let mut summary = ScanSummary {
        files,
        unchanged,
        missing: gone.len(),
        ..ScanSummary::default()
    };

    let total = jobs.len();
    report(ScanPhase::Reading, 0, total);
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    }
    .min(total.max(1));
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<(usize, Built)>(BATCH);
    let mut write_result: StoreResult<()> = Ok(());
    let mut lost_media = Vec::new();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (jobs, found, next, library) = (&jobs, &found, &next, &library);
            s.spawn(move || {
                loop {
                    let j = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(j) else { break };
                    let built = build_job(store, library, opts, &found[job.found], job, now);
                    if tx.send((j, built)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut batch = Vec::with_capacity(BATCH);
        let mut done = 0;
        for (j, built) in rx {
            batch.push((j, built));
            if batch.len() >= BATCH {
                done += batch.len();
                if let Err(e) = write_batch(
                    store,
                    &library,
                    &jobs,
                    &found,
                    &mut batch,
                    &mut summary,
                    &mut lost_media,
                    now,
                ) {
                    write_result = Err(e);
                    break;
                }
                report(ScanPhase::Reading, done, total);
            }
        }
        if write_result.is_ok() {
            write_result = write_batch(
                store,
                &library,
                &jobs,
                &found,
                &mut batch,
                &mut summary,
                &mut lost_media,
                now,
            );
        }
    });
    write_result?;

    summary.missing += lost_media.len();
    summary.missing_ids = gone.iter().chain(&lost_media).cloned().collect();
    summary.issues += walk_issues.len();
    let precedence = library.settings.metadata_precedence.clone();
    store.write_blocking(|tx| {
        items::mark_missing(tx, &gone, now)?;
        items::mark_missing(tx, &lost_media, now)?;
        for (path, reason) in &walk_issues {
            let issue = ScanIssue {
                library_id: library.id.clone(),
                path: path.clone(),
                reason: reason.clone(),
                found_at: now,
            };
            scan_issues::add_issue(tx, &issue)?;
        }
        // Issues are few; asking the filesystem beats holding every walked path in memory.
        scan_issues::retain_issues(tx, &library.id, &|p| {
            Path::new(p).exists() || walk_issues.iter().any(|(w, _)| w == p)
        })?;
        items::prune_orphans(tx, &library.id)?;
        libraries::set_last_scan(tx, &library.id, now, env!("CARGO_PKG_VERSION"), &precedence)
    })?;
    summary.elapsed = started.elapsed();
    report(ScanPhase::Done, total, total);
    Ok(summary)
}

fn build_job(
    store: &Store,
    library: &Library,
    opts: &ScanOptions,
    f: &Found,
    job: &Job,
    now: i64,
) -> Built {
    let previous = if job.is_new || opts.force {
        Vec::new()
    } else {
        store
            .read_blocking(|c| items::audio_files_of(c, &job.identity.id))
            .unwrap_or_default()
    };
    let folder = &library.folders[f.folder];
    build(BuildInput {
        library,
        folder_id: &folder.id,
        folder_path: Path::new(&folder.path),
        group: &f.group,
        dir_stat: f.dir_stat,
        identity: job.identity.clone(),
        previous,
        data_dir: &opts.data_dir,
        parse_subtitle: opts.parse_subtitle,
        now,
    })
}

#[allow(clippy::too_many_arguments)]
fn write_batch(
    store: &Store,
    library: &Library,
    jobs: &[Job],
    found: &[Found],
    batch: &mut Vec<(usize, Built)>,
    summary: &mut ScanSummary,
    lost_media: &mut Vec<String>,
    now: i64,
) -> StoreResult<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let taken = std::mem::take(batch);
    store.write_blocking(|tx| {
        for (j, built) in taken {
            let job = &jobs[j];
            let f = &found[job.found];
            scan_issues::clear_issues_under(tx, &library.id, &f.path)?;
            for (path, reason) in &built.issues {
                summary.issues += 1;
                let issue = ScanIssue {
                    library_id: library.id.clone(),
                    path: path.clone(),
                    reason: reason.clone(),
                    found_at: now,
                };
                scan_issues::add_issue(tx, &issue)?;
            }
            match built.item {
                Some(mut item) => {
                    items::upsert_item(tx, &mut item, &f.signature)?;
                    if job.is_new {
                        summary.added += 1;
                        summary.added_ids.push(item.id.clone());
                    } else {
                        summary.updated += 1;
                        summary.updated_ids.push(item.id.clone());
                    }
                }
                None if !job.is_new => lost_media.push(job.identity.id.clone()),
                None => {}
            }
        }
        Ok(())
    })
}
