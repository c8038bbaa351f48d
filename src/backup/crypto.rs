//! age encryption: to a scrypt passphrase or to X25519 recipients. The whole archive streams
//! through age's 64 KiB authenticated chunks, so a flipped byte fails at the chunk that holds it
//! and nothing past it is ever handed to the tar reader.

use std::io::{Read, Write};
use std::path::Path;
use std::str::FromStr;

use age::secrecy::SecretString;
use anyhow::{Context, bail};

/// Shorter passphrases fall to offline guessing even through scrypt.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

pub enum Encryption {
    Passphrase(SecretString),
    Recipients(Vec<age::x25519::Recipient>),
}

pub enum Decryption {
    Passphrase(SecretString),
    Identities(Vec<age::x25519::Identity>),
}

impl Encryption {
    /// The passphrase file, else the recipients: exactly one must be given.
    pub fn from_sources(
        passphrase_file: Option<&Path>,
        recipients: &[String],
    ) -> anyhow::Result<Encryption> {
        match (passphrase_file, recipients.is_empty()) {
            (Some(_), false) => {
                bail!("give either a passphrase file or recipients, not both")
            }
            (Some(p), true) => Ok(Encryption::Passphrase(read_passphrase_file(p)?)),
            (None, false) => Ok(Encryption::Recipients(
                recipients
                    .iter()
                    .map(|r| parse_recipient(r))
                    .collect::<anyhow::Result<_>>()?,
            )),
            (None, true) => bail!(
                "backups are always encrypted: give --passphrase-file FILE or --recipient AGE_PUBLIC_KEY \
                 (or set backup_passphrase_file / backup_recipients)"
            ),
        }
    }

    /// Wraps `out` so everything written to it is encrypted; call `finish()` on the result.
    pub fn wrap<W: Write>(&self, out: W) -> anyhow::Result<age::stream::StreamWriter<W>> {
        let encryptor = match self {
            Encryption::Passphrase(p) => age::Encryptor::with_user_passphrase(p.clone()),
            Encryption::Recipients(rs) => {
                age::Encryptor::with_recipients(rs.iter().map(|r| r as &dyn age::Recipient))
                    .map_err(|e| anyhow::anyhow!("cannot encrypt to these recipients: {e}"))?
            }
        };
        Ok(encryptor.wrap_output(out)?)
    }
}

impl Decryption {
    pub fn from_sources(
        passphrase_file: Option<&Path>,
        identity_file: Option<&Path>,
    ) -> anyhow::Result<Decryption> {
        match (passphrase_file, identity_file) {
            (Some(_), Some(_)) => bail!("give either --passphrase-file or --identity, not both"),
            (Some(p), None) => Ok(Decryption::Passphrase(read_secret_file(p)?)),
            (None, Some(i)) => Ok(Decryption::Identities(read_identity_file(i)?)),
            (None, None) => bail!(
                "give --passphrase-file FILE or --identity FILE (an age identity file) to decrypt the backup"
            ),
        }
    }

    /// Opens an encrypted stream; a wrong key fails here, before any plaintext exists.
    pub fn open<R: Read>(&self, input: R) -> anyhow::Result<age::stream::StreamReader<R>> {
        let decryptor = age::Decryptor::new(input).map_err(describe)?;
        let reader = match self {
            Decryption::Passphrase(p) => {
                if !decryptor.is_scrypt() {
                    bail!("this backup was encrypted to public keys; use --identity");
                }
                let id = age::scrypt::Identity::new(p.clone());
                decryptor.decrypt(std::iter::once(&id as &dyn age::Identity))
            }
            Decryption::Identities(ids) => {
                if decryptor.is_scrypt() {
                    bail!("this backup was encrypted with a passphrase; use --passphrase-file");
                }
                decryptor.decrypt(ids.iter().map(|i| i as &dyn age::Identity))
            }
        };
        reader.map_err(describe)
    }
}

fn describe(e: age::DecryptError) -> anyhow::Error {
    match e {
        age::DecryptError::DecryptionFailed
        | age::DecryptError::KeyDecryptionFailed
        | age::DecryptError::NoMatchingKeys => {
            anyhow::anyhow!("cannot decrypt the backup: wrong passphrase or identity")
        }
        age::DecryptError::InvalidHeader
        | age::DecryptError::InvalidMac
        | age::DecryptError::UnknownFormat => {
            anyhow::anyhow!("the file is not a valid encrypted backup (damaged or not an age file)")
        }
        other => anyhow::anyhow!("cannot decrypt the backup: {other}"),
    }
}

pub fn parse_recipient(s: &str) -> anyhow::Result<age::x25519::Recipient> {
    age::x25519::Recipient::from_str(s.trim())
        .map_err(|e| anyhow::anyhow!("{s:?} is not an age public key (age1...): {e}"))
}

fn read_secret_file(path: &Path) -> anyhow::Result<SecretString> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read passphrase file {}", path.display()))?;
    let pass = text.trim_end_matches(['\n', '\r']);
    if pass.is_empty() {
        bail!("passphrase file {} is empty", path.display());
    }
    Ok(SecretString::from(pass.to_string()))
}

/// Reads a passphrase for encrypting: it must be long enough to be worth encrypting with.
pub fn read_passphrase_file(path: &Path) -> anyhow::Result<SecretString> {
    use age::secrecy::ExposeSecret;
    let pass = read_secret_file(path)?;
    if pass.expose_secret().chars().count() < MIN_PASSPHRASE_CHARS {
        bail!(
            "the backup passphrase in {} is shorter than {MIN_PASSPHRASE_CHARS} characters",
            path.display()
        );
    }
    Ok(pass)
}

/// Reads `AGE-SECRET-KEY-1...` lines (the format `age-keygen` writes); comments are skipped.
pub fn read_identity_file(path: &Path) -> anyhow::Result<Vec<age::x25519::Identity>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read identity file {}", path.display()))?;
    let ids = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            age::x25519::Identity::from_str(l).map_err(|_| {
                anyhow::anyhow!(
                    "{} holds a line that is not an age identity (AGE-SECRET-KEY-1...)",
                    path.display()
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if ids.is_empty() {
        bail!("identity file {} holds no identity", path.display());
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;

    fn round_trip(enc: &Encryption, dec: &Decryption) -> anyhow::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut w = enc.wrap(&mut out)?;
        w.write_all(b"hello backup")?;
        w.finish()?;
        let mut r = dec.open(&out[..])?;
        let mut got = Vec::new();
        r.read_to_end(&mut got)?;
        Ok(got)
    }

    #[test]
    fn recipients_round_trip_and_wrong_identity_fails() {
        let id = age::x25519::Identity::generate();
        let enc = Encryption::Recipients(vec![id.to_public()]);
        let got = round_trip(&enc, &Decryption::Identities(vec![id])).expect("round trip");
        assert_eq!(got, b"hello backup");
        let other = age::x25519::Identity::generate();
        let err = round_trip(&enc, &Decryption::Identities(vec![other]))
            .expect_err("wrong identity must fail");
        assert!(err.to_string().contains("wrong"), "{err}");
    }

    #[test]
    fn identity_file_parses_keygen_output() {
        let id = age::x25519::Identity::generate();
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("key.txt");
        std::fs::write(
            &p,
            format!(
                "# created: now\n# public key: {}\n{}\n",
                id.to_public(),
                id.to_string().expose_secret()
            ),
        )
        .expect("write");
        assert_eq!(read_identity_file(&p).expect("parse").len(), 1);
        let short = dir.path().join("short");
        std::fs::write(&short, "tooshort\n").expect("write");
        assert!(read_passphrase_file(&short).is_err());
    }
}
