//! Reads one audio file in process: lofty for properties and common tags, mp4ameta for MP4
//! chapters and iTunes freeform atoms, id3 for CHAP frames and TXXX fields lofty's generic tag
//! drops (asin, series, OverDrive MediaMarkers). Files are opened read-only; nothing is written.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use lofty::config::ParseOptions;
use lofty::file::FileType;
use lofty::prelude::*;
use lofty::tag::{ItemKey, Tag};

use crate::library::layout::ext_of;
use crate::library::model::Chapter;

/// What a probe learned about one audio file (the probe-derived part of `AudioFile`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Probed {
    pub format: String,
    pub codec: String,
    pub duration: f64,
    pub bit_rate: Option<u32>,
    pub channels: Option<u8>,
    pub channel_layout: Option<String>,
    pub language: Option<String>,
    pub mime_type: String,
    pub embedded_cover_art: Option<String>,
    /// The first picture's bytes and file extension, so the cover needs no second read.
    pub picture: Option<(Vec<u8>, &'static str)>,
    pub meta_tags: BTreeMap<String, String>,
    pub chapters: Vec<Chapter>,
    pub track: Option<u32>,
    pub disc: Option<u32>,
}

/// Probes `path`; the error is a human-readable reason for the library's issue list.
pub fn probe(path: &Path) -> Result<Probed, String> {
    let ext = ext_of(&path.to_string_lossy());
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let tagged = lofty::probe::Probe::new(BufReader::new(file))
        .options(ParseOptions::new())
        .guess_file_type()
        .map_err(|e| format!("cannot read: {e}"))?
        .read()
        .map_err(|e| format!("not a readable audio file: {e}"))?;
    let props = tagged.properties();
    let duration = props.duration().as_secs_f64();
    if duration <= 0.0 {
        return Err("audio has no duration".into());
    }
    let file_type = tagged.file_type();
    let (format, codec) = format_codec(file_type, &ext);
    let mut out = Probed {
        format: format.into(),
        codec: codec.into(),
        duration,
        bit_rate: props
            .audio_bitrate()
            .or(props.overall_bitrate())
            .map(|k| k * 1000),
        channels: props.channels(),
        channel_layout: match props.channels() {
            Some(1) => Some("mono".into()),
            Some(2) => Some("stereo".into()),
            _ => None,
        },
        mime_type: mime_for_ext(&ext).into(),
        ..Probed::default()
    };
    if let Some(tag) = tagged.primary_tag().or(tagged.first_tag()) {
        read_common_tags(tag, &mut out);
        if tag.picture_count() > 0 {
            let png = tag
                .pictures()
                .first()
                .and_then(|p| p.mime_type())
                .is_some_and(|m| m.as_str() == "image/png");
            out.embedded_cover_art = Some(if png { "png" } else { "mjpeg" }.into());
            out.picture = tag
                .pictures()
                .first()
                .map(|p| (p.data().to_vec(), picture_ext(p)));
        }
    }
    match file_type {
        FileType::Mp4 => read_mp4_extras(path, &mut out),
        FileType::Mpeg | FileType::Aac | FileType::Wav | FileType::Aiff => {
            read_id3_extras(path, &mut out)
        }
        FileType::Flac | FileType::Vorbis | FileType::Opus => {
            read_vorbis_extras(path, file_type, &mut out)
        }
        _ => {}
    }
    out.chapters.retain(|c| c.end > c.start);
    Ok(out)
}

fn set(out: &mut Probed, key: &str, value: Option<String>) {
    if let Some(v) = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    {
        out.meta_tags.entry(key.to_string()).or_insert(v);
    }
}

fn read_common_tags(tag: &Tag, out: &mut Probed) {
    let get = |k: ItemKey| tag.get_string(k).map(str::to_string);
    set(out, "tagTitle", get(ItemKey::TrackTitle));
    set(out, "tagSubtitle", get(ItemKey::TrackSubtitle));
    set(out, "tagAlbum", get(ItemKey::AlbumTitle));
    set(out, "tagArtist", get(ItemKey::TrackArtist));
    set(out, "tagAlbumArtist", get(ItemKey::AlbumArtist));
    set(out, "tagComposer", get(ItemKey::Composer));
    let genres: Vec<&str> = tag.get_strings(ItemKey::Genre).collect();
    set(out, "tagGenre", Some(genres.join(";")));
    set(out, "tagDescription", get(ItemKey::Description));
    set(out, "tagComment", get(ItemKey::Comment));
    set(
        out,
        "tagPublisher",
        get(ItemKey::Publisher).or(get(ItemKey::Label)),
    );
    set(out, "tagLanguage", get(ItemKey::Language));
    set(
        out,
        "tagSeries",
        get(ItemKey::ShowName).or(get(ItemKey::Movement)),
    );
    set(
        out,
        "tagGrouping",
        get(ItemKey::ContentGroup).or(get(ItemKey::AppleId3v2ContentGroup)),
    );
    set(out, "tagDate", tag.date().map(|d| d.to_string()));
    out.track = tag.track();
    out.disc = tag.disk();
    set(out, "tagTrack", tag.track().map(|t| t.to_string()));
    set(out, "tagDisc", tag.disk().map(|t| t.to_string()));
    out.language = out.meta_tags.get("tagLanguage").cloned();
}

/// Custom fields ABS reads by name, in the spelling tools write them.
fn custom_key(description: &str) -> Option<&'static str> {
    match description.to_ascii_lowercase().as_str() {
        "asin" | "audible_asin" => Some("tagASIN"),
        "isbn" => Some("tagISBN"),
        "series" | "mvnm" => Some("tagSeries"),
        "series-part" | "mvin" => Some("tagSeriesPart"),
        "subtitle" => Some("tagSubtitle"),
        "overdrive mediamarkers" => Some("tagOverdriveMediaMarker"),
        _ => None,
    }
}

fn read_id3_extras(path: &Path, out: &mut Probed) {
    let Ok(tag) = id3::Tag::read_from_path(path) else {
        return;
    };
    for t in tag.extended_texts() {
        if let Some(key) = custom_key(&t.description) {
            set(out, key, Some(t.value.clone()));
        }
    }
    let mut chapters: Vec<(u32, u32, String)> = tag
        .chapters()
        .map(|c| {
            let title = c
                .frames
                .iter()
                .find(|f| f.id() == "TIT2")
                .and_then(|f| f.content().text())
                .unwrap_or(&c.element_id)
                .to_string();
            (c.start_time, c.end_time, title)
        })
        .collect();
    chapters.sort_by_key(|c| c.0);
    out.chapters = chapters
        .into_iter()
        .enumerate()
        .map(|(i, (s, e, title))| Chapter {
            id: i as u32,
            start: f64::from(s) / 1000.0,
            end: (f64::from(e) / 1000.0).min(out.duration.max(f64::from(s) / 1000.0)),
            title,
        })
        .collect();
}

/// Vorbis comments lofty's generic tag drops: the custom fields ABS reads (ASIN, SERIES,
/// SERIES-PART, SUBTITLE) and chapters as `CHAPTER001=00:00:00.000` + `CHAPTER001NAME=…`.
fn read_vorbis_extras(path: &Path, file_type: FileType, out: &mut Probed) {
    use lofty::flac::FlacFile;
    use lofty::ogg::tag::VorbisComments;
    use lofty::ogg::{OpusFile, VorbisFile};
    let Ok(file) = File::open(path) else {
        return;
    };
    let mut reader = BufReader::new(file);
    let opts = ParseOptions::new()
        .read_properties(false)
        .read_cover_art(false);
    let comments: Option<VorbisComments> = match file_type {
        FileType::Flac => FlacFile::read_from(&mut reader, opts)
            .ok()
            .and_then(|f| f.vorbis_comments().cloned()),
        FileType::Vorbis => VorbisFile::read_from(&mut reader, opts)
            .ok()
            .map(|f| f.vorbis_comments().clone()),
        FileType::Opus => OpusFile::read_from(&mut reader, opts)
            .ok()
            .map(|f| f.vorbis_comments().clone()),
        _ => None,
    };
    let Some(comments) = comments else {
        return;
    };
    let mut starts = Vec::new();
    for (key, value) in comments.items() {
        if let Some(mapped) = custom_key(key) {
            set(out, mapped, Some(value.to_string()));
        }
        let upper = key.to_ascii_uppercase();
        if let Some(number) = upper.strip_prefix("CHAPTER")
            && !number.is_empty()
            && number.bytes().all(|b| b.is_ascii_digit())
            && let Some(start) = parse_clock(value)
        {
            let title = comments
                .get(&format!("{key}NAME"))
                .or_else(|| comments.get(&format!("{upper}NAME")))
                .map(str::to_string)
                .unwrap_or_else(|| format!("Chapter {number}"));
            starts.push((start, title));
        }
    }
    if !starts.is_empty() {
        out.chapters = with_ends(starts, out.duration);
    }
}

/// `HH:MM:SS(.fff)` (hours optional) to seconds.
fn parse_clock(value: &str) -> Option<f64> {
    let mut seconds = 0.0;
    let parts: Vec<&str> = value.trim().split(':').collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    for part in &parts {
        let v: f64 = part.parse().ok()?;
        if !v.is_finite() || v < 0.0 {
            return None;
        }
        seconds = seconds * 60.0 + v;
    }
    Some(seconds)
}

fn read_mp4_extras(path: &Path, out: &mut Probed) {
    let cfg = mp4ameta::ReadConfig {
        read_image_data: false,
        ..mp4ameta::ReadConfig::DEFAULT
    };
    let Ok(tag) = mp4ameta::Tag::read_with_path(path, &cfg) else {
        return;
    };
    for name in [
        "ASIN",
        "asin",
        "AUDIBLE_ASIN",
        "ISBN",
        "SERIES",
        "series",
        "series-part",
        "SUBTITLE",
    ] {
        let ident = mp4ameta::FreeformIdent::new_static("com.apple.iTunes", name);
        if let (Some(key), Some(v)) = (custom_key(name), tag.strings_of(&ident).next()) {
            set(out, key, Some(v.to_string()));
        }
    }
    let list = if tag.chapter_list().is_empty() {
        tag.chapter_track()
    } else {
        tag.chapter_list()
    };
    let starts: Vec<(f64, String)> = list
        .iter()
        .map(|c| (c.start.as_secs_f64(), c.title.clone()))
        .collect();
    out.chapters = with_ends(starts, out.duration);
}

/// Chapters from start times: each ends where the next starts, the last at `duration`.
pub fn with_ends(mut starts: Vec<(f64, String)>, duration: f64) -> Vec<Chapter> {
    starts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let ends: Vec<f64> = starts
        .iter()
        .skip(1)
        .map(|s| s.0)
        .chain(std::iter::once(duration))
        .collect();
    starts
        .into_iter()
        .zip(ends)
        .enumerate()
        .map(|(i, ((start, title), end))| Chapter {
            id: i as u32,
            start,
            end,
            title,
        })
        .collect()
}

fn format_codec(t: FileType, ext: &str) -> (&'static str, &'static str) {
    match t {
        FileType::Mpeg => ("MP2/3 (MPEG audio layer 2/3)", "mp3"),
        FileType::Mp4 => (
            "QuickTime / MOV",
            if ext == "alac" { "alac" } else { "aac" },
        ),
        FileType::Flac => ("raw FLAC", "flac"),
        FileType::Vorbis => ("Ogg", "vorbis"),
        FileType::Opus => ("Ogg", "opus"),
        FileType::Speex => ("Ogg", "speex"),
        FileType::Wav => ("WAV / WAVE (Waveform Audio)", "pcm_s16le"),
        FileType::Aac => ("raw ADTS AAC (Advanced Audio Coding)", "aac"),
        FileType::Aiff => ("Audio IFF", "pcm_s16be"),
        _ => ("unknown", "unknown"),
    }
}

/// ABS's MIME type per extension (ogg, oga and opus all serve as `audio/ogg`).
pub fn mime_for_ext(ext: &str) -> &'static str {
    match ext {
        "mp3" | "mpg" | "mpeg" => "audio/mpeg",
        "m4b" | "m4a" | "mp4" => "audio/mp4",
        "flac" => "audio/flac",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "aac" => "audio/aac",
        "wav" => "audio/wav",
        "webm" | "webma" => "audio/webm",
        "wma" => "audio/x-ms-wma",
        "aiff" | "aif" => "audio/x-aiff",
        "mka" => "audio/x-matroska",
        "awb" => "audio/amr-wb",
        "caf" => "audio/x-caf",
        _ => "application/octet-stream",
    }
}

/// The first embedded picture and its file extension, for cover extraction.
pub fn embedded_picture(path: &Path) -> Option<(Vec<u8>, &'static str)> {
    let file = File::open(path).ok()?;
    let tagged = lofty::probe::Probe::new(BufReader::new(file))
        .guess_file_type()
        .ok()?
        .read()
        .ok()?;
    let tag = tagged.primary_tag().or(tagged.first_tag())?;
    let pic = tag.pictures().first()?;
    Some((pic.data().to_vec(), picture_ext(pic)))
}

fn picture_ext(pic: &lofty::picture::Picture) -> &'static str {
    match pic.mime_type().map(|m| m.as_str()) {
        Some("image/png") => "png",
        Some("image/webp") => "webp",
        _ => "jpg",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "probe_tests.rs"]
mod tests;
