//! The first half of a scan: walk the library folders and decide, for every item found, whether
//! it is unchanged, a known item (matched by path, inode or fingerprint) or a new one.

use std::collections::HashSet;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::library::build::Identity;
use crate::library::identity::{Matcher, fingerprint};
use crate::library::layout::{ItemGroup, Stat, group, walk};
use crate::library::model::{FileKind, Library};
use crate::library::scan::ScanOptions;
use crate::store::{Store, StoreResult, items};

pub(crate) struct Found {
    pub folder: usize,
    pub group: ItemGroup,
    pub dir_stat: Stat,
    pub path: String,
    pub signature: String,
}

pub(crate) struct Job {
    pub found: usize,
    pub identity: Identity,
    pub is_new: bool,
}

pub(crate) struct Plan {
    pub found: Vec<Found>,
    pub jobs: Vec<Job>,
    /// Known items not found any more (and not already missing).
    pub gone: Vec<String>,
    pub walk_issues: Vec<(String, String)>,
    pub files: usize,
    pub unchanged: usize,
}

pub(crate) fn plan(
    store: &Store,
    library: &Library,
    opts: &ScanOptions,
    force: bool,
) -> StoreResult<Plan> {
    let mut files = 0;
    let mut unchanged = 0;
    let mut found = Vec::new();
    let mut walk_issues = Vec::new();
    let mut unavailable: Vec<String> = Vec::new();
    for (fi, folder) in library.folders.iter().enumerate() {
        let root = Path::new(&folder.path);
        // An unmounted share must not turn the whole library missing: skip the folder instead.
        if std::fs::read_dir(root).is_err() {
            walk_issues.push((
                folder.path.clone(),
                "Library folder is not available".into(),
            ));
            unavailable.push(format!("{}/", folder.path.trim_end_matches('/')));
            continue;
        }
        let w = walk(root);
        files += w.files.len();
        walk_issues.extend(
            w.errors
                .into_iter()
                .map(|(p, e)| (p.to_string_lossy().into_owned(), e)),
        );
        for g in group(w.files, library.settings.audiobooks_only) {
            let dir_stat = w.dirs.get(&g.rel).copied().unwrap_or_default();
            let path = root.join(&g.rel).to_string_lossy().into_owned();
            let signature = signature(library, opts, &g, dir_stat);
            found.push(Found {
                folder: fi,
                group: g,
                dir_stat,
                path,
                signature,
            });
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
            Some(k) if !force && !k.is_missing && k.signature == f.signature => unchanged += 1,
            Some(k) => jobs.push(Job {
                found: i,
                identity: Identity {
                    id: k.id,
                    book_id: k.book_id,
                    fingerprint: None,
                },
                is_new: false,
            }),
            None => pending.push(i),
        }
    }
    let mut unmatched = Vec::new();
    for i in pending {
        let f = &found[i];
        let ino = if f.group.is_file {
            f.group.files.first().map_or(0, |x| x.stat.ino)
        } else {
            f.dir_stat.ino
        };
        match matcher.take_by_ino(&ino.to_string(), &seen) {
            Some(k) => jobs.push(Job {
                found: i,
                identity: Identity {
                    id: k.id,
                    book_id: k.book_id,
                    fingerprint: None,
                },
                is_new: false,
            }),
            None => unmatched.push(i),
        }
    }
    let any_candidates = matcher.has_unclaimed(&seen);
    for i in unmatched {
        let f = &found[i];
        let audio: Vec<&Path> = f
            .group
            .files
            .iter()
            .filter(|x| x.kind == FileKind::Audio)
            .map(|x| x.path.as_path())
            .collect();
        let fp = if any_candidates {
            fingerprint(&audio).ok()
        } else {
            None
        };
        let known = fp
            .as_deref()
            .and_then(|fp| matcher.take_by_fingerprint(fp, &seen));
        let (identity, is_new) = match known {
            Some(k) => (
                Identity {
                    id: k.id,
                    book_id: k.book_id,
                    fingerprint: fp,
                },
                false,
            ),
            None => (
                Identity {
                    id: new_id(),
                    book_id: new_id(),
                    fingerprint: fp,
                },
                true,
            ),
        };
        jobs.push(Job {
            found: i,
            identity,
            is_new,
        });
    }
    let gone: Vec<String> = matcher
        .leftovers()
        .into_iter()
        .filter(|k| !k.is_missing && !unavailable.iter().any(|r| k.path.starts_with(r)))
        .map(|k| k.id)
        .collect();
    Ok(Plan {
        found,
        jobs,
        gone,
        walk_issues,
        files,
        unchanged,
    })
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Changes whenever anything the item is built from may have changed: any file's path, size,
/// mtime or inode, the folder's inode, or the settings that shape the merge.
fn signature(library: &Library, opts: &ScanOptions, g: &ItemGroup, dir: Stat) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(&library.settings.metadata_precedence).unwrap_or_default());
    h.update([
        u8::from(opts.parse_subtitle),
        u8::from(library.settings.audiobooks_only),
    ]);
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
