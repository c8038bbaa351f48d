//! A library scan: walk, match found items to known ones, re-read only what changed (in
//! parallel, bounded), and write in batched transactions. Blocking; async callers use
//! `spawn_blocking`. Bad files become issues; nothing here panics or writes to the library.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::clock::{Clock, SystemClock};
use crate::error::AppError;
use crate::library::build::{BuildInput, Built, Identity, build};
use crate::library::identity::{Matcher, fingerprint};
use crate::library::layout::{ItemGroup, Stat, group, walk};
use crate::library::model::FileKind;
use crate::library::model::{Library, ScanIssue};
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
        ScanOptions { data_dir: data_dir.to_path_buf(), parse_subtitle: false, threads: 0, force: false }
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
}

struct Found {
    folder: usize,
    group: ItemGroup,
    dir_stat: Stat,
    path: String,
    signature: String,
}

struct Job {
    found: usize,
    identity: Identity,
    is_new: bool,
}

/// Scans one library. `progress` is called from the calling thread only.
pub fn scan_library(
    store: &Store,
    library_id: &str,
    opts: &ScanOptions,
    progress: &dyn Fn(&ScanProgress),
) -> StoreResult<ScanSummary> {
    let started = Instant::now();
    let now = SystemClock.now_ms();
    let library = store
        .read_blocking(|c| libraries::get_library(c, library_id))?
        .ok_or_else(|| AppError::not_found_msg("library not found"))?;
    let report = |phase, done, total| {
        progress(&ScanProgress { library_id: library.id.clone(), phase, done, total })
    };
    report(ScanPhase::Walking, 0, 0);
    let precedence_changed = library
        .last_scan_precedence
        .as_ref()
        .is_some_and(|p| *p != library.settings.metadata_precedence);
    let force = opts.force || precedence_changed;

    let mut summary = ScanSummary::default();
    let mut found = Vec::new();
    let mut walk_issues = Vec::new();
    let mut seen_files: HashSet<String> = HashSet::new();
    for (fi, folder) in library.folders.iter().enumerate() {
        let root = Path::new(&folder.path);
        let w = walk(root);
        summary.files += w.files.len();
        seen_files.extend(w.files.iter().map(|f| f.path.to_string_lossy().into_owned()));
        walk_issues.extend(w.errors.into_iter().map(|(p, e)| (p.to_string_lossy().into_owned(), e)));
        for g in group(&w.files, library.settings.audiobooks_only) {
            let dir_stat = w.dirs.get(&g.rel).copied().unwrap_or_default();
            let path = root.join(&g.rel).to_string_lossy().into_owned();
            let signature = signature(&library, opts, &g, dir_stat);
            found.push(Found { folder: fi, group: g, dir_stat, path, signature });
        }
    }

    let known = store.read_blocking(|c| items::scan_index(c, &library.id))?;
    let mut matcher = Matcher::new(known);
    let seen_paths: HashSet<String> = found.iter().map(|f| f.path.clone()).collect();
    let seen = |p: &str| seen_paths.contains(p);
    let mut jobs = Vec::new();
    let mut pending = Vec::new();
    for (i, f) in found.iter().enumerate() {
        match matcher.take_by_path(&f.path) {
            Some(k) if !force && !k.is_missing && k.signature == f.signature => summary.unchanged += 1,
            Some(k) => jobs.push(Job { found: i, identity: Identity { id: k.id, book_id: k.book_id, fingerprint: None }, is_new: false }),
            None => pending.push(i),
        }
    }
    let mut unmatched = Vec::new();
    for i in pending {
        let f = &found[i];
        let ino = if f.group.is_file { f.group.files.first().map_or(0, |x| x.stat.ino) } else { f.dir_stat.ino };
        match matcher.take_by_ino(&ino.to_string(), &seen) {
            Some(k) => jobs.push(Job { found: i, identity: Identity { id: k.id, book_id: k.book_id, fingerprint: None }, is_new: false }),
            None => unmatched.push(i),
        }
    }
    let any_candidates = matcher.has_unclaimed(&seen);
    for i in unmatched {
        let f = &found[i];
        let audio: Vec<&Path> = f.group.files.iter().filter(|x| x.kind == FileKind::Audio).map(|x| x.path.as_path()).collect();
        let fp = if any_candidates { fingerprint(&audio).ok() } else { None };
        let known = fp.as_deref().and_then(|fp| matcher.take_by_fingerprint(fp, &seen));
        let (identity, is_new) = match known {
            Some(k) => (Identity { id: k.id, book_id: k.book_id, fingerprint: fp }, false),
            None => (Identity { id: new_id(), book_id: new_id(), fingerprint: fp }, true),
        };
        jobs.push(Job { found: i, identity, is_new });
    }
    let gone: Vec<String> = matcher.leftovers().into_iter().filter(|k| !k.is_missing).map(|k| k.id).collect();
    summary.missing = gone.len();

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
                if let Err(e) = write_batch(store, &library, &jobs, &found, &mut batch, &mut summary, &mut lost_media, now) {
                    write_result = Err(e);
                    break;
                }
                report(ScanPhase::Reading, done, total);
            }
        }
        if write_result.is_ok() {
            write_result = write_batch(store, &library, &jobs, &found, &mut batch, &mut summary, &mut lost_media, now);
        }
    });
    write_result?;

    summary.missing += lost_media.len();
    summary.issues += walk_issues.len();
    let precedence = library.settings.metadata_precedence.clone();
    store.write_blocking(|tx| {
        items::mark_missing(tx, &gone, now)?;
        items::mark_missing(tx, &lost_media, now)?;
        for (path, reason) in &walk_issues {
            let issue = ScanIssue { library_id: library.id.clone(), path: path.clone(), reason: reason.clone(), found_at: now };
            scan_issues::add_issue(tx, &issue)?;
        }
        let walk_paths: HashSet<&str> = walk_issues.iter().map(|(p, _)| p.as_str()).collect();
        scan_issues::retain_issues(tx, &library.id, &|p| seen_files.contains(p) || walk_paths.contains(p))?;
        items::prune_orphans(tx, &library.id)?;
        libraries::set_last_scan(tx, &library.id, now, env!("CARGO_PKG_VERSION"), &precedence)
    })?;
    summary.elapsed = started.elapsed();
    report(ScanPhase::Done, total, total);
    Ok(summary)
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn build_job(store: &Store, library: &Library, opts: &ScanOptions, f: &Found, job: &Job, now: i64) -> Built {
    let previous = if job.is_new || opts.force {
        Vec::new()
    } else {
        store.read_blocking(|c| items::audio_files_of(c, &job.identity.id)).unwrap_or_default()
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
                let issue = ScanIssue { library_id: library.id.clone(), path: path.clone(), reason: reason.clone(), found_at: now };
                scan_issues::add_issue(tx, &issue)?;
            }
            match built.item {
                Some(mut item) => {
                    if job.is_new {
                        summary.added += 1;
                    } else {
                        summary.updated += 1;
                    }
                    items::upsert_item(tx, &mut item, &f.signature)?;
                }
                None if !job.is_new => lost_media.push(job.identity.id.clone()),
                None => {}
            }
        }
        Ok(())
    })
}

/// Changes whenever anything the item is built from may have changed: any file's path, size,
/// mtime or inode, the folder's inode, or the settings that shape the merge.
fn signature(library: &Library, opts: &ScanOptions, g: &ItemGroup, dir: Stat) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(&library.settings.metadata_precedence).unwrap_or_default());
    h.update([u8::from(opts.parse_subtitle), u8::from(library.settings.audiobooks_only)]);
    h.update(g.rel.as_bytes());
    h.update(dir.ino.to_le_bytes());
    for f in &g.files {
        h.update(f.rel.as_bytes());
        h.update([0]);
        h.update(f.stat.size.to_le_bytes());
        h.update(f.stat.mtime_ms.to_le_bytes());
        h.update(f.stat.ino.to_le_bytes());
    }
    hex::encode(&h.finalize()[..16])
}
