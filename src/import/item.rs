//! One ABS library item and its book as our `Item`, paths remapped. ABS's JSON columns are read
//! leniently: a field that is missing or null takes its empty value rather than losing the book.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::abs_db::Rec;
use super::map::{PathMap, json_or, remap_file_path, round_integer_fields, string_list};
use crate::library::model::{
    AudioFile, AuthorRef, BookMetadata, Chapter, EbookFile, FileMetadata, Item, LibraryFile,
    SeriesRef,
};

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct AbsAudioFile {
    index: Option<u32>,
    ino: Option<Value>,
    metadata: Option<FileMetadata>,
    added_at: Option<i64>,
    updated_at: Option<i64>,
    track_num_from_meta: Option<u32>,
    disc_num_from_meta: Option<u32>,
    track_num_from_filename: Option<u32>,
    disc_num_from_filename: Option<u32>,
    manually_verified: Option<bool>,
    exclude: Option<bool>,
    error: Option<String>,
    format: Option<String>,
    duration: Option<f64>,
    bit_rate: Option<u32>,
    language: Option<String>,
    codec: Option<String>,
    time_base: Option<String>,
    channels: Option<u8>,
    channel_layout: Option<String>,
    chapters: Option<Vec<Value>>,
    embedded_cover_art: Option<String>,
    meta_tags: Option<BTreeMap<String, Value>>,
    mime_type: Option<String>,
}

fn ino_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn chapters(values: &[Value]) -> Vec<Chapter> {
    values
        .iter()
        .enumerate()
        .map(|(i, c)| Chapter {
            id: c
                .get("id")
                .and_then(Value::as_u64)
                .map_or(i as u32, |n| n as u32),
            start: c.get("start").and_then(Value::as_f64).unwrap_or(0.0),
            end: c.get("end").and_then(Value::as_f64).unwrap_or(0.0),
            title: c
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        })
        .collect()
}

/// The JSON array in `text` with stat numbers rounded and every `metadata.path` remapped.
fn file_list(text: Option<&str>, map: &PathMap) -> Vec<Value> {
    match json_or(text, Value::Null) {
        Value::Array(mut a) => {
            for v in &mut a {
                round_integer_fields(v);
                remap_file_path(v, map);
            }
            a
        }
        _ => Vec::new(),
    }
}

fn audio_file(v: Value, fallback_index: u32) -> Option<AudioFile> {
    let ino = ino_text(v.get("ino"));
    let a: AbsAudioFile = serde_json::from_value(v).ok()?;
    let metadata = a.metadata?;
    let mime_type = a
        .mime_type
        .unwrap_or_else(|| mime_for(&metadata.ext).to_string());
    Some(AudioFile {
        index: a.index.unwrap_or(fallback_index),
        ino: if ino.is_empty() {
            ino_text(a.ino.as_ref())
        } else {
            ino
        },
        metadata,
        added_at: a.added_at.unwrap_or(0),
        updated_at: a.updated_at.unwrap_or(0),
        track_num_from_meta: a.track_num_from_meta,
        disc_num_from_meta: a.disc_num_from_meta,
        track_num_from_filename: a.track_num_from_filename,
        disc_num_from_filename: a.disc_num_from_filename,
        manually_verified: a.manually_verified.unwrap_or(false),
        exclude: a.exclude.unwrap_or(false),
        error: a.error,
        format: a.format.unwrap_or_default(),
        duration: a.duration.unwrap_or(0.0),
        bit_rate: a.bit_rate,
        language: a.language,
        codec: a.codec.unwrap_or_default(),
        time_base: a.time_base,
        channels: a.channels,
        channel_layout: a.channel_layout,
        chapters: chapters(&a.chapters.unwrap_or_default()),
        embedded_cover_art: a.embedded_cover_art,
        meta_tags: a
            .meta_tags
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k, s)),
                Value::Number(n) => Some((k, n.to_string())),
                _ => None,
            })
            .collect(),
        mime_type,
    })
}

fn mime_for(ext: &str) -> &'static str {
    match ext.trim_start_matches('.').to_ascii_lowercase().as_str() {
        "mp3" => "audio/mpeg",
        "m4b" | "m4a" | "mp4" => "audio/mp4",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "flac" => "audio/flac",
        "wav" => "audio/wav",
        _ => "application/octet-stream",
    }
}

/// Builds the item; `cover_path` is set by the caller, which knows where covers go.
pub fn build(
    li: &Rec,
    book: &Rec,
    authors: Vec<AuthorRef>,
    series: Vec<SeriesRef>,
    map: &PathMap,
) -> Result<Item, String> {
    let path = li.opt("path").ok_or("the item has no path")?;
    let library_id = li
        .opt("libraryId")
        .ok_or("the item belongs to no library")?;
    let library_files: Vec<LibraryFile> = file_list(li.s("libraryFiles").as_deref(), map)
        .into_iter()
        .filter_map(|v| {
            let ino = ino_text(v.get("ino"));
            let mut f: LibraryFile = serde_json::from_value(v).ok()?;
            f.ino = ino;
            Some(f)
        })
        .collect();
    let audio_files: Vec<AudioFile> = file_list(book.s("audioFiles").as_deref(), map)
        .into_iter()
        .enumerate()
        .filter_map(|(i, v)| audio_file(v, i as u32 + 1))
        .collect();
    let ebook_file = book.s("ebookFile").and_then(|t| {
        let mut v: Value = serde_json::from_str(&t).ok()?;
        round_integer_fields(&mut v);
        remap_file_path(&mut v, map);
        let ino = ino_text(v.get("ino"));
        let mut e: EbookFile = serde_json::from_value(v).ok()?;
        e.ino = ino;
        Some(e)
    });
    let chapters = match json_or(book.s("chapters").as_deref(), Value::Null) {
        Value::Array(a) => chapters(&a),
        _ => Vec::new(),
    };
    let created_at = li.t("createdAt").unwrap_or(0);
    let updated_at = li
        .t("updatedAt")
        .max(book.t("updatedAt"))
        .unwrap_or(created_at);
    Ok(Item {
        id: li.id(),
        book_id: book.id(),
        library_id,
        folder_id: li.opt("libraryFolderId"),
        path: map.apply(&path),
        rel_path: li.text("relPath"),
        ino: li.text("ino"),
        fingerprint: String::new(),
        is_file: li.b("isFile"),
        is_missing: li.b("isMissing"),
        is_invalid: li.b("isInvalid"),
        mtime_ms: li.t("mtime").unwrap_or(0),
        ctime_ms: li.t("ctime").unwrap_or(0),
        birthtime_ms: li.t("birthtime").unwrap_or(0),
        size: li.i("size").unwrap_or(0).max(0) as u64,
        library_files,
        last_scan: li.t("lastScan"),
        scan_version: li.opt("lastScanVersion"),
        created_at,
        updated_at,
        metadata: BookMetadata {
            title: book.text("title"),
            subtitle: book.opt("subtitle"),
            authors,
            narrators: string_list(book.s("narrators").as_deref()),
            series,
            genres: string_list(book.s("genres").as_deref()),
            published_year: book.opt("publishedYear"),
            published_date: book.opt("publishedDate"),
            publisher: book.opt("publisher"),
            description: book.opt("description"),
            isbn: book.opt("isbn"),
            asin: book.opt("asin"),
            language: book.opt("language"),
            explicit: book.b("explicit"),
            abridged: book.b("abridged"),
        },
        cover_path: None,
        tags: string_list(book.s("tags").as_deref()),
        audio_files,
        chapters,
        ebook_file,
        duration: book.f("duration"),
    })
}
