//! One integration-test binary: every module starts the real server through `harness`.

#![allow(dead_code)]

mod foundation;
mod harness;
mod tls;
mod users;
