//! From a library folder on disk to item directories (abs-internals §2.1–2.2): which files count,
//! which are ignored, and how media files group into items. The walk uses `std::fs` only, never
//! opens file contents, and does not follow symlinks that lead outside the library folder.

use std::collections::{BTreeMap, HashSet};
use std::fs::Metadata;
use std::path::{Path, PathBuf};

use crate::library::grammar::is_disc_folder;
use crate::library::model::FileKind;

const AUDIO: &[&str] = &[
    "m4b", "mp3", "m4a", "flac", "opus", "ogg", "oga", "mp4", "aac", "wma", "aiff", "aif", "wav",
    "webm", "webma", "mka", "awb", "caf", "mpg", "mpeg",
];
const EBOOK: &[&str] = &["epub", "pdf", "mobi", "azw3", "cbr", "cbz"];
const IMAGE: &[&str] = &["png", "jpg", "jpeg", "webp"];
const TEXT: &[&str] = &["txt", "nfo"];
const METADATA: &[&str] = &["opf", "abs", "xml", "json"];
const IGNORED_EXT: &[&str] = &[
    "part",
    "tmp",
    "crdownload",
    "download",
    "bak",
    "old",
    "temp",
    "tempfile",
    "tempfile~",
];

/// Lower-case extension without the dot.
pub fn ext_of(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_ascii_lowercase(),
        _ => String::new(),
    }
}

pub fn kind_of(name: &str) -> FileKind {
    let ext = ext_of(name);
    let e = ext.as_str();
    if AUDIO.contains(&e) {
        FileKind::Audio
    } else if EBOOK.contains(&e) {
        FileKind::Ebook
    } else if IMAGE.contains(&e) {
        FileKind::Image
    } else if TEXT.contains(&e) {
        FileKind::Text
    } else if METADATA.contains(&e) {
        FileKind::Metadata
    } else {
        FileKind::Unknown
    }
}

/// A path component or file name that ABS never looks at.
pub fn is_ignored_name(name: &str) -> bool {
    name.starts_with('.') || name.contains("@eaDir") || IGNORED_EXT.contains(&ext_of(name).as_str())
}

/// One file found by the walk. `rel` is relative to the library folder, `/`-separated.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundFile {
    pub rel: String,
    pub path: PathBuf,
    pub kind: FileKind,
    pub stat: Stat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stat {
    pub ino: u64,
    pub size: u64,
    pub mtime_ms: i64,
    pub ctime_ms: i64,
    pub birthtime_ms: i64,
}

impl Stat {
    pub fn of(md: &Metadata) -> Stat {
        use std::os::unix::fs::MetadataExt;
        Stat {
            ino: md.ino(),
            size: md.len(),
            mtime_ms: md.mtime() * 1000 + md.mtime_nsec() / 1_000_000,
            ctime_ms: md.ctime() * 1000 + md.ctime_nsec() / 1_000_000,
            birthtime_ms: md
                .created()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_millis() as i64),
        }
    }
}

/// Everything the walk saw: files and directory stats (for item folder inodes and times).
#[derive(Debug, Default)]
pub struct Walk {
    pub files: Vec<FoundFile>,
    pub dirs: BTreeMap<String, Stat>,
    /// Unreadable directories, with the reason.
    pub errors: Vec<(PathBuf, String)>,
}

/// Lists a library folder recursively with the ignore rules applied.
pub fn walk(root: &Path) -> Walk {
    let mut out = Walk::default();
    let canon_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                out.errors.push((dir, e.to_string()));
                continue;
            }
        };
        let mut listed = Vec::new();
        for entry in entries.flatten() {
            listed.push(entry);
        }
        if listed.iter().any(|e| e.file_name() == ".ignore") {
            continue;
        }
        for entry in listed {
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                out.errors
                    .push((entry.path(), "file name is not UTF-8".into()));
                continue;
            };
            if is_ignored_name(&name) {
                continue;
            }
            let path = entry.path();
            let Some(md) = resolve(&path, &canon_root) else {
                continue;
            };
            let child_rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if md.is_dir() {
                out.dirs.insert(child_rel.clone(), Stat::of(&md));
                stack.push((path, child_rel));
            } else if md.is_file() {
                out.files.push(FoundFile {
                    kind: kind_of(&name),
                    rel: child_rel,
                    path,
                    stat: Stat::of(&md),
                });
            }
        }
    }
    out.files.sort_by(|a, b| a.rel.cmp(&b.rel));
    out
}

/// Metadata of an entry. A symlinked file counts only when its target lies inside the library
/// root; symlinked directories are never entered: inside the root they would list files twice
/// (or loop), outside it they would leak files the admin did not share.
fn resolve(path: &Path, canon_root: &Path) -> Option<Metadata> {
    let md = std::fs::symlink_metadata(path).ok()?;
    if !md.file_type().is_symlink() {
        return Some(md);
    }
    let target = std::fs::canonicalize(path).ok()?;
    if !target.starts_with(canon_root) {
        return None;
    }
    let md = std::fs::metadata(&target).ok()?;
    md.is_file().then_some(md)
}

/// An item directory (or single file) and the files that belong to it.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemGroup {
    /// Relative to the library folder; for single-file items, the file's own path.
    pub rel: String,
    pub is_file: bool,
    pub files: Vec<FoundFile>,
}

/// Groups walked files into items as ABS does: the shallowest directory already holding media
/// wins, else the deepest; disc folders fold into their parent; media in the root are items.
/// Takes the files by value so a large library is never held twice.
pub fn group(mut files: Vec<FoundFile>, audiobooks_only: bool) -> Vec<ItemGroup> {
    let is_media = |f: &FoundFile| {
        f.kind == FileKind::Audio || (!audiobooks_only && f.kind == FileKind::Ebook)
    };
    let depth = |f: &FoundFile| f.rel.bytes().filter(|&b| b == b'/').count();
    files.sort_by(|a, b| depth(a).cmp(&depth(b)).then_with(|| a.rel.cmp(&b.rel)));
    // Group key per file: (key, is_file); media first, shallowest first, as the rule needs.
    let mut keys: Vec<Option<(String, bool)>> = vec![None; files.len()];
    let mut dir_groups: HashSet<String> = HashSet::new();
    for (i, f) in files.iter().enumerate().filter(|(_, f)| is_media(f)) {
        let Some((dir, _)) = f.rel.rsplit_once('/') else {
            keys[i] = Some((f.rel.clone(), true));
            continue;
        };
        let dir = match dir.rsplit_once('/') {
            Some((parent, last)) if is_disc_folder(last) => parent,
            _ => dir,
        };
        let key = prefixes(dir)
            .into_iter()
            .find(|p| dir_groups.contains(*p))
            .unwrap_or(dir)
            .to_string();
        dir_groups.insert(key.clone());
        keys[i] = Some((key, false));
    }
    for (i, f) in files.iter().enumerate().filter(|(_, f)| !is_media(f)) {
        if let Some((dir, _)) = f.rel.rsplit_once('/')
            && let Some(p) = prefixes(dir)
                .into_iter()
                .rev()
                .find(|p| dir_groups.contains(*p))
        {
            keys[i] = Some((p.to_string(), false));
        }
    }
    let mut groups: BTreeMap<(String, bool), Vec<FoundFile>> = BTreeMap::new();
    for (f, key) in files.into_iter().zip(keys) {
        if let Some(k) = key {
            groups.entry(k).or_default().push(f);
        }
    }
    groups
        .into_iter()
        .map(|((rel, is_file), mut files)| {
            files.sort_by(|a, b| a.rel.cmp(&b.rel));
            ItemGroup {
                rel,
                is_file,
                files,
            }
        })
        .collect()
}

/// `a`, `a/b`, `a/b/c` for `a/b/c`, shallowest first.
fn prefixes(dir: &str) -> Vec<&str> {
    let mut out: Vec<&str> = dir.match_indices('/').map(|(i, _)| &dir[..i]).collect();
    out.push(dir);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(rel: &str) -> FoundFile {
        FoundFile {
            rel: rel.into(),
            path: PathBuf::from(rel),
            kind: kind_of(rel),
            stat: Stat::default(),
        }
    }

    fn groups(rels: &[&str]) -> Vec<(String, bool, Vec<String>)> {
        let files: Vec<FoundFile> = rels.iter().map(|r| f(r)).collect();
        group(files, false)
            .into_iter()
            .map(|g| {
                (
                    g.rel,
                    g.is_file,
                    g.files.into_iter().map(|f| f.rel).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn grouping_follows_abs() {
        let g = groups(&[
            "Root Book.m4b",
            "A/T/01.mp3",
            "A/T/02.mp3",
            "A/T/cover.jpg",
            "A/S/Vol 1 - X/CD1/a.mp3",
            "A/S/Vol 1 - X/CD2/b.mp3",
            "A/S/Vol 1 - X/desc.txt",
            "Empty/cover.jpg",
            "A/E/book.epub",
            "notes.txt",
        ]);
        let rels: Vec<&str> = g.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(rels, ["A/E", "A/S/Vol 1 - X", "A/T", "Root Book.m4b"]);
        assert_eq!(g[1].2.len(), 3);
        assert_eq!(g[2].2, ["A/T/01.mp3", "A/T/02.mp3", "A/T/cover.jpg"]);
        assert!(g[3].1);
    }

    #[test]
    fn shallowest_media_dir_wins() {
        let g = groups(&["A/loose.mp3", "A/T/01.mp3"]);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].0, "A");
    }

    #[test]
    fn ignore_rules() {
        assert!(is_ignored_name(".hidden"));
        assert!(is_ignored_name("x.part"));
        assert!(is_ignored_name("@eaDir"));
        assert!(!is_ignored_name("book.mp3"));
    }

    #[test]
    fn walk_skips_ignored_and_outside_links() {
        let tmp = tempfile::tempdir().expect("tmp");
        let lib = tmp.path().join("lib");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(lib.join("A/T")).expect("mk");
        std::fs::create_dir_all(lib.join("A/Skip")).expect("mk");
        std::fs::create_dir_all(lib.join(".hid")).expect("mk");
        std::fs::create_dir_all(&outside).expect("mk");
        for p in [
            "A/T/1.mp3",
            "A/Skip/1.mp3",
            "A/Skip/.ignore",
            ".hid/x.mp3",
            "A/T/x.tmp",
        ] {
            std::fs::write(lib.join(p), b"x").expect("write");
        }
        std::fs::write(outside.join("o.mp3"), b"x").expect("write");
        std::os::unix::fs::symlink(&outside, lib.join("A/out")).expect("link");
        std::os::unix::fs::symlink(lib.join("A"), lib.join("A/T/loop")).expect("link");
        let w = walk(&lib);
        let rels: Vec<&str> = w.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["A/T/1.mp3"]);
    }
}
