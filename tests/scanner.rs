//! End-to-end scanner tests: generated libraries, a real SQLite file, the fixtures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use shelfwarden::library::generator::{GeneratedBook, LAYOUTS, generate_library};
use shelfwarden::library::model::{Item, LibrarySettings};
use shelfwarden::library::scan::{ScanOptions, ScanSummary, scan_library};
use shelfwarden::store::{Store, items, libraries, scan_issues};

struct Env {
    _tmp: tempfile::TempDir,
    lib_dir: PathBuf,
    data_dir: PathBuf,
    store: Store,
    library_id: String,
}

fn env(n_books: usize, seed: u64) -> (Env, Vec<GeneratedBook>) {
    let tmp = tempfile::tempdir().expect("tmp");
    let lib_dir = tmp.path().join("library");
    let data_dir = tmp.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("data");
    let books = generate_library(&lib_dir, n_books, seed).expect("generate");
    let store = Store::open(&data_dir.join("shelfwarden.sqlite")).expect("store");
    let folder = lib_dir.to_string_lossy().into_owned();
    let lib = store
        .write_blocking(|tx| {
            libraries::create_library(tx, "Books", &[folder], &LibrarySettings::default(), 1)
        })
        .expect("library");
    let e = Env {
        _tmp: tmp,
        lib_dir,
        data_dir,
        store,
        library_id: lib.id,
    };
    (e, books)
}

impl Env {
    fn scan(&self) -> ScanSummary {
        scan_library(
            &self.store,
            &self.library_id,
            &ScanOptions::new(&self.data_dir),
            &|_| {},
        )
        .expect("scan")
    }
    fn items(&self) -> Vec<Item> {
        self.store
            .read_blocking(|c| items::list_items(c, &self.library_id))
            .expect("items")
    }
    fn by_rel(&self) -> BTreeMap<String, Item> {
        self.items()
            .into_iter()
            .map(|i| (i.rel_path.clone(), i))
            .collect()
    }
}

#[test]
fn generated_library_scans_as_intended() {
    let (e, books) = env(2 * LAYOUTS, 7);
    let s = e.scan();
    assert_eq!(
        (s.added, s.updated, s.missing, s.issues),
        (books.len(), 0, 0, 0),
        "{s:?}"
    );
    let items = e.by_rel();
    assert_eq!(items.len(), books.len());
    for b in &books {
        let item = items
            .get(&b.rel)
            .unwrap_or_else(|| panic!("no item for {}", b.rel));
        let m = &item.metadata;
        let ctx = format!("layout {} {}", b.layout, b.rel);
        assert_eq!(m.title, b.title, "{ctx}");
        let authors: Vec<&str> = m.authors.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(authors, b.authors, "{ctx}");
        assert!(m.authors.iter().all(|a| !a.id.is_empty()), "{ctx}");
        assert_eq!(m.narrators, b.narrators, "{ctx}");
        let series = m
            .series
            .first()
            .map(|s| (s.name.clone(), s.sequence.clone().unwrap_or_default()));
        assert_eq!(series, b.series, "{ctx}");
        assert_eq!(m.published_year, b.published_year, "{ctx}");
        assert_eq!(m.asin, b.asin, "{ctx}");
        assert_eq!(
            item.chapters.len(),
            b.chapters,
            "{ctx}: {:?}",
            item.chapters
        );
        assert!(
            (item.duration - b.duration).abs() < 0.3,
            "{ctx}: {}",
            item.duration
        );
        assert_eq!(item.cover_path.is_some(), b.has_cover, "{ctx}");
        if let Some(c) = &item.cover_path {
            assert!(Path::new(c).is_file(), "{ctx}");
        }
        assert_eq!(item.is_file, b.layout == 5, "{ctx}");
        assert!(!item.fingerprint.is_empty(), "{ctx}");
    }
    // Layout-specific details.
    let desc = books
        .iter()
        .find(|b| b.layout == 6)
        .and_then(|b| items.get(&b.rel))
        .expect("layout 6");
    assert_eq!(
        desc.metadata
            .description
            .as_deref()
            .map(|d| d.contains("script")),
        Some(false)
    );
    assert_eq!(desc.chapters[1].title, "Second");
    let mp3 = books
        .iter()
        .find(|b| b.layout == 1)
        .and_then(|b| items.get(&b.rel))
        .expect("layout 1");
    let order: Vec<&str> = mp3
        .audio_files
        .iter()
        .map(|a| a.metadata.filename.as_str())
        .collect();
    assert_eq!(order, ["part1.mp3", "part2.mp3", "part3.mp3"]);
    assert_eq!(mp3.chapters[2].title, "Part 3");
    assert!((mp3.chapters[2].start - 6.0).abs() < 0.3);
    let json = books
        .iter()
        .find(|b| b.layout == 7)
        .and_then(|b| items.get(&b.rel))
        .expect("layout 7");
    assert_eq!(json.metadata.genres, ["Generated"]);
    assert_eq!(json.tags, ["gen"]);
    let full = e
        .store
        .read_blocking(|c| items::get_item(c, &json.id))
        .expect("get")
        .expect("some");
    assert_eq!(&full, json);
}

fn tree_state(root: &Path) -> BTreeMap<PathBuf, (String, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = entry.path();
            let md = std::fs::symlink_metadata(&p).expect("md");
            if md.is_dir() {
                stack.push(p);
            } else {
                let hash = hex::encode(Sha256::digest(std::fs::read(&p).expect("read")));
                out.insert(p, (hash, md.modified().expect("mtime")));
            }
        }
    }
    out
}

#[test]
fn rescan_is_incremental_and_library_is_untouched() {
    let (e, books) = env(LAYOUTS, 11);
    let before = tree_state(&e.lib_dir);
    let first = e.scan();
    assert_eq!(first.added, books.len());
    let second = e.scan();
    assert_eq!(
        (second.added, second.updated, second.unchanged),
        (0, 0, books.len()),
        "{second:?}"
    );
    assert_eq!(
        tree_state(&e.lib_dir),
        before,
        "the scan changed a library file"
    );
    assert!(!e.data_dir.join("covers").starts_with(&e.lib_dir));
}

#[test]
fn rename_and_move_keep_ids() {
    let (e, books) = env(LAYOUTS, 3);
    e.scan();
    let ids: BTreeMap<String, String> = e
        .items()
        .into_iter()
        .map(|i| (i.metadata.title, i.id))
        .collect();
    let b0 = books.iter().find(|b| b.layout == 0).expect("layout 0");
    let b5 = books.iter().find(|b| b.layout == 5).expect("layout 5");
    // Rename a book folder, move another into a new author folder, rename a single file.
    let renamed = format!("{} (renamed)", b0.rel);
    std::fs::rename(e.lib_dir.join(&b0.rel), e.lib_dir.join(&renamed)).expect("rename");
    let b2 = books.iter().find(|b| b.layout == 2).expect("layout 2");
    std::fs::create_dir_all(e.lib_dir.join("Someone Else")).expect("mkdir");
    let moved = format!("Someone Else/{}", b2.rel.rsplit('/').next().unwrap_or(""));
    std::fs::rename(e.lib_dir.join(&b2.rel), e.lib_dir.join(&moved)).expect("move");
    std::fs::rename(e.lib_dir.join(&b5.rel), e.lib_dir.join("Renamed File.opus"))
        .expect("rename file");
    let s = e.scan();
    assert_eq!((s.added, s.missing), (0, 0), "{s:?}");
    let after = e.by_rel();
    assert_eq!(after.len(), books.len());
    assert_eq!(after[&renamed].id, ids[&b0.title]);
    assert_eq!(after[&moved].id, ids[&b2.title]);
    // Tags outrank the folder by default, so the author stays the tagged one.
    assert_eq!(after[&moved].metadata.authors[0].name, b2.authors[0]);
    assert_eq!(after["Renamed File.opus"].id, ids[&b5.title]);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let p = entry.path();
        let dest = to.join(entry.file_name());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).expect("copy");
        }
    }
}

#[test]
fn remount_with_new_inodes_keeps_ids_and_missing_items_come_back() {
    let (e, books) = env(LAYOUTS, 5);
    e.scan();
    let ids: BTreeMap<String, String> = e.items().into_iter().map(|i| (i.rel_path, i.id)).collect();
    // Copies get new inodes everywhere: the old tree goes away, the new one takes its place.
    let copy = e.lib_dir.with_file_name("copy");
    copy_dir(&e.lib_dir, &copy);
    // An unavailable library folder (unmounted share) marks nothing missing.
    std::fs::rename(&e.lib_dir, e.lib_dir.with_file_name("original")).expect("rename");
    let s = e.scan();
    assert_eq!((s.missing, s.issues), (0, 1), "{s:?}");
    assert!(e.items().iter().all(|i| !i.is_missing));
    let issues = e
        .store
        .read_blocking(|c| scan_issues::list_issues(c, &e.library_id))
        .expect("issues");
    assert_eq!(issues.len(), 1, "{issues:?}");
    // An empty folder does: the books are gone.
    std::fs::create_dir_all(&e.lib_dir).expect("mkdir");
    let s = e.scan();
    assert_eq!(s.missing, books.len(), "{s:?}");
    assert!(e.items().iter().all(|i| i.is_missing));
    std::fs::remove_dir_all(&e.lib_dir).expect("rm");
    std::fs::remove_dir_all(e.lib_dir.with_file_name("original")).expect("rm");
    std::fs::rename(&copy, &e.lib_dir).expect("rename");
    let s = e.scan();
    assert_eq!((s.added, s.missing), (0, 0), "{s:?}");
    let after: BTreeMap<String, String> =
        e.items().into_iter().map(|i| (i.rel_path, i.id)).collect();
    assert_eq!(after, ids);
    assert!(e.items().iter().all(|i| !i.is_missing));
    // Same content at a new place in a remounted tree: the fingerprint finds it.
    let b = books.iter().find(|b| b.layout == 1).expect("layout 1");
    let new_rel = "Elsewhere/Some Series/Vol 1 - Moved";
    copy_dir(&e.lib_dir.join(&b.rel), &e.lib_dir.join(new_rel));
    std::fs::remove_dir_all(e.lib_dir.join(&b.rel)).expect("rm");
    let s = e.scan();
    assert_eq!((s.added, s.missing), (0, 0), "{s:?}");
    assert_eq!(e.by_rel()[new_rel].id, ids[&b.rel]);
}

#[test]
fn corrupt_files_become_issues_and_the_scan_goes_on() {
    let (e, books) = env(LAYOUTS, 9);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio");
    let b1 = books.iter().find(|b| b.layout == 1).expect("layout 1");
    std::fs::copy(
        fixtures.join("corrupt.mp3"),
        e.lib_dir.join(&b1.rel).join("part9.mp3"),
    )
    .expect("copy");
    std::fs::create_dir_all(e.lib_dir.join("Bad/Only Garbage")).expect("mkdir");
    std::fs::copy(
        fixtures.join("corrupt.mp3"),
        e.lib_dir.join("Bad/Only Garbage/x.mp3"),
    )
    .expect("copy");
    std::fs::write(
        e.lib_dir.join("Bad/Only Garbage/y.m4b"),
        b"\0\0\0\x18ftypM4B garbage",
    )
    .expect("write");
    let s = e.scan();
    assert_eq!(s.added, books.len(), "{s:?}");
    assert_eq!(s.issues, 3, "{s:?}");
    let issues = e
        .store
        .read_blocking(|c| scan_issues::list_issues(c, &e.library_id))
        .expect("issues");
    assert_eq!(issues.len(), 3);
    assert!(issues.iter().all(|i| !i.reason.is_empty()));
    let item = &e.by_rel()[&b1.rel];
    assert_eq!(item.audio_files.len(), 3);
    // Fixing the library clears the issues.
    std::fs::remove_dir_all(e.lib_dir.join("Bad")).expect("rm");
    std::fs::remove_file(e.lib_dir.join(&b1.rel).join("part9.mp3")).expect("rm");
    e.scan();
    let issues = e
        .store
        .read_blocking(|c| scan_issues::list_issues(c, &e.library_id))
        .expect("issues");
    assert!(issues.is_empty(), "{issues:?}");
}

#[test]
fn fixtures_scan_directly() {
    let tmp = tempfile::tempdir().expect("tmp");
    let lib = tmp.path().join("lib");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio");
    copy_dir(&fixtures, &lib.join("Fixture Author/Fixture Book"));
    std::fs::remove_file(lib.join("Fixture Author/Fixture Book/README.md")).expect("rm");
    let store = Store::open(&tmp.path().join("db.sqlite")).expect("store");
    let folder = lib.to_string_lossy().into_owned();
    let l = store
        .write_blocking(|tx| {
            libraries::create_library(tx, "F", &[folder], &LibrarySettings::default(), 1)
        })
        .expect("lib");
    let s = scan_library(&store, &l.id, &ScanOptions::new(tmp.path()), &|_| {}).expect("scan");
    assert_eq!((s.added, s.issues), (1, 1), "{s:?}");
    let items = store
        .read_blocking(|c| items::list_items(c, &l.id))
        .expect("items");
    let item = &items[0];
    assert_eq!(item.audio_files.len(), 8);
    assert!(
        item.cover_path
            .as_deref()
            .is_some_and(|c| c.ends_with("cover.jpg"))
    );
    let authors = store
        .read_blocking(|c| items::list_authors(c, &l.id))
        .expect("authors");
    assert!(!authors.is_empty());
}

#[test]
fn cli_scan_creates_the_library_once() {
    let tmp = tempfile::tempdir().expect("tmp");
    let lib = tmp.path().join("My Books");
    let data = tmp.path().join("data");
    generate_library(&lib, 3, 1).expect("generate");
    shelfwarden::cli::scan::run(&data, Some(&lib)).expect("scan");
    shelfwarden::cli::scan::run(&data, Some(&lib)).expect("rescan");
    shelfwarden::cli::scan::run(&data, None).expect("scan all");
    let store = Store::open(&data.join("shelfwarden.sqlite")).expect("store");
    let libs = store
        .read_blocking(libraries::list_libraries)
        .expect("list");
    assert_eq!(libs.len(), 1);
    assert_eq!(libs[0].name, "My Books");
    assert!(libs[0].last_scan.is_some());
    let n = store
        .read_blocking(|c| items::count_items(c, &libs[0].id))
        .expect("count");
    assert_eq!(n, 3);
    assert!(shelfwarden::cli::scan::run(&data, Some(&tmp.path().join("nope"))).is_err());
}
