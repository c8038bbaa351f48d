//! Merging book metadata from its sources by the library's precedence (abs-internals §2.4):
//! sources are applied lowest priority first, and empty values never overwrite.

use std::collections::BTreeMap;

use crate::library::grammar::{FolderInfo, parse_names};
use crate::library::html::sanitize;
use crate::library::model::{Chapter, MetadataSource};

/// What one source says about a book. Everything optional; empty means "no opinion".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetaPatch {
    pub title: Option<String>,
    pub subtitle: Option<String>,
    pub authors: Vec<String>,
    pub narrators: Vec<String>,
    /// (name, sequence)
    pub series: Vec<(String, Option<String>)>,
    pub genres: Vec<String>,
    pub tags: Vec<String>,
    pub published_year: Option<String>,
    pub published_date: Option<String>,
    pub publisher: Option<String>,
    pub description: Option<String>,
    pub isbn: Option<String>,
    pub asin: Option<String>,
    pub language: Option<String>,
    pub explicit: Option<bool>,
    pub abridged: Option<bool>,
    pub chapters: Vec<Chapter>,
}

fn over<T>(dst: &mut Option<T>, src: Option<T>) {
    if src.is_some() {
        *dst = src;
    }
}

fn over_vec<T>(dst: &mut Vec<T>, src: Vec<T>) {
    if !src.is_empty() {
        *dst = src;
    }
}

impl MetaPatch {
    /// Applies `other` on top of `self`.
    pub fn apply(&mut self, other: MetaPatch) {
        over(&mut self.title, other.title);
        over(&mut self.subtitle, other.subtitle);
        over_vec(&mut self.authors, other.authors);
        over_vec(&mut self.narrators, other.narrators);
        over_vec(&mut self.series, other.series);
        over_vec(&mut self.genres, other.genres);
        over_vec(&mut self.tags, other.tags);
        over(&mut self.published_year, other.published_year);
        over(&mut self.published_date, other.published_date);
        over(&mut self.publisher, other.publisher);
        over(&mut self.description, other.description);
        over(&mut self.isbn, other.isbn);
        over(&mut self.asin, other.asin);
        over(&mut self.language, other.language);
        over(&mut self.explicit, other.explicit);
        over(&mut self.abridged, other.abridged);
        over_vec(&mut self.chapters, other.chapters);
    }

    /// Trims strings and drops empty ones, so "no opinion" is always `None`/empty.
    pub fn normalised(mut self) -> MetaPatch {
        fn opt(o: &mut Option<String>) {
            *o = o
                .take()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty());
        }
        fn list(v: &mut Vec<String>) {
            let mut seen = Vec::new();
            for s in v.drain(..).map(|s| s.trim().to_string()) {
                if !s.is_empty() && !seen.contains(&s) {
                    seen.push(s);
                }
            }
            *v = seen;
        }
        for o in [
            &mut self.title,
            &mut self.subtitle,
            &mut self.published_year,
            &mut self.published_date,
            &mut self.publisher,
            &mut self.description,
            &mut self.isbn,
            &mut self.asin,
            &mut self.language,
        ] {
            opt(o);
        }
        for v in [
            &mut self.authors,
            &mut self.narrators,
            &mut self.genres,
            &mut self.tags,
        ] {
            list(v);
        }
        self.series.retain(|(n, _)| !n.trim().is_empty());
        self.description = self
            .description
            .map(|d| sanitize(&d))
            .filter(|d| !d.is_empty());
        self
    }
}

/// Merges the sources in `precedence` order (lowest first); sources not listed are ignored.
pub fn merge(
    precedence: &[MetadataSource],
    sources: BTreeMap<MetadataSource, MetaPatch>,
) -> MetaPatch {
    let mut sources = sources;
    let mut out = MetaPatch::default();
    for s in precedence {
        if let Some(p) = sources.remove(s) {
            out.apply(p.normalised());
        }
    }
    out
}

pub fn from_folder(info: FolderInfo) -> MetaPatch {
    MetaPatch {
        title: Some(info.title),
        subtitle: info.subtitle,
        authors: info.authors,
        narrators: info.narrators,
        series: info
            .series
            .map(|s| vec![(s, info.sequence)])
            .unwrap_or_default(),
        published_year: info.published_year,
        asin: info.asin,
        ..MetaPatch::default()
    }
}

/// A year out of a date tag (`2021`, `2021-05-01`, `2021-05-01T00:00:00`).
pub fn year_of(date: &str) -> Option<String> {
    let y: String = date.trim().chars().take(4).collect();
    (y.len() == 4 && y.bytes().all(|c| c.is_ascii_digit())).then_some(y)
}

/// `Name #1; Other #2` → series with sequences.
pub fn parse_series_list(s: &str, part: Option<&str>) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = s
        .split(';')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| match x.rsplit_once(" #") {
            Some((name, seq)) => (name.trim().to_string(), Some(seq.trim().to_string())),
            None => (x.to_string(), None),
        })
        .collect();
    if let (Some(first), Some(part)) = (out.first_mut(), part)
        && first.1.is_none()
        && !part.trim().is_empty()
    {
        first.1 = Some(part.trim().to_string());
    }
    out
}

pub fn split_genres(s: &str) -> Vec<String> {
    s.split(['/', ';'])
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .collect()
}

/// The audio-tag source: the first track's `metaTags`.
pub fn from_tags(tags: &BTreeMap<String, String>) -> MetaPatch {
    let get = |k: &str| tags.get(k).cloned();
    let series = get("tagSeries")
        .or(get("tagGrouping"))
        .map(|s| parse_series_list(&s, tags.get("tagSeriesPart").map(String::as_str)))
        .unwrap_or_default();
    MetaPatch {
        title: get("tagAlbum").or(get("tagTitle")),
        subtitle: get("tagSubtitle"),
        authors: get("tagArtist")
            .or(get("tagAlbumArtist"))
            .map(|a| parse_names(&a))
            .unwrap_or_default(),
        narrators: get("tagComposer")
            .map(|n| parse_names(&n))
            .unwrap_or_default(),
        series,
        genres: get("tagGenre")
            .map(|g| split_genres(&g))
            .unwrap_or_default(),
        published_year: get("tagDate").and_then(|d| year_of(&d)),
        publisher: get("tagPublisher"),
        description: get("tagDescription").or(get("tagComment")),
        isbn: get("tagISBN"),
        asin: get("tagASIN"),
        language: get("tagLanguage"),
        ..MetaPatch::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MetadataSource::*;

    fn patch(title: &str, authors: &[&str]) -> MetaPatch {
        MetaPatch {
            title: Some(title.into()),
            authors: authors.iter().map(|a| a.to_string()).collect(),
            ..MetaPatch::default()
        }
    }

    #[test]
    fn precedence_order_and_empty_values() {
        let mut m = BTreeMap::new();
        m.insert(FolderStructure, patch("Folder", &["Folder Author"]));
        m.insert(AudioMetatags, patch("Tag", &[]));
        m.insert(OpfFile, patch("  ", &["Opf Author"]));
        let out = merge(&MetadataSource::DEFAULT_ORDER, m.clone());
        assert_eq!(out.title.as_deref(), Some("Tag"));
        assert_eq!(out.authors, ["Opf Author"]);
        let reversed: Vec<_> = MetadataSource::DEFAULT_ORDER
            .iter()
            .rev()
            .copied()
            .collect();
        let out = merge(&reversed, m.clone());
        assert_eq!(out.title.as_deref(), Some("Folder"));
        assert_eq!(out.authors, ["Folder Author"]);
        let only_folder = merge(&[FolderStructure], m);
        assert_eq!(only_folder.title.as_deref(), Some("Folder"));
    }

    #[test]
    fn tags_source() {
        let mut t = BTreeMap::new();
        for (k, v) in [
            ("tagTitle", "Track 1"),
            ("tagAlbum", "The Book"),
            ("tagAlbumArtist", "Jane Doe"),
            ("tagComposer", "Reader One, Reader Two"),
            ("tagGenre", "Fantasy/Adventure;Epic"),
            ("tagDate", "2019-02-03"),
            ("tagGrouping", "Saga #2; Other #1.5"),
            ("tagDescription", "<p>Good</p><script>x</script>"),
        ] {
            t.insert(k.to_string(), v.to_string());
        }
        let p = from_tags(&t).normalised();
        assert_eq!(p.title.as_deref(), Some("The Book"));
        assert_eq!(p.authors, ["Jane Doe"]);
        assert_eq!(p.narrators, ["Reader One", "Reader Two"]);
        assert_eq!(p.genres, ["Fantasy", "Adventure", "Epic"]);
        assert_eq!(p.published_year.as_deref(), Some("2019"));
        assert_eq!(p.series[0], ("Saga".to_string(), Some("2".to_string())));
        assert_eq!(p.series[1].1.as_deref(), Some("1.5"));
        assert_eq!(p.description.as_deref(), Some("<p>Good</p>"));
    }
}
