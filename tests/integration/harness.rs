//! Starts the real `shelfwarden` binary on an ephemeral loopback port with a temporary data dir
//! and a real SQLite file, and talks HTTP to it.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_shelfwarden");
pub const PASSWORD: &str = "correct horse battery staple 42";

pub struct TestServer {
    pub base: String,
    pub data: tempfile::TempDir,
    pub log_path: PathBuf,
    child: Option<Child>,
    env: Vec<(String, String)>,
    extra_args: Vec<String>,
}

/// A command for the binary with a clean environment (no SHELFWARDEN_* leaking in from the shell).
pub fn command(data: &Path) -> Command {
    let mut c = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("SHELFWARDEN_")
            || matches!(k.as_str(), "PORT" | "HOST" | "RATE_LIMIT_AUTH_MAX")
        {
            c.env_remove(k);
        }
    }
    c.arg("--data").arg(data);
    c
}

pub fn run_cli(data: &Path, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut c = command(data);
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn cli");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{input}\n").as_bytes())
            .expect("write stdin");
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().expect("cli output")
}

impl TestServer {
    pub fn builder() -> Builder {
        Builder::default()
    }

    pub async fn start() -> TestServer {
        Builder::default().start().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn add_user(&self, name: &str, password: &str, admin: bool) {
        let mut args = vec!["user", "add", name, "--password-stdin"];
        if admin {
            args.push("--admin");
        }
        let out = run_cli(self.data.path(), &args, Some(password));
        assert!(
            out.status.success(),
            "user add failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> std::process::Output {
        run_cli(self.data.path(), args, stdin)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Stops with SIGTERM and returns the exit status.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        for _ in 0..100 {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        child.wait().ok()
    }

    /// Kills without warning (SIGKILL), as a crash or OOM would.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same data dir.
    pub async fn restart(&mut self) {
        self.kill9();
        let (child, base) = spawn(
            self.data.path(),
            &self.log_path,
            &self.env,
            &self.extra_args,
        );
        self.child = Some(child);
        self.base = base;
        wait_ready(&self.base).await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

#[derive(Default)]
pub struct Builder {
    env: Vec<(String, String)>,
    args: Vec<String>,
    admin: Option<(String, String)>,
}

impl Builder {
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }
    pub fn arg(mut self, a: &str) -> Self {
        self.args.push(a.into());
        self
    }
    /// Creates an admin (root) with the CLI before the server starts.
    pub fn admin(mut self, name: &str, password: &str) -> Self {
        self.admin = Some((name.into(), password.into()));
        self
    }
    pub async fn start(self) -> TestServer {
        self.start_inner(true).await
    }

    /// Starts without waiting for `/ping` to answer 200 (for servers that refuse the test client).
    pub async fn start_unchecked(self) -> TestServer {
        self.start_inner(false).await
    }

    async fn start_inner(self, check: bool) -> TestServer {
        let data = tempfile::tempdir().expect("tempdir");
        if let Some((name, pw)) = &self.admin {
            let out = run_cli(
                data.path(),
                &["user", "add", name, "--admin", "--password-stdin"],
                Some(pw),
            );
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let log_path = data.path().join("server-test.log");
        let (child, base) = spawn(data.path(), &log_path, &self.env, &self.args);
        if check {
            wait_ready(&base).await;
        }
        TestServer {
            base,
            data,
            log_path,
            child: Some(child),
            env: self.env,
            extra_args: self.args,
        }
    }
}

fn spawn(
    data: &Path,
    log_path: &Path,
    env: &[(String, String)],
    args: &[String],
) -> (Child, String) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .expect("log file");
    let mut c = command(data);
    c.args(["serve", "--port", "0", "--allow-root"])
        .args(args)
        .env("SHELFWARDEN_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().expect("spawn server");
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    let base = loop {
        line.clear();
        let n = reader.read_line(&mut line).expect("read stdout");
        if n == 0 {
            let log = std::fs::read_to_string(log_path).unwrap_or_default();
            panic!("server exited before listening; log:\n{log}");
        }
        if let Some(rest) = line.trim().strip_prefix("Shelfwarden listening on ") {
            break rest.trim().to_string();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
            sink.clear();
        }
    });
    (child, base)
}

async fn wait_ready(base: &str) {
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(r) = client.get(format!("{base}/ping")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("server at {base} never answered /ping");
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().build().expect("client")
}

/// Logs in with `x-return-tokens: true` and returns the JSON payload.
pub async fn login(server: &TestServer, user: &str, password: &str) -> serde_json::Value {
    let r = client()
        .post(server.url("/login"))
        .header("x-return-tokens", "true")
        .json(&serde_json::json!({ "username": user, "password": password }))
        .send()
        .await
        .expect("login request");
    assert_eq!(r.status(), 200, "login of {user} failed");
    r.json().await.expect("login json")
}

pub fn access_token(login: &serde_json::Value) -> String {
    login["user"]["accessToken"]
        .as_str()
        .expect("accessToken")
        .to_string()
}

pub fn refresh_token(login: &serde_json::Value) -> String {
    login["user"]["refreshToken"]
        .as_str()
        .expect("refreshToken")
        .to_string()
}
