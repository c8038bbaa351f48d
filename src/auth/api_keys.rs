//! API keys: the ABS form (an HS256 JWT `{keyId, name, type:"api", iat[, exp]}`, shown once) plus
//! what ABS lacks: enforced scopes, required expiry, last-used time and IP, and death with the
//! user. Only the SHA-256 of the token is stored, so a database leak yields no usable keys; the
//! JWT signature is what makes the token unguessable (keyId alone is not a secret).

use std::net::IpAddr;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::store::StoreResult;
use crate::store::api_keys::{self as db, ApiKeyRow};

/// What a key may do. A route class needs its scope; `admin` covers every class. The key never
/// exceeds its user's own permissions: check those as well.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// GET routes: libraries, items, covers, streaming.
    Read,
    /// Listening writes: progress, bookmarks, playback sessions.
    Progress,
    /// Uploads.
    Upload,
    /// Admin routes (users, settings, libraries, keys).
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Progress, Scope::Upload, Scope::Admin];
    /// Used when a caller (e.g. ABS's `POST /api/api-keys`) names no scopes: a listening app's needs.
    pub const DEFAULT: [Scope; 2] = [Scope::Read, Scope::Progress];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Progress => "progress",
            Scope::Upload => "upload",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL
            .into_iter()
            .find(|x| x.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// Parses scope names, refusing unknown ones; deduplicated and sorted.
pub fn parse_scopes<S: AsRef<str>>(names: &[S]) -> Result<Vec<Scope>, ApiKeyError> {
    let mut out = Vec::new();
    for n in names {
        let s = Scope::parse(n.as_ref())
            .ok_or_else(|| ApiKeyError::UnknownScope(n.as_ref().to_string()))?;
        out.push(s);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiKeyPolicy {
    /// ABS lets keys live forever; we do not unless the admin says so.
    pub require_expiry: bool,
    pub max_lifetime_days: u32,
}

impl Default for ApiKeyPolicy {
    fn default() -> Self {
        ApiKeyPolicy {
            require_expiry: true,
            max_lifetime_days: 365,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub name: String,
    pub description: Option<String>,
    pub user_id: String,
    pub created_by_user_id: Option<String>,
    /// Empty means `Scope::DEFAULT`.
    pub scopes: Vec<Scope>,
    /// Seconds from now (ABS's `expiresIn`).
    pub expires_in_secs: Option<i64>,
    /// ABS creates keys inactive unless told otherwise.
    pub is_active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    #[error("name is required")]
    NameRequired,
    #[error("unknown scope {0:?}")]
    UnknownScope(String),
    #[error("an expiry is required")]
    ExpiryRequired,
    #[error("expiry must be a positive number of seconds")]
    InvalidExpiry,
    #[error("expiry may be at most {max_days} days")]
    ExpiryTooLong { max_days: u32 },
    #[error("user not found")]
    UnknownUser,
    #[error("{0}")]
    Internal(String),
}

impl From<AppError> for ApiKeyError {
    fn from(e: AppError) -> Self {
        ApiKeyError::Internal(e.to_string())
    }
}

impl From<ApiKeyError> for AppError {
    fn from(e: ApiKeyError) -> Self {
        match e {
            ApiKeyError::Internal(m) => AppError::internal(m),
            other => AppError::bad_request(other.to_string()),
        }
    }
}

/// A key as listed (never with its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub user_id: String,
    pub created_by_user_id: Option<String>,
    pub scopes: Vec<Scope>,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    pub is_active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ApiKey {
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_at.is_some_and(|e| e <= now_ms)
    }
}

fn scopes_from_json(text: &str) -> Vec<Scope> {
    // Unknown names in a stored row grant nothing rather than failing the whole key list.
    serde_json::from_str::<Vec<String>>(text)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| Scope::parse(s))
        .collect()
}

impl From<ApiKeyRow> for ApiKey {
    fn from(r: ApiKeyRow) -> Self {
        ApiKey {
            scopes: scopes_from_json(&r.scopes),
            id: r.id,
            name: r.name,
            description: r.description,
            user_id: r.user_id,
            created_by_user_id: r.created_by_user_id,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            last_used_ip: r.last_used_ip,
            is_active: r.is_active,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The new key and its token; the token exists only in this value (show it once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedApiKey {
    pub key: ApiKey,
    pub token: String,
}

/// The JWT payload ABS clients hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyClaims {
    #[serde(rename = "keyId")]
    pub key_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub iat: i64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exp: Option<i64>,
}

/// Who an API-key request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyPrincipal {
    pub key_id: String,
    pub user_id: String,
    pub scopes: Vec<Scope>,
}

impl ApiKeyPrincipal {
    pub fn allows(&self, needed: Scope) -> bool {
        self.scopes.contains(&needed) || self.scopes.contains(&Scope::Admin)
    }
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

/// Creates a key and returns its token. `secret` is the server's JWT HMAC key.
pub fn create(
    conn: &rusqlite::Connection,
    new: &NewApiKey,
    policy: &ApiKeyPolicy,
    secret: &[u8],
    now_ms: i64,
) -> Result<CreatedApiKey, ApiKeyError> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiKeyError::NameRequired);
    }
    let max_secs = i64::from(policy.max_lifetime_days) * 86_400;
    match new.expires_in_secs {
        None if policy.require_expiry => return Err(ApiKeyError::ExpiryRequired),
        Some(s) if s <= 0 => return Err(ApiKeyError::InvalidExpiry),
        Some(s) if s > max_secs => {
            return Err(ApiKeyError::ExpiryTooLong {
                max_days: policy.max_lifetime_days,
            });
        }
        _ => {}
    }
    if !db::user_exists(conn, &new.user_id)? {
        return Err(ApiKeyError::UnknownUser);
    }
    let mut scopes = if new.scopes.is_empty() {
        Scope::DEFAULT.to_vec()
    } else {
        new.scopes.clone()
    };
    scopes.sort();
    scopes.dedup();

    let id = uuid::Uuid::new_v4().to_string();
    let iat = now_ms.div_euclid(1000);
    let claims = ApiKeyClaims {
        key_id: id.clone(),
        name: name.to_string(),
        kind: "api".into(),
        iat,
        exp: new.expires_in_secs.map(|s| iat + s),
    };
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(|e| ApiKeyError::Internal(format!("signing api key: {e}")))?;
    let scope_names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    let row = ApiKeyRow {
        id,
        name: name.to_string(),
        description: new.description.clone(),
        user_id: new.user_id.clone(),
        created_by_user_id: new.created_by_user_id.clone(),
        key_hash: hash_token(&token),
        scopes: serde_json::to_string(&scope_names)
            .map_err(|e| ApiKeyError::Internal(e.to_string()))?,
        expires_at: new
            .expires_in_secs
            .map(|s| now_ms.saturating_add(s.saturating_mul(1000))),
        last_used_at: None,
        last_used_ip: None,
        is_active: new.is_active,
        created_at: now_ms,
        updated_at: now_ms,
    };
    db::insert(conn, &row)?;
    Ok(CreatedApiKey {
        key: row.into(),
        token,
    })
}

/// The principal for a presented token, or None if it is unknown, inactive, expired or its user
/// is disabled. Read-only: call `record_use` on the writer afterwards.
pub fn authenticate(
    conn: &rusqlite::Connection,
    token: &str,
    now_ms: i64,
) -> StoreResult<Option<ApiKeyPrincipal>> {
    let Some((row, user_active)) = db::by_hash_with_user(conn, &hash_token(token))? else {
        return Ok(None);
    };
    let expired = row.expires_at.is_some_and(|e| e <= now_ms);
    if !row.is_active || expired || !user_active {
        return Ok(None);
    }
    Ok(Some(ApiKeyPrincipal {
        scopes: scopes_from_json(&row.scopes),
        key_id: row.id,
        user_id: row.user_id,
    }))
}

/// Records a successful use (ABS never updates `lastUsedAt`; we do, with the client IP).
pub fn record_use(
    conn: &rusqlite::Connection,
    key_id: &str,
    ip: Option<IpAddr>,
    now_ms: i64,
) -> StoreResult<()> {
    db::touch(conn, key_id, ip.map(|i| i.to_string()).as_deref(), now_ms)
}

pub fn get(conn: &rusqlite::Connection, id: &str) -> StoreResult<Option<ApiKey>> {
    Ok(db::by_id(conn, id)?.map(ApiKey::from))
}

/// All keys, or one user's, newest first.
pub fn list(conn: &rusqlite::Connection, user_id: Option<&str>) -> StoreResult<Vec<ApiKey>> {
    Ok(db::list(conn, user_id)?
        .into_iter()
        .map(ApiKey::from)
        .collect())
}

/// ABS's `PATCH /api/api-keys/:id {isActive}`; false = revoke. Returns false if no such key.
pub fn set_active(
    conn: &rusqlite::Connection,
    id: &str,
    active: bool,
    now_ms: i64,
) -> StoreResult<bool> {
    db::set_active(conn, id, active, now_ms)
}

pub fn revoke(conn: &rusqlite::Connection, id: &str, now_ms: i64) -> StoreResult<bool> {
    db::set_active(conn, id, false, now_ms)
}

pub fn delete(conn: &rusqlite::Connection, id: &str) -> StoreResult<bool> {
    db::delete(conn, id)
}

/// Marks expired keys inactive (ABS does this at startup and by cron; `authenticate` refuses them
/// regardless, so this only keeps the list honest).
pub fn deactivate_expired(conn: &rusqlite::Connection, now_ms: i64) -> StoreResult<usize> {
    db::deactivate_expired(conn, now_ms)
}

/// Revokes every key of a user (disabling a user must kill their keys at once).
pub fn revoke_all_for_user(
    conn: &rusqlite::Connection,
    user_id: &str,
    now_ms: i64,
) -> StoreResult<usize> {
    db::deactivate_for_user(conn, user_id, now_ms)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::Store;
    use jsonwebtoken::{DecodingKey, Validation};

    const T0: i64 = 1_800_000_000_000;
    const SECRET: &[u8] = b"test-secret-test-secret-test-secret";

    fn setup() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        store
            .write_blocking(|tx| {
                for (id, name) in [("u1", "alice"), ("u2", "bob")] {
                    tx.execute(
                        "INSERT INTO users (id, username, type, legacy_token_id, permissions, created_at, updated_at)
                         VALUES (?1, ?2, 'user', 'x', '{}', 0, 0)",
                        [id, name],
                    )?;
                }
                Ok(())
            })
            .unwrap();
        (dir, store)
    }

    fn new_key(user: &str, scopes: &[Scope], expires: Option<i64>) -> NewApiKey {
        NewApiKey {
            name: "sync".into(),
            description: None,
            user_id: user.into(),
            created_by_user_id: Some("u1".into()),
            scopes: scopes.to_vec(),
            expires_in_secs: expires,
            is_active: true,
        }
    }

    fn create_ok(store: &Store, n: NewApiKey) -> CreatedApiKey {
        store
            .write_blocking(|tx| {
                create(tx, &n, &ApiKeyPolicy::default(), SECRET, T0).map_err(AppError::from)
            })
            .unwrap()
    }

    fn auth(store: &Store, token: &str, now: i64) -> Option<ApiKeyPrincipal> {
        store
            .read_blocking(|c| authenticate(c, token, now))
            .unwrap()
    }

    #[test]
    fn token_is_an_abs_shaped_hs256_jwt_and_only_its_hash_is_stored() {
        let (_d, store) = setup();
        let c = create_ok(&store, new_key("u1", &[Scope::Read], Some(3600)));
        let mut v = Validation::new(Algorithm::HS256);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        let data =
            jsonwebtoken::decode::<ApiKeyClaims>(&c.token, &DecodingKey::from_secret(SECRET), &v)
                .unwrap();
        assert_eq!(data.claims.key_id, c.key.id);
        assert_eq!(data.claims.kind, "api");
        assert_eq!(data.claims.name, "sync");
        assert_eq!(data.claims.iat, T0 / 1000);
        assert_eq!(data.claims.exp, Some(T0 / 1000 + 3600));
        let stored: String = store
            .read_blocking(
                |c2| Ok(c2.query_row("SELECT key_hash FROM api_keys", [], |r| r.get(0))?),
            )
            .unwrap();
        assert_eq!(stored, hash_token(&c.token));
        assert_ne!(stored, c.token);
    }

    #[test]
    fn authenticate_checks_active_expiry_user_and_revocation() {
        let (_d, store) = setup();
        let c = create_ok(
            &store,
            new_key("u2", &[Scope::Read, Scope::Progress], Some(60)),
        );
        let p = auth(&store, &c.token, T0 + 1000).unwrap();
        assert_eq!(p.user_id, "u2");
        assert_eq!(p.scopes, vec![Scope::Read, Scope::Progress]);
        assert!(p.allows(Scope::Read) && p.allows(Scope::Progress));
        assert!(!p.allows(Scope::Upload) && !p.allows(Scope::Admin));
        assert!(auth(&store, "garbage", T0).is_none());
        assert!(auth(&store, &format!("{}x", c.token), T0).is_none());
        // Expired.
        assert!(auth(&store, &c.token, T0 + 60_000).is_none());
        // Disabled user.
        store
            .write_blocking(|tx| {
                tx.execute("UPDATE users SET is_active = 0 WHERE id = 'u2'", [])?;
                Ok(())
            })
            .unwrap();
        assert!(auth(&store, &c.token, T0 + 1000).is_none());
        store
            .write_blocking(|tx| {
                tx.execute("UPDATE users SET is_active = 1 WHERE id = 'u2'", [])?;
                Ok(())
            })
            .unwrap();
        assert!(auth(&store, &c.token, T0 + 1000).is_some());
        // Revoked.
        assert!(
            store
                .write_blocking(|tx| revoke(tx, &c.key.id, T0))
                .unwrap()
        );
        assert!(auth(&store, &c.token, T0 + 1000).is_none());
        // Inactive at creation (ABS default).
        let mut n = new_key("u1", &[], Some(60));
        n.is_active = false;
        let c2 = create_ok(&store, n);
        assert!(auth(&store, &c2.token, T0).is_none());
        assert!(
            store
                .write_blocking(|tx| set_active(tx, &c2.key.id, true, T0))
                .unwrap()
        );
        let p = auth(&store, &c2.token, T0).unwrap();
        assert_eq!(p.scopes, Scope::DEFAULT.to_vec());
    }

    #[test]
    fn admin_scope_covers_every_class() {
        let p = ApiKeyPrincipal {
            key_id: "k".into(),
            user_id: "u".into(),
            scopes: vec![Scope::Admin],
        };
        assert!(Scope::ALL.iter().all(|s| p.allows(*s)));
    }

    #[test]
    fn policy_is_enforced() {
        let (_d, store) = setup();
        let policy = ApiKeyPolicy::default();
        let try_create = |n: NewApiKey, p: ApiKeyPolicy| {
            store
                .write_blocking(|tx| Ok(create(tx, &n, &p, SECRET, T0)))
                .unwrap()
        };
        assert_eq!(
            try_create(new_key("u1", &[], None), policy).unwrap_err(),
            ApiKeyError::ExpiryRequired
        );
        assert_eq!(
            try_create(new_key("u1", &[], Some(0)), policy).unwrap_err(),
            ApiKeyError::InvalidExpiry
        );
        assert_eq!(
            try_create(new_key("u1", &[], Some(366 * 86_400)), policy).unwrap_err(),
            ApiKeyError::ExpiryTooLong { max_days: 365 }
        );
        assert_eq!(
            try_create(new_key("nobody", &[], Some(60)), policy).unwrap_err(),
            ApiKeyError::UnknownUser
        );
        let mut blank = new_key("u1", &[], Some(60));
        blank.name = "  ".into();
        assert_eq!(
            try_create(blank, policy).unwrap_err(),
            ApiKeyError::NameRequired
        );
        let open = ApiKeyPolicy {
            require_expiry: false,
            max_lifetime_days: 365,
        };
        let c = try_create(new_key("u1", &[], None), open).unwrap();
        assert_eq!(c.key.expires_at, None);
        assert!(auth(&store, &c.token, T0 + 10 * 365 * 86_400_000).is_some());
    }

    #[test]
    fn list_record_use_and_mass_revoke() {
        let (_d, store) = setup();
        let a = create_ok(&store, new_key("u1", &[Scope::Read], Some(60)));
        let b = create_ok(&store, new_key("u2", &[Scope::Upload], Some(120)));
        store
            .write_blocking(|tx| {
                record_use(tx, &a.key.id, Some("198.51.100.7".parse().unwrap()), T0 + 5)
            })
            .unwrap();
        let all = store.read_blocking(|c| list(c, None)).unwrap();
        assert_eq!(all.len(), 2);
        let mine = store.read_blocking(|c| list(c, Some("u1"))).unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].last_used_at, Some(T0 + 5));
        assert_eq!(mine[0].last_used_ip.as_deref(), Some("198.51.100.7"));
        assert_eq!(
            store
                .write_blocking(|tx| deactivate_expired(tx, T0 + 60_000))
                .unwrap(),
            1
        );
        assert!(
            !store
                .read_blocking(|c| get(c, &a.key.id))
                .unwrap()
                .unwrap()
                .is_active
        );
        assert_eq!(
            store
                .write_blocking(|tx| revoke_all_for_user(tx, "u2", T0))
                .unwrap(),
            1
        );
        assert!(auth(&store, &b.token, T0).is_none());
        assert!(store.write_blocking(|tx| delete(tx, &b.key.id)).unwrap());
        assert!(!store.write_blocking(|tx| delete(tx, &b.key.id)).unwrap());
    }

    #[test]
    fn scope_parsing() {
        assert_eq!(
            parse_scopes(&["admin", "READ", "read"]).unwrap(),
            vec![Scope::Read, Scope::Admin]
        );
        assert!(parse_scopes(&["root"]).is_err());
        assert_eq!(
            serde_json::to_string(&Scope::Progress).unwrap(),
            "\"progress\""
        );
    }
}
