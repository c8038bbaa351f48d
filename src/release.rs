//! The opt-in release check (`release_check = true`): one GET to `release_check_url` at start, and
//! a log notice when a newer version exists. It never downloads or installs anything; updating
//! stays the operator's decision.

use std::time::Duration;

use crate::config::Config;

/// The project's release feed (GitHub's "latest release" JSON).
pub const DEFAULT_RELEASE_URL: &str =
    "https://api.github.com/repos/shelfwarden/shelfwarden/releases/latest";

/// A slow or unreachable feed must not hold anything up.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The newer version the feed at `url` announces, if it is newer than `current`.
pub fn check(url: &str, current: &str) -> anyhow::Result<Option<String>> {
    let r = crate::doctor::probe::get(url, false, TIMEOUT)?;
    if r.status != 200 {
        anyhow::bail!("release feed answered {}", r.status);
    }
    let latest =
        latest_version(&r.body).ok_or_else(|| anyhow::anyhow!("release feed has no version"))?;
    Ok(is_newer(&latest, current).then_some(latest))
}

/// `tag_name` (GitHub) or `version` from JSON, else the body as plain text.
fn latest_version(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let v = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(json) => json
            .get("tag_name")
            .or_else(|| json.get("version"))?
            .as_str()?
            .to_string(),
        Err(_) => text.lines().next()?.trim().to_string(),
    };
    let v = v.trim_start_matches('v').to_string();
    (!v.is_empty() && v.len() < 64).then_some(v)
}

fn numbers(v: &str) -> Vec<u64> {
    v.split(['-', '+'])
        .next()
        .unwrap_or("")
        .split('.')
        .map(|p| p.parse().unwrap_or(0))
        .collect()
}

pub fn is_newer(candidate: &str, current: &str) -> bool {
    numbers(candidate.trim_start_matches('v')) > numbers(current.trim_start_matches('v'))
}

/// Runs the check on a background thread when enabled; only ever logs.
pub fn spawn(config: &Config) {
    if !config.release_check {
        return;
    }
    let url = config
        .release_check_url
        .clone()
        .unwrap_or_else(|| DEFAULT_RELEASE_URL.to_string());
    let current = env!("CARGO_PKG_VERSION");
    std::thread::spawn(move || match check(&url, current) {
        Ok(Some(latest)) => tracing::warn!(
            current,
            latest,
            "a newer Shelfwarden release is available; see its release notes and update"
        ),
        Ok(None) => tracing::info!(current, "release check: up to date"),
        Err(e) => tracing::info!(error = %e, "release check failed"),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn compares_versions() {
        assert!(is_newer("0.2.0", "0.1.9"));
        assert!(is_newer("v1.0.0", "0.9.0"));
        assert!(!is_newer("0.1.0", "0.1.0"));
        assert!(!is_newer("0.1.0-rc1", "0.1.0"));
        assert!(is_newer("0.10.0", "0.9.0"));
    }

    #[test]
    fn asks_a_local_feed() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            let mut buf = [0u8; 1024];
            let n = s.read(&mut buf).expect("read");
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let body = r#"{"tag_name":"v99.0.0"}"#;
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            req
        });
        let latest = check(&format!("http://{addr}/releases/latest"), "0.1.0").expect("check");
        assert_eq!(latest.as_deref(), Some("99.0.0"));
        let req = server.join().expect("join");
        assert!(req.starts_with("GET /releases/latest HTTP/1.1"), "{req}");
    }
}
