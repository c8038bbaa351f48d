//! Shelfwarden: a self-hosted audiobook server that speaks the Audiobookshelf API.
#![forbid(unsafe_code)]
#![recursion_limit = "256"]

pub mod access;
pub mod accounts;
pub mod app;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod clock;
pub mod config;
pub mod doctor;
pub mod error;
pub mod http;
pub mod import;
pub mod library;
pub mod listening;
pub mod maintenance;
pub mod model;
pub mod realtime;
pub mod release;
pub mod server;
pub mod store;
pub mod tasks;
pub mod tls;
