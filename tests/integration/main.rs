//! One integration-test binary: every module starts the real server through `harness`.

#![allow(dead_code)]
// Test code panics on purpose: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod backup;
mod foundation;
mod hardening;
mod harness;
mod users;
