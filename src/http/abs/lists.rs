//! ABS's collections (shared per library; changed by users with the `update` permission) and
//! playlists (private to their owner). Every list is shown through the caller's eyes: books they
//! may not see (tags, explicit content) are left out, unlike ABS, which lists them anyway.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::browse::visible_library;
use super::catalog::LibraryIndex;
use super::items_json;
use crate::access;
use crate::app::AppState;
use crate::auth::extract::{CollectionDeleter, CollectionEditor, CurrentUser, ListeningUser};
use crate::error::{AppError, AppResult};
use crate::http::body::JsonBody;
use crate::library::model::Item;
use crate::model::User;
use crate::store::lists::{self, List, ListKind};
use crate::store::users;

/// The books of `list` that `user` may see, in list order.
fn visible<'a>(list: &'a List, ix: &'a LibraryIndex, user: &'a User) -> Vec<&'a Arc<Item>> {
    list.item_ids
        .iter()
        .filter_map(|id| ix.item(id))
        .filter(|item| access::can_see_item(user, item))
        .collect()
}

fn list_json(list: &List, ix: &LibraryIndex, user: &User) -> Value {
    let books = visible(list, ix, user);
    let mut v = json!({
        "id": list.id,
        "libraryId": list.library_id,
        "name": list.name,
        "description": list.description,
        "lastUpdate": list.updated_at,
        "createdAt": list.created_at,
    });
    match list.kind {
        ListKind::Collection => {
            v["books"] = books.iter().map(|i| items_json::expanded(i)).collect();
        }
        ListKind::Playlist => {
            v["userId"] = json!(list.user_id);
            v["coverPath"] = Value::Null;
            v["items"] = books
                .iter()
                .map(|i| json!({ "libraryItemId": i.id, "libraryItem": items_json::expanded(i) }))
                .collect();
        }
    }
    v
}

async fn index_of(state: &AppState, library_id: &str) -> AppResult<Arc<LibraryIndex>> {
    state
        .catalog
        .library(&state.store, library_id)
        .await?
        .ok_or_else(|| AppError::not_found_msg("Library not found"))
}

async fn load(state: &AppState, kind: ListKind, id: &str) -> AppResult<Option<List>> {
    let key = id.to_string();
    state.store.read(move |c| lists::get(c, kind, &key)).await
}

/// A collection the caller may see: 404 when it does not exist, its library is closed to them,
/// or every book in it is hidden from them.
async fn readable_collection(
    state: &AppState,
    user: &User,
    id: &str,
) -> AppResult<(List, Arc<LibraryIndex>)> {
    let not_found = || AppError::not_found_msg("Collection not found");
    let list = load(state, ListKind::Collection, id)
        .await?
        .filter(|l| access::can_access_library(user, &l.library_id))
        .ok_or_else(not_found)?;
    let ix = index_of(state, &list.library_id).await?;
    if !list.item_ids.is_empty() && visible(&list, &ix, user).is_empty() {
        return Err(not_found());
    }
    Ok((list, ix))
}

/// The caller's own playlist: 404 when missing or its library is closed to them, 403 when it is
/// someone else's (as ABS).
async fn own_playlist(
    state: &AppState,
    user: &User,
    id: &str,
) -> AppResult<(List, Arc<LibraryIndex>)> {
    let list = load(state, ListKind::Playlist, id)
        .await?
        .ok_or_else(|| AppError::not_found_msg("Playlist not found"))?;
    if list.user_id.as_deref() != Some(user.id.as_str()) {
        return Err(AppError::forbidden());
    }
    if !access::can_access_library(user, &list.library_id) {
        return Err(AppError::not_found_msg("Playlist not found"));
    }
    let ix = index_of(state, &list.library_id).await?;
    Ok((list, ix))
}

/// Checks that every id names a book of the list's library that `user` may see.
fn checked_books(ix: &LibraryIndex, user: &User, ids: &[String]) -> AppResult<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        match ix.item(id) {
            Some(item) if access::can_see_item(user, item) => {
                if !out.contains(id) {
                    out.push(id.clone());
                }
            }
            _ => return Err(AppError::bad_request(format!("Invalid book id {id}"))),
        }
    }
    Ok(out)
}

/// The members in the order the caller named them, then those they did not name (including the
/// ones they cannot see) in their old order: a reorder never adds or drops a book.
fn reordered(list: &List, named: &[String]) -> Vec<String> {
    let first = named.iter().filter(|id| list.item_ids.contains(id));
    let rest = list.item_ids.iter().filter(|id| !named.contains(id));
    first.chain(rest).cloned().collect()
}

fn clean_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::bad_request(
            "A name of 1 to 200 characters is required",
        ));
    }
    Ok(name.to_string())
}

async fn save(state: &AppState, list: &List) -> AppResult<()> {
    let list = list.clone();
    state.store.write(move |tx| lists::update(tx, &list)).await
}

/// ABS sends collection events to every socket; here each online user who may open the library
/// receives the collection as they may see it.
async fn emit_collection(state: &AppState, event: &str, list: &List, ix: &LibraryIndex) {
    let Some(rt) = &state.realtime else { return };
    for user_id in rt.online_user_ids() {
        let uid = user_id.clone();
        let user = match state.store.read(move |c| users::by_id(c, &uid)).await {
            Ok(Some(u)) if u.is_active && access::can_access_library(&u, &list.library_id) => u,
            _ => continue,
        };
        rt.to_user(&user_id, event, &list_json(list, ix, &user))
            .await;
    }
}

async fn emit_playlist(
    state: &AppState,
    event: &str,
    list: &List,
    ix: &LibraryIndex,
    owner: &User,
) {
    if let Some(rt) = &state.realtime {
        rt.to_user(&owner.id, event, &list_json(list, ix, owner))
            .await;
    }
}

// ---- Collections ----

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct NewList {
    name: String,
    library_id: String,
    description: Option<String>,
    books: Vec<String>,
    items: Vec<PlaylistEntry>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase", default)]
pub struct PlaylistEntry {
    library_item_id: String,
    episode_id: Option<String>,
}

/// `GET /api/collections`.
pub async fn collections(State(state): State<AppState>, me: CurrentUser) -> AppResult<Json<Value>> {
    let all = state.store.read(lists::all_collections).await?;
    let mut out = Vec::new();
    for list in all
        .iter()
        .filter(|l| access::can_access_library(&me.user, &l.library_id))
    {
        let ix = index_of(&state, &list.library_id).await?;
        if list.item_ids.is_empty() || !visible(list, &ix, &me.user).is_empty() {
            out.push(list_json(list, &ix, &me.user));
        }
    }
    Ok(Json(json!({ "collections": out })))
}

/// `POST /api/collections {name, libraryId, description?, books}`.
pub async fn create_collection(
    State(state): State<AppState>,
    CollectionEditor(me): CollectionEditor,
    JsonBody(body): JsonBody<NewList>,
) -> AppResult<Json<Value>> {
    let name = clean_name(&body.name)?;
    let ix = visible_library(&state, &me.user, &body.library_id).await?;
    if body.books.is_empty() {
        return Err(AppError::bad_request("No books"));
    }
    let now = state.now_ms();
    let list = List {
        kind: ListKind::Collection,
        id: uuid::Uuid::new_v4().to_string(),
        library_id: body.library_id.clone(),
        user_id: None,
        name,
        description: body.description,
        item_ids: checked_books(&ix, &me.user, &body.books)?,
        created_at: now,
        updated_at: now,
    };
    let stored = list.clone();
    state
        .store
        .write(move |tx| lists::create(tx, &stored))
        .await?;
    emit_collection(&state, "collection_added", &list, &ix).await;
    Ok(Json(list_json(&list, &ix, &me.user)))
}

/// `GET /api/collections/:id`.
pub async fn collection(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let (list, ix) = readable_collection(&state, &me.user, &id).await?;
    Ok(Json(list_json(&list, &ix, &me.user)))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ListChanges {
    name: Option<String>,
    /// Absent: unchanged; `null`: cleared.
    #[serde(deserialize_with = "present")]
    description: Option<Option<String>>,
    books: Option<Vec<String>>,
    items: Option<Vec<PlaylistEntry>>,
    library_id: Option<Value>,
    user_id: Option<Value>,
}

/// Tells a field given as `null` (Some(None)) from one left out (None, by `default`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

fn apply_text(list: &mut List, changes: &ListChanges) -> AppResult<()> {
    if let Some(name) = &changes.name {
        list.name = clean_name(name)?;
    }
    if let Some(description) = &changes.description {
        list.description = description.clone();
    }
    Ok(())
}

/// `PATCH /api/collections/:id {name?, description?, books?}`: `books` is the new order.
pub async fn update_collection(
    State(state): State<AppState>,
    CollectionEditor(me): CollectionEditor,
    Path(id): Path<String>,
    JsonBody(changes): JsonBody<ListChanges>,
) -> AppResult<Json<Value>> {
    let (mut list, ix) = readable_collection(&state, &me.user, &id).await?;
    let before = list.clone();
    apply_text(&mut list, &changes)?;
    if let Some(books) = changes.books.filter(|b| !b.is_empty()) {
        let named = checked_books(&ix, &me.user, &books)?;
        list.item_ids = reordered(&list, &named);
    }
    if list != before {
        list.updated_at = state.now_ms();
        save(&state, &list).await?;
        emit_collection(&state, "collection_updated", &list, &ix).await;
    }
    Ok(Json(list_json(&list, &ix, &me.user)))
}

/// `DELETE /api/collections/:id`.
pub async fn delete_collection(
    State(state): State<AppState>,
    CollectionDeleter(me): CollectionDeleter,
    Path(id): Path<String>,
) -> AppResult<&'static str> {
    let (list, ix) = readable_collection(&state, &me.user, &id).await?;
    state
        .store
        .write(move |tx| lists::delete(tx, ListKind::Collection, &id))
        .await?;
    emit_collection(&state, "collection_removed", &list, &ix).await;
    Ok("OK")
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct BookRef {
    id: String,
    books: Vec<String>,
}

/// Adds the books not yet in the list at its end; returns how many were new.
fn add_books(list: &mut List, ix: &LibraryIndex, user: &User, ids: &[String]) -> AppResult<usize> {
    let fresh: Vec<String> = checked_books(ix, user, ids)?
        .into_iter()
        .filter(|id| !list.item_ids.contains(id))
        .collect();
    let added = fresh.len();
    list.item_ids.extend(fresh);
    Ok(added)
}

fn add_one(list: &mut List, ix: &LibraryIndex, user: &User, id: &str) -> AppResult<()> {
    match add_books(list, ix, user, &[id.to_string()])? {
        0 => Err(AppError::bad_request("Already in the list")),
        _ => Ok(()),
    }
}

async fn change_collection(
    state: &AppState,
    me: &User,
    id: &str,
    change: impl FnOnce(&mut List, &LibraryIndex) -> AppResult<()>,
) -> AppResult<Json<Value>> {
    let (mut list, ix) = readable_collection(state, me, id).await?;
    let before = list.item_ids.clone();
    change(&mut list, &ix)?;
    if list.item_ids != before {
        list.updated_at = state.now_ms();
        save(state, &list).await?;
        emit_collection(state, "collection_updated", &list, &ix).await;
    }
    Ok(Json(list_json(&list, &ix, me)))
}

/// `POST /api/collections/:id/book {id}`.
pub async fn collection_add_book(
    State(state): State<AppState>,
    CollectionEditor(me): CollectionEditor,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<BookRef>,
) -> AppResult<Json<Value>> {
    change_collection(&state, &me.user, &id, |list, ix| {
        if ix.item(&body.id).is_none() {
            return Err(AppError::not_found_msg("Book not found"));
        }
        add_one(list, ix, &me.user, &body.id)
    })
    .await
}

/// `DELETE /api/collections/:id/book/:bookId` (ABS checks no permission here; we need `update`).
pub async fn collection_remove_book(
    State(state): State<AppState>,
    CollectionEditor(me): CollectionEditor,
    Path((id, book)): Path<(String, String)>,
) -> AppResult<Json<Value>> {
    change_collection(&state, &me.user, &id, |list, _| {
        list.item_ids.retain(|b| *b != book);
        Ok(())
    })
    .await
}

/// `POST /api/collections/:id/batch/add {books}`.
pub async fn collection_batch_add(
    State(state): State<AppState>,
    CollectionEditor(me): CollectionEditor,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<BookRef>,
) -> AppResult<Json<Value>> {
    if body.books.is_empty() {
        return Err(AppError::bad_request("No books"));
    }
    change_collection(&state, &me.user, &id, |list, ix| {
        add_books(list, ix, &me.user, &body.books).map(|_| ())
    })
    .await
}

/// `POST /api/collections/:id/batch/remove {books}`.
pub async fn collection_batch_remove(
    State(state): State<AppState>,
    CollectionEditor(me): CollectionEditor,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<BookRef>,
) -> AppResult<Json<Value>> {
    if body.books.is_empty() {
        return Err(AppError::bad_request("No books"));
    }
    change_collection(&state, &me.user, &id, |list, _| {
        list.item_ids.retain(|b| !body.books.contains(b));
        Ok(())
    })
    .await
}

// ---- Playlists ----

fn book_ids(entries: &[PlaylistEntry]) -> AppResult<Vec<String>> {
    entries
        .iter()
        .map(|e| match &e.episode_id {
            Some(ep) if !ep.is_empty() => Err(AppError::bad_request(
                "Podcast episodes are not supported by this server",
            )),
            _ if e.library_item_id.is_empty() => {
                Err(AppError::bad_request("libraryItemId is required"))
            }
            _ => Ok(e.library_item_id.clone()),
        })
        .collect()
}

/// `GET /api/playlists`.
pub async fn playlists(State(state): State<AppState>, me: CurrentUser) -> AppResult<Json<Value>> {
    let uid = me.user.id.clone();
    let all = state
        .store
        .read(move |c| lists::playlists_of_user(c, &uid, None))
        .await?;
    let mut out = Vec::new();
    for list in all
        .iter()
        .filter(|l| access::can_access_library(&me.user, &l.library_id))
    {
        let ix = index_of(&state, &list.library_id).await?;
        out.push(list_json(list, &ix, &me.user));
    }
    Ok(Json(json!({ "playlists": out })))
}

async fn create_playlist_from(
    state: &AppState,
    me: &User,
    ix: &LibraryIndex,
    list: List,
) -> AppResult<Json<Value>> {
    let stored = list.clone();
    state
        .store
        .write(move |tx| lists::create(tx, &stored))
        .await?;
    emit_playlist(state, "playlist_added", &list, ix, me).await;
    Ok(Json(list_json(&list, ix, me)))
}

fn new_playlist(state: &AppState, me: &User, library_id: &str, name: String) -> List {
    let now = state.now_ms();
    List {
        kind: ListKind::Playlist,
        id: uuid::Uuid::new_v4().to_string(),
        library_id: library_id.to_string(),
        user_id: Some(me.id.clone()),
        name,
        description: None,
        item_ids: Vec::new(),
        created_at: now,
        updated_at: now,
    }
}

/// `POST /api/playlists {name, libraryId, description?, items?}`: may start empty (as ABS).
pub async fn create_playlist(
    State(state): State<AppState>,
    ListeningUser(me): ListeningUser,
    JsonBody(body): JsonBody<NewList>,
) -> AppResult<Json<Value>> {
    let name = clean_name(&body.name)?;
    let ix = visible_library(&state, &me.user, &body.library_id).await?;
    let mut list = new_playlist(&state, &me.user, &body.library_id, name);
    list.description = body.description;
    list.item_ids = checked_books(&ix, &me.user, &book_ids(&body.items)?)?;
    create_playlist_from(&state, &me.user, &ix, list).await
}

/// `GET /api/playlists/:id`.
pub async fn playlist(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let (list, ix) = own_playlist(&state, &me.user, &id).await?;
    Ok(Json(list_json(&list, &ix, &me.user)))
}

/// Stores a changed playlist and tells its owner; an emptied playlist is deleted (as ABS).
async fn store_playlist(
    state: &AppState,
    me: &User,
    before: &List,
    mut list: List,
    ix: &LibraryIndex,
) -> AppResult<Json<Value>> {
    if list == *before {
        return Ok(Json(list_json(&list, ix, me)));
    }
    list.updated_at = state.now_ms();
    if list.item_ids.is_empty() && !before.item_ids.is_empty() {
        let id = list.id.clone();
        state
            .store
            .write(move |tx| lists::delete(tx, ListKind::Playlist, &id))
            .await?;
        emit_playlist(state, "playlist_removed", &list, ix, me).await;
    } else {
        save(state, &list).await?;
        emit_playlist(state, "playlist_updated", &list, ix, me).await;
    }
    Ok(Json(list_json(&list, ix, me)))
}

/// `PATCH /api/playlists/:id {name?, description?, items?}`: `items` is the same books in a new order.
pub async fn update_playlist(
    State(state): State<AppState>,
    ListeningUser(me): ListeningUser,
    Path(id): Path<String>,
    JsonBody(changes): JsonBody<ListChanges>,
) -> AppResult<Json<Value>> {
    if changes.library_id.is_some() || changes.user_id.is_some() {
        return Err(AppError::bad_request(
            "libraryId and userId cannot be changed",
        ));
    }
    let (before, ix) = own_playlist(&state, &me.user, &id).await?;
    let mut list = before.clone();
    apply_text(&mut list, &changes)?;
    if let Some(items) = changes.items.as_deref().filter(|i| !i.is_empty()) {
        let named = checked_books(&ix, &me.user, &book_ids(items)?)?;
        let members = visible(&list, &ix, &me.user).len();
        if named.len() != members || !named.iter().all(|id| list.item_ids.contains(id)) {
            return Err(AppError::bad_request("Length mismatch"));
        }
        list.item_ids = reordered(&list, &named);
    }
    store_playlist(&state, &me.user, &before, list, &ix).await
}

/// `DELETE /api/playlists/:id`.
pub async fn delete_playlist(
    State(state): State<AppState>,
    ListeningUser(me): ListeningUser,
    Path(id): Path<String>,
) -> AppResult<&'static str> {
    let (list, ix) = own_playlist(&state, &me.user, &id).await?;
    state
        .store
        .write(move |tx| lists::delete(tx, ListKind::Playlist, &id))
        .await?;
    emit_playlist(&state, "playlist_removed", &list, &ix, &me.user).await;
    Ok("OK")
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PlaylistItems {
    library_item_id: String,
    episode_id: Option<String>,
    items: Vec<PlaylistEntry>,
}

/// `POST /api/playlists/:id/item {libraryItemId}`.
pub async fn playlist_add_item(
    State(state): State<AppState>,
    ListeningUser(me): ListeningUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PlaylistItems>,
) -> AppResult<Json<Value>> {
    let (before, ix) = own_playlist(&state, &me.user, &id).await?;
    let mut list = before.clone();
    let entry = PlaylistEntry {
        library_item_id: body.library_item_id,
        episode_id: body.episode_id,
    };
    let [book] = <[String; 1]>::try_from(book_ids(&[entry])?)
        .map_err(|_| AppError::bad_request("libraryItemId is required"))?;
    add_one(&mut list, &ix, &me.user, &book)?;
    store_playlist(&state, &me.user, &before, list, &ix).await
}

/// `DELETE /api/playlists/:id/item/:libraryItemId`.
pub async fn playlist_remove_item(
    State(state): State<AppState>,
    ListeningUser(me): ListeningUser,
    Path((id, item)): Path<(String, String)>,
) -> AppResult<Json<Value>> {
    let (before, ix) = own_playlist(&state, &me.user, &id).await?;
    if !before.item_ids.contains(&item) {
        return Err(AppError::not_found_msg("Item not in playlist"));
    }
    let mut list = before.clone();
    list.item_ids.retain(|i| *i != item);
    store_playlist(&state, &me.user, &before, list, &ix).await
}

/// `DELETE /api/playlists/:id/item/:libraryItemId/:episodeId`: podcasts are not served here.
pub async fn playlist_remove_episode(
    _: ListeningUser,
    Path(_): Path<(String, String, String)>,
) -> AppResult<Json<Value>> {
    Err(AppError::not_found_msg("Item not in playlist"))
}

/// `POST /api/playlists/:id/batch/add {items}`.
pub async fn playlist_batch_add(
    State(state): State<AppState>,
    ListeningUser(me): ListeningUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PlaylistItems>,
) -> AppResult<Json<Value>> {
    if body.items.is_empty() {
        return Err(AppError::bad_request("Invalid request body"));
    }
    let (before, ix) = own_playlist(&state, &me.user, &id).await?;
    let mut list = before.clone();
    add_books(&mut list, &ix, &me.user, &book_ids(&body.items)?)?;
    store_playlist(&state, &me.user, &before, list, &ix).await
}

/// `POST /api/playlists/:id/batch/remove {items}`.
pub async fn playlist_batch_remove(
    State(state): State<AppState>,
    ListeningUser(me): ListeningUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PlaylistItems>,
) -> AppResult<Json<Value>> {
    if body.items.is_empty() {
        return Err(AppError::bad_request("Invalid request body"));
    }
    let (before, ix) = own_playlist(&state, &me.user, &id).await?;
    let gone = book_ids(&body.items)?;
    let mut list = before.clone();
    list.item_ids.retain(|i| !gone.contains(i));
    store_playlist(&state, &me.user, &before, list, &ix).await
}

/// `POST /api/playlists/collection/:collectionId`: a private copy of a collection.
pub async fn playlist_from_collection(
    State(state): State<AppState>,
    ListeningUser(me): ListeningUser,
    Path(collection_id): Path<String>,
) -> AppResult<Json<Value>> {
    let (collection, ix) = readable_collection(&state, &me.user, &collection_id).await?;
    let books: Vec<String> = visible(&collection, &ix, &me.user)
        .iter()
        .map(|i| i.id.clone())
        .collect();
    if books.is_empty() {
        return Err(AppError::bad_request("Collection has no books"));
    }
    let mut list = new_playlist(&state, &me.user, &collection.library_id, collection.name);
    list.description = collection.description;
    list.item_ids = books;
    create_playlist_from(&state, &me.user, &ix, list).await
}

// ---- Per library ----

fn page_of(all: Vec<Value>, p: &HashMap<String, String>) -> AppResult<Value> {
    let limit = super::query::non_negative(p.get("limit").map(String::as_str), "limit", 0)?;
    let page = super::query::non_negative(p.get("page").map(String::as_str), "page", 0)?;
    let total = all.len();
    let results: Vec<Value> = if limit > 0 {
        all.into_iter()
            .skip(page.saturating_mul(limit))
            .take(limit)
            .collect()
    } else {
        all
    };
    Ok(json!({ "results": results, "total": total, "limit": limit, "page": page }))
}

/// `GET /api/libraries/:id/collections`.
pub async fn library_collections(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
    Query(p): Query<HashMap<String, String>>,
) -> AppResult<Json<Value>> {
    let ix = visible_library(&state, &me.user, &id).await?;
    let key = id.clone();
    let all = state
        .store
        .read(move |c| lists::collections_of_library(c, &key))
        .await?;
    let shown: Vec<Value> = all
        .iter()
        .filter(|l| l.item_ids.is_empty() || !visible(l, &ix, &me.user).is_empty())
        .map(|l| list_json(l, &ix, &me.user))
        .collect();
    let mut v = page_of(shown, &p)?;
    v["sortDesc"] = json!(p.get("desc").is_some_and(|d| d == "1"));
    v["minified"] = json!(p.get("minified").is_some_and(|m| m == "1"));
    v["include"] = json!(
        p.get("include")
            .map(|i| i.to_lowercase())
            .unwrap_or_default()
    );
    Ok(Json(v))
}

/// `GET /api/libraries/:id/playlists`: the caller's own.
pub async fn library_playlists(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
    Query(p): Query<HashMap<String, String>>,
) -> AppResult<Json<Value>> {
    let ix = visible_library(&state, &me.user, &id).await?;
    let (uid, key) = (me.user.id.clone(), id.clone());
    let all = state
        .store
        .read(move |c| lists::playlists_of_user(c, &uid, Some(&key)))
        .await?;
    let shown: Vec<Value> = all.iter().map(|l| list_json(l, &ix, &me.user)).collect();
    Ok(Json(page_of(shown, &p)?))
}
