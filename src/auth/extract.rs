//! Extractors that carry the privilege a handler needs in its signature. A handler that takes
//! `CurrentUser` cannot run for an anonymous caller; one that takes `AdminUser` cannot run for a
//! non-admin. There is no list of public or exempt paths anywhere.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use crate::app::AppState;
use crate::audit::{Action, AuditEvent};
use crate::auth::api_keys::{self, Scope};
use crate::auth::cache::{Credential, CredentialKey};
use crate::auth::client_ip::{self, ClientInfo};
use crate::auth::tokens::{TokenError, TokenKind};
use crate::error::AppError;
use crate::model::User;
use crate::store::two_factor::{self, SessionFacts};
use crate::store::users;

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

/// A client the credential throttle lets through right now. Handlers that check a credential (a
/// password, a code, a refresh token, a passkey) take this instead of `ClientIp`, so none can
/// forget the throttle; a refused client gets ABS's 429 before its request is even parsed.
#[derive(Debug, Clone)]
pub struct UnthrottledClient(pub ClientInfo);

impl<S> FromRequestParts<S> for UnthrottledClient
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let ClientIp(client) = ClientIp::from_request_parts(parts, state).await?;
        match app.throttle.check_ip(client.ip, app.now_ms()).into_error() {
            Some(refused) => Err(refused),
            None => Ok(UnthrottledClient(client)),
        }
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
    /// An API key, limited to its scopes.
    ApiKey { key_id: String, scopes: Vec<Scope> },
    /// A media token from a `contentUrl`, valid for media GETs only.
    Media { scope: String },
}

impl Principal {
    /// Whether this credential may be used for a route class. Sessions and the legacy token carry
    /// the user's full rights; API keys only their scopes.
    pub fn allows(&self, needed: Scope) -> bool {
        match self {
            Principal::ApiKey { scopes, .. } => {
                scopes.contains(&needed) || scopes.contains(&Scope::Admin)
            }
            Principal::Media { .. } => needed == Scope::Read,
            Principal::Session { .. } | Principal::Legacy => true,
        }
    }
}

/// Any authenticated, active user whose credential may read (Bearer token). Users who must
/// change their password are refused here; `SelfUser` lets them reach their own account.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    pub principal: Principal,
    /// For a refresh session's access token: when it was authenticated, its scopes, whether it is
    /// limited to 2FA enrolment.
    pub facts: Option<SessionFacts>,
    /// The `auth` counter (`store::versions`) the user was read at, for caches built from it.
    pub auth_version: i64,
}

impl CurrentUser {
    /// Scopes an app-password session is limited to; None = the user's full rights.
    pub fn session_scopes(&self) -> Option<Vec<Scope>> {
        let raw = self.facts.as_ref()?.scopes.as_deref()?;
        let names: Vec<String> = serde_json::from_str(raw).unwrap_or_default();
        Some(names.iter().filter_map(|n| Scope::parse(n)).collect())
    }
    /// A session limited to 2FA enrolment (the policy demands a second factor the user lacks).
    pub fn enrol_only(&self) -> bool {
        self.facts.as_ref().is_some_and(|f| f.enrol_only)
    }
}

/// The caller acting on their own account (`/api/me`, password change, `/api/authorize`): allowed
/// even while a password change is pending.
#[derive(Debug, Clone)]
pub struct SelfUser(pub CurrentUser);

/// A user writing listening state (progress, sessions, bookmarks): API keys need the `progress` scope.
#[derive(Debug, Clone)]
pub struct ListeningUser(pub CurrentUser);

/// An authenticated admin or root user, from a network `admin_allow` permits; API keys need `admin`.
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
    let now_ms = state.now_ms();
    // Observed before any row is read, so nothing is ever labelled newer than it is.
    let auth_version = state.store.versions()?.auth;
    if kind == TokenKind::Api {
        // Not cached: every use is recorded on the key's row anyway.
        let token = token.to_string();
        let found = state
            .store
            .read(move |c| {
                let Some(p) = api_keys::authenticate(c, &token, now_ms)? else {
                    return Ok(None);
                };
                Ok(users::by_id(c, &p.user_id)?.map(|u| (u, p)))
            })
            .await?;
        let (user, key) = found.ok_or(AppError::Unauthorized)?;
        if !user.is_active {
            return Err(AppError::Unauthorized);
        }
        return Ok(CurrentUser {
            user,
            principal: Principal::ApiKey {
                key_id: key.key_id,
                scopes: key.scopes,
            },
            facts: None,
            auth_version,
        });
    }
    let key = CredentialKey {
        user_id: claims.user_id.clone().ok_or(AppError::Unauthorized)?,
        kind,
        session_id: claims.sid.clone().filter(|_| kind == TokenKind::Access),
    };
    let credential = match state.credentials.get(&key, auth_version, now_ms) {
        Some(hit) => hit,
        None => {
            let found = load_credential(state, key.clone(), now_ms).await?;
            let credential = found.ok_or(AppError::Unauthorized)?;
            state
                .credentials
                .insert(key, auth_version, credential.clone());
            credential
        }
    };
    let Credential { user, facts, .. } = credential;
    if !user.is_active {
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
    Ok(CurrentUser {
        user,
        principal,
        facts,
        auth_version,
    })
}

/// The user behind a verified token and, for an access token, its live refresh session; None
/// when either is gone.
async fn load_credential(
    state: &AppState,
    key: CredentialKey,
    now_ms: i64,
) -> Result<Option<Credential>, AppError> {
    let policy = crate::auth::mfa::Policy::parse(&state.config.require_2fa)
        .unwrap_or(crate::auth::mfa::Policy::Auto);
    state
        .store
        .read(move |c| {
            let Some(user) = users::by_id(c, &key.user_id)? else {
                return Ok(None);
            };
            let (facts, session_expires_at) = match (key.kind, &key.session_id) {
                (TokenKind::Access, Some(sid)) => {
                    match two_factor::session_facts(c, sid, now_ms)? {
                        Some((facts, ends)) => (Some(facts), Some(ends)),
                        None => return Ok(None),
                    }
                }
                (TokenKind::Access, None) => return Ok(None),
                // The never-expiring legacy token has no session to carry the enrolment limit, so
                // the policy is checked on every use; otherwise it would bypass enrolment.
                (TokenKind::Legacy, _)
                    if policy != crate::auth::mfa::Policy::Off
                        && !two_factor::has_active_totp(c, &user.id)? =>
                {
                    let any_admin = user.is_admin() && two_factor::any_admin_enrolled(c)?;
                    let limited =
                        policy
                            .requires(user.is_admin(), any_admin)
                            .then(|| SessionFacts {
                                enrol_only: true,
                                ..SessionFacts::default()
                            });
                    (limited, None)
                }
                _ => (None, None),
            };
            Ok(Some(Credential {
                user,
                facts,
                session_expires_at,
            }))
        })
        .await
}

/// What a route class demands of the caller.
struct Demand {
    scope: Scope,
    admin: bool,
    query_token: bool,
    allow_pending_password: bool,
    /// Sessions of users who must enrol a second factor reach only routes that allow this.
    allow_enrol_only: bool,
}

/// The one place a request's credential is turned into a permitted user.
async fn authorize(
    parts: &mut Parts,
    app: &AppState,
    demand: Demand,
) -> Result<CurrentUser, AppError> {
    let me = match parts.extensions.get::<CurrentUser>() {
        Some(u) => u.clone(),
        None => {
            let token = match bearer(&parts.headers) {
                Some(t) => t.to_string(),
                None if demand.query_token => query_token(parts).ok_or(AppError::Unauthorized)?,
                None => return Err(AppError::Unauthorized),
            };
            let me = authenticate(app, &token, demand.query_token).await?;
            let client = ClientIp::from_request_parts(parts, &()).await?;
            let networks =
                crate::auth::allowlist::parse_list(&me.user.allowed_networks).unwrap_or_default();
            if let Err(refusal) =
                app.allowlists
                    .check_user(client.0.ip, me.user.is_admin(), &networks)
            {
                let ua = parts
                    .headers
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok());
                app.audit(
                    AuditEvent::new(Action::AllowlistRefused)
                        .actor(me.user.id.clone(), me.user.username.clone())
                        .client(client.0.ip, ua)
                        .target(parts.uri.path().to_string())
                        .details(serde_json::json!({ "list": refusal.as_str() })),
                )
                .await;
                return Err(AppError::forbidden());
            }
            if let Principal::ApiKey { key_id, .. } = &me.principal {
                let (store, key, ip, now) =
                    (app.store.clone(), key_id.clone(), client.0.ip, app.now_ms());
                tokio::spawn(async move {
                    let _ = store
                        .write(move |tx| api_keys::record_use(tx, &key, Some(ip), now))
                        .await;
                });
            }
            parts.extensions.insert(me.clone());
            me
        }
    };
    if !me.principal.allows(demand.scope) {
        return Err(AppError::Forbidden(format!(
            "This API key lacks the \"{}\" scope",
            demand.scope.as_str()
        )));
    }
    if demand.admin && !me.user.is_admin() {
        return Err(AppError::forbidden());
    }
    if let Some(scopes) = me.session_scopes()
        && !(scopes.contains(&demand.scope) || scopes.contains(&Scope::Admin))
    {
        return Err(AppError::Forbidden(format!(
            "This app password lacks the \"{}\" scope",
            demand.scope.as_str()
        )));
    }
    if me.user.must_change_password && !demand.allow_pending_password {
        return Err(AppError::Forbidden("Password change required".into()));
    }
    if me.enrol_only() && !demand.allow_enrol_only {
        return Err(AppError::Forbidden("Two-factor enrolment required".into()));
    }
    Ok(me)
}

/// Implements `FromRequestParts` for `$name`: `$check` (given the request parts and the app
/// state) yields the user, `$wrap` makes the extractor of it.
macro_rules! extractor {
    ($name:ident, $wrap:expr, |$parts:ident, $app:ident| $check:expr) => {
        impl<S> FromRequestParts<S> for $name
        where
            AppState: FromRef<S>,
            S: Send + Sync,
        {
            type Rejection = AppError;

            async fn from_request_parts(
                $parts: &mut Parts,
                state: &S,
            ) -> Result<Self, Self::Rejection> {
                let $app = &AppState::from_ref(state);
                $check.await.map($wrap)
            }
        }
    };
}

macro_rules! user_extractor {
    ($name:ident, $wrap:expr, $demand:expr) => {
        extractor!($name, $wrap, |parts, app| authorize(parts, app, $demand));
    };
}

const fn demand(
    scope: Scope,
    admin: bool,
    query_token: bool,
    allow_pending_password: bool,
) -> Demand {
    Demand {
        scope,
        admin,
        query_token,
        allow_pending_password,
        // Own-account routes (`SelfUser`) are where a limited session can enrol.
        allow_enrol_only: allow_pending_password,
    }
}

user_extractor!(CurrentUser, |u| u, demand(Scope::Read, false, false, false));
user_extractor!(SelfUser, SelfUser, demand(Scope::Read, false, false, true));
user_extractor!(
    ListeningUser,
    ListeningUser,
    demand(Scope::Progress, false, false, false)
);
user_extractor!(
    AdminUser,
    AdminUser,
    demand(Scope::Admin, true, false, false)
);
user_extractor!(
    MediaUser,
    MediaUser,
    demand(Scope::Read, false, true, false)
);

/// A user whose `update` permission lets them change shared collections. API keys and app
/// passwords need the `admin` scope: a collection is shown to every user of its library.
#[derive(Debug, Clone)]
pub struct CollectionEditor(pub CurrentUser);

/// A user whose `delete` permission lets them delete shared collections (scope as above).
#[derive(Debug, Clone)]
pub struct CollectionDeleter(pub CurrentUser);

async fn with_permission(
    parts: &mut Parts,
    app: &AppState,
    granted: fn(&crate::model::Permissions) -> bool,
) -> Result<CurrentUser, AppError> {
    let me = authorize(parts, app, demand(Scope::Admin, false, false, false)).await?;
    if !(me.user.is_active && granted(&me.user.permissions)) {
        return Err(AppError::forbidden());
    }
    Ok(me)
}

extractor!(CollectionEditor, CollectionEditor, |parts, app| {
    with_permission(parts, app, |p| p.update)
});
extractor!(CollectionDeleter, CollectionDeleter, |parts, app| {
    with_permission(parts, app, |p| p.delete)
});

/// An admin (with the admin scope) on the routes ABS hides from everyone else with **404**
/// (`GET /api/sessions`, `/api/sessions/open`): a non-admin cannot tell the route exists.
#[derive(Debug, Clone)]
pub struct HiddenAdmin(pub CurrentUser);

extractor!(HiddenAdmin, HiddenAdmin, |parts, app| async move {
    authorize(parts, app, demand(Scope::Admin, true, false, false))
        .await
        .map_err(|e| match e {
            AppError::Forbidden(_) => AppError::not_found(),
            other => other,
        })
});

/// A caller reading the listening history of the user named by the `{id}` path segment: that
/// user themself, or an admin with the admin scope (ABS's rule for `/api/users/:id/listening-*`).
#[derive(Debug, Clone)]
pub struct HistoryReader {
    pub me: CurrentUser,
    pub user_id: String,
}

extractor!(
    HistoryReader,
    |(me, user_id)| HistoryReader { me, user_id },
    |parts, app| async move {
        let axum::extract::Path(user_id) =
            axum::extract::Path::<String>::from_request_parts(parts, app)
                .await
                .map_err(|_| AppError::not_found())?;
        let me = authorize(parts, app, demand(Scope::Read, false, false, false)).await?;
        if me.user.id != user_id {
            authorize(parts, app, demand(Scope::Admin, true, false, false)).await?;
        }
        Ok::<_, AppError>((me, user_id))
    }
);

/// A caller deleting listening sessions (`DELETE /api/sessions/:id`): a listening user, who may
/// delete their own sessions, and whether they are also an admin with the admin scope, who may
/// delete anyone's. Only a refusal makes `admin` false; any other failure is the request's error.
#[derive(Debug, Clone)]
pub struct SessionDeleter {
    pub me: CurrentUser,
    pub admin: bool,
}

extractor!(
    SessionDeleter,
    |(me, admin)| SessionDeleter { me, admin },
    |parts, app| async move {
        let me = authorize(parts, app, demand(Scope::Progress, false, false, false)).await?;
        let admin = match authorize(parts, app, demand(Scope::Admin, true, false, false)).await {
            Ok(_) => true,
            Err(AppError::Forbidden(_)) => false,
            Err(other) => return Err(other),
        };
        Ok::<_, AppError>((me, admin))
    }
);

/// A caller who authenticated (password or second factor) within `step_up_window_secs`, with a
/// full-rights session: for password, 2FA, app-password, API-key and role changes. Legacy tokens,
/// API keys, app-password sessions and 2FA-enrolment-only sessions never qualify.
#[derive(Debug, Clone)]
pub struct FreshUser(pub CurrentUser);

/// Like `FreshUser`, but also for a session limited to 2FA enrolment (enrol and confirm TOTP).
#[derive(Debug, Clone)]
pub struct EnrollingUser(pub CurrentUser);

/// An admin who passes `FreshUser`'s test: for creating API keys and users, changing a user's
/// role, permissions or access, and downloading backups.
#[derive(Debug, Clone)]
pub struct FreshAdmin(pub CurrentUser);

fn reauth_required() -> AppError {
    AppError::json(
        axum::http::StatusCode::FORBIDDEN,
        "Re-authentication required",
    )
}

/// A caller with a full-rights session (as `FreshUser`) however old its login: for changes that
/// check the password and a second factor themselves, so a step-up first would only cost a code.
#[derive(Debug, Clone)]
pub struct FullSessionUser(pub CurrentUser);

async fn fresh(
    parts: &mut Parts,
    app: &AppState,
    allow_enrol_only: bool,
) -> Result<CurrentUser, AppError> {
    let me = full_session(parts, app, allow_enrol_only).await?;
    let authenticated_at = me.facts.as_ref().and_then(|f| f.authenticated_at);
    if !crate::auth::mfa::is_fresh(
        authenticated_at,
        app.now_ms(),
        app.config.step_up_window_secs,
    ) {
        return Err(reauth_required());
    }
    Ok(me)
}

async fn full_session(
    parts: &mut Parts,
    app: &AppState,
    allow_enrol_only: bool,
) -> Result<CurrentUser, AppError> {
    let me = authorize(
        parts,
        app,
        Demand {
            scope: Scope::Read,
            admin: false,
            query_token: false,
            allow_pending_password: true,
            allow_enrol_only,
        },
    )
    .await?;
    match (&me.principal, &me.facts) {
        (Principal::Session { .. }, Some(f)) if f.scopes.is_none() => Ok(me),
        _ => Err(reauth_required()),
    }
}

extractor!(FreshUser, FreshUser, |parts, app| fresh(parts, app, false));
extractor!(EnrollingUser, EnrollingUser, |parts, app| fresh(
    parts, app, true
));
extractor!(FullSessionUser, FullSessionUser, |parts, app| {
    full_session(parts, app, false)
});

// The admin test first, so a non-admin learns nothing about step-up.
extractor!(FreshAdmin, FreshAdmin, |parts, app| async move {
    <AdminUser as FromRequestParts<AppState>>::from_request_parts(parts, app).await?;
    fresh(parts, app, false).await
});

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
