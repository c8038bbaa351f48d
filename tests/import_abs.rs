//! `shelfwarden import-abs` against the real ABS 2.36 sample in `shared/fixtures/abs-2.36-sample`:
//! the imported data is compared with the sample's `expected.json`, the users log in through the
//! real server, and damaged or unsafe backups are refused with nothing written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_shelfwarden");
const ABS_LIBRARY: &str = "/tmp/abssample/audiobooks";
const ABS_METADATA: &str = "/tmp/abssample/metadata";

fn sample() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for up in [
        here.join("../shared"),
        here.join("../../shared"),
        PathBuf::from("/work/shared"),
    ] {
        let p = up.join("fixtures/abs-2.36-sample");
        if p.is_dir() {
            return p;
        }
    }
    panic!("the ABS sample (shared/fixtures/abs-2.36-sample) is missing");
}
fn sample_db() -> PathBuf {
    sample().join("absdatabase.sqlite")
}
fn sample_backup() -> PathBuf {
    sample().join("2026-12-01T0239.audiobookshelf")
}
fn expected() -> Value {
    serde_json::from_slice(&std::fs::read(sample().join("expected.json")).unwrap()).unwrap()
}
fn sha256(p: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
            let mut perm = std::fs::metadata(&dest).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(&dest, perm).unwrap();
        }
    }
}

/// A place for one import: a copy of the sample library and ABS's metadata folder unpacked from
/// the backup (for imports from the bare database).
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&sample().join("audiobooks"), &dir.path().join("books"));
        let mut zip = zip::ZipArchive::new(std::fs::File::open(sample_backup()).unwrap()).unwrap();
        for i in 0..zip.len() {
            let mut e = zip.by_index(i).unwrap();
            let name = e.name().unwrap().to_string();
            if let Some(rest) = name.strip_prefix("metadata-items/")
                && !e.is_dir()
            {
                let dest = dir.path().join("metadata/items").join(rest);
                std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
                std::io::copy(&mut e, &mut std::fs::File::create(dest).unwrap()).unwrap();
            }
        }
        Site { dir }
    }
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    fn books(&self) -> PathBuf {
        self.dir.path().join("books")
    }
    fn import(&self, from: &Path, extra: &[&str]) -> Output {
        let books = format!("{ABS_LIBRARY}={}", self.books().display());
        let meta = format!(
            "{ABS_METADATA}={}",
            self.dir.path().join("metadata").display()
        );
        let mut c = Command::new(BIN);
        c.arg("import-abs")
            .arg("--data")
            .arg(self.data())
            .arg("--from")
            .arg(from)
            .args(["--path-map", &books, "--path-map", &meta])
            .args(extra)
            .env_remove("SHELFWARDEN_DATA");
        c.output().unwrap()
    }
    fn import_json(&self, from: &Path, extra: &[&str]) -> Value {
        let mut args = vec!["--json"];
        args.extend_from_slice(extra);
        let out = self.import(from, &args);
        assert!(
            out.status.success(),
            "import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.data().join("shelfwarden.sqlite")).unwrap()
    }
}

fn count(report: &Value, kind: &str, field: &str) -> u64 {
    report["counts"][kind][field]
        .as_u64()
        .unwrap_or_else(|| panic!("no {kind}.{field} in {report}"))
}

fn written(report: &Value) -> u64 {
    report["counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|t| t["new"].as_u64().unwrap() + t["changed"].as_u64().unwrap())
        .sum()
}

fn query(conn: &rusqlite::Connection, sql: &str, arg: &str) -> Vec<Vec<Value>> {
    let mut st = conn.prepare(sql).unwrap();
    let n = st.column_count();
    st.query_map([arg], |r| {
        Ok((0..n)
            .map(|i| match r.get_ref(i).unwrap() {
                rusqlite::types::ValueRef::Null => Value::Null,
                rusqlite::types::ValueRef::Integer(i) => json!(i),
                rusqlite::types::ValueRef::Real(f) => json!(f),
                rusqlite::types::ValueRef::Text(t) => json!(String::from_utf8_lossy(t)),
                rusqlite::types::ValueRef::Blob(_) => Value::Null,
            })
            .collect())
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn close(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => a == b,
    }
}

/// Everything the sample's ground truth says, checked against the imported database.
fn assert_matches_expected(site: &Site) {
    let exp = expected();
    let db = site.db();
    let user_id = |name: &str| -> String {
        exp["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };

    // Items: ABS's ids, titles and paths (remapped), explicit flag, series.
    let items = query(
        &db,
        "SELECT id, title, rel_path, path, explicit, duration FROM items WHERE ?1 = ?1 ORDER BY id",
        "",
    );
    let exp_items = exp["items"].as_array().unwrap();
    assert_eq!(items.len(), exp_items.len());
    assert_eq!(exp["itemCount"], json!(items.len()));
    for e in exp_items {
        let row = items
            .iter()
            .find(|r| r[0] == e["id"])
            .unwrap_or_else(|| panic!("item {} missing", e["id"]));
        assert_eq!(row[1], e["title"]);
        assert_eq!(row[2], e["relPath"]);
        let path = e["path"]
            .as_str()
            .unwrap()
            .replace(ABS_LIBRARY, &site.books().to_string_lossy());
        assert_eq!(row[3], json!(path));
        assert!(
            Path::new(&path).exists(),
            "{path} should exist after remapping"
        );
        assert_eq!(
            row[4] == json!(1),
            e["explicit"].as_bool().unwrap(),
            "explicit of {}",
            e["title"]
        );
        assert!(close(&row[5], &e["duration"]));
        let num_tracks = query(
            &db,
            "SELECT COUNT(*) FROM audio_files WHERE item_id = ?1 AND exclude = 0",
            e["id"].as_str().unwrap(),
        );
        assert_eq!(num_tracks[0][0], e["numTracks"]);
        // Covers ABS keeps in its metadata folder are copied into DATA/covers.
        let cover = query(
            &db,
            "SELECT cover_path FROM items WHERE id = ?1",
            e["id"].as_str().unwrap(),
        )[0][0]
            .clone();
        match e["coverPath"].as_str() {
            None => assert_eq!(cover, Value::Null),
            Some(c) if c.starts_with(ABS_METADATA) => {
                let p = cover.as_str().unwrap();
                assert!(p.starts_with(&site.data().join("covers").to_string_lossy().to_string()));
                assert!(Path::new(p).is_file());
            }
            Some(c) => assert_eq!(
                cover,
                json!(c.replace(ABS_LIBRARY, &site.books().to_string_lossy()))
            ),
        }
    }
    for e in exp_items {
        let parts: Vec<String> = query(
            &db,
            "SELECT s.name, x.sequence FROM item_series x JOIN series s ON s.id = x.series_id WHERE x.item_id = ?1 ORDER BY x.position",
            e["id"].as_str().unwrap(),
        )
        .into_iter()
        .map(|r| match r[1].as_str() {
            Some(seq) if !seq.is_empty() => format!("{} #{seq}", r[0].as_str().unwrap()),
            _ => r[0].as_str().unwrap().to_string(),
        })
        .collect();
        let want = e["series"].as_str().unwrap_or_default();
        assert_eq!(parts.join(", "), want, "series of {}", e["title"]);
    }

    // Libraries and folders.
    let lib = &exp["libraries"][0];
    let libs = query(
        &db,
        "SELECT id, name, provider FROM libraries WHERE ?1 = ?1",
        "",
    );
    assert_eq!(
        libs,
        vec![vec![
            lib["id"].clone(),
            lib["name"].clone(),
            lib["provider"].clone()
        ]]
    );
    let folders = query(
        &db,
        "SELECT id, path FROM library_folders WHERE library_id = ?1",
        lib["id"].as_str().unwrap(),
    );
    assert_eq!(
        folders,
        vec![vec![
            lib["folders"][0]["id"].clone(),
            json!(site.books().to_string_lossy())
        ]]
    );

    // Users: ids, type, state, permissions, library access; everyone with a password must change it.
    for u in exp["users"].as_array().unwrap() {
        let row = query(
            &db,
            "SELECT username, email, type, is_active, is_locked, permissions, libraries_accessible, item_tags_selected,
                    must_change_password, password_hash LIKE '$2a$%', created_at FROM users WHERE id = ?1",
            u["id"].as_str().unwrap(),
        );
        let row = &row[0];
        assert_eq!(row[0], u["username"]);
        assert_eq!(row[1], u["email"]);
        assert_eq!(row[2], u["type"]);
        assert_eq!(row[3] == json!(1), u["isActive"].as_bool().unwrap());
        assert_eq!(row[4] == json!(1), u["isLocked"].as_bool().unwrap());
        let perms: Value = serde_json::from_str(row[5].as_str().unwrap()).unwrap();
        assert_eq!(perms, u["permissions"], "permissions of {}", u["username"]);
        assert_eq!(
            serde_json::from_str::<Value>(row[6].as_str().unwrap()).unwrap(),
            u["librariesAccessible"]
        );
        assert_eq!(
            serde_json::from_str::<Value>(row[7].as_str().unwrap()).unwrap(),
            u["itemTagsSelected"]
        );
        assert_eq!(
            row[8],
            json!(1),
            "{} must change the password",
            u["username"]
        );
        assert_eq!(row[9], json!(1), "{}'s bcrypt hash is kept", u["username"]);
        assert_eq!(row[10], u["createdAt"]);
    }

    // Progress per user and item title.
    for (name, rows) in exp["progress"].as_object().unwrap() {
        let got = query(
            &db,
            "SELECT p.id, p.item_id, i.book_id, i.title, p.position, p.duration, p.progress, p.is_finished,
                    p.hide_from_continue, p.last_update, p.started_at, p.finished_at
             FROM media_progress p JOIN items i ON i.id = p.item_id WHERE p.user_id = ?1 ORDER BY i.title",
            &user_id(name),
        );
        let mut want: Vec<&Value> = rows.as_array().unwrap().iter().collect();
        want.sort_by_key(|p| p["itemTitle"].as_str().unwrap().to_string());
        assert_eq!(got.len(), want.len(), "progress rows of {name}");
        for (g, w) in got.iter().zip(want) {
            let fields = [
                "id",
                "libraryItemId",
                "mediaItemId",
                "itemTitle",
                "currentTime",
                "duration",
                "progress",
                "isFinished",
                "hideFromContinueListening",
                "lastUpdate",
                "startedAt",
                "finishedAt",
            ];
            for (i, f) in fields.iter().enumerate() {
                let w = match &w[f] {
                    Value::Bool(b) => json!(i64::from(*b)),
                    v => v.clone(),
                };
                assert!(close(&g[i], &w), "{name} {}: {f} is {} not {}", w, g[i], w);
            }
        }
    }

    // Bookmarks per user and item title.
    for (name, rows) in exp["bookmarks"].as_object().unwrap() {
        let got: BTreeSet<String> = query(
            &db,
            "SELECT i.title, b.time, b.title, b.created_at FROM bookmarks b JOIN items i ON i.id = b.item_id WHERE b.user_id = ?1",
            &user_id(name),
        )
        .into_iter()
        .map(|r| format!("{}|{}|{}|{}", r[0], r[1].as_f64().unwrap(), r[2], r[3]))
        .collect();
        let want: BTreeSet<String> = rows
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                format!(
                    "{}|{}|{}|{}",
                    b["itemTitle"],
                    b["time"].as_f64().unwrap(),
                    b["title"],
                    b["createdAt"]
                )
            })
            .collect();
        assert_eq!(got, want, "bookmarks of {name}");
    }

    // Listening sessions per user, closed, with ABS's device info.
    for (name, rows) in exp["listeningSessions"].as_object().unwrap() {
        let got = query(
            &db,
            "SELECT s.id, s.library_id, s.item_id, i.title, s.display_title, s.display_author, s.time_listening, s.date,
                    s.day_of_week, s.start_time, s.position, s.duration, s.play_method, s.media_player,
                    s.started_at, s.updated_at, s.device_info, s.is_open
             FROM playback_sessions s LEFT JOIN items i ON i.id = s.item_id WHERE s.user_id = ?1 ORDER BY s.started_at",
            &user_id(name),
        );
        let mut want: Vec<&Value> = rows.as_array().unwrap().iter().collect();
        want.sort_by_key(|s| s["startedAt"].as_i64().unwrap());
        assert_eq!(got.len(), want.len(), "sessions of {name}");
        for (g, w) in got.iter().zip(want) {
            let fields = [
                "id",
                "libraryId",
                "libraryItemId",
                "itemTitle",
                "displayTitle",
                "displayAuthor",
                "timeListening",
                "date",
                "dayOfWeek",
                "startTime",
                "currentTime",
                "duration",
                "playMethod",
                "mediaPlayer",
                "startedAt",
                "updatedAt",
            ];
            for (i, f) in fields.iter().enumerate() {
                assert!(
                    close(&g[i], &w[f]),
                    "{name} session {}: {f} is {} not {}",
                    w["id"],
                    g[i],
                    w[f]
                );
            }
            let info: Value = serde_json::from_str(g[16].as_str().unwrap()).unwrap();
            assert_eq!(info, w["deviceInfo"], "device info of session {}", w["id"]);
            assert_eq!(g[17], json!(0), "imported sessions are closed");
        }
    }

    // Collections with ABS's ids and book order.
    for c in exp["collections"].as_array().unwrap() {
        let row = query(
            &db,
            "SELECT name, description, library_id FROM collections WHERE id = ?1",
            c["id"].as_str().unwrap(),
        );
        assert_eq!(
            row,
            vec![vec![
                c["name"].clone(),
                c["description"].clone(),
                c["libraryId"].clone()
            ]]
        );
        let titles: Vec<Value> = query(
            &db,
            "SELECT i.title FROM collection_items ci JOIN items i ON i.id = ci.item_id WHERE ci.collection_id = ?1 ORDER BY ci.position",
            c["id"].as_str().unwrap(),
        )
        .into_iter()
        .map(|mut r| r.remove(0))
        .collect();
        assert_eq!(json!(titles), c["books"]);
    }

    // API keys are reported, never imported.
    assert_eq!(
        query(&db, "SELECT COUNT(*) FROM api_keys WHERE ?1 = ?1", "")[0][0],
        json!(0)
    );
}

fn assert_report_basics(report: &Value) {
    let exp = expected();
    assert_eq!(report["absVersion"], "2.36.0");
    assert_eq!(count(report, "items", "new"), 24);
    assert_eq!(count(report, "users", "new"), 7);
    assert_eq!(count(report, "progress", "new"), 12);
    assert_eq!(count(report, "bookmarks", "new"), 4);
    assert_eq!(count(report, "listeningSessions", "new"), 3);
    assert_eq!(count(report, "collections", "new"), 1);
    assert_eq!(count(report, "covers", "new"), 11);
    assert_eq!(
        report["skipped"],
        json!([]),
        "nothing in the sample is skipped"
    );
    let key = &exp["apiKeys"][0];
    assert_eq!(
        report["apiKeysToReissue"],
        json!([{
            "name": key["name"], "username": "lena", "isActive": true, "expiresAt": 1801276765531_i64
        }])
    );
    assert!(
        report["mustChangePassword"]
            .as_array()
            .unwrap()
            .contains(&json!("weak"))
    );
    assert_eq!(report["withoutPassword"], json!([]));
    let not = report["notImported"].to_string();
    for what in ["refresh tokens", "API keys", "JWT signing secret"] {
        assert!(
            not.contains(what),
            "report should say {what} is not imported: {not}"
        );
    }
    assert!(
        !report
            .to_string()
            .contains(key["keyAsIssued"].as_str().unwrap())
    );
}

#[test]
fn imports_the_database_like_expected_and_a_second_time_changes_nothing() {
    let site = Site::new();
    let before = sha256(&sample_db());
    let report = site.import_json(&sample_db(), &[]);
    assert_report_basics(&report);
    assert_matches_expected(&site);

    // Rows that would be rewritten identically are not touched at all: no trigger fires.
    let catalog = |site: &Site| {
        query(
            &site.db(),
            "SELECT catalog_version FROM libraries WHERE ?1 = ?1",
            "",
        )
    };
    let version = catalog(&site);
    let again = site.import_json(&sample_db(), &[]);
    assert_eq!(written(&again), 0, "second import wrote: {again}");
    assert_eq!(count(&again, "items", "unchanged"), 24);
    assert_eq!(
        catalog(&site),
        version,
        "a repeated import must not bump the catalogue"
    );
    assert_matches_expected(&site);
    assert_eq!(
        sha256(&sample_db()),
        before,
        "the ABS database must never change"
    );

    let events = query(
        &site.db(),
        "SELECT details FROM audit_events WHERE action = ?1 ORDER BY seq",
        "import.abs",
    );
    assert_eq!(events.len(), 2, "one audit event per import");
    let details: Value = serde_json::from_str(events[0][0].as_str().unwrap()).unwrap();
    assert_eq!(details["counts"]["items"]["new"], 24);
}

#[test]
fn imports_the_backup_like_expected() {
    let site = Site::new();
    let before = sha256(&sample_backup());
    // No metadata folder mapped that exists: covers come from the backup itself.
    let report = site.import_json(
        &sample_backup(),
        &["--path-map", &format!("{ABS_METADATA}=/nonexistent")],
    );
    assert_report_basics(&report);
    assert_matches_expected(&site);
    let again = site.import_json(&sample_backup(), &[]);
    assert_eq!(written(&again), 0, "second import wrote: {again}");
    // The bare database after the backup: same rows, the copied covers stay.
    let db_after = site.import_json(
        &sample_db(),
        &["--path-map", &format!("{ABS_METADATA}=/nonexistent")],
    );
    assert_eq!(
        written(&db_after),
        0,
        "database after backup wrote: {db_after}"
    );
    assert_eq!(sha256(&sample_backup()), before);
}

#[test]
fn dry_run_writes_nothing() {
    let site = Site::new();
    let out = site.import(&sample_backup(), &["--dry-run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("dry run"), "{text}");
    assert!(text.contains("lena-sync-script (user lena"), "{text}");
    assert!(
        !site.data().exists(),
        "a dry run must not create the data folder"
    );

    // Against an existing data folder it reports what a real run would change, and changes nothing.
    site.import_json(&sample_db(), &[]);
    let db_file = site.data().join("shelfwarden.sqlite");
    let sum = sha256(&db_file);
    let report = site.import_json(&sample_db(), &["--dry-run"]);
    assert_eq!(report["dryRun"], true);
    assert_eq!(written(&report), 0);
    assert_eq!(sha256(&db_file), sum);
}

/// A copy of the sample backup with one byte of the compressed database flipped.
fn tampered_backup(dir: &Path) -> PathBuf {
    let mut bytes = std::fs::read(sample_backup()).unwrap();
    let name = b"absdatabase.sqlite";
    let at = bytes.windows(name.len()).position(|w| w == name).unwrap();
    bytes[at + name.len() + 500] ^= 0x55;
    let p = dir.join("tampered.audiobookshelf");
    std::fs::write(&p, bytes).unwrap();
    p
}

fn truncated_backup(dir: &Path) -> PathBuf {
    let bytes = std::fs::read(sample_backup()).unwrap();
    let p = dir.join("truncated.audiobookshelf");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    p
}

/// A backup holding the real database plus one extra entry named `extra`.
fn backup_with_entry(dir: &Path, extra: &str) -> PathBuf {
    let p = dir.join(format!("extra-{}.audiobookshelf", extra.len()));
    let mut w = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    w.start_file("details", opts).unwrap();
    w.write_all(b"2026-12-01T0239\nsqlite\n1796092769582\n2.36.0\n")
        .unwrap();
    w.start_file("absdatabase.sqlite", opts).unwrap();
    w.write_all(&std::fs::read(sample_db()).unwrap()).unwrap();
    w.start_file(extra, opts).unwrap();
    w.write_all(b"pwned").unwrap();
    w.finish().unwrap();
    p
}

#[test]
fn damaged_and_unsafe_backups_are_refused_with_nothing_written() {
    let site = Site::new();
    let work = tempfile::tempdir().unwrap();
    let cases = [
        (tampered_backup(work.path()), "damaged"),
        (truncated_backup(work.path()), "not a valid backup"),
        (backup_with_entry(work.path(), "../evil.sh"), "unsafe path"),
        (
            backup_with_entry(work.path(), "metadata-items/../../evil.sh"),
            "unsafe path",
        ),
        (backup_with_entry(work.path(), "/etc/evil"), "unsafe path"),
        (
            backup_with_entry(work.path(), "evil.sh"),
            "not part of an Audiobookshelf backup",
        ),
    ];
    for (backup, why) in &cases {
        let out = site.import(backup, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{} was accepted", backup.display());
        assert!(
            err.contains(why),
            "{}: expected {why:?} in {err}",
            backup.display()
        );
        assert!(
            !site.data().exists(),
            "{} created the data folder",
            backup.display()
        );
        assert!(!work.path().join("evil.sh").exists() && !Path::new("/etc/evil").exists());
    }
    // With an existing data folder, a refused backup leaves it exactly as it was.
    site.import_json(&sample_db(), &[]);
    let db_file = site.data().join("shelfwarden.sqlite");
    let sum = sha256(&db_file);
    for (backup, _) in &cases {
        assert!(!site.import(backup, &[]).status.success());
        assert_eq!(sha256(&db_file), sum);
    }
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path) -> Server {
    let mut c = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("SHELFWARDEN_") {
            c.env_remove(k);
        }
    }
    let mut child = c
        .args(["serve", "--port", "0", "--allow-root", "--data"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let base = loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "server exited before listening"
        );
        if let Some(rest) = line.trim().strip_prefix("Shelfwarden listening on ") {
            break rest.trim().to_string();
        }
    };
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
            sink.clear();
        }
    });
    Server { child, base }
}

#[tokio::test(flavor = "multi_thread")]
async fn imported_users_log_in_with_their_abs_passwords() {
    let site = Site::new();
    site.import_json(&sample_backup(), &[]);
    let server = serve(&site.data());
    let client = reqwest::Client::new();
    let exp = expected();
    let mut statuses = BTreeMap::new();
    for u in exp["users"].as_array().unwrap() {
        let name = u["username"].as_str().unwrap();
        let r = client
            .post(format!("{}/login", server.base))
            .header("x-return-tokens", "true")
            .json(&json!({ "username": name, "password": u["password"] }))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        statuses.insert(name.to_string(), json!(status));
        if status == 200 {
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["user"]["id"], u["id"], "{name} keeps ABS's id");
            // The login path judges the typed password against the policy at first login (the
            // sample's other passwords contain the user name, so the policy keeps most flagged).
            if name == "weak" {
                assert_eq!(
                    body["user"]["mustChangePassword"], true,
                    "123456 must be changed"
                );
            }
        }
    }
    let want: BTreeMap<String, Value> = exp["loginChecks"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(statuses, want);
    drop(server);
    // The first login rehashed the bcrypt hashes to Argon2id; the inactive user's stays bcrypt.
    let hashes = query(
        &site.db(),
        "SELECT username, substr(password_hash, 1, 9) FROM users WHERE ?1 = ?1 ORDER BY username",
        "",
    );
    for h in hashes {
        let want = if h[0] == "left" {
            "$2a$08$"
        } else {
            "$argon2id"
        };
        assert!(h[1].as_str().unwrap().starts_with(want), "{h:?}");
    }
    // A later import does not roll the new hashes or the cleared flags back.
    let flags = |site: &Site| {
        query(
            &site.db(),
            "SELECT username, must_change_password, password_hash LIKE '$argon2id%' FROM users WHERE ?1 = ?1 ORDER BY username",
            "",
        )
    };
    let after_login = flags(&site);
    assert!(
        after_login.contains(&vec![json!("weak"), json!(1), json!(1)]),
        "{after_login:?}"
    );
    assert!(
        after_login.contains(&vec![json!("left"), json!(1), json!(0)]),
        "{after_login:?}"
    );
    site.import_json(&sample_backup(), &[]);
    assert_eq!(flags(&site), after_login);
}

/// The lead's requirement for the scanner: a scan after the import keeps every ABS id, although the
/// copied files have new inodes, and finds nothing new or missing.
#[test]
fn a_scan_after_the_import_keeps_the_abs_ids() {
    use shelfwarden::library::scan::{ScanOptions, scan_library};
    use shelfwarden::store::{Store, items};

    let site = Site::new();
    site.import_json(&sample_backup(), &[]);
    let store = Store::open(&site.data().join("shelfwarden.sqlite")).unwrap();
    let lib_id = expected()["libraries"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ids = |store: &Store| -> BTreeSet<(String, String)> {
        store
            .read_blocking(|c| items::list_items(c, &lib_id))
            .unwrap()
            .into_iter()
            .map(|i| (i.id, i.book_id))
            .collect()
    };
    let before = ids(&store);
    let summary = scan_library(&store, &lib_id, &ScanOptions::new(&site.data()), &|_| {}).unwrap();
    assert_eq!((summary.added, summary.missing), (0, 0), "{summary:?}");
    assert_eq!(ids(&store), before);
    let missing = query(
        &site.db(),
        "SELECT COUNT(*) FROM items WHERE is_missing = 1 AND ?1 = ?1",
        "",
    );
    assert_eq!(missing[0][0], json!(0));
    // Edits made in ABS that live only in its database survive the scan (they are kept as the
    // item's edited record in the data dir, which outranks the files).
    let explicit = query(
        &site.db(),
        "SELECT explicit FROM items WHERE title = ?1",
        "Beyond the Hollow Cipher",
    );
    assert_eq!(
        explicit[0][0],
        json!(1),
        "ABS's explicit flag kept after a scan"
    );
}

#[test]
fn imports_from_an_abs_config_folder() {
    let site = Site::new();
    let config = site.dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::copy(sample_db(), config.join("absdatabase.sqlite")).unwrap();
    let report = site.import_json(&config, &[]);
    assert_report_basics(&report);
    assert_matches_expected(&site);
    let out = site.import(&site.dir.path().join("books"), &[]);
    assert!(
        !out.status.success(),
        "a folder without absdatabase.sqlite is refused"
    );
}

/// A writable copy of the sample database, changed by `sql` (our bundled SQLite reads ABS's triggers).
fn altered_db(dir: &Path, sql: &str) -> PathBuf {
    let p = dir.join("absdatabase.sqlite");
    std::fs::copy(sample_db(), &p).unwrap();
    let mut perm = std::fs::metadata(&p).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    std::fs::set_permissions(&p, perm).unwrap();
    rusqlite::Connection::open(&p)
        .unwrap()
        .execute_batch(sql)
        .unwrap();
    p
}

#[test]
fn duplicate_abs_progress_keeps_the_newest_and_newer_local_progress_survives() {
    let site = Site::new();
    let exp = expected();
    let omar = &exp["progress"]["omar"].as_array().unwrap()[0];
    let book = omar["mediaItemId"].as_str().unwrap();
    // Two extra rows for the same (user, book): one older, one newer than the real one.
    let sql = format!(
        "INSERT INTO mediaProgresses (id, mediaItemId, mediaItemType, duration, currentTime, isFinished,
             hideFromContinueListening, extraData, createdAt, updatedAt, userId)
         SELECT 'dup-old', mediaItemId, 'book', duration, 1, 0, 0, extraData, createdAt,
             '2020-01-01 00:00:00.000 +00:00', userId FROM mediaProgresses WHERE mediaItemId = '{book}' AND userId = '{u}';
         INSERT INTO mediaProgresses (id, mediaItemId, mediaItemType, duration, currentTime, isFinished,
             hideFromContinueListening, extraData, createdAt, updatedAt, userId)
         SELECT 'dup-new', mediaItemId, 'book', duration, 7.25, 0, 0, '{{}}', createdAt,
             '2030-01-01 00:00:00.000 +00:00', userId FROM mediaProgresses WHERE mediaItemId = '{book}' AND userId = '{u}'
             AND id != 'dup-old';",
        u = exp["users"][2]["id"].as_str().unwrap(),
    );
    let db = altered_db(site.dir.path(), &sql);
    let report = site.import_json(&db, &[]);
    assert_eq!(count(&report, "progress", "found"), 14);
    assert_eq!(count(&report, "progress", "new"), 12);
    assert_eq!(count(&report, "progress", "skipped"), 2);
    let row = query(
        &site.db(),
        "SELECT p.id, p.position, p.last_update FROM media_progress p WHERE p.item_id = ?1 AND p.user_id = (SELECT id FROM users WHERE username = 'omar')",
        omar["libraryItemId"].as_str().unwrap(),
    );
    assert_eq!(
        row,
        vec![vec![
            json!("dup-new"),
            json!(7.25),
            json!(1893456000000_i64)
        ]]
    );

    // Listening done here after the import is newer than ABS's row: a re-import keeps it.
    site.db()
        .execute("UPDATE media_progress SET position = 9.5, last_update = 1900000000000 WHERE id = 'dup-new'", [])
        .unwrap();
    let again = site.import_json(&db, &[]);
    assert_eq!(written(&again), 0, "{again}");
    let row = query(
        &site.db(),
        "SELECT p.position FROM media_progress p WHERE p.id = ?1",
        "dup-new",
    );
    assert_eq!(row[0][0], json!(9.5));
}

/// An ABS from before 2.26 (no API keys, no refresh sessions) and before 2.20 (no denormalised
/// author names on items): the reader probes columns and reads what is there.
#[test]
fn reads_an_older_abs_schema() {
    let site = Site::new();
    let mut drop = String::from("DROP TABLE apiKeys; DROP TABLE sessions;");
    let dependants: Vec<(String, String)> = {
        let c = rusqlite::Connection::open(sample_db()).unwrap();
        let mut st = c
            .prepare("SELECT upper(type), name FROM sqlite_master WHERE type IN ('trigger', 'index') AND sql LIKE '%authorNames%'")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    for (kind, name) in dependants {
        drop.push_str(&format!("DROP {kind} \"{name}\";"));
    }
    drop.push_str(
        "ALTER TABLE libraryItems DROP COLUMN authorNamesFirstLast;
         ALTER TABLE libraryItems DROP COLUMN authorNamesLastFirst;
         ALTER TABLE mediaProgresses DROP COLUMN podcastId;
         UPDATE migrationsMeta SET value = '2.19.4' WHERE key = 'version';",
    );
    let db = altered_db(site.dir.path(), &drop);
    let report = site.import_json(&db, &[]);
    assert_eq!(report["absVersion"], "2.19.4");
    assert_eq!(report["warnings"], json!([]));
    assert_eq!(count(&report, "items", "new"), 24);
    assert_eq!(count(&report, "progress", "new"), 12);
    assert_eq!(report["apiKeysToReissue"], json!([]));
    assert_matches_expected(&site);
}

#[test]
fn users_without_a_password_are_imported_but_listed() {
    let site = Site::new();
    let db = altered_db(
        site.dir.path(),
        "UPDATE users SET pash = NULL, extraData = '{\"authOpenIDSub\":\"abc\"}' WHERE username = 'visitor';
         UPDATE users SET pash = '' WHERE username = 'root';",
    );
    let report = site.import_json(&db, &[]);
    assert_eq!(report["withoutPassword"], json!(["root", "visitor"]));
    assert!(
        !report["mustChangePassword"]
            .as_array()
            .unwrap()
            .contains(&json!("root"))
    );
    let rows = query(
        &site.db(),
        "SELECT username, password_hash, must_change_password FROM users WHERE username IN ('root', 'visitor') AND ?1 = ?1 ORDER BY username",
        "",
    );
    assert_eq!(
        rows,
        vec![
            vec![json!("root"), Value::Null, json!(0)],
            vec![json!("visitor"), Value::Null, json!(0)]
        ]
    );
}

#[test]
fn existing_accounts_are_not_overwritten() {
    let site = Site::new();
    let add = |name: &str, admin: bool| {
        let mut c = Command::new(BIN);
        c.arg("--data")
            .arg(site.data())
            .args(["user", "add", name, "--password-stdin"]);
        if admin {
            c.arg("--admin");
        }
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"correct horse battery staple 42\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    add("admin", true);
    add("Lena", false);
    let report = site.import_json(&sample_db(), &[]);
    let skipped = report["skipped"].as_array().unwrap();
    assert!(
        skipped
            .iter()
            .any(|s| s["kind"] == "users" && s["name"] == "lena"),
        "{report}"
    );
    assert!(
        report["warnings"]
            .to_string()
            .contains("root was ABS's root"),
        "{report}"
    );
    let rows = query(
        &site.db(),
        "SELECT username, type FROM users WHERE ?1 = ?1 ORDER BY created_at",
        "",
    );
    assert!(
        rows.contains(&vec![json!("root"), json!("admin")]),
        "{rows:?}"
    );
    assert!(
        rows.contains(&vec![json!("admin"), json!("root")]),
        "{rows:?}"
    );
    assert!(
        rows.contains(&vec![json!("Lena"), json!("user")]),
        "{rows:?}"
    );
    assert_eq!(count(&report, "users", "new"), 6);
}
