//! `shelfwarden scan --data DIR [--library PATH]`: a foreground scan with a progress line.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::clock::{Clock, SystemClock};
use crate::library::model::{Library, LibrarySettings};
use crate::library::scan::{ScanOptions, ScanPhase, ScanProgress, ScanSummary, scan_library};
use crate::store::{Store, libraries};

/// Scans every library, or only the one whose folder is `library` (created, named after the
/// folder, when no library has it). Progress goes to stderr, summaries to stdout.
pub fn run(data_dir: &Path, library: Option<&Path>) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let store = crate::server::open_store(data_dir)?;
    let targets: Vec<Library> = match library {
        Some(path) => vec![library_for_folder(&store, path)?],
        None => store.read_blocking(libraries::list_libraries)?,
    };
    if targets.is_empty() {
        eprintln!("no libraries; pass --library PATH to add one");
    }
    let opts = ScanOptions::new(data_dir);
    for lib in targets {
        let name = lib.name.clone();
        let progress = |p: &ScanProgress| {
            let line = match p.phase {
                ScanPhase::Walking => format!("{name}: listing files"),
                ScanPhase::Reading => format!("{name}: reading {}/{} items", p.done, p.total),
                ScanPhase::Done => format!("{name}: done"),
            };
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
        };
        let summary = scan_library(&store, &lib.id, &opts, &progress)?;
        eprintln!();
        println!("{}", format_summary(&name, &summary));
    }
    Ok(())
}

pub fn format_summary(name: &str, s: &ScanSummary) -> String {
    format!(
        "{name}: {} added, {} updated, {} missing, {} unchanged, {} issues, {} files in {:.2} s",
        s.added,
        s.updated,
        s.missing,
        s.unchanged,
        s.issues,
        s.files,
        s.elapsed.as_secs_f64()
    )
}

fn library_for_folder(store: &Store, path: &Path) -> anyhow::Result<Library> {
    let canon = std::fs::canonicalize(path)
        .with_context(|| format!("library folder {} does not exist", path.display()))?;
    anyhow::ensure!(canon.is_dir(), "{} is not a directory", canon.display());
    let folder = canon.to_string_lossy().into_owned();
    let f = folder.clone();
    if let Some(lib) = store.read_blocking(move |c| libraries::find_library_by_folder(c, &f))? {
        return Ok(lib);
    }
    let name = canon.file_name().map_or_else(
        || "Library".to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let now = SystemClock.now_ms();
    Ok(store.write_blocking(|tx| {
        libraries::create_library(tx, &name, &[folder], &LibrarySettings::default(), now)
    })?)
}
