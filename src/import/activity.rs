//! The listening half of the import: progress, bookmarks, devices, playback history, collections,
//! playlists; and what is deliberately left behind.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

use super::abs_db::Rec;
use super::map::{json_or, parse_time};
use super::report::{KeyToReissue, Outcome, Report};
use super::write::{Ctx, Imported, digest, outcome};
use crate::model::MediaProgress;
use crate::store::{StoreResult, progress};

fn item_of(rec: &Rec, out: &Imported) -> Option<String> {
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
        let before = digest(tx, &q, &[&user_id, &item_id])?;
        progress::upsert(tx, &mp)?;
        tx.execute(
            "UPDATE media_progress SET started_at = ?3 WHERE user_id = ?1 AND item_id = ?2 AND episode_id = ''",
            params![user_id, item_id, started_at],
        )?;
        r.record(
            "progress",
            outcome(&before, &digest(tx, &q, &[&user_id, &item_id])?),
        );
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
                 ON CONFLICT (user_id, item_id, time) DO UPDATE SET title = excluded.title, created_at = excluded.created_at",
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

/// ABS device id → (our device row id, the `deviceInfo` object its sessions show).
pub fn devices(
    tx: &Connection,
    ctx: &Ctx,
    r: &mut Report,
    out: &Imported,
) -> StoreResult<HashMap<String, (String, Value)>> {
    let mut ids = HashMap::new();
    r.found("devices", ctx.data.devices.len());
    for d in &ctx.data.devices {
        let (id, user_id, device_id) = (d.id(), d.text("userId"), d.text("deviceId"));
        if !out.users.contains(&user_id) {
            r.skip("devices", &id, &device_id, "its user is not imported");
            continue;
        }
        let extra = json_or(d.s("extraData").as_deref(), Value::Null);
        let s = |k: &str| extra.get(k).and_then(Value::as_str).map(str::to_string);
        let mut info = serde_json::Map::new();
        for (k, v) in [
            ("id", Some(id.clone())),
            ("userId", Some(user_id.clone())),
            ("deviceId", Some(device_id.clone())),
            ("ipAddress", d.opt("ipAddress")),
            ("browserName", s("browserName")),
            ("browserVersion", s("browserVersion")),
            ("osName", s("osName")),
            ("osVersion", s("osVersion")),
            ("deviceType", s("deviceType")),
            ("clientVersion", d.opt("clientVersion")),
            ("manufacturer", Some(s("manufacturer").unwrap_or_default())),
            ("model", Some(s("model").unwrap_or_default())),
            ("sdkVersion", Some(d.text("deviceVersion"))),
            ("clientName", d.opt("clientName")),
            ("deviceName", Some(d.text("deviceName"))),
        ] {
            // ABS always sends these four, empty when unknown; the rest only when set.
            if let Some(v) = v {
                info.insert(k.into(), Value::String(v));
            }
        }
        let other: Option<String> = tx
            .query_row(
                "SELECT id FROM devices WHERE user_id = ?1 AND device_id = ?2 AND id != ?3",
                params![user_id, device_id, id],
                |x| x.get(0),
            )
            .optional()?;
        if let Some(other) = other {
            r.record("devices", Outcome::Unchanged);
            ids.insert(id, (other, Value::Object(info)));
            continue;
        }
        let created = d.t("createdAt").unwrap_or(0);
        let q = ["SELECT * FROM devices WHERE id = ?1"];
        let before = digest(tx, &q, &[&id])?;
        tx.execute(
            "INSERT INTO devices (id, user_id, device_id, client_name, client_version, device_name, manufacturer,
                 model, sdk_version, ip_address, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT(id) DO UPDATE SET device_id = excluded.device_id, client_name = excluded.client_name,
                 client_version = excluded.client_version, device_name = excluded.device_name,
                 manufacturer = excluded.manufacturer, model = excluded.model, sdk_version = excluded.sdk_version,
                 ip_address = excluded.ip_address, created_at = excluded.created_at, updated_at = excluded.updated_at",
            params![
                id,
                user_id,
                device_id,
                d.opt("clientName"),
                d.opt("clientVersion"),
                d.opt("deviceName"),
                s("manufacturer"),
                s("model"),
                d.i("deviceVersion"),
                d.opt("ipAddress"),
                created,
                d.t("updatedAt").unwrap_or(created),
            ],
        )?;
        r.record("devices", outcome(&before, &digest(tx, &q, &[&id])?));
        ids.insert(id.clone(), (id, Value::Object(info)));
    }
    Ok(ids)
}

/// Closed listening sessions: history for the stats pages. Kept even when the book is gone.
pub fn sessions(
    tx: &Connection,
    ctx: &Ctx,
    r: &mut Report,
    out: &Imported,
    devices: &HashMap<String, (String, Value)>,
) -> StoreResult<()> {
    r.found("listeningSessions", ctx.data.playback_sessions.len());
    for s in &ctx.data.playback_sessions {
        let (id, user_id) = (s.id(), s.text("userId"));
        if !out.users.contains(&user_id) {
            r.skip(
                "listeningSessions",
                &id,
                &s.text("displayTitle"),
                "its user was deleted in ABS or is not imported",
            );
            continue;
        }
        let episode = (s.text("mediaItemType") == "podcastEpisode").then(|| s.text("mediaItemId"));
        let item_id = item_of(s, out).or_else(|| {
            json_or(s.s("extraData").as_deref(), Value::Null)
                .get("libraryItemId")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        let device = s.opt("deviceId").and_then(|d| devices.get(&d));
        let created = s.t("createdAt").unwrap_or(0);
        let q = ["SELECT * FROM playback_sessions WHERE id = ?1"];
        let before = digest(tx, &q, &[&id])?;
        tx.execute(
            "INSERT INTO playback_sessions (id, user_id, library_id, item_id, episode_id, device_row_id, display_title,
                 display_author, duration, play_method, media_player, start_time, current_time, time_listening,
                 media_metadata, chapters, device_info, server_version, date, day_of_week, is_open, started_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, '[]', ?16, ?17, ?18, ?19, 0, ?20, ?21)
             ON CONFLICT(id) DO UPDATE SET user_id = excluded.user_id, library_id = excluded.library_id,
                 item_id = excluded.item_id, episode_id = excluded.episode_id, device_row_id = excluded.device_row_id,
                 display_title = excluded.display_title, display_author = excluded.display_author,
                 duration = excluded.duration, play_method = excluded.play_method, media_player = excluded.media_player,
                 start_time = excluded.start_time, current_time = excluded.current_time,
                 time_listening = excluded.time_listening, media_metadata = excluded.media_metadata,
                 device_info = excluded.device_info, server_version = excluded.server_version, date = excluded.date,
                 day_of_week = excluded.day_of_week, is_open = 0, started_at = excluded.started_at,
                 updated_at = excluded.updated_at",
            params![
                id,
                user_id,
                s.opt("libraryId"),
                item_id,
                episode,
                device.map(|d| d.0.clone()),
                s.text("displayTitle"),
                s.text("displayAuthor"),
                s.f("duration"),
                s.i("playMethod").unwrap_or(0),
                s.opt("mediaPlayer").unwrap_or_else(|| "unknown".into()),
                s.f("startTime"),
                s.f("currentTime"),
                s.f("timeListening"),
                json_or(s.s("mediaMetadata").as_deref(), json!({})).to_string(),
                device.map_or_else(|| json!({}), |d| d.1.clone()).to_string(),
                s.text("serverVersion"),
                s.text("date"),
                s.text("dayOfWeek"),
                created,
                s.t("updatedAt").unwrap_or(created),
            ],
        )?;
        r.record(
            "listeningSessions",
            outcome(&before, &digest(tx, &q, &[&id])?),
        );
    }
    Ok(())
}

/// Collections (per library) and playlists (per user), ids kept, members in ABS's order.
pub fn lists(tx: &Connection, ctx: &Ctx, r: &mut Report, out: &Imported) -> StoreResult<()> {
    let d = ctx.data;
    for (kind, rows, members, parent_col) in [
        (
            "collections",
            &d.collections,
            &d.collection_books,
            "collectionId",
        ),
        ("playlists", &d.playlists, &d.playlist_items, "playlistId"),
    ] {
        r.found(kind, rows.len());
        for c in rows {
            let (id, name, lib) = (c.id(), c.text("name"), c.text("libraryId"));
            let user_id = c.text("userId");
            if !out.libraries.contains(&lib) {
                r.skip(kind, &id, &name, "its library is not imported");
                continue;
            }
            if kind == "playlists" && !out.users.contains(&user_id) {
                r.skip(kind, &id, &name, "its user is not imported");
                continue;
            }
            let (table, member_table) = if kind == "collections" {
                ("collections", "collection_items")
            } else {
                ("playlists", "playlist_items")
            };
            let q = [
                format!("SELECT * FROM {table} WHERE id = ?1"),
                format!(
                    "SELECT * FROM {member_table} WHERE {}_id = ?1 ORDER BY position",
                    &table[..table.len() - 1]
                ),
            ];
            let q: Vec<&str> = q.iter().map(String::as_str).collect();
            let before = digest(tx, &q, &[&id])?;
            let created = c.t("createdAt").unwrap_or(0);
            let updated = c.t("updatedAt").unwrap_or(created);
            if kind == "collections" {
                tx.execute(
                    "INSERT INTO collections (id, library_id, name, description, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT(id) DO UPDATE SET library_id = excluded.library_id, name = excluded.name,
                         description = excluded.description, created_at = excluded.created_at, updated_at = excluded.updated_at",
                    params![id, lib, name, c.opt("description"), created, updated],
                )?;
                tx.execute(
                    "DELETE FROM collection_items WHERE collection_id = ?1",
                    [&id],
                )?;
            } else {
                tx.execute(
                    "INSERT INTO playlists (id, library_id, user_id, name, description, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT(id) DO UPDATE SET library_id = excluded.library_id, user_id = excluded.user_id,
                         name = excluded.name, description = excluded.description, created_at = excluded.created_at,
                         updated_at = excluded.updated_at",
                    params![id, lib, user_id, name, c.opt("description"), created, updated],
                )?;
                tx.execute("DELETE FROM playlist_items WHERE playlist_id = ?1", [&id])?;
            }
            let mut position = 0i64;
            for m in members.iter().filter(|m| m.text(parent_col) == id) {
                let book_id = if kind == "collections" {
                    m.text("bookId")
                } else {
                    m.text("mediaItemId")
                };
                if kind == "playlists" && m.text("mediaItemType") != "book" {
                    r.skip(
                        kind,
                        &id,
                        &name,
                        "a podcast episode in it was left out (podcasts are not supported yet)",
                    );
                    continue;
                }
                let Some(item_id) = out.book_to_item.get(&book_id) else {
                    r.skip(
                        kind,
                        &id,
                        &name,
                        format!("book {book_id} in it is not imported"),
                    );
                    continue;
                };
                position += 1;
                let sql = if kind == "collections" {
                    "INSERT OR IGNORE INTO collection_items (collection_id, item_id, position, created_at) VALUES (?1, ?2, ?3, ?4)"
                } else {
                    "INSERT OR IGNORE INTO playlist_items (playlist_id, item_id, episode_id, position, created_at) VALUES (?1, ?2, '', ?3, ?4)"
                };
                tx.execute(
                    sql,
                    params![id, item_id, position, m.t("createdAt").unwrap_or(created)],
                )?;
            }
            r.record(kind, outcome(&before, &digest(tx, &q, &[&id])?));
        }
    }
    Ok(())
}

/// Credentials and secrets stay behind: listed so the admin knows what to redo.
pub fn left_behind(ctx: &Ctx, r: &mut Report) {
    let d = ctx.data;
    let names: HashMap<String, String> = d
        .users
        .iter()
        .map(|u| (u.id(), u.text("username")))
        .collect();
    for k in &d.api_keys {
        r.api_keys_to_reissue.push(KeyToReissue {
            name: k.text("name"),
            username: names
                .get(&k.text("userId"))
                .cloned()
                .unwrap_or_else(|| k.text("userId")),
            is_active: k.b("isActive"),
            expires_at: k.t("expiresAt"),
        });
    }
    let n = &mut r.not_imported;
    n.push(format!(
        "login sessions and refresh tokens ({}): every user logs in again; apps keep working after a new login at the same address",
        d.login_sessions
    ));
    if d.legacy_tokens > 0 {
        n.push(format!(
            "legacy never-expiring user tokens ({})",
            d.legacy_tokens
        ));
    }
    if !d.api_keys.is_empty() {
        n.push(format!(
            "API keys ({}): listed above, to re-issue",
            d.api_keys.len()
        ));
    }
    let server = d.settings.get("server-settings");
    let set = |v: Option<&Value>| v.is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()));
    if set(server.and_then(|s| s.get("tokenSecret"))) {
        n.push(
            "the JWT signing secret (this server has its own; old ABS tokens do not work here)"
                .into(),
        );
    }
    if set(server.and_then(|s| s.get("authOpenIDClientSecret"))) {
        n.push(
            "the OpenID Connect client secret (set it again in this server's configuration)".into(),
        );
    }
    if set(d.settings.get("email-settings").and_then(|s| s.get("pass"))) {
        n.push("the SMTP password".into());
    }
    if d.custom_providers > 0 {
        n.push(format!(
            "custom metadata providers and their auth headers ({})",
            d.custom_providers
        ));
    }
    if d.feeds > 0 {
        n.push(format!("RSS feeds ({})", d.feeds));
    }
    if d.shares > 0 {
        n.push(format!("public share links ({})", d.shares));
    }
    if d.podcast_episodes > 0 {
        n.push(format!(
            "podcast episodes ({}): podcasts are not supported yet",
            d.podcast_episodes
        ));
    }
    n.push("other server settings (review this server's configuration instead)".into());
}
