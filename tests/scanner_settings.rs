//! Library settings that change what a scan produces: metadata precedence and audiobooks-only.

use std::path::Path;

use shelfwarden::library::generator::generate_library;
use shelfwarden::library::model::{Item, LibrarySettings, MetadataSource};
use shelfwarden::library::scan::{ScanOptions, scan_library};
use shelfwarden::store::{Store, items, libraries};

fn setup(lib: &Path, db: &Path) -> (Store, String) {
    let store = Store::open(db).expect("store");
    let folder = lib.to_string_lossy().into_owned();
    let l = store
        .write_blocking(|tx| {
            libraries::create_library(tx, "L", &[folder], &LibrarySettings::default(), 1)
        })
        .expect("library");
    (store, l.id)
}

fn scan_items(store: &Store, id: &str, data: &Path) -> Vec<Item> {
    scan_library(store, id, &ScanOptions::new(data), &|_| {}).expect("scan");
    store
        .read_blocking(|c| items::list_items(c, id))
        .expect("items")
}

#[test]
fn changing_precedence_re_merges_every_item() {
    let tmp = tempfile::tempdir().expect("tmp");
    let lib = tmp.path().join("lib");
    let books = generate_library(&lib, 1, 2).expect("generate");
    // The folder says one title, the tags another.
    let renamed = format!("{}/Folder Title", books[0].authors[0]);
    std::fs::rename(lib.join(&books[0].rel), lib.join(&renamed)).expect("rename");
    let (store, id) = setup(&lib, &tmp.path().join("db.sqlite"));
    let first = scan_items(&store, &id, tmp.path());
    assert_eq!(first[0].metadata.title, books[0].title);

    let mut l = store
        .read_blocking(|c| libraries::get_library(c, &id))
        .expect("get")
        .expect("some");
    l.settings.metadata_precedence = vec![
        MetadataSource::AudioMetatags,
        MetadataSource::FolderStructure,
    ];
    store
        .write_blocking(|tx| libraries::update_library(tx, &l, 2))
        .expect("update");
    let second = scan_items(&store, &id, tmp.path());
    assert_eq!(second[0].id, first[0].id);
    assert_eq!(second[0].metadata.title, "Folder Title");
}

#[test]
fn ebooks_are_items_unless_audiobooks_only() {
    let tmp = tempfile::tempdir().expect("tmp");
    let lib = tmp.path().join("lib");
    std::fs::create_dir_all(lib.join("Ann Author/Paper Book")).expect("mkdir");
    std::fs::write(
        lib.join("Ann Author/Paper Book/book.epub"),
        b"PK not really",
    )
    .expect("w");
    std::fs::write(lib.join("Ann Author/Paper Book/extra.pdf"), b"%PDF").expect("w");
    let (store, id) = setup(&lib, &tmp.path().join("db.sqlite"));
    let found = scan_items(&store, &id, tmp.path());
    assert_eq!(found.len(), 1);
    let item = &found[0];
    assert_eq!(item.metadata.title, "Paper Book");
    assert_eq!(item.metadata.authors[0].name, "Ann Author");
    let ebook = item.ebook_file.as_ref().expect("ebook");
    assert_eq!(ebook.ebook_format, "epub");
    let supplementary: Vec<_> = item
        .library_files
        .iter()
        .filter(|f| f.is_supplementary == Some(true))
        .map(|f| f.metadata.filename.as_str())
        .collect();
    assert_eq!(supplementary, ["extra.pdf"]);

    let mut l = store
        .read_blocking(|c| libraries::get_library(c, &id))
        .expect("get")
        .expect("some");
    l.settings.audiobooks_only = true;
    store
        .write_blocking(|tx| libraries::update_library(tx, &l, 2))
        .expect("update");
    let s = scan_library(&store, &id, &ScanOptions::new(tmp.path()), &|_| {}).expect("scan");
    assert_eq!(s.missing, 1, "{s:?}");
}
