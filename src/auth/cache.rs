//! What authenticating a token read from the database, kept for as long as the `auth` counter
//! (bumped by triggers on every change to users, refresh sessions and TOTP enrolment, by any
//! process) stands still. A revoked session, a disabled user or a changed password therefore
//! takes effect on the very next request, as without the cache. Only credentials that were found
//! are kept; the token's signature and expiry are still checked on every request.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::auth::tokens::TokenKind;
use crate::model::User;
use crate::store::two_factor::SessionFacts;

/// Entries beyond this are dropped wholesale: a home server has a few dozen live sessions, and a
/// flood of valid tokens can only come from someone who holds them.
const MAX_ENTRIES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CredentialKey {
    pub user_id: String,
    pub kind: TokenKind,
    /// The refresh session an access token belongs to.
    pub session_id: Option<String>,
}

/// The rows behind a credential.
#[derive(Debug, Clone)]
pub struct Credential {
    pub user: User,
    pub facts: Option<SessionFacts>,
    /// When the refresh session ends (ms); the credential is void from then on.
    pub session_expires_at: Option<i64>,
}

struct Entry {
    auth_version: i64,
    credential: Credential,
}

#[derive(Default)]
pub struct CredentialCache {
    entries: RwLock<HashMap<CredentialKey, Entry>>,
}

impl CredentialCache {
    /// The credential as read at `auth_version`, if that is still the current version and the
    /// session has not ended by `now_ms`.
    pub fn get(&self, key: &CredentialKey, auth_version: i64, now_ms: i64) -> Option<Credential> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(key)?;
        let live = entry.auth_version == auth_version
            && entry
                .credential
                .session_expires_at
                .is_none_or(|end| now_ms < end);
        live.then(|| entry.credential.clone())
    }

    /// Keeps `credential`, read after `auth_version` was observed.
    pub fn insert(&self, key: CredentialKey, auth_version: i64, credential: Credential) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.auth_version == auth_version);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                auth_version,
                credential,
            },
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key(sid: &str) -> CredentialKey {
        CredentialKey {
            user_id: "u1".into(),
            kind: TokenKind::Access,
            session_id: Some(sid.into()),
        }
    }

    fn credential(username: &str, ends: Option<i64>) -> Credential {
        Credential {
            user: crate::accounts::new_user(username, None, crate::model::UserType::User, 0),
            facts: None,
            session_expires_at: ends,
        }
    }

    #[test]
    fn an_entry_lives_only_while_its_version_is_current() {
        let cache = CredentialCache::default();
        cache.insert(key("s1"), 7, credential("alice", None));
        assert_eq!(cache.get(&key("s1"), 7, 0).unwrap().user.username, "alice");
        assert!(cache.get(&key("s1"), 8, 0).is_none());
        assert!(cache.get(&key("s2"), 7, 0).is_none());
    }

    #[test]
    fn an_entry_dies_with_its_session() {
        let cache = CredentialCache::default();
        cache.insert(key("s1"), 1, credential("alice", Some(1_000)));
        assert!(cache.get(&key("s1"), 1, 999).is_some());
        assert!(cache.get(&key("s1"), 1, 1_000).is_none());
    }

    #[test]
    fn a_full_cache_sheds_stale_entries_first() {
        let cache = CredentialCache::default();
        for i in 0..MAX_ENTRIES {
            cache.insert(key(&format!("old{i}")), 1, credential("old", None));
        }
        cache.insert(key("new"), 2, credential("new", None));
        assert!(cache.get(&key("new"), 2, 0).is_some());
        assert_eq!(cache.entries.read().unwrap().len(), 1);
    }
}
