//! When to renew. Pure functions of the current time so they are tested without waiting.

use std::time::Duration;

use super::der::CertInfo;

const DAY: i64 = 86_400;

/// How long before expiry renewal starts: the configured days, or else 30 days or a third of the
/// lifetime, whichever is less (so a 6-day certificate is not "due" from birth).
pub fn margin_secs(info: &CertInfo, renew_before_days: Option<u32>) -> i64 {
    match renew_before_days {
        Some(days) => i64::from(days) * DAY,
        None => {
            let lifetime = (info.not_after - info.not_before).max(0);
            (30 * DAY).min(lifetime / 3)
        }
    }
}

pub fn is_due(now: i64, info: &CertInfo, renew_before_days: Option<u32>) -> bool {
    now >= info.not_after - margin_secs(info, renew_before_days)
}

/// How long to sleep before looking again. A certificate that is due right after being issued
/// (a margin longer than the CA's lifetime) waits a full interval rather than spinning.
pub fn next_check(
    now: i64,
    info: &CertInfo,
    renew_before_days: Option<u32>,
    check_interval: Duration,
) -> Duration {
    let until = info.not_after - margin_secs(info, renew_before_days) - now;
    if until <= 0 {
        return check_interval;
    }
    Duration::from_secs(until.unsigned_abs()).min(check_interval)
}

/// Back-off after failed attempts: 5 s doubling, at most an hour, never above the check interval.
pub fn retry_delay(failures: u32, check_interval: Duration) -> Duration {
    let secs = 5u64.saturating_mul(1u64 << failures.min(16));
    Duration::from_secs(secs.min(3600)).min(check_interval.max(Duration::from_secs(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(not_before: i64, days: i64) -> CertInfo {
        CertInfo {
            serial: vec![1],
            not_before,
            not_after: not_before + days * DAY,
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn ninety_day_certificate_renews_with_thirty_days_left() {
        let c = cert(0, 90);
        assert!(!is_due(59 * DAY, &c, None));
        assert!(is_due(60 * DAY, &c, None));
        assert!(is_due(100 * DAY, &c, None));
    }

    #[test]
    fn short_certificate_renews_at_two_thirds() {
        let c = cert(0, 6);
        assert!(!is_due(3 * DAY, &c, None));
        assert!(is_due(4 * DAY, &c, None));
        let long = cert(0, 365);
        assert!(!is_due(300 * DAY, &long, None));
        assert!(is_due(335 * DAY, &long, None));
    }

    #[test]
    fn configured_margin_wins() {
        let c = cert(0, 90);
        assert!(is_due(0, &c, Some(100)));
        assert!(!is_due(79 * DAY, &c, Some(10)));
        assert!(is_due(80 * DAY, &c, Some(10)));
    }

    #[test]
    fn next_check_is_bounded_by_interval_and_due_time() {
        let c = cert(0, 90);
        assert_eq!(next_check(0, &c, None, HOUR), HOUR);
        assert_eq!(
            next_check(60 * DAY - 10, &c, None, HOUR),
            Duration::from_secs(10)
        );
        // Due already: wait the interval instead of spinning.
        assert_eq!(next_check(0, &c, Some(1000), HOUR), HOUR);
    }

    #[test]
    fn retries_back_off() {
        let day = Duration::from_secs(86_400);
        assert_eq!(retry_delay(0, day), Duration::from_secs(5));
        assert_eq!(retry_delay(3, day), Duration::from_secs(40));
        assert_eq!(retry_delay(30, day), HOUR);
        assert_eq!(
            retry_delay(3, Duration::from_secs(2)),
            Duration::from_secs(2)
        );
    }
}
