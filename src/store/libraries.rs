//! Libraries and their folders.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::error::AppError;
use crate::library::model::{Library, LibraryFolder, LibrarySettings, MetadataSource};
use crate::store::{StoreResult, json_col};

const LIBRARY_COLS: &str = "id, name, display_order, icon, media_type, provider, settings, \
     last_scan, last_scan_version, last_scan_precedence, created_at, updated_at";

fn library_row(r: &Row<'_>) -> rusqlite::Result<Library> {
    let settings: String = r.get(6)?;
    let precedence: Option<String> = r.get(9)?;
    Ok(Library {
        id: r.get(0)?,
        name: r.get(1)?,
        folders: Vec::new(),
        display_order: r.get(2)?,
        icon: r.get(3)?,
        media_type: r.get(4)?,
        provider: r.get(5)?,
        settings: json_col::<LibrarySettings>(&settings),
        last_scan: r.get(7)?,
        last_scan_version: r.get(8)?,
        last_scan_precedence: precedence.map(|p| json_col::<Vec<MetadataSource>>(&p)),
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
    })
}

fn folders_of(conn: &Connection, library_id: &str) -> StoreResult<Vec<LibraryFolder>> {
    let mut st = conn.prepare_cached(
        "SELECT id, library_id, path, created_at FROM library_folders WHERE library_id = ?1 ORDER BY path",
    )?;
    let rows = st.query_map([library_id], |r| {
        Ok(LibraryFolder {
            id: r.get(0)?,
            library_id: r.get(1)?,
            path: r.get(2)?,
            added_at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn to_json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(AppError::internal)
}

/// Creates a book library with the given folder paths (absolute, as the admin gave them).
pub fn create_library(
    conn: &Connection,
    name: &str,
    folder_paths: &[String],
    settings: &LibrarySettings,
    now: i64,
) -> StoreResult<Library> {
    let id = uuid::Uuid::new_v4().to_string();
    let order: i64 = conn.query_row(
        "SELECT COALESCE(MAX(display_order), 0) + 1 FROM libraries",
        [],
        |r| r.get(0),
    )?;
    conn.execute(
        "INSERT INTO libraries (id, name, display_order, settings, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![id, name, order, to_json(settings)?, now],
    )?;
    set_folders(conn, &id, folder_paths, now)?;
    get_library(conn, &id)?.ok_or_else(|| AppError::internal("library vanished after insert"))
}

/// Makes the library's folders exactly `paths`, keeping the ids of folders that stay.
pub fn set_folders(
    conn: &Connection,
    library_id: &str,
    paths: &[String],
    now: i64,
) -> StoreResult<()> {
    for existing in folders_of(conn, library_id)? {
        if !paths.contains(&existing.path) {
            conn.execute("DELETE FROM library_folders WHERE id = ?1", [&existing.id])?;
        }
    }
    let mut st = conn.prepare_cached(
        "INSERT INTO library_folders (id, library_id, path, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(path) DO NOTHING",
    )?;
    for p in paths {
        st.execute(params![
            uuid::Uuid::new_v4().to_string(),
            library_id,
            p,
            now
        ])?;
    }
    Ok(())
}

pub fn get_library(conn: &Connection, id: &str) -> StoreResult<Option<Library>> {
    let sql = format!("SELECT {LIBRARY_COLS} FROM libraries WHERE id = ?1");
    let lib = conn.query_row(&sql, [id], library_row).optional()?;
    match lib {
        Some(mut l) => {
            l.folders = folders_of(conn, &l.id)?;
            Ok(Some(l))
        }
        None => Ok(None),
    }
}

pub fn list_libraries(conn: &Connection) -> StoreResult<Vec<Library>> {
    let sql = format!("SELECT {LIBRARY_COLS} FROM libraries ORDER BY display_order, created_at");
    let mut st = conn.prepare(&sql)?;
    let mut libs = st
        .query_map([], library_row)?
        .collect::<Result<Vec<_>, _>>()?;
    for l in &mut libs {
        l.folders = folders_of(conn, &l.id)?;
    }
    Ok(libs)
}

/// The library that has `path` as one of its folders.
pub fn find_library_by_folder(conn: &Connection, path: &str) -> StoreResult<Option<Library>> {
    let id: Option<String> = conn
        .query_row(
            "SELECT library_id FROM library_folders WHERE path = ?1",
            [path],
            |r| r.get(0),
        )
        .optional()?;
    match id {
        Some(id) => get_library(conn, &id),
        None => Ok(None),
    }
}

/// Saves name, order, icon, provider, settings and folders.
pub fn update_library(conn: &Connection, lib: &Library, now: i64) -> StoreResult<()> {
    let n = conn.execute(
        "UPDATE libraries SET name = ?2, display_order = ?3, icon = ?4, provider = ?5, settings = ?6,
         updated_at = ?7 WHERE id = ?1",
        params![lib.id, lib.name, lib.display_order, lib.icon, lib.provider, to_json(&lib.settings)?, now],
    )?;
    if n == 0 {
        return Err(AppError::not_found());
    }
    let paths: Vec<String> = lib.folders.iter().map(|f| f.path.clone()).collect();
    set_folders(conn, &lib.id, &paths, now)
}

/// Deletes a library with its items, authors, series and issues (by cascade).
pub fn delete_library(conn: &Connection, id: &str) -> StoreResult<bool> {
    Ok(conn.execute("DELETE FROM libraries WHERE id = ?1", [id])? > 0)
}

pub fn set_last_scan(
    conn: &Connection,
    id: &str,
    at: i64,
    version: &str,
    precedence: &[MetadataSource],
) -> StoreResult<()> {
    conn.execute(
        "UPDATE libraries SET last_scan = ?2, last_scan_version = ?3, last_scan_precedence = ?4 WHERE id = ?1",
        params![id, at, version, to_json(&precedence)?],
    )?;
    Ok(())
}

/// Library ids in display order.
pub fn ids_in_display_order(conn: &Connection) -> StoreResult<Vec<String>> {
    let mut st =
        conn.prepare_cached("SELECT id FROM libraries ORDER BY display_order, created_at")?;
    let ids = st
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(ids)
}

/// The counter the catalog-version triggers bump (None: no such library).
pub fn catalog_version(conn: &Connection, id: &str) -> StoreResult<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT catalog_version FROM libraries WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

/// The library an item, author or series belongs to.
pub fn library_of(conn: &Connection, kind: LibraryMember, id: &str) -> StoreResult<Option<String>> {
    let sql = match kind {
        LibraryMember::Item => "SELECT library_id FROM items WHERE id = ?1",
        LibraryMember::Author => "SELECT library_id FROM authors WHERE id = ?1",
        LibraryMember::Series => "SELECT library_id FROM series WHERE id = ?1",
    };
    Ok(conn
        .prepare_cached(sql)?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

/// The library an item belongs to.
pub fn item_library(conn: &Connection, item_id: &str) -> StoreResult<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT library_id FROM items WHERE id = ?1")?
        .query_row([item_id], |r| r.get(0))
        .optional()?)
}

#[derive(Debug, Clone, Copy)]
pub enum LibraryMember {
    Item,
    Author,
    Series,
}
