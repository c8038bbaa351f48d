//! Account operations shared by the CLI, the ABS API and the web UI: create, change password,
//! enable/disable. Each is one write transaction; credentials and tokens die with the change.

use crate::auth::password;
use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::model::{Permissions, User, UserType};
use crate::store::{Store, auth_sessions, users};

/// Checks a new password against the policy; the error says why it was refused.
pub fn check_password_policy(config: &Config, username: &str, candidate: &str) -> AppResult<()> {
    config
        .password_policy()
        .check(candidate, &[username])
        .map_err(|v| AppError::bad_request(format!("Password refused: {}", v.reasons.join(" "))))
}

pub fn new_user(
    username: &str,
    password_hash: Option<String>,
    user_type: UserType,
    now: i64,
) -> User {
    User {
        id: uuid::Uuid::new_v4().to_string(),
        username: username.to_string(),
        email: None,
        password_hash,
        user_type,
        is_active: true,
        is_locked: false,
        must_change_password: false,
        legacy_token_id: uuid::Uuid::new_v4().to_string(),
        permissions: Permissions::for_type(user_type),
        libraries_accessible: Vec::new(),
        item_tags_selected: Vec::new(),
        series_hide_from_continue: Vec::new(),
        allowed_networks: Vec::new(),
        last_seen: None,
        created_at: now,
        updated_at: now,
    }
}

pub fn validate_username(username: &str) -> AppResult<()> {
    let ok = !username.is_empty()
        && username.chars().count() <= 64
        && username
            .chars()
            .all(|c| c.is_alphanumeric() || "._-@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(AppError::bad_request(
            "Usernames are 1 to 64 letters, digits or . _ - @",
        ))
    }
}

/// Creates a user after checking the name and the password policy.
pub fn create_user_blocking(
    store: &Store,
    config: &Config,
    username: &str,
    plain_password: &str,
    user_type: UserType,
    now: i64,
) -> AppResult<User> {
    validate_username(username)?;
    check_password_policy(config, username, plain_password)?;
    let hash = password::hash(plain_password)?;
    let user = new_user(username, Some(hash), user_type, now);
    let to_insert = user.clone();
    store.write_blocking(move |tx| {
        if users::by_username(tx, &to_insert.username)?.is_some() {
            return Err(AppError::bad_request("Username already taken"));
        }
        if to_insert.user_type == UserType::Root {
            let has_root = users::has_root(tx)?;
            if has_root {
                return Err(AppError::bad_request("A root user already exists"));
            }
        }
        users::insert(tx, &to_insert)
    })?;
    Ok(user)
}

/// Sets a new password: rotates the legacy token and ends every refresh session except `keep_session`.
pub fn set_password_blocking(
    store: &Store,
    config: &Config,
    user_id: &str,
    plain_password: &str,
    keep_session: Option<&str>,
    now: i64,
) -> AppResult<User> {
    let user_id = user_id.to_string();
    let keep = keep_session.map(str::to_string);
    let existing = store
        .read_blocking(|c| users::by_id(c, &user_id))?
        .ok_or_else(AppError::not_found)?;
    check_password_policy(config, &existing.username, plain_password)?;
    let hash = password::hash(plain_password)?;
    store.write_blocking(move |tx| {
        let mut u = users::by_id(tx, &user_id)?.ok_or_else(AppError::not_found)?;
        u.password_hash = Some(hash);
        u.must_change_password = false;
        u.legacy_token_id = uuid::Uuid::new_v4().to_string();
        u.updated_at = now;
        users::update(tx, &u)?;
        match &keep {
            Some(k) => auth_sessions::delete_for_user_except(tx, &u.id, k)?,
            None => auth_sessions::delete_for_user(tx, &u.id)?,
        };
        Ok(u)
    })
}

/// Enables or disables a user; disabling ends their sessions and revokes their legacy token at once.
pub fn set_active_blocking(
    store: &Store,
    username: &str,
    active: bool,
    now: i64,
) -> AppResult<User> {
    let username = username.to_string();
    store.write_blocking(move |tx| {
        let mut u = users::by_username(tx, &username)?
            .ok_or_else(|| AppError::not_found_msg("No such user"))?;
        u.is_active = active;
        u.updated_at = now;
        if !active {
            u.legacy_token_id = uuid::Uuid::new_v4().to_string();
            auth_sessions::delete_for_user(tx, &u.id)?;
            crate::auth::api_keys::revoke_all_for_user(tx, &u.id, now)?;
        }
        users::update(tx, &u)?;
        Ok(u)
    })
}
