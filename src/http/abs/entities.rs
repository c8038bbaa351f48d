//! `/api/authors/:id` and `/api/series/:id`: one author or series, with the books the caller may see.

use std::collections::HashMap;
use std::sync::Arc;

use crate::store::libraries::{self, LibraryMember};
use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::browse::one_series;
use super::catalog::LibraryIndex;
use super::items_json;
use crate::access;
use crate::app::AppState;
use crate::auth::extract::{CurrentUser, MediaUser};
use crate::error::{AppError, AppResult};
use crate::http::files;
use crate::model::User;

/// The index of the library that holds the author or series `id` (`table` is fixed by the caller).
async fn library_of(
    state: &AppState,
    user: &User,
    kind: LibraryMember,
    id: &str,
) -> AppResult<Arc<LibraryIndex>> {
    let key = id.to_string();
    let library_id = state
        .store
        .read(move |c| libraries::library_of(c, kind, &key))
        .await?;
    let library_id = library_id.ok_or_else(AppError::not_found)?;
    if !access::can_access_library(user, &library_id) {
        return Err(AppError::not_found());
    }
    state
        .catalog
        .library(&state.store, &library_id)
        .await?
        .ok_or_else(AppError::not_found)
}

pub async fn author(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
    Query(p): Query<HashMap<String, String>>,
) -> AppResult<Json<Value>> {
    let ix = library_of(&state, &me.user, LibraryMember::Author, &id).await?;
    let author = ix
        .authors
        .iter()
        .find(|a| a.id == id)
        .ok_or_else(AppError::not_found)?;
    let books: Vec<usize> = (0..ix.items.len())
        .filter(|i| {
            access::can_see_item(&me.user, &ix.items[*i])
                && ix.items[*i].metadata.authors.iter().any(|a| a.id == id)
        })
        .collect();
    if books.is_empty() && !me.user.is_admin() {
        return Err(AppError::not_found());
    }
    let include: Vec<&str> = p
        .get("include")
        .map(|s| s.split(',').collect())
        .unwrap_or_default();
    let mut v = items_json::author(author, Some(books.len()));
    let minified =
        |i: usize| -> Value { serde_json::from_str(ix.minified[i].get()).unwrap_or(Value::Null) };
    if include.contains(&"items") {
        v["libraryItems"] = json!(books.iter().map(|i| minified(*i)).collect::<Vec<_>>());
    }
    if include.contains(&"series") {
        let mut series: Vec<Value> = Vec::new();
        for s in &ix.series {
            let in_series: Vec<Value> = books
                .iter()
                .filter_map(|i| {
                    let seq = ix.items[*i].metadata.series.iter().find(|x| x.id == s.id)?;
                    let mut m = minified(*i);
                    m["media"]["metadata"]["series"] = json!({ "id": s.id, "name": s.name, "nameIgnorePrefix": s.name_ignore_prefix, "sequence": seq.sequence });
                    Some(m)
                })
                .collect();
            if !in_series.is_empty() {
                series.push(json!({ "id": s.id, "name": s.name, "items": in_series }));
            }
        }
        v["series"] = json!(series);
    }
    Ok(Json(v))
}

pub async fn author_image(
    State(state): State<AppState>,
    MediaUser(me): MediaUser,
    Path(id): Path<String>,
    req: Request,
) -> AppResult<Response> {
    let ix = library_of(&state, &me.user, LibraryMember::Author, &id).await?;
    let author = ix
        .authors
        .iter()
        .find(|a| a.id == id)
        .ok_or_else(AppError::not_found)?;
    let path = author
        .image_path
        .clone()
        .ok_or_else(|| AppError::not_found_msg("No image"))?;
    let mut roots: Vec<String> = ix.library.folders.iter().map(|f| f.path.clone()).collect();
    roots.push(
        state
            .data_dir
            .join("authors")
            .to_string_lossy()
            .into_owned(),
    );
    let real = files::confine(&path, &roots)?;
    files::send_image(&state.data_dir, &real, req).await
}

/// Succeeds if the caller can see at least one book of the series; otherwise the 404 that
/// `/api/series/:id` gives.
pub async fn visible_series(state: &AppState, user: &User, id: &str) -> AppResult<()> {
    let ix = library_of(state, user, LibraryMember::Series, id).await?;
    if super::browse::series_books(&ix, user).contains_key(id) {
        Ok(())
    } else {
        Err(AppError::not_found_msg("Series not found"))
    }
}

pub async fn series(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
    Query(p): Query<HashMap<String, String>>,
) -> AppResult<Json<Value>> {
    let ix = library_of(&state, &me.user, LibraryMember::Series, &id).await?;
    let with_progress = p
        .get("include")
        .is_some_and(|s| s.split(',').any(|x| x == "progress"));
    Ok(Json(
        one_series(&state, &me.user, &ix, &id, with_progress).await?,
    ))
}
