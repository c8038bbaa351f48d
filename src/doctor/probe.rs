//! A tiny blocking HTTP/1.1 client (plain TCP, or rustls) for `healthcheck`, the opt-in release
//! check and `doctor --url`, plus the outside-in checks `doctor --url` runs. It sends one GET and
//! reads one response; nothing here needs more, and a full client would be a large dependency
//! for that.
//!
//! Certificate verification is skipped only when asked (`--insecure`) or when the host is a
//! loopback address: the healthcheck talks to the server on the same machine, whose certificate
//! is often self-signed, and a man in the middle on loopback already owns the machine.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::{Finding, Severity};

/// Largest response read; the endpoints probed answer with a few hundred bytes.
const MAX_RESPONSE: u64 = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub https: bool,
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl Target {
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self
                .host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// `scheme://host:port` without the path.
    pub fn origin(&self) -> String {
        format!(
            "{}://{}:{}",
            if self.https { "https" } else { "http" },
            self.host,
            self.port
        )
    }
}

pub fn parse_url(url: &str) -> anyhow::Result<Target> {
    let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        bail!("URL must start with http:// or https://, got {url:?}");
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        bail!("URL {url:?} has no usable host");
    }
    let default_port = if https { 443 } else { 80 };
    let (host, port) = if let Some(end) = authority.strip_prefix('[').and_then(|a| a.find(']')) {
        // [v6]:port
        let host = &authority[..end + 2];
        let port = authority[end + 2..].strip_prefix(':');
        (host.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    let port = match port {
        Some(p) => p
            .parse()
            .with_context(|| format!("bad port in URL {url:?}"))?,
        None => default_port,
    };
    Ok(Target {
        https,
        host,
        port,
        path: path.to_string(),
    })
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One GET. `insecure` skips certificate verification (always skipped for loopback hosts).
pub fn get(url: &str, insecure: bool, timeout: Duration) -> anyhow::Result<Response> {
    let target = parse_url(url)?;
    let host_for_connect = target.host.trim_start_matches('[').trim_end_matches(']');
    let addr = (host_for_connect, target.port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {}", target.host))?
        .next()
        .with_context(|| format!("no address for {}", target.host))?;
    let tcp = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("cannot connect to {}", target.origin()))?;
    tcp.set_read_timeout(Some(timeout))?;
    tcp.set_write_timeout(Some(timeout))?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: shelfwarden/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        target.path,
        target.host,
        env!("CARGO_PKG_VERSION")
    );
    let raw = if target.https {
        let config = client_config(insecure || target.is_loopback())?;
        let name = ServerName::try_from(host_for_connect.to_string())
            .with_context(|| format!("bad TLS server name {}", target.host))?;
        let conn = rustls::ClientConnection::new(Arc::new(config), name)?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        tls.write_all(request.as_bytes())
            .with_context(|| format!("TLS with {} failed", target.origin()))?;
        read_all(&mut tls)?
    } else {
        let mut tcp = tcp;
        tcp.write_all(request.as_bytes())?;
        read_all(&mut tcp)?
    };
    parse_response(&raw)
}

fn read_all(r: &mut impl Read) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    match r.take(MAX_RESPONSE).read_to_end(&mut buf) {
        Ok(_) => Ok(buf),
        // A server that closes without TLS close_notify after a complete response is common; the
        // response is judged by parsing it.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => Ok(buf),
        Err(e) => Err(e.into()),
    }
}

pub fn parse_response(raw: &[u8]) -> anyhow::Result<Response> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("incomplete HTTP response")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..i]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_hex, 16) else {
            break;
        };
        if size == 0 || data.len() < i + 2 + size {
            break;
        }
        out.extend_from_slice(&data[i + 2..i + 2 + size]);
        data = data.get(i + 2 + size + 2..).unwrap_or_default();
    }
    out
}

fn client_config(skip_verify: bool) -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    if skip_verify {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth());
    }
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if roots.is_empty() {
        bail!(
            "no trusted CA certificates found on this system; pass --insecure to skip verification"
        );
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// Accepts any certificate: only for loopback or an explicit `--insecure` (see the module docs).
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Security headers every response should carry (set by the server's own middleware).
const EXPECTED_HEADERS: &[&str] = &[
    "content-security-policy",
    "x-content-type-options",
    "referrer-policy",
    "x-frame-options",
];

/// `doctor --url`: looks at a running server from outside.
pub fn probe(url: &str, insecure: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    let target = match parse_url(url) {
        Ok(t) => t,
        Err(e) => {
            out.push(Finding::new(
                "probe_bad_url",
                Severity::High,
                "Cannot probe: bad URL",
                e.to_string(),
                "Pass the address users reach the server at, e.g. --url https://books.example.org",
            ));
            return out;
        }
    };
    let origin = target.origin();
    let timeout = Duration::from_secs(10);
    let ping = match get(&format!("{origin}/healthcheck"), insecure, timeout) {
        Ok(r) => r,
        Err(e) => {
            out.push(Finding::new(
                "probe_unreachable",
                Severity::High,
                format!("{origin} did not answer"),
                format!("{e:#}"),
                "Check the address, that the server runs, and (for https) that its certificate is valid \
                 for this name; --insecure skips certificate checks.",
            ));
            return out;
        }
    };
    if !target.https {
        out.push(Finding::new(
            "probe_not_https",
            if target.is_loopback() {
                Severity::Info
            } else {
                Severity::High
            },
            format!("{origin} is plain HTTP"),
            "Passwords and tokens sent to this address cross the network in clear text.",
            "Serve HTTPS (tls_cert/tls_key, acme_domains, or a reverse proxy) and give users the https:// address.",
        ));
    } else if ping.header("strict-transport-security").is_none() {
        out.push(Finding::new(
            "probe_no_hsts",
            Severity::Medium,
            format!("{origin} sends no Strict-Transport-Security header"),
            "Without HSTS a browser can be downgraded to plain HTTP by anyone on the path.",
            "Set hsts_max_age = 31536000, or have the reverse proxy send the header.",
        ));
    }
    let missing: Vec<&str> = EXPECTED_HEADERS
        .iter()
        .copied()
        .filter(|h| ping.header(h).is_none())
        .collect();
    if !missing.is_empty() {
        out.push(Finding::new(
            "probe_missing_headers",
            Severity::Low,
            format!("{origin} lacks security headers"),
            format!("Missing: {}.", missing.join(", ")),
            "Shelfwarden sets these itself; a reverse proxy in front is stripping them. Pass them through.",
        ));
    }
    if let Some(v) = ping
        .header("x-powered-by")
        .or_else(|| ping.header("server"))
    {
        out.push(Finding::new(
            "probe_server_banner",
            Severity::Low,
            format!("{origin} announces its software ({v})"),
            "Version banners tell attackers which exploits to try.",
            "Turn off the banner in the reverse proxy (nginx: server_tokens off).",
        ));
    }
    if let Ok(status) = get(&format!("{origin}/status"), insecure, timeout)
        && let Ok(json) = serde_json::from_slice::<serde_json::Value>(&status.body)
        && let Some(path) = first_path(&json)
    {
        out.push(Finding::new(
            "probe_status_leak",
            Severity::Medium,
            format!("{origin}/status shows a file-system path"),
            format!("The unauthenticated status page contains {path:?}."),
            "Upgrade Shelfwarden, or block /status at the reverse proxy.",
        ));
    }
    out
}

/// The first string value that looks like an absolute file-system path.
fn first_path(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s)
            if s.starts_with('/') && s.len() > 1 && !s.starts_with("//") =>
        {
            Some(s.clone())
        }
        serde_json::Value::Array(a) => a.iter().find_map(first_path),
        serde_json::Value::Object(o) => o.values().find_map(first_path),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let t = parse_url("https://books.example.org/x").expect("url");
        assert_eq!(
            (t.https, t.host.as_str(), t.port, t.path.as_str()),
            (true, "books.example.org", 443, "/x")
        );
        let t = parse_url("http://127.0.0.1:13378").expect("url");
        assert_eq!((t.port, t.path.as_str()), (13378, "/"));
        assert!(t.is_loopback());
        let t = parse_url("http://[::1]:8080/healthcheck").expect("url");
        assert_eq!((t.host.as_str(), t.port), ("[::1]", 8080));
        assert!(t.is_loopback());
        assert!(parse_url("ftp://x").is_err());
        assert!(parse_url("http://user@host/").is_err());
    }

    #[test]
    fn parses_chunked_responses() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n2\r\nOK\r\n3\r\n!!!\r\n0\r\n\r\n";
        let r = parse_response(raw).expect("response");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-a"), Some("b"));
        assert_eq!(r.body, b"OK!!!");
    }

    #[test]
    fn finds_paths_in_json() {
        let v = serde_json::json!({"a": {"b": ["x", "/srv/books"]}});
        assert_eq!(first_path(&v).as_deref(), Some("/srv/books"));
        assert_eq!(first_path(&serde_json::json!({"u": "https://x/"})), None);
    }
}
