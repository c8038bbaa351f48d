//! Libraries, folders, authors, series, books and covers, all with ABS's ids.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::abs_db::Rec;
use super::item;
use super::map::json_or;
use super::report::{Outcome, Report};
use super::write::{Ctx, Imported, begin_row, end_row, to_json};
use crate::error::AppError;
use crate::library::model::{AuthorRef, LibrarySettings, SeriesRef, ignore_prefix, last_first};
use crate::store::{StoreResult, items};

pub fn libraries(
    tx: &Connection,
    ctx: &Ctx,
    r: &mut Report,
    out: &mut Imported,
) -> StoreResult<HashMap<String, Option<String>>> {
    r.found("libraries", ctx.data.libraries.len());
    for l in &ctx.data.libraries {
        let (id, name) = (l.id(), l.text("name"));
        let media_type = l.opt("mediaType").unwrap_or_else(|| "book".into());
        if media_type != "book" {
            r.skip(
                "libraries",
                &id,
                &name,
                format!("{media_type} libraries are not supported yet"),
            );
            continue;
        }
        let settings: LibrarySettings =
            serde_json::from_value(json_or(l.s("settings").as_deref(), Value::Null))
                .unwrap_or_default();
        let precedence = json_or(l.s("extraData").as_deref(), Value::Null)
            .get("lastScanMetadataPrecedence")
            .filter(|v| v.is_array())
            .map(Value::to_string);
        let created = l.t("createdAt").unwrap_or(0);
        let q = ["SELECT * FROM libraries WHERE id = ?1"];
        let before = begin_row(tx, &q, &[&id])?;
        tx.execute(
            "INSERT INTO libraries (id, name, display_order, icon, media_type, provider, settings, last_scan,
                 last_scan_version, last_scan_precedence, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'book', ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, display_order = excluded.display_order,
                 icon = excluded.icon, provider = excluded.provider, settings = excluded.settings,
                 last_scan = excluded.last_scan, last_scan_version = excluded.last_scan_version,
                 last_scan_precedence = excluded.last_scan_precedence, created_at = excluded.created_at,
                 updated_at = excluded.updated_at",
            params![
                id,
                name,
                l.i("displayOrder").unwrap_or(1),
                l.opt("icon").unwrap_or_else(|| "audiobookshelf".into()),
                l.opt("provider").unwrap_or_else(|| "google".into()),
                to_json(&settings)?,
                l.t("lastScan"),
                l.opt("lastScanVersion"),
                precedence,
                created,
                l.t("updatedAt").unwrap_or(created),
            ],
        )?;
        r.record("libraries", end_row(tx, &q, &[&id], before)?);
        out.libraries.insert(id);
    }
    folders(tx, ctx, r, out)
}

/// Returns ABS folder id → the folder id to use here (None: the folder could not be imported).
fn folders(
    tx: &Connection,
    ctx: &Ctx,
    r: &mut Report,
    out: &Imported,
) -> StoreResult<HashMap<String, Option<String>>> {
    let mut ids = HashMap::new();
    r.found("libraryFolders", ctx.data.folders.len());
    for f in &ctx.data.folders {
        let (id, lib) = (f.id(), f.text("libraryId"));
        let path = ctx.map.apply(&f.text("path"));
        if !out.libraries.contains(&lib) {
            r.skip("libraryFolders", &id, &path, "its library is not imported");
            ids.insert(id, None);
            continue;
        }
        let other: Option<(String, String)> = tx
            .query_row(
                "SELECT id, library_id FROM library_folders WHERE path = ?1 AND id != ?2",
                params![path, id],
                |x| Ok((x.get(0)?, x.get(1)?)),
            )
            .optional()?;
        if let Some((other_id, other_lib)) = other {
            if other_lib == lib {
                r.record("libraryFolders", Outcome::Unchanged);
                ids.insert(id, Some(other_id));
            } else {
                r.skip(
                    "libraryFolders",
                    &id,
                    &path,
                    "the folder already belongs to another library here",
                );
                ids.insert(id, None);
            }
            continue;
        }
        if !Path::new(&path).is_dir() {
            r.warnings.push(format!(
                "library folder {path} does not exist on this machine; is a --path-map missing?"
            ));
        }
        let q = ["SELECT * FROM library_folders WHERE id = ?1"];
        let before = begin_row(tx, &q, &[&id])?;
        tx.execute(
            "INSERT INTO library_folders (id, library_id, path, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET library_id = excluded.library_id, path = excluded.path,
                 created_at = excluded.created_at",
            params![id, lib, path, f.t("createdAt").unwrap_or(0)],
        )?;
        r.record("libraryFolders", end_row(tx, &q, &[&id], before)?);
        ids.insert(id.clone(), Some(id));
    }
    Ok(ids)
}

/// Authors or series, ids kept. A same-named one made here before (by a scan) is used instead.
fn people(
    tx: &Connection,
    kind: &str,
    rows: &[Rec],
    r: &mut Report,
    out: &Imported,
) -> StoreResult<()> {
    let table = if kind == "authors" {
        "authors"
    } else {
        "series"
    };
    r.found(kind, rows.len());
    for a in rows {
        let (id, name, lib) = (a.id(), a.text("name"), a.text("libraryId"));
        if !out.libraries.contains(&lib) {
            r.skip(kind, &id, &name, "its library is not imported");
            continue;
        }
        let other: Option<String> = tx
            .query_row(
                &format!("SELECT id FROM {table} WHERE library_id = ?1 AND name = ?2 COLLATE NOCASE AND id != ?3"),
                params![lib, name, id],
                |x| x.get(0),
            )
            .optional()?;
        if let Some(other) = other {
            r.skip(
                kind,
                &id,
                &name,
                format!("one of that name already exists here with id {other}, which is used"),
            );
            continue;
        }
        let created = a.t("createdAt").unwrap_or(0);
        let updated = a.t("updatedAt").unwrap_or(created);
        let q = [format!("SELECT * FROM {table} WHERE id = ?1")];
        let q: Vec<&str> = q.iter().map(String::as_str).collect();
        let before = begin_row(tx, &q, &[&id])?;
        if kind == "authors" {
            tx.execute(
                "INSERT INTO authors (id, library_id, name, last_first, asin, description, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT(id) DO UPDATE SET library_id = excluded.library_id, name = excluded.name,
                     last_first = excluded.last_first, asin = excluded.asin, description = excluded.description,
                     created_at = excluded.created_at, updated_at = excluded.updated_at",
                params![id, lib, name, a.opt("lastFirst").unwrap_or_else(|| last_first(&name)), a.opt("asin"), a.opt("description"), created, updated],
            )?;
        } else {
            tx.execute(
                "INSERT INTO series (id, library_id, name, name_ignore_prefix, description, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(id) DO UPDATE SET library_id = excluded.library_id, name = excluded.name,
                     name_ignore_prefix = excluded.name_ignore_prefix, description = excluded.description,
                     created_at = excluded.created_at, updated_at = excluded.updated_at",
                params![id, lib, name, a.opt("nameIgnorePrefix").unwrap_or_else(|| ignore_prefix(&name)), a.opt("description"), created, updated],
            )?;
        }
        r.record(kind, end_row(tx, &q, &[&id], before)?);
    }
    Ok(())
}

pub fn catalogue(
    tx: &Connection,
    ctx: &Ctx,
    r: &mut Report,
    out: &mut Imported,
    folders: &HashMap<String, Option<String>>,
) -> StoreResult<()> {
    let d = ctx.data;
    people(tx, "authors", &d.authors, r, out)?;
    people(tx, "series", &d.series, r, out)?;
    if d.authors.iter().any(|a| a.opt("imagePath").is_some()) {
        r.not_imported
            .push("author photos (fetch them again from the author pages)".into());
    }
    let author_names: HashMap<String, String> =
        d.authors.iter().map(|a| (a.id(), a.text("name"))).collect();
    let series_names: HashMap<String, String> =
        d.series.iter().map(|s| (s.id(), s.text("name"))).collect();
    let mut book_authors: HashMap<String, Vec<AuthorRef>> = HashMap::new();
    for ba in &d.book_authors {
        if let Some(name) = author_names.get(&ba.text("authorId")) {
            book_authors
                .entry(ba.text("bookId"))
                .or_default()
                .push(AuthorRef {
                    id: ba.text("authorId"),
                    name: name.clone(),
                });
        }
    }
    let mut book_series: HashMap<String, Vec<SeriesRef>> = HashMap::new();
    for bs in &d.book_series {
        if let Some(name) = series_names.get(&bs.text("seriesId")) {
            book_series
                .entry(bs.text("bookId"))
                .or_default()
                .push(SeriesRef {
                    id: bs.text("seriesId"),
                    name: name.clone(),
                    sequence: bs.opt("sequence"),
                });
        }
    }
    r.found("items", d.library_items.len());
    for li in &d.library_items {
        let id = li.id();
        let book_id = li.text("mediaId");
        let title = d
            .books
            .get(&book_id)
            .map(|b| b.text("title"))
            .unwrap_or_else(|| li.text("relPath"));
        if li.text("mediaType") != "book" {
            r.skip("items", &id, &title, "podcasts are not supported yet");
            continue;
        }
        if !out.libraries.contains(&li.text("libraryId")) {
            r.skip("items", &id, &title, "its library is not imported");
            continue;
        }
        let Some(book) = d.books.get(&book_id) else {
            r.skip("items", &id, &title, "its book row is missing in ABS");
            continue;
        };
        let authors = book_authors.remove(&book_id).unwrap_or_default();
        let series = book_series.remove(&book_id).unwrap_or_default();
        let mut it = match item::build(li, book, authors, series, ctx.map) {
            Ok(it) => it,
            Err(why) => {
                r.skip("items", &id, &title, why);
                continue;
            }
        };
        it.folder_id = it
            .folder_id
            .as_ref()
            .and_then(|f| folders.get(f).cloned().flatten());
        let clash: Option<String> = tx
            .query_row(
                "SELECT id FROM items WHERE id != ?1 AND (book_id = ?2 OR (library_id = ?3 AND path = ?4))",
                params![it.id, it.book_id, it.library_id, it.path],
                |x| x.get(0),
            )
            .optional()?;
        if let Some(other) = clash {
            r.skip("items", &id, &title, format!("already here as item {other} (scanned before the import?); import into an empty data folder to keep ABS's ids"));
            continue;
        }
        it.cover_path = cover(ctx, r, li, &it.id, &title, book.opt("coverPath"))?;
        let q = [
            "SELECT * FROM items WHERE id = ?1",
            "SELECT * FROM audio_files WHERE item_id = ?1 ORDER BY idx",
            "SELECT * FROM chapters WHERE item_id = ?1 ORDER BY idx",
            "SELECT * FROM item_authors WHERE item_id = ?1 ORDER BY position",
            "SELECT * FROM item_series WHERE item_id = ?1 ORDER BY position",
        ];
        let before = begin_row(tx, &q, &[&id])?;
        // An empty signature makes the first scan re-read the files, which fills in the
        // fingerprint and the inodes of this machine's copy.
        items::upsert_item(tx, &mut it, "")?;
        if ctx.write_files {
            // Keeps ABS's edited metadata authoritative over what the first scan reads from the files.
            crate::library::edits::write(&ctx.data_dir, &it).map_err(AppError::internal)?;
        }
        r.record("items", end_row(tx, &q, &[&id], before)?);
        out.items.insert(id.clone());
        out.book_to_item.insert(book_id, id.clone());
        out.item_titles.insert(id, title);
    }
    Ok(())
}

/// A cover in the item's folder is used where it is; one that ABS keeps in its metadata folder
/// (extracted or uploaded) is copied to `DATA/covers/<itemId>.<ext>` from the backup or from the
/// remapped metadata folder.
fn cover(
    ctx: &Ctx,
    r: &mut Report,
    li: &Rec,
    item_id: &str,
    title: &str,
    abs_cover: Option<String>,
) -> StoreResult<Option<String>> {
    let Some(c) = abs_cover else { return Ok(None) };
    let item_path = li.text("path");
    if !item_path.is_empty() && c.starts_with(&format!("{item_path}/")) {
        return Ok(Some(ctx.map.apply(&c)));
    }
    r.found("covers", 1);
    let file_name = Path::new(&c)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = Path::new(&file_name)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .filter(|e| matches!(e.as_str(), "jpg" | "jpeg" | "png" | "webp"))
        .unwrap_or_else(|| "jpg".into());
    let mut bytes = match ctx.backup {
        Some(b) => b
            .item_file(item_id, &file_name)
            .map_err(AppError::internal)?,
        None => None,
    };
    if bytes.is_none() {
        bytes = std::fs::read(ctx.map.apply(&c)).ok();
    }
    let dest = ctx.covers_dir.join(format!("{item_id}.{ext}"));
    let Some(bytes) = bytes else {
        // An earlier import from a backup brought the cover; a database-only import keeps it.
        if dest.is_file() {
            r.record("covers", Outcome::Unchanged);
            return Ok(Some(dest.to_string_lossy().into_owned()));
        }
        r.skip(
            "covers",
            item_id,
            title,
            format!(
                "{c} was not found: map ABS's metadata folder with --path-map, or import a backup"
            ),
        );
        return Ok(None);
    };
    let result = match std::fs::read(&dest) {
        Ok(old) if old == bytes => Outcome::Unchanged,
        Ok(_) => Outcome::Changed,
        Err(_) => Outcome::New,
    };
    if ctx.write_files && result != Outcome::Unchanged {
        std::fs::create_dir_all(&ctx.covers_dir).map_err(AppError::internal)?;
        std::fs::write(&dest, &bytes).map_err(AppError::internal)?;
    }
    r.record("covers", result);
    Ok(Some(dest.to_string_lossy().into_owned()))
}
