//! Gathering the facts the checks judge. Everything here only reads: the data dir is never
//! created, the database is opened read-only, and a library is judged from permission bits and
//! mount flags, never by trying to write into it.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::Serialize;

use super::BuildInfo;
use crate::config::Config;
use crate::tls;

/// Entries looked at per library before giving up: enough to find a writable folder in a real
/// library without turning doctor into a full scan of a huge one.
const LIBRARY_WALK_LIMIT: usize = 20_000;

/// Who this process is: what decides whether it could write somewhere.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProcessIds {
    pub euid: u32,
    pub egid: u32,
    pub groups: Vec<u32>,
}

/// Mode bits and owner of one path in the data dir.
#[derive(Debug, Clone, Serialize)]
pub struct PathMode {
    pub path: PathBuf,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub is_dir: bool,
    /// Holds key material (signing key, setup token, TLS/ACME keys, the database).
    pub secret: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct LibraryAccess {
    pub path: PathBuf,
    pub exists: bool,
    /// On a read-only mount (container `:ro`, systemd `ReadOnlyPaths=`): nothing below is writable.
    pub read_only_mount: bool,
    /// Entries below the library this process could modify (the first few).
    pub writable: Vec<PathBuf>,
    pub writable_count: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserFacts {
    pub name: String,
    pub user_type: String,
    pub is_active: bool,
    pub must_change_password: bool,
    pub last_seen: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyFacts {
    pub name: String,
    pub owner: String,
    pub is_active: bool,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DbFacts {
    pub users: Vec<UserFacts>,
    pub api_keys: Vec<KeyFacts>,
    /// The `backup_status` settings row, as stored by the backup runner.
    pub backup_status: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub now_ms: i64,
    pub process: Option<ProcessIds>,
    pub config: Config,
    /// Why the configuration would be refused at start, if it would.
    pub config_error: Option<String>,
    pub tls_mode: Option<String>,
    pub data_dir: PathBuf,
    pub data_dir_exists: bool,
    pub data_paths: Vec<PathMode>,
    pub libraries: Vec<LibraryAccess>,
    pub db: Option<DbFacts>,
    pub db_error: Option<String>,
    pub build: BuildInfo,
}

/// Collects the snapshot. `conn` is the server's own reader inside the server, a read-only
/// connection in the CLI, or `None` when there is no database yet.
pub fn gather(
    config: &Config,
    config_error: Option<String>,
    data_dir: &Path,
    conn: Option<&Connection>,
    now_ms: i64,
) -> Snapshot {
    let process = process_ids();
    let (db, db_error) = match conn {
        Some(c) => match read_db(c) {
            Ok(db) => (Some(db), None),
            Err(e) => (None, Some(e.to_string())),
        },
        None => (None, None),
    };
    let mut library_paths: Vec<PathBuf> = config.libraries.clone();
    if let Some(c) = conn
        && let Ok(paths) = library_folders(c)
    {
        for p in paths {
            if !library_paths.contains(&p) {
                library_paths.push(p);
            }
        }
    }
    let mounts = read_only_mounts();
    let libraries = library_paths
        .iter()
        .map(|p| library_access(p, process.as_ref(), &mounts))
        .collect();
    Snapshot {
        now_ms,
        config: config.clone(),
        config_error,
        tls_mode: tls::decide(config)
            .ok()
            .map(|d| format!("{:?}", d.mode).to_lowercase()),
        data_dir: data_dir.to_path_buf(),
        data_dir_exists: data_dir.is_dir(),
        data_paths: data_paths(data_dir),
        libraries,
        db,
        db_error,
        process,
        build: super::build_info(),
    }
}

/// Opens the database read-only; `Ok(None)` when there is none yet (doctor never creates one).
pub fn open_read_only(data_dir: &Path) -> anyhow::Result<Option<Connection>> {
    let path = data_dir.join(crate::server::DB_FILE_NAME);
    if !path.is_file() {
        return Ok(None);
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let wal = data_dir.join(format!("{}-wal", crate::server::DB_FILE_NAME));
    let conn = if wal.exists() {
        // A server may be running: read through the WAL like any reader (SQLite may add its -shm
        // index; as root it gives it the database file's owner).
        Connection::open_with_flags(&path, flags)?
    } else {
        // No WAL means nothing uncheckpointed: read the file as is, so that doctor does not leave
        // a -wal/-shm pair (owned by whoever ran it) in the server's data dir.
        let uri = format!(
            "file:{}?immutable=1",
            path.to_string_lossy()
                .replace('%', "%25")
                .replace('?', "%3f")
                .replace('#', "%23")
        );
        Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)?
    };
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(Some(conn))
}

fn read_db(c: &Connection) -> rusqlite::Result<DbFacts> {
    let mut stmt = c.prepare(
        "SELECT username, type, is_active, must_change_password, last_seen, created_at FROM users ORDER BY username",
    )?;
    let users = stmt
        .query_map([], |r| {
            Ok(UserFacts {
                name: r.get(0)?,
                user_type: r.get(1)?,
                is_active: r.get(2)?,
                must_change_password: r.get(3)?,
                last_seen: r.get(4)?,
                created_at: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut stmt = c.prepare(
        "SELECT k.name, u.username, k.is_active AND u.is_active, k.expires_at, k.last_used_at, k.created_at
         FROM api_keys k JOIN users u ON u.id = k.user_id ORDER BY k.name",
    )?;
    let api_keys = stmt
        .query_map([], |r| {
            Ok(KeyFacts {
                name: r.get(0)?,
                owner: r.get(1)?,
                is_active: r.get(2)?,
                expires_at: r.get(3)?,
                last_used_at: r.get(4)?,
                created_at: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let backup_status = c
        .query_row(
            "SELECT value FROM settings WHERE key = 'backup_status'",
            [],
            |r| r.get::<_, String>(0),
        )
        .optional()?
        .and_then(|t| serde_json::from_str(&t).ok());
    Ok(DbFacts {
        users,
        api_keys,
        backup_status,
    })
}

fn library_folders(c: &Connection) -> rusqlite::Result<Vec<PathBuf>> {
    let mut stmt = c.prepare("SELECT path FROM library_folders ORDER BY path")?;
    stmt.query_map([], |r| r.get::<_, String>(0).map(PathBuf::from))?
        .collect()
}

/// Effective uid/gid and supplementary groups from /proc/self/status (std has no geteuid and
/// this crate forbids unsafe code).
pub fn process_ids() -> Option<ProcessIds> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_status(&status)
}

pub fn parse_status(status: &str) -> Option<ProcessIds> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|rest| {
                rest.split_whitespace()
                    .filter_map(|n| n.parse::<u32>().ok())
                    .collect::<Vec<_>>()
            })
    };
    let uids = field("Uid:")?;
    let gids = field("Gid:")?;
    Some(ProcessIds {
        euid: *uids.get(1)?,
        egid: *gids.get(1)?,
        groups: field("Groups:").unwrap_or_default(),
    })
}

fn mode_of(path: &Path, secret: bool) -> Option<PathMode> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path).ok()?;
    Some(PathMode {
        path: path.to_path_buf(),
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
        is_dir: m.is_dir(),
        secret,
    })
}

/// The data dir and every file in it that holds something an attacker wants.
fn data_paths(data_dir: &Path) -> Vec<PathMode> {
    let mut out = Vec::new();
    out.extend(mode_of(data_dir, false));
    let db = crate::server::DB_FILE_NAME;
    for name in [
        db.to_string(),
        format!("{db}-wal"),
        format!("{db}-shm"),
        crate::auth::secrets::JWT_SECRET_FILE.to_string(),
        crate::auth::secrets::SETUP_TOKEN_FILE.to_string(),
        crate::config::CONFIG_FILE_NAME.to_string(),
    ] {
        out.extend(mode_of(&data_dir.join(name), true));
    }
    for sub in ["tls", "acme", "backups"] {
        let dir = data_dir.join(sub);
        out.extend(mode_of(&dir, false));
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let mut names: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            names.sort();
            for p in names {
                // Certificates are public; keys, account credentials and backups are not.
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let is_cert =
                    name.ends_with(".crt") || (name.ends_with(".pem") && !name.contains("key"));
                out.extend(mode_of(&p, !is_cert));
            }
        }
    }
    out
}

/// Mount points mounted read-only, from /proc/self/mountinfo.
pub fn read_only_mounts() -> Vec<PathBuf> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|t| parse_read_only_mounts(&t))
        .unwrap_or_default()
}

pub fn parse_read_only_mounts(mountinfo: &str) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let mount_point = fields.get(4)?;
            let options = fields.get(5)?;
            options
                .split(',')
                .any(|o| o == "ro")
                .then(|| PathBuf::from(unescape_mountinfo(mount_point)))
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape_mountinfo(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// The mount a path lives on is the longest mount point that prefixes it; read-only if that one is.
fn on_read_only_mount(path: &Path, ro_mounts: &[PathBuf]) -> bool {
    let Ok(real) = std::fs::canonicalize(path) else {
        return false;
    };
    let all = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let longest = all
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(unescape_mountinfo))
        .map(PathBuf::from)
        .filter(|m| real.starts_with(m))
        .max_by_key(|m| m.as_os_str().len());
    longest.is_some_and(|m| ro_mounts.contains(&m))
}

fn library_access(path: &Path, ids: Option<&ProcessIds>, ro_mounts: &[PathBuf]) -> LibraryAccess {
    use std::os::unix::fs::MetadataExt;
    let mut access = LibraryAccess {
        path: path.to_path_buf(),
        exists: path.is_dir(),
        read_only_mount: on_read_only_mount(path, ro_mounts),
        writable: Vec::new(),
        writable_count: 0,
    };
    let Some(ids) = ids else { return access };
    if !access.exists || access.read_only_mount {
        return access;
    }
    if ids.euid == 0 {
        // Root may write anything off a read-only mount: walking the library would say nothing new.
        access.writable_count = 1;
        access.writable.push(path.to_path_buf());
        return access;
    }
    let mut stack = vec![path.to_path_buf()];
    let mut seen = 0usize;
    while let Some(p) = stack.pop() {
        seen += 1;
        if seen > LIBRARY_WALK_LIMIT {
            break;
        }
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if m.file_type().is_symlink() {
            continue;
        }
        if super::checks::writable_by(m.mode(), m.uid(), m.gid(), ids) {
            access.writable_count += 1;
            if access.writable.len() < 5 {
                access.writable.push(p.clone());
            }
        }
        if m.is_dir()
            && let Ok(entries) = std::fs::read_dir(&p)
        {
            stack.extend(entries.flatten().map(|e| e.path()));
        }
    }
    access
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_effective_ids() {
        let status =
            "Name:\tx\nUid:\t1000\t65534\t1000\t1000\nGid:\t100\t200\t100\t100\nGroups:\t4 24 27\n";
        let ids = parse_status(status).expect("ids");
        assert_eq!(ids.euid, 65534);
        assert_eq!(ids.egid, 200);
        assert_eq!(ids.groups, vec![4, 24, 27]);
    }

    #[test]
    fn finds_read_only_mounts() {
        let info = "36 35 98:0 / /srv/audio\\040books ro,noatime master:1 - ext3 /dev/root ro\n\
                    37 35 98:0 / /data rw,noatime - ext4 /dev/sda rw\n";
        assert_eq!(
            parse_read_only_mounts(info),
            vec![PathBuf::from("/srv/audio books")]
        );
    }
}
