//! When to back up and what to keep. The decisions are pure functions of a timestamp list and a
//! `now` so tests drive them with synthetic time; `run_scheduler` is the thin loop around them.

use std::collections::BTreeSet;

use anyhow::bail;
use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};

/// A 5-field cron expression (minute hour day-of-month month day-of-week), evaluated in UTC.
/// Supports `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists, and `@hourly`, `@daily`,
/// `@weekly`, `@monthly`. As in classic cron, when both day fields are restricted either may match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    days_any: bool,
    weekdays_any: bool,
}

impl std::str::FromStr for CronSchedule {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<CronSchedule> {
        let expanded = match s.trim() {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [min, hour, dom, mon, dow] = fields[..] else {
            bail!(
                "backup_schedule {s:?} must have 5 fields: minute hour day-of-month month day-of-week"
            );
        };
        let mut weekdays = field(dow, 0, 7, "day-of-week")?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1; // 7 is another name for Sunday
        }
        Ok(CronSchedule {
            minutes: field(min, 0, 59, "minute")?,
            hours: field(hour, 0, 23, "hour")?,
            days: field(dom, 1, 31, "day-of-month")?,
            months: field(mon, 1, 12, "month")?,
            weekdays,
            days_any: dom == "*",
            weekdays_any: dow == "*",
        })
    }
}

fn field(spec: &str, lo: u32, hi: u32, what: &str) -> anyhow::Result<u64> {
    let mut bits = 0u64;
    for part in spec.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0)),
            None => (part, Some(1)),
        };
        let Some(step) = step else {
            bail!("bad step in {what} field {spec:?}");
        };
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (num(a, what)?, num(b, what)?)
        } else {
            let a = num(range, what)?;
            (a, if part.contains('/') { hi } else { a })
        };
        if a < lo || b > hi || a > b {
            bail!("{what} field {spec:?} is outside {lo}-{hi}");
        }
        for v in (a..=b).step_by(step as usize) {
            bits |= 1 << v;
        }
    }
    Ok(bits)
}

fn num(s: &str, what: &str) -> anyhow::Result<u32> {
    s.parse()
        .map_err(|_| anyhow::anyhow!("{what} field has {s:?}, which is not a number"))
}

impl CronSchedule {
    fn day_matches(&self, t: &DateTime<Utc>) -> bool {
        let dom = self.days & (1 << t.day()) != 0;
        let dow = self.weekdays & (1 << t.weekday().num_days_from_sunday()) != 0;
        match (self.days_any, self.weekdays_any) {
            (true, true) => true,
            (false, true) => dom,
            (true, false) => dow,
            (false, false) => dom || dow,
        }
    }

    /// The first matching minute strictly after `after`; `None` if none within five years
    /// (e.g. `0 0 31 2 *`).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = after.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
        let limit = start + Duration::days(5 * 366);
        let mut t = start;
        while t < limit {
            if self.months & (1 << t.month()) == 0 {
                let (y, m) = if t.month() == 12 {
                    (t.year() + 1, 1)
                } else {
                    (t.year(), t.month() + 1)
                };
                t = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single()?;
            } else if !self.day_matches(&t) {
                t = (t + Duration::days(1)).with_hour(0)?.with_minute(0)?;
            } else if self.hours & (1 << t.hour()) == 0 {
                t = (t + Duration::hours(1)).with_minute(0)?;
            } else if self.minutes & (1 << t.minute()) == 0 {
                t += Duration::minutes(1);
            } else {
                return Some(t);
            }
        }
        None
    }
}

/// Keep the N newest backups, plus the newest backup of each of the last N days, ISO weeks and
/// months that have one (restic's rule: a month without backups does not use up a slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Protects a manual backup taken just before a scheduled one on the same day.
    pub last: u32,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
}

impl RetentionPolicy {
    /// All zero means retention is off: nothing is ever deleted.
    pub fn is_off(&self) -> bool {
        self.last == 0 && self.daily == 0 && self.weekly == 0 && self.monthly == 0
    }
}

/// Which day / week / month (or, for keep-last, which instant) a backup falls in.
type BucketOf = fn(&DateTime<Utc>) -> (i64, i64);

/// The timestamps to keep. The newest backup is always kept, and so is anything dated after `now`
/// (a clock that jumped back must not make fresh backups look stale and delete older ones).
pub fn to_keep(times: &[i64], now_ms: i64, policy: &RetentionPolicy) -> BTreeSet<i64> {
    let mut sorted: Vec<i64> = times.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    if policy.is_off() {
        return sorted.into_iter().collect();
    }
    let mut keep: BTreeSet<i64> = sorted.iter().copied().filter(|t| *t > now_ms).collect();
    if let Some(newest) = sorted.first() {
        keep.insert(*newest);
    }
    let buckets: [(u32, BucketOf); 4] = [
        (policy.last, |t| (t.timestamp_millis(), 0)),
        (policy.daily, |t| (t.year().into(), t.ordinal().into())),
        (policy.weekly, |t| {
            (t.iso_week().year().into(), t.iso_week().week().into())
        }),
        (policy.monthly, |t| (t.year().into(), t.month().into())),
    ];
    for (n, bucket_of) in buckets {
        let mut last = None;
        let mut used = 0;
        for &ms in sorted.iter().filter(|t| **t <= now_ms) {
            if used >= n {
                break;
            }
            let Some(t) = DateTime::from_timestamp_millis(ms) else {
                continue;
            };
            let b = bucket_of(&t);
            if last != Some(b) {
                keep.insert(ms);
                last = Some(b);
                used += 1;
            }
        }
    }
    keep
}

/// Splits file names into (keep, delete). Names that are not our backups are in neither list.
pub fn prune_plan(
    names: &[String],
    now_ms: i64,
    policy: &RetentionPolicy,
) -> (Vec<String>, Vec<String>) {
    let dated: Vec<(i64, &String)> = names
        .iter()
        .filter_map(|n| super::parse_backup_file_name(n).map(|t| (t, n)))
        .collect();
    let times: Vec<i64> = dated.iter().map(|(t, _)| *t).collect();
    let keep = to_keep(&times, now_ms, policy);
    let (k, d): (Vec<_>, Vec<_>) = dated.into_iter().partition(|(t, _)| keep.contains(t));
    (
        k.into_iter().map(|(_, n)| n.clone()).collect(),
        d.into_iter().map(|(_, n)| n.clone()).collect(),
    )
}

pub use super::runner::run_scheduler;

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn next(cron: &str, after: &str) -> String {
        let c: CronSchedule = cron.parse().expect("cron");
        c.next_after(at(after)).expect("next").to_rfc3339()
    }

    #[test]
    fn cron_next_times() {
        assert_eq!(
            next("30 1 * * *", "2026-03-01T01:29:59Z"),
            "2026-03-01T01:30:00+00:00"
        );
        assert_eq!(
            next("30 1 * * *", "2026-03-01T01:30:00Z"),
            "2026-03-02T01:30:00+00:00"
        );
        assert_eq!(
            next("*/15 * * * *", "2026-03-01T10:16:00Z"),
            "2026-03-01T10:30:00+00:00"
        );
        assert_eq!(
            next("0 3 * * 0", "2026-03-02T00:00:00Z"),
            "2026-03-08T03:00:00+00:00"
        ); // Sunday
        assert_eq!(
            next("0 3 * * 7", "2026-03-02T00:00:00Z"),
            "2026-03-08T03:00:00+00:00"
        );
        assert_eq!(
            next("0 0 1 * *", "2026-12-15T00:00:00Z"),
            "2027-01-01T00:00:00+00:00"
        );
        assert_eq!(
            next("0 0 29 2 *", "2026-03-01T00:00:00Z"),
            "2028-02-29T00:00:00+00:00"
        );
        assert_eq!(
            next("@daily", "2026-03-01T23:59:00Z"),
            "2026-03-02T00:00:00+00:00"
        );
        assert_eq!(
            next("0 12 1-7 * 1-5", "2026-03-07T13:00:00Z"),
            "2026-03-09T12:00:00+00:00"
        );
        let never: CronSchedule = "0 0 31 2 *".parse().expect("cron");
        assert_eq!(never.next_after(at("2026-01-01T00:00:00Z")), None);
        for bad in [
            "",
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "*/0 * * * *",
            "a * * * *",
            "5-1 * * * *",
        ] {
            assert!(bad.parse::<CronSchedule>().is_err(), "{bad:?}");
        }
    }

    fn ms(s: &str) -> i64 {
        at(s).timestamp_millis()
    }

    #[test]
    fn retention_keeps_daily_weekly_monthly() {
        let now = ms("2026-06-30T12:00:00Z");
        // One backup a day at 01:30 for 120 days, plus a second one on the newest day.
        let mut times: Vec<i64> = (0..120)
            .map(|d| ms("2026-06-30T01:30:00Z") - d * 86_400_000)
            .collect();
        times.push(ms("2026-06-30T02:30:00Z"));
        let p = RetentionPolicy {
            last: 0,
            daily: 7,
            weekly: 4,
            monthly: 3,
        };
        let keep = to_keep(&times, now, &p);
        let days: BTreeSet<String> = keep
            .iter()
            .map(|t| {
                DateTime::from_timestamp_millis(*t)
                    .expect("t")
                    .format("%m-%d %H")
                    .to_string()
            })
            .collect();
        // 7 days: Jun 24..30 (newest of the 30th is 02:30); weeks: Sundays Jun 28, 21, 14 (+ this
        // week's newest); months: Jun 30, May 31, Apr 30.
        let expected: BTreeSet<String> = [
            "06-30 02", "06-29 01", "06-28 01", "06-27 01", "06-26 01", "06-25 01", "06-24 01",
            "06-21 01", "06-14 01", "05-31 01", "04-30 01",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(days, expected);
    }

    #[test]
    fn retention_never_deletes_the_newest_or_future_or_when_off() {
        let now = ms("2026-06-30T12:00:00Z");
        let times = vec![
            ms("2026-01-01T00:00:00Z"),
            ms("2026-02-01T00:00:00Z"),
            ms("2027-01-01T00:00:00Z"),
        ];
        let p = RetentionPolicy {
            last: 0,
            daily: 0,
            weekly: 0,
            monthly: 0,
        };
        assert_eq!(to_keep(&times, now, &p).len(), 3);
        let p = RetentionPolicy {
            last: 0,
            daily: 1,
            weekly: 0,
            monthly: 0,
        };
        let keep = to_keep(&times, now, &p);
        assert!(keep.contains(&ms("2027-01-01T00:00:00Z")), "future kept");
        assert!(
            keep.contains(&ms("2026-02-01T00:00:00Z")),
            "newest past kept"
        );
        assert!(!keep.contains(&ms("2026-01-01T00:00:00Z")));
    }

    #[test]
    fn prune_plan_ignores_foreign_files() {
        let names: Vec<String> = [
            "shelfwarden-20260101-000000.swbak",
            "shelfwarden-20260102-000000.swbak",
            "my-notes.txt",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let p = RetentionPolicy {
            last: 0,
            daily: 1,
            weekly: 0,
            monthly: 0,
        };
        let (keep, delete) = prune_plan(&names, ms("2026-01-03T00:00:00Z"), &p);
        assert_eq!(keep, vec!["shelfwarden-20260102-000000.swbak".to_string()]);
        assert_eq!(
            delete,
            vec!["shelfwarden-20260101-000000.swbak".to_string()]
        );
    }
}
