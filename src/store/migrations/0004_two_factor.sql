-- Two-factor authentication (src/auth/{totp,recovery,app_passwords,mfa}.rs, src/http/abs/openid.rs).

-- When the session's owner last proved who they are (login, second factor): step-up checks it.
-- NULL for sessions opened before this migration, which therefore count as stale.
ALTER TABLE auth_sessions ADD COLUMN authenticated_at INTEGER;
-- JSON array of scopes for a session opened with an app password; NULL = the user's full rights.
ALTER TABLE auth_sessions ADD COLUMN scopes TEXT;
-- 1 = the user must enrol a second factor first; only the enrolment routes accept this session.
ALTER TABLE auth_sessions ADD COLUMN enrol_only INTEGER NOT NULL DEFAULT 0;
-- The app password a session was opened with: revoking the password ends its sessions.
ALTER TABLE auth_sessions ADD COLUMN app_password_id TEXT;

-- One TOTP seed per user, XChaCha20-Poly1305-encrypted with the key in DATA/mfa-key.
-- confirmed_at NULL = enrolment pending (not yet a factor). last_step blocks replay of a code.
CREATE TABLE user_totp (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret_enc BLOB NOT NULL,
    confirmed_at INTEGER,
    last_step INTEGER NOT NULL DEFAULT -1,
    created_at INTEGER NOT NULL
);

-- Single-use recovery codes; only SHA-256 of each (they carry 50 random bits each).
CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX recovery_codes_user ON recovery_codes(user_id);

-- The state between the password step and the second factor of a login: SHA-256 of the token.
CREATE TABLE mfa_tokens (
    hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    attempts INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

-- App passwords: argon2 hashes. `hint` is the first group of the password, stored in clear so a
-- login verifies one hash rather than all of them (it gives away 20 of 160 bits).
CREATE TABLE app_passwords (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    hint TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    scopes TEXT NOT NULL DEFAULT '["read","progress"]',
    last_used_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX app_passwords_user ON app_passwords(user_id, hint);

-- OIDC-style authorisation flows where Shelfwarden is its own identity provider.
-- Secrets (CSRF token, code) are stored as SHA-256 only.
CREATE TABLE oidc_flows (
    id TEXT PRIMARY KEY,
    csrf_hash TEXT NOT NULL,
    redirect_uri TEXT,
    callback TEXT,
    code_challenge TEXT,
    state TEXT,
    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT UNIQUE,
    code_expires_at INTEGER,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

-- Passkeys (WebAuthn) as an alternative second factor; `passkey` is webauthn-rs's serialised
-- credential (public key, counter: no secret).
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    cred_id TEXT NOT NULL UNIQUE,
    passkey TEXT NOT NULL,
    last_used_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX passkeys_user ON passkeys(user_id);

-- Pending WebAuthn ceremonies (registration or authentication state), single-use, short-lived;
-- no user for a passwordless sign-in, whose user is known only from the authenticator's answer.
CREATE TABLE webauthn_challenges (
    id TEXT PRIMARY KEY,
    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
