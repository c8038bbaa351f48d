//! HTTP benchmark, measured the way ABS was (`../shared/research/abs-baseline.md`): wrk with
//! 2 threads and 16 connections against the real server binary on loopback, with the Lua scripts
//! in `bench/wrk/`. Prints requests/s and latency for each ABS route the issue names.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::Value;

use crate::library::generator::generate_library;

#[derive(Args, Debug, Clone)]
pub struct BenchHttpArgs {
    /// Library sizes in books.
    #[arg(long = "books", default_values_t = vec![1000])]
    pub sizes: Vec<usize>,
    /// Seconds per measurement (after a 3 s warm-up).
    #[arg(long, default_value_t = 20)]
    pub seconds: u32,
    /// Folder holding the wrk Lua scripts.
    #[arg(long, default_value = "bench/wrk")]
    pub scripts: PathBuf,
}

const PASSWORD: &str = "wrk load generator passphrase 7";

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

fn start_server(data: &Path, library: &Path) -> anyhow::Result<Server> {
    let exe = std::env::current_exe()?;
    let status = Command::new(&exe)
        .args(["--data"])
        .arg(data)
        .args(["user", "add", "bench", "--admin", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .and_then(|mut c| {
            if let Some(mut s) = c.stdin.take() {
                s.write_all(format!("{PASSWORD}\n").as_bytes())?;
            }
            c.wait()
        })?;
    if !status.success() {
        bail!("could not create the bench user");
    }
    let mut child = Command::new(&exe)
        .args(["--data"])
        .arg(data)
        .args(["serve", "--port", "0", "--allow-root", "--library"])
        .arg(library)
        .env("SHELFWARDEN_LOG", "warn")
        .env("SHELFWARDEN_WATCH_LIBRARIES", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    let base = loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            bail!("server exited before listening");
        }
        if let Some(rest) = line.trim().strip_prefix("Shelfwarden listening on ") {
            break rest.to_string();
        }
    };
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
            sink.clear();
        }
    });
    Ok(Server { child, base })
}

fn curl(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("curl")
        .arg("-sS")
        .args(args)
        .output()
        .context("curl is needed for the benchmark")?;
    if !out.status.success() {
        bail!(
            "curl {:?} failed: {}",
            args,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn wrk(
    url: &str,
    token: &str,
    script: &Path,
    seconds: u32,
    extra: &[&str],
) -> anyhow::Result<Value> {
    let run = |secs: u32| -> anyhow::Result<String> {
        let out = Command::new("wrk")
            .args([
                "-t2",
                "-c16",
                &format!("-d{secs}s"),
                "--latency",
                "-H",
                &format!("Authorization: Bearer {token}"),
                "-s",
            ])
            .arg(script)
            .arg(url)
            .arg("--")
            .args(extra)
            .output()
            .context("wrk is needed for the HTTP benchmark (apt-get install wrk)")?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    run(3)?;
    let text = run(seconds)?;
    let json = text
        .lines()
        .find_map(|l| l.strip_prefix("WRKJSON "))
        .context("wrk printed no WRKJSON line")?;
    Ok(serde_json::from_str(json)?)
}

fn report(name: &str, v: &Value) {
    let requests = v["requests"].as_f64().unwrap_or(0.0);
    let secs = v["duration_us"].as_f64().unwrap_or(1.0) / 1e6;
    let bytes = v["bytes"].as_f64().unwrap_or(0.0);
    println!(
        "{name:<34} {:>10.0} req/s  {:>9.1} MB/s  p50 {:>6.2} ms  p99 {:>6.2} ms  non-2xx {}",
        requests / secs,
        bytes / secs / 1e6,
        v["p50_us"].as_f64().unwrap_or(0.0) / 1000.0,
        v["p99_us"].as_f64().unwrap_or(0.0) / 1000.0,
        v["non2xx3xx"]
    );
}

/// A long single-file book for the Range reads (ABS used a 60-minute book): MP3 frames repeated.
fn long_book(library: &Path) -> anyhow::Result<()> {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio");
    let mp3 = std::fs::read_dir(&fixture)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.extension().is_some_and(|e| e == "mp3") && !p.to_string_lossy().contains("corrupt")
        })
        .context("no mp3 fixture")?;
    let bytes = std::fs::read(&mp3)?;
    let dir = library.join("Bench Author").join("Long Book");
    std::fs::create_dir_all(&dir)?;
    let mut f = std::fs::File::create(dir.join("Long Book.mp3"))?;
    let mut written = 0usize;
    while written < 64 * 1024 * 1024 {
        f.write_all(&bytes)?;
        written += bytes.len();
    }
    Ok(())
}

pub fn run(args: &BenchHttpArgs) -> anyhow::Result<()> {
    for &n in &args.sizes {
        let tmp = tempfile::tempdir()?;
        let library = tmp.path().join("library");
        generate_library(&library, n, 1)?;
        long_book(&library)?;
        let server = start_server(&tmp.path().join("data"), &library)?;
        let base = server.base.clone();
        let login: Value = serde_json::from_str(&curl(&[
            "-X",
            "POST",
            &format!("{base}/login"),
            "-H",
            "content-type: application/json",
            "-d",
            &serde_json::json!({ "username": "bench", "password": PASSWORD }).to_string(),
        ])?)?;
        let token = login["user"]["accessToken"]
            .as_str()
            .context("no token")?
            .to_string();
        let auth = format!("Authorization: Bearer {token}");
        let libs: Value =
            serde_json::from_str(&curl(&["-H", &auth, &format!("{base}/api/libraries")])?)?;
        let lib = libs["libraries"][0]["id"]
            .as_str()
            .context("no library")?
            .to_string();
        let started = Instant::now();
        loop {
            let page: Value = serde_json::from_str(&curl(&[
                "-H",
                &auth,
                &format!("{base}/api/libraries/{lib}/items?limit=1"),
            ])?)?;
            if page["total"].as_u64() == Some(n as u64 + 1) {
                break;
            }
            if started.elapsed() > Duration::from_secs(600) {
                bail!("scan did not finish");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let all: Value = serde_json::from_str(&curl(&[
            "-H",
            &auth,
            &format!("{base}/api/libraries/{lib}/items?limit=0"),
        ])?)?;
        let results = all["results"].as_array().cloned().unwrap_or_default();
        let ids: Vec<String> = results
            .iter()
            .filter_map(|r| r["id"].as_str().map(str::to_string))
            .collect();
        let ids_file = tmp.path().join("ids.txt");
        std::fs::write(&ids_file, ids.join("\n"))?;
        let long = results
            .iter()
            // By folder: the repeated fixture keeps its own title tag, which outranks the folder name.
            .find(|r| r["path"].as_str().is_some_and(|p| p.ends_with("Long Book")))
            .and_then(|r| r["id"].as_str())
            .context("long book not scanned")?
            .to_string();
        let play: Value = serde_json::from_str(&curl(&[
            "-X",
            "POST",
            "-H",
            &auth,
            "-H",
            "content-type: application/json",
            &format!("{base}/api/items/{long}/play"),
            "-d",
            r#"{"deviceInfo":{"clientName":"bench","deviceId":"bench-1"},"forceDirectPlay":true}"#,
        ])?)?;
        let track = play["audioTracks"][0]["contentUrl"]
            .as_str()
            .context("no track")?
            .to_string();
        let size = play["audioTracks"][0]["metadata"]["size"]
            .as_u64()
            .context("no size")?
            .to_string();
        let pages = n.div_ceil(50).to_string();
        let s = |name: &str| args.scripts.join(name);
        let ids_arg = ids_file.to_string_lossy().into_owned();
        println!(
            "\n== {n} books (+1 long book), wrk -t2 -c16 -d{}s ==",
            args.seconds
        );
        report(
            "items page (50), uncached",
            &wrk(
                &format!("{base}/"),
                &token,
                &s("items.lua"),
                args.seconds,
                &[&lib, &pages, "bust"],
            )?,
        );
        report(
            "item expanded",
            &wrk(
                &format!("{base}/"),
                &token,
                &s("item.lua"),
                args.seconds,
                &[&ids_arg],
            )?,
        );
        report(
            "/api/me",
            &wrk(
                &format!("{base}/api/me"),
                &token,
                &s("plain.lua"),
                args.seconds,
                &[],
            )?,
        );
        report(
            "progress PATCH",
            &wrk(
                &format!("{base}/"),
                &token,
                &s("progress.lua"),
                args.seconds,
                &[&ids_arg],
            )?,
        );
        report(
            "Range 1 MiB",
            &wrk(
                &format!("{base}/"),
                &token,
                &s("range.lua"),
                args.seconds,
                &[&track, &size, "1048576"],
            )?,
        );
        report(
            "Range 64 KiB",
            &wrk(
                &format!("{base}/"),
                &token,
                &s("range.lua"),
                args.seconds,
                &[&track, &size, "65536"],
            )?,
        );
        drop(server);
    }
    Ok(())
}
