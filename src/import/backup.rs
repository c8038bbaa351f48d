//! `.audiobookshelf` backup files: a zip of `details`, `absdatabase.sqlite` and the
//! `metadata-items/` and `metadata-authors/` trees. The whole central directory is checked before a
//! single byte is unpacked, and sizes are enforced again while reading because the sizes in the
//! directory are only claims.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use zip::CompressionMethod;

pub const DB_ENTRY: &str = "absdatabase.sqlite";
const DETAILS_ENTRY: &str = "details";
/// Big libraries have ABS databases of a few hundred MB; far more than that is not a real backup.
pub const MAX_DB_BYTES: u64 = 8 << 30;
/// Covers and `metadata.json` files.
pub const MAX_OTHER_BYTES: u64 = 64 << 20;
const MAX_DETAILS_BYTES: u64 = 1 << 20;
const MAX_TOTAL_BYTES: u64 = 16 << 30;
const MAX_ENTRIES: usize = 500_000;

#[derive(Debug, Clone)]
pub struct Details {
    pub server_version: String,
    pub created_at: Option<i64>,
}

/// A backup whose directory passed validation; entries are read from it on demand.
pub struct Backup {
    path: PathBuf,
    pub details: Details,
}

impl Backup {
    /// Checks every entry's name, size and compression, and reads `details`.
    pub fn validate(path: &Path) -> anyhow::Result<Backup> {
        let mut zip = open_zip(path)?;
        if zip.len() > MAX_ENTRIES {
            bail!("backup has {} entries, more than {MAX_ENTRIES}", zip.len());
        }
        let mut total = 0u64;
        let mut has_db = false;
        let mut has_details = false;
        for i in 0..zip.len() {
            let entry = zip.by_index_raw(i).context("unreadable zip entry")?;
            let name = entry
                .name()
                .context("zip entry with an unreadable name")?
                .to_string();
            check_name(&name)?;
            if entry.encrypted() {
                bail!("backup entry {name:?} is encrypted");
            }
            if !matches!(
                entry.compression(),
                CompressionMethod::Stored | CompressionMethod::Deflated
            ) {
                bail!("backup entry {name:?} uses an unsupported compression method");
            }
            let limit = match name.as_str() {
                DB_ENTRY => MAX_DB_BYTES,
                DETAILS_ENTRY => MAX_DETAILS_BYTES,
                _ => MAX_OTHER_BYTES,
            };
            if entry.size() > limit {
                bail!(
                    "backup entry {name:?} is {} bytes, over the {limit}-byte limit",
                    entry.size()
                );
            }
            total = total.saturating_add(entry.size());
            has_db |= name == DB_ENTRY;
            has_details |= name == DETAILS_ENTRY;
        }
        if total > MAX_TOTAL_BYTES {
            bail!("backup would unpack to {total} bytes, over the {MAX_TOTAL_BYTES}-byte limit");
        }
        if !has_db {
            bail!("backup holds no {DB_ENTRY}");
        }
        if !has_details {
            bail!("backup holds no {DETAILS_ENTRY} file");
        }
        let backup = Backup {
            path: path.to_path_buf(),
            details: Details {
                server_version: String::new(),
                created_at: None,
            },
        };
        let text = backup
            .read_entry(DETAILS_ENTRY, MAX_DETAILS_BYTES)?
            .unwrap_or_default();
        let details = parse_details(&String::from_utf8_lossy(&text))?;
        Ok(Backup { details, ..backup })
    }

    /// Unpacks the database into `dir` (a private temporary folder, never the data folder).
    pub fn extract_db(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        let mut zip = open_zip(&self.path)?;
        let mut entry = zip.by_name(DB_ENTRY).context("backup holds no database")?;
        let dest = dir.join(DB_ENTRY);
        let mut out = create_private(&dest)?;
        let copied = std::io::copy(&mut (&mut entry).take(MAX_DB_BYTES + 1), &mut out)
            .context("the database in the backup is damaged")?;
        if copied > MAX_DB_BYTES {
            bail!("the database in the backup is larger than it claims");
        }
        // Reading to the end is what makes the zip reader check the CRC.
        let mut rest = [0u8; 1];
        if entry
            .read(&mut rest)
            .context("the database in the backup is damaged")?
            != 0
        {
            bail!("the database in the backup is larger than it claims");
        }
        out.flush()?;
        Ok(dest)
    }

    /// An item's file under `metadata-items/<itemId>/`, if the backup has it.
    pub fn item_file(&self, item_id: &str, file_name: &str) -> anyhow::Result<Option<Vec<u8>>> {
        if item_id.contains(['/', '\\']) || file_name.contains(['/', '\\']) || file_name == ".." {
            return Ok(None);
        }
        self.read_entry(
            &format!("metadata-items/{item_id}/{file_name}"),
            MAX_OTHER_BYTES,
        )
    }

    fn read_entry(&self, name: &str, limit: u64) -> anyhow::Result<Option<Vec<u8>>> {
        let mut zip = open_zip(&self.path)?;
        let mut entry = match zip.by_name(name) {
            Ok(e) => e,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(e).context(format!("backup entry {name:?} is unreadable")),
        };
        let mut buf = Vec::new();
        (&mut entry)
            .take(limit + 1)
            .read_to_end(&mut buf)
            .with_context(|| format!("backup entry {name:?} is damaged"))?;
        if buf.len() as u64 > limit {
            bail!("backup entry {name:?} is larger than {limit} bytes");
        }
        Ok(Some(buf))
    }
}

fn open_zip(path: &Path) -> anyhow::Result<zip::ZipArchive<File>> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    zip::ZipArchive::new(f)
        .with_context(|| format!("{} is not a valid backup (zip) file", path.display()))
}

/// Only ABS's own layout, with plain relative names: nothing can land outside its folder.
fn check_name(name: &str) -> anyhow::Result<()> {
    let bad = name.is_empty()
        || name.starts_with('/')
        || name.contains('\\')
        || name.contains('\0')
        || name.contains(':')
        || name
            .trim_end_matches('/')
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        bail!("backup entry {name:?} has an unsafe path");
    }
    let expected = name == DB_ENTRY
        || name == DETAILS_ENTRY
        || name.starts_with("metadata-items/")
        || name.starts_with("metadata-authors/");
    if !expected {
        bail!("backup entry {name:?} is not part of an Audiobookshelf backup");
    }
    Ok(())
}

/// `details` is four lines: id, key (`sqlite` since 2.x), createdAt (epoch ms), serverVersion.
fn parse_details(text: &str) -> anyhow::Result<Details> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let key = lines.get(1).copied().unwrap_or_default();
    if key != "sqlite" {
        bail!(
            "backup is from Audiobookshelf before 2.3 (no SQLite database); import it into ABS 2.x first"
        );
    }
    let server_version = lines.get(3).copied().unwrap_or_default().to_string();
    if server_version.is_empty() {
        bail!("backup details name no server version");
    }
    Ok(Details {
        server_version,
        created_at: lines.get(2).and_then(|t| t.parse().ok()),
    })
}

pub fn create_private(path: &Path) -> anyhow::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in [
            "details",
            "absdatabase.sqlite",
            "metadata-items/x/cover.jpg",
            "metadata-items/",
            "metadata-authors/a.jpg",
        ] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "/etc/passwd",
            "../x",
            "metadata-items/../../x",
            "metadata-items/./x",
            "metadata-items//x",
            "other.txt",
            "metadata-items\\x",
            "C:/x",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn details() {
        let d = parse_details("2026-12-01T0239\nsqlite\n1796092769582\n2.36.0\n").unwrap();
        assert_eq!(d.server_version, "2.36.0");
        assert_eq!(d.created_at, Some(1796092769582));
        assert!(parse_details("x\n1\n1\n2.0.0").is_err());
    }
}
