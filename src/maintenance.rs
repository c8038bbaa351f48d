//! Hourly upkeep while the server runs: expire what has expired and keep tables bounded.

use std::time::Duration;

use crate::app::AppState;
use crate::audit::{self, VerifyError};
use crate::auth::api_keys;
use crate::store::{auth_sessions, playback};

const EVERY: Duration = Duration::from_secs(3600);
const STALE_PLAYBACK_MS: i64 = 36 * 3_600_000;

/// One round of upkeep at `now` (ms); separate from the timer so it can be called directly.
pub async fn run_once(state: &AppState, now: i64) {
    if let Err(e) = state.throttle.prune(now).await {
        tracing::warn!(error = %e, "throttle prune failed");
    }
    let retention_days = i64::from(state.config.audit_retention_days);
    let result = state
        .store
        .write(move |tx| {
            api_keys::deactivate_expired(tx, now)?;
            auth_sessions::purge_expired(tx, now)?;
            playback::close_stale(tx, now - STALE_PLAYBACK_MS)?;
            if retention_days > 0 {
                match audit::prune_before(tx, now - retention_days * 86_400_000, now) {
                    Ok(_) => {}
                    Err(VerifyError::Broken(b)) => {
                        tracing::error!(%b, "audit log broken; not pruning")
                    }
                    Err(VerifyError::Store(e)) => return Err(e),
                }
            }
            Ok(())
        })
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "maintenance failed");
    }
}

pub fn spawn(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tick.tick().await;
            run_once(&state, state.now_ms()).await;
        }
    });
}
