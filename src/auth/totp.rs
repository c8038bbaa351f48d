//! TOTP (RFC 6238): seeds, verification with ±1 step of skew and replay refusal, the seed's
//! encryption at rest, and the enrolment QR code. Time is always a parameter.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::auth::secrets;

pub const STEP_SECS: u64 = 30;
pub const DIGITS: usize = 6;
/// Steps either side of the current one that are accepted (clock drift, typing time).
pub const SKEW: i64 = 1;
pub const ISSUER: &str = "Shelfwarden";
pub const KEY_FILE: &str = "mfa-key";

/// A new 160-bit seed (RFC 4226 recommends 160).
pub fn new_seed() -> Vec<u8> {
    Secret::generate_secret()
        .to_bytes()
        .unwrap_or_else(|_| secrets::random_bytes(20))
}

fn totp(seed: &[u8], account: &str) -> anyhow::Result<TOTP> {
    // `:` separates issuer and account in the label, so it may not appear in the account name.
    let account = account.replace(':', "_");
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        0,
        STEP_SECS,
        seed.to_vec(),
        Some(ISSUER.to_string()),
        account,
    )
    .map_err(|e| anyhow::anyhow!("totp: {e}"))
}

pub fn base32(seed: &[u8]) -> anyhow::Result<String> {
    Ok(totp(seed, "x")?.get_secret_base32())
}

pub fn otpauth_uri(seed: &[u8], account: &str) -> anyhow::Result<String> {
    Ok(totp(seed, account)?.get_url())
}

/// The code for the step containing `unix_secs` (tests and the enrolment check).
pub fn code_at(seed: &[u8], unix_secs: u64) -> anyhow::Result<String> {
    Ok(totp(seed, "x")?.generate(unix_secs))
}

/// Verifies `code` at `now` within ±`SKEW` steps, refusing any step at or before `last_step`
/// (the last accepted one), so each code works once. Returns the step to record.
pub fn verify(seed: &[u8], code: &str, now_secs: i64, last_step: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(seed, "x").ok()?;
    let current = now_secs.div_euclid(STEP_SECS as i64);
    let mut found = None;
    // Every candidate is computed and compared in constant time, so timing does not say which matched.
    for step in (current - SKEW)..=(current + SKEW) {
        if step < 0 {
            continue;
        }
        let expected = t.generate(step as u64 * STEP_SECS);
        let ok: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
        if ok && step > last_step && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// The key that encrypts seeds at rest: 32 random bytes in `DATA/mfa-key` (0600), made on first use.
pub fn load_or_create_key(data_dir: &Path) -> anyhow::Result<[u8; 32]> {
    let path = data_dir.join(KEY_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let fresh = secrets::random_bytes(32);
            secrets::write_private(&path, &fresh)?;
            // Re-read: if two requests raced, both use whatever won the rename.
            std::fs::read(&path)?
        }
        Err(e) => return Err(e.into()),
    };
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("{} must hold exactly 32 bytes", path.display()))
}

/// XChaCha20-Poly1305 with the user id as associated data, so a seed copied onto another user's row
/// does not decrypt. Layout: 24-byte nonce ‖ ciphertext.
pub fn seal(key: &[u8; 32], user_id: &str, seed: &[u8]) -> anyhow::Result<Vec<u8>> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let nonce: [u8; 24] = secrets::random_bytes(24)
        .try_into()
        .map_err(|_| anyhow::anyhow!("nonce length"))?;
    let ct = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: seed,
                aad: user_id.as_bytes(),
            },
        )
        .map_err(|_| anyhow::anyhow!("seed encryption failed"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    Ok(out)
}

pub fn open(key: &[u8; 32], user_id: &str, sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
    if sealed.len() < 24 {
        anyhow::bail!("sealed seed too short");
    }
    let (nonce, ct) = sealed.split_at(24);
    let nonce: [u8; 24] = nonce
        .try_into()
        .map_err(|_| anyhow::anyhow!("nonce length"))?;
    XChaCha20Poly1305::new(key.into())
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: ct,
                aad: user_id.as_bytes(),
            },
        )
        .map_err(|_| anyhow::anyhow!("seed does not decrypt (wrong mfa-key?)"))
}

/// The otpauth URI as an SVG QR code (no script, no style: safe to inline or serve).
pub fn qr_svg(text: &str) -> Option<String> {
    use qrcodegen::{QrCode, QrCodeEcc};
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let border = 4;
    let size = qr.size() + border * 2;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" shape-rendering=\"crispEdges\">\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn rfc6238_vector() {
        // RFC 6238 appendix B, SHA-1, T = 59 → 94287082 (8 digits); the last 6 digits are ours.
        let seed = b"12345678901234567890";
        assert_eq!(code_at(seed, 59).unwrap(), "287082");
    }

    #[test]
    fn window_is_plus_minus_one_step() {
        let seed = new_seed();
        let now = NOW;
        let step = now / 30;
        for delta in [-1i64, 0, 1] {
            let code = code_at(&seed, ((step + delta) * 30) as u64).unwrap();
            assert_eq!(verify(&seed, &code, now, -1), Some(step + delta), "{delta}");
        }
        for delta in [-2i64, 2] {
            let code = code_at(&seed, ((step + delta) * 30) as u64).unwrap();
            assert_eq!(verify(&seed, &code, now, -1), None, "{delta}");
        }
    }

    #[test]
    fn replay_is_refused() {
        let seed = new_seed();
        let code = code_at(&seed, NOW as u64).unwrap();
        let used = verify(&seed, &code, NOW, -1).unwrap();
        assert_eq!(verify(&seed, &code, NOW, used), None);
        assert_eq!(verify(&seed, &code, NOW + 20, used), None);
        // An older step inside the window is refused too once a later one was used.
        let older = code_at(&seed, (NOW - 30) as u64).unwrap();
        assert_eq!(verify(&seed, &older, NOW, used), None);
    }

    #[test]
    fn malformed_codes_fail() {
        let seed = new_seed();
        for c in ["", "12345", "1234567", "abcdef"] {
            assert_eq!(verify(&seed, c, NOW, -1), None);
        }
    }

    #[test]
    fn seal_round_trip_bound_to_user() {
        let key = [7u8; 32];
        let seed = new_seed();
        let sealed = seal(&key, "u1", &seed).unwrap();
        assert!(!sealed.windows(seed.len()).any(|w| w == seed.as_slice()));
        assert_eq!(open(&key, "u1", &sealed).unwrap(), seed);
        assert!(open(&key, "u2", &sealed).is_err());
        assert!(open(&[8u8; 32], "u1", &sealed).is_err());
    }

    #[test]
    fn uri_and_qr() {
        let seed = new_seed();
        let uri = otpauth_uri(&seed, "al:ice").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Shelfwarden:al_ice?"),
            "{uri}"
        );
        assert!(uri.contains(&format!("secret={}", base32(&seed).unwrap())));
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.starts_with("<svg") && !svg.contains("script"));
    }
}
