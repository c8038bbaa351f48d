//! `tls = "self-signed"`: a certificate generated once into DATA/tls and reused, so the
//! fingerprint users pinned stays valid. It is regenerated only when the wanted names change.

use std::path::Path;

use anyhow::Context;
use rustls::sign::CertifiedKey;

use super::files::certified_key_from_pem;

pub const CERT_FILE: &str = "self-signed.pem";
pub const KEY_FILE: &str = "self-signed.key";
const NAMES_FILE: &str = "self-signed.names";

/// Loads or creates the certificate for `names`; returns it and its SHA-256 fingerprint.
pub fn load_or_create(dir: &Path, names: &[String]) -> anyhow::Result<(CertifiedKey, String)> {
    super::private_dir(dir)?;
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    let names_path = dir.join(NAMES_FILE);
    let wanted = names.join("\n");
    let same_names = std::fs::read_to_string(&names_path)
        .map(|s| s == wanted)
        .unwrap_or(false);
    if same_names && let (Ok(cert), Ok(key)) = (std::fs::read(&cert_path), std::fs::read(&key_path))
    {
        match certified_key_from_pem(&cert, &key) {
            Ok(k) => {
                let fp = k
                    .cert
                    .first()
                    .map(|c| super::fingerprint(c.as_ref()))
                    .unwrap_or_default();
                return Ok((k, fp));
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "self-signed certificate unreadable; making a new one")
            }
        }
    }
    let (cert_pem, key_pem) = generate(names)?;
    super::write_private(&key_path, key_pem.as_bytes())?;
    std::fs::write(&cert_path, cert_pem.as_bytes())
        .with_context(|| format!("cannot write {}", cert_path.display()))?;
    std::fs::write(&names_path, wanted.as_bytes())?;
    let k = certified_key_from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?;
    let fp = k
        .cert
        .first()
        .map(|c| super::fingerprint(c.as_ref()))
        .unwrap_or_default();
    tracing::info!(names = ?names, fingerprint = %fp, "generated a self-signed TLS certificate");
    Ok((k, fp))
}

/// ECDSA P-256, ten years: nobody trusts it through a CA anyway, and rotating it would break every
/// client that pinned the fingerprint.
pub fn generate(names: &[String]) -> anyhow::Result<(String, String)> {
    use chrono::Datelike;
    let mut params =
        rcgen::CertificateParams::new(names.to_vec()).context("invalid certificate name")?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, "Shelfwarden self-signed");
    params.distinguished_name = dn;
    let today = chrono::Utc::now().date_naive();
    let (y, m, d) = (today.year(), today.month() as u8, today.day() as u8);
    // Day clamped to 28 so "same date in ten years" exists (29 February).
    params.not_before = rcgen::date_time_ymd(y, m, d.min(28)) - time_day();
    params.not_after = rcgen::date_time_ymd(y + 10, m, d.min(28));
    let key = rcgen::KeyPair::generate().context("key generation failed")?;
    let cert = params
        .self_signed(&key)
        .context("certificate generation failed")?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// One day, as rcgen's date type wants it; tolerates clocks a little behind ours.
fn time_day() -> std::time::Duration {
    std::time::Duration::from_secs(86_400)
}

/// The names the certificate should cover: loopback, the bind address, public_url's host, and
/// this machine's host name.
pub fn wanted_names(config: &crate::config::Config) -> Vec<String> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if !config.bind.is_unspecified() {
        names.push(config.bind.to_string());
    }
    if let Some(h) = super::public_host(config) {
        names.push(h);
    }
    if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
        let h = h.trim();
        if !h.is_empty()
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            names.push(h.to_string());
        }
    }
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let (_, fp1) = load_or_create(dir.path(), &names).expect("create");
        let (_, fp2) = load_or_create(dir.path(), &names).expect("reuse");
        assert_eq!(fp1, fp2);
        assert_eq!(fp1.len(), 32 * 3 - 1);
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let more = vec!["localhost".to_string(), "books.lan".to_string()];
        let (_, fp3) = load_or_create(dir.path(), &more).expect("new names");
        assert_ne!(fp1, fp3);
    }
}
