-- Counters bumped by triggers on every change to what the server keeps in memory, so its caches
-- know whether they are current without reading the rows behind them, whoever wrote the change
-- (the server, the CLI in another process, an import). `catalog_version` (0002) does the same
-- per library for the catalog.
--   auth:      what authenticating a request reads (users, refresh sessions, TOTP enrolment)
--   listening: progress and bookmarks (the listening half of `/api/me`)
CREATE TABLE cache_versions (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 0
);
INSERT INTO cache_versions (name, version) VALUES ('auth', 0), ('listening', 0);

CREATE TRIGGER cache_auth_users_ins AFTER INSERT ON users BEGIN
    UPDATE cache_versions SET version = version + 1 WHERE name = 'auth';
END;
CREATE TRIGGER cache_auth_users_upd AFTER UPDATE ON users BEGIN
    UPDATE cache_versions SET version = version + 1 WHERE name = 'auth';
END;
CREATE TRIGGER cache_auth_users_del AFTER DELETE ON users BEGIN
    UPDATE cache_versions SET version = version + 1 WHERE name = 'auth';
END;

-- A new session changes no cached answer (only existing sessions are cached); a changed or
-- removed one (refresh, revocation, step-up, expiry sweep) does.
CREATE TRIGGER cache_auth_sessions_upd AFTER UPDATE ON auth_sessions BEGIN
    UPDATE cache_versions SET version = version + 1 WHERE name = 'auth';
END;
CREATE TRIGGER cache_auth_sessions_del AFTER DELETE ON auth_sessions BEGIN
    UPDATE cache_versions SET version = version + 1 WHERE name = 'auth';
END;

-- The 2FA policy's enrolment limit on legacy tokens depends on who has confirmed TOTP.
CREATE TRIGGER cache_auth_totp_ins AFTER INSERT ON user_totp BEGIN
    UPDATE cache_versions SET version = version + 1 WHERE name = 'auth';
END;
CREATE TRIGGER cache_auth_totp_upd AFTER UPDATE ON user_totp BEGIN
    UPDATE cache_versions SET version = version + 1 WHERE name = 'auth';
END;
CREATE TRIGGER cache_auth_totp_del AFTER DELETE ON user_totp BEGIN
    UPDATE cache_versions SET version = version + 1 WHERE name = 'auth';
END;

CREATE TRIGGER cache_listening_progress_ins AFTER INSERT ON media_progress BEGIN
    UPDATE cache_versions SET version = version + 1 WHERE name = 'listening';
END;
CREATE TRIGGER cache_listening_progress_upd AFTER UPDATE ON media_progress BEGIN
    UPDATE cache_versions SET version = version + 1 WHERE name = 'listening';
END;
CREATE TRIGGER cache_listening_progress_del AFTER DELETE ON media_progress BEGIN
    UPDATE cache_versions SET version = version + 1 WHERE name = 'listening';
END;
CREATE TRIGGER cache_listening_bookmarks_ins AFTER INSERT ON bookmarks BEGIN
    UPDATE cache_versions SET version = version + 1 WHERE name = 'listening';
END;
CREATE TRIGGER cache_listening_bookmarks_upd AFTER UPDATE ON bookmarks BEGIN
    UPDATE cache_versions SET version = version + 1 WHERE name = 'listening';
END;
CREATE TRIGGER cache_listening_bookmarks_del AFTER DELETE ON bookmarks BEGIN
    UPDATE cache_versions SET version = version + 1 WHERE name = 'listening';
END;
