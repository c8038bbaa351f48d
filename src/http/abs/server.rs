//! Unauthenticated server routes: liveness, ABS's `/status` (no filesystem paths), the 404 fallback.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::ABS_COMPAT_VERSION;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::store::users;

pub async fn ping() -> Json<Value> {
    Json(json!({ "success": true }))
}

pub async fn healthcheck(State(state): State<AppState>) -> AppResult<(StatusCode, &'static str)> {
    state.store.read(crate::store::ping).await?;
    Ok((StatusCode::OK, "OK"))
}

pub async fn status(State(state): State<AppState>) -> AppResult<Json<Value>> {
    let is_init = state.store.read(users::count).await? > 0;
    Ok(Json(json!({
        "app": "audiobookshelf",
        "serverVersion": ABS_COMPAT_VERSION,
        "isInit": is_init,
        "language": "en-us",
        "authMethods": ["local"],
        "authFormData": { "authLoginCustomMessage": null },
        "shelfwarden": { "version": env!("CARGO_PKG_VERSION") },
    })))
}

pub async fn not_found() -> AppError {
    AppError::not_found()
}
