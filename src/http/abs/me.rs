//! `/api/me` and the routes about the caller's own listening.

use std::collections::HashMap;
use std::sync::RwLock;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;

use serde_json::Value;

use super::json;
use crate::app::AppState;
use crate::auth::extract::SelfUser;
use crate::error::{AppError, AppResult};
use crate::model::User;
use crate::store::progress;

/// Users beyond this are dropped wholesale; a server has far fewer accounts.
const MAX_USERS: usize = 4096;

/// The rendered `/api/me` of each user, labelled with the `auth` and `listening` counters
/// (`store::versions`) observed before the rows behind it were read: any change to the user, their
/// sessions, progress or bookmarks moves a counter, so a stale body is never served. Apps poll
/// this route; most polls change nothing.
#[derive(Default)]
pub struct MeCache {
    bodies: RwLock<HashMap<String, (Counters, Bytes)>>,
}

/// The `auth` and `listening` counters a body was rendered at.
type Counters = (i64, i64);

impl MeCache {
    fn get(&self, user_id: &str, versions: Counters) -> Option<Bytes> {
        let bodies = self.bodies.read().unwrap_or_else(|p| p.into_inner());
        let (seen, body) = bodies.get(user_id)?;
        (*seen == versions).then(|| body.clone())
    }

    fn insert(&self, user_id: &str, versions: Counters, body: Bytes) {
        let mut bodies = self.bodies.write().unwrap_or_else(|p| p.into_inner());
        if bodies.len() >= MAX_USERS && !bodies.contains_key(user_id) {
            bodies.clear();
        }
        bodies.insert(user_id.to_string(), (versions, body));
    }
}

pub async fn me(State(state): State<AppState>, SelfUser(me): SelfUser) -> AppResult<Response> {
    // The user was read at `me.auth_version`; the listening counter is observed before its rows.
    let versions = (me.auth_version, state.store.versions()?.listening);
    let body = match state.me_bodies.get(&me.user.id, versions) {
        Some(body) => body,
        None => {
            let value = render(&state, &me.user).await?;
            let body = Bytes::from(serde_json::to_vec(&value).map_err(AppError::internal)?);
            state.me_bodies.insert(&me.user.id, versions, body.clone());
            body
        }
    };
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

/// The user as `/api/me` shows it: with every progress row, bookmark, and the legacy token.
pub async fn render(state: &AppState, user: &User) -> AppResult<Value> {
    let uid = user.id.clone();
    let (rows, marks) = state
        .store
        .read(move |c| progress::listening_of(c, &uid))
        .await?;
    let legacy = state.keys.legacy_for(user)?;
    Ok(json::user(user, Some(&legacy), &rows, &marks))
}
