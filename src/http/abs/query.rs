//! ABS's list-query language: `filter=<group>.<base64 value>`, sort keys, paging. Pure functions.

use std::cmp::Ordering;
use std::collections::HashMap;

use base64::Engine;

use crate::error::{AppError, AppResult};
use crate::library::model::Item;
use crate::model::MediaProgress;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    Genre(String),
    Tag(String),
    /// A series id, or None for `no-series`.
    Series(Option<String>),
    Author(String),
    Narrator(String),
    Publisher(String),
    Language(String),
    Decade(String),
    Progress(String),
    Tracks(String),
    Ebooks(String),
    Missing(String),
    Issues,
    Explicit,
    Abridged,
    /// Groups we accept but that match nothing here (RSS feeds and shares are not served).
    Nothing,
}

/// Decodes ABS's base64 (standard alphabet, padding optional; URL-safe tolerated).
pub fn decode_value(raw: &str) -> AppResult<String> {
    let cleaned = raw.trim().trim_end_matches('=');
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(cleaned)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cleaned))
        .map_err(|_| AppError::bad_request("Invalid filter value"))?;
    String::from_utf8(bytes).map_err(|_| AppError::bad_request("Invalid filter value"))
}

pub fn encode_value(v: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(v.as_bytes())
}

pub fn parse_filter(raw: &str) -> AppResult<Filter> {
    let (group, value) = match raw.split_once('.') {
        Some((g, v)) => (g, Some(decode_value(v)?)),
        None => (raw, None),
    };
    let need = || {
        value
            .clone()
            .ok_or_else(|| AppError::bad_request("Filter value missing"))
    };
    Ok(match group {
        "genres" => Filter::Genre(need()?),
        "tags" => Filter::Tag(need()?),
        "series" => {
            let v = need()?;
            Filter::Series((v != "no-series").then_some(v))
        }
        "authors" => Filter::Author(need()?),
        "narrators" => Filter::Narrator(need()?),
        "publishers" => Filter::Publisher(need()?),
        "languages" => Filter::Language(need()?),
        "publishedDecades" => Filter::Decade(need()?),
        "progress" => Filter::Progress(need()?),
        "tracks" => Filter::Tracks(need()?),
        "ebooks" => Filter::Ebooks(need()?),
        "missing" => Filter::Missing(need()?),
        "issues" => Filter::Issues,
        "explicit" => Filter::Explicit,
        "abridged" => Filter::Abridged,
        "feed-open" | "share-open" => Filter::Nothing,
        _ => return Err(AppError::bad_request("Unknown filter group")),
    })
}

fn eq_ci(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase()
}

fn decade_of(year: Option<&str>) -> Option<String> {
    let y: i32 = year?.get(..4)?.parse().ok()?;
    Some(((y / 10) * 10).to_string())
}

/// Whether `item` passes `filter`; `progress` is the caller's row for the item.
pub fn matches(item: &Item, filter: &Filter, progress: Option<&MediaProgress>) -> bool {
    let m = &item.metadata;
    match filter {
        Filter::Genre(g) => m.genres.iter().any(|x| eq_ci(x, g)),
        Filter::Tag(t) => item.tags.iter().any(|x| eq_ci(x, t)),
        Filter::Series(Some(id)) => m.series.iter().any(|s| &s.id == id),
        Filter::Series(None) => m.series.is_empty(),
        Filter::Author(id) => m.authors.iter().any(|a| &a.id == id),
        Filter::Narrator(n) => m.narrators.iter().any(|x| eq_ci(x, n)),
        Filter::Publisher(p) => m.publisher.as_deref().is_some_and(|x| eq_ci(x, p)),
        Filter::Language(l) => m.language.as_deref().is_some_and(|x| eq_ci(x, l)),
        Filter::Decade(d) => decade_of(m.published_year.as_deref()).as_deref() == Some(d.as_str()),
        Filter::Progress(kind) => {
            let started =
                progress.is_some_and(|p| p.current_time > 0.0 || p.is_finished || p.progress > 0.0);
            let finished = progress.is_some_and(|p| p.is_finished);
            match kind.as_str() {
                "finished" => finished,
                "not-started" => !started,
                "not-finished" => !finished,
                "in-progress" | "audio-in-progress" => started && !finished,
                "ebook-in-progress" => progress
                    .is_some_and(|p| p.ebook_progress.unwrap_or(0.0) > 0.0 && !p.is_finished),
                "ebook-finished" => {
                    progress.is_some_and(|p| p.ebook_progress.unwrap_or(0.0) >= 1.0)
                }
                _ => false,
            }
        }
        Filter::Tracks(kind) => match kind.as_str() {
            "none" => item.num_tracks() == 0,
            "single" => item.num_tracks() == 1,
            "multi" => item.num_tracks() > 1,
            _ => false,
        },
        Filter::Ebooks(kind) => {
            let has_ebook = item.ebook_file.is_some();
            let supplementary = item
                .library_files
                .iter()
                .any(|f| f.is_supplementary == Some(true));
            match kind.as_str() {
                "ebook" => has_ebook,
                "no-ebook" => !has_ebook,
                "supplementary" => supplementary,
                "no-supplementary" => !supplementary,
                _ => false,
            }
        }
        Filter::Missing(field) => match field.as_str() {
            "asin" => m.asin.is_none(),
            "isbn" => m.isbn.is_none(),
            "subtitle" => m.subtitle.is_none(),
            "publishedYear" => m.published_year.is_none(),
            "description" => m.description.is_none(),
            "publisher" => m.publisher.is_none(),
            "language" => m.language.is_none(),
            "cover" => item.cover_path.is_none(),
            "genres" => m.genres.is_empty(),
            "tags" => item.tags.is_empty(),
            "narrators" => m.narrators.is_empty(),
            "chapters" => item.chapters.is_empty(),
            "authors" => m.authors.is_empty(),
            "series" => m.series.is_empty(),
            _ => false,
        },
        Filter::Issues => item.is_missing || item.is_invalid,
        Filter::Explicit => m.explicit,
        Filter::Abridged => m.abridged,
        Filter::Nothing => false,
    }
}

/// A sequence like "1", "2.5", "10a" as a sortable number (unparseable ones last).
pub fn sequence_number(seq: Option<&str>) -> f64 {
    let Some(s) = seq else { return f64::MAX };
    let digits: String = s
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits.parse().unwrap_or(f64::MAX)
}

fn cmp_f64(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

/// Sorted positions for a user-independent sort key, or None for keys that need more context.
pub fn static_order(items: &[std::sync::Arc<Item>], key: &str) -> Option<Vec<usize>> {
    let mut idx: Vec<usize> = (0..items.len()).collect();
    let by_text = |f: &dyn Fn(&Item) -> String| {
        let keys: Vec<String> = items.iter().map(|i| f(i).to_lowercase()).collect();
        move |a: &usize, b: &usize| keys[*a].cmp(&keys[*b]).then(a.cmp(b))
    };
    match key {
        "media.metadata.title" => {}
        "media.metadata.authorName" => idx.sort_by(by_text(&|i| i.metadata.author_name())),
        "media.metadata.authorNameLF" => idx.sort_by(by_text(&|i| i.metadata.author_name_lf())),
        "media.metadata.publishedYear" => idx.sort_by(by_text(&|i| {
            i.metadata.published_year.clone().unwrap_or_default()
        })),
        "media.duration" => {
            idx.sort_by(|a, b| cmp_f64(items[*a].duration, items[*b].duration).then(a.cmp(b)))
        }
        "addedAt" => idx.sort_by_key(|i| (items[*i].created_at, *i)),
        "size" => idx.sort_by_key(|i| (items[*i].size, *i)),
        "birthtimeMs" => idx.sort_by_key(|i| (items[*i].birthtime_ms, *i)),
        "mtimeMs" => idx.sort_by_key(|i| (items[*i].mtime_ms, *i)),
        _ => return None,
    }
    Some(idx)
}

/// Orders positions by the user's progress (`progress` = last update, `progress.createdAt` = started,
/// `progress.finishedAt`); items without progress come last.
pub fn progress_order(
    items: &[std::sync::Arc<Item>],
    key: &str,
    rows: &HashMap<String, MediaProgress>,
) -> Vec<usize> {
    let value = |i: &Item| -> i64 {
        rows.get(&i.id)
            .map(|p| match key {
                "progress.createdAt" => p.started_at,
                "progress.finishedAt" => p.finished_at.unwrap_or(0),
                _ => p.last_update,
            })
            .unwrap_or(i64::MIN)
    };
    let mut idx: Vec<usize> = (0..items.len()).collect();
    idx.sort_by_key(|i| (value(&items[*i]), *i));
    idx
}

/// Offset and count for ABS paging (`limit` 0 = everything, `page` 0-based).
pub fn page_window(limit: usize, page: usize, total: usize) -> (usize, usize) {
    if limit == 0 {
        return (0, total);
    }
    let start = limit.saturating_mul(page).min(total);
    (start, limit.min(total - start))
}

/// Parses an integer query parameter ≥ 0; ABS answers 400 for anything else.
pub fn non_negative(v: Option<&str>, name: &str, default: usize) -> AppResult<usize> {
    match v {
        None | Some("") => Ok(default),
        Some(s) => s
            .parse::<usize>()
            .map_err(|_| AppError::bad_request(format!("Invalid {name}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_are_base64() {
        let enc = encode_value("Science Fiction");
        assert_eq!(
            parse_filter(&format!("genres.{enc}")).ok(),
            Some(Filter::Genre("Science Fiction".into()))
        );
        assert_eq!(
            parse_filter(&format!("series.{}", encode_value("no-series"))).ok(),
            Some(Filter::Series(None))
        );
        assert_eq!(parse_filter("issues").ok(), Some(Filter::Issues));
        assert!(parse_filter("genres.%%%").is_err());
        assert!(parse_filter("bogus.eA").is_err());
        assert!(parse_filter("genres").is_err());
    }

    #[test]
    fn paging_and_sequences() {
        assert_eq!(page_window(10, 0, 25), (0, 10));
        assert_eq!(page_window(10, 2, 25), (20, 5));
        assert_eq!(page_window(10, 9, 25), (25, 0));
        assert_eq!(page_window(0, 3, 25), (0, 25));
        assert!(sequence_number(Some("2")) < sequence_number(Some("10")));
        assert!(sequence_number(Some("1.5")) < sequence_number(Some("2")));
        assert_eq!(sequence_number(None), f64::MAX);
        assert!(non_negative(Some("-1"), "limit", 0).is_err());
        assert_eq!(non_negative(None, "limit", 7).ok(), Some(7));
    }
}
