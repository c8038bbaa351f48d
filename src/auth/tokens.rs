//! HS256 JWTs in ABS's shapes. Expiry is checked here against a caller-supplied `now`, not by the
//! JWT library's wall clock, so tests drive it with synthetic time.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    #[serde(rename = "userId", default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The refresh session an access or refresh token belongs to; revoking it kills both at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(rename = "keyId", default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For media tokens: the one playback session or item they open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    Access,
    Refresh,
    /// ABS's never-expiring `user.token`.
    Legacy,
    Api,
    /// Short-lived token placed in media URLs (`?token=`), valid only for media GETs.
    Media,
}

impl Claims {
    pub fn kind(&self) -> TokenKind {
        match self.kind.as_deref() {
            Some("access") => TokenKind::Access,
            Some("refresh") => TokenKind::Refresh,
            Some("api") => TokenKind::Api,
            Some("media") => TokenKind::Media,
            _ => TokenKind::Legacy,
        }
    }
}

#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// API keys are signed by their own module with the same HMAC key.
    secret: std::sync::Arc<[u8]>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("invalid token")]
    Invalid,
    #[error("token expired")]
    Expired,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> TokenKeys {
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            secret: secret.into(),
        }
    }

    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| anyhow::anyhow!("token signing failed: {e}"))
    }

    /// Verifies the signature and, when the token has one, its expiry against `now_secs`.
    pub fn verify(&self, token: &str, now_secs: i64) -> Result<Claims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims.clear();
        let data = decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| TokenError::Invalid)?;
        if let Some(exp) = data.claims.exp
            && exp <= now_secs
        {
            return Err(TokenError::Expired);
        }
        Ok(data.claims)
    }

    pub fn access(
        &self,
        user_id: &str,
        username: &str,
        sid: &str,
        now: i64,
        ttl: i64,
    ) -> anyhow::Result<String> {
        self.sign(&Claims {
            user_id: Some(user_id.into()),
            username: Some(username.into()),
            jti: Some(uuid::Uuid::new_v4().to_string()),
            kind: Some("access".into()),
            sid: Some(sid.into()),
            iat: now,
            exp: Some(now + ttl),
            ..Claims::default()
        })
    }

    pub fn refresh(
        &self,
        user_id: &str,
        username: &str,
        sid: &str,
        now: i64,
        ttl: i64,
    ) -> anyhow::Result<String> {
        self.sign(&Claims {
            user_id: Some(user_id.into()),
            username: Some(username.into()),
            jti: Some(uuid::Uuid::new_v4().to_string()),
            kind: Some("refresh".into()),
            sid: Some(sid.into()),
            iat: now,
            exp: Some(now + ttl),
            ..Claims::default()
        })
    }

    /// `legacy` for this user, issued at their account's creation (so it is stable).
    pub fn legacy_for(&self, user: &crate::model::User) -> anyhow::Result<String> {
        self.legacy(
            &user.id,
            &user.username,
            &user.legacy_token_id,
            user.created_at / 1000,
        )
    }

    /// ABS's legacy token: no expiry, no type. Its `jti` is the user's current legacy token id,
    /// so rotating that id (password change) revokes it.
    pub fn legacy(
        &self,
        user_id: &str,
        username: &str,
        legacy_id: &str,
        now: i64,
    ) -> anyhow::Result<String> {
        self.sign(&Claims {
            user_id: Some(user_id.into()),
            username: Some(username.into()),
            jti: Some(legacy_id.into()),
            iat: now,
            ..Claims::default()
        })
    }

    /// A media token for one playback session or item, short-lived.
    pub fn media(&self, user_id: &str, scope: &str, now: i64, ttl: i64) -> anyhow::Result<String> {
        self.sign(&Claims {
            user_id: Some(user_id.into()),
            kind: Some("media".into()),
            scope: Some(scope.into()),
            iat: now,
            exp: Some(now + ttl),
            ..Claims::default()
        })
    }
}

/// The form in which refresh tokens are stored.
pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_follows_the_given_clock() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef");
        let t = keys.access("u", "name", "s", 1_000, 60).expect("sign");
        assert_eq!(
            keys.verify(&t, 1_059).map(|c| c.kind()),
            Ok(TokenKind::Access)
        );
        assert_eq!(keys.verify(&t, 1_060), Err(TokenError::Expired));
    }

    #[test]
    fn legacy_never_expires_and_other_keys_fail() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef");
        let t = keys.legacy("u", "name", "L1", 0).expect("sign");
        let c = keys.verify(&t, i64::MAX / 2).expect("valid");
        assert_eq!(c.kind(), TokenKind::Legacy);
        assert_eq!(c.jti.as_deref(), Some("L1"));
        let other = TokenKeys::new(b"another-secret-another-secret-00");
        assert_eq!(other.verify(&t, 0), Err(TokenError::Invalid));
        assert_eq!(keys.verify("not.a.jwt", 0), Err(TokenError::Invalid));
    }
}
