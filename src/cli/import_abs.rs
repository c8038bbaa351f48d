//! `shelfwarden import-abs`: bring over an Audiobookshelf install (see docs/IMPORT.md).

use std::path::{Path, PathBuf};

use clap::Args;

use crate::clock::{Clock, SystemClock};
use crate::import;

#[derive(Args, Debug, Clone)]
pub struct ImportAbsArgs {
    /// ABS's config folder, its absdatabase.sqlite, or a .audiobookshelf backup file.
    #[arg(long)]
    pub from: PathBuf,
    /// Rewrite paths that start with OLD to start with NEW (repeatable; longest OLD wins), e.g.
    /// `--path-map /audiobooks=/srv/audiobooks --path-map /metadata=/old/abs/metadata`.
    #[arg(long = "path-map", value_name = "OLD=NEW")]
    pub path_map: Vec<String>,
    /// Print what would be imported and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(data: &Path, args: ImportAbsArgs) -> anyhow::Result<()> {
    let opts = import::Options {
        data: data.to_path_buf(),
        from: args.from,
        path_map: args.path_map,
        dry_run: args.dry_run,
    };
    let report = import::run(&opts, SystemClock.now_ms())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}
