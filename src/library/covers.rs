//! Item covers: an image in the item folder (`cover.*` first), else the first embedded picture,
//! extracted into `DATA/covers/<itemId>.<ext>` because the library must never be written to.

use std::path::{Path, PathBuf};

use crate::library::layout::FoundFile;
use crate::library::model::FileKind;
use crate::library::probe::embedded_picture;

/// The folder image ABS would pick: `cover.*`, else the first image (shallowest, by name).
pub fn folder_cover(files: &[FoundFile]) -> Option<&FoundFile> {
    let images = || files.iter().filter(|f| f.kind == FileKind::Image);
    let stem = |f: &FoundFile| {
        let name = f.rel.rsplit('/').next().unwrap_or("");
        name.rsplit_once('.')
            .map_or(name, |(s, _)| s)
            .to_ascii_lowercase()
    };
    images()
        .find(|f| stem(f) == "cover")
        .or_else(|| images().min_by_key(|f| (f.rel.matches('/').count(), f.rel.clone())))
}

/// Writes the first embedded picture among `audio` to the covers directory; returns its path.
pub fn extract_embedded(data_dir: &Path, item_id: &str, audio: &[PathBuf]) -> Option<PathBuf> {
    let (bytes, ext) = audio.iter().find_map(|p| embedded_picture(p))?;
    write_cover(data_dir, item_id, &bytes, ext)
}

/// Stores cover bytes as `DATA/covers/<itemId>.<ext>`.
pub fn write_cover(data_dir: &Path, item_id: &str, bytes: &[u8], ext: &str) -> Option<PathBuf> {
    let dir = data_dir.join("covers");
    std::fs::create_dir_all(&dir).ok()?;
    let dest = dir.join(format!("{item_id}.{ext}"));
    // Write then rename, so a reader never sees half an image.
    let tmp = dir.join(format!(".{item_id}.{ext}.tmp"));
    std::fs::write(&tmp, bytes).ok()?;
    std::fs::rename(&tmp, &dest).ok()?;
    Some(dest)
}

/// Removes extracted covers of an item (all extensions), e.g. when a folder image replaces one.
pub fn remove_extracted(data_dir: &Path, item_id: &str) {
    for ext in ["jpg", "png", "webp"] {
        let _ = std::fs::remove_file(data_dir.join("covers").join(format!("{item_id}.{ext}")));
    }
}
