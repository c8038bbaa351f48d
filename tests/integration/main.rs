//! One integration-test binary: every module starts the real server through `harness`.

#![allow(dead_code, clippy::unwrap_used)]

mod foundation;
mod hardening;
mod harness;
mod users;
