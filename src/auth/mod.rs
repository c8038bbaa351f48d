//! Authentication: passwords, tokens, sessions, the client's address and the extractors that put
//! the privilege a handler needs into its signature.

pub mod allowlist;
pub mod api_keys;
pub mod app_passwords;
pub mod cache;
pub mod client_ip;
pub mod extract;
pub mod mfa;
pub mod password;
pub mod password_policy;
pub mod recovery;
pub mod secrets;
pub mod sessions;
pub mod setup;
pub mod throttle;
pub mod tokens;
pub mod totp;
