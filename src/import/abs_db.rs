//! Read-only access to an ABS database (2.19 to 2.36). Columns differ by version, so every query
//! asks only for columns the file has and reads the others as NULL; callers see one shape.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::{Context, bail};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};

use super::map::parse_time;

/// One row, by column name; absent columns read as NULL.
#[derive(Debug, Clone, Default)]
pub struct Rec(HashMap<String, Value>);

impl Rec {
    pub fn s(&self, c: &str) -> Option<String> {
        match self.0.get(c)? {
            Value::Text(t) => Some(t.clone()),
            Value::Integer(i) => Some(i.to_string()),
            Value::Real(f) => Some(f.to_string()),
            Value::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
            Value::Null => None,
        }
    }
    /// Text, with NULL as empty.
    pub fn text(&self, c: &str) -> String {
        self.s(c).unwrap_or_default()
    }
    /// Text, with NULL and empty as None.
    pub fn opt(&self, c: &str) -> Option<String> {
        self.s(c).filter(|s| !s.is_empty())
    }
    pub fn f(&self, c: &str) -> f64 {
        match self.0.get(c) {
            Some(Value::Real(f)) => *f,
            Some(Value::Integer(i)) => *i as f64,
            Some(Value::Text(t)) => t.trim().parse().unwrap_or(0.0),
            _ => 0.0,
        }
    }
    pub fn i(&self, c: &str) -> Option<i64> {
        match self.0.get(c)? {
            Value::Integer(i) => Some(*i),
            Value::Real(f) => Some(f.round() as i64),
            Value::Text(t) => t.trim().parse().ok(),
            _ => None,
        }
    }
    pub fn b(&self, c: &str) -> bool {
        match self.0.get(c) {
            Some(Value::Integer(i)) => *i != 0,
            Some(Value::Real(f)) => *f != 0.0,
            Some(Value::Text(t)) => matches!(t.trim(), "1" | "true"),
            _ => false,
        }
    }
    /// A DATETIME column as epoch milliseconds.
    pub fn t(&self, c: &str) -> Option<i64> {
        match self.0.get(c)? {
            Value::Integer(i) => Some(*i),
            Value::Real(f) => Some(f.round() as i64),
            Value::Text(t) => parse_time(t),
            _ => None,
        }
    }
    pub fn id(&self) -> String {
        self.text("id")
    }
}

/// Everything the importer reads, loaded up front so the write transaction never waits on ABS.
#[derive(Debug, Default)]
pub struct AbsData {
    pub version: String,
    pub users: Vec<Rec>,
    pub libraries: Vec<Rec>,
    pub folders: Vec<Rec>,
    pub library_items: Vec<Rec>,
    pub books: HashMap<String, Rec>,
    pub authors: Vec<Rec>,
    pub book_authors: Vec<Rec>,
    pub series: Vec<Rec>,
    pub book_series: Vec<Rec>,
    pub progress: Vec<Rec>,
    pub devices: Vec<Rec>,
    pub playback_sessions: Vec<Rec>,
    pub collections: Vec<Rec>,
    pub collection_books: Vec<Rec>,
    pub playlists: Vec<Rec>,
    pub playlist_items: Vec<Rec>,
    pub api_keys: Vec<Rec>,
    pub settings: HashMap<String, serde_json::Value>,
    pub login_sessions: usize,
    pub legacy_tokens: usize,
    pub podcast_episodes: usize,
    pub custom_providers: usize,
    pub feeds: usize,
    pub shares: usize,
}

pub struct AbsDb {
    conn: Connection,
    columns: HashMap<String, HashSet<String>>,
}

const REQUIRED: &[&str] = &[
    "users",
    "libraries",
    "libraryFolders",
    "libraryItems",
    "books",
    "mediaProgresses",
];

impl AbsDb {
    /// Opens read-only and refuses a file that fails SQLite's integrity check.
    pub fn open(path: &Path) -> anyhow::Result<AbsDb> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .context("cannot open the ABS database")?;
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .context("the ABS database cannot be read (damaged, or not a database)")?;
        if check != "ok" {
            bail!("the ABS database fails SQLite's integrity check: {check}");
        }
        let mut columns = HashMap::new();
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for t in tables {
            let cols: HashSet<String> = conn
                .prepare(&format!(
                    "PRAGMA table_info(\"{}\")",
                    t.replace('"', "\"\"")
                ))?
                .query_map([], |r| r.get::<_, String>(1))?
                .collect::<Result<_, _>>()?;
            columns.insert(t, cols);
        }
        for t in REQUIRED {
            if !columns.contains_key(*t) {
                bail!("not an Audiobookshelf 2.x database: table {t} is missing");
            }
        }
        Ok(AbsDb { conn, columns })
    }

    /// `SELECT` the wanted columns the table has; the others read as NULL. A missing table is empty.
    fn rows(&self, table: &str, wanted: &[&str], order: &str) -> anyhow::Result<Vec<Rec>> {
        let Some(have) = self.columns.get(table) else {
            return Ok(Vec::new());
        };
        let present: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|c| have.contains(*c))
            .collect();
        if present.is_empty() {
            return Ok(Vec::new());
        }
        let list = present
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut st = self
            .conn
            .prepare(&format!("SELECT {list} FROM `{table}` {order}"))?;
        let rows = st.query_map([], |r| {
            let mut m = HashMap::new();
            for (i, c) in present.iter().enumerate() {
                m.insert((*c).to_string(), r.get::<_, Value>(i)?);
            }
            Ok(Rec(m))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn count(&self, table: &str, filter: &str) -> anyhow::Result<usize> {
        if !self.columns.contains_key(table) {
            return Ok(0);
        }
        let n: i64 = self.conn.query_row(
            &format!("SELECT COUNT(*) FROM `{table}` {filter}"),
            [],
            |r| r.get(0),
        )?;
        Ok(n as usize)
    }

    fn has_column(&self, table: &str, col: &str) -> bool {
        self.columns.get(table).is_some_and(|c| c.contains(col))
    }

    pub fn load(&self) -> anyhow::Result<AbsData> {
        let ts = ["createdAt", "updatedAt"];
        let with = |cols: &[&'static str]| -> Vec<&'static str> {
            cols.iter().chain(ts.iter()).copied().collect()
        };
        let mut d = AbsData {
            users: self.rows(
                "users",
                &with(&[
                    "id",
                    "username",
                    "email",
                    "pash",
                    "type",
                    "isActive",
                    "isLocked",
                    "lastSeen",
                    "permissions",
                    "bookmarks",
                    "extraData",
                ]),
                "ORDER BY createdAt, rowid",
            )?,
            libraries: self.rows(
                "libraries",
                &with(&[
                    "id",
                    "name",
                    "displayOrder",
                    "icon",
                    "mediaType",
                    "provider",
                    "lastScan",
                    "lastScanVersion",
                    "settings",
                    "extraData",
                ]),
                "ORDER BY displayOrder, rowid",
            )?,
            folders: self.rows(
                "libraryFolders",
                &with(&["id", "path", "libraryId"]),
                "ORDER BY rowid",
            )?,
            library_items: self.rows(
                "libraryItems",
                &with(&[
                    "id",
                    "ino",
                    "path",
                    "relPath",
                    "mediaId",
                    "mediaType",
                    "isFile",
                    "isMissing",
                    "isInvalid",
                    "mtime",
                    "ctime",
                    "birthtime",
                    "size",
                    "lastScan",
                    "lastScanVersion",
                    "libraryFiles",
                    "extraData",
                    "libraryId",
                    "libraryFolderId",
                ]),
                "ORDER BY rowid",
            )?,
            authors: self.rows(
                "authors",
                &with(&[
                    "id",
                    "name",
                    "lastFirst",
                    "asin",
                    "description",
                    "imagePath",
                    "libraryId",
                ]),
                "ORDER BY rowid",
            )?,
            book_authors: self.rows(
                "bookAuthors",
                &["id", "bookId", "authorId", "createdAt"],
                "ORDER BY createdAt, rowid",
            )?,
            series: self.rows(
                "series",
                &with(&["id", "name", "nameIgnorePrefix", "description", "libraryId"]),
                "ORDER BY rowid",
            )?,
            book_series: self.rows(
                "bookSeries",
                &["id", "sequence", "bookId", "seriesId", "createdAt"],
                "ORDER BY createdAt, rowid",
            )?,
            progress: self.rows(
                "mediaProgresses",
                &with(&[
                    "id",
                    "mediaItemId",
                    "mediaItemType",
                    "duration",
                    "currentTime",
                    "isFinished",
                    "hideFromContinueListening",
                    "ebookLocation",
                    "ebookProgress",
                    "finishedAt",
                    "extraData",
                    "userId",
                ]),
                "ORDER BY rowid",
            )?,
            devices: self.rows(
                "devices",
                &with(&[
                    "id",
                    "deviceId",
                    "clientName",
                    "clientVersion",
                    "ipAddress",
                    "deviceName",
                    "deviceVersion",
                    "extraData",
                    "userId",
                ]),
                "ORDER BY rowid",
            )?,
            playback_sessions: self.rows(
                "playbackSessions",
                &with(&[
                    "id",
                    "mediaItemId",
                    "mediaItemType",
                    "displayTitle",
                    "displayAuthor",
                    "duration",
                    "playMethod",
                    "mediaPlayer",
                    "startTime",
                    "currentTime",
                    "serverVersion",
                    "timeListening",
                    "mediaMetadata",
                    "date",
                    "dayOfWeek",
                    "extraData",
                    "userId",
                    "deviceId",
                    "libraryId",
                ]),
                "ORDER BY createdAt, rowid",
            )?,
            collections: self.rows(
                "collections",
                &with(&["id", "name", "description", "libraryId"]),
                "ORDER BY rowid",
            )?,
            collection_books: self.rows(
                "collectionBooks",
                &["id", "order", "bookId", "collectionId", "createdAt"],
                "ORDER BY `order`, rowid",
            )?,
            playlists: self.rows(
                "playlists",
                &with(&["id", "name", "description", "libraryId", "userId"]),
                "ORDER BY rowid",
            )?,
            playlist_items: self.rows(
                "playlistMediaItems",
                &[
                    "id",
                    "mediaItemId",
                    "mediaItemType",
                    "order",
                    "playlistId",
                    "createdAt",
                ],
                "ORDER BY `order`, rowid",
            )?,
            api_keys: self.rows(
                "apiKeys",
                &with(&["id", "name", "expiresAt", "isActive", "userId"]),
                "ORDER BY rowid",
            )?,
            login_sessions: self.count("sessions", "")?,
            legacy_tokens: if self.has_column("users", "token") {
                self.count("users", "WHERE token IS NOT NULL AND token != ''")?
            } else {
                0
            },
            podcast_episodes: self.count("podcastEpisodes", "")?,
            custom_providers: self.count("customMetadataProviders", "")?,
            feeds: self.count("feeds", "")?,
            shares: self.count("mediaItemShares", "")?,
            ..AbsData::default()
        };
        let books = self.rows(
            "books",
            &with(&[
                "id",
                "title",
                "subtitle",
                "publishedYear",
                "publishedDate",
                "publisher",
                "description",
                "isbn",
                "asin",
                "language",
                "explicit",
                "abridged",
                "coverPath",
                "duration",
                "narrators",
                "audioFiles",
                "ebookFile",
                "chapters",
                "tags",
                "genres",
            ]),
            "",
        )?;
        d.books = books.into_iter().map(|b| (b.id(), b)).collect();
        for s in self.rows("settings", &["key", "value"], "")? {
            let value = s
                .s("value")
                .and_then(|v| serde_json::from_str(&v).ok())
                .unwrap_or_default();
            d.settings.insert(s.text("key"), value);
        }
        let meta = self.rows("migrationsMeta", &["key", "value"], "")?;
        d.version = meta
            .iter()
            .find(|r| r.text("key") == "version")
            .map(|r| r.text("value"))
            .or_else(|| {
                d.settings
                    .get("server-settings")
                    .and_then(|s| s.get("version"))
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "unknown".into());
        Ok(d)
    }
}

/// Whether `version` is one the reader was written for (2.19 to 2.36).
pub fn version_supported(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    major == 2 && (19..=36).contains(&minor)
}
