-- Shelfwarden schema, version 1. Times are integer epoch milliseconds (ABS's wire format);
-- ids are UUID v4 strings so that ids imported from Audiobookshelf keep their value.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    email TEXT,
    password_hash TEXT,                  -- argon2id PHC string, or an imported bcrypt hash until first login
    type TEXT NOT NULL CHECK (type IN ('root', 'admin', 'user', 'guest')),
    is_active INTEGER NOT NULL DEFAULT 1,
    is_locked INTEGER NOT NULL DEFAULT 0,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    legacy_token_id TEXT NOT NULL,       -- jti of the never-expiring ABS `user.token`; rotating it revokes the token
    permissions TEXT NOT NULL,           -- JSON, ABS permission object without the two lists below
    libraries_accessible TEXT NOT NULL DEFAULT '[]',
    item_tags_selected TEXT NOT NULL DEFAULT '[]',
    series_hide_from_continue TEXT NOT NULL DEFAULT '[]',
    allowed_networks TEXT NOT NULL DEFAULT '[]',
    last_seen INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Refresh-token sessions (ABS's `sessions` table). Tokens are stored as SHA-256 hashes only.
CREATE TABLE auth_sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    refresh_hash TEXT NOT NULL UNIQUE,
    -- Claims of the current refresh token: within the grace period a racing client is handed the same
    -- token again (HS256 is deterministic), which needs the claims but not the token itself.
    refresh_claims TEXT NOT NULL,
    last_refresh_hash TEXT,
    last_refresh_expires_at INTEGER,
    expires_at INTEGER NOT NULL,
    ip_address TEXT,
    user_agent TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX auth_sessions_user ON auth_sessions(user_id);

-- Every refresh token a session ever retired, so a replay of any of them is recognised as reuse.
CREATE TABLE auth_retired_refresh (
    hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES auth_sessions(id) ON DELETE CASCADE,
    retired_at INTEGER NOT NULL
);

-- API keys (src/auth/api_keys.rs): ABS-shaped JWTs handed out once; only their SHA-256 is stored.
-- `scopes` is a JSON array of "read" | "progress" | "upload" | "admin".
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_by_user_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    key_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL DEFAULT '["read","progress"]',
    expires_at INTEGER,
    last_used_at INTEGER,
    last_used_ip TEXT,
    is_active INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX api_keys_user ON api_keys(user_id);

CREATE TABLE libraries (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    display_order INTEGER NOT NULL DEFAULT 1,
    icon TEXT NOT NULL DEFAULT 'audiobookshelf',
    media_type TEXT NOT NULL DEFAULT 'book',
    provider TEXT NOT NULL DEFAULT 'google',
    settings TEXT NOT NULL DEFAULT '{}',
    last_scan INTEGER,
    last_scan_version TEXT,
    last_scan_precedence TEXT,           -- JSON list; a change forces a full re-merge
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE library_folders (
    id TEXT PRIMARY KEY,
    library_id TEXT NOT NULL REFERENCES libraries(id) ON DELETE CASCADE,
    path TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

-- One row per library item and its book (ABS keeps libraryItems and books apart; they are 1:1 for books).
CREATE TABLE items (
    id TEXT PRIMARY KEY,
    book_id TEXT NOT NULL UNIQUE,
    library_id TEXT NOT NULL REFERENCES libraries(id) ON DELETE CASCADE,
    folder_id TEXT REFERENCES library_folders(id) ON DELETE SET NULL,
    path TEXT NOT NULL,
    rel_path TEXT NOT NULL,
    ino TEXT NOT NULL DEFAULT '',
    fingerprint TEXT NOT NULL DEFAULT '',  -- hash of size + first/last 64 KiB of the audio files
    signature TEXT NOT NULL DEFAULT '',    -- hash of every file's path, size, mtime, inode: unchanged = skip
    is_file INTEGER NOT NULL DEFAULT 0,
    is_missing INTEGER NOT NULL DEFAULT 0,
    is_invalid INTEGER NOT NULL DEFAULT 0,
    mtime_ms INTEGER NOT NULL DEFAULT 0,
    ctime_ms INTEGER NOT NULL DEFAULT 0,
    birthtime_ms INTEGER NOT NULL DEFAULT 0,
    size INTEGER NOT NULL DEFAULT 0,
    library_files TEXT NOT NULL DEFAULT '[]',
    title TEXT NOT NULL DEFAULT '',
    title_ignore_prefix TEXT NOT NULL DEFAULT '',
    subtitle TEXT,
    published_year TEXT,
    published_date TEXT,
    publisher TEXT,
    description TEXT,
    isbn TEXT,
    asin TEXT,
    language TEXT,
    explicit INTEGER NOT NULL DEFAULT 0,
    abridged INTEGER NOT NULL DEFAULT 0,
    cover_path TEXT,
    duration REAL NOT NULL DEFAULT 0,
    narrators TEXT NOT NULL DEFAULT '[]',
    genres TEXT NOT NULL DEFAULT '[]',
    tags TEXT NOT NULL DEFAULT '[]',
    ebook_file TEXT,
    author_names TEXT NOT NULL DEFAULT '',
    author_names_lf TEXT NOT NULL DEFAULT '',
    last_scan INTEGER,
    scan_version TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX items_library_path ON items(library_id, path);
CREATE INDEX items_library_title ON items(library_id, title_ignore_prefix COLLATE NOCASE);
CREATE INDEX items_library_added ON items(library_id, created_at);
CREATE INDEX items_ino ON items(ino);
CREATE INDEX items_fingerprint ON items(fingerprint);
-- Covers the scanner's per-scan index read, so a rescan reads index pages, not whole rows.
CREATE INDEX items_scan ON items(library_id, path, id, book_id, ino, fingerprint, signature, is_missing);

CREATE TABLE audio_files (
    item_id TEXT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    ino TEXT NOT NULL,
    path TEXT NOT NULL,
    rel_path TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    mtime_ms INTEGER NOT NULL DEFAULT 0,
    ctime_ms INTEGER NOT NULL DEFAULT 0,
    birthtime_ms INTEGER NOT NULL DEFAULT 0,
    duration REAL NOT NULL DEFAULT 0,
    bit_rate INTEGER,
    format TEXT,
    codec TEXT,
    channels INTEGER,
    channel_layout TEXT,
    time_base TEXT,
    language TEXT,
    mime_type TEXT NOT NULL,
    track_num_from_meta INTEGER,
    disc_num_from_meta INTEGER,
    track_num_from_filename INTEGER,
    disc_num_from_filename INTEGER,
    embedded_cover_art TEXT,
    meta_tags TEXT NOT NULL DEFAULT '{}',
    chapters TEXT NOT NULL DEFAULT '[]',
    exclude INTEGER NOT NULL DEFAULT 0,
    manually_verified INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    added_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (item_id, idx)
);
-- Not unique: hard links can put one inode twice into an item.
CREATE INDEX audio_files_item_ino ON audio_files(item_id, ino);

CREATE TABLE chapters (
    item_id TEXT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    start REAL NOT NULL,
    end REAL NOT NULL,
    title TEXT NOT NULL,
    PRIMARY KEY (item_id, idx)
);

CREATE TABLE authors (
    id TEXT PRIMARY KEY,
    library_id TEXT NOT NULL REFERENCES libraries(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    last_first TEXT NOT NULL DEFAULT '',
    asin TEXT,
    description TEXT,
    image_path TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX authors_library_name ON authors(library_id, name COLLATE NOCASE);

CREATE TABLE item_authors (
    item_id TEXT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    author_id TEXT NOT NULL REFERENCES authors(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    PRIMARY KEY (item_id, author_id)
);
CREATE INDEX item_authors_author ON item_authors(author_id);

CREATE TABLE series (
    id TEXT PRIMARY KEY,
    library_id TEXT NOT NULL REFERENCES libraries(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_ignore_prefix TEXT NOT NULL DEFAULT '',
    description TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX series_library_name ON series(library_id, name COLLATE NOCASE);

CREATE TABLE item_series (
    item_id TEXT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    series_id TEXT NOT NULL REFERENCES series(id) ON DELETE CASCADE,
    sequence TEXT,
    position INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (item_id, series_id)
);
CREATE INDEX item_series_series ON item_series(series_id);

-- Problems a scan found (unreadable files, empty folders), shown as the library's issues.
CREATE TABLE scan_issues (
    library_id TEXT NOT NULL REFERENCES libraries(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    reason TEXT NOT NULL,
    found_at INTEGER NOT NULL,
    PRIMARY KEY (library_id, path)
);

-- One row per (user, item, episode): ABS can hold duplicates under concurrent writes, we cannot.
CREATE TABLE media_progress (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    item_id TEXT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    episode_id TEXT NOT NULL DEFAULT '',
    duration REAL NOT NULL DEFAULT 0,
    position REAL NOT NULL DEFAULT 0,       -- seconds; `current_time` is an SQL keyword
    progress REAL NOT NULL DEFAULT 0,
    is_finished INTEGER NOT NULL DEFAULT 0,
    hide_from_continue INTEGER NOT NULL DEFAULT 0,
    ebook_location TEXT,
    ebook_progress REAL,
    finished_at INTEGER,
    started_at INTEGER NOT NULL,
    last_update INTEGER NOT NULL,
    UNIQUE (user_id, item_id, episode_id)
);
CREATE INDEX media_progress_user_update ON media_progress(user_id, last_update);

CREATE TABLE bookmarks (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    item_id TEXT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    time REAL NOT NULL,
    title TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, item_id, time)
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    client_name TEXT,
    client_version TEXT,
    device_name TEXT,
    manufacturer TEXT,
    model TEXT,
    sdk_version INTEGER,
    ip_address TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (user_id, device_id)
);

CREATE TABLE playback_sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    library_id TEXT,
    item_id TEXT,
    episode_id TEXT,
    device_row_id TEXT REFERENCES devices(id) ON DELETE SET NULL,
    display_title TEXT NOT NULL DEFAULT '',
    display_author TEXT NOT NULL DEFAULT '',
    duration REAL NOT NULL DEFAULT 0,
    play_method INTEGER NOT NULL DEFAULT 0,
    media_player TEXT NOT NULL DEFAULT 'unknown',
    start_time REAL NOT NULL DEFAULT 0,
    position REAL NOT NULL DEFAULT 0,       -- seconds; `current_time` is an SQL keyword
    time_listening REAL NOT NULL DEFAULT 0,
    media_metadata TEXT NOT NULL DEFAULT '{}',
    chapters TEXT NOT NULL DEFAULT '[]',
    device_info TEXT NOT NULL DEFAULT '{}',
    server_version TEXT NOT NULL DEFAULT '',
    date TEXT NOT NULL,
    day_of_week TEXT NOT NULL,
    is_open INTEGER NOT NULL DEFAULT 1,
    started_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX playback_sessions_user ON playback_sessions(user_id, updated_at);

-- Append-only, hash-chained audit log (src/audit.rs). Each row's hash covers the previous row's hash,
-- so an edited, inserted or deleted row breaks the chain from that row on.
CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor_user_id TEXT,
    actor_name TEXT,
    ip TEXT,
    user_agent TEXT,
    action TEXT NOT NULL,
    target TEXT,
    details TEXT NOT NULL DEFAULT '{}',
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_events_at ON audit_events(at);
CREATE INDEX audit_events_action ON audit_events(action, seq);
CREATE INDEX audit_events_actor ON audit_events(actor_user_id, seq);

-- 'head' is the newest row's (seq, hash), updated in the same transaction as every append, so
-- deleting the newest rows is detected. 'anchor' is the last pruned row's (seq, hash): retention
-- deletes the oldest rows and the chain is verified from there.
CREATE TABLE audit_chain (
    name TEXT PRIMARY KEY CHECK (name IN ('head', 'anchor')),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);

-- Defence in depth against the application itself: rows are never updated, and only rows at or
-- before the retention anchor may be deleted. (Anyone with the file can drop these; the chain
-- is what detects that.)
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_prune_only BEFORE DELETE ON audit_events
WHEN OLD.seq > COALESCE((SELECT seq FROM audit_chain WHERE name = 'anchor'), 0)
BEGIN
    SELECT RAISE(ABORT, 'audit_events rows are only removed by retention pruning');
END;

-- Credential-throttle state, so a restart does not reset an attacker's budget.
CREATE TABLE throttle_state (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
