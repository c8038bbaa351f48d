//! Configuration, layered: defaults → TOML file → environment → `*_FILE` secrets → command-line flags.
//! Unknown keys are an error and validation fails closed with a message that says what to change.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

pub const CONFIG_FILE_NAME: &str = "shelfwarden.toml";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on. Loopback by default: exposing the server is a deliberate choice.
    pub bind: IpAddr,
    /// TCP port; 13378 is the port ABS apps usually have saved.
    pub port: u16,
    /// Folders to serve as book libraries (each becomes a library named after the folder).
    pub libraries: Vec<PathBuf>,
    /// Peers whose forwarding headers (X-Forwarded-For, Forwarded, X-Real-IP, X-Forwarded-Proto) are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Lifetime of access tokens, seconds.
    pub access_token_expiry: u64,
    /// Lifetime of refresh tokens, seconds.
    pub refresh_token_expiry: u64,
    /// How long a just-rotated refresh token is still accepted (racing app requests), seconds.
    pub refresh_token_grace_period: u64,
    /// Failed credential attempts allowed per client IP within the window; 0 disables the per-IP limit.
    pub rate_limit_auth_max: u32,
    /// The per-IP window, milliseconds (ABS's unit).
    pub rate_limit_auth_window: u64,
    /// Start even though the per-IP limit is off on a non-loopback bind.
    pub force_rate_limit_off: bool,
    /// Minimum password length (never below 12).
    pub password_min_length: usize,
    /// HMAC secret for tokens; generated into the data dir when unset. Prefer `jwt_secret_file`.
    pub jwt_secret: Option<String>,
    /// The address users reach the server at, e.g. `https://books.example.org` (passkeys, links).
    pub public_url: Option<String>,
    /// Largest accepted request body for API routes, bytes.
    pub max_body_bytes: usize,
    /// Log format: `text` or `json`.
    pub log_format: String,
    /// Scan the libraries at start.
    pub scan_on_start: bool,
    /// When to back up: 5-field cron in UTC (e.g. `30 1 * * *`) or `@daily`; unset means off.
    pub backup_schedule: Option<String>,
    /// Retention: the N newest backups are kept, and the newest backup of each of the last N
    /// days / ISO weeks / months. All four 0 turns pruning off.
    pub backup_keep_last: u32,
    pub backup_keep_daily: u32,
    pub backup_keep_weekly: u32,
    pub backup_keep_monthly: u32,
    /// File holding the passphrase scheduled backups are encrypted with.
    pub backup_passphrase_file: Option<PathBuf>,
    /// age public keys (`age1...`) scheduled backups are encrypted to; the matching private keys
    /// should live somewhere other than this server.
    pub backup_recipients: Vec<String>,
    /// Put the token-signing key and the config file into scheduled backups.
    pub backup_include_secrets: bool,
    /// Folders (e.g. a NAS mount) every scheduled backup is copied to.
    pub backup_destinations: Vec<PathBuf>,
    /// S3-compatible object storage for off-site copies; enabled by setting the bucket.
    pub backup_s3_endpoint: Option<String>,
    pub backup_s3_bucket: Option<String>,
    pub backup_s3_prefix: String,
    pub backup_s3_region: String,
    pub backup_s3_access_key_id: Option<String>,
    pub backup_s3_secret_access_key: Option<String>,
    /// Allow a plain-http S3 endpoint that is not on loopback.
    pub backup_s3_allow_http: bool,
    /// Watch library folders and rescan after changes (a library can also turn its watcher off).
    pub watch_libraries: bool,
    /// Networks allowed to reach the server at all (CIDRs or presets `lan`, `tailscale`, `loopback`); empty = all.
    pub allow: Vec<String>,
    /// Networks from which admins may log in and use admin routes; empty = all.
    pub admin_allow: Vec<String>,
    /// API keys must have an expiry.
    pub api_key_require_expiry: bool,
    /// The longest lifetime an API key may be given, days.
    pub api_key_max_days: u32,
    /// Audit events older than this many days are pruned (the chain stays verifiable); 0 keeps them forever.
    pub audit_retention_days: u32,
    /// Extra origins (besides the ABS apps' `capacitor://localhost` and `http://localhost`) allowed by CORS.
    pub allowed_origins: Vec<String>,
    /// `auto` (decide from bind and certificates), `off`, `files`, `self-signed` or `acme`.
    pub tls: String,
    /// PEM certificate chain for `tls = "files"`.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls = "files"`.
    pub tls_key: Option<PathBuf>,
    /// Allow plain HTTP on a non-loopback bind.
    pub insecure_http: bool,
    /// The server sits behind a reverse proxy that terminates TLS (see docs/TLS.md).
    pub behind_proxy: bool,
    /// Plain-HTTP port that redirects to HTTPS and answers ACME HTTP-01 challenges.
    pub redirect_port: Option<u16>,
    /// `Strict-Transport-Security` max-age on HTTPS responses, seconds; 0 disables.
    pub hsts_max_age: u64,
    /// Domains to obtain a certificate for with ACME.
    pub acme_domains: Vec<String>,
    /// Contact address given to the ACME CA (expiry warnings).
    pub acme_email: Option<String>,
    /// ACME directory URL; Let's Encrypt production when unset.
    pub acme_directory: Option<String>,
    /// Use Let's Encrypt's staging directory (untrusted certificates, generous rate limits).
    pub acme_staging: bool,
    /// PEM root that the ACME directory's own HTTPS certificate chains to (private CAs).
    pub acme_ca_root: Option<PathBuf>,
    /// `auto` (HTTP-01 when a redirect port is set, else TLS-ALPN-01), `http-01` or `tls-alpn-01`.
    pub acme_challenge: String,
    /// Renew this many days before expiry; unset means 30 days or a third of the lifetime, whichever is less.
    pub acme_renew_before_days: Option<u32>,
    /// Longest wait between certificate checks, seconds.
    pub acme_check_interval: u64,
    /// At start, ask `release_check_url` whether a newer release exists and log a notice if so.
    /// Off by default: no network traffic the operator did not ask for.
    pub release_check: bool,
    /// Where the release check asks (JSON with `tag_name` or `version`, or plain text); the
    /// project's release feed when unset.
    pub release_check_url: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: IpAddr::from([127, 0, 0, 1]),
            port: 13378,
            libraries: Vec::new(),
            trusted_proxies: vec![
                "127.0.0.1/32".parse().unwrap_or_else(|_| IpNet::default()),
                "::1/128".parse().unwrap_or_else(|_| IpNet::default()),
            ],
            access_token_expiry: 3600,
            refresh_token_expiry: 30 * 24 * 3600,
            refresh_token_grace_period: 600,
            rate_limit_auth_max: 10,
            rate_limit_auth_window: 600_000,
            force_rate_limit_off: false,
            password_min_length: 12,
            jwt_secret: None,
            public_url: None,
            max_body_bytes: 1024 * 1024,
            log_format: "text".into(),
            scan_on_start: true,
            backup_schedule: None,
            backup_keep_last: 3,
            backup_keep_daily: 7,
            backup_keep_weekly: 4,
            backup_keep_monthly: 6,
            backup_passphrase_file: None,
            backup_recipients: Vec::new(),
            backup_include_secrets: false,
            backup_destinations: Vec::new(),
            backup_s3_endpoint: None,
            backup_s3_bucket: None,
            backup_s3_prefix: "shelfwarden".into(),
            backup_s3_region: "us-east-1".into(),
            backup_s3_access_key_id: None,
            backup_s3_secret_access_key: None,
            backup_s3_allow_http: false,
            watch_libraries: true,
            allow: Vec::new(),
            admin_allow: Vec::new(),
            api_key_require_expiry: true,
            api_key_max_days: 365,
            audit_retention_days: 0,
            allowed_origins: Vec::new(),
            tls: "auto".into(),
            tls_cert: None,
            tls_key: None,
            insecure_http: false,
            behind_proxy: false,
            redirect_port: None,
            hsts_max_age: 31_536_000,
            acme_domains: Vec::new(),
            acme_email: None,
            acme_directory: None,
            acme_staging: false,
            acme_ca_root: None,
            acme_challenge: "auto".into(),
            acme_renew_before_days: None,
            acme_check_interval: 43_200,
            release_check: false,
            release_check_url: None,
        }
    }
}

/// One environment variable and the key it sets. ABS's own names are honoured where they mean the same.
struct EnvKey {
    names: &'static [&'static str],
    key: &'static str,
}

const ENV_KEYS: &[EnvKey] = &[
    EnvKey {
        names: &["SHELFWARDEN_BIND", "HOST"],
        key: "bind",
    },
    EnvKey {
        names: &["SHELFWARDEN_PORT", "PORT"],
        key: "port",
    },
    EnvKey {
        names: &["SHELFWARDEN_LIBRARIES"],
        key: "libraries",
    },
    EnvKey {
        names: &["SHELFWARDEN_TRUSTED_PROXIES"],
        key: "trusted_proxies",
    },
    EnvKey {
        names: &["SHELFWARDEN_ACCESS_TOKEN_EXPIRY", "ACCESS_TOKEN_EXPIRY"],
        key: "access_token_expiry",
    },
    EnvKey {
        names: &["SHELFWARDEN_REFRESH_TOKEN_EXPIRY", "REFRESH_TOKEN_EXPIRY"],
        key: "refresh_token_expiry",
    },
    EnvKey {
        names: &[
            "SHELFWARDEN_REFRESH_TOKEN_GRACE_PERIOD",
            "REFRESH_TOKEN_GRACE_PERIOD",
        ],
        key: "refresh_token_grace_period",
    },
    EnvKey {
        names: &["SHELFWARDEN_RATE_LIMIT_AUTH_MAX", "RATE_LIMIT_AUTH_MAX"],
        key: "rate_limit_auth_max",
    },
    EnvKey {
        names: &[
            "SHELFWARDEN_RATE_LIMIT_AUTH_WINDOW",
            "RATE_LIMIT_AUTH_WINDOW",
        ],
        key: "rate_limit_auth_window",
    },
    EnvKey {
        names: &["SHELFWARDEN_FORCE_RATE_LIMIT_OFF"],
        key: "force_rate_limit_off",
    },
    EnvKey {
        names: &["SHELFWARDEN_PASSWORD_MIN_LENGTH"],
        key: "password_min_length",
    },
    EnvKey {
        names: &["SHELFWARDEN_JWT_SECRET", "JWT_SECRET_KEY"],
        key: "jwt_secret",
    },
    EnvKey {
        names: &["SHELFWARDEN_PUBLIC_URL"],
        key: "public_url",
    },
    EnvKey {
        names: &["SHELFWARDEN_MAX_BODY_BYTES"],
        key: "max_body_bytes",
    },
    EnvKey {
        names: &["SHELFWARDEN_LOG_FORMAT"],
        key: "log_format",
    },
    EnvKey {
        names: &["SHELFWARDEN_SCAN_ON_START"],
        key: "scan_on_start",
    },
    EnvKey {
        names: &["SHELFWARDEN_BACKUP_SCHEDULE"],
        key: "backup_schedule",
    },
    EnvKey {
        names: &["SHELFWARDEN_BACKUP_KEEP_LAST"],
        key: "backup_keep_last",
    },
    EnvKey {
        names: &["SHELFWARDEN_BACKUP_KEEP_DAILY"],
        key: "backup_keep_daily",
    },
    EnvKey {
        names: &["SHELFWARDEN_BACKUP_KEEP_WEEKLY"],
        key: "backup_keep_weekly",
    },
    EnvKey {
        names: &["SHELFWARDEN_BACKUP_KEEP_MONTHLY"],
        key: "backup_keep_monthly",
    },
    EnvKey {
        names: &["SHELFWARDEN_BACKUP_PASSPHRASE_FILE"],
        key: "backup_passphrase_file",
    },
    EnvKey {
        names: &["SHELFWARDEN_BACKUP_RECIPIENTS"],
        key: "backup_recipients",
    },
    EnvKey {
        names: &["SHELFWARDEN_BACKUP_INCLUDE_SECRETS"],
        key: "backup_include_secrets",
    },
    EnvKey {
        names: &["SHELFWARDEN_BACKUP_DESTINATIONS"],
        key: "backup_destinations",
    },
    EnvKey {
        names: &["SHELFWARDEN_BACKUP_S3_ENDPOINT"],
        key: "backup_s3_endpoint",
    },
    EnvKey {
        names: &["SHELFWARDEN_BACKUP_S3_BUCKET"],
        key: "backup_s3_bucket",
    },
    EnvKey {
        names: &["SHELFWARDEN_BACKUP_S3_PREFIX"],
        key: "backup_s3_prefix",
    },
    EnvKey {
        names: &["SHELFWARDEN_BACKUP_S3_REGION"],
        key: "backup_s3_region",
    },
    EnvKey {
        names: &["SHELFWARDEN_BACKUP_S3_ACCESS_KEY_ID"],
        key: "backup_s3_access_key_id",
    },
    EnvKey {
        names: &["SHELFWARDEN_BACKUP_S3_SECRET_ACCESS_KEY"],
        key: "backup_s3_secret_access_key",
    },
    EnvKey {
        names: &["SHELFWARDEN_BACKUP_S3_ALLOW_HTTP"],
        key: "backup_s3_allow_http",
    },
    EnvKey {
        names: &["SHELFWARDEN_WATCH_LIBRARIES"],
        key: "watch_libraries",
    },
    EnvKey {
        names: &["SHELFWARDEN_ALLOW"],
        key: "allow",
    },
    EnvKey {
        names: &["SHELFWARDEN_ADMIN_ALLOW"],
        key: "admin_allow",
    },
    EnvKey {
        names: &["SHELFWARDEN_API_KEY_REQUIRE_EXPIRY"],
        key: "api_key_require_expiry",
    },
    EnvKey {
        names: &["SHELFWARDEN_API_KEY_MAX_DAYS"],
        key: "api_key_max_days",
    },
    EnvKey {
        names: &["SHELFWARDEN_AUDIT_RETENTION_DAYS"],
        key: "audit_retention_days",
    },
    EnvKey {
        names: &["SHELFWARDEN_ALLOWED_ORIGINS"],
        key: "allowed_origins",
    },
    EnvKey {
        names: &["SHELFWARDEN_TLS"],
        key: "tls",
    },
    EnvKey {
        names: &["SHELFWARDEN_TLS_CERT"],
        key: "tls_cert",
    },
    EnvKey {
        names: &["SHELFWARDEN_TLS_KEY"],
        key: "tls_key",
    },
    EnvKey {
        names: &["SHELFWARDEN_INSECURE_HTTP"],
        key: "insecure_http",
    },
    EnvKey {
        names: &["SHELFWARDEN_BEHIND_PROXY"],
        key: "behind_proxy",
    },
    EnvKey {
        names: &["SHELFWARDEN_REDIRECT_PORT"],
        key: "redirect_port",
    },
    EnvKey {
        names: &["SHELFWARDEN_HSTS_MAX_AGE"],
        key: "hsts_max_age",
    },
    EnvKey {
        names: &["SHELFWARDEN_ACME_DOMAINS"],
        key: "acme_domains",
    },
    EnvKey {
        names: &["SHELFWARDEN_ACME_EMAIL"],
        key: "acme_email",
    },
    EnvKey {
        names: &["SHELFWARDEN_ACME_DIRECTORY"],
        key: "acme_directory",
    },
    EnvKey {
        names: &["SHELFWARDEN_ACME_STAGING"],
        key: "acme_staging",
    },
    EnvKey {
        names: &["SHELFWARDEN_ACME_CA_ROOT"],
        key: "acme_ca_root",
    },
    EnvKey {
        names: &["SHELFWARDEN_ACME_CHALLENGE"],
        key: "acme_challenge",
    },
    EnvKey {
        names: &["SHELFWARDEN_ACME_RENEW_BEFORE_DAYS"],
        key: "acme_renew_before_days",
    },
    EnvKey {
        names: &["SHELFWARDEN_ACME_CHECK_INTERVAL"],
        key: "acme_check_interval",
    },
    EnvKey {
        names: &["SHELFWARDEN_RELEASE_CHECK"],
        key: "release_check",
    },
    EnvKey {
        names: &["SHELFWARDEN_RELEASE_CHECK_URL"],
        key: "release_check_url",
    },
];

/// Optional whole-number keys: absent from the serialized defaults, so their type is listed here.
const OPTIONAL_INT_KEYS: &[&str] = &["redirect_port", "acme_renew_before_days"];

/// Keys whose value may come from a file named by `<ENV>_FILE` (Docker/systemd secrets).
const SECRET_KEYS: &[&str] = &[
    "jwt_secret",
    "backup_s3_access_key_id",
    "backup_s3_secret_access_key",
];

/// SHELFWARDEN_* variables that are not configuration keys but are read elsewhere.
const OTHER_ENV: &[&str] = &["SHELFWARDEN_DATA", "SHELFWARDEN_CONFIG", "SHELFWARDEN_LOG"];

impl Config {
    /// Loads the layered configuration. `env` is passed in so tests control it.
    pub fn load(
        data_dir: &Path,
        config_file: Option<&Path>,
        env: &[(String, String)],
    ) -> anyhow::Result<Config> {
        let cfg = Config::load_unvalidated(data_dir, config_file, env)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The layers without `validate`, for callers that add command-line flags first: a check such
    /// as "http-01 needs redirect_port" must see the flags too.
    pub fn load_unvalidated(
        data_dir: &Path,
        config_file: Option<&Path>,
        env: &[(String, String)],
    ) -> anyhow::Result<Config> {
        let mut table = toml::Table::new();
        let file = match config_file {
            Some(p) => Some(p.to_path_buf()),
            None => {
                let p = data_dir.join(CONFIG_FILE_NAME);
                p.exists().then_some(p)
            }
        };
        if let Some(path) = &file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config file {}", path.display()))?;
            table = text
                .parse::<toml::Table>()
                .with_context(|| format!("config file {} is not valid TOML", path.display()))?;
        }
        apply_env(&mut table, env)?;
        let cfg: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| {
                anyhow::anyhow!("invalid configuration: {}", e.message())
            })?;
        Ok(cfg)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.access_token_expiry < 60 {
            bail!("access_token_expiry must be at least 60 seconds (ACCESS_TOKEN_EXPIRY)");
        }
        if self.refresh_token_expiry < self.access_token_expiry {
            bail!("refresh_token_expiry must not be shorter than access_token_expiry");
        }
        if self.refresh_token_grace_period > 3600 {
            bail!("refresh_token_grace_period must be at most 3600 seconds");
        }
        if self.password_min_length < 12 {
            bail!("password_min_length must be at least 12 (set it to 12 or more)");
        }
        if self.password_min_length > 128 {
            bail!("password_min_length must be at most 128");
        }
        if self.rate_limit_auth_max > 0 && self.rate_limit_auth_window < 1000 {
            bail!("rate_limit_auth_window is in milliseconds and must be at least 1000");
        }
        if self.rate_limit_auth_max == 0 && !self.bind.is_loopback() && !self.force_rate_limit_off {
            bail!(
                "RATE_LIMIT_AUTH_MAX=0 turns off login throttling on a non-loopback bind ({}); \
                 set a limit, or set force_rate_limit_off = true (SHELFWARDEN_FORCE_RATE_LIMIT_OFF=1) if you really mean it",
                self.bind
            );
        }
        if let Some(secret) = &self.jwt_secret
            && secret.len() < 32
        {
            bail!(
                "jwt_secret must be at least 32 characters; leave it unset to have one generated"
            );
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            bail!("log_format must be \"text\" or \"json\"");
        }
        if self.max_body_bytes < 1024 {
            bail!("max_body_bytes must be at least 1024");
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            bail!("public_url must start with https:// (or http://)");
        }
        self.validate_backup()?;
        for (key, list) in [("allow", &self.allow), ("admin_allow", &self.admin_allow)] {
            crate::auth::allowlist::parse_list(list).map_err(|e| {
                anyhow::anyhow!("{key}: {e}; use CIDRs like 192.168.1.0/24 or the presets lan, tailscale, loopback")
            })?;
        }
        if self.api_key_max_days == 0 {
            bail!("api_key_max_days must be at least 1");
        }
        for origin in &self.allowed_origins {
            if origin == "*" || !origin.contains("://") {
                bail!(
                    "allowed_origins entries must be full origins like https://app.example.org, not {origin:?}"
                );
            }
        }
        if let Some(url) = &self.release_check_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            bail!("release_check_url must start with https:// (or http://)");
        }
        crate::tls::validate(self)?;
        for net in &self.trusted_proxies {
            if net.prefix_len() == 0 {
                bail!(
                    "trusted_proxies contains {net}, which trusts every address on the internet to set \
                     X-Forwarded-For; list only your proxy's address"
                );
            }
        }
        Ok(())
    }
}

impl Config {
    fn validate_backup(&self) -> anyhow::Result<()> {
        if let Some(spec) = &self.backup_schedule {
            spec.parse::<crate::backup::CronSchedule>()?;
            if self.backup_passphrase_file.is_some() != self.backup_recipients.is_empty() {
                bail!(
                    "backup_schedule is set, so set exactly one of backup_passphrase_file or backup_recipients \
                     (backups are always encrypted)"
                );
            }
        }
        for d in &self.backup_destinations {
            if !d.is_absolute() {
                bail!(
                    "backup_destinations must be absolute paths; {} is not",
                    d.display()
                );
            }
        }
        for r in &self.backup_recipients {
            crate::backup::crypto::parse_recipient(r)?;
        }
        if let Some(bucket) = &self.backup_s3_bucket {
            if bucket.is_empty() {
                bail!("backup_s3_bucket must not be empty");
            }
            if self.backup_s3_access_key_id.is_some() != self.backup_s3_secret_access_key.is_some()
            {
                bail!(
                    "set both backup_s3_access_key_id and backup_s3_secret_access_key, or neither"
                );
            }
            if let Some(endpoint) = &self.backup_s3_endpoint {
                let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
                    .iter()
                    .any(|p| endpoint.starts_with(p));
                if endpoint.starts_with("http://") && !loopback && !self.backup_s3_allow_http {
                    bail!(
                        "backup_s3_endpoint {endpoint} is plain http; use https, or set backup_s3_allow_http = true \
                         if the network path is trusted"
                    );
                }
                if !endpoint.starts_with("https://") && !endpoint.starts_with("http://") {
                    bail!("backup_s3_endpoint must start with https://");
                }
            }
        }
        Ok(())
    }

    /// The S3 settings with http allowed where validation accepted it (loopback test servers).
    pub fn backup_s3_http_ok(&self) -> bool {
        self.backup_s3_allow_http
            || self
                .backup_s3_endpoint
                .as_deref()
                .is_some_and(|e| e.starts_with("http://"))
    }
}

fn apply_env(table: &mut toml::Table, env: &[(String, String)]) -> anyhow::Result<()> {
    for (name, _) in env {
        if let Some(rest) = name.strip_prefix("SHELFWARDEN_") {
            let base = rest.strip_suffix("_FILE").unwrap_or(rest);
            // `rest` too: a key may itself end in _FILE (backup_passphrase_file).
            let known = ENV_KEYS.iter().any(|k| {
                k.names.iter().any(|n| {
                    let n = n.strip_prefix("SHELFWARDEN_");
                    n == Some(base) || n == Some(rest)
                })
            }) || OTHER_ENV.contains(&name.as_str());
            if !known {
                bail!(
                    "unknown environment variable {name}; see the configuration reference in README.md"
                );
            }
        }
    }
    let lookup = |n: &str| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    for key in ENV_KEYS {
        // The first name listed wins over ABS's alias.
        let mut value = key.names.iter().find_map(|n| lookup(n));
        if SECRET_KEYS.contains(&key.key)
            && let Some(path) = key.names.iter().find_map(|n| lookup(&format!("{n}_FILE")))
        {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read secret file {path} for {}", key.key))?;
            value = Some(text.trim_end_matches(['\n', '\r']).to_string());
        }
        let Some(value) = value else { continue };
        table.insert(key.key.to_string(), env_value(key.key, &value)?);
    }
    Ok(())
}

/// Turns an environment string into the TOML type the key expects.
fn env_value(key: &str, raw: &str) -> anyhow::Result<toml::Value> {
    let defaults = toml::Value::try_from(Config::default())?;
    let expected = defaults.get(key);
    let integer = OPTIONAL_INT_KEYS.contains(&key);
    Ok(match expected {
        _ if integer => toml::Value::Integer(
            raw.trim()
                .parse()
                .with_context(|| format!("{key} must be a whole number, got {raw:?}"))?,
        ),
        Some(toml::Value::Integer(_)) => toml::Value::Integer(
            raw.trim()
                .parse()
                .with_context(|| format!("{key} must be a whole number, got {raw:?}"))?,
        ),
        Some(toml::Value::Boolean(_)) => toml::Value::Boolean(match raw.trim() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            other => bail!("{key} must be true or false, got {other:?}"),
        }),
        Some(toml::Value::Array(_)) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
        _ => toml::Value::String(raw.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_loopback_and_abs_port() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Config::load(dir.path(), None, &[]).expect("load");
        assert!(c.bind.is_loopback());
        assert_eq!(c.port, 13378);
        assert_eq!(c.rate_limit_auth_max, 10);
    }

    #[test]
    fn layers_file_then_env_then_abs_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join(CONFIG_FILE_NAME),
            "port = 4000\naccess_token_expiry = 120\n",
        )
        .expect("write");
        let c =
            Config::load(dir.path(), None, &env(&[("ACCESS_TOKEN_EXPIRY", "900")])).expect("load");
        assert_eq!(c.port, 4000);
        assert_eq!(c.access_token_expiry, 900);
        let c = Config::load(
            dir.path(),
            None,
            &env(&[("PORT", "5000"), ("SHELFWARDEN_PORT", "6000")]),
        )
        .expect("load");
        assert_eq!(c.port, 6000, "our name wins over ABS's alias");
    }

    #[test]
    fn unknown_keys_fail() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(CONFIG_FILE_NAME), "prot = 4000\n").expect("write");
        let err = Config::load(dir.path(), None, &[]).expect_err("must fail");
        assert!(err.to_string().contains("prot"), "{err}");
        let dir2 = tempfile::tempdir().expect("tempdir");
        let err = Config::load(dir2.path(), None, &env(&[("SHELFWARDEN_PROT", "1")]))
            .expect_err("must fail");
        assert!(err.to_string().contains("SHELFWARDEN_PROT"), "{err}");
    }

    #[test]
    fn secret_from_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("secret");
        std::fs::write(&f, "0123456789abcdef0123456789abcdef-secret\n").expect("write");
        let c = Config::load(
            dir.path(),
            None,
            &env(&[("SHELFWARDEN_JWT_SECRET_FILE", f.to_str().unwrap_or(""))]),
        )
        .expect("load");
        assert_eq!(
            c.jwt_secret.as_deref(),
            Some("0123456789abcdef0123456789abcdef-secret")
        );
    }

    #[test]
    fn tls_keys_from_env() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Config::load(
            dir.path(),
            None,
            &env(&[
                ("SHELFWARDEN_REDIRECT_PORT", "80"),
                ("SHELFWARDEN_ACME_DOMAINS", "a.example.org, b.example.org"),
                ("SHELFWARDEN_ACME_RENEW_BEFORE_DAYS", "20"),
                ("SHELFWARDEN_HSTS_MAX_AGE", "0"),
                ("SHELFWARDEN_ACME_STAGING", "1"),
            ]),
        )
        .expect("load");
        assert_eq!(c.redirect_port, Some(80));
        assert_eq!(c.acme_domains, vec!["a.example.org", "b.example.org"]);
        assert_eq!(c.acme_renew_before_days, Some(20));
        assert_eq!(c.hsts_max_age, 0);
        assert!(c.acme_staging);
        let bad = [
            vec![("SHELFWARDEN_TLS", "on")],
            vec![("SHELFWARDEN_TLS", "files")],
            vec![("SHELFWARDEN_ACME_DIRECTORY", "http://ca.test/dir")],
            vec![("SHELFWARDEN_ACME_CHALLENGE", "http-01")],
            vec![("HOST", "0.0.0.0"), ("SHELFWARDEN_TLS", "off")],
        ];
        for case in bad {
            assert!(
                Config::load(dir.path(), None, &env(&case)).is_err(),
                "{case:?} must be refused"
            );
        }
    }

    #[test]
    fn insecure_combinations_fail_closed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = [
            vec![("RATE_LIMIT_AUTH_MAX", "0"), ("HOST", "0.0.0.0")],
            vec![("SHELFWARDEN_TRUSTED_PROXIES", "0.0.0.0/0")],
            vec![("SHELFWARDEN_PASSWORD_MIN_LENGTH", "8")],
            vec![("PORT", "http")],
        ];
        for case in bad {
            assert!(
                Config::load(dir.path(), None, &env(&case)).is_err(),
                "{case:?} must be refused"
            );
        }
        let forced = env(&[
            ("RATE_LIMIT_AUTH_MAX", "0"),
            ("HOST", "0.0.0.0"),
            ("SHELFWARDEN_FORCE_RATE_LIMIT_OFF", "1"),
        ]);
        assert!(Config::load(dir.path(), None, &forced).is_ok());
    }

    #[test]
    fn backup_settings_are_validated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
        let bad = [
            vec![("SHELFWARDEN_BACKUP_SCHEDULE", "30 1 * * *")],
            vec![
                ("SHELFWARDEN_BACKUP_SCHEDULE", "61 1 * * *"),
                ("SHELFWARDEN_BACKUP_RECIPIENTS", key),
            ],
            vec![("SHELFWARDEN_BACKUP_RECIPIENTS", "age1nope")],
            vec![("SHELFWARDEN_BACKUP_DESTINATIONS", "relative/dir")],
            vec![
                ("SHELFWARDEN_BACKUP_S3_BUCKET", "b"),
                ("SHELFWARDEN_BACKUP_S3_ENDPOINT", "http://nas.lan:9000"),
            ],
            vec![
                ("SHELFWARDEN_BACKUP_S3_BUCKET", "b"),
                ("SHELFWARDEN_BACKUP_S3_ACCESS_KEY_ID", "id-only"),
            ],
        ];
        for case in bad {
            assert!(
                Config::load(dir.path(), None, &env(&case)).is_err(),
                "{case:?} must be refused"
            );
        }
        let f = dir.path().join("s3secret");
        std::fs::write(&f, "sekrit\n").expect("write");
        let c = Config::load(
            dir.path(),
            None,
            &env(&[
                ("SHELFWARDEN_BACKUP_SCHEDULE", "@daily"),
                ("SHELFWARDEN_BACKUP_RECIPIENTS", key),
                ("SHELFWARDEN_BACKUP_DESTINATIONS", "/mnt/a,/mnt/b"),
                ("SHELFWARDEN_BACKUP_S3_BUCKET", "b"),
                ("SHELFWARDEN_BACKUP_S3_ENDPOINT", "http://127.0.0.1:9000"),
                ("SHELFWARDEN_BACKUP_S3_ACCESS_KEY_ID", "id"),
                (
                    "SHELFWARDEN_BACKUP_S3_SECRET_ACCESS_KEY_FILE",
                    f.to_str().unwrap_or(""),
                ),
                ("SHELFWARDEN_BACKUP_KEEP_DAILY", "3"),
            ]),
        )
        .expect("load");
        let p = Config::load(
            dir.path(),
            None,
            &env(&[
                ("SHELFWARDEN_BACKUP_SCHEDULE", "@daily"),
                ("SHELFWARDEN_BACKUP_PASSPHRASE_FILE", "/etc/pass"),
            ]),
        )
        .expect("a key whose own name ends in _FILE");
        assert_eq!(
            p.backup_passphrase_file.as_deref(),
            Some(Path::new("/etc/pass"))
        );
        assert_eq!(c.backup_destinations.len(), 2);
        assert_eq!(c.backup_s3_secret_access_key.as_deref(), Some("sekrit"));
        assert_eq!(c.backup_keep_daily, 3);
    }
}

impl Config {
    /// The parsed allowlists (validated at load, so parsing cannot fail here).
    pub fn allowlists(&self) -> crate::auth::allowlist::Allowlists {
        crate::auth::allowlist::Allowlists {
            allow: crate::auth::allowlist::parse_list(&self.allow).unwrap_or_default(),
            admin_allow: crate::auth::allowlist::parse_list(&self.admin_allow).unwrap_or_default(),
        }
    }

    pub fn throttle(&self) -> crate::auth::throttle::ThrottleConfig {
        crate::auth::throttle::ThrottleConfig {
            ip_max_failures: self.rate_limit_auth_max,
            ip_window_ms: self.rate_limit_auth_window as i64,
            ..Default::default()
        }
    }

    pub fn api_key_policy(&self) -> crate::auth::api_keys::ApiKeyPolicy {
        crate::auth::api_keys::ApiKeyPolicy {
            require_expiry: self.api_key_require_expiry,
            max_lifetime_days: self.api_key_max_days,
        }
    }

    pub fn password_policy(&self) -> crate::auth::password_policy::PasswordPolicy {
        crate::auth::password_policy::PasswordPolicy::new(self.password_min_length)
    }
}

#[cfg(test)]
mod env_reference {
    /// Every key of the config file can also be set from the environment.
    #[test]
    fn every_key_has_an_environment_name() {
        let defaults = toml::Value::try_from(super::Config::default()).expect("serialise");
        let table = defaults.as_table().expect("table");
        for key in table.keys() {
            assert!(
                super::ENV_KEYS.iter().any(|k| k.key == key),
                "{key} has no environment variable"
            );
        }
    }
}
