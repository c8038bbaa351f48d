//! Password hashing: Argon2id with its parameters inside the PHC string, so a change of parameters
//! is noticed at login and the hash upgraded. Imported ABS bcrypt hashes are verified once and
//! replaced by Argon2id at that login.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;

/// OWASP's recommended Argon2id setting (19 MiB, 2 passes, 1 lane).
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but the stored hash uses an old algorithm or parameters: store a fresh hash.
    YesRehash,
}

pub fn verify(password: &str, stored: &str) -> Verified {
    if stored.starts_with("$2") {
        // bcrypt only considers the first 72 bytes; ABS used it the same way.
        return match bcrypt::verify(password, stored) {
            Ok(true) => Verified::YesRehash,
            _ => Verified::No,
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verified::No;
    };
    if hasher()
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Verified::No;
    }
    let current = parsed.algorithm.as_str() == "argon2id"
        && parsed.params.get_decimal("m") == Some(MEMORY_KIB)
        && parsed.params.get_decimal("t") == Some(ITERATIONS)
        && parsed.params.get_decimal("p") == Some(LANES);
    if current {
        Verified::Yes
    } else {
        Verified::YesRehash
    }
}

/// Spends the same work as a real verification, so "no such user" and "wrong password" take the same time.
pub fn burn_equivalent_time(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("shelfwarden-timing-equaliser").unwrap_or_default());
    let _ = verify(password, dummy);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let h = hash("a long enough passphrase").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert_eq!(verify("a long enough passphrase", &h), Verified::Yes);
        assert_eq!(verify("wrong", &h), Verified::No);
    }

    #[test]
    fn weaker_params_ask_for_rehash() {
        let params = Params::new(8 * 1024, 1, 1, None).expect("params");
        let weak = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"pw", &SaltString::generate(&mut OsRng))
            .expect("hash")
            .to_string();
        assert_eq!(verify("pw", &weak), Verified::YesRehash);
    }

    #[test]
    fn bcrypt_from_abs_verifies_and_asks_for_rehash() {
        let h = bcrypt::hash("abs-password", 4).expect("bcrypt");
        assert_eq!(verify("abs-password", &h), Verified::YesRehash);
        assert_eq!(verify("nope", &h), Verified::No);
    }

    #[test]
    fn garbage_hash_never_verifies() {
        assert_eq!(verify("x", ""), Verified::No);
        assert_eq!(verify("x", "$argon2id$garbage"), Verified::No);
    }
}
