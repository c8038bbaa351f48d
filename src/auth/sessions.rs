//! Refresh sessions: opening one at login, rotating it at `/auth/refresh` with ABS's grace period,
//! and treating a replayed, retired refresh token as theft (the whole session is revoked).

use crate::auth::tokens::{Claims, TokenError, TokenKeys, TokenKind, token_hash};
use crate::error::{AppError, AppResult};
use crate::model::User;
use crate::store::auth_sessions::{self, AuthSession};
use crate::store::two_factor::{self, SessionFacts};
use crate::store::users;
use axum::http::StatusCode;
use rusqlite::Connection;

#[derive(Debug, Clone)]
pub struct SessionPolicy {
    pub access_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
    pub grace_secs: i64,
}

#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub session_id: String,
    pub access_token: String,
    pub refresh_token: String,
}

pub struct ClientMeta<'a> {
    pub ip: Option<String>,
    pub user_agent: Option<&'a str>,
}

fn refresh_error(msg: &str) -> AppError {
    AppError::json(StatusCode::UNAUTHORIZED, msg)
}

/// Opens a new refresh session for `user` and issues its first token pair. The session counts as
/// freshly authenticated (step-up) from `now_ms`.
pub fn open(
    conn: &Connection,
    keys: &TokenKeys,
    policy: &SessionPolicy,
    user: &User,
    client: &ClientMeta<'_>,
    now_ms: i64,
) -> AppResult<IssuedTokens> {
    let facts = SessionFacts {
        authenticated_at: Some(now_ms),
        ..SessionFacts::default()
    };
    open_with(conn, keys, policy, user, client, now_ms, &facts)
}

/// `open` with explicit step-up facts: scopes of an app password, or the enrolment-only limit.
pub fn open_with(
    conn: &Connection,
    keys: &TokenKeys,
    policy: &SessionPolicy,
    user: &User,
    client: &ClientMeta<'_>,
    now_ms: i64,
    facts: &SessionFacts,
) -> AppResult<IssuedTokens> {
    let now = now_ms.div_euclid(1000);
    let sid = uuid::Uuid::new_v4().to_string();
    let refresh_token =
        keys.refresh(&user.id, &user.username, &sid, now, policy.refresh_ttl_secs)?;
    let claims = keys
        .verify(&refresh_token, now)
        .map_err(|e| AppError::internal(format!("fresh token does not verify: {e}")))?;
    auth_sessions::insert(
        conn,
        &AuthSession {
            id: sid.clone(),
            user_id: user.id.clone(),
            refresh_hash: token_hash(&refresh_token),
            refresh_claims: serde_json::to_string(&claims).map_err(AppError::internal)?,
            last_refresh_hash: None,
            last_refresh_expires_at: None,
            expires_at: now_ms + policy.refresh_ttl_secs * 1000,
            ip_address: client.ip.clone(),
            user_agent: client.user_agent.map(|s| s.chars().take(512).collect()),
            created_at: now_ms,
            updated_at: now_ms,
        },
    )?;
    two_factor::set_session_facts(conn, &sid, facts)?;
    let access_token = keys.access(&user.id, &user.username, &sid, now, policy.access_ttl_secs)?;
    Ok(IssuedTokens {
        session_id: sid,
        access_token,
        refresh_token,
    })
}

/// What a presented refresh token turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum RefreshVerdict {
    /// The session's current token: rotate.
    Current,
    /// The token rotated away moments ago (racing requests): hand out the current one again.
    WithinGrace,
    /// A retired token presented again: assume theft and revoke the session.
    Reused,
}

/// The pure decision, separated from storage so it is tested with synthetic time.
pub fn judge(session: &AuthSession, presented_hash: &str, now_ms: i64) -> RefreshVerdict {
    if session.refresh_hash == presented_hash {
        return RefreshVerdict::Current;
    }
    match session.last_refresh_expires_at {
        Some(until)
            if session.last_refresh_hash.as_deref() == Some(presented_hash) && now_ms < until =>
        {
            RefreshVerdict::WithinGrace
        }
        _ => RefreshVerdict::Reused,
    }
}

/// Rotates (or re-issues within the grace period) the session behind `token`. The outer result is a
/// storage failure; the inner one is the refusal, returned as a value so that a revocation made while
/// refusing is still committed.
pub fn refresh(
    conn: &Connection,
    keys: &TokenKeys,
    policy: &SessionPolicy,
    token: &str,
    now_ms: i64,
) -> AppResult<AppResult<(User, IssuedTokens)>> {
    match refresh_inner(conn, keys, policy, token, now_ms) {
        Err(AppError::Internal(e)) => Err(AppError::Internal(e)),
        other => Ok(other),
    }
}

fn refresh_inner(
    conn: &Connection,
    keys: &TokenKeys,
    policy: &SessionPolicy,
    token: &str,
    now_ms: i64,
) -> AppResult<(User, IssuedTokens)> {
    let now = now_ms.div_euclid(1000);
    let claims = match keys.verify(token, now) {
        Ok(c) => c,
        Err(TokenError::Expired) => return Err(refresh_error("Refresh token expired")),
        Err(TokenError::Invalid) => return Err(refresh_error("Invalid refresh token")),
    };
    if claims.kind() != TokenKind::Refresh {
        return Err(refresh_error("Invalid token type"));
    }
    let hash = token_hash(token);
    let Some(session) = auth_sessions::by_refresh_hash(conn, &hash)? else {
        if let Some(sid) = auth_sessions::session_of_retired(conn, &hash)? {
            auth_sessions::delete(conn, &sid)?;
            tracing::warn!(session = %sid, "retired refresh token replayed; session revoked");
        }
        return Err(refresh_error("Invalid refresh token"));
    };
    if session.expires_at <= now_ms {
        auth_sessions::delete(conn, &session.id)?;
        return Err(refresh_error("Refresh token expired"));
    }
    let user = users::by_id(conn, &session.user_id)?
        .filter(|u| u.is_active)
        .ok_or_else(|| refresh_error("User not found or inactive"))?;
    match judge(&session, &hash, now_ms) {
        RefreshVerdict::Reused => {
            auth_sessions::delete(conn, &session.id)?;
            tracing::warn!(session = %session.id, user = %user.username, "refresh token reused after its grace period; session revoked");
            Err(refresh_error("Invalid refresh token"))
        }
        RefreshVerdict::WithinGrace => {
            let current: Claims =
                serde_json::from_str(&session.refresh_claims).map_err(AppError::internal)?;
            let refresh_token = keys.sign(&current)?;
            let access_token = keys.access(
                &user.id,
                &user.username,
                &session.id,
                now,
                policy.access_ttl_secs,
            )?;
            Ok((
                user,
                IssuedTokens {
                    session_id: session.id,
                    access_token,
                    refresh_token,
                },
            ))
        }
        RefreshVerdict::Current => {
            let refresh_token = keys.refresh(
                &user.id,
                &user.username,
                &session.id,
                now,
                policy.refresh_ttl_secs,
            )?;
            let new_claims = keys
                .verify(&refresh_token, now)
                .map_err(|e| AppError::internal(format!("fresh token does not verify: {e}")))?;
            let rotated = auth_sessions::rotate(
                conn,
                &session.id,
                &hash,
                &token_hash(&refresh_token),
                &serde_json::to_string(&new_claims).map_err(AppError::internal)?,
                now_ms + policy.grace_secs * 1000,
                now_ms + policy.refresh_ttl_secs * 1000,
                now_ms,
            )?;
            if !rotated {
                return Err(refresh_error("Invalid refresh token"));
            }
            let access_token = keys.access(
                &user.id,
                &user.username,
                &session.id,
                now,
                policy.access_ttl_secs,
            )?;
            Ok((
                user,
                IssuedTokens {
                    session_id: session.id,
                    access_token,
                    refresh_token,
                },
            ))
        }
    }
}

/// Ends the session behind `token` (or every session of its user). Unknown tokens are not an error.
pub fn logout(conn: &Connection, token: &str, all_devices: bool) -> AppResult<Option<String>> {
    let hash = token_hash(token);
    let Some(session) = auth_sessions::by_refresh_hash(conn, &hash)? else {
        return Ok(None);
    };
    if all_devices {
        auth_sessions::delete_for_user(conn, &session.user_id)?;
    } else {
        auth_sessions::delete(conn, &session.id)?;
    }
    Ok(Some(session.user_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(current: &str, last: Option<&str>, last_until: Option<i64>) -> AuthSession {
        AuthSession {
            id: "s".into(),
            user_id: "u".into(),
            refresh_hash: current.into(),
            refresh_claims: "{}".into(),
            last_refresh_hash: last.map(Into::into),
            last_refresh_expires_at: last_until,
            expires_at: i64::MAX,
            ip_address: None,
            user_agent: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn grace_window_is_judged_with_the_given_time() {
        let s = session("new", Some("old"), Some(10_000));
        assert_eq!(judge(&s, "new", 0), RefreshVerdict::Current);
        assert_eq!(judge(&s, "old", 9_999), RefreshVerdict::WithinGrace);
        assert_eq!(judge(&s, "old", 10_000), RefreshVerdict::Reused);
    }
}
