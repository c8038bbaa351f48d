//! ABS's JSON for libraries, library items (plain, minified, expanded), authors and series,
//! built from the scanner's domain model (abs-api.md §4).

use serde_json::{Map, Value, json};

use crate::library::model::{AudioFile, Author, Item, Library, Series};

pub fn library(l: &Library) -> Value {
    json!({
        "id": l.id,
        "name": l.name,
        "folders": l.folders.iter().map(|f| json!({
            "id": f.id, "fullPath": f.path, "libraryId": f.library_id, "addedAt": f.added_at,
        })).collect::<Vec<_>>(),
        "displayOrder": l.display_order,
        "icon": l.icon,
        "mediaType": l.media_type,
        "provider": l.provider,
        "settings": l.settings,
        "lastScan": l.last_scan,
        "lastScanVersion": l.last_scan_version,
        "createdAt": l.created_at,
        "lastUpdate": l.updated_at,
    })
}

fn base(item: &Item) -> Map<String, Value> {
    let v = json!({
        "id": item.id,
        "ino": item.ino,
        "oldLibraryItemId": null,
        "libraryId": item.library_id,
        "folderId": item.folder_id.clone().unwrap_or_default(),
        "path": item.path,
        "relPath": item.rel_path,
        "isFile": item.is_file,
        "mtimeMs": item.mtime_ms,
        "ctimeMs": item.ctime_ms,
        "birthtimeMs": item.birthtime_ms,
        "addedAt": item.created_at,
        "updatedAt": item.updated_at,
        "isMissing": item.is_missing,
        "isInvalid": item.is_invalid,
        "mediaType": "book",
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn metadata_base(item: &Item) -> Map<String, Value> {
    let m = &item.metadata;
    let v = json!({
        "title": m.title,
        "subtitle": m.subtitle,
        "genres": m.genres,
        "publishedYear": m.published_year,
        "publishedDate": m.published_date,
        "publisher": m.publisher,
        "description": m.description,
        "isbn": m.isbn,
        "asin": m.asin,
        "language": m.language,
        "explicit": m.explicit,
        "abridged": m.abridged,
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn metadata_names(item: &Item, out: &mut Map<String, Value>) {
    let m = &item.metadata;
    out.insert("titleIgnorePrefix".into(), m.title_ignore_prefix().into());
    out.insert("authorName".into(), m.author_name().into());
    out.insert("authorNameLF".into(), m.author_name_lf().into());
    out.insert("narratorName".into(), m.narrator_name().into());
    out.insert("seriesName".into(), m.series_name().into());
}

fn metadata_lists(item: &Item, out: &mut Map<String, Value>) {
    let m = &item.metadata;
    out.insert("authors".into(), json!(m.authors));
    out.insert("narrators".into(), json!(m.narrators));
    out.insert("series".into(), json!(m.series));
}

/// The audio tracks of a book: included files with their offsets. `content_url` builds each URL.
pub fn tracks(item: &Item, content_url: &dyn Fn(&AudioFile) -> String) -> Vec<Value> {
    let mut offset = 0.0;
    let mut out = Vec::new();
    for f in item.audio_files.iter().filter(|f| !f.exclude) {
        let mut v = serde_json::to_value(f).unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.insert("title".into(), f.metadata.filename.clone().into());
            o.insert("startOffset".into(), offset.into());
            o.insert("contentUrl".into(), content_url(f).into());
        }
        offset += f.duration;
        out.push(v);
    }
    out
}

fn default_content_url(item: &Item) -> impl Fn(&AudioFile) -> String + '_ {
    move |f| format!("/api/items/{}/file/{}", item.id, f.ino)
}

fn ebook_format(item: &Item) -> Value {
    item.ebook_file
        .as_ref()
        .map(|e| Value::from(e.ebook_format.clone()))
        .unwrap_or(Value::Null)
}

/// `toOldJSONMinified`: what lists return.
pub fn minified(item: &Item) -> Value {
    let mut out = base(item);
    let mut meta = metadata_base(item);
    metadata_names(item, &mut meta);
    out.insert("numFiles".into(), item.library_files.len().into());
    out.insert("size".into(), item.size.into());
    out.insert(
        "media".into(),
        json!({
            "id": item.book_id,
            "metadata": meta,
            "coverPath": item.cover_path,
            "tags": item.tags,
            "numTracks": item.num_tracks(),
            "numAudioFiles": item.num_audio_files(),
            "numChapters": item.chapters.len(),
            "duration": item.duration,
            "size": item.audio_files.iter().map(|f| f.metadata.size).sum::<u64>(),
            "ebookFormat": ebook_format(item),
        }),
    );
    Value::Object(out)
}

/// `toOldJSON`: `GET /api/items/:id` without `expanded`.
pub fn plain(item: &Item) -> Value {
    let mut out = base(item);
    let mut meta = metadata_base(item);
    metadata_lists(item, &mut meta);
    out.insert("lastScan".into(), item.last_scan.into());
    out.insert("scanVersion".into(), item.scan_version.clone().into());
    out.insert("libraryFiles".into(), json!(item.library_files));
    out.insert(
        "media".into(),
        json!({
            "id": item.book_id,
            "libraryItemId": item.id,
            "metadata": meta,
            "coverPath": item.cover_path,
            "tags": item.tags,
            "audioFiles": item.audio_files,
            "chapters": item.chapters,
            "ebookFile": item.ebook_file,
        }),
    );
    Value::Object(out)
}

/// `toOldJSONExpanded`: sockets, play, search, `?expanded=1`.
pub fn expanded(item: &Item) -> Value {
    let mut out = base(item);
    let mut meta = metadata_base(item);
    metadata_lists(item, &mut meta);
    metadata_names(item, &mut meta);
    meta.insert(
        "descriptionPlain".into(),
        item.metadata
            .description_plain()
            .map(Value::from)
            .unwrap_or(Value::Null),
    );
    out.insert("lastScan".into(), item.last_scan.into());
    out.insert("scanVersion".into(), item.scan_version.clone().into());
    out.insert("libraryFiles".into(), json!(item.library_files));
    out.insert("numFiles".into(), item.library_files.len().into());
    out.insert("size".into(), item.size.into());
    let url = default_content_url(item);
    out.insert(
        "media".into(),
        json!({
            "id": item.book_id,
            "libraryItemId": item.id,
            "metadata": meta,
            "coverPath": item.cover_path,
            "tags": item.tags,
            "audioFiles": item.audio_files,
            "chapters": item.chapters,
            "ebookFile": item.ebook_file,
            "numTracks": item.num_tracks(),
            "numAudioFiles": item.num_audio_files(),
            "numChapters": item.chapters.len(),
            "duration": item.duration,
            "size": item.audio_files.iter().map(|f| f.metadata.size).sum::<u64>(),
            "ebookFormat": ebook_format(item),
            "tracks": tracks(item, &url),
        }),
    );
    Value::Object(out)
}

/// The session's `mediaMetadata` (BookMetadata base form).
pub fn media_metadata(item: &Item) -> Value {
    let mut meta = metadata_base(item);
    metadata_lists(item, &mut meta);
    Value::Object(meta)
}

pub fn author(a: &Author, num_books: Option<usize>) -> Value {
    let mut v = json!({
        "id": a.id,
        "asin": a.asin,
        "name": a.name,
        "description": a.description,
        "imagePath": a.image_path,
        "libraryId": a.library_id,
        "addedAt": a.added_at,
        "updatedAt": a.updated_at,
    });
    if let Some(n) = num_books {
        v["numBooks"] = n.into();
        v["lastFirst"] = a.last_first.clone().into();
    }
    v
}

pub fn series(s: &Series) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "nameIgnorePrefix": s.name_ignore_prefix,
        "description": s.description,
        "addedAt": s.added_at,
        "updatedAt": s.updated_at,
        "libraryId": s.library_id,
    })
}
