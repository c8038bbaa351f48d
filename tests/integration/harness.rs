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
    /// Lines the server printed on stdout before its "listening" line (fingerprint, redirect address).
    pub startup: Vec<String>,
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

    /// Sets an environment variable for the next `restart`.
    pub fn set_env(&mut self, k: &str, v: &str) {
        self.env.retain(|(name, _)| name != k);
        self.env.push((k.into(), v.into()));
    }

    /// Process id, for sending signals.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Starts the server again on the same data dir.
    pub async fn restart(&mut self) {
        self.kill9();
        let (child, base, startup) = spawn(
            self.data.path(),
            &self.log_path,
            &self.env,
            &self.extra_args,
        );
        self.child = Some(child);
        self.base = base;
        self.startup = startup;
        wait_ready(&self.base, &self.log_path).await;
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
    /// Starts on a given port instead of an ephemeral one (a test needs to know it in advance).
    pub async fn start_on_port(self, port: u16) -> TestServer {
        self.arg("--port").arg(&port.to_string()).start().await
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
        self.start_in_dir(data, check).await
    }

    /// Starts on an existing data dir (e.g. one a backup was restored into).
    pub async fn start_in(self, data: tempfile::TempDir) -> TestServer {
        self.start_in_dir(data, true).await
    }

    async fn start_in_dir(self, data: tempfile::TempDir, check: bool) -> TestServer {
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
        let (child, base, startup) = spawn(data.path(), &log_path, &self.env, &self.args);
        if check {
            wait_ready(&base, &log_path).await;
        }
        TestServer {
            base,
            startup,
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
) -> (Child, String, Vec<String>) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .expect("log file");
    let mut c = command(data);
    c.args(["serve", "--allow-root"]);
    if !args.iter().any(|a| a == "--port") {
        c.args(["--port", "0"]);
    }
    c.args(args)
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
    let mut startup = Vec::new();
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
        startup.push(line.trim().to_string());
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
            sink.clear();
        }
    });
    (child, base, startup)
}

async fn wait_ready(base: &str, log_path: &Path) {
    // Over HTTPS the certificate is checked by the tests themselves; an ACME certificate may take
    // a while to be issued, so HTTPS gets a longer wait.
    let https = base.starts_with("https://");
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(https)
        .build()
        .expect("client");
    let tries = if https { 2400 } else { 200 };
    for _ in 0..tries {
        if let Ok(r) = client.get(format!("{base}/ping")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let log = std::fs::read_to_string(log_path).unwrap_or_default();
    panic!("server at {base} never answered /ping; log:\n{log}");
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

/// One authenticated request; the status and the body as JSON (or as a JSON string if it is not).
pub async fn send(
    s: &TestServer,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req = client().request(method, s.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}
