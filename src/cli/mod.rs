//! Command implementations the binary's clap definitions call.

pub mod bench_scan;
pub mod scan;
