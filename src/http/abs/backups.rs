//! Admin backup routes (ABS's `/api/backups` group): list, create now, download. Restoring through
//! the API is deliberately absent: it replaces the running server's data and belongs to the CLI,
//! run by someone with shell access, until a step-up confirmation exists.
//!
//! Routes (the router adds them):
//!   GET  /api/backups                 -> list
//!   POST /api/backups                 -> create
//!   GET  /api/backups/{id}/download   -> download

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::app::AppState;
use crate::audit::{self, Action, AuditEvent};
use crate::auth::extract::{AdminUser, FreshAdmin};
use crate::backup::{self, runner};
use crate::error::{AppError, AppResult};

fn entry(name: &str, size: u64) -> Option<Value> {
    let created = backup::parse_backup_file_name(name)?;
    Some(json!({
        "id": name,
        "filename": name,
        "fileSize": size,
        "createdAt": created,
    }))
}

pub async fn list(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
) -> AppResult<Json<Value>> {
    let dir = backup::backups_dir(&state.data_dir);
    let mut backups: Vec<Value> = tokio::task::spawn_blocking(move || {
        std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let size = e.metadata().ok()?.len();
                        entry(e.file_name().to_str()?, size)
                    })
                    .collect()
            })
            .unwrap_or_default()
    })
    .await
    .map_err(AppError::internal)?;
    backups.sort_by_key(|b| std::cmp::Reverse(b["createdAt"].as_i64()));
    let health = state.store.read(backup::health).await?;
    Ok(Json(json!({
        "backups": backups,
        "status": health,
        "scheduled": state.config.backup_schedule,
    })))
}

/// Makes a backup now with the configured key, then copies and prunes as a scheduled run would.
pub async fn create(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
) -> AppResult<Json<Value>> {
    let mut job = runner::Job::from_config(&state.config, state.data_dir.clone());
    job.actor = Some((admin.user.id.clone(), admin.user.username.clone()));
    if job.passphrase_file.is_none() && job.recipients.is_empty() {
        return Err(AppError::bad_request(
            "no backup key configured: set backup_passphrase_file or backup_recipients",
        ));
    }
    let outcome = runner::run_once(&state.store, &job, None, None, true, state.now_ms())
        .await
        .map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "BACKUP FAILED");
            AppError::internal(format!("{e:#}"))
        })?;
    let name = outcome
        .backup
        .path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    Ok(Json(json!({
        "backup": entry(&name, outcome.backup.size),
        "sha256": outcome.backup.sha256,
        "copies": outcome.copies,
        "pruned": outcome.pruned,
        "offsiteErrors": outcome.offsite_errors,
    })))
}

/// Streams the (encrypted) file. Only names of our own form are accepted, so the id can never
/// walk out of the backups folder.
pub async fn download(
    State(state): State<AppState>,
    FreshAdmin(admin): FreshAdmin,
    Path(id): Path<String>,
    req: Request,
) -> AppResult<Response> {
    if backup::parse_backup_file_name(&id).is_none() || id.contains('/') {
        return Err(AppError::not_found());
    }
    let path = backup::backups_dir(&state.data_dir).join(&id);
    if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
        return Err(AppError::not_found());
    }
    // A copy of every account leaving the server is on the record, encrypted or not.
    let event = AuditEvent::new(Action::Other("backup.download".into()))
        .actor(admin.user.id.clone(), admin.user.username.clone())
        .target(id.clone());
    let now = state.now_ms();
    state
        .store
        .write(move |tx| audit::append(tx, &event, now).map(|_| ()))
        .await?;
    let served = tower_http::services::ServeFile::new(&path)
        .oneshot(req)
        .await
        .map_err(AppError::internal)?;
    let mut resp = served.into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{id}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
