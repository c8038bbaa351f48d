//! Shelfwarden: a self-hosted audiobook server that speaks the Audiobookshelf API.
#![forbid(unsafe_code)]

pub mod auth;
pub mod cli;
pub mod clock;
pub mod error;
pub mod library;
pub mod model;
pub mod store;
