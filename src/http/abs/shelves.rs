//! `GET /api/libraries/:id/personalized`: the home shelves ABS apps show, built for the caller
//! from the catalog and their own progress.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::{Value, json};

use super::browse::{progress_map, visible_library};
use super::items_json;
use super::query;
use crate::access;
use crate::app::AppState;
use crate::auth::extract::CurrentUser;
use crate::error::AppResult;

const SIXTY_DAYS_MS: i64 = 60 * 86_400_000;

fn shelf(
    id: &str,
    label: &str,
    key: &str,
    kind: &str,
    entities: Vec<Value>,
    total: usize,
) -> Option<Value> {
    (!entities.is_empty()).then(|| {
        json!({ "id": id, "label": label, "labelStringKey": key, "type": kind, "entities": entities, "total": total })
    })
}

pub async fn personalized(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
    Query(p): Query<HashMap<String, String>>,
) -> AppResult<Json<Value>> {
    let ix = visible_library(&state, &me.user, &id).await?;
    let limit = query::non_negative(p.get("limit").map(String::as_str), "limit", 10)?.clamp(1, 100);
    let progress = progress_map(&state, &me.user.id).await?;
    let now = state.now_ms();
    let visible: Vec<usize> = (0..ix.items.len())
        .filter(|i| access::can_see_item(&me.user, &ix.items[*i]))
        .collect();
    let minified =
        |i: usize| -> Value { serde_json::from_str(ix.minified[i].get()).unwrap_or(Value::Null) };
    let mut shelves = Vec::new();

    let hidden_series = &me.user.series_hide_from_continue;
    let mut listening: Vec<usize> = visible
        .iter()
        .copied()
        .filter(|i| {
            progress
                .get(&ix.items[*i].id)
                .is_some_and(|p| !p.is_finished && !p.hide_from_continue && p.current_time > 0.0)
        })
        .collect();
    listening.sort_by_key(|i| {
        std::cmp::Reverse(
            progress
                .get(&ix.items[*i].id)
                .map(|p| p.last_update)
                .unwrap_or(0),
        )
    });
    let n = listening.len();
    shelves.extend(shelf(
        "continue-listening",
        "Continue Listening",
        "LabelContinueListening",
        "book",
        listening
            .iter()
            .take(limit)
            .map(|i| {
                let mut v = minified(*i);
                v["progressLastUpdate"] =
                    json!(progress.get(&ix.items[*i].id).map(|p| p.last_update));
                v
            })
            .collect(),
        n,
    ));

    // Continue series: the next unfinished book of a series the caller has finished books in.
    let mut by_series: HashMap<&str, Vec<usize>> = HashMap::new();
    for i in &visible {
        for s in &ix.items[*i].metadata.series {
            by_series.entry(s.id.as_str()).or_default().push(*i);
        }
    }
    let mut next_books: Vec<(i64, usize)> = Vec::new();
    for (sid, books) in &mut by_series {
        if hidden_series.iter().any(|h| h == sid) {
            continue;
        }
        let seq = |i: &usize| {
            query::sequence_number(
                ix.items[*i]
                    .metadata
                    .series
                    .iter()
                    .find(|s| s.id == *sid)
                    .and_then(|s| s.sequence.as_deref()),
            )
        };
        books.sort_by(|a, b| {
            seq(a)
                .partial_cmp(&seq(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let rows: Vec<_> = books
            .iter()
            .map(|b| progress.get(&ix.items[*b].id))
            .collect();
        let any_in_progress = rows
            .iter()
            .any(|r| r.is_some_and(|p| !p.is_finished && p.current_time > 0.0));
        let last_finished = rows
            .iter()
            .filter_map(|r| r.filter(|p| p.is_finished).map(|p| p.last_update))
            .max();
        if any_in_progress {
            continue;
        }
        if let Some(when) = last_finished
            && let Some(next) = books
                .iter()
                .zip(&rows)
                .find(|(_, r)| r.is_none_or(|p| !p.is_finished))
                .map(|(b, _)| *b)
        {
            next_books.push((when, next));
        }
    }
    next_books.sort_by_key(|(when, _)| std::cmp::Reverse(*when));
    let n = next_books.len();
    shelves.extend(shelf(
        "continue-series",
        "Continue Series",
        "LabelContinueSeries",
        "book",
        next_books
            .iter()
            .take(limit)
            .map(|(_, i)| minified(*i))
            .collect(),
        n,
    ));

    let mut recent = visible.clone();
    recent.sort_by_key(|i| std::cmp::Reverse(ix.items[*i].created_at));
    shelves.extend(shelf(
        "recently-added",
        "Recently Added",
        "LabelRecentlyAdded",
        "book",
        recent.iter().take(limit).map(|i| minified(*i)).collect(),
        recent.len(),
    ));

    let mut series_recent: Vec<(&str, i64)> = by_series
        .iter()
        .map(|(sid, books)| {
            (
                *sid,
                books
                    .iter()
                    .map(|b| ix.items[*b].created_at)
                    .max()
                    .unwrap_or(0),
            )
        })
        .collect();
    series_recent.sort_by_key(|(_, t)| std::cmp::Reverse(*t));
    let n = series_recent.len();
    shelves.extend(shelf(
        "recent-series",
        "Recent Series",
        "LabelRecentSeries",
        "series",
        series_recent
            .iter()
            .take(5.min(limit))
            .filter_map(|(sid, _)| {
                let s = ix.series.iter().find(|s| s.id == *sid)?;
                let mut v = items_json::series(s);
                v["books"] = json!(
                    by_series
                        .get(sid)?
                        .iter()
                        .map(|b| minified(*b))
                        .collect::<Vec<_>>()
                );
                Some(v)
            })
            .collect(),
        n,
    ));

    // Discover: books not started, rotating daily so the shelf changes without being random per request.
    let mut unstarted: Vec<usize> = visible
        .iter()
        .copied()
        .filter(|i| !progress.contains_key(&ix.items[*i].id))
        .collect();
    if !unstarted.is_empty() {
        let day = (now / 86_400_000) as usize;
        let shift = day % unstarted.len();
        unstarted.rotate_left(shift);
    }
    shelves.extend(shelf(
        "discover",
        "Discover",
        "LabelDiscover",
        "book",
        unstarted.iter().take(limit).map(|i| minified(*i)).collect(),
        unstarted.len(),
    ));

    let mut finished: Vec<usize> = visible
        .iter()
        .copied()
        .filter(|i| {
            progress
                .get(&ix.items[*i].id)
                .is_some_and(|p| p.is_finished)
        })
        .collect();
    finished.sort_by_key(|i| {
        std::cmp::Reverse(
            progress
                .get(&ix.items[*i].id)
                .and_then(|p| p.finished_at)
                .unwrap_or(0),
        )
    });
    shelves.extend(shelf(
        "listen-again",
        "Listen Again",
        "LabelListenAgain",
        "book",
        finished.iter().take(limit).map(|i| minified(*i)).collect(),
        finished.len(),
    ));

    let mut counts: HashMap<&str, usize> = HashMap::new();
    for i in &visible {
        for a in &ix.items[*i].metadata.authors {
            *counts.entry(a.id.as_str()).or_insert(0) += 1;
        }
    }
    let mut newest: Vec<_> = ix
        .authors
        .iter()
        .filter(|a| now - a.added_at < SIXTY_DAYS_MS && counts.contains_key(a.id.as_str()))
        .collect();
    newest.sort_by_key(|a| std::cmp::Reverse(a.added_at));
    shelves.extend(shelf(
        "newest-authors",
        "Newest Authors",
        "LabelNewestAuthors",
        "authors",
        newest
            .iter()
            .take(limit)
            .map(|a| items_json::author(a, counts.get(a.id.as_str()).copied()))
            .collect(),
        newest.len(),
    ));
    Ok(Json(Value::Array(shelves)))
}
