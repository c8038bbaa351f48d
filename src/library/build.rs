//! Turns one item group (a folder or a single file) into an `Item`: probes the audio files that
//! changed, orders tracks, merges metadata, builds chapters and picks the cover.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::library::grammar::{numbers_from_filename, parse_item_path};
use crate::library::layout::{FoundFile, ItemGroup, Stat, ext_of};
use crate::library::metadata::{MetaPatch, from_folder, from_tags, merge};
use crate::library::model::{
    AudioFile, AuthorRef, BookMetadata, EbookFile, FileKind, FileMetadata, Item, Library,
    LibraryFile, MetadataSource, SeriesRef,
};
use crate::library::{chapters, covers, identity, probe, sidecar};

/// Who the item is, decided by identity matching before the build.
#[derive(Debug, Clone)]
pub struct Identity {
    pub id: String,
    pub book_id: String,
    pub fingerprint: Option<String>,
}

pub struct BuildInput<'a> {
    pub library: &'a Library,
    pub folder_id: &'a str,
    pub folder_path: &'a Path,
    pub group: &'a ItemGroup,
    pub dir_stat: Stat,
    pub identity: Identity,
    /// The item's audio files from the last scan, reused when size and mtime are unchanged.
    pub previous: Vec<AudioFile>,
    pub data_dir: &'a Path,
    pub parse_subtitle: bool,
    pub now: i64,
}

/// The item (None when no playable audio or ebook remains) and the files that could not be used.
pub struct Built {
    pub item: Option<Item>,
    pub issues: Vec<(String, String)>,
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn file_metadata(f: &FoundFile, item_rel: &str, is_file: bool) -> FileMetadata {
    let filename = f.rel.rsplit('/').next().unwrap_or(&f.rel).to_string();
    let ext = ext_of(&filename);
    let rel_path = if is_file {
        filename.clone()
    } else {
        f.rel
            .strip_prefix(item_rel)
            .unwrap_or(&f.rel)
            .trim_start_matches('/')
            .to_string()
    };
    FileMetadata {
        ext: if ext.is_empty() {
            ext
        } else {
            format!(".{ext}")
        },
        filename,
        path: path_str(&f.path),
        rel_path,
        size: f.stat.size,
        mtime_ms: f.stat.mtime_ms,
        ctime_ms: f.stat.ctime_ms,
        birthtime_ms: f.stat.birthtime_ms,
    }
}

pub fn build(input: BuildInput<'_>) -> Built {
    let g = input.group;
    let mut issues = Vec::new();
    let info = parse_item_path(&g.rel, g.is_file, input.parse_subtitle);
    let mut strip: Vec<&str> = vec![info.title.as_str()];
    strip.extend(info.series.as_deref());
    strip.extend(info.authors.iter().map(String::as_str));
    let mut audio = Vec::new();
    // Only the first embedded picture is kept: it may become the cover, the rest would only
    // cost memory.
    let mut picture: Option<(Vec<u8>, &'static str)> = None;
    for f in g.files.iter().filter(|f| f.kind == FileKind::Audio) {
        let md = file_metadata(f, &g.rel, g.is_file);
        let ino = f.stat.ino.to_string();
        let reused = input.previous.iter().find(|p| {
            (p.metadata.path == md.path || p.ino == ino)
                && p.metadata.size == md.size
                && p.metadata.mtime_ms == md.mtime_ms
        });
        let mut a = match reused {
            Some(p) => AudioFile {
                metadata: md,
                ino,
                updated_at: input.now,
                ..p.clone()
            },
            None => match probe::probe(&f.path) {
                Ok(mut p) => AudioFile {
                    ino,
                    added_at: input.now,
                    updated_at: input.now,
                    track_num_from_meta: p.track,
                    disc_num_from_meta: p.disc,
                    format: p.format,
                    codec: p.codec,
                    duration: p.duration,
                    bit_rate: p.bit_rate,
                    channels: p.channels,
                    channel_layout: p.channel_layout,
                    language: p.language,
                    mime_type: p.mime_type,
                    embedded_cover_art: {
                        if picture.is_none() {
                            picture = p.picture.take();
                        }
                        p.embedded_cover_art
                    },
                    meta_tags: p.meta_tags,
                    chapters: p.chapters,
                    metadata: md,
                    ..AudioFile::default()
                },
                Err(reason) => {
                    issues.push((path_str(&f.path), reason));
                    continue;
                }
            },
        };
        let (disc, track) = numbers_from_filename(&a.metadata.filename, &strip);
        a.disc_num_from_filename = disc;
        a.track_num_from_filename = track;
        audio.push(a);
    }
    order_tracks(&mut audio);
    let ebooks: Vec<&FoundFile> = g
        .files
        .iter()
        .filter(|f| f.kind == FileKind::Ebook)
        .collect();
    let primary_ebook = ebooks
        .iter()
        .find(|f| f.rel.to_ascii_lowercase().ends_with(".epub"))
        .or(ebooks.first())
        .copied();
    if audio.is_empty() && (primary_ebook.is_none() || input.library.settings.audiobooks_only) {
        return Built { item: None, issues };
    }

    let mut sources: BTreeMap<MetadataSource, MetaPatch> = sidecar::read_sidecars(&g.files);
    if let Some(edited) = crate::library::edits::read(input.data_dir, &input.identity.id) {
        sources.insert(
            MetadataSource::AbsMetadata,
            sidecar::parse_abs_json(&edited),
        );
    }
    sources.insert(MetadataSource::FolderStructure, from_folder(info.clone()));
    if let Some(first) = audio.first() {
        sources.insert(MetadataSource::AudioMetatags, from_tags(&first.meta_tags));
    }
    let precedence = &input.library.settings.metadata_precedence;
    let abs_chapters_win = rank(precedence, MetadataSource::AbsMetadata)
        > rank(precedence, MetadataSource::AudioMetatags);
    let merged = merge(precedence, sources);
    let title = merged.title.clone().unwrap_or_else(|| info.title.clone());
    let item_chapters = if abs_chapters_win && !merged.chapters.is_empty() {
        merged.chapters.clone()
    } else {
        chapters::build(&audio, &title)
    };

    let item_path = input.folder_path.join(&g.rel);
    let cover_path = match covers::folder_cover(&g.files) {
        Some(f) => {
            // A folder image added since the last scan replaces an extracted one.
            if !input.previous.is_empty() {
                covers::remove_extracted(input.data_dir, &input.identity.id);
            }
            Some(path_str(&f.path))
        }
        None if picture.is_some() => picture.and_then(|(bytes, ext)| {
            covers::write_cover(input.data_dir, &input.identity.id, &bytes, ext)
                .map(|p| path_str(&p))
        }),
        None if audio.iter().any(|a| a.embedded_cover_art.is_some()) => {
            let paths: Vec<PathBuf> = audio
                .iter()
                .filter(|a| a.embedded_cover_art.is_some())
                .map(|a| PathBuf::from(&a.metadata.path))
                .collect();
            covers::extract_embedded(input.data_dir, &input.identity.id, &paths)
                .map(|p| path_str(&p))
        }
        None => None,
    };
    // Over every audio file of the group, readable or not, exactly as `plan` matches it.
    let fingerprint = input.identity.fingerprint.clone().unwrap_or_else(|| {
        let paths: Vec<&Path> = g
            .files
            .iter()
            .filter(|f| f.kind == FileKind::Audio)
            .map(|f| f.path.as_path())
            .collect();
        identity::fingerprint(&paths).unwrap_or_default()
    });
    let library_files: Vec<LibraryFile> = g
        .files
        .iter()
        .map(|f| LibraryFile {
            ino: f.stat.ino.to_string(),
            metadata: file_metadata(f, &g.rel, g.is_file),
            is_supplementary: (f.kind == FileKind::Ebook)
                .then(|| primary_ebook.is_none_or(|p| p.rel != f.rel)),
            added_at: input.now,
            updated_at: input.now,
            file_type: f.kind,
        })
        .collect();
    let ebook_file = primary_ebook
        .filter(|_| !input.library.settings.audiobooks_only)
        .map(|f| {
            let md = file_metadata(f, &g.rel, g.is_file);
            EbookFile {
                ino: f.stat.ino.to_string(),
                ebook_format: md.ext.trim_start_matches('.').to_string(),
                metadata: md,
                added_at: input.now,
                updated_at: input.now,
            }
        });
    let stat = if g.is_file {
        g.files.first().map_or(input.dir_stat, |f| f.stat)
    } else {
        input.dir_stat
    };
    let item = Item {
        id: input.identity.id,
        book_id: input.identity.book_id,
        library_id: input.library.id.clone(),
        folder_id: Some(input.folder_id.to_string()),
        path: path_str(&item_path),
        rel_path: g.rel.clone(),
        ino: stat.ino.to_string(),
        fingerprint,
        is_file: g.is_file,
        is_missing: false,
        is_invalid: false,
        mtime_ms: stat.mtime_ms,
        ctime_ms: stat.ctime_ms,
        birthtime_ms: stat.birthtime_ms,
        size: g.files.iter().map(|f| f.stat.size).sum(),
        library_files,
        last_scan: Some(input.now),
        scan_version: Some(env!("CARGO_PKG_VERSION").to_string()),
        created_at: input.now,
        updated_at: input.now,
        tags: merged.tags.clone(),
        metadata: book_metadata(merged, title),
        cover_path,
        duration: audio
            .iter()
            .filter(|a| !a.exclude)
            .map(|a| a.duration)
            .sum(),
        chapters: item_chapters,
        audio_files: audio,
        ebook_file,
    };
    Built {
        item: Some(item),
        issues,
    }
}

fn rank(precedence: &[MetadataSource], s: MetadataSource) -> Option<usize> {
    precedence.iter().position(|p| *p == s)
}

fn book_metadata(m: MetaPatch, title: String) -> BookMetadata {
    BookMetadata {
        title,
        subtitle: m.subtitle,
        authors: m
            .authors
            .into_iter()
            .map(|name| AuthorRef {
                id: String::new(),
                name,
            })
            .collect(),
        narrators: m.narrators,
        series: m
            .series
            .into_iter()
            .map(|(name, sequence)| SeriesRef {
                id: String::new(),
                name,
                sequence,
            })
            .collect(),
        genres: m.genres,
        published_year: m.published_year,
        published_date: m.published_date,
        publisher: m.publisher,
        description: m.description,
        isbn: m.isbn,
        asin: m.asin,
        language: m.language,
        explicit: m.explicit.unwrap_or(false),
        abridged: m.abridged.unwrap_or(false),
    }
}

/// ABS's "smart track order": disc numbers only when every file has one, then track numbers
/// from whichever source (tags or file names) has more distinct values, then the path.
fn order_tracks(audio: &mut [AudioFile]) {
    let all = |f: fn(&AudioFile) -> Option<u32>| audio.iter().all(|a| f(a).is_some());
    let distinct = |f: fn(&AudioFile) -> Option<u32>| {
        let mut v: Vec<u32> = audio.iter().filter_map(f).collect();
        v.sort_unstable();
        v.dedup();
        v.len()
    };
    let disc: fn(&AudioFile) -> Option<u32> = if all(|a| a.disc_num_from_meta) {
        |a| a.disc_num_from_meta
    } else if all(|a| a.disc_num_from_filename) {
        |a| a.disc_num_from_filename
    } else {
        |_| None
    };
    let track: fn(&AudioFile) -> Option<u32> =
        if distinct(|a| a.track_num_from_meta) >= distinct(|a| a.track_num_from_filename) {
            |a| a.track_num_from_meta
        } else {
            |a| a.track_num_from_filename
        };
    audio.sort_by(|a, b| {
        let key = |x: &AudioFile| (disc(x).unwrap_or(u32::MAX), track(x).unwrap_or(u32::MAX));
        key(a)
            .cmp(&key(b))
            .then_with(|| a.metadata.path.cmp(&b.metadata.path))
    });
    for (i, a) in audio.iter_mut().enumerate() {
        a.index = i as u32 + 1;
    }
}
