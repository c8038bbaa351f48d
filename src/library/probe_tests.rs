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
