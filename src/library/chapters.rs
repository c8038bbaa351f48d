//! A book's chapter list from its ordered audio files (abs-internals §2.5): OverDrive
//! MediaMarkers, then embedded chapters (one file, identical lists, or concatenated with
//! offsets), then one chapter per file.

use crate::library::model::{AudioFile, Chapter};
use crate::library::probe::with_ends;

/// Chapters shorter than this are artefacts of concatenation (ABS drops them too).
const MIN_CHAPTER_SECS: f64 = 0.1;

pub fn build(files: &[AudioFile], book_title: &str) -> Vec<Chapter> {
    let files: Vec<&AudioFile> = files.iter().filter(|f| !f.exclude).collect();
    if files.is_empty() {
        return Vec::new();
    }
    if let Some(c) = from_media_markers(&files) {
        return c;
    }
    if files.iter().any(|f| !f.chapters.is_empty()) {
        let same_first_two =
            files.len() >= 2 && same_titles_and_starts(&files[0].chapters, &files[1].chapters);
        if files.len() == 1 || same_first_two {
            return renumber(files[0].chapters.clone());
        }
        return concatenated(&files);
    }
    if files.len() == 1 {
        return Vec::new();
    }
    per_file(&files, book_title)
}

fn same_titles_and_starts(a: &[Chapter], b: &[Chapter]) -> bool {
    !a.is_empty()
        && a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.title == y.title && (x.start - y.start).abs() < 0.001)
}

fn renumber(mut c: Vec<Chapter>) -> Vec<Chapter> {
    for (i, ch) in c.iter_mut().enumerate() {
        ch.id = i as u32;
    }
    c
}

fn concatenated(files: &[&AudioFile]) -> Vec<Chapter> {
    let mut out = Vec::new();
    let mut offset = 0.0;
    for f in files {
        if f.chapters.is_empty() {
            out.push(Chapter {
                id: 0,
                start: offset,
                end: offset + f.duration,
                title: stem(f),
            });
        }
        for c in &f.chapters {
            let (start, end) = (offset + c.start, offset + c.end.min(f.duration));
            if end - start >= MIN_CHAPTER_SECS {
                out.push(Chapter {
                    id: 0,
                    start,
                    end,
                    title: c.title.clone(),
                });
            }
        }
        offset += f.duration;
    }
    renumber(out)
}

fn stem(f: &AudioFile) -> String {
    let name = &f.metadata.filename;
    name.rsplit_once('.')
        .map_or(name.as_str(), |(s, _)| s)
        .to_string()
}

fn per_file(files: &[&AudioFile], book_title: &str) -> Vec<Chapter> {
    let titles: Vec<Option<&String>> = files.iter().map(|f| f.meta_tags.get("tagTitle")).collect();
    let mut distinct: Vec<&String> = titles.iter().flatten().copied().collect();
    distinct.sort();
    distinct.dedup();
    let use_tags =
        distinct.len() == files.len() && distinct.iter().all(|t| t.as_str() != book_title);
    let mut offset = 0.0;
    let mut out = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let title = match (use_tags, titles[i]) {
            (true, Some(t)) => t.clone(),
            _ => stem(f),
        };
        out.push(Chapter {
            id: i as u32,
            start: offset,
            end: offset + f.duration,
            title,
        });
        offset += f.duration;
    }
    out
}

/// Used only when every file carries markers, as ABS requires.
fn from_media_markers(files: &[&AudioFile]) -> Option<Vec<Chapter>> {
    let xmls: Vec<&String> = files
        .iter()
        .map(|f| f.meta_tags.get("tagOverdriveMediaMarker"))
        .collect::<Option<Vec<_>>>()?;
    let mut starts = Vec::new();
    let mut offset = 0.0;
    for (f, xml) in files.iter().zip(xmls) {
        for (title, t) in parse_media_markers(xml) {
            if t <= f.duration {
                starts.push((offset + t, title));
            }
        }
        offset += f.duration;
    }
    (!starts.is_empty()).then(|| with_ends(starts, offset))
}

/// `<Markers><Marker><Name>…</Name><Time>h:mm:ss.fff</Time></Marker>…</Markers>`.
pub fn parse_media_markers(xml: &str) -> Vec<(String, f64)> {
    let Ok(doc) = roxmltree::Document::parse(xml) else {
        return Vec::new();
    };
    doc.descendants()
        .filter(|n| n.has_tag_name("Marker"))
        .filter_map(|m| {
            let child = |name: &str| {
                m.children()
                    .find(|c| c.has_tag_name(name))
                    .and_then(|c| c.text())
            };
            let time = parse_clock(child("Time")?)?;
            Some((child("Name").unwrap_or("").trim().to_string(), time))
        })
        .collect()
}

fn parse_clock(s: &str) -> Option<f64> {
    let mut secs = 0.0;
    for part in s.trim().split(':') {
        let v: f64 = part.parse().ok()?;
        if !v.is_finite() || v < 0.0 {
            return None;
        }
        secs = secs * 60.0 + v;
    }
    Some(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, duration: f64, chapters: &[(f64, f64, &str)]) -> AudioFile {
        let mut f = AudioFile {
            duration,
            ..AudioFile::default()
        };
        f.metadata.filename = name.into();
        f.chapters = chapters
            .iter()
            .enumerate()
            .map(|(i, (s, e, t))| Chapter {
                id: i as u32,
                start: *s,
                end: *e,
                title: t.to_string(),
            })
            .collect();
        f
    }

    #[test]
    fn one_per_file_fallback() {
        let c = build(
            &[
                file("01 Intro.mp3", 10.0, &[]),
                file("02 Next.mp3", 5.0, &[]),
            ],
            "B",
        );
        assert_eq!(c.len(), 2);
        assert_eq!(
            (c[1].start, c[1].end, c[1].title.as_str()),
            (10.0, 15.0, "02 Next")
        );
    }

    #[test]
    fn concatenation_with_offsets() {
        let a = file("a.mp3", 10.0, &[(0.0, 4.0, "A1"), (4.0, 10.0, "A2")]);
        let b = file("b.mp3", 10.0, &[(0.0, 0.05, "tiny"), (0.05, 10.0, "B1")]);
        let c = build(&[a, b], "B");
        let got: Vec<(f64, &str)> = c.iter().map(|c| (c.start, c.title.as_str())).collect();
        assert_eq!(got, [(0.0, "A1"), (4.0, "A2"), (10.05, "B1")]);
    }

    #[test]
    fn identical_lists_use_first() {
        let ch = [(0.0, 5.0, "X"), (5.0, 10.0, "Y")];
        let c = build(&[file("a.mp3", 10.0, &ch), file("b.mp3", 10.0, &ch)], "B");
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn media_markers() {
        let xml = |n: &str| {
            format!(
                "<Markers><Marker><Name>{n} 1</Name><Time>0:00.000</Time></Marker><Marker><Name>{n} 2</Name><Time>0:05.500</Time></Marker></Markers>"
            )
        };
        let mut a = file("a.mp3", 10.0, &[]);
        let mut b = file("b.mp3", 10.0, &[]);
        a.meta_tags
            .insert("tagOverdriveMediaMarker".into(), xml("A"));
        b.meta_tags
            .insert("tagOverdriveMediaMarker".into(), xml("B"));
        let c = build(&[a.clone(), b], "B");
        assert_eq!(c.len(), 4);
        assert_eq!((c[3].start, c[3].end), (15.5, 20.0));
        assert_eq!(c[2].title, "B 1");
        // Not every file has markers: ignored.
        let c = build(&[a, file("b.mp3", 10.0, &[])], "B");
        assert_eq!(c.len(), 2);
        assert!(parse_media_markers("<Markers><Marker><Time>x</Time>").is_empty());
    }
}
