#![no_main]
use libfuzzer_sys::fuzz_target;
use shelfwarden::library::probe::{embedded_picture, probe};

// The readers take paths (they open files read-only), so each input goes through a temp file
// under every extension the scanner dispatches on.
fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    for ext in ["mp3", "m4b", "flac", "ogg", "opus", "wav", "aac"] {
        let p = dir.path().join(format!("f.{ext}"));
        if std::fs::write(&p, data).is_ok() {
            let _ = probe(&p);
            let _ = embedded_picture(&p);
        }
    }
});
