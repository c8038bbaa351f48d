//! Scanner benchmark: generates libraries of the given sizes in a temp dir and prints full-scan
//! time, no-change rescan time, files/s and peak RSS (VmHWM). A command, not a test.

use std::time::Instant;

use crate::library::generator::generate_library;
use crate::library::model::LibrarySettings;
use crate::library::scan::{ScanOptions, scan_library};
use crate::store::{Store, libraries};

/// Peak resident set size of this process in KiB, from `/proc/self/status`.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Starts a new peak-RSS measurement (Linux: writing 5 to `clear_refs` resets VmHWM), so the
/// figure is the scan's and not the fixture generator's or an earlier, larger run's.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Runs the benchmark for each library size (books), e.g. `&[1_000, 10_000]`.
pub fn run(sizes: &[usize]) -> anyhow::Result<()> {
    println!("books | files | generate s | full scan s | files/s | rescan s | peak RSS MiB");
    for &n in sizes {
        let tmp = tempfile::tempdir()?;
        let lib_dir = tmp.path().join("library");
        let t = Instant::now();
        generate_library(&lib_dir, n, 1)?;
        let generate = t.elapsed().as_secs_f64();
        let store = Store::open(&tmp.path().join("shelfwarden.sqlite"))?;
        let folder = lib_dir.to_string_lossy().into_owned();
        let lib = store.write_blocking(|tx| {
            libraries::create_library(tx, "Bench", &[folder], &LibrarySettings::default(), 0)
        })?;
        let opts = ScanOptions::new(tmp.path());
        reset_peak_rss();
        let full = scan_library(&store, &lib.id, &opts, &|_| {})?;
        let rescan = scan_library(&store, &lib.id, &opts, &|_| {})?;
        anyhow::ensure!(
            full.added == n,
            "expected {n} books, scanned {}",
            full.added
        );
        anyhow::ensure!(
            rescan.unchanged == n,
            "rescan re-read {} books",
            n - rescan.unchanged
        );
        let full_s = full.elapsed.as_secs_f64();
        println!(
            "{n} | {} | {generate:.2} | {full_s:.3} | {:.0} | {:.3} | {:.1}",
            full.files,
            full.files as f64 / full_s.max(1e-9),
            rescan.elapsed.as_secs_f64(),
            peak_rss_kib().unwrap_or(0) as f64 / 1024.0
        );
    }
    Ok(())
}
