//! Reading items back: full items with children, lists, and the lookups identity matching uses.

use super::*;

fn item_row(r: &Row<'_>) -> rusqlite::Result<Item> {
    let text = |i: usize| -> rusqlite::Result<String> { r.get(i) };
    let ebook: Option<String> = r.get(34)?;
    Ok(Item {
        id: r.get(0)?,
        book_id: r.get(1)?,
        library_id: r.get(2)?,
        folder_id: r.get(3)?,
        path: r.get(4)?,
        rel_path: r.get(5)?,
        ino: r.get(6)?,
        fingerprint: r.get(7)?,
        is_file: r.get(9)?,
        is_missing: r.get(10)?,
        is_invalid: r.get(11)?,
        mtime_ms: r.get(12)?,
        ctime_ms: r.get(13)?,
        birthtime_ms: r.get(14)?,
        size: r.get::<_, i64>(15)?.max(0) as u64,
        library_files: json_col(&text(16)?),
        metadata: BookMetadata {
            title: r.get(17)?,
            subtitle: r.get(19)?,
            authors: Vec::new(),
            narrators: json_col(&text(31)?),
            series: Vec::new(),
            genres: json_col(&text(32)?),
            published_year: r.get(20)?,
            published_date: r.get(21)?,
            publisher: r.get(22)?,
            description: r.get(23)?,
            isbn: r.get(24)?,
            asin: r.get(25)?,
            language: r.get(26)?,
            explicit: r.get(27)?,
            abridged: r.get(28)?,
        },
        cover_path: r.get(29)?,
        duration: r.get(30)?,
        tags: json_col(&text(33)?),
        ebook_file: ebook.and_then(|e| serde_json::from_str(&e).ok()),
        last_scan: r.get(37)?,
        scan_version: r.get(38)?,
        created_at: r.get(39)?,
        updated_at: r.get(40)?,
        audio_files: Vec::new(),
        chapters: Vec::new(),
    })
}

fn file_name_ext(path: &str) -> (String, String) {
    let name = path.rsplit('/').next().unwrap_or(path).to_string();
    let ext = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => format!(".{e}"),
        _ => String::new(),
    };
    (name, ext)
}

pub fn audio_files_of(conn: &Connection, item_id: &str) -> StoreResult<Vec<AudioFile>> {
    let mut st = conn.prepare_cached(
        "SELECT idx, ino, path, rel_path, size, mtime_ms, ctime_ms, birthtime_ms, duration, bit_rate,
           format, codec, channels, channel_layout, time_base, language, mime_type,
           track_num_from_meta, disc_num_from_meta, track_num_from_filename, disc_num_from_filename,
           embedded_cover_art, meta_tags, chapters, exclude, manually_verified, error, added_at, updated_at
         FROM audio_files WHERE item_id = ?1 ORDER BY idx",
    )?;
    let rows = st.query_map([item_id], |r| {
        let path: String = r.get(2)?;
        let (filename, ext) = file_name_ext(&path);
        Ok(AudioFile {
            index: r.get(0)?,
            ino: r.get(1)?,
            metadata: FileMetadata {
                filename,
                ext,
                path,
                rel_path: r.get(3)?,
                size: r.get::<_, i64>(4)?.max(0) as u64,
                mtime_ms: r.get(5)?,
                ctime_ms: r.get(6)?,
                birthtime_ms: r.get(7)?,
            },
            duration: r.get(8)?,
            bit_rate: r.get(9)?,
            format: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
            codec: r.get::<_, Option<String>>(11)?.unwrap_or_default(),
            channels: r.get(12)?,
            channel_layout: r.get(13)?,
            time_base: r.get(14)?,
            language: r.get(15)?,
            mime_type: r.get(16)?,
            track_num_from_meta: r.get(17)?,
            disc_num_from_meta: r.get(18)?,
            track_num_from_filename: r.get(19)?,
            disc_num_from_filename: r.get(20)?,
            embedded_cover_art: r.get(21)?,
            meta_tags: json_col(&r.get::<_, String>(22)?),
            chapters: json_col(&r.get::<_, String>(23)?),
            exclude: r.get(24)?,
            manually_verified: r.get(25)?,
            error: r.get(26)?,
            added_at: r.get(27)?,
            updated_at: r.get(28)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn chapters_of(conn: &Connection, item_id: &str) -> StoreResult<Vec<Chapter>> {
    let mut st = conn.prepare_cached(
        "SELECT idx, start, end, title FROM chapters WHERE item_id = ?1 ORDER BY idx",
    )?;
    let rows = st.query_map([item_id], |r| {
        Ok(Chapter {
            id: r.get(0)?,
            start: r.get(1)?,
            end: r.get(2)?,
            title: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn fill_children(conn: &Connection, item: &mut Item) -> StoreResult<()> {
    item.audio_files = audio_files_of(conn, &item.id)?;
    item.chapters = chapters_of(conn, &item.id)?;
    let mut st = conn.prepare_cached(
        "SELECT a.id, a.name FROM item_authors ia JOIN authors a ON a.id = ia.author_id
         WHERE ia.item_id = ?1 ORDER BY ia.position",
    )?;
    item.metadata.authors = st
        .query_map([&item.id], |r| {
            Ok(AuthorRef {
                id: r.get(0)?,
                name: r.get(1)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut st = conn.prepare_cached(
        "SELECT s.id, s.name, i.sequence FROM item_series i JOIN series s ON s.id = i.series_id
         WHERE i.item_id = ?1 ORDER BY i.position",
    )?;
    item.metadata.series = st
        .query_map([&item.id], |r| {
            Ok(SeriesRef {
                id: r.get(0)?,
                name: r.get(1)?,
                sequence: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(())
}

/// A full item (audio files, chapters, authors, series) by id.
pub fn get_item(conn: &Connection, id: &str) -> StoreResult<Option<Item>> {
    let sql = format!("SELECT {ITEM_COLS} FROM items WHERE id = ?1");
    let Some(mut item) = conn
        .prepare_cached(&sql)?
        .query_row([id], item_row)
        .optional()?
    else {
        return Ok(None);
    };
    fill_children(conn, &mut item)?;
    Ok(Some(item))
}

/// Every item of a library, full, ordered by title (sort key).
pub fn list_items(conn: &Connection, library_id: &str) -> StoreResult<Vec<Item>> {
    let sql = format!(
        "SELECT {ITEM_COLS} FROM items WHERE library_id = ?1 ORDER BY title_ignore_prefix COLLATE NOCASE, id"
    );
    let mut items = conn
        .prepare_cached(&sql)?
        .query_map([library_id], item_row)?
        .collect::<Result<Vec<_>, _>>()?;
    for item in &mut items {
        fill_children(conn, item)?;
    }
    Ok(items)
}

pub fn count_items(conn: &Connection, library_id: &str) -> StoreResult<i64> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM items WHERE library_id = ?1",
        [library_id],
        |r| r.get(0),
    )?)
}

pub fn item_id_by_path(
    conn: &Connection,
    library_id: &str,
    path: &str,
) -> StoreResult<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT id FROM items WHERE library_id = ?1 AND path = ?2")?
        .query_row([library_id, path], |r| r.get(0))
        .optional()?)
}

fn ids_where(
    conn: &Connection,
    column: &str,
    library_id: &str,
    value: &str,
) -> StoreResult<Vec<String>> {
    let sql =
        format!("SELECT id FROM items WHERE library_id = ?1 AND {column} = ?2 AND {column} <> ''");
    let mut st = conn.prepare_cached(&sql)?;
    let rows = st.query_map([library_id, value], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn item_ids_by_ino(conn: &Connection, library_id: &str, ino: &str) -> StoreResult<Vec<String>> {
    ids_where(conn, "ino", library_id, ino)
}

pub fn item_ids_by_fingerprint(
    conn: &Connection,
    library_id: &str,
    fp: &str,
) -> StoreResult<Vec<String>> {
    ids_where(conn, "fingerprint", library_id, fp)
}

pub fn list_authors(conn: &Connection, library_id: &str) -> StoreResult<Vec<Author>> {
    let mut st = conn.prepare_cached(
        "SELECT id, library_id, name, last_first, asin, description, image_path, created_at, updated_at
         FROM authors WHERE library_id = ?1 ORDER BY name COLLATE NOCASE",
    )?;
    let rows = st.query_map([library_id], |r| {
        Ok(Author {
            id: r.get(0)?,
            library_id: r.get(1)?,
            name: r.get(2)?,
            last_first: r.get(3)?,
            asin: r.get(4)?,
            description: r.get(5)?,
            image_path: r.get(6)?,
            added_at: r.get(7)?,
            updated_at: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn list_series(conn: &Connection, library_id: &str) -> StoreResult<Vec<Series>> {
    let mut st = conn.prepare_cached(
        "SELECT id, library_id, name, name_ignore_prefix, description, created_at, updated_at
         FROM series WHERE library_id = ?1 ORDER BY name_ignore_prefix COLLATE NOCASE",
    )?;
    let rows = st.query_map([library_id], |r| {
        Ok(Series {
            id: r.get(0)?,
            library_id: r.get(1)?,
            name: r.get(2)?,
            name_ignore_prefix: r.get(3)?,
            description: r.get(4)?,
            added_at: r.get(5)?,
            updated_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes authors and series no item refers to any more, unless someone gave them a
/// description or image (that is user data, not scanner output).
pub fn prune_orphans(conn: &Connection, library_id: &str) -> StoreResult<()> {
    conn.execute(
        "DELETE FROM authors WHERE library_id = ?1 AND description IS NULL AND image_path IS NULL
           AND NOT EXISTS (SELECT 1 FROM item_authors ia WHERE ia.author_id = authors.id)",
        [library_id],
    )?;
    conn.execute(
        "DELETE FROM series WHERE library_id = ?1 AND description IS NULL
           AND NOT EXISTS (SELECT 1 FROM item_series i WHERE i.series_id = series.id)",
        [library_id],
    )?;
    Ok(())
}

/// Books per author in a library (ABS's `numBooks`), missing items included as ABS does.
pub fn author_book_counts(conn: &Connection, library_id: &str) -> StoreResult<Vec<(String, i64)>> {
    let mut st = conn.prepare_cached(
        "SELECT a.id, COUNT(ia.item_id) FROM authors a
         LEFT JOIN item_authors ia ON ia.author_id = a.id
         WHERE a.library_id = ?1 GROUP BY a.id",
    )?;
    let rows = st.query_map([library_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
