//! `shelfwarden apikey create|list|revoke`: API keys from the shell, audited like the API's.

use std::io::Write;
use std::path::Path;

use crate::audit::{self, Action, AuditEvent};
use crate::auth::api_keys::{self, ApiKey, ApiKeyPolicy, CreatedApiKey, NewApiKey};
use crate::cli::audit::open_existing;
use crate::error::AppError;
use crate::store::users;

/// The token-signing key, shared with the server (`DATA/jwt-secret` unless configured).
pub fn load_or_create_jwt_secret(
    data_dir: &Path,
    configured: Option<&str>,
) -> anyhow::Result<Vec<u8>> {
    crate::auth::secrets::jwt_secret(data_dir, configured)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateArgs {
    /// The user the key acts as (case-insensitive).
    pub username: String,
    pub name: String,
    /// Scope names; empty means read + progress.
    pub scopes: Vec<String>,
    /// None = never expires, which the default policy refuses.
    pub expires_days: Option<u32>,
}

fn cli_event(action: Action) -> AuditEvent {
    AuditEvent::new(action).actor_name("cli")
}

/// Creates an active key and prints its token once to `out`.
pub fn create(
    data_dir: &Path,
    configured_secret: Option<&str>,
    args: &CreateArgs,
    policy: &ApiKeyPolicy,
    now_ms: i64,
    out: &mut dyn Write,
) -> anyhow::Result<CreatedApiKey> {
    let scopes = api_keys::parse_scopes(&args.scopes)?;
    let secret = load_or_create_jwt_secret(data_dir, configured_secret)?;
    let store = open_existing(data_dir)?;
    let created = store.write_blocking(|tx| {
        let user = users::by_username(tx, &args.username)?
            .ok_or_else(|| AppError::bad_request(format!("no user {:?}", args.username)))?;
        let new = NewApiKey {
            name: args.name.clone(),
            description: None,
            user_id: user.id.clone(),
            created_by_user_id: None,
            scopes,
            expires_in_secs: args.expires_days.map(|d| i64::from(d) * 86_400),
            is_active: true,
        };
        let created = api_keys::create(tx, &new, policy, &secret, now_ms)?;
        audit::append(
            tx,
            &cli_event(Action::ApiKeyCreate)
                .target(created.key.id.clone())
                .details(serde_json::json!({
                    "after": created.key,
                    "user": user.username,
                })),
            now_ms,
        )?;
        Ok(created)
    })?;
    writeln!(
        out,
        "created API key {} for {}",
        created.key.id, args.username
    )?;
    writeln!(
        out,
        "scopes: {}",
        created
            .key
            .scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    )?;
    writeln!(out, "this token is shown once; store it now:")?;
    writeln!(out, "{}", created.token)?;
    Ok(created)
}

/// Lists keys (all, or one user's) as a table on `out`.
pub fn list(
    data_dir: &Path,
    username: Option<&str>,
    now_ms: i64,
    out: &mut dyn Write,
) -> anyhow::Result<Vec<ApiKey>> {
    let store = open_existing(data_dir)?;
    let keys = store.read_blocking(|c| {
        let user_id = match username {
            Some(u) => Some(
                users::by_username(c, u)?
                    .ok_or_else(|| AppError::bad_request(format!("no user {u:?}")))?
                    .id,
            ),
            None => None,
        };
        api_keys::list(c, user_id.as_deref())
    })?;
    writeln!(
        out,
        "{:<36}  {:<20}  {:<24}  {:<8}  {:<13}  {:<13}  LAST IP",
        "ID", "NAME", "SCOPES", "STATE", "EXPIRES", "LAST USED"
    )?;
    for k in &keys {
        let state = if !k.is_active {
            "revoked"
        } else if k.is_expired(now_ms) {
            "expired"
        } else {
            "active"
        };
        let scopes = k
            .scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",");
        writeln!(
            out,
            "{:<36}  {:<20}  {:<24}  {:<8}  {:<13}  {:<13}  {}",
            k.id,
            k.name,
            scopes,
            state,
            k.expires_at.map_or("never".into(), |t| t.to_string()),
            k.last_used_at.map_or("-".into(), |t| t.to_string()),
            k.last_used_ip.as_deref().unwrap_or("-"),
        )?;
    }
    Ok(keys)
}

/// Revokes a key by id; Ok(false) if there is no such key.
pub fn revoke(
    data_dir: &Path,
    key_id: &str,
    now_ms: i64,
    out: &mut dyn Write,
) -> anyhow::Result<bool> {
    let store = open_existing(data_dir)?;
    let found = store.write_blocking(|tx| {
        let found = api_keys::revoke(tx, key_id, now_ms)?;
        if found {
            audit::append(
                tx,
                &cli_event(Action::ApiKeyRevoke).target(key_id.to_string()),
                now_ms,
            )?;
        }
        Ok(found)
    })?;
    if found {
        writeln!(out, "revoked API key {key_id}")?;
    } else {
        writeln!(out, "no API key {key_id}")?;
    }
    Ok(found)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::auth::secrets::JWT_SECRET_FILE;
    use crate::store::Store;
    use base64::Engine;

    const T0: i64 = 1_800_000_000_000;

    #[test]
    fn secret_file_is_created_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create_jwt_secret(dir.path(), None).unwrap();
        let path = dir.path().join(JWT_SECRET_FILE);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(std::str::from_utf8(&a).unwrap())
            .unwrap();
        assert_eq!(raw.len(), 64);
        assert_eq!(load_or_create_jwt_secret(dir.path(), None).unwrap(), a);
        assert_eq!(
            load_or_create_jwt_secret(dir.path(), Some("configured")).unwrap(),
            b"configured"
        );
    }

    #[test]
    fn create_list_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("shelfwarden.sqlite")).unwrap();
        store
            .write_blocking(|tx| {
                tx.execute(
                    "INSERT INTO users (id, username, type, legacy_token_id, permissions, created_at, updated_at)
                     VALUES ('u1', 'Alice', 'admin', 'x', '{}', 0, 0)",
                    [],
                )?;
                Ok(())
            })
            .unwrap();
        let args = CreateArgs {
            username: "alice".into(),
            name: "home assistant".into(),
            scopes: vec!["read".into()],
            expires_days: Some(30),
        };
        let mut out = Vec::new();
        let c = create(
            dir.path(),
            None,
            &args,
            &ApiKeyPolicy::default(),
            T0,
            &mut out,
        )
        .unwrap();
        assert!(String::from_utf8(out).unwrap().contains(&c.token));
        let p = store
            .read_blocking(|conn| api_keys::authenticate(conn, &c.token, T0))
            .unwrap()
            .unwrap();
        assert_eq!(p.user_id, "u1");

        let no_expiry = CreateArgs {
            expires_days: None,
            ..args.clone()
        };
        assert!(
            create(
                dir.path(),
                None,
                &no_expiry,
                &ApiKeyPolicy::default(),
                T0,
                &mut Vec::new()
            )
            .is_err()
        );
        let bad_scope = CreateArgs {
            scopes: vec!["root".into()],
            ..args.clone()
        };
        assert!(
            create(
                dir.path(),
                None,
                &bad_scope,
                &ApiKeyPolicy::default(),
                T0,
                &mut Vec::new()
            )
            .is_err()
        );

        let mut out = Vec::new();
        let keys = list(dir.path(), Some("ALICE"), T0, &mut out).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(String::from_utf8(out).unwrap().contains("home assistant"));

        assert!(revoke(dir.path(), &c.key.id, T0 + 1, &mut Vec::new()).unwrap());
        assert!(!revoke(dir.path(), "nope", T0 + 1, &mut Vec::new()).unwrap());
        let p = store
            .read_blocking(|conn| api_keys::authenticate(conn, &c.token, T0 + 2))
            .unwrap();
        assert!(p.is_none());

        // Both CLI actions are in the audit log, and it verifies.
        let page = store
            .read_blocking(|conn| audit::query(conn, &Default::default(), 0, 10))
            .unwrap();
        let actions: Vec<_> = page.events.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["apikey.revoke", "apikey.create"]);
        assert!(crate::cli::audit::verify_to(dir.path(), &mut Vec::new()).unwrap());
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum ApikeyCommand {
    /// Create an API key for a user; its token is printed once.
    Create {
        /// The user the key acts as.
        #[arg(long)]
        user: String,
        /// A name to recognise the key by.
        #[arg(long)]
        name: String,
        /// Scopes: read, progress, upload, admin (repeatable; default read + progress).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Days until the key expires (required unless api_key_require_expiry is off).
        #[arg(long)]
        expires_days: Option<u32>,
    },
    /// List API keys (optionally one user's).
    List {
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke an API key by id.
    Revoke { id: String },
}

pub fn run(data: &Path, cmd: ApikeyCommand) -> anyhow::Result<()> {
    use crate::clock::{Clock, SystemClock};
    let config = crate::config::Config::load(data, None, &super::process_env())?;
    let now = SystemClock.now_ms();
    let mut out = std::io::stdout().lock();
    match cmd {
        ApikeyCommand::Create {
            user,
            name,
            scopes,
            expires_days,
        } => {
            let args = CreateArgs {
                username: user,
                name,
                scopes,
                expires_days,
            };
            create(
                data,
                config.jwt_secret.as_deref(),
                &args,
                &config.api_key_policy(),
                now,
                &mut out,
            )?;
        }
        ApikeyCommand::List { user } => {
            list(data, user.as_deref(), now, &mut out)?;
        }
        ApikeyCommand::Revoke { id } => {
            if !revoke(data, &id, now, &mut out)? {
                anyhow::bail!("no API key with id {id}");
            }
        }
    }
    Ok(())
}
