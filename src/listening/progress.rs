//! ABS's progress rules as a pure function: given the stored row (if any), an update from a client,
//! and `now`, produce the row to store. Offline clients send `lastUpdate`; the newest write wins.

use serde::Deserialize;

use crate::model::MediaProgress;

/// A progress payload as ABS clients send it (`PATCH /api/me/progress/:id`, session sync, local sessions).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProgressUpdate {
    pub duration: Option<f64>,
    pub current_time: Option<f64>,
    pub progress: Option<f64>,
    pub is_finished: Option<bool>,
    pub hide_from_continue_listening: Option<bool>,
    pub ebook_location: Option<String>,
    pub ebook_progress: Option<f64>,
    pub finished_at: Option<i64>,
    pub last_update: Option<i64>,
    pub started_at: Option<i64>,
    pub mark_as_finished_time_remaining: Option<f64>,
    pub mark_as_finished_percent_complete: Option<f64>,
}

/// What to do with an update.
// Short-lived and returned once per update; boxing the row would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Store this row.
    Store(MediaProgress),
    /// The stored row is newer than the update (an offline client syncing late): keep it.
    Stale,
}

const DEFAULT_TIME_REMAINING: f64 = 10.0;

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// Applies `update` to `existing` (or to a fresh row with `fresh_id`) at `now` (ms).
pub fn apply(
    existing: Option<&MediaProgress>,
    update: &ProgressUpdate,
    fresh: MediaProgress,
    now: i64,
) -> Outcome {
    let client_time = update.last_update.filter(|t| *t > 0 && *t <= now + 60_000);
    if let (Some(row), Some(t)) = (existing, client_time)
        && t < row.last_update
    {
        return Outcome::Stale;
    }
    let is_new = existing.is_none();
    let mut p = existing.cloned().unwrap_or(fresh);
    let was_finished = p.is_finished;
    if is_new {
        p.started_at = update
            .started_at
            .filter(|t| *t > 0 && *t <= now)
            .unwrap_or(now);
    }
    if let Some(d) = finite(update.duration).filter(|d| *d >= 0.0) {
        p.duration = d;
    }
    if let Some(loc) = &update.ebook_location {
        p.ebook_location = Some(loc.clone());
    }
    if let Some(ep) = finite(update.ebook_progress) {
        p.ebook_progress = Some(ep.clamp(0.0, 1.0));
    }
    if let Some(h) = update.hide_from_continue_listening {
        p.hide_from_continue = h;
    }
    let time_changed = match finite(update.current_time).filter(|t| *t >= 0.0) {
        Some(t) if (t - p.current_time).abs() > f64::EPSILON => {
            p.current_time = t;
            true
        }
        _ => false,
    };
    if time_changed {
        p.hide_from_continue = false;
    }

    match update.is_finished {
        Some(true) => {
            if !was_finished {
                p.finished_at = Some(update.finished_at.unwrap_or(now));
            }
            p.is_finished = true;
            p.progress = 1.0;
        }
        Some(false) => {
            if was_finished {
                p.current_time = 0.0;
                p.progress = 0.0;
            }
            p.is_finished = false;
            p.finished_at = None;
        }
        None => {
            if let Some(pr) = finite(update.progress) {
                p.progress = pr.clamp(0.0, 1.0);
            } else if time_changed && p.duration > 0.0 {
                p.progress = (p.current_time / p.duration).clamp(0.0, 1.0);
            }
            let remaining_limit =
                finite(update.mark_as_finished_time_remaining).unwrap_or(DEFAULT_TIME_REMAINING);
            let near_end =
                p.duration > 0.0 && time_changed && p.duration - p.current_time < remaining_limit;
            let past_percent = finite(update.mark_as_finished_percent_complete)
                .is_some_and(|pct| p.progress * 100.0 >= pct);
            if near_end || (time_changed && past_percent) {
                if !p.is_finished {
                    p.finished_at = Some(now);
                }
                p.is_finished = true;
                p.progress = 1.0;
            } else if was_finished && time_changed {
                // Seeking back into a finished book un-finishes it.
                p.is_finished = false;
                p.finished_at = None;
            }
        }
    }
    p.last_update = client_time.unwrap_or(now);
    Outcome::Store(p)
}

/// Applies `update` to the stored row of (user, item) inside the caller's write transaction and
/// stores the result. Returns the row as stored (the existing one if the update was stale).
pub fn record(
    conn: &rusqlite::Connection,
    user_id: &str,
    item_id: &str,
    book_id: &str,
    update: &ProgressUpdate,
    now: i64,
) -> crate::store::StoreResult<MediaProgress> {
    let existing = crate::store::progress::get(conn, user_id, item_id, "")?;
    let fresh = MediaProgress {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: user_id.to_string(),
        item_id: item_id.to_string(),
        media_item_id: book_id.to_string(),
        ..MediaProgress::default()
    };
    match apply(existing.as_ref(), update, fresh, now) {
        Outcome::Stale => Ok(existing.unwrap_or_default()),
        Outcome::Store(row) => {
            crate::store::progress::upsert(conn, &row)?;
            Ok(row)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> MediaProgress {
        MediaProgress {
            id: "p".into(),
            user_id: "u".into(),
            item_id: "i".into(),
            ..MediaProgress::default()
        }
    }

    fn stored(update: ProgressUpdate, now: i64) -> MediaProgress {
        match apply(None, &update, fresh(), now) {
            Outcome::Store(p) => p,
            Outcome::Stale => panic!("stale"),
        }
    }

    #[test]
    fn create_and_auto_finish_near_the_end() {
        let p = stored(
            ProgressUpdate {
                duration: Some(100.0),
                current_time: Some(50.0),
                ..Default::default()
            },
            1000,
        );
        assert_eq!(p.progress, 0.5);
        assert!(!p.is_finished);
        assert_eq!(p.started_at, 1000);
        let next = ProgressUpdate {
            current_time: Some(95.0),
            ..Default::default()
        };
        let Outcome::Store(done) = apply(Some(&p), &next, fresh(), 2000) else {
            panic!()
        };
        assert!(done.is_finished);
        assert_eq!(done.finished_at, Some(2000));
        assert_eq!(done.progress, 1.0);
    }

    #[test]
    fn is_finished_wins_over_progress_and_false_resets() {
        let p = stored(
            ProgressUpdate {
                is_finished: Some(true),
                progress: Some(0.2),
                ..Default::default()
            },
            5,
        );
        assert!(p.is_finished);
        assert_eq!(p.progress, 1.0);
        let Outcome::Store(reset) = apply(
            Some(&p),
            &ProgressUpdate {
                is_finished: Some(false),
                ..Default::default()
            },
            fresh(),
            6,
        ) else {
            panic!()
        };
        assert!(!reset.is_finished);
        assert_eq!(reset.current_time, 0.0);
        assert_eq!(reset.progress, 0.0);
        assert_eq!(reset.finished_at, None);
    }

    #[test]
    fn seeking_back_unfinishes_and_clears_hidden() {
        let mut p = stored(
            ProgressUpdate {
                duration: Some(100.0),
                current_time: Some(99.0),
                ..Default::default()
            },
            1,
        );
        assert!(p.is_finished);
        p.hide_from_continue = true;
        let Outcome::Store(back) = apply(
            Some(&p),
            &ProgressUpdate {
                current_time: Some(10.0),
                ..Default::default()
            },
            fresh(),
            2,
        ) else {
            panic!()
        };
        assert!(!back.is_finished);
        assert!(!back.hide_from_continue);
    }

    #[test]
    fn percent_threshold() {
        let p = stored(
            ProgressUpdate {
                duration: Some(1000.0),
                current_time: Some(950.0),
                mark_as_finished_percent_complete: Some(90.0),
                mark_as_finished_time_remaining: Some(1.0),
                ..Default::default()
            },
            1,
        );
        assert!(p.is_finished);
    }

    #[test]
    fn older_offline_update_loses() {
        let p = stored(
            ProgressUpdate {
                duration: Some(100.0),
                current_time: Some(40.0),
                ..Default::default()
            },
            10_000,
        );
        let late = ProgressUpdate {
            current_time: Some(5.0),
            last_update: Some(9_000),
            ..Default::default()
        };
        assert_eq!(apply(Some(&p), &late, fresh(), 20_000), Outcome::Stale);
        let newer = ProgressUpdate {
            current_time: Some(60.0),
            last_update: Some(15_000),
            ..Default::default()
        };
        let Outcome::Store(n) = apply(Some(&p), &newer, fresh(), 20_000) else {
            panic!()
        };
        assert_eq!(n.current_time, 60.0);
        assert_eq!(n.last_update, 15_000);
    }

    #[test]
    fn nonsense_numbers_are_ignored() {
        let p = stored(
            ProgressUpdate {
                duration: Some(f64::NAN),
                current_time: Some(-5.0),
                progress: Some(f64::INFINITY),
                last_update: Some(i64::MAX),
                ..Default::default()
            },
            7,
        );
        assert_eq!(p.duration, 0.0);
        assert_eq!(p.current_time, 0.0);
        assert_eq!(
            p.last_update, 7,
            "a last_update in the future is not believed"
        );
    }
}
