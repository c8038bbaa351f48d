//! One integration-test binary: every module starts the real server through `harness`.

#![allow(dead_code)]

mod backup;
mod foundation;
mod harness;
mod users;
