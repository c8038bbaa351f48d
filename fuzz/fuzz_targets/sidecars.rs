#![no_main]
use libfuzzer_sys::fuzz_target;
use shelfwarden::library::chapters::parse_media_markers;
use shelfwarden::library::html::sanitize;
use shelfwarden::library::sidecar::{parse_abs_json, parse_nfo, parse_opf};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let _ = parse_opf(&s);
    let _ = parse_nfo(&s);
    let _ = parse_abs_json(&s);
    let _ = parse_media_markers(&s);
    let _ = sanitize(&s);
});
