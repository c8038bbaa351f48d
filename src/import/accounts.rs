//! Users, ids kept. Credentials that a user has already used here are never rolled back.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::map::{json_or, string_list};
use super::report::Report;
use super::write::{Ctx, Imported, begin_row, end_row};
use crate::model::{Permissions, User, UserType};
use crate::store::{StoreResult, users};

pub fn users(tx: &Connection, ctx: &Ctx, r: &mut Report, out: &mut Imported) -> StoreResult<()> {
    r.found("users", ctx.data.users.len());
    for u in &ctx.data.users {
        let (id, name) = (u.id(), u.text("username"));
        if let Some(other) = users::by_username(tx, &name)?
            && other.id != id
        {
            r.skip(
                "users",
                &id,
                &name,
                "a Shelfwarden account of that name already exists",
            );
            continue;
        }
        let Some(mut user_type) = UserType::parse(&u.text("type")) else {
            r.skip(
                "users",
                &id,
                &name,
                format!("unknown account type {:?}", u.text("type")),
            );
            continue;
        };
        if user_type == UserType::Root {
            let other_root: Option<String> = tx
                .query_row(
                    "SELECT id FROM users WHERE type = 'root' AND id != ?1",
                    [&id],
                    |x| x.get(0),
                )
                .optional()?;
            if other_root.is_some() {
                user_type = UserType::Admin;
                r.warnings.push(format!(
                    "{name} was ABS's root; this server already has one, so {name} is an admin here"
                ));
            }
        }
        let perms = json_or(u.s("permissions").as_deref(), Value::Null);
        let permissions: Permissions = serde_json::from_value(perms.clone())
            .unwrap_or_else(|_| Permissions::for_type(user_type));
        let list = |v: &Value, k: &str| string_list(v.get(k).map(|x| x.to_string()).as_deref());
        let extra = json_or(u.s("extraData").as_deref(), Value::Null);
        let abs_hash = u.opt("pash").filter(|h| h.starts_with("$2"));
        if u.opt("pash").is_some() && abs_hash.is_none() {
            r.warnings.push(format!("{name}'s ABS password hash has an unknown format; they need a password set by an admin"));
        }
        let existing = users::by_id(tx, &id)?;
        // Once the user has logged in here the bcrypt hash has become Argon2id (and maybe a new
        // password): a repeated import must not roll that back.
        let keep_ours = existing
            .as_ref()
            .and_then(|e| e.password_hash.as_deref())
            .is_some_and(|h| !h.starts_with("$2"));
        let (password_hash, must_change) = match (&existing, keep_ours) {
            (Some(e), true) => (e.password_hash.clone(), e.must_change_password),
            _ => (abs_hash.clone(), abs_hash.is_some()),
        };
        let created_at = u.t("createdAt").unwrap_or(0);
        let user = User {
            id: id.clone(),
            username: name.clone(),
            email: u.opt("email"),
            password_hash,
            user_type,
            is_active: u.b("isActive"),
            is_locked: u.b("isLocked"),
            must_change_password: must_change,
            legacy_token_id: existing.as_ref().map_or_else(
                || uuid::Uuid::new_v4().to_string(),
                |e| e.legacy_token_id.clone(),
            ),
            permissions,
            libraries_accessible: list(&perms, "librariesAccessible"),
            item_tags_selected: list(&perms, "itemTagsSelected"),
            series_hide_from_continue: list(&extra, "seriesHideFromContinueListening"),
            allowed_networks: existing
                .as_ref()
                .map(|e| e.allowed_networks.clone())
                .unwrap_or_default(),
            last_seen: u.t("lastSeen"),
            created_at,
            updated_at: u.t("updatedAt").unwrap_or(created_at),
        };
        let q = ["SELECT * FROM users WHERE id = ?1"];
        let before = begin_row(tx, &q, &[&id])?;
        if existing.is_some() {
            users::update(tx, &user)?;
            users::replace_series_hidden(tx, &id, &user.series_hide_from_continue)?;
            tx.execute(
                "UPDATE users SET created_at = ?2 WHERE id = ?1",
                params![id, created_at],
            )?;
        } else {
            users::insert(tx, &user)?;
        }
        r.record("users", end_row(tx, &q, &[&id], before)?);
        match &user.password_hash {
            Some(_) if user.must_change_password => r.must_change_password.push(name.clone()),
            Some(_) => {}
            None => r.without_password.push(name.clone()),
        }
        out.users.insert(id);
    }
    Ok(())
}
