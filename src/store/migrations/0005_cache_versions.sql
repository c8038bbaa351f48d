-- Counters bumped by triggers on every change to what the server keeps in memory, so its caches
-- know whether they are current without reading the rows behind them, whoever wrote the change
-- (the server, the CLI in another process, an import). `catalog_version` (0002) does the same
-- per library for the catalog.
--   auth:      what authenticating a request reads (users, refresh sessions, TOTP enrolment)
--   listening: progress and bookmarks (the listening half of `/api/me`)
--   libraries: libraries ever created, so each starts its catalog_version afresh (below)
CREATE TABLE cache_versions (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 0
);
INSERT INTO cache_versions (name, version) VALUES ('auth', 0), ('listening', 0), ('libraries', 0);

-- A library deleted and created again under the same id (the importer keeps ABS's ids) must not
-- meet the cached catalog of its predecessor at an equal version: each new library starts its
-- counter in a range of 2^32 that no earlier library used.
CREATE TRIGGER cache_library_ins AFTER INSERT ON libraries BEGIN
    UPDATE cache_versions SET version = version + 1 WHERE name = 'libraries';
    UPDATE libraries
    SET catalog_version = (SELECT version FROM cache_versions WHERE name = 'libraries') * 4294967296
    WHERE id = NEW.id;
END;
-- The library row itself is part of what the catalog shows. Only a real change counts: the
-- importer rewrites identical rows, and those must not rebuild anything. (A new column of
-- `libraries` belongs in this list.)
CREATE TRIGGER cache_library_upd AFTER UPDATE ON libraries
WHEN NEW.catalog_version IS OLD.catalog_version AND (
    NEW.name IS NOT OLD.name OR NEW.display_order IS NOT OLD.display_order
    OR NEW.icon IS NOT OLD.icon OR NEW.media_type IS NOT OLD.media_type
    OR NEW.provider IS NOT OLD.provider OR NEW.settings IS NOT OLD.settings
    OR NEW.last_scan IS NOT OLD.last_scan OR NEW.last_scan_version IS NOT OLD.last_scan_version
    OR NEW.last_scan_precedence IS NOT OLD.last_scan_precedence
    OR NEW.created_at IS NOT OLD.created_at OR NEW.updated_at IS NOT OLD.updated_at)
BEGIN
    UPDATE libraries SET catalog_version = catalog_version + 1 WHERE id = NEW.id;
END;
CREATE TRIGGER cache_library_folders_ins AFTER INSERT ON library_folders BEGIN
    UPDATE libraries SET catalog_version = catalog_version + 1 WHERE id = NEW.library_id;
END;
CREATE TRIGGER cache_library_folders_upd AFTER UPDATE ON library_folders
WHEN NEW.path IS NOT OLD.path OR NEW.library_id IS NOT OLD.library_id
BEGIN
    UPDATE libraries SET catalog_version = catalog_version + 1
    WHERE id IN (NEW.library_id, OLD.library_id);
END;
CREATE TRIGGER cache_library_folders_del AFTER DELETE ON library_folders BEGIN
    UPDATE libraries SET catalog_version = catalog_version + 1 WHERE id = OLD.library_id;
END;

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
