//! Metadata that was edited rather than scanned (in ABS before an import, or by an admin) lives in
//! the data dir as `DATA/metadata/items/<itemId>/metadata.json`, in ABS's `metadata.json` form. The
//! scanner reads it as the `absMetadata` source, so a rescan never undoes an edit — and the library
//! folder is never written to.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::library::model::Item;

pub fn path(data_dir: &Path, item_id: &str) -> PathBuf {
    data_dir
        .join("metadata")
        .join("items")
        .join(item_id)
        .join("metadata.json")
}

/// Writes the item's current metadata as its edited record (0600 file, atomically).
pub fn write(data_dir: &Path, item: &Item) -> std::io::Result<()> {
    let m = &item.metadata;
    let doc = json!({
        "tags": item.tags,
        "chapters": item.chapters.iter().map(|c| json!({ "id": c.id, "start": c.start, "end": c.end, "title": c.title })).collect::<Vec<_>>(),
        "title": m.title,
        "subtitle": m.subtitle,
        "authors": m.authors.iter().map(|a| a.name.clone()).collect::<Vec<_>>(),
        "narrators": m.narrators,
        "series": m.series.iter().map(|s| match &s.sequence {
            Some(seq) if !seq.is_empty() => format!("{} #{seq}", s.name),
            _ => s.name.clone(),
        }).collect::<Vec<_>>(),
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
    let dest = path(data_dir, &item.id);
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
    crate::auth::secrets::write_private(&dest, text.as_bytes())
}

/// The edited record of an item, if any.
pub fn read(data_dir: &Path, item_id: &str) -> Option<String> {
    std::fs::read_to_string(path(data_dir, item_id)).ok()
}
