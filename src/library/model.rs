//! Domain types for libraries and book items. Field names follow ABS's JSON (camelCase when
//! serialised) so the API layer can build every ABS shape from them without extra queries; the
//! JSON-column types (library files, meta tags, settings) are stored with the same serde form.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// ABS's metadata sources, in the spelling ABS uses in `metadataPrecedence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MetadataSource {
    FolderStructure,
    AudioMetatags,
    NfoFile,
    TxtFiles,
    OpfFile,
    AbsMetadata,
}

impl MetadataSource {
    /// ABS's default order, lowest priority first.
    pub const DEFAULT_ORDER: [MetadataSource; 6] = [
        MetadataSource::FolderStructure,
        MetadataSource::AudioMetatags,
        MetadataSource::NfoFile,
        MetadataSource::TxtFiles,
        MetadataSource::OpfFile,
        MetadataSource::AbsMetadata,
    ];
}

/// ABS's book-library settings, plus `scanIntervalSecs`, our replacement for a cron expression
/// when the caller prefers a plain interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LibrarySettings {
    pub cover_aspect_ratio: u8,
    pub disable_watcher: bool,
    pub auto_scan_cron_expression: Option<String>,
    pub skip_matching_media_with_asin: bool,
    pub skip_matching_media_with_isbn: bool,
    pub audiobooks_only: bool,
    pub epubs_allow_scripted_content: bool,
    pub hide_single_book_series: bool,
    pub only_show_later_books_in_continue_series: bool,
    pub metadata_precedence: Vec<MetadataSource>,
    pub mark_as_finished_percent_complete: Option<f64>,
    pub mark_as_finished_time_remaining: Option<f64>,
    pub scan_interval_secs: Option<u64>,
}

impl Default for LibrarySettings {
    fn default() -> Self {
        LibrarySettings {
            cover_aspect_ratio: 1,
            disable_watcher: false,
            auto_scan_cron_expression: None,
            skip_matching_media_with_asin: false,
            skip_matching_media_with_isbn: false,
            audiobooks_only: false,
            epubs_allow_scripted_content: false,
            hide_single_book_series: false,
            only_show_later_books_in_continue_series: false,
            metadata_precedence: MetadataSource::DEFAULT_ORDER.to_vec(),
            mark_as_finished_percent_complete: None,
            mark_as_finished_time_remaining: Some(10.0),
            scan_interval_secs: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LibraryFolder {
    pub id: String,
    pub library_id: String,
    /// ABS calls this `fullPath`.
    pub path: String,
    pub added_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Library {
    pub id: String,
    pub name: String,
    pub folders: Vec<LibraryFolder>,
    pub display_order: i64,
    pub icon: String,
    pub media_type: String,
    pub provider: String,
    pub settings: LibrarySettings,
    pub last_scan: Option<i64>,
    pub last_scan_version: Option<String>,
    /// The precedence the last scan used; a change forces a full re-merge (ABS does the same).
    pub last_scan_precedence: Option<Vec<MetadataSource>>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Audio,
    Ebook,
    Image,
    Text,
    Metadata,
    Unknown,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileMetadata {
    pub filename: String,
    pub ext: String,
    pub path: String,
    pub rel_path: String,
    pub size: u64,
    pub mtime_ms: i64,
    pub ctime_ms: i64,
    pub birthtime_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LibraryFile {
    pub ino: String,
    pub metadata: FileMetadata,
    pub is_supplementary: Option<bool>,
    pub added_at: i64,
    pub updated_at: i64,
    pub file_type: FileKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EbookFile {
    pub ino: String,
    pub metadata: FileMetadata,
    pub ebook_format: String,
    pub added_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chapter {
    pub id: u32,
    pub start: f64,
    pub end: f64,
    pub title: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioFile {
    pub index: u32,
    pub ino: String,
    pub metadata: FileMetadata,
    pub added_at: i64,
    pub updated_at: i64,
    pub track_num_from_meta: Option<u32>,
    pub disc_num_from_meta: Option<u32>,
    pub track_num_from_filename: Option<u32>,
    pub disc_num_from_filename: Option<u32>,
    pub manually_verified: bool,
    pub exclude: bool,
    pub error: Option<String>,
    pub format: String,
    pub duration: f64,
    pub bit_rate: Option<u32>,
    pub language: Option<String>,
    pub codec: String,
    pub time_base: Option<String>,
    pub channels: Option<u8>,
    pub channel_layout: Option<String>,
    pub chapters: Vec<Chapter>,
    /// `mjpeg` or `png` when the file carries a picture, as ffprobe names the stream codec.
    pub embedded_cover_art: Option<String>,
    /// ABS's `metaTags`: `tagTitle`, `tagAlbum`, … only the ones that are set.
    pub meta_tags: BTreeMap<String, String>,
    pub mime_type: String,
}

/// An author or series as referenced from a book (ABS's minimal `{id, name}` forms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesRef {
    pub id: String,
    pub name: String,
    pub sequence: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BookMetadata {
    pub title: String,
    pub subtitle: Option<String>,
    pub authors: Vec<AuthorRef>,
    pub narrators: Vec<String>,
    pub series: Vec<SeriesRef>,
    pub genres: Vec<String>,
    pub published_year: Option<String>,
    pub published_date: Option<String>,
    pub publisher: Option<String>,
    /// Sanitised HTML.
    pub description: Option<String>,
    pub isbn: Option<String>,
    pub asin: Option<String>,
    pub language: Option<String>,
    pub explicit: bool,
    pub abridged: bool,
}

impl BookMetadata {
    pub fn title_ignore_prefix(&self) -> String {
        ignore_prefix(&self.title)
    }
    pub fn author_name(&self) -> String {
        join(self.authors.iter().map(|a| a.name.clone()))
    }
    pub fn author_name_lf(&self) -> String {
        join(self.authors.iter().map(|a| last_first(&a.name)))
    }
    pub fn narrator_name(&self) -> String {
        self.narrators.join(", ")
    }
    /// `"Series #1, Other"` as ABS shows it.
    pub fn series_name(&self) -> String {
        join(self.series.iter().map(|s| match &s.sequence {
            Some(seq) if !seq.is_empty() => format!("{} #{seq}", s.name),
            _ => s.name.clone(),
        }))
    }
    pub fn description_plain(&self) -> Option<String> {
        self.description
            .as_deref()
            .map(crate::library::html::html_to_plain)
    }
}

fn join(it: impl Iterator<Item = String>) -> String {
    it.collect::<Vec<_>>().join(", ")
}

/// Sort key without a leading article, as ABS's default `sortingPrefixes` (`the`, `a`).
pub fn ignore_prefix(title: &str) -> String {
    let lower = title.to_lowercase();
    for prefix in ["the ", "a "] {
        if lower.starts_with(prefix) && title.len() > prefix.len() {
            let (head, rest) = title.split_at(prefix.len());
            return format!("{rest}, {}", head.trim_end());
        }
    }
    title.to_string()
}

/// "First Middle Last" → "Last, First Middle"; names already holding a comma are kept.
pub fn last_first(name: &str) -> String {
    let name = name.trim();
    if name.contains(',') {
        return name.to_string();
    }
    match name.rsplit_once(' ') {
        Some((first, last)) if !first.is_empty() => format!("{last}, {first}"),
        _ => name.to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub id: String,
    pub book_id: String,
    pub library_id: String,
    pub folder_id: Option<String>,
    pub path: String,
    pub rel_path: String,
    pub ino: String,
    pub fingerprint: String,
    pub is_file: bool,
    pub is_missing: bool,
    pub is_invalid: bool,
    pub mtime_ms: i64,
    pub ctime_ms: i64,
    pub birthtime_ms: i64,
    /// Sum of all library files.
    pub size: u64,
    pub library_files: Vec<LibraryFile>,
    pub last_scan: Option<i64>,
    pub scan_version: Option<String>,
    /// ABS's `addedAt`.
    pub created_at: i64,
    pub updated_at: i64,
    pub metadata: BookMetadata,
    /// Absolute path of the cover image (a library file or a file under `DATA/covers`).
    pub cover_path: Option<String>,
    pub tags: Vec<String>,
    pub audio_files: Vec<AudioFile>,
    pub chapters: Vec<Chapter>,
    pub ebook_file: Option<EbookFile>,
    /// Sum of the included audio files, seconds.
    pub duration: f64,
}

impl Item {
    pub fn num_audio_files(&self) -> usize {
        self.audio_files.len()
    }
    /// ABS's `numTracks`: audio files not excluded.
    pub fn num_tracks(&self) -> usize {
        self.audio_files.iter().filter(|a| !a.exclude).count()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Author {
    pub id: String,
    pub library_id: String,
    pub name: String,
    pub last_first: String,
    pub asin: Option<String>,
    pub description: Option<String>,
    pub image_path: Option<String>,
    pub added_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Series {
    pub id: String,
    pub library_id: String,
    pub name: String,
    pub name_ignore_prefix: String,
    pub description: Option<String>,
    pub added_at: i64,
    pub updated_at: i64,
}

/// A problem the scanner found, listed as the library's issues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanIssue {
    pub library_id: String,
    pub path: String,
    pub reason: String,
    pub found_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_helpers() {
        assert_eq!(last_first("Frank Herbert"), "Herbert, Frank");
        assert_eq!(last_first("Plato"), "Plato");
        assert_eq!(ignore_prefix("The Hobbit"), "Hobbit, The");
        assert_eq!(ignore_prefix("Dune"), "Dune");
    }
}
