//! Shelfwarden: a self-hosted audiobook server that speaks the Audiobookshelf API.
#![forbid(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod error;
pub mod model;
pub mod store;
