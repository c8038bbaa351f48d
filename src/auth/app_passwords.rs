//! App passwords: random per-device passwords for clients that can only send a username and a
//! password. 32 symbols of a 32-symbol alphabet (160 bits) in eight groups of four, stored as an
//! argon2 hash. The first group doubles as a lookup hint so a login verifies one hash, not all.

use rand::Rng;

use crate::auth::recovery::ALPHABET;

const GROUPS: usize = 8;
const GROUP_LEN: usize = 4;

pub fn generate() -> String {
    let mut rng = rand::rngs::OsRng;
    let groups: Vec<String> = (0..GROUPS)
        .map(|_| {
            (0..GROUP_LEN)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect()
        })
        .collect();
    groups.join("-")
}

/// The canonical form (lowercase, no separators) when `text` has an app password's shape.
pub fn canonical(text: &str) -> Option<String> {
    let c: String = text
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (c.len() == GROUPS * GROUP_LEN && c.bytes().all(|b| ALPHABET.contains(&b))).then_some(c)
}

/// The stored, non-secret lookup hint of a canonical password.
pub fn hint(canonical: &str) -> &str {
    &canonical[..GROUP_LEN]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn shape_and_entropy() {
        let p = generate();
        assert_eq!(p.len(), GROUPS * GROUP_LEN + GROUPS - 1);
        assert_eq!(p.split('-').count(), GROUPS);
        let c = canonical(&p).unwrap();
        assert_eq!(canonical(&p.to_uppercase()).unwrap(), c);
        assert_eq!(hint(&c), &p[..4]);
        assert!((GROUPS * GROUP_LEN) as f64 * 5.0 >= 128.0);
        assert_ne!(generate(), p);
    }

    #[test]
    fn ordinary_passwords_are_not_app_passwords() {
        assert!(canonical("correct horse battery staple 42").is_none());
        assert!(canonical("short").is_none());
    }
}
