//! Listening: progress rules and playback sessions. No HTTP here; the ABS handlers call in.

pub mod progress;
pub mod stats;
