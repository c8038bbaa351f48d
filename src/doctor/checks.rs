//! The rules. Each check is a pure function of the [`Snapshot`], so tests build snapshots by hand
//! and the admin API and the CLI agree by construction.

use ipnet::IpNet;

use super::snapshot::{ProcessIds, Snapshot};
use super::{Finding, Severity};
use crate::tls::is_private;

const DAY_MS: i64 = 86_400_000;
/// Accounts and keys unused this long are probably forgotten, and forgotten credentials are the
/// ones nobody notices being used.
pub const STALE_DAYS: i64 = 90;
/// A successful backup older than this is "stale".
pub const BACKUP_STALE_DAYS: i64 = 8;

pub fn all(s: &Snapshot) -> Vec<Finding> {
    let mut out = Vec::new();
    config_refused(s, &mut out);
    running_as_root(s, &mut out);
    library_writable(s, &mut out);
    plain_http(s, &mut out);
    hsts(s, &mut out);
    trusted_proxies(s, &mut out);
    rate_limit(s, &mut out);
    healthcheck_reachable(s, &mut out);
    data_dir(s, &mut out);
    accounts(s, &mut out);
    api_keys(s, &mut out);
    backups(s, &mut out);
    version_age(s, &mut out);
    release_check(s, &mut out);
    out
}

/// Whether a process with `ids` may write a path with these mode bits and owner (what the kernel's
/// permission check does, without ACLs). Root writes anything that is not on a read-only mount.
pub fn writable_by(mode: u32, uid: u32, gid: u32, ids: &ProcessIds) -> bool {
    if ids.euid == 0 {
        return true;
    }
    if uid == ids.euid {
        return mode & 0o200 != 0;
    }
    if gid == ids.egid || ids.groups.contains(&gid) {
        return mode & 0o020 != 0;
    }
    mode & 0o002 != 0
}

fn config_refused(s: &Snapshot, out: &mut Vec<Finding>) {
    if let Some(e) = &s.config_error {
        out.push(Finding::new(
            "config_refused",
            Severity::High,
            "The server would refuse to start with this configuration",
            e.clone(),
            "Change the setting the message names; the checks below judge the configuration as written.",
        ));
    }
}

fn running_as_root(s: &Snapshot, out: &mut Vec<Finding>) {
    if s.process.as_ref().is_some_and(|p| p.euid == 0) {
        out.push(Finding::new(
            "running_as_root",
            Severity::High,
            "Running as root",
            "A bug in the server (or in a media parser) would then own the whole machine. `serve` refuses \
             this unless --allow-root is given.",
            "Run as an unprivileged user: the container image (UID 65532), the systemd unit in \
             deploy/shelfwarden.service (DynamicUser), or `sudo -u shelfwarden shelfwarden serve`.",
        ));
    }
}

fn library_writable(s: &Snapshot, out: &mut Vec<Finding>) {
    for lib in &s.libraries {
        if !lib.exists {
            out.push(Finding::new(
                "library_missing",
                Severity::Low,
                format!("Library folder {} does not exist", lib.path.display()),
                "Nothing will be served from it.",
                "Fix the path in `libraries` (or --library), or mount the folder.",
            ));
            continue;
        }
        if lib.writable_count == 0 {
            continue;
        }
        let examples: Vec<String> = lib
            .writable
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        out.push(Finding::new(
            "library_writable",
            Severity::Medium,
            format!(
                "Library {} is writable by the server process",
                lib.path.display()
            ),
            format!(
                "{} entr{} could be changed or deleted by this user (e.g. {}). Shelfwarden never writes \
                 into libraries, so a compromised server should not be able to either.",
                lib.writable_count,
                if lib.writable_count == 1 { "y" } else { "ies" },
                examples.join(", ")
            ),
            format!(
                "Mount the library read-only (container: append `:ro` to its volume; systemd: \
                 ReadOnlyPaths={}), or let another user own it and make it read-only \
                 (`chmod -R a-w,a+rX {}`).",
                lib.path.display(),
                lib.path.display()
            ),
        ));
    }
}

fn plain_http(s: &Snapshot, out: &mut Vec<Finding>) {
    let c = &s.config;
    if s.tls_mode.as_deref() != Some("off") || c.bind.is_loopback() {
        return;
    }
    if c.behind_proxy && !c.trusted_proxies.is_empty() && is_private(c.bind) {
        out.push(Finding::new(
            "plain_http_behind_proxy",
            Severity::Info,
            "Plain HTTP behind a reverse proxy",
            format!(
                "Listening on {} without TLS; the proxy in trusted_proxies must terminate HTTPS.",
                c.bind
            ),
            "Make sure only the proxy can reach this address (firewall), and that the proxy sends HSTS.",
        ));
        return;
    }
    let severity = if is_private(c.bind) {
        Severity::Medium
    } else {
        Severity::High
    };
    out.push(Finding::new(
        "plain_http_exposed",
        severity,
        format!("Plain HTTP on the non-loopback address {}", c.bind),
        "Passwords and tokens cross the network in clear text (insecure_http is set).",
        "Remove insecure_http / --insecure-http and let TLS start (tls = \"auto\" serves a self-signed \
         certificate; use tls_cert/tls_key or acme_domains for a trusted one), or bind 127.0.0.1 behind a \
         reverse proxy that terminates HTTPS.",
    ));
}

fn hsts(s: &Snapshot, out: &mut Vec<Finding>) {
    let tls_on = s.tls_mode.as_deref().is_some_and(|m| m != "off");
    if tls_on && s.config.hsts_max_age == 0 {
        out.push(Finding::new(
            "no_hsts",
            Severity::Medium,
            "HTTPS without HSTS",
            "hsts_max_age = 0: a browser that once typed http:// can be downgraded by anyone on the path.",
            "Set hsts_max_age = 31536000 (SHELFWARDEN_HSTS_MAX_AGE, --hsts-max-age), the default.",
        ));
    }
}

/// Too broad: a /8 (IPv4) or /32 (IPv6) or wider, or reaching beyond private address space.
pub fn proxy_net_too_broad(net: &IpNet) -> bool {
    let wide = match net {
        IpNet::V4(n) => n.prefix_len() <= 8,
        IpNet::V6(n) => n.prefix_len() <= 32,
    };
    wide || !is_private(net.network()) || !is_private(net.broadcast())
}

fn trusted_proxies(s: &Snapshot, out: &mut Vec<Finding>) {
    let broad: Vec<String> = s
        .config
        .trusted_proxies
        .iter()
        .filter(|n| proxy_net_too_broad(n))
        .map(|n| n.to_string())
        .collect();
    if !broad.is_empty() {
        out.push(Finding::new(
            "trusted_proxies_broad",
            Severity::Medium,
            "trusted_proxies is too broad",
            format!(
                "{} may set X-Forwarded-For: any host there can pretend to be any client, which defeats \
                 per-IP login throttling, allowlists and the audit log's addresses.",
                broad.join(", ")
            ),
            "List only your reverse proxy's own address(es), e.g. trusted_proxies = [\"10.0.0.2/32\"].",
        ));
    }
}

fn rate_limit(s: &Snapshot, out: &mut Vec<Finding>) {
    if s.config.rate_limit_auth_max != 0 {
        return;
    }
    let severity = if s.config.bind.is_loopback() {
        Severity::Medium
    } else {
        Severity::High
    };
    out.push(Finding::new(
        "rate_limit_off",
        severity,
        "Login rate limiting is off",
        "rate_limit_auth_max = 0: passwords can be guessed as fast as the server answers.",
        "Unset RATE_LIMIT_AUTH_MAX / rate_limit_auth_max (default 10 failures per 10 minutes) and \
         remove force_rate_limit_off.",
    ));
}

/// `shelfwarden healthcheck` (the container's HEALTHCHECK) connects from loopback; an `allow` list
/// without loopback refuses it and the container is reported unhealthy forever.
fn healthcheck_reachable(s: &Snapshot, out: &mut Vec<Finding>) {
    if s.config.allow.is_empty() || s.config_error.is_some() {
        return;
    }
    let lists = s.config.allowlists();
    let v4 = lists.check_global([127, 0, 0, 1].into()).is_ok();
    let v6 = lists
        .check_global(std::net::Ipv6Addr::LOCALHOST.into())
        .is_ok();
    if !(v4 || v6) {
        out.push(Finding::new(
            "healthcheck_blocked",
            Severity::Low,
            "The allow list refuses loopback",
            "`shelfwarden healthcheck` (the container HEALTHCHECK) and local tools connect from 127.0.0.1 \
             and would be refused.",
            "Add \"loopback\" to allow (the \"lan\" preset already includes it).",
        ));
    }
}

fn data_dir(s: &Snapshot, out: &mut Vec<Finding>) {
    if !s.data_dir_exists {
        out.push(Finding::new(
            "data_dir_missing",
            Severity::Info,
            format!("No data dir at {} yet", s.data_dir.display()),
            "The server creates it (mode 0700) at first start; doctor never creates it.",
            "",
        ));
        return;
    }
    for p in &s.data_paths {
        let path = p.path.display();
        if p.mode & 0o002 != 0 {
            out.push(Finding::new(
                "data_world_writable",
                Severity::High,
                format!("{path} is writable by every user"),
                format!(
                    "Mode {:04o}: anyone on this machine can replace the database or secrets.",
                    p.mode
                ),
                format!("chmod o-w {path} (the data dir should be 0700, files 0600)."),
            ));
        }
        if p.secret && p.mode & 0o004 != 0 {
            out.push(Finding::new(
                "secret_world_readable",
                Severity::High,
                format!("{path} is readable by every user"),
                format!(
                    "Mode {:04o}: it holds password hashes, token-signing or TLS key material.",
                    p.mode
                ),
                format!("chmod 600 {path}, then rotate the secret if others could log in to this machine."),
            ));
        } else if p.secret && p.mode & 0o040 != 0 {
            out.push(Finding::new(
                "secret_group_readable",
                Severity::Medium,
                format!("{path} is readable by its group"),
                format!(
                    "Mode {:04o}: every member of group {} can read it.",
                    p.mode, p.gid
                ),
                format!("chmod 600 {path}"),
            ));
        }
        if p.is_dir && p.mode & 0o077 != 0 && p.mode & 0o002 == 0 {
            out.push(Finding::new(
                "data_dir_open",
                Severity::Medium,
                format!("{path} is open to other users"),
                format!(
                    "Mode {:04o}: others can list it, and read any file in it that is not 0600.",
                    p.mode
                ),
                format!("chmod 700 {path} (the server sets 0700 on the data dir at start)."),
            ));
        }
    }
}

fn days_since(now_ms: i64, then_ms: i64) -> i64 {
    (now_ms - then_ms) / DAY_MS
}

fn accounts(s: &Snapshot, out: &mut Vec<Finding>) {
    let Some(db) = &s.db else {
        if let Some(e) = &s.db_error {
            out.push(Finding::new(
                "db_unreadable",
                Severity::Medium,
                "Cannot read the database",
                e.clone(),
                "Run doctor as the user the server runs as, with --data pointing at its data dir.",
            ));
        }
        return;
    };
    for u in db.users.iter().filter(|u| u.is_active) {
        if matches!(u.user_type.as_str(), "root" | "admin") {
            out.push(Finding::new(
                "admin_no_2fa",
                Severity::Medium,
                format!("Admin {} has no second factor", u.name),
                "Two-factor authentication is not yet available in this version; an admin's password is \
                 the only thing between an attacker and every account.",
                "Use a long unique password for admins, restrict admin access with admin_allow (e.g. \
                 admin_allow = [\"lan\"]), and enable 2FA once a version offers it.",
            ));
        }
        if u.must_change_password {
            out.push(Finding::new(
                "weak_password",
                Severity::Medium,
                format!("User {} logged in with a password the policy rejects", u.name),
                "Their password was flagged as weak at their last login; they are asked to change it.",
                format!(
                    "Have {} change it at next login, or set a new one: `shelfwarden user passwd {} --password-stdin`.",
                    u.name, u.name
                ),
            ));
        }
        let idle = match u.last_seen {
            Some(t) => days_since(s.now_ms, t) >= STALE_DAYS,
            None => days_since(s.now_ms, u.created_at) >= STALE_DAYS,
        };
        if idle {
            out.push(Finding::new(
                "user_inactive",
                Severity::Low,
                format!("User {} has not been seen for {STALE_DAYS} days", u.name),
                "Unused accounts are targets nobody watches.",
                format!(
                    "Disable it if it is no longer needed: `shelfwarden user disable {}`.",
                    u.name
                ),
            ));
        }
    }
}

fn api_keys(s: &Snapshot, out: &mut Vec<Finding>) {
    let Some(db) = &s.db else { return };
    for k in db.api_keys.iter().filter(|k| k.is_active) {
        if k.expires_at.is_some_and(|e| e <= s.now_ms) {
            continue;
        }
        if k.expires_at.is_none() {
            out.push(Finding::new(
                "api_key_no_expiry",
                Severity::Medium,
                format!("API key {:?} of {} never expires", k.name, k.owner),
                "A leaked key without expiry works until someone notices.",
                "Revoke it (`shelfwarden apikey revoke ID`, ids from `shelfwarden apikey list`) and create \
                 one with --expires-days; keep api_key_require_expiry = true.",
            ));
        }
        let unused = match k.last_used_at {
            Some(t) => days_since(s.now_ms, t) >= STALE_DAYS,
            None => days_since(s.now_ms, k.created_at) >= STALE_DAYS,
        };
        if unused {
            out.push(Finding::new(
                "api_key_unused",
                Severity::Low,
                format!(
                    "API key {:?} of {} unused for {STALE_DAYS} days",
                    k.name, k.owner
                ),
                "A forgotten key is a credential nobody would miss, or notice being abused.",
                "Revoke it: `shelfwarden apikey revoke ID`.",
            ));
        }
    }
}

fn backups(s: &Snapshot, out: &mut Vec<Finding>) {
    let Some(db) = &s.db else { return };
    let status = db.backup_status.as_ref();
    let ms = |k: &str| status.and_then(|v| v.get(k)).and_then(|v| v.as_i64());
    let Some(success) = ms("lastSuccessMs") else {
        out.push(Finding::new(
            "backup_missing",
            Severity::Medium,
            "No backup has been made",
            "The database holds accounts, progress and bookmarks; a dead disk loses all of it.",
            "Back up the data dir regularly (stop the server or use SQLite's online backup), keep the \
             copy encrypted, and copy it off this machine.",
        ));
        return;
    };
    if ms("lastFailureMs").is_some_and(|f| f >= success) {
        out.push(Finding::new(
            "backup_failing",
            Severity::Medium,
            "The last backup failed",
            status
                .and_then(|v| v.get("lastError"))
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string(),
            "Fix the error above; until then the last good backup keeps getting older.",
        ));
    } else if days_since(s.now_ms, success) >= BACKUP_STALE_DAYS {
        out.push(Finding::new(
            "backup_stale",
            Severity::Low,
            format!(
                "The last backup is {} days old",
                days_since(s.now_ms, success)
            ),
            "",
            "Check that scheduled backups still run.",
        ));
    }
    if status
        .and_then(|v| v.get("encrypted"))
        .and_then(|v| v.as_bool())
        == Some(false)
    {
        out.push(Finding::new(
            "backup_unencrypted",
            Severity::Medium,
            "Backups are not encrypted",
            "A backup holds password hashes and every user's listening history.",
            "Configure backup encryption before copying backups anywhere.",
        ));
    }
    let offsite_errors = status
        .and_then(|v| v.get("offsiteErrors"))
        .and_then(|v| v.as_array())
        .is_some_and(|a| !a.is_empty());
    let offsite_never = status.is_some_and(|v| {
        v.get("lastOffsiteMs").is_some_and(|x| x.is_null())
            || v.get("offsite") == Some(&false.into())
    });
    if offsite_errors || offsite_never {
        out.push(Finding::new(
            "backup_not_offsite",
            Severity::Medium,
            if offsite_errors {
                "Copying the backup off-site failed"
            } else {
                "Backups were never copied off-site"
            },
            "A backup on the same disk dies with it.",
            "Configure an off-site destination (another machine or an S3 bucket) and check it succeeds.",
        ));
    }
}

fn version_age(s: &Snapshot, out: &mut Vec<Finding>) {
    let b = &s.build;
    let days = (s.now_ms / 1000 - b.build_epoch) / 86_400;
    let (severity, id) = if days >= 365 {
        (Severity::Medium, "version_old")
    } else if days >= 180 {
        (Severity::Low, "version_old")
    } else {
        (Severity::Info, "version")
    };
    out.push(Finding::new(
        id,
        severity,
        format!(
            "Shelfwarden {} built {} ({days} days ago)",
            b.version, b.build_date
        ),
        format!("commit {}, target {}", b.git_hash, b.target),
        if id == "version" {
            String::new()
        } else {
            "Update to the latest release: security fixes only reach you that way.".into()
        },
    ));
}

fn release_check(s: &Snapshot, out: &mut Vec<Finding>) {
    if !s.config.release_check {
        out.push(Finding::new(
            "release_check_off",
            Severity::Info,
            "Release check is off",
            "Nothing tells you when a new release (with security fixes) is out.",
            "Set release_check = true (SHELFWARDEN_RELEASE_CHECK=1) to log a notice when one is; it only \
             fetches the release URL, nothing else.",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::doctor::snapshot::{DbFacts, KeyFacts, LibraryAccess, PathMode, UserFacts};
    use std::path::PathBuf;

    const NOW: i64 = 1_800_000_000_000;

    fn snap() -> Snapshot {
        Snapshot {
            now_ms: NOW,
            process: Some(ProcessIds {
                euid: 1000,
                egid: 1000,
                groups: vec![1000],
            }),
            config: Config::default(),
            config_error: None,
            tls_mode: Some("off".into()),
            data_dir: PathBuf::from("/d"),
            data_dir_exists: true,
            data_paths: vec![PathMode {
                path: PathBuf::from("/d"),
                mode: 0o700,
                uid: 1000,
                gid: 1000,
                is_dir: true,
                secret: false,
            }],
            libraries: vec![],
            db: Some(DbFacts {
                users: vec![],
                api_keys: vec![],
                backup_status: Some(serde_json::json!({"lastSuccessMs": NOW - 1000})),
            }),
            db_error: None,
            build: crate::doctor::BuildInfo {
                version: "0.1.0",
                git_hash: "abc",
                build_date: "2027-01-01",
                build_epoch: NOW / 1000,
                target: "x",
            },
        }
    }

    fn ids(s: &Snapshot) -> Vec<&'static str> {
        all(s)
            .into_iter()
            .filter(|f| f.severity != Severity::Info)
            .map(|f| f.id)
            .collect()
    }

    #[test]
    fn secure_defaults_have_no_findings() {
        assert!(ids(&snap()).is_empty(), "{:?}", all(&snap()));
    }

    #[test]
    fn write_permission_follows_owner_group_other() {
        let me = ProcessIds {
            euid: 10,
            egid: 20,
            groups: vec![20, 30],
        };
        assert!(writable_by(0o755, 10, 0, &me));
        assert!(!writable_by(0o555, 10, 0, &me));
        assert!(!writable_by(0o557, 10, 0, &me), "owner bits win");
        assert!(writable_by(0o775, 0, 30, &me));
        assert!(!writable_by(0o755, 0, 30, &me));
        assert!(writable_by(0o777, 0, 0, &me));
        assert!(!writable_by(0o775, 0, 0, &me));
        let root = ProcessIds::default();
        assert!(writable_by(0o444, 5, 5, &root));
    }

    #[test]
    fn insecure_setup_is_flagged() {
        let mut s = snap();
        s.process = Some(ProcessIds::default());
        s.config.bind = "0.0.0.0".parse().expect("ip");
        s.config.insecure_http = true;
        s.config.rate_limit_auth_max = 0;
        s.config.trusted_proxies = vec!["10.0.0.0/8".parse().expect("net")];
        s.data_paths = vec![
            PathMode {
                path: PathBuf::from("/d"),
                mode: 0o755,
                uid: 0,
                gid: 0,
                is_dir: true,
                secret: false,
            },
            PathMode {
                path: PathBuf::from("/d/jwt-secret"),
                mode: 0o644,
                uid: 0,
                gid: 0,
                is_dir: false,
                secret: true,
            },
        ];
        s.libraries = vec![LibraryAccess {
            path: PathBuf::from("/lib"),
            exists: true,
            read_only_mount: false,
            writable: vec![PathBuf::from("/lib")],
            writable_count: 1,
        }];
        let old = NOW - 100 * DAY_MS;
        s.db = Some(DbFacts {
            users: vec![UserFacts {
                name: "admin".into(),
                user_type: "root".into(),
                is_active: true,
                must_change_password: true,
                last_seen: Some(old),
                created_at: old,
            }],
            api_keys: vec![KeyFacts {
                name: "k".into(),
                owner: "admin".into(),
                is_active: true,
                expires_at: None,
                last_used_at: None,
                created_at: old,
            }],
            backup_status: None,
        });
        s.build.build_epoch = (NOW - 400 * DAY_MS) / 1000;
        let found = ids(&s);
        for id in [
            "running_as_root",
            "library_writable",
            "plain_http_exposed",
            "trusted_proxies_broad",
            "rate_limit_off",
            "secret_world_readable",
            "data_dir_open",
            "admin_no_2fa",
            "weak_password",
            "user_inactive",
            "api_key_no_expiry",
            "api_key_unused",
            "backup_missing",
            "version_old",
        ] {
            assert!(found.contains(&id), "{id} missing from {found:?}");
        }
        let f = all(&s);
        let sev = |id: &str| f.iter().find(|x| x.id == id).map(|x| x.severity);
        assert_eq!(sev("plain_http_exposed"), Some(Severity::High));
        assert_eq!(sev("rate_limit_off"), Some(Severity::High));
    }

    #[test]
    fn allow_list_without_loopback_blocks_the_healthcheck() {
        let mut s = snap();
        s.config.allow = vec!["203.0.113.0/24".into()];
        assert_eq!(ids(&s), vec!["healthcheck_blocked"]);
        s.config.allow = vec!["lan".into()];
        assert!(ids(&s).is_empty());
    }

    #[test]
    fn hsts_and_proxies() {
        let mut s = snap();
        s.tls_mode = Some("selfsigned".into());
        s.config.hsts_max_age = 0;
        assert_eq!(ids(&s), vec!["no_hsts"]);
        for (net, broad) in [
            ("127.0.0.1/32", false),
            ("192.168.1.0/24", false),
            ("10.0.0.0/8", true),
            ("203.0.113.0/24", true),
            ("fd00::/64", false),
            ("2001:db8::/32", true),
        ] {
            assert_eq!(
                proxy_net_too_broad(&net.parse().expect("net")),
                broad,
                "{net}"
            );
        }
    }

    #[test]
    fn backup_status_rules() {
        let mut s = snap();
        let set = |s: &mut Snapshot, v: serde_json::Value| {
            if let Some(db) = s.db.as_mut() {
                db.backup_status = Some(v);
            }
        };
        set(
            &mut s,
            serde_json::json!({"lastSuccessMs": NOW - 1000, "lastFailureMs": NOW, "lastError": "disk full"}),
        );
        assert_eq!(ids(&s), vec!["backup_failing"]);
        set(
            &mut s,
            serde_json::json!({"lastSuccessMs": NOW - 30 * DAY_MS, "encrypted": false, "offsiteErrors": ["s3: denied"]}),
        );
        assert_eq!(
            ids(&s),
            vec!["backup_stale", "backup_unencrypted", "backup_not_offsite"]
        );
    }

    #[test]
    fn plain_http_behind_proxy_on_private_address_is_only_info() {
        let mut s = snap();
        s.config.bind = "192.168.1.5".parse().expect("ip");
        s.config.behind_proxy = true;
        assert!(ids(&s).is_empty());
        s.config.behind_proxy = false;
        s.config.insecure_http = true;
        let f = all(&s);
        assert!(
            f.iter()
                .any(|f| f.id == "plain_http_exposed" && f.severity == Severity::Medium)
        );
    }
}
