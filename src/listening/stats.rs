//! Listening statistics, computed from a user's playback sessions as ABS computes them: the
//! all-time summary its apps show (`/api/me/listening-stats`) and the year in review
//! (`/api/me/stats/year/:year`). Dates are UTC calendar days; "today" is a parameter.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, TimeZone, Utc};
use serde_json::{Value, json};

use crate::model::MediaProgress;
use crate::store::playback::PlaybackSession;

/// How many sessions the summary repeats in full, newest first.
const RECENT_SESSIONS: usize = 10;
/// How many covers the year in review offers of books listened to, and of books finished.
const COVERS_LISTENED: usize = 25;
const COVERS_FINISHED: usize = 5;

/// The UTC calendar day (`YYYY-MM-DD`) and English weekday of an instant, as sessions store them.
pub fn day_of(ms: i64) -> (String, String) {
    let t = Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
    let day = match t.weekday() {
        chrono::Weekday::Mon => "Monday",
        chrono::Weekday::Tue => "Tuesday",
        chrono::Weekday::Wed => "Wednesday",
        chrono::Weekday::Thu => "Thursday",
        chrono::Weekday::Fri => "Friday",
        chrono::Weekday::Sat => "Saturday",
        chrono::Weekday::Sun => "Sunday",
    };
    (t.format("%Y-%m-%d").to_string(), day.to_string())
}

/// The first instant (ms) of `year` and of the year after, UTC; `None` outside ABS's 2000..=9999.
pub fn year_bounds(year: i32) -> Option<(i64, i64)> {
    if !(2000..=9999).contains(&year) {
        return None;
    }
    let start = |y: i32| {
        Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0)
            .single()
            .map(|t| t.timestamp_millis())
    };
    Some((start(year)?, start(year + 1)?))
}

/// ABS's listening summary. `sessions` are newest first; `session_json` renders the recent ones.
pub fn summary(
    sessions: &[PlaybackSession],
    today: &str,
    session_json: impl Fn(&PlaybackSession) -> Value,
) -> Value {
    let mut total = 0.0;
    let mut today_total = 0.0;
    let mut days: BTreeMap<&str, f64> = BTreeMap::new();
    let mut weekdays: BTreeMap<&str, f64> = BTreeMap::new();
    // Items in the order first met (newest session first), so the most recent title wins.
    let mut items: Vec<(&str, f64, &PlaybackSession)> = Vec::new();
    let mut item_slot: HashMap<&str, usize> = HashMap::new();
    for s in sessions {
        let listened = s.time_listening.max(0.0);
        total += listened;
        if !s.day_of_week.is_empty() {
            *weekdays.entry(&s.day_of_week).or_default() += listened;
        }
        if !s.date.is_empty() && listened > 0.0 {
            *days.entry(&s.date).or_default() += listened;
            if s.date == today {
                today_total += listened;
            }
        }
        match item_slot.get(s.item_id.as_str()) {
            Some(&i) => items[i].1 += listened,
            None => {
                item_slot.insert(&s.item_id, items.len());
                items.push((&s.item_id, listened, s));
            }
        }
    }
    let items: serde_json::Map<String, Value> = items
        .into_iter()
        .map(|(id, listened, s)| {
            (
                id.to_string(),
                json!({
                    "id": id,
                    "timeListening": listened,
                    "mediaMetadata": s.media_metadata,
                    "lastUpdate": s.updated_at,
                }),
            )
        })
        .collect();
    json!({
        "totalTime": total,
        "items": items,
        "days": days,
        "dayOfWeek": weekdays,
        "today": today_total,
        "recentSessions": sessions.iter().take(RECENT_SESSIONS).map(session_json).collect::<Vec<_>>(),
    })
}

/// What the year in review needs to know of a book that is still in the library.
pub struct BookFacts {
    pub title: String,
    pub has_cover: bool,
}

/// ABS rounds the year's times to whole seconds and sends them as integers (`Math.round`).
fn whole_seconds(t: f64) -> i64 {
    // `as` saturates on out-of-range floats and maps NaN to 0: no panic on odd stored values.
    t.round() as i64
}

/// A date as JavaScript's `Date#toJSON` writes it (ABS sends database dates that way).
fn iso_time(ms: i64) -> Option<String> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// ABS's year in review. `sessions` started in the year; `finished` are book progress rows
/// finished in the year; `book` says what is known of a library item (None: gone or hidden).
pub fn year_in_review(
    sessions: &[PlaybackSession],
    finished: &[MediaProgress],
    book: impl Fn(&str) -> Option<BookFacts>,
) -> Value {
    let mut finished_covers: Vec<&str> = Vec::new();
    let mut longest: Option<(&MediaProgress, String)> = None;
    let mut num_finished = 0;
    for p in finished {
        let Some(facts) = book(&p.item_id) else {
            continue;
        };
        num_finished += 1;
        if facts.has_cover
            && finished_covers.len() < COVERS_FINISHED
            && !finished_covers.contains(&p.item_id.as_str())
        {
            finished_covers.push(&p.item_id);
        }
        if p.duration > 0.0
            && longest
                .as_ref()
                .is_none_or(|(l, _)| p.duration > l.duration)
        {
            longest = Some((p, facts.title));
        }
    }

    let mut listened_covers: Vec<&str> = Vec::new();
    let mut total = 0.0;
    let mut months: BTreeMap<u32, f64> = BTreeMap::new();
    let mut titles: HashMap<&str, f64> = HashMap::new();
    let mut authors: HashMap<String, f64> = HashMap::new();
    let mut narrators: HashMap<String, f64> = HashMap::new();
    let mut genres: HashMap<String, f64> = HashMap::new();
    for s in sessions {
        let listened = s.time_listening.max(0.0);
        total += listened;
        let month = Utc
            .timestamp_millis_opt(s.started_at)
            .single()
            .map_or(0, |t| t.month0());
        *months.entry(month).or_default() += listened;
        if !s.display_title.is_empty() {
            *titles.entry(&s.display_title).or_default() += listened;
        }
        let names = |key: &str, field: Option<&str>| -> Vec<String> {
            s.media_metadata
                .get(key)
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(|v| match field {
                            Some(f) => v.get(f).and_then(Value::as_str),
                            None => v.as_str(),
                        })
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        for a in names("authors", Some("name")) {
            *authors.entry(a).or_default() += listened;
        }
        for n in names("narrators", None) {
            *narrators.entry(n).or_default() += listened;
        }
        // ABS leaves out the genre most libraries tag everything with.
        for g in names("genres", None) {
            let lower = g.to_lowercase();
            if !g.is_empty() && !lower.contains("audiobook") && !lower.contains("audio book") {
                *genres.entry(g).or_default() += listened;
            }
        }
        if listened_covers.len() < COVERS_LISTENED
            && !listened_covers.contains(&s.item_id.as_str())
            && !finished_covers.contains(&s.item_id.as_str())
            && book(&s.item_id).is_some_and(|b| b.has_cover)
        {
            listened_covers.push(&s.item_id);
        }
    }

    let top = |map: HashMap<String, f64>, key: &str, n: usize| -> Vec<Value> {
        let mut list: Vec<(String, f64)> = map.into_iter().collect();
        list.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        list.into_iter()
            .take(n)
            .map(|(name, time)| json!({ key: name, "time": whole_seconds(time) }))
            .collect()
    };
    let most_month = months
        .iter()
        .filter(|(_, t)| **t > 0.0)
        .max_by(|a, b| a.1.total_cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(m, t)| json!({ "month": m, "time": whole_seconds(*t) }));
    let narrator = top(narrators, "name", 1).into_iter().next();
    json!({
        "totalListeningSessions": sessions.len(),
        "totalListeningTime": whole_seconds(total),
        "totalBookListeningTime": whole_seconds(total),
        "totalPodcastListeningTime": 0,
        "topAuthors": top(authors, "name", 3),
        "topGenres": top(genres, "genre", 3),
        "mostListenedNarrator": narrator,
        "mostListenedMonth": most_month,
        "numBooksFinished": num_finished,
        "numBooksListened": titles.len(),
        "longestAudiobookFinished": longest.map(|(p, title)| json!({
            "id": p.media_item_id,
            "title": title,
            "duration": whole_seconds(p.duration),
            "finishedAt": p.finished_at.and_then(iso_time),
        })),
        "booksWithCovers": listened_covers,
        "finishedBooksWithCovers": finished_covers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(
        item: &str,
        date: &str,
        day: &str,
        listened: f64,
        started_at: i64,
    ) -> PlaybackSession {
        PlaybackSession {
            id: format!("{item}-{date}-{listened}"),
            item_id: item.into(),
            display_title: format!("Title {item}"),
            date: date.into(),
            day_of_week: day.into(),
            time_listening: listened,
            started_at,
            updated_at: started_at,
            media_metadata: json!({
                "authors": [{"id": "a1", "name": "Ann Author"}],
                "narrators": ["Ned Narrator"],
                "genres": ["Audiobook", "Fantasy"],
            }),
            ..PlaybackSession::default()
        }
    }

    #[test]
    fn day_of_is_utc() {
        // 2026-12-01T23:30:00Z is a Tuesday.
        assert_eq!(
            day_of(1_796_167_800_000),
            ("2026-12-01".to_string(), "Tuesday".to_string())
        );
    }

    #[test]
    fn year_bounds_follow_abs_limits() {
        assert_eq!(year_bounds(1999), None);
        assert_eq!(year_bounds(10_000), None);
        let (start, end) = year_bounds(2026).expect("in range");
        assert_eq!(day_of(start).0, "2026-01-01");
        assert_eq!(day_of(end - 1).0, "2026-12-31");
    }

    #[test]
    fn summary_adds_up_by_day_weekday_and_item() {
        let sessions = vec![
            session("i1", "2026-12-01", "Tuesday", 60.0, 3),
            session("i2", "2026-12-01", "Tuesday", 30.0, 2),
            session("i1", "2026-11-30", "Monday", 15.0, 1),
            session("i3", "2026-11-29", "Sunday", 0.0, 0),
        ];
        let v = summary(&sessions, "2026-12-01", |s| json!(s.id));
        assert_eq!(v["totalTime"], json!(105.0));
        assert_eq!(v["today"], json!(90.0));
        assert_eq!(v["days"]["2026-12-01"], json!(90.0));
        assert_eq!(v["days"]["2026-11-30"], json!(15.0));
        assert!(
            v["days"].get("2026-11-29").is_none(),
            "a day with no listening is left out"
        );
        assert_eq!(v["dayOfWeek"]["Tuesday"], json!(90.0));
        assert_eq!(v["items"]["i1"]["timeListening"], json!(75.0));
        assert_eq!(v["items"]["i1"]["lastUpdate"], json!(3));
        assert_eq!(v["recentSessions"].as_array().map(Vec::len), Some(4));
    }

    #[test]
    fn year_in_review_ranks_and_skips_missing_books() {
        let (start, _) = year_bounds(2026).expect("in range");
        let march = start + 70 * 86_400_000;
        let sessions = vec![
            session("i1", "", "", 100.0, march),
            session("i2", "", "", 50.0, start),
        ];
        let finished = vec![
            MediaProgress {
                item_id: "i1".into(),
                media_item_id: "b1".into(),
                duration: 3600.4,
                finished_at: Some(march),
                ..MediaProgress::default()
            },
            MediaProgress {
                item_id: "gone".into(),
                duration: 9999.0,
                ..MediaProgress::default()
            },
        ];
        let v = year_in_review(&sessions, &finished, |id| match id {
            "i1" => Some(BookFacts {
                title: "One".into(),
                has_cover: true,
            }),
            "i2" => Some(BookFacts {
                title: "Two".into(),
                has_cover: true,
            }),
            _ => None,
        });
        assert_eq!(v["totalListeningTime"], json!(150));
        assert_eq!(v["numBooksFinished"], json!(1));
        assert_eq!(v["numBooksListened"], json!(2));
        assert_eq!(v["longestAudiobookFinished"]["id"], json!("b1"));
        assert_eq!(v["longestAudiobookFinished"]["duration"], json!(3600));
        assert_eq!(
            v["longestAudiobookFinished"]["finishedAt"],
            json!("2026-03-12T00:00:00.000Z")
        );
        assert_eq!(v["mostListenedMonth"], json!({ "month": 2, "time": 100 }));
        assert_eq!(
            v["topAuthors"],
            json!([{ "name": "Ann Author", "time": 150 }])
        );
        assert_eq!(v["topGenres"], json!([{ "genre": "Fantasy", "time": 150 }]));
        assert_eq!(v["mostListenedNarrator"]["name"], json!("Ned Narrator"));
        assert_eq!(v["finishedBooksWithCovers"], json!(["i1"]));
        assert_eq!(v["booksWithCovers"], json!(["i2"]));
    }
}
