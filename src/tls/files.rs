//! `tls = "files"`: a PEM chain and key from disk, reloaded when either file changes or on SIGHUP.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::CertStore;

/// How often the files are looked at; certbot and friends replace them rarely, so this is cheap.
const POLL: Duration = Duration::from_secs(2);

/// Parses a PEM chain and key into a key rustls can serve; fails if they do not belong together.
pub fn certified_key_from_pem(cert_pem: &[u8], key_pem: &[u8]) -> anyhow::Result<CertifiedKey> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .context("certificate PEM is malformed")?;
    if chain.is_empty() {
        anyhow::bail!("no CERTIFICATE block found");
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).context("no usable private key found")?;
    CertifiedKey::from_der(chain, key, &rustls::crypto::ring::default_provider())
        .context("the private key does not match the certificate, or its type is unsupported")
}

pub fn load(cert: &Path, key: &Path) -> anyhow::Result<CertifiedKey> {
    let cert_pem =
        std::fs::read(cert).with_context(|| format!("cannot read tls_cert {}", cert.display()))?;
    let key_pem =
        std::fs::read(key).with_context(|| format!("cannot read tls_key {}", key.display()))?;
    certified_key_from_pem(&cert_pem, &key_pem)
        .with_context(|| format!("{} / {}", cert.display(), key.display()))
}

/// What identifies a version of a file: a rename-into-place changes the inode even when a copy
/// keeps the old modification time.
type Stamp = Option<(SystemTime, u64, u64)>;

fn stamp(path: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len(), m.ino()))
}

/// Loads the files now (failing start-up if they are bad) and keeps watching them.
pub fn start(cert: PathBuf, key: PathBuf, store: Arc<CertStore>) -> anyhow::Result<()> {
    let loaded = load(&cert, &key)?;
    announce(&loaded);
    store.set(Arc::new(loaded));
    tokio::spawn(watch(cert, key, store));
    Ok(())
}

fn announce(key: &CertifiedKey) {
    let info = key
        .cert
        .first()
        .and_then(|c| super::der::cert_info(c.as_ref()));
    tracing::info!(
        serial = info.as_ref().map(|i| i.serial_hex()).unwrap_or_default(),
        not_after = info.map(|i| i.not_after).unwrap_or_default(),
        "TLS certificate loaded from files"
    );
}

async fn watch(cert: PathBuf, key: PathBuf, store: Arc<CertStore>) {
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut loaded = (stamp(&cert), stamp(&key));
    let mut failed: Option<(Stamp, Stamp)> = None;
    loop {
        let forced = tokio::select! {
            _ = tokio::time::sleep(POLL) => false,
            Some(()) = async {
                match hup.as_mut() {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            } => true,
        };
        let now = (stamp(&cert), stamp(&key));
        if !forced && now == loaded {
            continue;
        }
        match load(&cert, &key) {
            Ok(k) => {
                announce(&k);
                store.set(Arc::new(k));
                loaded = now;
                failed = None;
            }
            // Half-written replacements fail here; keep serving the old pair and retry on the next
            // poll, warning once per version of the files.
            Err(e) => {
                if failed != Some(now) || forced {
                    tracing::warn!(error = %format!("{e:#}"), "TLS certificate reload failed; still serving the previous one");
                    failed = Some(now);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec![name.to_string()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn loads_matching_pair_and_refuses_mismatch() {
        let (c1, k1) = pair("a.test");
        let (_, k2) = pair("b.test");
        assert!(certified_key_from_pem(c1.as_bytes(), k1.as_bytes()).is_ok());
        assert!(certified_key_from_pem(c1.as_bytes(), k2.as_bytes()).is_err());
        assert!(certified_key_from_pem(b"", k1.as_bytes()).is_err());
        assert!(certified_key_from_pem(c1.as_bytes(), b"junk").is_err());
    }
}
