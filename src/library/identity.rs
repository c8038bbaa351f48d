//! Keeping an item's id when its folder moves or a share is remounted with new inodes: match by
//! path, then by inode, then by a content fingerprint of its audio files.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use sha2::{Digest, Sha256};

/// How much of each end of a file goes into the fingerprint: enough to cover tags and the first
/// and last audio frames, small enough to fingerprint a 10,000-book library in seconds.
const EDGE_BYTES: u64 = 64 * 1024;

fn file_hash(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut f = File::open(path)?;
    let size = f.metadata()?.len();
    let mut h = Sha256::new();
    h.update(size.to_le_bytes());
    let mut buf = vec![0u8; EDGE_BYTES.min(size) as usize];
    f.read_exact(&mut buf)?;
    h.update(&buf);
    if size > EDGE_BYTES {
        let tail = EDGE_BYTES.min(size - EDGE_BYTES);
        f.seek(SeekFrom::Start(size - tail))?;
        buf.resize(tail as usize, 0);
        f.read_exact(&mut buf)?;
        h.update(&buf);
    }
    Ok(h.finalize().into())
}

/// Hash of (size + first/last 64 KiB) of each audio file, order-independent so renamed files
/// still match.
pub fn fingerprint(audio: &[&Path]) -> std::io::Result<String> {
    let mut hashes = audio
        .iter()
        .map(|p| file_hash(p))
        .collect::<Result<Vec<_>, _>>()?;
    hashes.sort_unstable();
    let mut h = Sha256::new();
    for x in &hashes {
        h.update(x);
    }
    Ok(hex::encode(h.finalize()))
}

/// An item the store knows, as far as matching needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub id: String,
    pub book_id: String,
    pub path: String,
    pub ino: String,
    pub fingerprint: String,
    pub signature: String,
    pub is_missing: bool,
}

/// Lookup tables over the known items of a library, consumed as items are matched so no two
/// found items claim the same id.
#[derive(Debug, Default)]
pub struct Matcher {
    known: Vec<Option<Known>>,
    by_path: HashMap<String, usize>,
    by_ino: HashMap<String, Vec<usize>>,
    by_fp: HashMap<String, Vec<usize>>,
}

impl Matcher {
    pub fn new(known: Vec<Known>) -> Matcher {
        let mut m = Matcher::default();
        for (i, k) in known.iter().enumerate() {
            m.by_path.insert(k.path.clone(), i);
            if !k.ino.is_empty() {
                m.by_ino.entry(k.ino.clone()).or_default().push(i);
            }
            if !k.fingerprint.is_empty() {
                m.by_fp.entry(k.fingerprint.clone()).or_default().push(i);
            }
        }
        m.known = known.into_iter().map(Some).collect();
        m
    }

    fn take(&mut self, i: usize) -> Option<Known> {
        self.known.get_mut(i).and_then(Option::take)
    }

    pub fn take_by_path(&mut self, path: &str) -> Option<Known> {
        let i = *self.by_path.get(path)?;
        self.take(i)
    }

    /// Only items whose own path is gone may be claimed by inode or fingerprint; call after all
    /// path matches are taken.
    pub fn take_by_ino(&mut self, ino: &str, seen_paths: &dyn Fn(&str) -> bool) -> Option<Known> {
        let candidates = self.by_ino.get(ino)?.clone();
        self.take_first(&candidates, seen_paths)
    }

    pub fn take_by_fingerprint(
        &mut self,
        fp: &str,
        seen_paths: &dyn Fn(&str) -> bool,
    ) -> Option<Known> {
        let candidates = self.by_fp.get(fp)?.clone();
        self.take_first(&candidates, seen_paths)
    }

    fn take_first(
        &mut self,
        candidates: &[usize],
        seen_paths: &dyn Fn(&str) -> bool,
    ) -> Option<Known> {
        let i = *candidates.iter().find(|&&i| {
            self.known
                .get(i)
                .and_then(Option::as_ref)
                .is_some_and(|k| !seen_paths(&k.path))
        })?;
        self.take(i)
    }

    /// Whether any known item is still unclaimed and not at a path seen in this scan (only then
    /// is fingerprinting new folders worth the reads).
    pub fn has_unclaimed(&self, seen_paths: &dyn Fn(&str) -> bool) -> bool {
        self.known.iter().flatten().any(|k| !seen_paths(&k.path))
    }

    /// Known items nobody claimed: they are missing now.
    pub fn leftovers(self) -> Vec<Known> {
        self.known.into_iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_ignores_names_and_order() {
        let tmp = tempfile::tempdir().expect("tmp");
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        std::fs::write(&a, vec![1u8; 200_000]).expect("w");
        std::fs::write(&b, b"short").expect("w");
        let f1 = fingerprint(&[&a, &b]).expect("fp");
        let f2 = fingerprint(&[&b, &a]).expect("fp");
        assert_eq!(f1, f2);
        std::fs::write(&b, b"shorT").expect("w");
        assert_ne!(f1, fingerprint(&[&a, &b]).expect("fp"));
    }

    #[test]
    fn matcher_prefers_path_then_unclaimed() {
        let k = |id: &str, path: &str, ino: &str| Known {
            id: id.into(),
            book_id: id.into(),
            path: path.into(),
            ino: ino.into(),
            fingerprint: format!("fp-{id}"),
            signature: String::new(),
            is_missing: false,
        };
        let mut m = Matcher::new(vec![k("1", "/l/a", "10"), k("2", "/l/b", "20")]);
        assert_eq!(m.take_by_path("/l/a").map(|k| k.id), Some("1".into()));
        let seen = |p: &str| p == "/l/a";
        assert!(m.take_by_ino("10", &seen).is_none());
        assert_eq!(
            m.take_by_fingerprint("fp-2", &seen).map(|k| k.id),
            Some("2".into())
        );
        assert!(m.leftovers().is_empty());
    }
}
