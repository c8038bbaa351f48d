//! Finds the ABS database behind `--from` (a config folder, the database file, or a backup) and
//! puts a private copy of it in a temporary folder: the original is only ever read, whatever
//! SQLite would otherwise do with journals next to it.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::backup::{self, Backup};

pub struct Source {
    pub description: String,
    /// The private copy to open.
    pub db_path: PathBuf,
    pub backup: Option<Backup>,
    pub warnings: Vec<String>,
    _tmp: tempfile::TempDir,
}

const DB_NAME: &str = "absdatabase.sqlite";

pub fn open(from: &Path) -> anyhow::Result<Source> {
    let meta =
        std::fs::metadata(from).with_context(|| format!("cannot read {}", from.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix("shelfwarden-import-")
        .tempdir()
        .context("cannot create a temporary folder")?;
    let file = if meta.is_dir() {
        let db = from.join(DB_NAME);
        if !db.is_file() {
            bail!(
                "{} holds no {DB_NAME}; give the ABS config folder, the database, or a backup file",
                from.display()
            );
        }
        db
    } else {
        from.to_path_buf()
    };
    let mut magic = [0u8; 16];
    let n = std::fs::File::open(&file)
        .and_then(|mut f| f.read(&mut magic))
        .with_context(|| format!("cannot read {}", file.display()))?;
    let magic = &magic[..n];
    if magic.starts_with(b"SQLite format 3\0") {
        let mut warnings = Vec::new();
        for suffix in ["-wal", "-journal"] {
            let side = PathBuf::from(format!("{}{suffix}", file.display()));
            if side.exists() {
                warnings.push(format!(
                    "{} exists: Audiobookshelf may still be running or did not stop cleanly; stop it and import again for a consistent copy",
                    side.display()
                ));
            }
        }
        let db_path = tmp.path().join(DB_NAME);
        let mut out = backup::create_private(&db_path)?;
        let mut src = std::fs::File::open(&file)?;
        std::io::copy(&mut src, &mut out).context("cannot copy the ABS database")?;
        let wal = PathBuf::from(format!("{}-wal", file.display()));
        if wal.is_file() {
            let mut out = backup::create_private(&tmp.path().join(format!("{DB_NAME}-wal")))?;
            std::io::copy(&mut std::fs::File::open(&wal)?, &mut out)?;
        }
        Ok(Source {
            description: file.display().to_string(),
            db_path,
            backup: None,
            warnings,
            _tmp: tmp,
        })
    } else if magic.starts_with(b"PK") {
        let b = Backup::validate(&file)
            .with_context(|| format!("refusing backup {}", file.display()))?;
        let db_path = b
            .extract_db(tmp.path())
            .with_context(|| format!("refusing backup {}", file.display()))?;
        let made = b
            .details
            .created_at
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| format!(", made {}", t.format("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_default();
        Ok(Source {
            description: format!(
                "{} (backup of ABS {}{made})",
                file.display(),
                b.details.server_version
            ),
            db_path,
            backup: Some(b),
            warnings: Vec::new(),
            _tmp: tmp,
        })
    } else {
        bail!(
            "{} is neither an ABS database nor an .audiobookshelf backup",
            file.display()
        )
    }
}
