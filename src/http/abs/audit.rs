//! The audit log for admins: filtered, paged queries and a JSON-lines export.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;

use crate::app::AppState;
use crate::audit::{self, AuditFilter};
use crate::auth::extract::AdminUser;
use crate::error::{AppError, AppResult};

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AuditQuery {
    action: Option<String>,
    actor: Option<String>,
    target: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
    page: Option<i64>,
    limit: Option<i64>,
}

impl AuditQuery {
    fn filter(&self) -> AuditFilter {
        AuditFilter {
            action: self.action.clone().filter(|s| !s.is_empty()),
            actor: self.actor.clone().filter(|s| !s.is_empty()),
            target: self.target.clone().filter(|s| !s.is_empty()),
            since: self.since,
            until: self.until,
        }
    }
}

fn query_or_400(
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<AuditQuery> {
    q.map(|Query(q)| q)
        .map_err(|e| AppError::bad_request(format!("Invalid query: {}", e.body_text())))
}

pub async fn list(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<audit::AuditPage>> {
    let q = query_or_400(q)?;
    let (filter, page, limit) = (q.filter(), q.page.unwrap_or(0), q.limit.unwrap_or(50));
    Ok(Json(
        state
            .store
            .read(move |c| audit::query(c, &filter, page, limit))
            .await?,
    ))
}

pub async fn export(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<impl IntoResponse> {
    let filter = query_or_400(q)?.filter();
    let body = state
        .store
        .read(move |c| {
            let mut out = Vec::new();
            audit::export_jsonl(c, &filter, &mut out)?;
            Ok(out)
        })
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"shelfwarden-audit.jsonl\"",
            ),
        ],
        body,
    ))
}

pub async fn verify(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
) -> AppResult<Json<serde_json::Value>> {
    let result = state.store.read(|c| Ok(audit::verify(c))).await?;
    Ok(Json(match result {
        Ok(report) => serde_json::json!({ "ok": true, "report": format!("{report:?}") }),
        Err(e) => serde_json::json!({ "ok": false, "error": e.to_string() }),
    }))
}
