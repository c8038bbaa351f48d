//! `GET /api/security/findings`: what `shelfwarden doctor` reports, for the admin UI's security
//! overview. Judged inside the server, so "running as root" and "library writable" describe the
//! process that actually serves.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::extract::AdminUser;
use crate::doctor;
use crate::error::AppResult;

pub async fn findings(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
) -> AppResult<Json<Value>> {
    let config = state.config.clone();
    let data_dir = state.data_dir.clone();
    let now = state.clock.now_ms();
    // The library walk and the permission checks touch the file system: on the blocking pool.
    let snap = state
        .store
        .read(move |c| {
            Ok(doctor::snapshot::gather(
                &config,
                None,
                &data_dir,
                Some(c),
                now,
            ))
        })
        .await?;
    let findings = doctor::findings(&snap);
    Ok(Json(json!({
        "version": doctor::build_info(),
        "ok": !doctor::has_high(&findings),
        "findings": findings,
    })))
}
