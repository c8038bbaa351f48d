//! Builds test and benchmark libraries: N distinct books from the committed fixture files, laid
//! out in every folder convention the scanner understands, with tags rewritten by lofty so each
//! book has its own title, author and content. Deterministic for a seed.

use std::io;
use std::path::{Path, PathBuf};

use lofty::config::WriteOptions;
use lofty::prelude::*;
use lofty::tag::{ItemKey, Tag, TagExt};

const M4B: &[u8] = include_bytes!("../../tests/fixtures/audio/book.m4b");
const MP3: [&[u8]; 3] = [
    include_bytes!("../../tests/fixtures/audio/part1.mp3"),
    include_bytes!("../../tests/fixtures/audio/part2.mp3"),
    include_bytes!("../../tests/fixtures/audio/part3.mp3"),
];
const MP3_CHAPTERS: &[u8] = include_bytes!("../../tests/fixtures/audio/chapters.mp3");
const FLAC: &[u8] = include_bytes!("../../tests/fixtures/audio/book.flac");
const OGG: &[u8] = include_bytes!("../../tests/fixtures/audio/book.ogg");
const OPUS: &[u8] = include_bytes!("../../tests/fixtures/audio/book.opus");
/// The fixture m4b's date tag, which the generator leaves in place.
const M4B_YEAR: &str = "2021";
const COVER: &[u8] = include_bytes!("../../tests/fixtures/audio/cover.jpg");

const FIRST: &[&str] = &[
    "Ada", "Bruno", "Clara", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kemal",
    "Lena",
];
const LAST: &[&str] = &[
    "Abbott",
    "Becker",
    "Castillo",
    "Duval",
    "Eriksen",
    "Fontaine",
    "Gallo",
    "Hartmann",
    "Ivanova",
    "Jansen",
    "Kowalski",
    "Lindqvist",
];
const ADJ: &[&str] = &[
    "Silver", "Hidden", "Broken", "Quiet", "Crimson", "Distant", "Burning", "Frozen", "Golden",
    "Lost",
];
const NOUN: &[&str] = &[
    "River", "Crown", "Garden", "Harbor", "Lantern", "Mountain", "Signal", "Tower", "Voyage",
    "Winter",
];

/// The book the generator meant to make, for tests to compare with what the scanner found.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedBook {
    /// Item path relative to the library root.
    pub rel: String,
    pub title: String,
    pub authors: Vec<String>,
    pub narrators: Vec<String>,
    pub series: Option<(String, String)>,
    pub published_year: Option<String>,
    pub asin: Option<String>,
    pub chapters: usize,
    /// Seconds, approximately.
    pub duration: f64,
    pub has_cover: bool,
    pub layout: usize,
}

/// Number of folder layouts `generate_library` cycles through.
pub const LAYOUTS: usize = 8;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

struct Tags<'a> {
    title: &'a str,
    author: &'a str,
    narrator: Option<&'a str>,
    comment: String,
}

fn write_audio(path: &Path, bytes: &[u8], tags: &Tags<'_>) -> io::Result<()> {
    std::fs::write(path, bytes)?;
    let tagged = lofty::read_from_path(path).map_err(io::Error::other)?;
    let mut tag = match tagged.primary_tag() {
        Some(t) => t.clone(),
        None => Tag::new(tagged.primary_tag_type()),
    };
    tag.insert_text(ItemKey::AlbumTitle, tags.title.to_string());
    tag.insert_text(ItemKey::TrackArtist, tags.author.to_string());
    tag.insert_text(ItemKey::AlbumArtist, tags.author.to_string());
    match tags.narrator {
        Some(n) => {
            tag.insert_text(ItemKey::Composer, n.to_string());
        }
        None => tag.remove_key(ItemKey::Composer),
    }
    tag.insert_text(ItemKey::Comment, tags.comment.clone());
    tag.save_to_path(path, WriteOptions::default())
        .map_err(io::Error::other)
}

/// Writes `n_books` books under `dir` (created if needed) and returns what each should scan as.
pub fn generate_library(dir: &Path, n_books: usize, seed: u64) -> io::Result<Vec<GeneratedBook>> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut out = Vec::with_capacity(n_books);
    for i in 0..n_books {
        let author = format!("{} {}", rng.pick(FIRST), rng.pick(LAST));
        let narrator = format!("{} {}", rng.pick(FIRST), rng.pick(LAST));
        let title = format!("{} {} {}", rng.pick(ADJ), rng.pick(NOUN), i + 1);
        let series = format!("{} Saga {}", rng.pick(NOUN), i % 97);
        let layout = i % LAYOUTS;
        let comment = format!("generated book {i} seed {seed}");
        let mut book = GeneratedBook {
            rel: String::new(),
            title: title.clone(),
            authors: vec![author.clone()],
            narrators: Vec::new(),
            series: None,
            published_year: None,
            asin: None,
            chapters: 0,
            duration: 0.0,
            has_cover: false,
            layout,
        };
        let t = Tags {
            title: &title,
            author: &author,
            narrator: None,
            comment,
        };
        match layout {
            0 => {
                book.rel = format!("{author}/{title}");
                let d = mkdir(dir, &book.rel)?;
                write_audio(
                    &d.join("book.m4b"),
                    M4B,
                    &Tags {
                        narrator: Some(&narrator),
                        ..t
                    },
                )?;
                book.narrators = vec![narrator.clone()];
                book.published_year = Some(M4B_YEAR.into());
                (book.chapters, book.duration, book.has_cover) = (3, 6.0, true);
            }
            1 => {
                let seq = (i % 9 + 1).to_string();
                book.rel = format!("{author}/{series}/Vol {seq} - {title}");
                let d = mkdir(dir, &book.rel)?;
                for (k, bytes) in MP3.iter().enumerate() {
                    write_audio(&d.join(format!("part{}.mp3", k + 1)), bytes, &t)?;
                }
                book.series = Some((series.clone(), seq));
                (book.chapters, book.duration) = (3, 9.0);
            }
            2 => {
                book.rel = format!("{author}/{title} {{{narrator}}}");
                let d = mkdir(dir, &book.rel)?;
                write_audio(&d.join("book.flac"), FLAC, &t)?;
                std::fs::write(d.join("cover.jpg"), COVER)?;
                book.narrators = vec![narrator.clone()];
                (book.duration, book.has_cover) = (2.0, true);
            }
            3 => {
                let year = (1950 + i % 70).to_string();
                let asin = format!("B0{:08}", i % 100_000_000);
                book.rel = format!("{author}/{year} - {title} [{asin}]");
                let d = mkdir(dir, &book.rel)?;
                write_audio(&d.join("book.ogg"), OGG, &t)?;
                book.published_year = Some(year);
                book.asin = Some(asin);
                book.duration = 3.0;
            }
            4 => {
                book.rel = format!("{author}/{title}");
                let d = mkdir(dir, &book.rel)?;
                for (k, bytes) in MP3.iter().take(2).enumerate() {
                    let cd = mkdir(&d, &format!("CD{}", k + 1))?;
                    write_audio(&cd.join(format!("part{}.mp3", k + 1)), bytes, &t)?;
                }
                (book.chapters, book.duration) = (2, 6.0);
            }
            5 => {
                book.rel = format!("{title}.opus");
                write_audio(&dir.join(&book.rel), OPUS, &t)?;
                book.duration = 3.0;
            }
            6 => {
                book.rel = format!("{author}/{title}");
                let d = mkdir(dir, &book.rel)?;
                write_audio(&d.join("chapters.mp3"), MP3_CHAPTERS, &t)?;
                std::fs::write(
                    d.join("desc.txt"),
                    format!("<p>About {title}.</p><script>x()</script>"),
                )?;
                std::fs::write(d.join("reader.txt"), format!("{narrator}\n"))?;
                std::fs::write(d.join("book.opf"), opf(&series, i % 5 + 1))?;
                book.narrators = vec![narrator.clone()];
                book.series = Some((series.clone(), (i % 5 + 1).to_string()));
                (book.chapters, book.duration) = (2, 4.0);
            }
            _ => {
                let seq = (i % 7 + 1).to_string();
                book.rel = format!("{author}/{series}/{title} - Book {seq}");
                let d = mkdir(dir, &book.rel)?;
                write_audio(&d.join("book.m4b"), M4B, &t)?;
                let json = serde_json::json!({
                    "title": title, "authors": [author], "narrators": [narrator],
                    "series": [format!("{series} #{seq}")], "genres": ["Generated"], "tags": ["gen"],
                });
                std::fs::write(d.join("metadata.json"), json.to_string())?;
                book.narrators = vec![narrator.clone()];
                book.series = Some((series.clone(), seq));
                book.published_year = Some(M4B_YEAR.into());
                (book.chapters, book.duration, book.has_cover) = (3, 6.0, true);
            }
        }
        out.push(book);
    }
    Ok(out)
}

fn mkdir(base: &Path, rel: &str) -> io::Result<PathBuf> {
    let d = base.join(rel);
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

fn opf(series: &str, index: usize) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:opf="http://www.idpf.org/2007/opf" version="2.0">
  <metadata>
    <dc:language>en</dc:language>
    <meta name="calibre:series" content="{series}"/>
    <meta name="calibre:series_index" content="{index}"/>
  </metadata>
</package>"#
    )
}
