//! `GET /api/security/findings`: what `shelfwarden doctor` reports, for the admin UI's security
//! overview. Judged inside the server, so "running as root" and "library writable" describe the
//! process that actually serves.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::extract::AdminUser;
use crate::doctor;
use crate::error::AppResult;

pub async fn findings(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
) -> AppResult<Json<Value>> {
    let config = state.config.clone();
    let data_dir = state.data_dir.clone();
    let now = state.clock.now_ms();
    // The library walk and the permission checks touch the file system: on the blocking pool.
    let snap = state
        .store
        .read(move |c| {
            Ok(doctor::snapshot::gather(
                &config,
                None,
                &data_dir,
                Some(c),
                now,
            ))
        })
        .await?;
    let findings = doctor::findings(&snap);
    Ok(Json(json!({
        "version": doctor::build_info(),
        "ok": !doctor::has_high(&findings),
        "findings": findings,
    })))
}

/// Configuration keys whose values are credentials: shown only as whether they are set.
const SECRET_KEYS: &[&str] = &[
    "jwt_secret",
    "backup_s3_access_key_id",
    "backup_s3_secret_access_key",
];

/// The effective configuration with credentials masked, for the admin UI's settings page.
pub fn redacted_config(config: &crate::config::Config) -> AppResult<Value> {
    let mut value = serde_json::to_value(config).map_err(crate::error::AppError::internal)?;
    if let Some(map) = value.as_object_mut() {
        for key in SECRET_KEYS {
            if let Some(v) = map.get_mut(*key) {
                *v = if v.is_null() {
                    Value::Null
                } else {
                    json!("(set)")
                };
            }
        }
    }
    Ok(value)
}

/// `GET /api/security/config`: the settings the server runs with (file, environment and flags
/// merged), credentials masked. Read-only: they change in `shelfwarden.toml` or the environment.
pub async fn config(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
) -> AppResult<Json<Value>> {
    Ok(Json(json!({
        "dataDir": state.data_dir.to_string_lossy(),
        "settings": redacted_config(&state.config)?,
    })))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_masked() {
        let config = crate::config::Config {
            jwt_secret: Some("super secret signing key".into()),
            backup_s3_secret_access_key: Some("s3 secret".into()),
            ..crate::config::Config::default()
        };
        let v = redacted_config(&config).unwrap();
        let text = v.to_string();
        assert!(!text.contains("super secret"), "{text}");
        assert!(!text.contains("s3 secret"), "{text}");
        assert_eq!(v["jwt_secret"], "(set)");
        assert_eq!(v["backup_s3_access_key_id"], Value::Null);
        assert_eq!(v["require_2fa"], "auto");
    }
}
