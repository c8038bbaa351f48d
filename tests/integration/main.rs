//! One integration-test binary: every module starts the real server through `harness`.

#![allow(dead_code)]
// A failed unwrap in a test is a test failure with a line number, which is all a test needs.
#![allow(clippy::unwrap_used)]

mod backup;
mod caches;
mod doctor;
mod foundation;
mod hardening;
mod harness;
mod history;
mod listening;
mod lists;
mod passkeys;
mod tls;
mod two_factor;
mod users;
mod web;
