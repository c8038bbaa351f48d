//! Second-factor storage: TOTP seeds (encrypted by the caller), recovery-code hashes, login
//! intermediate tokens, app passwords, OIDC flows, and the step-up facts of refresh sessions.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreResult;

// ---- TOTP ----

#[derive(Debug, Clone)]
pub struct TotpRow {
    pub secret_enc: Vec<u8>,
    pub confirmed: bool,
    pub last_step: i64,
}

pub fn totp(conn: &Connection, user_id: &str) -> StoreResult<Option<TotpRow>> {
    Ok(conn
        .prepare_cached(
            "SELECT secret_enc, confirmed_at IS NOT NULL, last_step FROM user_totp WHERE user_id = ?1",
        )?
        .query_row([user_id], |r| {
            Ok(TotpRow {
                secret_enc: r.get(0)?,
                confirmed: r.get(1)?,
                last_step: r.get(2)?,
            })
        })
        .optional()?)
}

/// Starts (or restarts) a pending enrolment. An active seed is never replaced this way.
pub fn totp_put_pending(
    conn: &Connection,
    user_id: &str,
    secret_enc: &[u8],
    now: i64,
) -> StoreResult<bool> {
    Ok(conn.execute(
        "INSERT INTO user_totp (user_id, secret_enc, confirmed_at, last_step, created_at)
         VALUES (?1, ?2, NULL, -1, ?3)
         ON CONFLICT(user_id) DO UPDATE SET secret_enc = ?2, last_step = -1, created_at = ?3
         WHERE confirmed_at IS NULL",
        params![user_id, secret_enc, now],
    )? > 0)
}

pub fn totp_confirm(conn: &Connection, user_id: &str, step: i64, now: i64) -> StoreResult<bool> {
    Ok(conn.execute(
        "UPDATE user_totp SET confirmed_at = ?3, last_step = ?2 WHERE user_id = ?1 AND confirmed_at IS NULL",
        params![user_id, step, now],
    )? > 0)
}

/// Records the step a code was accepted for; a compare-and-set so two racing requests carrying the
/// same code cannot both succeed.
pub fn totp_use_step(conn: &Connection, user_id: &str, step: i64) -> StoreResult<bool> {
    Ok(conn.execute(
        "UPDATE user_totp SET last_step = ?2 WHERE user_id = ?1 AND last_step < ?2",
        params![user_id, step],
    )? > 0)
}

/// Removes every second factor of a user (TOTP and recovery codes).
pub fn remove_all_factors(conn: &Connection, user_id: &str) -> StoreResult<bool> {
    let n = conn.execute("DELETE FROM user_totp WHERE user_id = ?1", [user_id])?;
    conn.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [user_id])?;
    conn.execute("DELETE FROM mfa_tokens WHERE user_id = ?1", [user_id])?;
    // Passkeys are an alternative to TOTP and exist only while it is on.
    conn.execute("DELETE FROM passkeys WHERE user_id = ?1", [user_id])?;
    Ok(n > 0)
}

pub fn has_active_totp(conn: &Connection, user_id: &str) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM user_totp WHERE user_id = ?1 AND confirmed_at IS NOT NULL")?
        .query_row([user_id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Whether any admin or root user has an active TOTP (the default policy's trigger).
pub fn any_admin_enrolled(conn: &Connection) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM user_totp t JOIN users u ON u.id = t.user_id
             WHERE t.confirmed_at IS NOT NULL AND u.type IN ('admin', 'root') LIMIT 1",
        )?
        .query_row([], |_| Ok(()))
        .optional()?
        .is_some())
}

// ---- Recovery codes ----

pub fn recovery_replace(
    conn: &Connection,
    user_id: &str,
    hashes: &[String],
    now: i64,
) -> StoreResult<()> {
    conn.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [user_id])?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES (?1, ?2, ?3)",
    )?;
    for h in hashes {
        stmt.execute(params![user_id, h, now])?;
    }
    Ok(())
}

/// Marks an unused code as used; true when it existed and was unused.
pub fn recovery_consume(
    conn: &Connection,
    user_id: &str,
    hash: &str,
    now: i64,
) -> StoreResult<bool> {
    Ok(conn.execute(
        "UPDATE recovery_codes SET used_at = ?3 WHERE id = (
             SELECT id FROM recovery_codes WHERE user_id = ?1 AND code_hash = ?2 AND used_at IS NULL LIMIT 1)",
        params![user_id, hash, now],
    )? > 0)
}

pub fn recovery_remaining(conn: &Connection, user_id: &str) -> StoreResult<i64> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = ?1 AND used_at IS NULL",
        [user_id],
        |r| r.get(0),
    )?)
}

// ---- Login intermediate tokens ----

pub fn mfa_token_insert(
    conn: &Connection,
    hash: &str,
    user_id: &str,
    expires_at: i64,
    now: i64,
) -> StoreResult<()> {
    conn.execute("DELETE FROM mfa_tokens WHERE expires_at <= ?1", [now])?;
    conn.execute(
        "INSERT INTO mfa_tokens (hash, user_id, expires_at, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![hash, user_id, expires_at, now],
    )?;
    Ok(())
}

/// The user behind a live intermediate token.
pub fn mfa_token_user(conn: &Connection, hash: &str, now: i64) -> StoreResult<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT user_id FROM mfa_tokens WHERE hash = ?1 AND expires_at > ?2")?
        .query_row(params![hash, now], |r| r.get(0))
        .optional()?)
}

/// Counts a wrong code; the token dies after `max` of them so it cannot be used to guess codes.
pub fn mfa_token_fail(conn: &Connection, hash: &str, max: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE mfa_tokens SET attempts = attempts + 1 WHERE hash = ?1",
        [hash],
    )?;
    conn.execute(
        "DELETE FROM mfa_tokens WHERE hash = ?1 AND attempts >= ?2",
        params![hash, max],
    )?;
    Ok(())
}

/// Single use: true for exactly one caller.
pub fn mfa_token_consume(conn: &Connection, hash: &str) -> StoreResult<bool> {
    Ok(conn.execute("DELETE FROM mfa_tokens WHERE hash = ?1", [hash])? > 0)
}

// ---- App passwords ----

#[derive(Debug, Clone)]
pub struct AppPasswordRow {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub password_hash: String,
    pub scopes: String,
    pub last_used_at: Option<i64>,
    pub created_at: i64,
}

const AP_COLUMNS: &str = "id, user_id, name, password_hash, scopes, last_used_at, created_at";

fn ap_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AppPasswordRow> {
    Ok(AppPasswordRow {
        id: r.get(0)?,
        user_id: r.get(1)?,
        name: r.get(2)?,
        password_hash: r.get(3)?,
        scopes: r.get(4)?,
        last_used_at: r.get(5)?,
        created_at: r.get(6)?,
    })
}

pub fn app_password_insert(conn: &Connection, row: &AppPasswordRow, hint: &str) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO app_passwords (id, user_id, name, hint, password_hash, scopes, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            row.id,
            row.user_id,
            row.name,
            hint,
            row.password_hash,
            row.scopes,
            row.created_at
        ],
    )?;
    Ok(())
}

pub fn app_passwords_for(conn: &Connection, user_id: &str) -> StoreResult<Vec<AppPasswordRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {AP_COLUMNS} FROM app_passwords WHERE user_id = ?1 ORDER BY created_at"
    ))?;
    let rows = stmt.query_map([user_id], ap_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn app_passwords_by_hint(
    conn: &Connection,
    user_id: &str,
    hint: &str,
) -> StoreResult<Vec<AppPasswordRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {AP_COLUMNS} FROM app_passwords WHERE user_id = ?1 AND hint = ?2"
    ))?;
    let rows = stmt.query_map(params![user_id, hint], ap_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn app_password_used(conn: &Connection, id: &str, now: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE app_passwords SET last_used_at = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

/// Deletes an app password and ends the sessions it opened.
pub fn app_password_delete(conn: &Connection, user_id: &str, id: &str) -> StoreResult<bool> {
    let deleted = conn.execute(
        "DELETE FROM app_passwords WHERE id = ?1 AND user_id = ?2",
        params![id, user_id],
    )? > 0;
    if deleted {
        conn.execute("DELETE FROM auth_sessions WHERE app_password_id = ?1", [id])?;
    }
    Ok(deleted)
}

// ---- Session facts for step-up, scopes and the enrolment-only state ----

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFacts {
    pub authenticated_at: Option<i64>,
    pub scopes: Option<String>,
    pub enrol_only: bool,
    pub app_password_id: Option<String>,
}

pub fn set_session_facts(conn: &Connection, sid: &str, facts: &SessionFacts) -> StoreResult<()> {
    conn.execute(
        "UPDATE auth_sessions SET authenticated_at = ?2, scopes = ?3, enrol_only = ?4, app_password_id = ?5
         WHERE id = ?1",
        params![
            sid,
            facts.authenticated_at,
            facts.scopes,
            facts.enrol_only,
            facts.app_password_id
        ],
    )?;
    Ok(())
}

/// The facts of a live refresh session and when it ends (ms); None when it has ended or expired.
pub fn session_facts(
    conn: &Connection,
    sid: &str,
    now: i64,
) -> StoreResult<Option<(SessionFacts, i64)>> {
    Ok(conn
        .prepare_cached(
            "SELECT authenticated_at, scopes, enrol_only, app_password_id, expires_at
             FROM auth_sessions WHERE id = ?1 AND expires_at > ?2",
        )?
        .query_row(params![sid, now], |r| {
            Ok((
                SessionFacts {
                    authenticated_at: r.get(0)?,
                    scopes: r.get(1)?,
                    enrol_only: r.get(2)?,
                    app_password_id: r.get(3)?,
                },
                r.get(4)?,
            ))
        })
        .optional()?)
}

/// A second factor was just proven on this session: it is fresh again and no longer limited.
pub fn session_reauthenticated(conn: &Connection, sid: &str, now: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE auth_sessions SET authenticated_at = ?2, enrol_only = 0 WHERE id = ?1",
        params![sid, now],
    )?;
    Ok(())
}

// ---- OIDC flows ----

#[derive(Debug, Clone)]
pub struct OidcFlow {
    pub id: String,
    pub csrf_hash: String,
    pub redirect_uri: Option<String>,
    pub callback: Option<String>,
    pub code_challenge: Option<String>,
    pub state: Option<String>,
    pub user_id: Option<String>,
    pub code_expires_at: Option<i64>,
    pub expires_at: i64,
}

const FLOW_COLUMNS: &str = "id, csrf_hash, redirect_uri, callback, code_challenge, state, user_id, code_expires_at, expires_at";

fn flow_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OidcFlow> {
    Ok(OidcFlow {
        id: r.get(0)?,
        csrf_hash: r.get(1)?,
        redirect_uri: r.get(2)?,
        callback: r.get(3)?,
        code_challenge: r.get(4)?,
        state: r.get(5)?,
        user_id: r.get(6)?,
        code_expires_at: r.get(7)?,
        expires_at: r.get(8)?,
    })
}

pub fn flow_insert(conn: &Connection, f: &OidcFlow, now: i64) -> StoreResult<()> {
    conn.execute("DELETE FROM oidc_flows WHERE expires_at <= ?1", [now])?;
    conn.execute(
        "INSERT INTO oidc_flows (id, csrf_hash, redirect_uri, callback, code_challenge, state, expires_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            f.id,
            f.csrf_hash,
            f.redirect_uri,
            f.callback,
            f.code_challenge,
            f.state,
            f.expires_at,
            now
        ],
    )?;
    Ok(())
}

pub fn flow_by_id(conn: &Connection, id: &str, now: i64) -> StoreResult<Option<OidcFlow>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {FLOW_COLUMNS} FROM oidc_flows WHERE id = ?1 AND expires_at > ?2"
        ))?
        .query_row(params![id, now], flow_row)
        .optional()?)
}

/// Binds an authenticated user and a fresh code to a flow that has none yet.
pub fn flow_set_code(
    conn: &Connection,
    id: &str,
    user_id: &str,
    code_hash: &str,
    code_expires_at: i64,
) -> StoreResult<bool> {
    Ok(conn.execute(
        "UPDATE oidc_flows SET user_id = ?2, code_hash = ?3, code_expires_at = ?4
         WHERE id = ?1 AND code_hash IS NULL",
        params![id, user_id, code_hash, code_expires_at],
    )? > 0)
}

/// The redirect URI and client state of a flow whose code is still live (the code is not taken:
/// the app exchanges it afterwards).
pub fn flow_redirect_by_code(
    conn: &Connection,
    code_hash: &str,
    now: i64,
) -> StoreResult<Option<(Option<String>, Option<String>)>> {
    Ok(conn
        .query_row(
            "SELECT redirect_uri, state FROM oidc_flows WHERE code_hash = ?1 AND code_expires_at > ?2",
            params![code_hash, now],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Takes the flow that owns a code and deletes it: codes are single-use whatever happens next.
pub fn flow_take_by_code(conn: &Connection, code_hash: &str) -> StoreResult<Option<OidcFlow>> {
    let flow = conn
        .prepare_cached(&format!(
            "SELECT {FLOW_COLUMNS} FROM oidc_flows WHERE code_hash = ?1"
        ))?
        .query_row([code_hash], flow_row)
        .optional()?;
    if let Some(f) = &flow {
        conn.execute("DELETE FROM oidc_flows WHERE id = ?1", [&f.id])?;
    }
    Ok(flow)
}

/// Drops login intermediate tokens and OIDC flows past their lifetime (hourly maintenance).
pub fn purge_expired(conn: &Connection, now: i64) -> StoreResult<()> {
    conn.execute("DELETE FROM mfa_tokens WHERE expires_at <= ?1", [now])?;
    conn.execute("DELETE FROM oidc_flows WHERE expires_at <= ?1", [now])?;
    conn.execute(
        "DELETE FROM webauthn_challenges WHERE expires_at <= ?1",
        [now],
    )?;
    Ok(())
}

// ---- Passkeys ----

#[derive(Debug, Clone)]
pub struct PasskeyRow {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub cred_id: String,
    pub passkey: String,
    pub last_used_at: Option<i64>,
    pub created_at: i64,
}

fn passkey_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PasskeyRow> {
    Ok(PasskeyRow {
        id: r.get(0)?,
        user_id: r.get(1)?,
        name: r.get(2)?,
        cred_id: r.get(3)?,
        passkey: r.get(4)?,
        last_used_at: r.get(5)?,
        created_at: r.get(6)?,
    })
}

pub fn passkey_insert(conn: &Connection, p: &PasskeyRow) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO passkeys (id, user_id, name, cred_id, passkey, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![p.id, p.user_id, p.name, p.cred_id, p.passkey, p.created_at],
    )?;
    Ok(())
}

pub fn passkeys_for(conn: &Connection, user_id: &str) -> StoreResult<Vec<PasskeyRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, user_id, name, cred_id, passkey, last_used_at, created_at FROM passkeys
         WHERE user_id = ?1 ORDER BY created_at",
    )?;
    let rows = stmt.query_map([user_id], passkey_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn passkey_by_cred(conn: &Connection, cred_id: &str) -> StoreResult<Option<PasskeyRow>> {
    Ok(conn
        .query_row(
            "SELECT id, user_id, name, cred_id, passkey, last_used_at, created_at FROM passkeys
             WHERE cred_id = ?1",
            [cred_id],
            passkey_row,
        )
        .optional()?)
}

/// Whether `user_id` has a passkey, so a login's second step can offer it.
pub fn has_passkey(conn: &Connection, user_id: &str) -> StoreResult<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM passkeys WHERE user_id = ?1 LIMIT 1",
            [user_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

pub fn passkey_update(conn: &Connection, id: &str, passkey: &str, now: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE passkeys SET passkey = ?2, last_used_at = ?3 WHERE id = ?1",
        params![id, passkey, now],
    )?;
    Ok(())
}

pub fn passkey_delete(conn: &Connection, user_id: &str, id: &str) -> StoreResult<bool> {
    Ok(conn.execute(
        "DELETE FROM passkeys WHERE id = ?1 AND user_id = ?2",
        params![id, user_id],
    )? > 0)
}

pub fn challenge_insert(
    conn: &Connection,
    id: &str,
    user_id: Option<&str>,
    kind: &str,
    state: &str,
    expires_at: i64,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO webauthn_challenges (id, user_id, kind, state, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, user_id, kind, state, expires_at],
    )?;
    Ok(())
}

/// Takes (deletes) a live ceremony state of `user_id` (None: a passwordless sign-in) and `kind`:
/// every challenge is single-use.
pub fn challenge_take(
    conn: &Connection,
    id: &str,
    user_id: Option<&str>,
    kind: &str,
    now: i64,
) -> StoreResult<Option<String>> {
    let state: Option<String> = conn
        .query_row(
            "SELECT state FROM webauthn_challenges WHERE id = ?1 AND user_id IS ?2 AND kind = ?3 AND expires_at > ?4",
            params![id, user_id, kind, now],
            |r| r.get(0),
        )
        .optional()?;
    conn.execute("DELETE FROM webauthn_challenges WHERE id = ?1", [id])?;
    Ok(state)
}
