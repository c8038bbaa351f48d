//! Devices and closed playback sessions: the listening history behind the stats pages.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

use super::activity::item_of;
use super::map::json_or;
use super::report::{Outcome, Report};
use super::write::{Ctx, Imported, begin_row, end_row};
use crate::store::StoreResult;

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
        let before = begin_row(tx, &q, &[&id])?;
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
        r.record("devices", end_row(tx, &q, &[&id], before)?);
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
        let before = begin_row(tx, &q, &[&id])?;
        tx.execute(
            "INSERT INTO playback_sessions (id, user_id, library_id, item_id, episode_id, device_row_id, display_title,
                 display_author, duration, play_method, media_player, start_time, position, time_listening,
                 media_metadata, chapters, device_info, server_version, date, day_of_week, is_open, started_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, '[]', ?16, ?17, ?18, ?19, 0, ?20, ?21)
             ON CONFLICT(id) DO UPDATE SET user_id = excluded.user_id, library_id = excluded.library_id,
                 item_id = excluded.item_id, episode_id = excluded.episode_id, device_row_id = excluded.device_row_id,
                 display_title = excluded.display_title, display_author = excluded.display_author,
                 duration = excluded.duration, play_method = excluded.play_method, media_player = excluded.media_player,
                 start_time = excluded.start_time, position = excluded.position,
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
        r.record("listeningSessions", end_row(tx, &q, &[&id], before)?);
    }
    Ok(())
}
