//! Sending files from a library: Range (206), ETag and Last-Modified, the right MIME type. A file is
//! only ever one the item already knows, and it must still resolve inside a library folder.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::auth::extract::url_query_value;
use crate::error::{AppError, AppResult};
use crate::library::thumbnails::{self, Format};

/// Bytes read from disk per step while streaming. tower-http's 64 KiB default costs a blocking-pool
/// round trip per 64 KiB; apps seek with ranges of 1 MiB and more.
const READ_CHUNK: usize = 256 * 1024;

/// Thumbnails made at once; more requests wait rather than decode many large scans in parallel.
static THUMBNAIL_PERMITS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Serves an image (a cover or an author photo) the way ABS does: resized to `?width=` (400 px
/// when absent), optionally `&height=`, in `&format=` (jpeg, webp or png; jpeg by default), from a
/// cache in the data dir; `?raw=1` sends the original file. A source that cannot be decoded is
/// sent as it is, so a client still gets what there is.
pub async fn send_image(data_dir: &Path, path: &Path, req: Request) -> AppResult<Response> {
    let query = req.uri().query().unwrap_or("");
    let original = || image_mime(&path.to_string_lossy());
    if url_query_value(query, "raw").is_some_and(|v| v == "1" || v == "true") {
        return send(path, original(), None, req).await;
    }
    let side = |key: &str| -> AppResult<Option<u32>> {
        match url_query_value(query, key).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v
                .parse::<u32>()
                .map(Some)
                .map_err(|_| AppError::bad_request(format!("{key} must be a whole number"))),
        }
    };
    let format = match url_query_value(query, "format").filter(|v| !v.is_empty()) {
        None => Format::Jpeg,
        Some(v) => Format::parse(&v)
            .ok_or_else(|| AppError::bad_request("format must be jpeg, webp or png"))?,
    };
    let wanted = thumbnails::Request::new(side("width")?, side("height")?, format);
    let permit = THUMBNAIL_PERMITS
        .acquire()
        .await
        .map_err(AppError::internal)?;
    let (data, source) = (data_dir.to_path_buf(), path.to_path_buf());
    let made = tokio::task::spawn_blocking(move || thumbnails::thumbnail(&data, &source, wanted))
        .await
        .map_err(AppError::internal)?;
    drop(permit);
    match made {
        Ok(thumb) => send(&thumb, format.mime(), None, req).await,
        Err(thumbnails::ThumbnailError::Decode(reason)) => {
            tracing::warn!(path = %path.display(), %reason, "cover sent unresized");
            send(path, original(), None, req).await
        }
        Err(e) => Err(AppError::internal(e)),
    }
}

/// Resolves `path` and checks it lies under one of `roots` (symlinks may not lead out).
pub fn confine(path: &str, roots: &[String]) -> AppResult<PathBuf> {
    let real = std::fs::canonicalize(path).map_err(|_| AppError::not_found())?;
    let inside = roots
        .iter()
        .any(|r| std::fs::canonicalize(r).is_ok_and(|root| real.starts_with(&root)));
    if inside {
        Ok(real)
    } else {
        Err(AppError::forbidden())
    }
}

/// Serves `path` for the request `req` (Range and conditional headers honoured).
pub async fn send(
    path: &Path,
    mime: &str,
    download_name: Option<&str>,
    req: Request,
) -> AppResult<Response> {
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|_| AppError::not_found())?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let etag = format!("W/\"{:x}-{:x}\"", meta.len(), mtime);
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        let mut resp = axum::http::StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = HeaderValue::from_str(&etag) {
            resp.headers_mut().insert(header::ETAG, v);
        }
        return Ok(resp);
    }
    let (parts, _) = req.into_parts();
    let req = Request::from_parts(parts, Body::empty());
    let resp = ServeFile::new(path)
        .with_buf_chunk_size(READ_CHUNK)
        .oneshot(req)
        .await
        .map_err(|e| AppError::internal(format!("serving file: {e}")))?;
    let mut resp = resp.map(Body::new);
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(name) = download_name {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(resp)
}

pub fn image_mime(path: &str) -> &'static str {
    match Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("gif") => "image/gif",
        _ => "image/jpeg",
    }
}
