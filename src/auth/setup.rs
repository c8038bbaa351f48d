//! First-run claim: with no users, the server prints a one-time setup token and writes it 0600 into
//! the data dir; `POST /init` must present it, so nobody on the network can claim a fresh server.

use std::path::Path;

use subtle::ConstantTimeEq;

use super::secrets::{SETUP_TOKEN_FILE, random_token, write_private};

/// Creates the setup token if none exists yet and returns it.
pub fn ensure_token(data_dir: &Path) -> std::io::Result<String> {
    let path = data_dir.join(SETUP_TOKEN_FILE);
    if let Ok(existing) = std::fs::read_to_string(&path)
        && existing.trim().len() >= 16
    {
        return Ok(existing.trim().to_string());
    }
    let token = random_token(24);
    write_private(&path, token.as_bytes())?;
    Ok(token)
}

/// True when `presented` equals the stored setup token (compared in constant time).
pub fn check(data_dir: &Path, presented: &str) -> bool {
    let Ok(stored) = std::fs::read_to_string(data_dir.join(SETUP_TOKEN_FILE)) else {
        return false;
    };
    let stored = stored.trim();
    !stored.is_empty() && bool::from(stored.as_bytes().ct_eq(presented.trim().as_bytes()))
}

pub fn consume(data_dir: &Path) {
    let _ = std::fs::remove_file(data_dir.join(SETUP_TOKEN_FILE));
}
