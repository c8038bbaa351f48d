//! Book items with their audio files, chapters, authors and series. One item is written by
//! `upsert_item` inside the caller's transaction; the scanner batches many per transaction.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::error::AppError;
use crate::library::identity::Known;
use crate::library::model::{
    AudioFile, Author, AuthorRef, BookMetadata, Chapter, FileMetadata, Item, Series, SeriesRef,
    ignore_prefix, last_first,
};
use crate::store::{StoreResult, json_col};

/// Item columns in the order `upsert_item` binds and `item_row` reads them.
const ITEM_COLS: &str = "id, book_id, library_id, folder_id, path, rel_path, ino, fingerprint, \
    signature, is_file, is_missing, is_invalid, mtime_ms, ctime_ms, birthtime_ms, size, library_files, \
    title, title_ignore_prefix, subtitle, published_year, published_date, publisher, description, \
    isbn, asin, language, explicit, abridged, cover_path, duration, narrators, genres, tags, \
    ebook_file, author_names, author_names_lf, last_scan, scan_version, created_at, updated_at";

fn to_json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(AppError::internal)
}

/// What the scanner needs to match found folders to known items.
pub fn scan_index(conn: &Connection, library_id: &str) -> StoreResult<Vec<Known>> {
    let mut st = conn.prepare_cached(
        "SELECT id, book_id, path, ino, fingerprint, signature, is_missing FROM items WHERE library_id = ?1",
    )?;
    let rows = st.query_map([library_id], |r| {
        Ok(Known {
            id: r.get(0)?,
            book_id: r.get(1)?,
            path: r.get(2)?,
            ino: r.get(3)?,
            fingerprint: r.get(4)?,
            signature: r.get(5)?,
            is_missing: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn author_id(conn: &Connection, library_id: &str, name: &str, now: i64) -> StoreResult<String> {
    let mut find = conn.prepare_cached(
        "SELECT id FROM authors WHERE library_id = ?1 AND name = ?2 COLLATE NOCASE",
    )?;
    if let Some(id) = find
        .query_row(params![library_id, name], |r| r.get(0))
        .optional()?
    {
        return Ok(id);
    }
    let id = uuid::Uuid::new_v4().to_string();
    conn.prepare_cached(
        "INSERT INTO authors (id, library_id, name, last_first, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )?
    .execute(params![id, library_id, name, last_first(name), now])?;
    Ok(id)
}

fn series_id(conn: &Connection, library_id: &str, name: &str, now: i64) -> StoreResult<String> {
    let mut find = conn.prepare_cached(
        "SELECT id FROM series WHERE library_id = ?1 AND name = ?2 COLLATE NOCASE",
    )?;
    if let Some(id) = find
        .query_row(params![library_id, name], |r| r.get(0))
        .optional()?
    {
        return Ok(id);
    }
    let id = uuid::Uuid::new_v4().to_string();
    conn.prepare_cached(
        "INSERT INTO series (id, library_id, name, name_ignore_prefix, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )?
    .execute(params![id, library_id, name, ignore_prefix(name), now])?;
    Ok(id)
}

/// Inserts or replaces an item and its children. Author and series ids are resolved (created per
/// library, case-insensitively) and written back into `item.metadata`.
pub fn upsert_item(conn: &Connection, item: &mut Item, signature: &str) -> StoreResult<()> {
    let m = &item.metadata;
    conn.prepare_cached(&format!(
        "INSERT INTO items ({ITEM_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,
           ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32,
           ?33, ?34, ?35, ?36, ?37, ?38, ?39, ?40, ?41)
         ON CONFLICT(id) DO UPDATE SET folder_id = excluded.folder_id, path = excluded.path,
           rel_path = excluded.rel_path, ino = excluded.ino, fingerprint = excluded.fingerprint,
           signature = excluded.signature, is_file = excluded.is_file, is_missing = excluded.is_missing,
           is_invalid = excluded.is_invalid, mtime_ms = excluded.mtime_ms, ctime_ms = excluded.ctime_ms,
           birthtime_ms = excluded.birthtime_ms, size = excluded.size, library_files = excluded.library_files,
           title = excluded.title, title_ignore_prefix = excluded.title_ignore_prefix,
           subtitle = excluded.subtitle, published_year = excluded.published_year,
           published_date = excluded.published_date, publisher = excluded.publisher,
           description = excluded.description, isbn = excluded.isbn, asin = excluded.asin,
           language = excluded.language, explicit = excluded.explicit, abridged = excluded.abridged,
           cover_path = excluded.cover_path, duration = excluded.duration, narrators = excluded.narrators,
           genres = excluded.genres, tags = excluded.tags, ebook_file = excluded.ebook_file,
           author_names = excluded.author_names, author_names_lf = excluded.author_names_lf,
           last_scan = excluded.last_scan, scan_version = excluded.scan_version,
           updated_at = excluded.updated_at"
    ))?
    .execute(params![
        item.id,
        item.book_id,
        item.library_id,
        item.folder_id,
        item.path,
        item.rel_path,
        item.ino,
        item.fingerprint,
        signature,
        item.is_file,
        item.is_missing,
        item.is_invalid,
        item.mtime_ms,
        item.ctime_ms,
        item.birthtime_ms,
        item.size as i64,
        to_json(&item.library_files)?,
        m.title,
        m.title_ignore_prefix(),
        m.subtitle,
        m.published_year,
        m.published_date,
        m.publisher,
        m.description,
        m.isbn,
        m.asin,
        m.language,
        m.explicit,
        m.abridged,
        item.cover_path,
        item.duration,
        to_json(&m.narrators)?,
        to_json(&m.genres)?,
        to_json(&item.tags)?,
        item.ebook_file.as_ref().map(to_json).transpose()?,
        m.author_name(),
        m.author_name_lf(),
        item.last_scan,
        item.scan_version,
        item.created_at,
        item.updated_at,
    ])?;
    for table in ["audio_files", "chapters", "item_authors", "item_series"] {
        conn.prepare_cached(&format!("DELETE FROM {table} WHERE item_id = ?1"))?
            .execute([&item.id])?;
    }
    write_audio_files(conn, item)?;
    let mut ch = conn.prepare_cached(
        "INSERT INTO chapters (item_id, idx, start, end, title) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (i, c) in item.chapters.iter().enumerate() {
        ch.execute(params![item.id, i as i64, c.start, c.end, c.title])?;
    }
    let now = item.updated_at;
    for (pos, a) in item.metadata.authors.iter_mut().enumerate() {
        a.id = author_id(conn, &item.library_id, &a.name, now)?;
        conn.prepare_cached(
            "INSERT OR IGNORE INTO item_authors (item_id, author_id, position) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![item.id, a.id, pos as i64])?;
    }
    for (pos, s) in item.metadata.series.iter_mut().enumerate() {
        s.id = series_id(conn, &item.library_id, &s.name, now)?;
        conn.prepare_cached(
            "INSERT OR IGNORE INTO item_series (item_id, series_id, sequence, position) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![item.id, s.id, s.sequence, pos as i64])?;
    }
    Ok(())
}

fn write_audio_files(conn: &Connection, item: &Item) -> StoreResult<()> {
    let mut st = conn.prepare_cached(
        "INSERT INTO audio_files (item_id, idx, ino, path, rel_path, size, mtime_ms, ctime_ms,
           birthtime_ms, duration, bit_rate, format, codec, channels, channel_layout, time_base,
           language, mime_type, track_num_from_meta, disc_num_from_meta, track_num_from_filename,
           disc_num_from_filename, embedded_cover_art, meta_tags, chapters, exclude,
           manually_verified, error, added_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
           ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30)",
    )?;
    for a in &item.audio_files {
        let md = &a.metadata;
        st.execute(params![
            item.id,
            a.index,
            a.ino,
            md.path,
            md.rel_path,
            md.size as i64,
            md.mtime_ms,
            md.ctime_ms,
            md.birthtime_ms,
            a.duration,
            a.bit_rate,
            a.format,
            a.codec,
            a.channels,
            a.channel_layout,
            a.time_base,
            a.language,
            a.mime_type,
            a.track_num_from_meta,
            a.disc_num_from_meta,
            a.track_num_from_filename,
            a.disc_num_from_filename,
            a.embedded_cover_art,
            to_json(&a.meta_tags)?,
            to_json(&a.chapters)?,
            a.exclude,
            a.manually_verified,
            a.error,
            a.added_at,
            a.updated_at,
        ])?;
    }
    Ok(())
}

pub fn mark_missing(conn: &Connection, ids: &[String], now: i64) -> StoreResult<()> {
    let mut st = conn.prepare_cached(
        "UPDATE items SET is_missing = 1, updated_at = ?2 WHERE id = ?1 AND is_missing = 0",
    )?;
    for id in ids {
        st.execute(params![id, now])?;
    }
    Ok(())
}

#[path = "items_read.rs"]
mod read;
pub use read::*;
