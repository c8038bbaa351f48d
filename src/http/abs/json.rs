//! ABS wire shapes built from domain types. Keys and types follow what ABS 2.36 sends and what
//! `aioaudiobookshelf` requires (a missing key there is a schema error in the client).

use serde_json::{Value, json};

use super::ABS_COMPAT_VERSION;
use crate::model::{Bookmark, MediaProgress, User};

pub fn progress(p: &MediaProgress) -> Value {
    json!({
        "id": p.id,
        "userId": p.user_id,
        "libraryItemId": p.item_id,
        "episodeId": if p.episode_id.is_empty() { Value::Null } else { Value::from(p.episode_id.clone()) },
        "mediaItemId": if p.episode_id.is_empty() { p.media_item_id.clone() } else { p.episode_id.clone() },
        "mediaItemType": if p.episode_id.is_empty() { "book" } else { "podcastEpisode" },
        "duration": p.duration,
        "progress": p.progress,
        "currentTime": p.current_time,
        "isFinished": p.is_finished,
        "hideFromContinueListening": p.hide_from_continue,
        "ebookLocation": p.ebook_location,
        "ebookProgress": p.ebook_progress,
        "lastUpdate": p.last_update,
        "startedAt": p.started_at,
        "finishedAt": p.finished_at,
    })
}

pub fn bookmark(b: &Bookmark) -> Value {
    json!({ "libraryItemId": b.item_id, "title": b.title, "time": b.time, "createdAt": b.created_at })
}

/// `User.toOldJSONForBrowser`. `legacy_token` is the user's own `user.token` (None hides it).
pub fn user(
    u: &User,
    legacy_token: Option<&str>,
    progress_rows: &[MediaProgress],
    bookmarks: &[Bookmark],
) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "email": u.email,
        "type": u.user_type.as_str(),
        "token": legacy_token,
        "mediaProgress": progress_rows.iter().map(progress).collect::<Vec<_>>(),
        "seriesHideFromContinueListening": u.series_hide_from_continue,
        "bookmarks": bookmarks.iter().map(bookmark).collect::<Vec<_>>(),
        "isActive": u.is_active,
        "isLocked": u.is_locked,
        "lastSeen": u.last_seen,
        "createdAt": u.created_at,
        "permissions": u.permissions,
        "librariesAccessible": u.libraries_accessible,
        "itemTagsSelected": u.item_tags_selected,
        "hasOpenIDLink": false,
        "mustChangePassword": u.must_change_password,
        "allowedNetworks": u.allowed_networks,
    })
}

/// ABS's `serverSettings` as browsers and apps read them; no secret is included.
pub fn server_settings() -> Value {
    json!({
        "id": "server-settings",
        "scannerFindCovers": false,
        "scannerCoverProvider": "google",
        "scannerParseSubtitle": false,
        "scannerPreferMatchedMetadata": false,
        "scannerDisableWatcher": false,
        "storeCoverWithItem": false,
        "storeMetadataWithItem": false,
        "metadataFileFormat": "json",
        "rateLimitLoginRequests": 10,
        "rateLimitLoginWindow": 600000,
        "allowIframe": false,
        "backupPath": "",
        "backupSchedule": false,
        "backupsToKeep": 2,
        "maxBackupSize": 1,
        "loggerDailyLogsToKeep": 7,
        "loggerScannerLogsToKeep": 2,
        "homeBookshelfView": 1,
        "bookshelfView": 1,
        "podcastEpisodeSchedule": "0 * * * *",
        "sortingIgnorePrefix": false,
        "sortingPrefixes": ["the", "a"],
        "chromecastEnabled": false,
        "dateFormat": "MM/dd/yyyy",
        "timeFormat": "HH:mm",
        "language": "en-us",
        "allowedOrigins": [],
        "logLevel": 2,
        "version": ABS_COMPAT_VERSION,
        "buildNumber": 1,
        "authLoginCustomMessage": null,
        "authActiveAuthMethods": ["local", "openid"],
        "authOpenIDIssuerURL": null,
        "authOpenIDAuthorizationURL": null,
        "authOpenIDTokenURL": null,
        "authOpenIDUserInfoURL": null,
        "authOpenIDJwksURL": null,
        "authOpenIDLogoutURL": null,
        "authOpenIDTokenSigningAlgorithm": "RS256",
        "authOpenIDButtonText": super::server::OPENID_BUTTON_TEXT,
        "authOpenIDAutoLaunch": false,
        "authOpenIDAutoRegister": false,
        "authOpenIDMatchExistingBy": null,
        "authOpenIDSubfolderForRedirectURLs": null,
        "timeZone": "UTC",
        "shelfwardenVersion": env!("CARGO_PKG_VERSION"),
    })
}
