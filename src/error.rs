//! The one error type. Every handler returns `Result<_, AppError>`; this file alone decides what the
//! client sees. ABS answers most failures with a plain-text reason phrase and its auth routes with
//! JSON `{error}`, and its clients branch on the status code, so both forms are kept exactly.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400 with a plain-text message.
    #[error("{0}")]
    BadRequest(String),
    /// 401 `Unauthorized` (text): clients react by refreshing their token.
    #[error("Unauthorized")]
    Unauthorized,
    /// 403 with a plain-text message.
    #[error("{0}")]
    Forbidden(String),
    /// 404 with a plain-text message.
    #[error("{0}")]
    NotFound(String),
    /// 413: the body is larger than the route accepts.
    #[error("payload too large")]
    PayloadTooLarge,
    /// A JSON `{error}` body with the given status, as ABS's auth routes answer.
    #[error("{message}")]
    Json { status: StatusCode, message: String },
    /// 429 from a throttle, with the standard rate-limit headers.
    #[error("too many requests")]
    TooManyRequests {
        retry_after_secs: u64,
        limit: u32,
        message: String,
    },
    /// 500; the detail goes to the log only, never to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn bad_request(msg: impl Into<String>) -> Self {
        AppError::BadRequest(msg.into())
    }
    pub fn forbidden() -> Self {
        AppError::Forbidden("Forbidden".into())
    }
    pub fn not_found() -> Self {
        AppError::NotFound("Not Found".into())
    }
    pub fn not_found_msg(msg: impl Into<String>) -> Self {
        AppError::NotFound(msg.into())
    }
    pub fn json(status: StatusCode, msg: impl Into<String>) -> Self {
        AppError::Json {
            status,
            message: msg.into(),
        }
    }
    /// The uniform answer to any failed credential check (no user-enumeration oracle).
    pub fn invalid_credentials() -> Self {
        AppError::json(StatusCode::UNAUTHORIZED, "Invalid username or password")
    }
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        AppError::Internal(detail.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Json { status, .. } => *status,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<rusqlite::Error> for AppError {
    fn from(e: rusqlite::Error) -> Self {
        AppError::Internal(format!("database: {e}"))
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        AppError::Internal(format!("io: {e}"))
    }
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        AppError::Internal(format!("{e:#}"))
    }
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        match self {
            AppError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                text(status, "Internal Server Error".into())
            }
            AppError::Unauthorized => text(status, "Unauthorized".into()),
            AppError::PayloadTooLarge => text(status, "Payload Too Large".into()),
            AppError::BadRequest(m) | AppError::Forbidden(m) | AppError::NotFound(m) => {
                text(status, m)
            }
            AppError::Json { message, .. } => {
                (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
            }
            AppError::TooManyRequests {
                retry_after_secs,
                limit,
                message,
            } => {
                let mut resp =
                    (status, axum::Json(serde_json::json!({ "error": message }))).into_response();
                let h = resp.headers_mut();
                let secs = retry_after_secs.max(1);
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    h.insert(header::RETRY_AFTER, v.clone());
                    h.insert("ratelimit-reset", v);
                }
                if let Ok(v) = HeaderValue::from_str(&limit.to_string()) {
                    h.insert("ratelimit-limit", v);
                }
                h.insert("ratelimit-remaining", HeaderValue::from_static("0"));
                resp
            }
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
