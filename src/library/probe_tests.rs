use super::*;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audio")
        .join(name)
}

#[test]
fn m4b_tags_chapters_cover() {
    let p = probe(&fixture("book.m4b")).expect("probe");
    assert!((p.duration - 6.0).abs() < 0.2, "{}", p.duration);
    assert_eq!(p.codec, "aac");
    assert_eq!(p.mime_type, "audio/mp4");
    assert_eq!(
        p.meta_tags.get("tagTitle").map(String::as_str),
        Some("Fixture Book")
    );
    assert_eq!(
        p.meta_tags.get("tagComposer").map(String::as_str),
        Some("Fixture Narrator")
    );
    assert_eq!(
        p.meta_tags.get("tagAlbumArtist").map(String::as_str),
        Some("Fixture Author")
    );
    assert_eq!(p.embedded_cover_art.as_deref(), Some("mjpeg"));
    let titles: Vec<&str> = p.chapters.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(titles, ["Opening", "Middle", "Ending"]);
    assert!((p.chapters[1].start - 2.0).abs() < 0.01);
    assert!(embedded_picture(&fixture("book.m4b")).is_some());
}

#[test]
fn mp3_tags_and_chap() {
    let p = probe(&fixture("part2.mp3")).expect("probe");
    assert_eq!(p.track, Some(2));
    assert_eq!(p.codec, "mp3");
    assert_eq!(
        p.meta_tags.get("tagArtist").map(String::as_str),
        Some("Mp3 Author")
    );
    let c = probe(&fixture("chapters.mp3")).expect("probe");
    let titles: Vec<&str> = c.chapters.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(titles, ["First", "Second"]);
}

#[test]
fn other_formats() {
    for (name, codec) in [
        ("book.flac", "flac"),
        ("book.ogg", "vorbis"),
        ("book.opus", "opus"),
    ] {
        let p = probe(&fixture(name)).expect(name);
        assert_eq!(p.codec, codec, "{name}");
        assert!(p.duration > 1.0, "{name}");
        assert!(p.meta_tags.contains_key("tagTitle"), "{name}");
    }
}

#[test]
fn corrupt_is_an_error_not_a_panic() {
    assert!(probe(&fixture("corrupt.mp3")).is_err());
}

#[test]
fn random_bytes_never_panic() {
    let tmp = tempfile::tempdir().expect("tmp");
    let real = std::fs::read(fixture("book.m4b")).expect("read");
    let mut x: u64 = 42;
    for i in 0..60 {
        let ext = ["mp3", "m4b", "flac", "ogg", "opus"][i % 5];
        let mut bytes = if i % 2 == 0 {
            real.clone()
        } else {
            vec![0u8; 3000]
        };
        for _ in 0..50 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = bytes.len();
            bytes[(x as usize) % len] = (x >> 32) as u8;
        }
        bytes.truncate(((x >> 8) as usize) % bytes.len().max(1) + 1);
        let p = tmp.path().join(format!("f{i}.{ext}"));
        std::fs::write(&p, &bytes).expect("write");
        let _ = probe(&p);
        let _ = embedded_picture(&p);
    }
}

/// Writes Vorbis comments into a copy of a fixture with lofty (tests only: the scanner never
/// writes), as tools like tone and Mp3tag tag FLAC and Ogg audiobooks.
fn tagged_copy(name: &str, comments: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    use lofty::config::WriteOptions;
    use lofty::ogg::tag::VorbisComments;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::copy(fixture(name), &path).unwrap();
    let mut tag = VorbisComments::default();
    for (k, v) in comments {
        tag.push((*k).to_string(), (*v).to_string());
    }
    tag.save_to_path(&path, WriteOptions::default()).unwrap();
    (dir, path)
}

#[test]
fn vorbis_custom_fields_and_chapters() {
    for name in ["book.flac", "book.ogg", "book.opus"] {
        let (_dir, path) = tagged_copy(
            name,
            &[
                ("TITLE", "Vorbis Book"),
                ("ASIN", "B0VORBIS01"),
                ("SERIES", "The Saga"),
                ("SERIES-PART", "2"),
                ("CHAPTER001", "00:00:00.000"),
                ("CHAPTER001NAME", "Prologue"),
                ("CHAPTER002", "00:00:01.500"),
                ("CHAPTER002NAME", "The Middle"),
            ],
        );
        let p = probe(&path).expect("probe");
        let tag = |k: &str| p.meta_tags.get(k).map(String::as_str);
        assert_eq!(tag("tagTitle"), Some("Vorbis Book"), "{name}");
        assert_eq!(tag("tagASIN"), Some("B0VORBIS01"), "{name}");
        assert_eq!(tag("tagSeries"), Some("The Saga"), "{name}");
        assert_eq!(tag("tagSeriesPart"), Some("2"), "{name}");
        let chapters: Vec<(f64, &str)> = p
            .chapters
            .iter()
            .map(|c| (c.start, c.title.as_str()))
            .collect();
        assert_eq!(chapters, [(0.0, "Prologue"), (1.5, "The Middle")], "{name}");
        assert!((p.chapters[1].end - p.duration).abs() < 1e-9, "{name}");
    }
}

#[test]
fn clock_values() {
    assert_eq!(parse_clock("01:02:03.5"), Some(3723.5));
    assert_eq!(parse_clock("02:03"), Some(123.0));
    assert_eq!(parse_clock("7"), Some(7.0));
    assert_eq!(parse_clock("1:2:3:4"), None);
    assert_eq!(parse_clock("aa:00"), None);
    assert_eq!(parse_clock("-1:00"), None);
}
