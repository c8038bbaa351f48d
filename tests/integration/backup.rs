//! Backups through the real binary: made while writes run, restored into a fresh data dir that a
//! real server then starts from; hostile archives refused with nothing written; off-site copies to
//! a local S3 stand-in and a folder, with retention on both.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use age::secrecy::ExposeSecret;
use sha2::Digest;

use crate::harness::{self, PASSWORD, TestServer, login};

const PASSPHRASE: &str = "a long backup passphrase for tests";

fn cli(data: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut c = harness::command(data);
    c.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run cli")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "command failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn refused(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "must fail, but: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn secret_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("{text}\n")).expect("write secret");
    p
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn backups_in(data: &Path) -> Vec<PathBuf> {
    let dir = data.join("backups");
    listing(&dir).into_iter().map(|n| dir.join(n)).collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn backup_while_writing_then_restore_keeps_users() {
    let mut server = TestServer::builder().admin("root", PASSWORD).start().await;
    server.add_user("alice", PASSWORD, false);
    let keys = tempfile::tempdir().expect("tempdir");
    let pass = secret_file(keys.path(), "pass", PASSPHRASE);
    let data = server.data.path().to_path_buf();

    // Writers hammer the live database (directly, as a second process would) during the backups.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let db = data.join("shelfwarden.sqlite");
        std::thread::spawn(move || {
            let conn = rusqlite::Connection::open(&db).expect("open");
            conn.busy_timeout(std::time::Duration::from_secs(10))
                .expect("timeout");
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                conn.execute(
                    "INSERT INTO settings(key, value) VALUES (?1, ?2)",
                    (format!("load-{i:08}"), i.to_string()),
                )
                .expect("insert");
                i += 1;
                // Back-to-back commits would starve the other writers of the lock (SQLite's busy
                // handler is not fair); a server's write rate is nowhere near that anyway.
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            i
        })
    };
    let user_adder = {
        let data = data.clone();
        std::thread::spawn(move || {
            for n in 0..3 {
                let out = harness::run_cli(
                    &data,
                    &["user", "add", &format!("late{n}"), "--password-stdin"],
                    Some(PASSWORD),
                );
                assert!(
                    out.status.success(),
                    "user add during backups: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        })
    };
    let mut made = Vec::new();
    for _ in 0..2 {
        let out = ok(&cli(
            &data,
            &["backup", "create", "--passphrase-file", s(&pass)],
            &[],
        ));
        assert!(out.contains("backup written"), "{out}");
        made.push(out);
        // Names have one-second resolution.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    stop.store(true, Ordering::SeqCst);
    let written = writer.join().expect("writer");
    user_adder.join().expect("user adder");
    assert!(written > 0);

    let files = backups_in(&data);
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(f).expect("meta");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let bytes = std::fs::read(f).expect("read");
        assert!(
            !contains(&bytes, b"SQLite format 3"),
            "plaintext database in the backup"
        );
        assert!(bytes.starts_with(b"age-encryption.org/v1"));
    }
    assert!(
        listing(&data)
            .iter()
            .all(|n| !n.starts_with(".backup-snapshot")),
        "snapshot left behind: {:?}",
        listing(&data)
    );

    let out = ok(&cli(
        &data,
        &["backup", "verify", "latest", "--passphrase-file", s(&pass)],
        &[],
    ));
    assert!(out.contains("integrity     ok"), "{out}");

    // Restore the newest into a fresh (empty) folder and start a real server from it.
    let target = tempfile::tempdir().expect("tempdir");
    let latest = files.last().expect("latest");
    let out = ok(&cli(
        target.path(),
        &[
            "backup",
            "restore",
            s(latest),
            "--passphrase-file",
            s(&pass),
        ],
        &[],
    ));
    assert!(out.contains("restored"), "{out}");

    // The snapshot is one consistent moment: the inserted rows are exactly 0..k.
    {
        let conn =
            rusqlite::Connection::open(target.path().join("shelfwarden.sqlite")).expect("open");
        let keys: Vec<String> = conn
            .prepare("SELECT key FROM settings WHERE key LIKE 'load-%' ORDER BY key")
            .expect("prep")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(k, &format!("load-{i:08}"));
        }
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("check");
        assert_eq!(check, "ok");
        let restores: i64 = conn
            .query_row(
                "SELECT count(*) FROM audit_events WHERE action = 'backup.restore'",
                [],
                |r| r.get(0),
            )
            .expect("audit");
        assert_eq!(
            restores, 1,
            "the restore is on the restored server's record"
        );
    }

    server.stop();
    let restored = TestServer::builder().start_in(target).await;
    let l = login(&restored, "alice", PASSWORD).await;
    assert_eq!(l["user"]["username"], "alice");
    login(&restored, "root", PASSWORD).await;
}

/// A small data dir with one admin, made with the CLI (no server needed).
fn small_data_dir() -> tempfile::TempDir {
    let data = tempfile::tempdir().expect("tempdir");
    let out = harness::run_cli(
        data.path(),
        &["user", "add", "root", "--admin", "--password-stdin"],
        Some(PASSWORD),
    );
    assert!(out.status.success());
    std::fs::create_dir_all(data.path().join("covers/item1")).expect("covers");
    std::fs::write(data.path().join("covers/item1/cover.jpg"), b"\xff\xd8jpeg").expect("cover");
    data
}

/// Encrypts a hand-made tar to `recipient`: what an attacker who can plant a file would make.
fn encrypt(tar: &[u8], recipient: &age::x25519::Recipient) -> Vec<u8> {
    let enc = age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
        .expect("encryptor");
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).expect("wrap");
    w.write_all(tar).expect("write");
    w.finish().expect("finish");
    out
}

fn manifest(files: &[(&str, &[u8])]) -> Vec<u8> {
    manifest_v(files, 1)
}

fn manifest_v(files: &[(&str, &[u8])], schema: i64) -> Vec<u8> {
    let files: Vec<serde_json::Value> = files
        .iter()
        .map(|(p, d)| {
            serde_json::json!({
                "path": p, "size": d.len(),
                "sha256": hex::encode(sha2::Sha256::digest(d)),
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "formatVersion": 1, "shelfwardenVersion": "0.1.0", "schemaVersion": schema,
        "createdAt": "2026-01-01T00:00:00Z", "createdAtMs": 0, "includesSecrets": false,
        "files": files,
    }))
    .expect("json")
}

/// Raw headers, so names like `../x` go in as written (the tar crate's builder refuses them).
fn raw_tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(data.len() as u64);
        h.set_mode(0o600);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, *data).expect("append");
    }
    b.into_inner().expect("tar")
}

#[test]
fn hostile_or_damaged_backups_are_refused_with_nothing_written() {
    let data = small_data_dir();
    let keys = tempfile::tempdir().expect("tempdir");
    let pass = secret_file(keys.path(), "pass", PASSPHRASE);
    let wrong = secret_file(keys.path(), "wrong", "not the right passphrase at all");
    let id = age::x25519::Identity::generate();
    let id_file = secret_file(keys.path(), "id", id.to_string().expose_secret());
    let out = ok(&cli(
        data.path(),
        &["backup", "create", "--passphrase-file", s(&pass)],
        &[],
    ));
    assert!(out.contains("2 files"), "db + cover: {out}");
    let good = backups_in(data.path()).pop().expect("backup");

    let mut flipped = std::fs::read(&good).expect("read");
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x01;
    let flipped_file = keys.path().join("flipped.swbak");
    std::fs::write(&flipped_file, &flipped).expect("write");

    let db: &[u8] = b"not really a database";
    let recipient = id.to_public();
    let crafted = |name: &str, tar: Vec<u8>| {
        let p = keys.path().join(name);
        std::fs::write(&p, encrypt(&tar, &recipient)).expect("write");
        p
    };
    let big = vec![b'A'; 2 * 1024 * 1024];
    let oversized = crafted(
        "oversized.swbak",
        raw_tar(&[
            ("manifest.json", &manifest(&[("shelfwarden.sqlite", db)])),
            ("shelfwarden.sqlite", &big),
        ]),
    );
    let dotdot_entry = crafted(
        "dotdot-entry.swbak",
        raw_tar(&[
            ("manifest.json", &manifest(&[("shelfwarden.sqlite", db)])),
            ("../shelfwarden.sqlite", db),
        ]),
    );
    let dotdot_manifest = crafted(
        "dotdot-manifest.swbak",
        raw_tar(&[
            ("manifest.json", &manifest(&[("../evil", db)])),
            ("../evil", db),
        ]),
    );

    let from_the_future = crafted(
        "future.swbak",
        raw_tar(&[
            (
                "manifest.json",
                &manifest_v(&[("shelfwarden.sqlite", db)], 99),
            ),
            ("shelfwarden.sqlite", db),
        ]),
    );
    let not_a_db = crafted(
        "not-a-db.swbak",
        raw_tar(&[
            ("manifest.json", &manifest(&[("shelfwarden.sqlite", db)])),
            ("shelfwarden.sqlite", db),
        ]),
    );

    let cases: Vec<(&str, &Path, Vec<&str>, &str)> = vec![
        (
            "wrong passphrase",
            &good,
            vec!["--passphrase-file", s(&wrong)],
            "wrong passphrase",
        ),
        (
            "flipped byte",
            &flipped_file,
            vec!["--passphrase-file", s(&pass)],
            "",
        ),
        (
            "oversized entry",
            &oversized,
            vec!["--identity", s(&id_file)],
            "manifest says",
        ),
        (
            "../ entry",
            &dotdot_entry,
            vec!["--identity", s(&id_file)],
            "unsafe path",
        ),
        (
            "../ in manifest",
            &dotdot_manifest,
            vec!["--identity", s(&id_file)],
            "unsafe path",
        ),
        (
            "newer schema",
            &from_the_future,
            vec!["--identity", s(&id_file)],
            "newer than",
        ),
        (
            "not a database",
            &not_a_db,
            vec!["--identity", s(&id_file)],
            "database",
        ),
    ];
    for (what, file, key_args, expect) in cases {
        let parent = tempfile::tempdir().expect("tempdir");
        let target = parent.path().join("restored");
        let mut args = vec!["backup", "restore", s(file)];
        args.extend(key_args.iter().copied());
        let err = refused(&cli(&target, &args, &[]));
        assert!(err.contains(expect), "{what}: {err}");
        assert!(
            listing(parent.path()).is_empty(),
            "{what}: wrote {:?}",
            listing(parent.path())
        );
        // verify refuses the same files
        let mut vargs = vec!["backup", "verify", s(file)];
        vargs.extend(key_args.iter().copied());
        refused(&cli(&target, &vargs, &[]));
        assert!(listing(parent.path()).is_empty(), "{what}: verify wrote");
    }

    // A non-empty target is refused without --force; with --force the old one is kept aside.
    let parent = tempfile::tempdir().expect("tempdir");
    let target = parent.path().join("restored");
    std::fs::create_dir(&target).expect("mkdir");
    std::fs::write(target.join("keep-me"), b"old").expect("write");
    let args = ["backup", "restore", s(&good), "--passphrase-file", s(&pass)];
    let err = refused(&cli(&target, &args, &[]));
    assert!(err.contains("not empty"), "{err}");
    let mut forced = args.to_vec();
    forced.push("--force");
    let out = ok(&cli(&target, &forced, &[]));
    assert!(out.contains("previous data dir was kept"), "{out}");
    assert!(target.join("covers/item1/cover.jpg").is_file());
    assert!(!target.join("keep-me").exists());
    let names = listing(parent.path());
    assert_eq!(names.len(), 2, "{names:?}");
    let aside = parent.path().join(&names[1]);
    assert!(aside.join("keep-me").is_file(), "{names:?}");
}

#[test]
fn secrets_only_when_asked_and_recipients_work() {
    let data = small_data_dir();
    // The jwt secret exists once a server or CLI made it; write one as the server would.
    std::fs::write(data.path().join("jwt-secret"), "x".repeat(64)).expect("secret");
    let keys = tempfile::tempdir().expect("tempdir");
    let id = age::x25519::Identity::generate();
    let id_file = secret_file(keys.path(), "id", id.to_string().expose_secret());
    let recipient = id.to_public().to_string();
    let plain = keys.path().join("plain.swbak");
    ok(&cli(
        data.path(),
        &[
            "backup",
            "create",
            "--recipient",
            &recipient,
            "--out",
            s(&plain),
        ],
        &[],
    ));
    let with = keys.path().join("with.swbak");
    ok(&cli(
        data.path(),
        &[
            "backup",
            "create",
            "--recipient",
            &recipient,
            "--include-secrets",
            "--out",
            s(&with),
        ],
        &[],
    ));
    let a = tempfile::tempdir().expect("tempdir");
    let ta = a.path().join("a");
    ok(&cli(
        &ta,
        &["backup", "restore", s(&plain), "--identity", s(&id_file)],
        &[],
    ));
    assert!(!ta.join("jwt-secret").exists());
    let tb = a.path().join("b");
    ok(&cli(
        &tb,
        &["backup", "restore", s(&with), "--identity", s(&id_file)],
        &[],
    ));
    assert_eq!(
        std::fs::read_to_string(tb.join("jwt-secret")).expect("secret"),
        "x".repeat(64)
    );
    // Passphrase given for a key-encrypted backup: a clear message, not a crash.
    let pass = secret_file(keys.path(), "pass", PASSPHRASE);
    let err = refused(&cli(
        &a.path().join("c"),
        &[
            "backup",
            "restore",
            s(&plain),
            "--passphrase-file",
            s(&pass),
        ],
        &[],
    ));
    assert!(err.contains("--identity"), "{err}");
}

// ---- off-site: local folder + S3 stand-in ---------------------------------------------------

struct S3Server {
    child: std::process::Child,
    endpoint: String,
    _root: tempfile::TempDir,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn find_tool(name: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        root.join("tests/compat/.venv/bin").join(name),
        root.join("tools/bin").join(name),
    ];
    if let Some(p) = candidates.into_iter().find(|p| p.is_file()) {
        return Some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Starts moto or s3s-fs with bucket `backups`, or returns None (the caller skips).
async fn start_s3() -> Option<S3Server> {
    let root = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let (child, needs_bucket) = if let Some(moto) = find_tool("moto_server") {
        let child = Command::new(moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        (child, true)
    } else if let Some(s3s) = find_tool("s3s-fs") {
        std::fs::create_dir_all(root.path().join("backups")).expect("bucket dir");
        let child = Command::new(s3s)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", "test", "--secret-key", "testsecret"])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        (child, false)
    } else {
        return None;
    };
    let server = S3Server {
        child,
        endpoint,
        _root: root,
    };
    let mut server = server;
    let client = harness::client();
    let mut ready = false;
    for _ in 0..200 {
        if client.get(&server.endpoint).send().await.is_ok() {
            ready = true;
            break;
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            eprintln!("the S3 stand-in exited at once ({status})");
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        ready,
        "the S3 stand-in never answered at {}",
        server.endpoint
    );
    if needs_bucket {
        let r = client
            .put(format!("{}/backups", server.endpoint))
            .send()
            .await
            .expect("create bucket");
        assert!(r.status().is_success(), "create bucket: {}", r.status());
    }
    Some(server)
}

#[cfg(feature = "s3")]
#[tokio::test]
async fn offsite_copies_to_folder_and_s3_with_retention_and_restore_from_s3() {
    use object_store::ObjectStoreExt;

    let Some(s3) = start_s3().await else {
        eprintln!(
            "SKIPPED: no S3 stand-in (moto_server or s3s-fs) found; scripts/test.sh installs moto[server]"
        );
        return;
    };
    let data = small_data_dir();
    let keys = tempfile::tempdir().expect("tempdir");
    let pass = secret_file(keys.path(), "pass", PASSPHRASE);
    let secret = secret_file(keys.path(), "s3-secret", "testsecret");
    let nas = tempfile::tempdir().expect("tempdir");

    // Old backups everywhere; retention keeps the new one plus the newest older day.
    let old = [
        "shelfwarden-20200101-000000.swbak",
        "shelfwarden-20200102-000000.swbak",
        "shelfwarden-20200103-000000.swbak",
    ];
    std::fs::create_dir_all(data.path().join("backups")).expect("mkdir");
    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(&s3.endpoint)
        .with_allow_http(true)
        .with_bucket_name("backups")
        .with_region("us-east-1")
        .with_access_key_id("test")
        .with_secret_access_key("testsecret")
        .with_virtual_hosted_style_request(false)
        .build()
        .expect("s3 client");
    for n in old {
        std::fs::write(data.path().join("backups").join(n), b"old").expect("write");
        std::fs::write(nas.path().join(n), b"old").expect("write");
        store
            .put(
                &object_store::path::Path::from(format!("site1/{n}")),
                object_store::PutPayload::from_static(b"old"),
            )
            .await
            .expect("seed s3");
    }
    std::fs::write(nas.path().join("unrelated.txt"), b"mine").expect("write");

    let env = vec![
        ("SHELFWARDEN_BACKUP_S3_ENDPOINT", s3.endpoint.clone()),
        ("SHELFWARDEN_BACKUP_S3_BUCKET", "backups".to_string()),
        ("SHELFWARDEN_BACKUP_S3_PREFIX", "site1".to_string()),
        ("SHELFWARDEN_BACKUP_S3_ACCESS_KEY_ID", "test".to_string()),
        (
            "SHELFWARDEN_BACKUP_S3_SECRET_ACCESS_KEY_FILE",
            s(&secret).to_string(),
        ),
        ("SHELFWARDEN_BACKUP_DESTINATIONS", s(nas.path()).to_string()),
        ("SHELFWARDEN_BACKUP_KEEP_LAST", "1".to_string()),
        ("SHELFWARDEN_BACKUP_KEEP_DAILY", "2".to_string()),
        ("SHELFWARDEN_BACKUP_KEEP_WEEKLY", "0".to_string()),
        ("SHELFWARDEN_BACKUP_KEEP_MONTHLY", "0".to_string()),
    ];
    let out = ok(&cli(
        data.path(),
        &[
            "backup",
            "create",
            "--passphrase-file",
            s(&pass),
            "--offsite",
        ],
        &env,
    ));
    assert!(out.contains("copied to s3://backups/site1/"), "{out}");

    let local = listing(&data.path().join("backups"));
    assert_eq!(local.len(), 2, "{local:?}");
    assert_eq!(local[0], old[2]);
    let new_name = local[1].clone();
    assert_eq!(
        listing(nas.path()),
        vec![
            old[2].to_string(),
            new_name.clone(),
            "unrelated.txt".to_string()
        ]
    );
    let out = ok(&cli(data.path(), &["backup", "list", "--remote"], &env));
    let remote: Vec<&str> = out.lines().filter(|l| l.starts_with("s3:")).collect();
    assert_eq!(
        remote,
        vec![format!("s3:{}", old[2]), format!("s3:{new_name}")],
        "{out}"
    );
    assert!(out.contains("\"state\":\"ok\""), "{out}");

    // The NAS copy is byte-identical.
    assert_eq!(
        std::fs::read(nas.path().join(&new_name)).expect("nas"),
        std::fs::read(data.path().join("backups").join(&new_name)).expect("local")
    );

    // Disaster: the server's disk is gone. Restore from S3 alone into a fresh folder.
    let parent = tempfile::tempdir().expect("tempdir");
    let target = parent.path().join("restored");
    let out = ok(&cli(
        &target,
        &[
            "backup",
            "restore",
            &format!("s3:{new_name}"),
            "--passphrase-file",
            s(&pass),
        ],
        &env,
    ));
    assert!(out.contains("(1 users)"), "{out}");
    assert_eq!(listing(parent.path()), vec!["restored".to_string()]);
    let restored = tempfile::tempdir().expect("tempdir");
    std::fs::remove_dir(restored.path()).expect("rmdir");
    std::fs::rename(&target, restored.path()).expect("move");
    let server = TestServer::builder().start_in(restored).await;
    login(&server, "root", PASSWORD).await;
}

#[tokio::test]
async fn admin_api_creates_lists_and_downloads() {
    let id = age::x25519::Identity::generate();
    let s = TestServer::builder()
        .admin("root", PASSWORD)
        .env("SHELFWARDEN_BACKUP_RECIPIENTS", &id.to_public().to_string())
        .start()
        .await;
    s.add_user("pleb", PASSWORD, false);
    let root = harness::access_token(&login(&s, "root", PASSWORD).await);
    let pleb = harness::access_token(&login(&s, "pleb", PASSWORD).await);
    let c = harness::client();
    for (m, p) in [
        ("GET", "/api/backups"),
        ("POST", "/api/backups"),
        (
            "GET",
            "/api/backups/shelfwarden-20260101-000000.swbak/download",
        ),
    ] {
        let r = c
            .request(m.parse().expect("method"), s.url(p))
            .bearer_auth(&pleb)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 403, "{m} {p}");
    }
    let r = c
        .post(s.url("/api/backups"))
        .bearer_auth(&root)
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), 200);
    let made: serde_json::Value = r.json().await.expect("json");
    let name = made["backup"]["id"].as_str().expect("id").to_string();
    let list: serde_json::Value = c
        .get(s.url("/api/backups"))
        .bearer_auth(&root)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(list["backups"][0]["id"], name.as_str());
    assert_eq!(list["status"]["state"], "ok");
    let r = c
        .get(s.url(&format!("/api/backups/{name}/download")))
        .bearer_auth(&root)
        .send()
        .await
        .expect("download");
    assert_eq!(r.status(), 200);
    let body = r.bytes().await.expect("body");
    assert_eq!(
        &body[..],
        &std::fs::read(s.data.path().join("backups").join(&name)).expect("file")[..]
    );
    for bad in [
        "..%2Fshelfwarden.sqlite",
        "shelfwarden.sqlite",
        "jwt-secret",
    ] {
        let r = c
            .get(s.url(&format!("/api/backups/{bad}/download")))
            .bearer_auth(&root)
            .send()
            .await
            .expect("download");
        assert_eq!(r.status(), 404, "{bad}");
    }
}

#[tokio::test]
async fn server_with_a_schedule_starts_and_reports_an_unusable_key() {
    let keys = tempfile::tempdir().expect("tempdir");
    let missing = keys.path().join("missing-pass");
    let mut server = TestServer::builder()
        .admin("root", PASSWORD)
        .env("SHELFWARDEN_BACKUP_SCHEDULE", "30 1 * * *")
        .env("SHELFWARDEN_BACKUP_PASSPHRASE_FILE", s(&missing))
        .start()
        .await;
    let mut status = String::new();
    for _ in 0..100 {
        status = ok(&cli(server.data.path(), &["backup", "list"], &[]));
        if status.contains("failing") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(status.contains("\"state\":\"failing\""), "{status}");
    assert!(
        server.log().contains("SCHEDULED BACKUPS WILL FAIL"),
        "{}",
        server.log()
    );
    server.stop();

    // A schedule without any key is refused at start, with a message saying what to set.
    let out = cli(
        server.data.path(),
        &["serve", "--port", "0", "--allow-root"],
        &[("SHELFWARDEN_BACKUP_SCHEDULE", "30 1 * * *".to_string())],
    );
    let err = refused(&out);
    assert!(err.contains("backup_passphrase_file"), "{err}");
}
