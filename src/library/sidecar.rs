//! Metadata files next to the audio: `.opf`, `.nfo`, `desc.txt`, `reader.txt` and ABS's
//! `metadata.json`. Each parser turns text into a `MetaPatch`; malformed input yields what could
//! be read (or nothing), never an error that stops a scan.

use std::collections::BTreeMap;
use std::io::Read;

use serde::Deserialize;

use crate::library::grammar::parse_names;
use crate::library::layout::FoundFile;
use crate::library::metadata::{MetaPatch, parse_series_list, split_genres, year_of};
use crate::library::model::{Chapter, MetadataSource};

/// Sidecars larger than this are not metadata anyone wrote by hand; skip them.
const MAX_SIDECAR_BYTES: u64 = 2 * 1024 * 1024;

fn read_text(f: &FoundFile) -> Option<String> {
    if f.stat.size > MAX_SIDECAR_BYTES {
        return None;
    }
    let mut buf = Vec::new();
    std::fs::File::open(&f.path)
        .ok()?
        .read_to_end(&mut buf)
        .ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// Reads the sidecars among an item's files (the first of each kind, as ABS does).
pub fn read_sidecars(files: &[FoundFile]) -> BTreeMap<MetadataSource, MetaPatch> {
    let name = |f: &FoundFile| f.rel.rsplit('/').next().unwrap_or("").to_ascii_lowercase();
    let mut out = BTreeMap::new();
    if let Some(t) = files
        .iter()
        .find(|f| name(f).ends_with(".nfo"))
        .and_then(read_text)
    {
        out.insert(MetadataSource::NfoFile, parse_nfo(&t));
    }
    let desc = files
        .iter()
        .find(|f| name(f) == "desc.txt")
        .and_then(read_text);
    let reader = files
        .iter()
        .find(|f| name(f) == "reader.txt")
        .and_then(read_text);
    if desc.is_some() || reader.is_some() {
        out.insert(
            MetadataSource::TxtFiles,
            parse_txt(desc.as_deref(), reader.as_deref()),
        );
    }
    if let Some(t) = files
        .iter()
        .find(|f| name(f).ends_with(".opf"))
        .and_then(read_text)
    {
        out.insert(MetadataSource::OpfFile, parse_opf(&t));
    }
    if let Some(t) = files
        .iter()
        .find(|f| name(f) == "metadata.json")
        .and_then(read_text)
    {
        out.insert(MetadataSource::AbsMetadata, parse_abs_json(&t));
    }
    out
}

pub fn parse_txt(desc: Option<&str>, reader: Option<&str>) -> MetaPatch {
    MetaPatch {
        description: desc.map(str::to_string),
        narrators: reader
            .and_then(|r| r.lines().map(str::trim).find(|l| !l.is_empty()))
            .map(parse_names)
            .unwrap_or_default(),
        ..MetaPatch::default()
    }
}

pub fn parse_nfo(text: &str) -> MetaPatch {
    let mut p = MetaPatch::default();
    let mut in_description = false;
    let mut description = Vec::new();
    for line in text.lines() {
        let kv = line
            .split_once(':')
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim()));
        let known = kv.as_ref().is_some_and(|(k, _)| nfo_key(k));
        if in_description && !known {
            description.push(line.trim().to_string());
            continue;
        }
        in_description = false;
        let Some((key, value)) = kv else { continue };
        let v = || (!value.is_empty()).then(|| value.to_string());
        match key.as_str() {
            "title" => match value.split_once(':') {
                Some((t, sub)) => {
                    p.title = Some(t.trim().into());
                    p.subtitle = Some(sub.trim().into());
                }
                None => p.title = v(),
            },
            "subtitle" => p.subtitle = v(),
            "author" => p.authors = parse_names(value),
            "narrator" | "read by" | "narrated by" => p.narrators = parse_names(value),
            "series name" | "series" => p.series = vec![(value.to_string(), None)],
            "position in series" => {
                if let Some(s) = p.series.first_mut() {
                    s.1 = v();
                }
            }
            "genre" => p.genres = split_genres(value),
            "tags" => p.tags = value.split(',').map(|t| t.trim().to_string()).collect(),
            "copyright" | "release date" | "date" => p.published_year = year_of(value),
            "unabridged" => p.abridged = Some(!is_yes(value)),
            "abridged" => p.abridged = Some(is_yes(value)),
            "publisher" => p.publisher = v(),
            "asin" => p.asin = v(),
            "isbn" => p.isbn = v(),
            "language" => p.language = v(),
            "description" => {
                in_description = true;
                description.extend(v());
            }
            _ => {}
        }
    }
    let d = description.join("\n").trim().to_string();
    p.description = (!d.is_empty()).then_some(d);
    p
}

fn nfo_key(k: &str) -> bool {
    matches!(
        k,
        "title"
            | "subtitle"
            | "author"
            | "narrator"
            | "read by"
            | "narrated by"
            | "series name"
            | "series"
            | "position in series"
            | "genre"
            | "tags"
            | "copyright"
            | "release date"
            | "date"
            | "unabridged"
            | "abridged"
            | "publisher"
            | "asin"
            | "isbn"
            | "language"
    )
}

fn is_yes(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "yes" | "y" | "true" | "1"
    )
}

fn attr<'a>(n: &roxmltree::Node<'a, '_>, local: &str) -> Option<&'a str> {
    n.attributes()
        .find(|a| a.name() == local)
        .map(|a| a.value())
}

pub fn parse_opf(text: &str) -> MetaPatch {
    let mut p = MetaPatch::default();
    let Ok(doc) = roxmltree::Document::parse(text) else {
        return p;
    };
    let Some(meta) = doc
        .descendants()
        .find(|n| n.has_tag_name("metadata") || n.tag_name().name() == "metadata")
    else {
        return p;
    };
    // EPUB3 puts roles in `<meta refines="#id" property="role">`.
    let mut refined_roles: BTreeMap<String, String> = BTreeMap::new();
    for n in meta.children().filter(|n| n.tag_name().name() == "meta") {
        if attr(&n, "property") == Some("role")
            && let (Some(r), Some(t)) = (attr(&n, "refines"), n.text())
        {
            refined_roles.insert(r.trim_start_matches('#').to_string(), t.trim().to_string());
        }
    }
    let mut series_name = None;
    let mut series_index = None;
    for n in meta.children().filter(|n| n.is_element()) {
        let text = n
            .text()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        match n.tag_name().name() {
            "title" => p.title = p.title.take().or(text),
            "subtitle" => p.subtitle = text,
            "creator" => {
                let role = attr(&n, "role")
                    .map(str::to_string)
                    .or_else(|| attr(&n, "id").and_then(|id| refined_roles.get(id).cloned()))
                    .unwrap_or_else(|| "aut".into());
                if let Some(t) = text {
                    match role.as_str() {
                        "nrt" => p.narrators.push(t),
                        "aut" => p.authors.push(t),
                        _ => {}
                    }
                }
            }
            "date" => p.published_year = text.as_deref().and_then(year_of),
            "publisher" => p.publisher = text,
            "description" => p.description = text,
            "subject" => p.genres.extend(text),
            "language" => p.language = text,
            "identifier" => {
                let scheme = attr(&n, "scheme").unwrap_or("").to_ascii_lowercase();
                let t = text.unwrap_or_default();
                let lower = t.to_ascii_lowercase();
                if scheme == "isbn" || lower.starts_with("urn:isbn:") {
                    p.isbn = Some(t.rsplit(':').next().unwrap_or(&t).to_string());
                } else if scheme == "asin" || lower.starts_with("urn:asin:") {
                    p.asin = Some(t.rsplit(':').next().unwrap_or(&t).to_string());
                }
            }
            "meta" => match attr(&n, "name") {
                Some("calibre:series") => series_name = attr(&n, "content").map(str::to_string),
                Some("calibre:series_index") => {
                    series_index = attr(&n, "content").map(str::to_string)
                }
                _ => {}
            },
            _ => {}
        }
    }
    if let Some(name) = series_name {
        p.series = vec![(name, series_index)];
    }
    p
}

/// ABS's `metadata.json` (the form ABS writes after scans and edits).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct AbsJson {
    tags: Option<Vec<String>>,
    chapters: Option<Vec<AbsChapter>>,
    title: Option<String>,
    subtitle: Option<String>,
    authors: Option<Vec<String>>,
    narrators: Option<Vec<String>>,
    series: Option<Vec<String>>,
    genres: Option<Vec<String>>,
    published_year: Option<serde_json::Value>,
    published_date: Option<String>,
    publisher: Option<String>,
    description: Option<String>,
    isbn: Option<String>,
    asin: Option<String>,
    language: Option<String>,
    explicit: Option<bool>,
    abridged: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct AbsChapter {
    start: f64,
    end: f64,
    title: Option<String>,
}

pub fn parse_abs_json(text: &str) -> MetaPatch {
    let Ok(j) = serde_json::from_str::<AbsJson>(text) else {
        return MetaPatch::default();
    };
    let year = match j.published_year {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    MetaPatch {
        title: j.title,
        subtitle: j.subtitle,
        authors: j.authors.unwrap_or_default(),
        narrators: j.narrators.unwrap_or_default(),
        series: j
            .series
            .unwrap_or_default()
            .iter()
            .flat_map(|s| parse_series_list(s, None))
            .collect(),
        genres: j.genres.unwrap_or_default(),
        tags: j.tags.unwrap_or_default(),
        published_year: year,
        published_date: j.published_date,
        publisher: j.publisher,
        description: j.description,
        isbn: j.isbn,
        asin: j.asin,
        language: j.language,
        explicit: j.explicit,
        abridged: j.abridged,
        chapters: j
            .chapters
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.end > c.start)
            .enumerate()
            .map(|(i, c)| Chapter {
                id: i as u32,
                start: c.start,
                end: c.end,
                title: c.title.unwrap_or_default(),
            })
            .collect(),
    }
}

#[cfg(test)]
#[path = "sidecar_tests.rs"]
mod tests;
