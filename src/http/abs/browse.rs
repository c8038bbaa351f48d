//! Browsing a library as ABS clients do: items pages, series, authors, narrators, search, filter
//! data and the personalized home shelves. Everything is answered from the in-memory catalog and
//! filtered by the caller's permissions (including facets ABS leaks).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::catalog::LibraryIndex;
use super::items_json;
use super::query::{self, Filter};
use crate::access;
use crate::app::AppState;
use crate::auth::extract::CurrentUser;
use crate::error::{AppError, AppResult};
use crate::library::model::Item;
use crate::model::{MediaProgress, User};
use crate::store::progress;

type Params = Query<HashMap<String, String>>;

/// The library if the caller may access it: 403 first (ABS checks access before existence).
pub async fn visible_library(
    state: &AppState,
    user: &User,
    id: &str,
) -> AppResult<Arc<LibraryIndex>> {
    if !access::can_access_library(user, id) {
        return Err(AppError::forbidden());
    }
    state
        .catalog
        .library(&state.store, id)
        .await?
        .ok_or_else(|| AppError::not_found_msg("Library not found"))
}

pub async fn progress_map(
    state: &AppState,
    user_id: &str,
) -> AppResult<HashMap<String, MediaProgress>> {
    let uid = user_id.to_string();
    let rows = state
        .store
        .read(move |c| progress::list_for_user(c, &uid))
        .await?;
    Ok(rows.into_iter().map(|p| (p.item_id.clone(), p)).collect())
}

fn flag(p: &HashMap<String, String>, key: &str) -> bool {
    matches!(p.get(key).map(String::as_str), Some("1" | "true"))
}

fn includes(p: &HashMap<String, String>, what: &str) -> bool {
    p.get("include")
        .is_some_and(|v| v.split(',').any(|x| x.trim() == what))
}

#[derive(Serialize)]
#[serde(untagged)]
enum Entry<'a> {
    Raw(&'a RawValue),
    Value(Value),
}

/// One page of `/items`. Serialised straight to bytes: the items are pre-rendered JSON, which a
/// detour through `serde_json::Value` would parse again.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ItemsPage<'a> {
    results: Vec<Entry<'a>>,
    total: usize,
    limit: usize,
    page: usize,
    sort_by: Option<&'a String>,
    sort_desc: bool,
    filter_by: Option<&'a String>,
    media_type: &'static str,
    minified: bool,
    collapseseries: bool,
    include: String,
    offset: usize,
}

/// `GET /api/libraries/:id/items`.
pub async fn items(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
    Query(p): Params,
) -> AppResult<Response> {
    let ix = visible_library(&state, &me.user, &id).await?;
    let limit = query::non_negative(p.get("limit").map(String::as_str), "limit", 0)?;
    let page = query::non_negative(p.get("page").map(String::as_str), "page", 0)?;
    let filter = match p.get("filter").filter(|f| !f.is_empty()) {
        Some(f) => Some(query::parse_filter(f)?),
        None => None,
    };
    let sort = p.get("sort").cloned().unwrap_or_default();
    let desc = flag(&p, "desc");
    let collapse = flag(&p, "collapseseries");
    let needs_progress =
        matches!(filter, Some(Filter::Progress(_))) || sort.starts_with("progress");
    let progress = if needs_progress {
        progress_map(&state, &me.user.id).await?
    } else {
        HashMap::new()
    };

    let series_filter = match &filter {
        Some(Filter::Series(Some(sid))) => Some(sid.clone()),
        _ => None,
    };
    let mut order: Vec<usize> = if sort.starts_with("progress") {
        query::progress_order(&ix.items, &sort, &progress)
    } else if sort == "sequence" && series_filter.is_some() {
        let sid = series_filter.clone().unwrap_or_default();
        let mut idx: Vec<usize> = (0..ix.items.len()).collect();
        let seq = |i: usize| {
            query::sequence_number(
                ix.items[i]
                    .metadata
                    .series
                    .iter()
                    .find(|s| s.id == sid)
                    .and_then(|s| s.sequence.as_deref()),
            )
        };
        idx.sort_by(|a, b| {
            seq(*a)
                .partial_cmp(&seq(*b))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.cmp(b))
        });
        idx
    } else if sort == "random" {
        let mut idx: Vec<usize> = (0..ix.items.len()).collect();
        use rand::seq::SliceRandom;
        idx.shuffle(&mut rand::thread_rng());
        idx
    } else {
        let key: &'static str = match sort.as_str() {
            "media.metadata.authorName" => "media.metadata.authorName",
            "media.metadata.authorNameLF" => "media.metadata.authorNameLF",
            "media.metadata.publishedYear" => "media.metadata.publishedYear",
            "media.duration" => "media.duration",
            "addedAt" => "addedAt",
            "size" => "size",
            "birthtimeMs" => "birthtimeMs",
            "mtimeMs" => "mtimeMs",
            _ => "media.metadata.title",
        };
        ix.order(key, |items| {
            query::static_order(items, key).unwrap_or_else(|| (0..items.len()).collect())
        })
        .as_ref()
        .clone()
    };
    if desc {
        order.reverse();
    }
    // Checking 10,000 items one by one is the cost of a page; a user who may see every item of
    // a library they can open, with no filter, skips it.
    let visible: Vec<usize> = if filter.is_none() && access::sees_every_item(&me.user) {
        order
    } else {
        order
            .into_iter()
            .filter(|i| {
                let item = &ix.items[*i];
                access::can_see_item(&me.user, item)
                    && filter
                        .as_ref()
                        .is_none_or(|f| query::matches(item, f, progress.get(&item.id)))
            })
            .collect()
    };

    let collapsed_entries = (collapse && series_filter.is_none()).then(|| collapsed(&ix, &visible));
    let total = collapsed_entries.as_ref().map_or(visible.len(), Vec::len);
    let (start, count) = query::page_window(limit, page, total);
    let mut results: Vec<Entry<'_>> = match collapsed_entries {
        Some(entries) => entries.into_iter().skip(start).take(count).collect(),
        None => visible
            .iter()
            .skip(start)
            .take(count)
            .map(|i| Entry::Raw(&ix.minified[*i]))
            .collect(),
    };
    if let Some(sid) = &series_filter {
        for e in &mut results {
            if let Entry::Raw(raw) = e
                && let Ok(mut v) = serde_json::from_str::<Value>(raw.get())
            {
                let id = v["id"].as_str().unwrap_or_default().to_string();
                if let Some(s) = ix
                    .item(&id)
                    .and_then(|it| it.metadata.series.iter().find(|s| &s.id == sid))
                {
                    v["media"]["metadata"]["series"] =
                        json!({ "id": s.id, "name": s.name, "sequence": s.sequence });
                }
                *e = Entry::Value(v);
            }
        }
    }
    let body = serde_json::to_vec(&ItemsPage {
        results,
        total,
        limit,
        page,
        sort_by: p.get("sort"),
        sort_desc: desc,
        filter_by: p.get("filter"),
        media_type: "book",
        minified: flag(&p, "minified"),
        collapseseries: collapse,
        include: p.get("include").cloned().unwrap_or_default(),
        offset: start,
    })
    .map_err(AppError::internal)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// With `collapseseries`, each series appears once, as its first book carrying `collapsedSeries`.
fn collapsed<'a>(ix: &'a LibraryIndex, visible: &[usize]) -> Vec<Entry<'a>> {
    let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
    for i in visible {
        if let Some(s) = ix.items[*i].metadata.series.first() {
            groups.entry(s.id.as_str()).or_default().push(*i);
        }
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for i in visible {
        let item = &ix.items[*i];
        let Some(s) = item.metadata.series.first() else {
            out.push(Entry::Raw(&ix.minified[*i]));
            continue;
        };
        if !seen.insert(s.id.as_str()) {
            continue;
        }
        let mut books = groups.get(s.id.as_str()).cloned().unwrap_or_default();
        books.sort_by(|a, b| {
            let sa = query::sequence_number(series_seq(&ix.items[*a], &s.id));
            let sb = query::sequence_number(series_seq(&ix.items[*b], &s.id));
            sa.partial_cmp(&sb).unwrap_or(std::cmp::Ordering::Equal)
        });
        let first = books.first().copied().unwrap_or(*i);
        let mut v: Value = serde_json::from_str(ix.minified[first].get()).unwrap_or(Value::Null);
        let name_ignore = ix
            .series
            .iter()
            .find(|x| x.id == s.id)
            .map(|x| x.name_ignore_prefix.clone());
        v["collapsedSeries"] = json!({
            "id": s.id,
            "name": s.name,
            "nameIgnorePrefix": name_ignore.unwrap_or_else(|| s.name.clone()),
            "numBooks": books.len(),
            "libraryItemIds": books.iter().map(|b| ix.items[*b].id.clone()).collect::<Vec<_>>(),
            "seriesSequenceList": books.iter().filter_map(|b| series_seq(&ix.items[*b], &s.id).map(str::to_string)).collect::<Vec<_>>().join(", "),
        });
        out.push(Entry::Value(v));
    }
    out
}

fn series_seq<'a>(item: &'a Item, series_id: &str) -> Option<&'a str> {
    item.metadata
        .series
        .iter()
        .find(|s| s.id == series_id)
        .and_then(|s| s.sequence.as_deref())
}

/// Visible items of each series, ordered by sequence.
pub(super) fn series_books(ix: &LibraryIndex, user: &User) -> BTreeMap<String, Vec<usize>> {
    let mut map: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, item) in ix.items.iter().enumerate() {
        if !access::can_see_item(user, item) {
            continue;
        }
        for s in &item.metadata.series {
            map.entry(s.id.clone()).or_default().push(i);
        }
    }
    for (sid, books) in map.iter_mut() {
        books.sort_by(|a, b| {
            query::sequence_number(series_seq(&ix.items[*a], sid))
                .partial_cmp(&query::sequence_number(series_seq(&ix.items[*b], sid)))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    map
}

fn series_entry(ix: &LibraryIndex, sid: &str, books: &[usize]) -> Option<Value> {
    let s = ix.series.iter().find(|s| s.id == sid)?;
    let mut v = items_json::series(s);
    let list: Vec<Value> = books
        .iter()
        .map(|b| {
            let mut m: Value = serde_json::from_str(ix.minified[*b].get()).unwrap_or(Value::Null);
            m["media"]["metadata"]["series"] =
                json!({ "id": s.id, "name": s.name, "sequence": series_seq(&ix.items[*b], sid) });
            m
        })
        .collect();
    v["books"] = json!(list);
    v["totalDuration"] = json!(books.iter().map(|b| ix.items[*b].duration).sum::<f64>());
    Some(v)
}

/// `GET /api/libraries/:id/series`.
pub async fn series(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
    Query(p): Params,
) -> AppResult<Json<Value>> {
    let ix = visible_library(&state, &me.user, &id).await?;
    let limit = query::non_negative(p.get("limit").map(String::as_str), "limit", 0)?;
    let page = query::non_negative(p.get("page").map(String::as_str), "page", 0)?;
    let filter = match p.get("filter").filter(|f| !f.is_empty()) {
        Some(f) => Some(query::parse_filter(f)?),
        None => None,
    };
    let progress = if matches!(filter, Some(Filter::Progress(_))) {
        progress_map(&state, &me.user.id).await?
    } else {
        HashMap::new()
    };
    let hide_single = ix.library.settings.hide_single_book_series;
    let mut rows: Vec<(String, Vec<usize>)> = series_books(&ix, &me.user)
        .into_iter()
        .filter(|(_, books)| !(hide_single && books.len() == 1))
        .filter(|(_, books)| {
            filter.as_ref().is_none_or(|f| {
                books
                    .iter()
                    .any(|b| query::matches(&ix.items[*b], f, progress.get(&ix.items[*b].id)))
            })
        })
        .collect();
    let sort = p.get("sort").map(String::as_str).unwrap_or("name");
    let name_of = |sid: &str| {
        ix.series
            .iter()
            .find(|s| s.id == sid)
            .map(|s| s.name_ignore_prefix.to_lowercase())
            .unwrap_or_default()
    };
    match sort {
        "numBooks" => rows.sort_by_key(|(_, b)| b.len()),
        "addedAt" => rows.sort_by_key(|(sid, _)| {
            ix.series
                .iter()
                .find(|s| &s.id == sid)
                .map(|s| s.added_at)
                .unwrap_or(0)
        }),
        "totalDuration" => rows.sort_by(|a, b| {
            let d = |v: &Vec<usize>| v.iter().map(|i| ix.items[*i].duration).sum::<f64>();
            d(&a.1)
                .partial_cmp(&d(&b.1))
                .unwrap_or(std::cmp::Ordering::Equal)
        }),
        "lastBookAdded" => {
            rows.sort_by_key(|(_, b)| b.iter().map(|i| ix.items[*i].created_at).max().unwrap_or(0))
        }
        "lastBookUpdated" => {
            rows.sort_by_key(|(_, b)| b.iter().map(|i| ix.items[*i].updated_at).max().unwrap_or(0))
        }
        _ => rows.sort_by_key(|(sid, _)| name_of(sid)),
    }
    if flag(&p, "desc") {
        rows.reverse();
    }
    let total = rows.len();
    let (start, count) = query::page_window(limit, page, total);
    let results: Vec<Value> = rows[start..start + count]
        .iter()
        .filter_map(|(sid, b)| series_entry(&ix, sid, b))
        .collect();
    Ok(Json(json!({
        "results": results, "total": total, "limit": limit, "page": page,
        "sortBy": sort, "sortDesc": flag(&p, "desc"), "filterBy": p.get("filter"),
        "minified": flag(&p, "minified"), "include": p.get("include").cloned().unwrap_or_default(),
    })))
}

/// The series' visible books and the caller's progress through them.
pub async fn one_series(
    state: &AppState,
    user: &User,
    ix: &LibraryIndex,
    sid: &str,
    with_progress: bool,
) -> AppResult<Value> {
    let books = series_books(ix, user)
        .remove(sid)
        .ok_or_else(|| AppError::not_found_msg("Series not found"))?;
    let mut v =
        series_entry(ix, sid, &books).ok_or_else(|| AppError::not_found_msg("Series not found"))?;
    if with_progress {
        let progress = progress_map(state, &user.id).await?;
        let ids: Vec<String> = books.iter().map(|b| ix.items[*b].id.clone()).collect();
        let finished: Vec<&String> = ids
            .iter()
            .filter(|id| progress.get(*id).is_some_and(|p| p.is_finished))
            .collect();
        let started: Vec<&String> = ids.iter().filter(|id| progress.contains_key(*id)).collect();
        v["progress"] = json!({
            "libraryItemIds": started,
            "libraryItemIdsFinished": finished,
            "isFinished": !ids.is_empty() && finished.len() == ids.len(),
        });
    }
    Ok(v)
}

pub async fn series_one(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((id, sid)): Path<(String, String)>,
    Query(p): Params,
) -> AppResult<Json<Value>> {
    let ix = visible_library(&state, &me.user, &id).await?;
    Ok(Json(
        one_series(&state, &me.user, &ix, &sid, includes(&p, "progress")).await?,
    ))
}

/// Number of visible books per author id.
fn author_counts(ix: &LibraryIndex, user: &User) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for item in ix.items.iter().filter(|i| access::can_see_item(user, i)) {
        for a in &item.metadata.authors {
            *counts.entry(a.id.clone()).or_insert(0) += 1;
        }
    }
    counts
}

/// `GET /api/libraries/:id/authors`: only authors with at least one book the caller can see.
pub async fn authors(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
    Query(p): Params,
) -> AppResult<Json<Value>> {
    let ix = visible_library(&state, &me.user, &id).await?;
    let counts = author_counts(&ix, &me.user);
    let mut list: Vec<_> = ix
        .authors
        .iter()
        .filter_map(|a| counts.get(&a.id).map(|n| (a, *n)))
        .collect();
    match p.get("sort").map(String::as_str) {
        Some("lastFirst") => list.sort_by_key(|(a, _)| a.last_first.to_lowercase()),
        Some("addedAt") => list.sort_by_key(|(a, _)| a.added_at),
        Some("updatedAt") => list.sort_by_key(|(a, _)| a.updated_at),
        Some("numBooks") => list.sort_by_key(|(_, n)| *n),
        _ => list.sort_by_key(|(a, _)| a.name.to_lowercase()),
    }
    if flag(&p, "desc") {
        list.reverse();
    }
    let json_list: Vec<Value> = list
        .iter()
        .map(|(a, n)| items_json::author(a, Some(*n)))
        .collect();
    let paged = p.get("limit").is_some_and(|l| l.parse::<usize>().is_ok())
        && p.get("page").is_some_and(|l| l.parse::<usize>().is_ok());
    if !paged {
        return Ok(Json(json!({ "authors": json_list })));
    }
    let limit = query::non_negative(p.get("limit").map(String::as_str), "limit", 0)?;
    let page = query::non_negative(p.get("page").map(String::as_str), "page", 0)?;
    let total = json_list.len();
    let (start, count) = query::page_window(limit, page, total);
    Ok(Json(json!({
        "results": json_list[start..start + count], "total": total, "limit": limit, "page": page,
        "sortBy": p.get("sort"), "sortDesc": flag(&p, "desc"),
    })))
}

fn name_counts<'a>(
    items: impl Iterator<Item = &'a Arc<Item>>,
    f: impl Fn(&'a Item) -> Vec<&'a String>,
) -> BTreeMap<String, usize> {
    let mut m: BTreeMap<String, usize> = BTreeMap::new();
    for item in items {
        for n in f(item) {
            *m.entry(n.clone()).or_insert(0) += 1;
        }
    }
    m
}

pub async fn narrators(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let ix = visible_library(&state, &me.user, &id).await?;
    let counts = name_counts(
        ix.items
            .iter()
            .filter(|i| access::can_see_item(&me.user, i)),
        |i| i.metadata.narrators.iter().collect(),
    );
    let list: Vec<Value> = counts
        .into_iter()
        .map(|(name, n)| json!({ "id": urlencode(&query::encode_value(&name)), "name": name, "numBooks": n }))
        .collect();
    Ok(Json(json!({ "narrators": list })))
}

fn urlencode(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '+' => "%2B".to_string(),
            '/' => "%2F".to_string(),
            '=' => "%3D".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// Facets computed from the books the caller can see.
pub fn filter_data(ix: &LibraryIndex, user: &User, now: i64) -> Value {
    let visible: Vec<&Arc<Item>> = ix
        .items
        .iter()
        .filter(|i| access::can_see_item(user, i))
        .collect();
    let mut authors = BTreeMap::new();
    let mut series = BTreeMap::new();
    let mut genres = std::collections::BTreeSet::new();
    let mut tags = std::collections::BTreeSet::new();
    let mut narrators = std::collections::BTreeSet::new();
    let mut languages = std::collections::BTreeSet::new();
    let mut publishers = std::collections::BTreeSet::new();
    let mut decades = std::collections::BTreeSet::new();
    for i in &visible {
        for a in &i.metadata.authors {
            authors.insert(a.name.to_lowercase(), json!({ "id": a.id, "name": a.name }));
        }
        for s in &i.metadata.series {
            series.insert(s.name.to_lowercase(), json!({ "id": s.id, "name": s.name }));
        }
        genres.extend(i.metadata.genres.iter().cloned());
        tags.extend(i.tags.iter().cloned());
        narrators.extend(i.metadata.narrators.iter().cloned());
        languages.extend(i.metadata.language.iter().cloned());
        publishers.extend(i.metadata.publisher.iter().cloned());
        if let Some(y) = i
            .metadata
            .published_year
            .as_deref()
            .and_then(|y| y.get(..4))
            .and_then(|y| y.parse::<i32>().ok())
        {
            decades.insert(((y / 10) * 10).to_string());
        }
    }
    json!({
        "authors": authors.into_values().collect::<Vec<_>>(),
        "genres": genres, "tags": tags,
        "series": series.into_values().collect::<Vec<_>>(),
        "narrators": narrators, "languages": languages, "publishers": publishers,
        "publishedDecades": decades,
        "bookCount": visible.len(),
        "authorCount": visible.iter().flat_map(|i| i.metadata.authors.iter().map(|a| a.id.clone())).collect::<HashSet<_>>().len(),
        "seriesCount": visible.iter().flat_map(|i| i.metadata.series.iter().map(|s| s.id.clone())).collect::<HashSet<_>>().len(),
        "podcastCount": 0,
        "numIssues": visible.iter().filter(|i| i.is_missing || i.is_invalid).count(),
        "loadedAt": now,
    })
}

pub async fn filterdata(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let ix = visible_library(&state, &me.user, &id).await?;
    Ok(Json(filter_data(&ix, &me.user, state.now_ms())))
}

/// `GET /api/libraries/:id/search?q=`.
pub async fn search(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
    Query(p): Params,
) -> AppResult<Json<Value>> {
    let ix = visible_library(&state, &me.user, &id).await?;
    let q = p
        .get("q")
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AppError::bad_request("No query string"))?;
    let limit = query::non_negative(p.get("limit").map(String::as_str), "limit", 12)?.clamp(1, 100);
    let visible: Vec<&Arc<Item>> = ix
        .items
        .iter()
        .filter(|i| access::can_see_item(&me.user, i))
        .collect();
    let hit = |s: &str| s.to_lowercase().contains(&q);
    let books: Vec<Value> = visible
        .iter()
        .filter(|i| {
            let m = &i.metadata;
            hit(&m.title)
                || m.subtitle.as_deref().is_some_and(hit)
                || m.authors.iter().any(|a| hit(&a.name))
                || m.isbn.as_deref().is_some_and(hit)
                || m.asin.as_deref().is_some_and(hit)
        })
        .take(limit)
        .map(|i| json!({ "libraryItem": items_json::expanded(i) }))
        .collect();
    let narrators = name_counts(visible.iter().copied(), |i| {
        i.metadata.narrators.iter().collect()
    });
    let tags = name_counts(visible.iter().copied(), |i| i.tags.iter().collect());
    let genres = name_counts(visible.iter().copied(), |i| {
        i.metadata.genres.iter().collect()
    });
    let books_by_series = series_books(&ix, &me.user);
    let series: Vec<Value> = ix
        .series
        .iter()
        .filter(|s| hit(&s.name))
        .filter_map(|s| {
            let books = books_by_series.get(&s.id)?;
            Some(json!({ "series": items_json::series(s), "books": books.iter().map(|b| items_json::plain(&ix.items[*b])).collect::<Vec<_>>() }))
        })
        .take(limit)
        .collect();
    let counts = author_counts(&ix, &me.user);
    let authors: Vec<Value> = ix
        .authors
        .iter()
        .filter(|a| hit(&a.name))
        .filter_map(|a| counts.get(&a.id).map(|n| items_json::author(a, Some(*n))))
        .take(limit)
        .collect();
    let named = |m: BTreeMap<String, usize>, key: &str| -> Vec<Value> {
        m.into_iter()
            .filter(|(n, _)| hit(n))
            .take(limit)
            .map(|(n, c)| json!({ "name": n, key: c }))
            .collect()
    };
    Ok(Json(json!({
        "book": books,
        "narrators": named(narrators, "numBooks"),
        "tags": named(tags, "numItems"),
        "genres": named(genres, "numItems"),
        "series": series,
        "authors": authors,
    })))
}
