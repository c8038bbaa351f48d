//! The second step of a login and the rules around it: the 2FA policy, the short-lived
//! intermediate token between password and second factor, step-up freshness, and PKCE.

use base64::Engine;
use sha2::{Digest, Sha256};

/// Lifetime of the intermediate token between the password and the second factor.
pub const MFA_TOKEN_TTL_MS: i64 = 5 * 60 * 1000;
/// Wrong codes one intermediate token survives (the throttle counts them as well).
pub const MFA_TOKEN_MAX_ATTEMPTS: i64 = 5;
/// Lifetime of an authorisation code of the OIDC flow.
pub const CODE_TTL_MS: i64 = 60 * 1000;
/// Lifetime of an OIDC flow from `/auth/openid` to the login form's submission.
pub const FLOW_TTL_MS: i64 = 10 * 60 * 1000;

/// Who must have a second factor (`require_2fa`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Admins once any admin has enrolled (the default).
    Auto,
    Admins,
    Everyone,
    Off,
}

impl Policy {
    pub fn parse(s: &str) -> Option<Policy> {
        match s {
            "auto" => Some(Policy::Auto),
            "admins" => Some(Policy::Admins),
            "everyone" => Some(Policy::Everyone),
            "off" => Some(Policy::Off),
            _ => None,
        }
    }

    /// Whether a user without a second factor must enrol before doing anything else.
    pub fn requires(self, is_admin: bool, any_admin_enrolled: bool) -> bool {
        match self {
            Policy::Off => false,
            Policy::Everyone => true,
            Policy::Admins => is_admin,
            Policy::Auto => is_admin && any_admin_enrolled,
        }
    }
}

/// Step-up: authenticated within `window_secs` before `now`. A window of 0 is never fresh.
pub fn is_fresh(authenticated_at_ms: Option<i64>, now_ms: i64, window_secs: u64) -> bool {
    authenticated_at_ms.is_some_and(|at| now_ms - at < window_secs as i64 * 1000)
}

/// RFC 7636 S256: BASE64URL(SHA256(verifier)) == challenge, verifier of 43–128 unreserved chars.
pub fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    use subtle::ConstantTimeEq;
    let valid = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !valid {
        return false;
    }
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}

/// A plausible S256 challenge: 43 base64url characters (a SHA-256).
pub fn valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_rfc7636_example() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(valid_challenge(challenge));
        assert!(pkce_s256_matches(verifier, challenge));
        assert!(!pkce_s256_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx",
            challenge
        ));
        assert!(!pkce_s256_matches("short", challenge));
    }

    #[test]
    fn policy_table() {
        assert!(!Policy::Auto.requires(true, false));
        assert!(Policy::Auto.requires(true, true));
        assert!(!Policy::Auto.requires(false, true));
        assert!(Policy::Admins.requires(true, false));
        assert!(Policy::Everyone.requires(false, false));
        assert!(!Policy::Off.requires(true, true));
    }

    #[test]
    fn freshness_window() {
        assert!(is_fresh(Some(1_000), 1_000 + 599_999, 600));
        assert!(!is_fresh(Some(1_000), 1_000 + 600_000, 600));
        assert!(!is_fresh(Some(1_000), 1_000, 0));
        assert!(!is_fresh(None, 1_000, 600));
    }
}
