//! Listening progress and bookmarks.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::abs_db::Rec;
use super::map::{json_or, parse_time};
use super::report::{Outcome, Report};
use super::write::{Ctx, Imported, begin_row, end_row};
use crate::model::MediaProgress;
use crate::store::{StoreResult, progress};

pub fn item_of(rec: &Rec, out: &Imported) -> Option<String> {
    let extra = json_or(rec.s("extraData").as_deref(), Value::Null);
    extra
        .get("libraryItemId")
        .and_then(Value::as_str)
        .filter(|id| out.items.contains(*id))
        .map(str::to_string)
        .or_else(|| out.book_to_item.get(&rec.text("mediaItemId")).cloned())
}

pub fn media_progress(
    tx: &Connection,
    ctx: &Ctx,
    r: &mut Report,
    out: &Imported,
) -> StoreResult<()> {
    let rows = &ctx.data.progress;
    r.found("progress", rows.len());
    // ABS has no unique key on (user, media item); the newest row is the one its apps last saw.
    let mut newest: HashMap<(String, String), &Rec> = HashMap::new();
    for p in rows {
        let key = (p.text("userId"), p.text("mediaItemId"));
        match newest.get(&key) {
            Some(kept) if kept.t("updatedAt") >= p.t("updatedAt") => {
                r.skip(
                    "progress",
                    &p.id(),
                    "",
                    "duplicate row in ABS; the newest one was kept",
                );
            }
            Some(kept) => {
                r.skip(
                    "progress",
                    &kept.id(),
                    "",
                    "duplicate row in ABS; the newest one was kept",
                );
                newest.insert(key, p);
            }
            None => {
                newest.insert(key, p);
            }
        }
    }
    for p in rows.iter().filter(|p| {
        newest
            .get(&(p.text("userId"), p.text("mediaItemId")))
            .is_some_and(|k| k.id() == p.id())
    }) {
        let (id, user_id) = (p.id(), p.text("userId"));
        if p.text("mediaItemType") != "book" {
            r.skip(
                "progress",
                &id,
                "",
                "podcast episode progress is not supported yet",
            );
            continue;
        }
        if !out.users.contains(&user_id) {
            r.skip("progress", &id, "", "its user is not imported");
            continue;
        }
        let Some(item_id) = item_of(p, out) else {
            r.skip("progress", &id, "", "its book is not imported");
            continue;
        };
        let extra = json_or(p.s("extraData").as_deref(), Value::Null);
        let (duration, current_time) = (p.f("duration"), p.f("currentTime"));
        let ratio = if duration > 0.0 {
            (current_time / duration).min(1.0)
        } else {
            0.0
        };
        let started_at = p.t("createdAt").unwrap_or(0);
        let mp = MediaProgress {
            id: id.clone(),
            user_id: user_id.clone(),
            item_id: item_id.clone(),
            episode_id: String::new(),
            media_item_id: p.text("mediaItemId"),
            duration,
            current_time,
            progress: extra
                .get("progress")
                .and_then(Value::as_f64)
                .unwrap_or(ratio),
            is_finished: p.b("isFinished"),
            hide_from_continue: p.b("hideFromContinueListening"),
            ebook_location: p.opt("ebookLocation"),
            ebook_progress: p.i("ebookProgress").map(|_| p.f("ebookProgress")),
            finished_at: p.t("finishedAt"),
            started_at,
            last_update: p.t("updatedAt").unwrap_or(started_at),
        };
        if let Some(ours) = progress::get(tx, &user_id, &item_id, "")?
            && ours.last_update > mp.last_update
        {
            // Listening done here after the first import is newer than anything ABS has.
            r.record("progress", Outcome::Unchanged);
            continue;
        }
        let q = [
            "SELECT * FROM media_progress WHERE user_id = ?1 AND item_id = ?2 AND episode_id = ''",
        ];
        let before = begin_row(tx, &q, &[&user_id, &item_id])?;
        progress::upsert(tx, &mp)?;
        tx.execute(
            "UPDATE media_progress SET started_at = ?3 WHERE user_id = ?1 AND item_id = ?2 AND episode_id = ''",
            params![user_id, item_id, started_at],
        )?;
        r.record("progress", end_row(tx, &q, &[&user_id, &item_id], before)?);
    }
    Ok(())
}

pub fn bookmarks(tx: &Connection, ctx: &Ctx, r: &mut Report, out: &Imported) -> StoreResult<()> {
    r.found("bookmarks", 0);
    for u in &ctx.data.users {
        let user_id = u.id();
        let Value::Array(list) = json_or(u.s("bookmarks").as_deref(), Value::Null) else {
            continue;
        };
        r.found("bookmarks", list.len());
        for b in list {
            let item_id = b
                .get("libraryItemId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let title = b
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if !out.users.contains(&user_id) {
                r.skip("bookmarks", &item_id, &title, "its user is not imported");
                continue;
            }
            if !out.items.contains(&item_id) {
                r.skip("bookmarks", &item_id, &title, "its book is not imported");
                continue;
            }
            let time = b.get("time").and_then(Value::as_f64).unwrap_or(0.0);
            let created_at = match b.get("createdAt") {
                Some(Value::String(s)) => parse_time(s),
                Some(v) => v.as_f64().map(|f| f as i64),
                None => None,
            }
            .unwrap_or(0);
            let find = |tx: &Connection| -> rusqlite::Result<Option<(String, i64)>> {
                tx.query_row(
                    "SELECT title, created_at FROM bookmarks WHERE user_id = ?1 AND item_id = ?2 AND time = ?3",
                    params![user_id, item_id, time],
                    |x| Ok((x.get(0)?, x.get(1)?)),
                )
                .optional()
            };
            let before = find(tx)?;
            tx.execute(
                "INSERT INTO bookmarks (user_id, item_id, time, title, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (user_id, item_id, time) DO UPDATE SET title = excluded.title, created_at = excluded.created_at
                 WHERE title != excluded.title OR created_at != excluded.created_at",
                params![user_id, item_id, time, title, created_at],
            )?;
            let after = find(tx)?;
            r.record(
                "bookmarks",
                match before {
                    None => Outcome::New,
                    Some(b) if Some(&b) == after.as_ref() => Outcome::Unchanged,
                    Some(_) => Outcome::Changed,
                },
            );
        }
    }
    Ok(())
}
