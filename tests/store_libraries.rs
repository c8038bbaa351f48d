//! Library CRUD in the store.

use shelfwarden::library::model::{LibrarySettings, MetadataSource};
use shelfwarden::store::{Store, libraries};

#[test]
fn library_crud_and_folders() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = Store::open(&tmp.path().join("db.sqlite")).expect("store");
    let settings = LibrarySettings {
        metadata_precedence: vec![MetadataSource::AbsMetadata, MetadataSource::FolderStructure],
        ..LibrarySettings::default()
    };
    let lib = store
        .write_blocking(|tx| {
            libraries::create_library(tx, "Books", &["/b1".into(), "/b2".into()], &settings, 5)
        })
        .expect("create");
    assert_eq!(lib.folders.len(), 2);
    assert_eq!(lib.settings, settings);
    let second = store
        .write_blocking(|tx| libraries::create_library(tx, "More", &["/m".into()], &settings, 6))
        .expect("create");
    assert_eq!(second.display_order, lib.display_order + 1);

    let mut changed = lib.clone();
    changed.name = "Audiobooks".into();
    changed.folders.retain(|f| f.path == "/b2");
    changed.settings.disable_watcher = true;
    store
        .write_blocking(|tx| libraries::update_library(tx, &changed, 9))
        .expect("update");
    let got = store
        .read_blocking(|c| libraries::get_library(c, &lib.id))
        .expect("get")
        .expect("some");
    assert_eq!(got.name, "Audiobooks");
    assert!(got.settings.disable_watcher);
    assert_eq!(got.folders.len(), 1);
    assert_eq!(
        got.folders[0].id,
        lib.folders.iter().find(|f| f.path == "/b2").expect("b2").id
    );
    let by_folder = store
        .read_blocking(|c| libraries::find_library_by_folder(c, "/m"))
        .expect("find");
    assert_eq!(by_folder.map(|l| l.id), Some(second.id.clone()));

    assert!(
        store
            .write_blocking(|tx| libraries::delete_library(tx, &lib.id))
            .expect("delete")
    );
    let all = store
        .read_blocking(libraries::list_libraries)
        .expect("list");
    assert_eq!(all.len(), 1);
}

#[test]
fn catalog_versions_move_with_real_changes_and_never_repeat() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = Store::open(&tmp.path().join("db.sqlite")).expect("store");
    let version = |id: &str| store.versions().expect("versions").catalog(id);
    let lib = store
        .write_blocking(|tx| {
            libraries::create_library(tx, "Books", &["/b".into()], &LibrarySettings::default(), 5)
        })
        .expect("create");
    let created = version(&lib.id).expect("listed");

    let mut renamed = lib.clone();
    renamed.name = "Audiobooks".into();
    store
        .write_blocking(|tx| libraries::update_library(tx, &renamed, 6))
        .expect("rename");
    let after_rename = version(&lib.id).expect("listed");
    assert!(after_rename > created);
    // Writing the same row again (as a repeated import does) changes nothing.
    store
        .write_blocking(|tx| libraries::update_library(tx, &renamed, 6))
        .expect("rewrite");
    assert_eq!(version(&lib.id), Some(after_rename));
    store
        .write_blocking(|tx| libraries::set_folders(tx, &lib.id, &["/c".into()], 7))
        .expect("folders");
    let after_folders = version(&lib.id).expect("listed");
    assert!(after_folders > after_rename);

    // Deleted and made again under the same id: a version its predecessor never had.
    let id = lib.id.clone();
    store
        .write_blocking(move |tx| {
            libraries::delete_library(tx, &id)?;
            tx.execute(
                "INSERT INTO libraries (id, name, created_at, updated_at) VALUES (?1, 'Again', 0, 0)",
                [&id],
            )?;
            Ok(())
        })
        .expect("recreate");
    assert!(version(&lib.id).expect("listed") > after_folders);
    store
        .write_blocking({
            let id = lib.id.clone();
            move |tx| libraries::delete_library(tx, &id)
        })
        .expect("delete");
    assert_eq!(version(&lib.id), None);
}
