//! Brute-force protection for every credential route, as two independent limits:
//!
//! * **per client IP**: ABS's `RATE_LIMIT_AUTH_MAX` / `RATE_LIMIT_AUTH_WINDOW` (a fixed window per
//!   key) but counting failures only, so a household behind one NAT is not locked out by its own
//!   successful logins. Successes never reset it: an attacker holding one valid account could
//!   otherwise wash their IP's counter between guesses.
//! * **per account**, across all IPs (Kanidm's softlock): after a few free failures every failure
//!   locks the account for an escalating delay, capped, so rotating IPs buys nothing. With the
//!   defaults an account sees at most ~70 password checks in its first hour under attack and 60 an
//!   hour after that (ASVS 2.2.1 asks for ≤ 100). A device that has logged in before is exempt, so
//!   the owner is never locked out by somebody else's guessing.
//!
//! No oracle: call [`Throttle::check_account`] *before* verifying the password. While it says
//! `Locked`, answer exactly as for a wrong password without verifying, and do not call
//! `record_success` (a right password during a lock must not unlock it). Attempts during a lock do
//! not escalate it: they learn nothing, so they need not cost the owner anything either.
//!
//! The functions at the top are a pure state machine (time is a parameter); [`Throttle`] is the
//! shared facade with a write-through cache over the `throttle_state` table.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::store::{Store, StoreResult, throttle as db};

/// Tunables. `Default` is Shelfwarden's secure default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures per IP per window before 429; 0 disables the per-IP limit (ABS semantics).
    pub ip_max_failures: u32,
    pub ip_window_ms: i64,
    /// Failures an account absorbs before the softlock starts.
    pub account_free_failures: u32,
    /// First lock; each further failure doubles it up to `account_max_delay_ms`.
    pub account_base_delay_ms: i64,
    /// The cap, which is what bounds the hourly budget (3_600_000 / cap tries per hour).
    pub account_max_delay_ms: i64,
    /// A quiet period with no failures after which the account's count starts from zero.
    pub account_reset_after_ms: i64,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            ip_max_failures: 10,
            ip_window_ms: 600_000,
            account_free_failures: 5,
            account_base_delay_ms: 1_000,
            account_max_delay_ms: 60_000,
            account_reset_after_ms: 3_600_000,
        }
    }
}

impl ThrottleConfig {
    /// Applies ABS's env values (`RATE_LIMIT_AUTH_MAX`, `RATE_LIMIT_AUTH_WINDOW` in ms) when set.
    pub fn with_abs_env(
        mut self,
        max: Option<&str>,
        window_ms: Option<&str>,
    ) -> Result<Self, String> {
        if let Some(m) = max {
            self.ip_max_failures = m
                .trim()
                .parse()
                .map_err(|_| format!("RATE_LIMIT_AUTH_MAX={m:?} is not a non-negative integer"))?;
        }
        if let Some(w) = window_ms {
            let w: i64 = w
                .trim()
                .parse()
                .map_err(|_| format!("RATE_LIMIT_AUTH_WINDOW={w:?} is not an integer (ms)"))?;
            if w <= 0 {
                return Err("RATE_LIMIT_AUTH_WINDOW must be positive".into());
            }
            self.ip_window_ms = w;
        }
        Ok(self)
    }

    /// True when the per-IP limit is off.
    pub fn ip_limit_disabled(&self) -> bool {
        self.ip_max_failures == 0
    }

    /// Startup guard: `RATE_LIMIT_AUTH_MAX=0` is only for a loopback bind unless `forced`.
    pub fn check_startup(&self, bind: IpAddr, forced: bool) -> Result<(), String> {
        if self.ip_limit_disabled() && !bind.is_loopback() && !forced {
            return Err(format!(
                "RATE_LIMIT_AUTH_MAX=0 turns off login rate limiting, and {bind} is reachable from \
                 other machines; set a limit, bind to loopback, or force it explicitly"
            ));
        }
        Ok(())
    }
}

/// What the `RateLimit-*` headers of an allowed credential request say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpStatus {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window resets (the whole window when nothing has failed yet).
    pub reset_secs: u64,
}

pub fn ip_status(state: Option<&IpState>, cfg: &ThrottleConfig, now_ms: i64) -> IpStatus {
    match state {
        Some(s) if ip_live(s, cfg, now_ms) => IpStatus {
            limit: cfg.ip_max_failures,
            remaining: cfg.ip_max_failures.saturating_sub(s.failures),
            reset_secs: secs_until(s.window_start_ms + cfg.ip_window_ms, now_ms),
        },
        _ => IpStatus {
            limit: cfg.ip_max_failures,
            remaining: cfg.ip_max_failures,
            reset_secs: secs_until(now_ms + cfg.ip_window_ms, now_ms),
        },
    }
}

/// The per-IP answer, mapped to 429 with `Retry-After` / `RateLimit-*` by [`Decision::into_error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Throttled { retry_after_secs: u64, limit: u32 },
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow)
    }

    /// The ABS 429 body, or None when allowed.
    pub fn into_error(self) -> Option<AppError> {
        match self {
            Decision::Allow => None,
            Decision::Throttled {
                retry_after_secs,
                limit,
            } => Some(AppError::TooManyRequests {
                retry_after_secs,
                limit,
                message: "Too many authentication requests".into(),
            }),
        }
    }
}

/// The per-account answer. `Locked` must be answered like a wrong password (no oracle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountDecision {
    Allow,
    Locked { retry_after_secs: u64 },
}

impl AccountDecision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, AccountDecision::Allow)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IpState {
    pub window_start_ms: i64,
    pub failures: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AccountState {
    pub failures: u32,
    pub last_failure_ms: i64,
    pub locked_until_ms: i64,
}

fn secs_until(until_ms: i64, now_ms: i64) -> u64 {
    // Round up so a client that waits Retry-After seconds is never refused again.
    u64::try_from((until_ms - now_ms).max(0))
        .unwrap_or(0)
        .div_ceil(1000)
}

fn ip_live(s: &IpState, cfg: &ThrottleConfig, now_ms: i64) -> bool {
    now_ms < s.window_start_ms.saturating_add(cfg.ip_window_ms) && now_ms >= s.window_start_ms
}

pub fn ip_check(state: Option<&IpState>, cfg: &ThrottleConfig, now_ms: i64) -> Decision {
    match state {
        Some(s)
            if cfg.ip_max_failures > 0
                && ip_live(s, cfg, now_ms)
                && s.failures >= cfg.ip_max_failures =>
        {
            Decision::Throttled {
                retry_after_secs: secs_until(s.window_start_ms + cfg.ip_window_ms, now_ms),
                limit: cfg.ip_max_failures,
            }
        }
        _ => Decision::Allow,
    }
}

pub fn ip_failure(state: Option<IpState>, cfg: &ThrottleConfig, now_ms: i64) -> IpState {
    match state {
        Some(s) if ip_live(&s, cfg, now_ms) => IpState {
            failures: s.failures.saturating_add(1),
            ..s
        },
        _ => IpState {
            window_start_ms: now_ms,
            failures: 1,
        },
    }
}

/// True when the state no longer affects any decision and can be forgotten.
pub fn ip_expired(s: &IpState, cfg: &ThrottleConfig, now_ms: i64) -> bool {
    !ip_live(s, cfg, now_ms)
}

fn account_live(s: &AccountState, cfg: &ThrottleConfig, now_ms: i64) -> bool {
    now_ms < s.locked_until_ms
        || (now_ms >= s.last_failure_ms
            && now_ms < s.last_failure_ms.saturating_add(cfg.account_reset_after_ms))
}

pub fn account_check(
    state: Option<&AccountState>,
    known_device: bool,
    now_ms: i64,
) -> AccountDecision {
    match state {
        Some(s) if !known_device && now_ms < s.locked_until_ms => AccountDecision::Locked {
            retry_after_secs: secs_until(s.locked_until_ms, now_ms),
        },
        _ => AccountDecision::Allow,
    }
}

pub fn account_failure(
    state: Option<AccountState>,
    cfg: &ThrottleConfig,
    now_ms: i64,
) -> AccountState {
    let mut s = state
        .filter(|s| account_live(s, cfg, now_ms))
        .unwrap_or_default();
    if now_ms < s.locked_until_ms {
        return s;
    }
    s.failures = s.failures.saturating_add(1);
    s.last_failure_ms = now_ms;
    if s.failures > cfg.account_free_failures {
        let step = (s.failures - cfg.account_free_failures - 1).min(30);
        let delay = cfg
            .account_base_delay_ms
            .saturating_mul(1_i64 << step)
            .min(cfg.account_max_delay_ms);
        s.locked_until_ms = now_ms.saturating_add(delay);
    }
    s
}

/// A verified login: forget the failures, unless the account is locked (a known device may log in
/// during a lock, but that must not hand the attacker a fresh budget).
pub fn account_success(state: Option<AccountState>, now_ms: i64) -> Option<AccountState> {
    state.filter(|s| now_ms < s.locked_until_ms)
}

pub fn account_expired(s: &AccountState, cfg: &ThrottleConfig, now_ms: i64) -> bool {
    !account_live(s, cfg, now_ms)
}

/// IPv6 clients are limited per /64: one host usually owns a whole /64 and could rotate through it.
pub fn ip_key(ip: IpAddr) -> String {
    match crate::auth::client_ip::canonical(ip) {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// Accounts are keyed by lower-cased username whether or not the user exists, so locking behaves
/// the same for unknown names (no user enumeration).
pub fn account_key(username: &str) -> String {
    format!("acct:{}", username.trim().to_lowercase())
}

#[derive(Default)]
struct Cache {
    ips: HashMap<String, IpState>,
    accounts: HashMap<String, AccountState>,
}

/// Past this many tracked keys a failure first sweeps out expired ones, so memory stays bounded
/// without relying on the periodic `prune`.
const MAX_ENTRIES_BEFORE_PRUNE: usize = 50_000;

/// A pending write: the new state JSON, or None to delete the row.
type Change = (String, Option<String>);

/// The shared throttle: in-memory state, written through to the store on every change.
pub struct Throttle {
    cfg: ThrottleConfig,
    store: Option<Store>,
    cache: Mutex<Cache>,
}

impl Throttle {
    /// Loads persisted state (dropping what has expired by `now_ms`).
    pub fn load(cfg: ThrottleConfig, store: Store, now_ms: i64) -> StoreResult<Throttle> {
        let rows = store.read_blocking(db::load_all)?;
        let mut cache = Cache::default();
        for (key, json) in rows {
            if key.starts_with("ip:") {
                if let Ok(s) = serde_json::from_str::<IpState>(&json)
                    && !ip_expired(&s, &cfg, now_ms)
                {
                    cache.ips.insert(key, s);
                }
            } else if key.starts_with("acct:")
                && let Ok(s) = serde_json::from_str::<AccountState>(&json)
                && !account_expired(&s, &cfg, now_ms)
            {
                cache.accounts.insert(key, s);
            }
        }
        Ok(Throttle {
            cfg,
            store: Some(store),
            cache: Mutex::new(cache),
        })
    }

    /// No persistence; for tests and tools.
    pub fn in_memory(cfg: ThrottleConfig) -> Throttle {
        Throttle {
            cfg,
            store: None,
            cache: Mutex::new(Cache::default()),
        }
    }

    pub fn config(&self) -> &ThrottleConfig {
        &self.cfg
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        // The cache is plain data that is never left half-updated, so a poisoned lock is still usable.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn check_ip(&self, ip: IpAddr, now_ms: i64) -> Decision {
        ip_check(self.cache().ips.get(&ip_key(ip)), &self.cfg, now_ms)
    }

    /// For `RateLimit-Limit` / `-Remaining` / `-Reset` on allowed responses.
    pub fn ip_status(&self, ip: IpAddr, now_ms: i64) -> IpStatus {
        ip_status(self.cache().ips.get(&ip_key(ip)), &self.cfg, now_ms)
    }

    pub fn check_account(
        &self,
        username: &str,
        known_device: bool,
        now_ms: i64,
    ) -> AccountDecision {
        account_check(
            self.cache().accounts.get(&account_key(username)),
            known_device,
            now_ms,
        )
    }

    fn apply_failure(&self, ip: IpAddr, account: Option<&str>, now_ms: i64) -> Vec<Change> {
        let mut changes = if self.entries() >= MAX_ENTRIES_BEFORE_PRUNE {
            self.apply_prune(now_ms)
        } else {
            Vec::new()
        };
        let mut cache = self.cache();
        let key = ip_key(ip);
        let s = ip_failure(cache.ips.get(&key).copied(), &self.cfg, now_ms);
        cache.ips.insert(key.clone(), s);
        changes.push((key, serde_json::to_string(&s).ok()));
        if let Some(name) = account {
            let key = account_key(name);
            let s = account_failure(cache.accounts.get(&key).copied(), &self.cfg, now_ms);
            cache.accounts.insert(key.clone(), s);
            changes.push((key, serde_json::to_string(&s).ok()));
        }
        changes
    }

    fn entries(&self) -> usize {
        let cache = self.cache();
        cache.ips.len() + cache.accounts.len()
    }

    fn apply_success(&self, account: &str, now_ms: i64) -> Vec<Change> {
        let mut cache = self.cache();
        let key = account_key(account);
        let Some(old) = cache.accounts.get(&key).copied() else {
            return Vec::new();
        };
        match account_success(Some(old), now_ms) {
            Some(kept) => {
                cache.accounts.insert(key, kept);
                Vec::new()
            }
            None => {
                cache.accounts.remove(&key);
                vec![(key, None)]
            }
        }
    }

    fn apply_prune(&self, now_ms: i64) -> Vec<Change> {
        let mut cache = self.cache();
        let cfg = &self.cfg;
        let mut gone: Vec<Change> = Vec::new();
        cache.ips.retain(|k, s| {
            let keep = !ip_expired(s, cfg, now_ms);
            if !keep {
                gone.push((k.clone(), None));
            }
            keep
        });
        cache.accounts.retain(|k, s| {
            let keep = !account_expired(s, cfg, now_ms);
            if !keep {
                gone.push((k.clone(), None));
            }
            keep
        });
        gone
    }

    /// A failed credential check (wrong password, unknown user, or any attempt refused during a
    /// softlock). `account` is the username tried, if the route names one.
    pub async fn record_failure(
        &self,
        ip: IpAddr,
        account: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<()> {
        let changes = self.apply_failure(ip, account, now_ms);
        self.persist(changes, now_ms).await
    }

    /// A verified login for `account` (not to be called while `check_account` says Locked).
    pub async fn record_success(&self, account: &str, now_ms: i64) -> StoreResult<()> {
        let changes = self.apply_success(account, now_ms);
        self.persist(changes, now_ms).await
    }

    /// Forgets expired state; run it now and then (e.g. hourly) to bound memory and the table.
    pub async fn prune(&self, now_ms: i64) -> StoreResult<usize> {
        let changes = self.apply_prune(now_ms);
        let n = changes.len();
        self.persist(changes, now_ms).await?;
        Ok(n)
    }

    pub fn record_failure_blocking(
        &self,
        ip: IpAddr,
        account: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<()> {
        let changes = self.apply_failure(ip, account, now_ms);
        self.persist_blocking(changes, now_ms)
    }

    pub fn record_success_blocking(&self, account: &str, now_ms: i64) -> StoreResult<()> {
        let changes = self.apply_success(account, now_ms);
        self.persist_blocking(changes, now_ms)
    }

    pub fn prune_blocking(&self, now_ms: i64) -> StoreResult<usize> {
        let changes = self.apply_prune(now_ms);
        let n = changes.len();
        self.persist_blocking(changes, now_ms)?;
        Ok(n)
    }

    async fn persist(&self, changes: Vec<Change>, now_ms: i64) -> StoreResult<()> {
        match &self.store {
            Some(store) if !changes.is_empty() => {
                store
                    .write(move |tx| write_changes(tx, &changes, now_ms))
                    .await
            }
            _ => Ok(()),
        }
    }

    fn persist_blocking(&self, changes: Vec<Change>, now_ms: i64) -> StoreResult<()> {
        match &self.store {
            Some(store) if !changes.is_empty() => {
                store.write_blocking(|tx| write_changes(tx, &changes, now_ms))
            }
            _ => Ok(()),
        }
    }
}

fn write_changes(conn: &rusqlite::Connection, changes: &[Change], now_ms: i64) -> StoreResult<()> {
    for (key, state) in changes {
        match state {
            Some(json) => db::put(conn, key, json, now_ms)?,
            None => db::delete(conn, key)?,
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 3_600_000;
    const T0: i64 = 1_800_000_000_000;

    fn ip(i: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(0xC633_6400 + i)) // 198.51.100.0 + i
    }

    /// One login attempt as a handler must run it; returns whether the password was checked.
    fn attempt(
        t: &Throttle,
        from: IpAddr,
        user: &str,
        known: bool,
        right: bool,
        now: i64,
    ) -> Outcome {
        if !t.check_ip(from, now).is_allowed() {
            return Outcome::IpThrottled;
        }
        if !t.check_account(user, known, now).is_allowed() {
            t.record_failure_blocking(from, Some(user), now).unwrap();
            return Outcome::Denied;
        }
        if right {
            t.record_success_blocking(user, now).unwrap();
            Outcome::LoggedIn
        } else {
            t.record_failure_blocking(from, Some(user), now).unwrap();
            Outcome::Checked
        }
    }

    #[derive(Debug, PartialEq, Eq)]
    enum Outcome {
        IpThrottled,
        Denied,
        Checked,
        LoggedIn,
    }

    #[test]
    fn ip_limit_counts_failures_in_a_fixed_window() {
        let cfg = ThrottleConfig::default();
        let t = Throttle::in_memory(cfg);
        let a = ip(1);
        for i in 0..10 {
            assert!(t.check_ip(a, T0 + i).is_allowed());
            t.record_failure_blocking(a, None, T0 + i).unwrap();
        }
        assert_eq!(
            t.check_ip(a, T0 + 10),
            Decision::Throttled {
                retry_after_secs: 600,
                limit: 10
            }
        );
        assert!(
            t.check_ip(ip(2), T0 + 10).is_allowed(),
            "other IPs unaffected"
        );
        // Successes do not wash the counter.
        t.record_success_blocking("someone", T0 + 20).unwrap();
        assert!(!t.check_ip(a, T0 + 5 * MIN).is_allowed());
        // Window expiry.
        assert!(t.check_ip(a, T0 + 10 * MIN).is_allowed());
        t.record_failure_blocking(a, None, T0 + 10 * MIN).unwrap();
        assert!(t.check_ip(a, T0 + 10 * MIN + 1).is_allowed());
    }

    #[test]
    fn ip_limit_zero_disables_and_abs_env_parses() {
        let cfg = ThrottleConfig::default()
            .with_abs_env(Some("0"), Some("15000"))
            .unwrap();
        assert!(cfg.ip_limit_disabled());
        assert_eq!(cfg.ip_window_ms, 15_000);
        let t = Throttle::in_memory(cfg);
        for i in 0..100 {
            t.record_failure_blocking(ip(1), None, T0 + i).unwrap();
        }
        assert!(t.check_ip(ip(1), T0 + 100).is_allowed());
        assert!(
            ThrottleConfig::default()
                .with_abs_env(Some("x"), None)
                .is_err()
        );
        assert!(
            ThrottleConfig::default()
                .with_abs_env(None, Some("0"))
                .is_err()
        );
    }

    #[test]
    fn ipv6_is_limited_per_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(ip_key(a), ip_key(b));
        assert_ne!(ip_key(a), ip_key("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(
            ip_key("::ffff:198.51.100.1".parse().unwrap()),
            "ip:198.51.100.1"
        );
    }

    #[test]
    fn rotating_ips_are_held_to_the_account_budget_and_known_device_passes() {
        let t = Throttle::in_memory(ThrottleConfig::default());
        let mut checked = 0;
        let mut now = T0;
        let mut n = 0u32;
        // 200 IPs, one attempt every 2 s each in turn, for one hour: 1800 attempts.
        while now < T0 + HOUR {
            let from = ip(n % 200);
            if attempt(&t, from, "Alice", false, false, now) == Outcome::Checked {
                checked += 1;
            }
            // The owner's phone, with its refresh session, logs in every 10 minutes throughout.
            if n.is_multiple_of(300) {
                assert_eq!(
                    attempt(&t, ip(9999), "alice", true, true, now),
                    Outcome::LoggedIn
                );
            }
            n += 1;
            now += 2_000;
        }
        assert!(checked <= 100, "{checked} password checks in an hour");
        assert!(
            checked >= 50,
            "the limit should not be absurdly tight: {checked}"
        );
        // An unknown device with the right password during the lock gets the same answer as a
        // wrong one, and does not unlock.
        assert_eq!(
            attempt(&t, ip(5000), "alice", false, true, now),
            Outcome::Denied
        );
        assert_eq!(
            attempt(&t, ip(5001), "alice", false, false, now),
            Outcome::Denied
        );
        assert!(!t.check_account("alice", false, now).is_allowed());
    }

    #[test]
    fn second_hour_budget_is_also_bounded() {
        let t = Throttle::in_memory(ThrottleConfig::default());
        let mut per_hour = [0; 3];
        let mut now = T0;
        let mut n = 0u32;
        while now < T0 + 3 * HOUR {
            if attempt(&t, ip(n % 200), "bob", false, false, now) == Outcome::Checked {
                per_hour[((now - T0) / HOUR) as usize] += 1;
            }
            n += 1;
            now += 1_000;
        }
        for c in per_hour {
            assert!(c <= 100, "{per_hour:?}");
        }
    }

    #[test]
    fn softlock_escalates_and_expires() {
        let cfg = ThrottleConfig::default();
        let t = Throttle::in_memory(cfg.clone());
        for i in 0..5 {
            t.record_failure_blocking(ip(i), Some("carol"), T0).unwrap();
            assert!(t.check_account("carol", false, T0).is_allowed());
        }
        t.record_failure_blocking(ip(6), Some("carol"), T0).unwrap();
        assert_eq!(
            t.check_account("CAROL", false, T0),
            AccountDecision::Locked {
                retry_after_secs: 1
            }
        );
        assert!(t.check_account("carol", false, T0 + 1_000).is_allowed());
        t.record_failure_blocking(ip(6), Some("carol"), T0 + 1_000)
            .unwrap();
        assert_eq!(
            t.check_account("carol", false, T0 + 1_000),
            AccountDecision::Locked {
                retry_after_secs: 2
            }
        );
        // Failures during the lock do not escalate it.
        t.record_failure_blocking(ip(7), Some("carol"), T0 + 1_500)
            .unwrap();
        assert!(t.check_account("carol", false, T0 + 3_000).is_allowed());
        // A success outside the lock clears the count.
        t.record_success_blocking("carol", T0 + 3_000).unwrap();
        t.record_failure_blocking(ip(7), Some("carol"), T0 + 3_001)
            .unwrap();
        assert!(t.check_account("carol", false, T0 + 3_001).is_allowed());
        // A quiet hour also clears it.
        let mut s = None;
        for i in 0..20 {
            s = Some(account_failure(s, &cfg, T0 + i * 100_000));
        }
        let later = T0 + 20 * 100_000 + HOUR;
        assert!(account_expired(&s.unwrap(), &cfg, later));
        assert_eq!(account_failure(s, &cfg, later).failures, 1);
    }

    #[test]
    fn state_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let cfg = ThrottleConfig::default();
        {
            let t = Throttle::load(cfg.clone(), store.clone(), T0).unwrap();
            for i in 0..10 {
                t.record_failure_blocking(ip(1), Some("dave"), T0 + i)
                    .unwrap();
            }
            assert!(!t.check_ip(ip(1), T0 + 10).is_allowed());
            assert!(!t.check_account("dave", false, T0 + 10).is_allowed());
        }
        let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let t = Throttle::load(cfg.clone(), store.clone(), T0 + 20).unwrap();
        assert!(!t.check_ip(ip(1), T0 + 20).is_allowed());
        assert!(!t.check_account("dave", false, T0 + 20).is_allowed());
        assert!(t.check_account("dave", true, T0 + 20).is_allowed());

        // Expired rows are dropped on load and by prune.
        let late = T0 + 2 * HOUR;
        let t = Throttle::load(cfg.clone(), store.clone(), late).unwrap();
        assert!(t.check_ip(ip(1), late).is_allowed());
        let t = Throttle::load(cfg, store.clone(), T0 + 20).unwrap();
        assert_eq!(t.prune_blocking(late).unwrap(), 2);
        let rows = store.read_blocking(db::load_all).unwrap();
        assert!(rows.is_empty());
    }

    #[tokio::test]
    async fn async_api_persists() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let t = Throttle::load(ThrottleConfig::default(), store.clone(), T0).unwrap();
        t.record_failure(ip(1), Some("erin"), T0).await.unwrap();
        t.record_success("erin", T0 + 1).await.unwrap();
        let rows = store.read(db::load_all).await.unwrap();
        assert_eq!(rows.len(), 1, "account row deleted, ip row kept: {rows:?}");
        assert!(rows[0].0.starts_with("ip:"));
    }

    #[test]
    fn status_and_startup_guard() {
        let cfg = ThrottleConfig::default();
        let t = Throttle::in_memory(cfg.clone());
        let st = t.ip_status(ip(1), T0);
        assert_eq!((st.limit, st.remaining, st.reset_secs), (10, 10, 600));
        t.record_failure_blocking(ip(1), None, T0).unwrap();
        let st = t.ip_status(ip(1), T0 + 100_000);
        assert_eq!((st.remaining, st.reset_secs), (9, 500));
        let off = cfg.with_abs_env(Some("0"), None).unwrap();
        let public: IpAddr = "0.0.0.0".parse().unwrap();
        assert!(off.check_startup(public, false).is_err());
        assert!(off.check_startup(public, true).is_ok());
        assert!(
            off.check_startup("127.0.0.1".parse().unwrap(), false)
                .is_ok()
        );
        assert!(
            ThrottleConfig::default()
                .check_startup(public, false)
                .is_ok()
        );
    }

    #[test]
    fn header_rotation_through_client_ip() {
        use crate::auth::client_ip::{default_trusted, resolve};
        use axum::http::{HeaderMap, HeaderValue};
        let t = Throttle::in_memory(ThrottleConfig::default());
        let trusted = default_trusted();
        let with_xff = |i: u32| {
            let mut h = HeaderMap::new();
            h.insert(
                "x-forwarded-for",
                HeaderValue::from_str(&ip(i).to_string()).unwrap(),
            );
            h
        };
        // A direct client rotating X-Forwarded-For is still one IP: throttled after 10 failures.
        let mut refused = 0;
        for i in 0..50 {
            let c = resolve(
                "203.0.113.5:999".parse().unwrap(),
                false,
                &with_xff(i),
                &trusted,
            )
            .unwrap();
            if t.check_ip(c.ip, T0 + i64::from(i)).is_allowed() {
                t.record_failure_blocking(c.ip, None, T0 + i64::from(i))
                    .unwrap();
            } else {
                refused += 1;
            }
        }
        assert_eq!(refused, 40);
        // Through our trusted proxy each forwarded IP is its own client, and the account limit
        // is what holds.
        let mut checked = 0;
        for i in 0..200u32 {
            let now = T0 + i64::from(i) * 1000;
            let c = resolve(
                "127.0.0.1:999".parse().unwrap(),
                false,
                &with_xff(i),
                &trusted,
            )
            .unwrap();
            assert_eq!(c.ip, ip(i));
            if attempt(&t, c.ip, "frank", false, false, now) == Outcome::Checked {
                checked += 1;
            }
        }
        assert!(checked < 15, "{checked} checks in 200 s");
        assert_eq!(
            attempt(&t, ip(7777), "frank", true, true, T0 + 200_000),
            Outcome::LoggedIn
        );
    }

    #[test]
    fn facade_is_shareable() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Throttle>();
        assert_send_sync::<std::sync::Arc<Throttle>>();
    }

    #[test]
    fn throttled_maps_to_429() {
        let e = Decision::Throttled {
            retry_after_secs: 30,
            limit: 10,
        }
        .into_error()
        .unwrap();
        assert_eq!(e.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert!(Decision::Allow.into_error().is_none());
    }
}
