//! The plaintext inside the encryption: a tar whose first entry is `manifest.json`, followed by
//! exactly the files the manifest lists, in its order. Unpacking trusts nothing: every entry must be
//! a regular file at a safe relative path named by the manifest, with the size the manifest
//! declares, and the bytes are counted while they are read so a lying header cannot inflate it.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sha2::Digest;

pub const MANIFEST_NAME: &str = "manifest.json";
/// Bumped when the archive layout changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;
const MANIFEST_MAX_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    pub format_version: u32,
    pub shelfwarden_version: String,
    pub schema_version: i64,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub created_at_ms: i64,
    pub includes_secrets: bool,
    pub files: Vec<ManifestEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManifestEntry {
    /// Relative to the data dir, `/`-separated.
    pub path: String,
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
}

impl Manifest {
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// Hard caps that hold whatever the manifest claims.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_entry_bytes: u64,
    pub max_total_bytes: u64,
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entry_bytes: 32 * 1024 * 1024 * 1024,
            max_total_bytes: 64 * 1024 * 1024 * 1024,
            max_entries: 1_000_000,
        }
    }
}

/// A file to pack: where it goes in the archive and where it is read from.
pub struct Source {
    pub archive_path: String,
    pub disk_path: PathBuf,
}

/// Hashes the sources (first pass) so the manifest can lead the archive.
pub fn manifest_entries(sources: &[Source]) -> anyhow::Result<Vec<ManifestEntry>> {
    sources
        .iter()
        .map(|s| {
            check_path(&s.archive_path)?;
            let (size, hash) = super::sha256_file(&s.disk_path)
                .with_context(|| format!("cannot read {}", s.disk_path.display()))?;
            Ok(ManifestEntry {
                path: s.archive_path.clone(),
                size,
                sha256: hex::encode(hash),
            })
        })
        .collect()
}

/// Writes the tar. A file that changed between hashing and packing fails the backup rather than
/// producing an archive that would not verify.
pub fn pack<W: Write>(out: W, manifest: &Manifest, sources: &[Source]) -> anyhow::Result<W> {
    let mut tar = tar::Builder::new(out);
    let json = serde_json::to_vec_pretty(manifest)?;
    tar.append_data(&mut header(json.len() as u64), MANIFEST_NAME, &json[..])?;
    for (entry, source) in manifest.files.iter().zip(sources) {
        let file = std::fs::File::open(&source.disk_path)
            .with_context(|| format!("cannot open {}", source.disk_path.display()))?;
        let mut reader = HashingReader::new(file.take(entry.size));
        tar.append_data(&mut header(entry.size), &entry.path, &mut reader)
            .with_context(|| format!("cannot pack {}", entry.path))?;
        if reader.count != entry.size || hex::encode(reader.finish()) != entry.sha256 {
            bail!(
                "{} changed while the backup was being made; run it again",
                source.disk_path.display()
            );
        }
    }
    Ok(tar.into_inner()?)
}

fn header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(0o600);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mtime(0);
    h
}

/// Unpacks into `dest` (an empty staging folder) after validating every entry as described in the
/// module comment. On error the caller discards `dest`; nothing outside it is ever written.
pub fn unpack_validated<R: Read>(
    input: R,
    dest: &Path,
    limits: &Limits,
) -> anyhow::Result<Manifest> {
    let mut archive = tar::Archive::new(input);
    let mut entries = archive
        .entries()
        .context("the backup is not a valid archive")?;

    let manifest = {
        let mut first = entries
            .next()
            .ok_or_else(|| anyhow::anyhow!("the backup is empty"))?
            .context("the backup is not a valid archive")?;
        if first.path_bytes().as_ref() != MANIFEST_NAME.as_bytes()
            || first.header().entry_type() != tar::EntryType::Regular
        {
            bail!("the backup does not start with its manifest");
        }
        if first.size() > MANIFEST_MAX_BYTES {
            bail!("the manifest is larger than {MANIFEST_MAX_BYTES} bytes");
        }
        let mut json = Vec::new();
        (&mut first)
            .take(MANIFEST_MAX_BYTES + 1)
            .read_to_end(&mut json)?;
        let m: Manifest =
            serde_json::from_slice(&json).context("the backup's manifest is not valid")?;
        check_manifest(&m, limits)?;
        m
    };

    let mut seen = 0usize;
    let mut total = 0u64;
    for entry in entries {
        let mut entry = entry.context("the backup archive is damaged")?;
        let raw = entry.path_bytes().into_owned();
        let name =
            String::from_utf8(raw).map_err(|_| anyhow::anyhow!("an entry name is not UTF-8"))?;
        check_path(&name)?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            bail!("entry {name:?} is not a regular file (links and devices are refused)");
        }
        let Some(expected) = manifest.files.get(seen) else {
            bail!("entry {name:?} is not listed in the manifest");
        };
        if expected.path != name {
            bail!(
                "entry {name:?} is not the one the manifest lists next ({:?})",
                expected.path
            );
        }
        if entry.size() != expected.size {
            bail!(
                "entry {name:?} is {} bytes but the manifest says {}",
                entry.size(),
                expected.size
            );
        }
        total += expected.size;
        if total > limits.max_total_bytes {
            bail!(
                "the backup holds more than {} bytes",
                limits.max_total_bytes
            );
        }

        let target = dest.join(&name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut out = open_new_private(&target)?;
        // One byte past the declared size is read on purpose: seeing it proves the entry lies.
        let mut reader = HashingReader::new((&mut entry).take(expected.size + 1));
        std::io::copy(&mut reader, &mut out)
            .with_context(|| format!("cannot read entry {name:?} from the backup"))?;
        if reader.count != expected.size {
            bail!(
                "entry {name:?} holds {} bytes, not the {} the manifest declares",
                reader.count,
                expected.size
            );
        }
        if hex::encode(reader.finish()) != expected.sha256 {
            bail!("entry {name:?} does not match its SHA-256 in the manifest");
        }
        out.sync_all()?;
        seen += 1;
    }
    if seen != manifest.files.len() {
        bail!(
            "the backup is truncated: {} of {} files present",
            seen,
            manifest.files.len()
        );
    }
    Ok(manifest)
}

fn check_manifest(m: &Manifest, limits: &Limits) -> anyhow::Result<()> {
    if m.format_version != FORMAT_VERSION {
        bail!(
            "backup format version {} is not supported by this shelfwarden (it reads version {FORMAT_VERSION})",
            m.format_version
        );
    }
    if m.files.len() > limits.max_entries {
        bail!("the manifest lists more than {} files", limits.max_entries);
    }
    let mut names = HashSet::new();
    let mut total = 0u64;
    for f in &m.files {
        check_path(&f.path)?;
        if f.path == MANIFEST_NAME {
            bail!("the manifest lists itself");
        }
        if !names.insert(f.path.as_str()) {
            bail!("the manifest lists {:?} twice", f.path);
        }
        if f.size > limits.max_entry_bytes {
            bail!(
                "{:?} is {} bytes, over the per-file limit of {}",
                f.path,
                f.size,
                limits.max_entry_bytes
            );
        }
        total = total.saturating_add(f.size);
        if f.sha256.len() != 64 || !f.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("the manifest's hash for {:?} is malformed", f.path);
        }
    }
    if total > limits.max_total_bytes {
        bail!(
            "the backup declares {total} bytes, over the limit of {}",
            limits.max_total_bytes
        );
    }
    // A file and a folder of the same name cannot both be restored.
    for f in &m.files {
        let mut prefix = String::new();
        for part in f.path.split('/') {
            if !prefix.is_empty() && names.contains(prefix.as_str()) {
                bail!("{:?} is listed as a file and as a folder", prefix);
            }
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
        }
    }
    Ok(())
}

/// Relative, `/`-separated, no `.`/`..`/empty parts, no backslashes or NULs.
pub fn check_path(p: &str) -> anyhow::Result<()> {
    let ok = !p.is_empty()
        && p.len() <= 1024
        && !p.starts_with('/')
        && !p.contains(['\\', '\0'])
        && p.split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    if !ok {
        bail!("unsafe path {p:?} in the backup (absolute, `..` or malformed)");
    }
    Ok(())
}

fn open_new_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

struct HashingReader<R> {
    inner: R,
    hash: sha2::Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hash: sha2::Sha256::new(),
            count: 0,
        }
    }
    fn finish(self) -> [u8; 32] {
        self.hash.finalize().into()
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(files: Vec<ManifestEntry>) -> Manifest {
        Manifest {
            format_version: FORMAT_VERSION,
            shelfwarden_version: "test".into(),
            schema_version: 1,
            created_at: "2026-01-01T00:00:00Z".into(),
            created_at_ms: 0,
            includes_secrets: false,
            files,
        }
    }

    fn entry(path: &str, data: &[u8]) -> ManifestEntry {
        ManifestEntry {
            path: path.into(),
            size: data.len() as u64,
            sha256: hex::encode(sha2::Sha256::digest(data)),
        }
    }

    /// Builds a tar by hand so the header can say whatever a hostile archive would say.
    fn raw_tar(m: &Manifest, entries: &[(&str, &[u8], u64, tar::EntryType)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let json = serde_json::to_vec(m).expect("json");
        b.append_data(&mut header(json.len() as u64), MANIFEST_NAME, &json[..])
            .expect("manifest");
        for (name, data, size, kind) in entries {
            let mut h = tar::Header::new_gnu();
            let raw = &mut h.as_old_mut().name;
            raw[..name.len()].copy_from_slice(name.as_bytes());
            h.set_size(*size);
            h.set_mode(0o600);
            h.set_entry_type(*kind);
            h.set_cksum();
            b.append(&h, *data).expect("append");
        }
        b.into_inner().expect("tar")
    }

    fn unpack(bytes: &[u8], limits: &Limits) -> (anyhow::Result<Manifest>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        (unpack_validated(bytes, dir.path(), limits), dir)
    }

    #[test]
    fn packs_and_unpacks() {
        let src = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(src.path().join("covers")).expect("mkdir");
        std::fs::write(src.path().join("db"), b"database").expect("write");
        std::fs::write(src.path().join("covers/a.jpg"), b"jpeg").expect("write");
        let sources = vec![
            Source {
                archive_path: "shelfwarden.sqlite".into(),
                disk_path: src.path().join("db"),
            },
            Source {
                archive_path: "covers/a.jpg".into(),
                disk_path: src.path().join("covers/a.jpg"),
            },
        ];
        let m = manifest(manifest_entries(&sources).expect("hash"));
        let bytes = pack(Vec::new(), &m, &sources).expect("pack");
        let (got, dir) = unpack(&bytes, &Limits::default());
        assert_eq!(got.expect("unpack"), m);
        assert_eq!(
            std::fs::read(dir.path().join("covers/a.jpg")).expect("read"),
            b"jpeg"
        );
    }

    #[test]
    fn hostile_entries_are_refused() {
        let good: &[u8] = b"0123456789";
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "dot-dot",
                raw_tar(
                    &manifest(vec![entry("a", good)]),
                    &[("../a", good, 10, tar::EntryType::Regular)],
                ),
            ),
            (
                "unlisted",
                raw_tar(
                    &manifest(vec![entry("a", good)]),
                    &[("b", good, 10, tar::EntryType::Regular)],
                ),
            ),
            (
                "symlink",
                raw_tar(
                    &manifest(vec![entry("a", good)]),
                    &[("a", b"", 0, tar::EntryType::Symlink)],
                ),
            ),
            (
                "bigger than declared",
                raw_tar(
                    &manifest(vec![entry("a", good)]),
                    &[("a", &[7u8; 4096], 4096, tar::EntryType::Regular)],
                ),
            ),
            (
                "wrong hash",
                raw_tar(
                    &manifest(vec![entry("a", good)]),
                    &[("a", b"9876543210", 10, tar::EntryType::Regular)],
                ),
            ),
            ("truncated", raw_tar(&manifest(vec![entry("a", good)]), &[])),
            (
                "absolute in manifest",
                raw_tar(&manifest(vec![entry("/etc/x", good)]), &[]),
            ),
        ];
        for (what, bytes) in cases {
            let (got, _dir) = unpack(&bytes, &Limits::default());
            assert!(got.is_err(), "{what} must be refused");
        }
        let limits = Limits {
            max_entry_bytes: 5,
            ..Limits::default()
        };
        let bytes = raw_tar(
            &manifest(vec![entry("a", good)]),
            &[("a", good, 10, tar::EntryType::Regular)],
        );
        let (got, dir) = unpack(&bytes, &limits);
        assert!(got.is_err(), "over the per-entry cap");
        assert!(!dir.path().join("a").exists(), "refused before writing");
    }

    #[test]
    fn paths_are_checked() {
        for bad in ["", "/a", "a/../b", "..", "./a", "a//b", "a\\b", "a/"] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
        for ok in ["a", "covers/x.jpg", "a..b"] {
            assert!(check_path(ok).is_ok(), "{ok:?}");
        }
    }
}
