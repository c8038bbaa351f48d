//! Recovery codes: ten single-use codes of 10 characters from a 32-symbol alphabet (50 bits each,
//! 500 bits together), shown once and stored as SHA-256 (their entropy makes a slow hash unneeded).

use rand::Rng;
use sha2::{Digest, Sha256};

pub const COUNT: usize = 10;
const LEN: usize = 10;
/// No 0/o or 1/l: codes are read off paper and typed by hand.
pub const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// `xxxxx-xxxxx`
pub fn generate() -> Vec<String> {
    let mut rng = rand::rngs::OsRng;
    (0..COUNT)
        .map(|_| {
            let raw: String = (0..LEN)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect();
            format!("{}-{}", &raw[..5], &raw[5..])
        })
        .collect()
}

/// Case, spaces and dashes do not matter when a code is typed back.
pub fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

pub fn hash(code: &str) -> String {
    hex::encode(Sha256::digest(normalize(code).as_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ten_distinct_codes_with_enough_entropy() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), COUNT);
        for c in &codes {
            assert_eq!(c.len(), 11);
            assert_eq!(&c[5..6], "-");
            assert!(normalize(c).bytes().all(|b| ALPHABET.contains(&b)));
        }
        let bits_each = LEN as f64 * (ALPHABET.len() as f64).log2();
        assert!(bits_each * COUNT as f64 >= 112.0);
        assert!(bits_each >= 50.0);
    }

    #[test]
    fn typed_forms_hash_alike() {
        assert_eq!(hash("abcde-fghjk"), hash(" ABCDE fghjk "));
        assert_ne!(hash("abcde-fghjk"), hash("abcde-fghjm"));
    }
}
