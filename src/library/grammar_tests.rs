use super::*;

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[test]
fn folder_grammar_table() {
    // (rel path, is_file, title, authors, narrators, series, sequence, year, asin)
    type Row<'a> = (
        &'a str,
        bool,
        &'a str,
        &'a [&'a str],
        &'a [&'a str],
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
    );
    #[rustfmt::skip]
    let table: &[Row] = &[
        (
            "Frank Herbert/Dune",
            false,
            "Dune",
            &["Frank Herbert"],
            &[],
            None,
            None,
            None,
            None,
        ),
        ("Dune.m4b", true, "Dune", &[], &[], None, None, None, None),
        (
            "Frank Herbert/Dune Chronicles/Vol 1 - Dune",
            false,
            "Dune",
            &["Frank Herbert"],
            &[],
            Some("Dune Chronicles"),
            Some("1"),
            None,
            None,
        ),
        (
            "A/S/Book 2 - Title",
            false,
            "Title",
            &["A"],
            &[],
            Some("S"),
            Some("2"),
            None,
            None,
        ),
        (
            "A/S/Title - Vol 12",
            false,
            "Title",
            &["A"],
            &[],
            Some("S"),
            Some("12"),
            None,
            None,
        ),
        (
            "A/S/6. Title",
            false,
            "Title",
            &["A"],
            &[],
            Some("S"),
            Some("6"),
            None,
            None,
        ),
        (
            "A/S/0.5 - Title",
            false,
            "Title",
            &["A"],
            &[],
            Some("S"),
            Some("0.5"),
            None,
            None,
        ),
        (
            "A/S/01 - Title",
            false,
            "Title",
            &["A"],
            &[],
            Some("S"),
            Some("1"),
            None,
            None,
        ),
        (
            "A/S/Volume 3. Title",
            false,
            "Title",
            &["A"],
            &[],
            Some("S"),
            Some("3"),
            None,
            None,
        ),
        (
            "A/S/101 Dalmatians",
            false,
            "101 Dalmatians",
            &["A"],
            &[],
            Some("S"),
            None,
            None,
            None,
        ),
        (
            "A/101 Dalmatians",
            false,
            "101 Dalmatians",
            &["A"],
            &[],
            None,
            None,
            None,
            None,
        ),
        (
            "A/1999 - Title",
            false,
            "Title",
            &["A"],
            &[],
            None,
            None,
            Some("1999"),
            None,
        ),
        (
            "A/(1999) - Title",
            false,
            "Title",
            &["A"],
            &[],
            None,
            None,
            Some("1999"),
            None,
        ),
        (
            "A/S/Vol 1 - 1999 - Title",
            false,
            "Title",
            &["A"],
            &[],
            Some("S"),
            Some("1"),
            Some("1999"),
            None,
        ),
        (
            "A/Dune {Scott Brick}",
            false,
            "Dune",
            &["A"],
            &["Scott Brick"],
            None,
            None,
            None,
            None,
        ),
        (
            "A/Dune [B002V1OF70]",
            false,
            "Dune",
            &["A"],
            &[],
            None,
            None,
            None,
            Some("B002V1OF70"),
        ),
        (
            "A/1965 - Dune {Scott Brick} [B002V1OF70]",
            false,
            "Dune",
            &["A"],
            &["Scott Brick"],
            None,
            None,
            Some("1965"),
            Some("B002V1OF70"),
        ),
        (
            "Lib/Extra/A/S/Vol 2 - T",
            false,
            "T",
            &["A"],
            &[],
            Some("S"),
            Some("2"),
            None,
            None,
        ),
        (
            "Herbert, Frank/Dune",
            false,
            "Dune",
            &["Frank Herbert"],
            &[],
            None,
            None,
            None,
            None,
        ),
        (
            "Terry Pratchett & Neil Gaiman/Good Omens",
            false,
            "Good Omens",
            &["Terry Pratchett", "Neil Gaiman"],
            &[],
            None,
            None,
            None,
            None,
        ),
        (
            "A and B; C/T",
            false,
            "T",
            &["A", "B", "C"],
            &[],
            None,
            None,
            None,
            None,
        ),
        (
            "Ann Leckie, Becky Chambers/T",
            false,
            "T",
            &["Ann Leckie", "Becky Chambers"],
            &[],
            None,
            None,
            None,
            None,
        ),
    ];
    for (path, is_file, title, authors, narrators, series, seq, year, asin) in table {
        let info = parse_item_path(path, *is_file, false);
        assert_eq!(info.title, *title, "{path}");
        assert_eq!(info.authors, authors.to_vec(), "{path}");
        assert_eq!(info.narrators, narrators.to_vec(), "{path}");
        assert_eq!(info.series.as_deref(), *series, "{path}");
        assert_eq!(info.sequence.as_deref(), *seq, "{path}");
        assert_eq!(info.published_year.as_deref(), *year, "{path}");
        assert_eq!(info.asin.as_deref(), *asin, "{path}");
    }
}

#[test]
fn subtitle_only_when_enabled() {
    let on = parse_item_path("A/Title - A Subtitle", false, true);
    assert_eq!((on.title.as_str(), on.subtitle), ("Title", s("A Subtitle")));
    let off = parse_item_path("A/Title - A Subtitle", false, false);
    assert_eq!(off.title, "Title - A Subtitle");
}

#[test]
fn disc_folders() {
    for yes in ["CD1", "cd 2", "Disc 2", "disk3", "DISC 10"] {
        assert!(is_disc_folder(yes), "{yes}");
    }
    for no in ["CD", "Discovery", "Disc 1 extra", "cd1234", "Title"] {
        assert!(!is_disc_folder(no), "{no}");
    }
}

#[test]
fn filename_numbers() {
    assert_eq!(
        numbers_from_filename("05 - Chapter.mp3", &[]),
        (None, Some(5))
    );
    assert_eq!(
        numbers_from_filename("Book 2 - 07.mp3", &["Book 2"]),
        (None, Some(7))
    );
    assert_eq!(
        numbers_from_filename("CD2 Track 03.mp3", &[]),
        (Some(2), Some(3))
    );
    assert_eq!(numbers_from_filename("intro.mp3", &[]), (None, None));
    // Case folding that changes byte lengths must not panic.
    let _ = numbers_from_filename("İİẞ 3 ẞ.mp3", &["ẞ 3", "i̇"]);
}

#[test]
fn never_panics_on_random_names() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let alphabet: Vec<char> = " -.{}[]()/0123456789abcVolBookCDdisk,&;é漢\u{0}"
        .chars()
        .collect();
    for _ in 0..20_000 {
        let mut name = String::new();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 40) as usize;
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            name.push(alphabet[(x % alphabet.len() as u64) as usize]);
        }
        let _ = parse_item_path(&name, x.is_multiple_of(2), x.is_multiple_of(3));
        let _ = numbers_from_filename(&name, &["Vol", "é"]);
        let _ = is_disc_folder(&name);
    }
}
