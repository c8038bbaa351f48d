//! `/api/me` and the routes about the caller's own listening.

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use super::json;
use crate::app::AppState;
use crate::auth::extract::SelfUser;
use crate::error::AppResult;
use crate::store::progress;

pub async fn me(State(state): State<AppState>, SelfUser(me): SelfUser) -> AppResult<Json<Value>> {
    let uid = me.user.id.clone();
    let (rows, marks) = state
        .store
        .read(move |c| {
            Ok((
                progress::list_for_user(c, &uid)?,
                progress::bookmarks_for_user(c, &uid)?,
            ))
        })
        .await?;
    let legacy = state.keys.legacy(
        &me.user.id,
        &me.user.username,
        &me.user.legacy_token_id,
        me.user.created_at / 1000,
    )?;
    Ok(Json(json::user(&me.user, Some(&legacy), &rows, &marks)))
}
