//! Extractors that carry the privilege a handler needs in its signature. A handler that takes
//! `CurrentUser` cannot run for an anonymous caller; one that takes `AdminUser` cannot run for a
//! non-admin. There is no list of public or exempt paths anywhere.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use crate::app::AppState;
use crate::auth::client_ip::{self, ClientInfo};
use crate::auth::tokens::{TokenError, TokenKind};
use crate::error::AppError;
use crate::model::User;
use crate::store::{auth_sessions, users};

/// The client's address as resolved through the trusted-proxy list.
#[derive(Debug, Clone)]
pub struct ClientIp(pub ClientInfo);

/// Marks a connection that arrived over TLS (inserted by the TLS acceptor).
#[derive(Debug, Clone, Copy)]
pub struct DirectTls;

impl<S> FromRequestParts<S> for ClientIp
where
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(c) = parts.extensions.get::<ClientIp>() {
            return Ok(c.clone());
        }
        let resolved = resolve_client(parts)?;
        parts.extensions.insert(resolved.clone());
        Ok(resolved)
    }
}

/// Resolves the client from the socket peer and, for trusted proxies only, forwarding headers.
fn resolve_client(parts: &Parts) -> Result<ClientIp, AppError> {
    let trusted = parts
        .extensions
        .get::<TrustedProxies>()
        .map(|t| t.0.as_slice())
        .unwrap_or(&[]);
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    let tls = parts.extensions.get::<DirectTls>().is_some();
    client_ip::resolve(peer, tls, &parts.headers, trusted)
        .map(ClientIp)
        .map_err(|e| AppError::bad_request(e.to_string()))
}

/// The configured trusted proxies, placed in request extensions by the router.
#[derive(Debug, Clone)]
pub struct TrustedProxies(pub std::sync::Arc<Vec<ipnet::IpNet>>);

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A short-lived access token of a refresh session.
    Session { session_id: String },
    /// ABS's never-expiring `user.token`.
    Legacy,
    /// A media token from a `contentUrl`, valid for media GETs only.
    Media { scope: String },
}

/// Any authenticated, active user (Bearer token).
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    pub principal: Principal,
}

/// An authenticated admin or root user.
#[derive(Debug, Clone)]
pub struct AdminUser(pub CurrentUser);

/// An authenticated user on a media or cover GET, where ABS clients may send `?token=`.
#[derive(Debug, Clone)]
pub struct MediaUser(pub CurrentUser);

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn query_token(parts: &Parts) -> Option<String> {
    let query = parts.uri.query()?;
    url_query_value(query, "token")
}

/// One value of a URL query string, percent-decoded.
pub fn url_query_value(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Verifies a token and loads its active user. Refresh tokens never authenticate a request.
pub async fn authenticate(
    state: &AppState,
    token: &str,
    allow_media: bool,
) -> Result<CurrentUser, AppError> {
    let now = state.now_secs();
    let claims = state.keys.verify(token, now).map_err(|e| match e {
        TokenError::Expired | TokenError::Invalid => AppError::Unauthorized,
    })?;
    let kind = claims.kind();
    let user_id = claims.user_id.clone().ok_or(AppError::Unauthorized)?;
    let now_ms = state.now_ms();
    let (user, session_ok) = state
        .store
        .read(move |c| {
            let user = users::by_id(c, &user_id)?;
            let session_ok = match (&claims.sid, kind) {
                (Some(sid), TokenKind::Access) => auth_sessions::exists(c, sid, now_ms)?,
                _ => true,
            };
            Ok((user.map(|u| (u, claims)), session_ok))
        })
        .await?;
    let (user, claims) = user.ok_or(AppError::Unauthorized)?;
    if !user.is_active || !session_ok {
        return Err(AppError::Unauthorized);
    }
    let principal = match kind {
        TokenKind::Access => Principal::Session {
            session_id: claims.sid.unwrap_or_default(),
        },
        TokenKind::Legacy if claims.jti.as_deref() == Some(user.legacy_token_id.as_str()) => {
            Principal::Legacy
        }
        TokenKind::Media if allow_media => Principal::Media {
            scope: claims.scope.unwrap_or_default(),
        },
        _ => return Err(AppError::Unauthorized),
    };
    Ok(CurrentUser { user, principal })
}

impl<S> FromRequestParts<S> for CurrentUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(u) = parts.extensions.get::<CurrentUser>() {
            return Ok(u.clone());
        }
        let app = AppState::from_ref(state);
        let token = bearer(&parts.headers)
            .ok_or(AppError::Unauthorized)?
            .to_string();
        let user = authenticate(&app, &token, false).await?;
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

impl<S> FromRequestParts<S> for AdminUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        if !user.user.is_admin() {
            return Err(AppError::forbidden());
        }
        Ok(AdminUser(user))
    }
}

impl<S> FromRequestParts<S> for MediaUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let token = match bearer(&parts.headers) {
            Some(t) => t.to_string(),
            None => query_token(parts).ok_or(AppError::Unauthorized)?,
        };
        Ok(MediaUser(authenticate(&app, &token, true).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_decoded() {
        assert_eq!(
            url_query_value("a=1&token=ab%2Bc+d", "token").as_deref(),
            Some("ab+c d")
        );
        assert_eq!(url_query_value("token", "token").as_deref(), Some(""));
        assert_eq!(url_query_value("x=%", "x").as_deref(), Some("%"));
        assert_eq!(url_query_value("x=%4", "x").as_deref(), Some("%4"));
        assert_eq!(url_query_value("x=1", "token"), None);
    }
}
