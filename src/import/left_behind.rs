//! What is deliberately not imported: credentials and plaintext secrets.

use std::collections::HashMap;

use serde_json::Value;

use super::report::{KeyToReissue, Report};
use super::write::Ctx;

/// Credentials and secrets stay behind: listed so the admin knows what to redo.
pub fn left_behind(ctx: &Ctx, r: &mut Report) {
    let d = ctx.data;
    let names: HashMap<String, String> = d
        .users
        .iter()
        .map(|u| (u.id(), u.text("username")))
        .collect();
    for k in &d.api_keys {
        r.api_keys_to_reissue.push(KeyToReissue {
            name: k.text("name"),
            username: names
                .get(&k.text("userId"))
                .cloned()
                .unwrap_or_else(|| k.text("userId")),
            is_active: k.b("isActive"),
            expires_at: k.t("expiresAt"),
        });
    }
    let n = &mut r.not_imported;
    n.push(format!(
        "login sessions and refresh tokens ({}): every user logs in again; apps keep working after a new login at the same address",
        d.login_sessions
    ));
    if d.legacy_tokens > 0 {
        n.push(format!(
            "legacy never-expiring user tokens ({})",
            d.legacy_tokens
        ));
    }
    if !d.api_keys.is_empty() {
        n.push(format!(
            "API keys ({}): listed above, to re-issue",
            d.api_keys.len()
        ));
    }
    let server = d.settings.get("server-settings");
    let set = |v: Option<&Value>| v.is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()));
    if set(server.and_then(|s| s.get("tokenSecret"))) {
        n.push(
            "the JWT signing secret (this server has its own; old ABS tokens do not work here)"
                .into(),
        );
    }
    if set(server.and_then(|s| s.get("authOpenIDClientSecret"))) {
        n.push(
            "the OpenID Connect client secret (set it again in this server's configuration)".into(),
        );
    }
    if set(d.settings.get("email-settings").and_then(|s| s.get("pass"))) {
        n.push("the SMTP password".into());
    }
    if d.custom_providers > 0 {
        n.push(format!(
            "custom metadata providers and their auth headers ({})",
            d.custom_providers
        ));
    }
    if d.feeds > 0 {
        n.push(format!("RSS feeds ({})", d.feeds));
    }
    if d.shares > 0 {
        n.push(format!("public share links ({})", d.shares));
    }
    if d.podcast_episodes > 0 {
        n.push(format!(
            "podcast episodes ({}): podcasts are not supported yet",
            d.podcast_episodes
        ));
    }
    n.push("other server settings (review this server's configuration instead)".into());
}
