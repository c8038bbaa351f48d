//! The library scanner: from audiobook folders on disk to books in the store (issue 3).
//! Nothing here writes to a library folder; derived files go into the data directory.
//!
//! Entry points: `scan::scan_library` (blocking; run it on `spawn_blocking`),
//! `watch::LibraryWatcher` / `watch::IntervalScheduler` to start scans without a user,
//! `folders::validate_folders` for the library admin routes, `generator::generate_library` for
//! tests, demos and benchmarks. Reading results back is in `store::items` and `store::libraries`.

pub mod build;
pub mod chapters;
pub mod covers;
pub mod edits;
pub mod folders;
pub mod generator;
pub mod grammar;
pub mod html;
pub mod identity;
pub mod layout;
pub mod metadata;
pub mod model;
pub mod plan;
pub mod probe;
pub mod scan;
pub mod sidecar;
pub mod thumbnails;
pub mod watch;
