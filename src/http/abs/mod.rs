//! The Audiobookshelf-compatible API: handlers named after ABS's route groups, and the JSON shapes
//! its clients parse (`json`), kept apart from the domain types.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod backups;
pub mod browse;
pub mod catalog;
pub mod entities;
pub mod history;
pub mod items;
pub mod items_json;
pub mod json;
pub mod libraries;
pub mod lists;
pub mod me;
pub mod openid;
pub mod passkeys;
pub mod playback;
pub mod progress;
pub mod query;
pub mod security;
pub mod server;
pub mod shelves;
pub mod two_factor;
pub mod users;

/// The ABS API level Shelfwarden implements. Clients branch on this (`/public/session` tracks from
/// 2.22, access/refresh tokens from 2.26), so it is ABS's version, not ours.
pub const ABS_COMPAT_VERSION: &str = "2.36.0";
