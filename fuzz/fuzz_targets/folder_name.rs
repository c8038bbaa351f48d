#![no_main]
use libfuzzer_sys::fuzz_target;
use shelfwarden::library::grammar::{is_disc_folder, numbers_from_filename, parse_item_path};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = parse_item_path(s, data.len() % 2 == 0, data.len() % 3 == 0);
        let _ = numbers_from_filename(s, &["Book", s.get(..3).unwrap_or("")]);
        let _ = is_disc_folder(s);
    }
});
