//! HTTPS built in: every mode over real TLS connections (reqwest/rustls, curl, a raw rustls
//! WebSocket), certificate reload, redirect, HSTS, Secure cookies, and ACME against pebble.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use shelfwarden::tls::der;

use crate::harness::{PASSWORD, TestServer, client};

/// rustls client settings trusting only `root` (DER), without session resumption: a resumed
/// session would report the certificate of the first handshake, hiding a reload.
fn rustls_client_config(root: &[u8]) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(root.to_vec()))
        .expect("root");
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    config
}

/// A client that trusts only `root` (DER) and reports the certificate it was shown.
fn tls_client_builder(root: &[u8]) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .use_preconfigured_tls(rustls_client_config(root))
        .tls_info(true)
        // A fresh connection per request, so a reloaded certificate is seen.
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
}

fn tls_client(root: &[u8]) -> reqwest::Client {
    tls_client_builder(root).build().expect("client")
}

fn first_cert_der(pem_path: &Path) -> Vec<u8> {
    CertificateDer::pem_file_iter(pem_path)
        .expect("pem")
        .next()
        .expect("a certificate")
        .expect("valid pem")
        .to_vec()
}

fn addr_of(base: &str) -> SocketAddr {
    base.split_once("://")
        .expect("scheme")
        .1
        .parse()
        .expect("socket address")
}

/// Serial of the certificate the server presents, or None when the handshake or request fails.
async fn served_serial(c: &reqwest::Client, url: &str) -> Option<String> {
    let r = c.get(url).send().await.ok()?;
    let info = r.extensions().get::<reqwest::tls::TlsInfo>()?;
    der::cert_info(info.peer_certificate()?).map(|i| i.serial_hex())
}

async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut probe: F) -> String
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A test CA and leaves signed by it, made with rcgen.
struct TestCa {
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
    pem: String,
}

impl TestCa {
    fn new() -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Shelfwarden test CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let key = rcgen::KeyPair::generate().expect("key");
        let pem = params.self_signed(&key).expect("ca").pem();
        TestCa { params, key, pem }
    }

    fn der(&self) -> Vec<u8> {
        CertificateDer::from_pem_slice(self.pem.as_bytes())
            .expect("ca pem")
            .to_vec()
    }

    /// (cert PEM, key PEM) for `names` with the given serial.
    fn leaf(&self, names: &[&str], serial: u8) -> (String, String) {
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("params");
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&[serial]));
        params
            .extended_key_usages
            .push(rcgen::ExtendedKeyUsagePurpose::ServerAuth);
        let key = rcgen::KeyPair::generate().expect("key");
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).expect("leaf");
        (cert.pem(), key.serialize_pem())
    }
}

fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

#[tokio::test]
async fn self_signed_mode_https_hsts_secure_cookie_and_h2() {
    let s = TestServer::builder()
        .admin("root", PASSWORD)
        .arg("--tls")
        .arg("self-signed")
        .start()
        .await;
    assert!(s.base.starts_with("https://"), "{}", s.base);
    let fp_line = s
        .startup
        .iter()
        .find(|l| l.contains("SHA-256 fingerprint"))
        .expect("fingerprint printed at start");
    let pem = s.data.path().join("tls/self-signed.pem");
    let cert = first_cert_der(&pem);
    assert!(fp_line.ends_with(&shelfwarden::tls::fingerprint(&cert)));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(s.data.path().join("tls/self-signed.key"))
        .expect("key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let c = tls_client(&cert);
    let r = c.get(s.url("/ping")).send().await.expect("https ping");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");

    let r = c
        .post(s.url("/login"))
        .json(&serde_json::json!({ "username": "root", "password": PASSWORD }))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 200);
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap_or("").to_string())
        .find(|v| v.starts_with("refresh_token="))
        .expect("refresh cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");

    // curl negotiates HTTP/2 through ALPN and verifies against the certificate.
    if let Ok(out) = Command::new("curl")
        .args(["-sS", "--http2", "--cacert"])
        .arg(&pem)
        .args(["-o", "/dev/null", "-w", "%{http_version} %{http_code}"])
        .arg(s.url("/ping"))
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text,
            "2 200",
            "curl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        eprintln!("curl not found; skipping the curl check");
    }
}

#[tokio::test]
async fn plain_http_on_loopback_has_no_hsts_and_no_secure_cookie() {
    let s = TestServer::builder().admin("root", PASSWORD).start().await;
    assert!(s.base.starts_with("http://"), "{}", s.base);
    let r = client().get(s.url("/ping")).send().await.expect("ping");
    assert!(r.headers().get("strict-transport-security").is_none());
    let r = client()
        .post(s.url("/login"))
        .json(&serde_json::json!({ "username": "root", "password": PASSWORD }))
        .send()
        .await
        .expect("login");
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .expect("text")
        .to_string();
    assert!(!cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn non_loopback_bind_defaults_to_self_signed_and_refuses_plain_http() {
    let s = TestServer::builder()
        .arg("--bind")
        .arg("0.0.0.0")
        .start()
        .await;
    assert!(s.base.starts_with("https://"), "{}", s.base);
    assert!(s.log().contains("self-signed"), "{}", s.log());
    drop(s);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = crate::harness::run_cli(
        dir.path(),
        &[
            "serve",
            "--bind",
            "0.0.0.0",
            "--port",
            "0",
            "--tls",
            "off",
            "--allow-root",
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--insecure-http"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn files_mode_reloads_certificate_without_restart() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    let (c1, k1) = ca.leaf(&["localhost", "127.0.0.1"], 0x11);
    std::fs::write(&cert_path, &c1).expect("cert");
    std::fs::write(&key_path, &k1).expect("key");
    let s = TestServer::builder()
        .arg("--tls-cert")
        .arg(cert_path.to_str().expect("path"))
        .arg("--tls-key")
        .arg(key_path.to_str().expect("path"))
        .start()
        .await;
    let c = tls_client(&ca.der());
    let url = s.url("/ping");
    assert_eq!(served_serial(&c, &url).await.as_deref(), Some("11"));

    // A broken replacement is ignored; the old certificate keeps being served.
    write_atomically(&cert_path, "not a certificate");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(served_serial(&c, &url).await.as_deref(), Some("11"));

    let (c2, k2) = ca.leaf(&["localhost", "127.0.0.1"], 0x22);
    write_atomically(&key_path, &k2);
    write_atomically(&cert_path, &c2);
    wait_for(
        "the reloaded certificate",
        Duration::from_secs(30),
        || async { served_serial(&c, &url).await.filter(|s| s == "22") },
    )
    .await;

    // SIGHUP reloads at once as well.
    let (c3, k3) = ca.leaf(&["localhost", "127.0.0.1"], 0x33);
    write_atomically(&key_path, &k3);
    write_atomically(&cert_path, &c3);
    let pid = s.pid().expect("pid").to_string();
    let _ = Command::new("kill").args(["-HUP", &pid]).status();
    wait_for(
        "the SIGHUP-reloaded certificate",
        Duration::from_secs(30),
        || async { served_serial(&c, &url).await.filter(|s| s == "33") },
    )
    .await;
}

#[tokio::test]
async fn redirect_listener_sends_301_except_acme_path() {
    let s = TestServer::builder()
        .arg("--tls")
        .arg("self-signed")
        .arg("--redirect-port")
        .arg("0")
        .start()
        .await;
    let line = s
        .startup
        .iter()
        .find_map(|l| l.strip_prefix("Shelfwarden redirecting "))
        .expect("redirect address printed");
    let http_base = line.split_whitespace().next().expect("address");
    let https = addr_of(&s.base);
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = c
        .get(format!("{http_base}/api/me?x=1"))
        .send()
        .await
        .expect("redirect");
    assert_eq!(r.status(), 301);
    assert_eq!(
        r.headers()["location"],
        format!("https://127.0.0.1:{}/api/me?x=1", https.port()).as_str()
    );
    assert!(r.headers().get("strict-transport-security").is_none());
    let r = c
        .get(format!(
            "{http_base}/.well-known/acme-challenge/unknown-token"
        ))
        .send()
        .await
        .expect("challenge");
    assert_eq!(r.status(), 404, "the ACME path is never redirected");
}

#[tokio::test]
async fn websocket_upgrade_over_tls() {
    let s = TestServer::builder()
        .arg("--tls")
        .arg("self-signed")
        .start()
        .await;
    let cert = first_cert_der(&s.data.path().join("tls/self-signed.pem"));
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(cert)).expect("root");
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let addr = addr_of(&s.base);
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("tcp");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").expect("name"), tcp)
        .await
        .expect("handshake");
    let url = format!("wss://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, resp) = tokio_tungstenite::client_async(url, tls)
        .await
        .expect("websocket upgrade");
    assert_eq!(resp.status(), 101);
    use futures_util::StreamExt;
    let first = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("open packet in time")
        .expect("a message")
        .expect("valid frame");
    let text = first.into_text().expect("text frame");
    assert!(text.starts_with("0{"), "Engine.IO open packet: {text}");
}

// --- ACME against pebble --------------------------------------------------------------------

fn pebble_binary() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("PEBBLE_BIN") {
        return Some(PathBuf::from(p));
    }
    ["/usr/bin/pebble", "/usr/local/bin/pebble"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .or_else(|| {
            let out = Command::new("sh")
                .args(["-c", "command -v pebble"])
                .output()
                .ok()?;
            let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
            (!p.is_empty()).then(|| PathBuf::from(p))
        })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

struct Pebble {
    child: Child,
    dns: Option<Child>,
    dir: tempfile::TempDir,
    directory: String,
    management: String,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for c in std::iter::once(&mut self.child).chain(self.dns.as_mut()) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// How pebble validates: not at all, or for real against these ports on 127.0.0.1.
enum Validation {
    AlwaysValid,
    Real { https_port: u16, http_port: u16 },
}

impl Pebble {
    async fn start(bin: &Path, ca: &TestCa, validation: Validation) -> Pebble {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = ca.leaf(&["localhost", "127.0.0.1"], 0x01);
        std::fs::write(dir.path().join("cert.pem"), cert).expect("cert");
        std::fs::write(dir.path().join("key.pem"), key).expect("key");
        std::fs::write(dir.path().join("ca.pem"), &ca.pem).expect("ca");
        let (listen, mgmt) = (free_port(), free_port());
        let (tls_port, http_port) = match validation {
            Validation::AlwaysValid => (free_port(), free_port()),
            Validation::Real {
                https_port,
                http_port,
            } => (https_port, http_port),
        };
        let config = serde_json::json!({ "pebble": {
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{mgmt}"),
            "certificate": dir.path().join("cert.pem"),
            "privateKey": dir.path().join("key.pem"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false
        }});
        let config_path = dir.path().join("pebble-config.json");
        std::fs::write(&config_path, config.to_string()).expect("config");
        let log = std::fs::File::create(dir.path().join("pebble.log")).expect("log");
        let mut cmd = Command::new(bin);
        cmd.arg("-config")
            .arg(&config_path)
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log));
        let mut dns = None;
        match validation {
            Validation::AlwaysValid => {
                cmd.env("PEBBLE_VA_ALWAYS_VALID", "1");
            }
            Validation::Real { .. } => {
                // Every name resolves to 127.0.0.1 through pebble's companion mock DNS server.
                let dns_port = free_port();
                let srv = bin.with_file_name("pebble-challtestsrv");
                let dns_log = std::fs::File::create(dir.path().join("dns.log")).expect("log");
                dns = Some(
                    Command::new(&srv)
                        .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
                        .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
                        .arg("-dns01")
                        .arg(format!("127.0.0.1:{dns_port}"))
                        .arg("-management")
                        .arg(format!("127.0.0.1:{}", free_port()))
                        .stdout(Stdio::from(dns_log.try_clone().expect("log")))
                        .stderr(Stdio::from(dns_log))
                        .spawn()
                        .expect("spawn pebble-challtestsrv"),
                );
                cmd.arg("-dnsserver").arg(format!("127.0.0.1:{dns_port}"));
            }
        }
        let child = cmd.spawn().expect("spawn pebble");
        let pebble = Pebble {
            child,
            dns,
            directory: format!("https://127.0.0.1:{listen}/dir"),
            management: format!("https://127.0.0.1:{mgmt}"),
            dir,
        };
        let c = tls_client(&ca.der());
        let directory = pebble.directory.clone();
        wait_for("pebble to start", Duration::from_secs(30), || {
            let c = c.clone();
            let d = directory.clone();
            async move {
                let r = c.get(d).send().await.ok()?;
                r.status().is_success().then(|| "up".to_string())
            }
        })
        .await;
        pebble
    }

    /// Pebble's root, which it generates at start and serves on the management port.
    async fn root_der(&self, ca: &TestCa) -> Vec<u8> {
        let pem = tls_client(&ca.der())
            .get(format!("{}/roots/0", self.management))
            .send()
            .await
            .expect("roots")
            .text()
            .await
            .expect("pem");
        CertificateDer::from_pem_slice(pem.as_bytes())
            .expect("root pem")
            .to_vec()
    }
}

#[tokio::test]
async fn acme_issuance_and_renewal_against_pebble() {
    let Some(bin) = pebble_binary() else {
        eprintln!(
            "SKIPPED acme_issuance_and_renewal_against_pebble: pebble not found (apt-get install -y pebble, or set PEBBLE_BIN)"
        );
        return;
    };
    let ca = TestCa::new();
    let pebble = Pebble::start(&bin, &ca, Validation::AlwaysValid).await;
    let domain = "books.shelfwarden.test";
    let mut s = TestServer::builder()
        .arg("--tls")
        .arg("acme")
        .arg("--acme-domain")
        .arg(domain)
        .arg("--acme-directory")
        .arg(&pebble.directory)
        .arg("--acme-ca-root")
        .arg(pebble.dir.path().join("ca.pem").to_str().expect("path"))
        .env("SHELFWARDEN_ACME_CHECK_INTERVAL", "1")
        .start()
        .await;
    let root = pebble.root_der(&ca).await;
    let client_for = |addr: SocketAddr| {
        tls_client_builder(&root)
            .resolve(domain, addr)
            .build()
            .expect("client")
    };
    let addr = addr_of(&s.base);
    let url = format!("https://{domain}:{}/ping", addr.port());
    // A verified handshake against pebble's root proves the chain comes from pebble's intermediate.
    let c = client_for(addr);
    let first = wait_for("the ACME certificate", Duration::from_secs(90), || {
        served_serial(&c, &url)
    })
    .await;
    use std::os::unix::fs::PermissionsExt;
    for f in ["acme/key.pem", "acme/account.json"] {
        let mode = std::fs::metadata(s.data.path().join(f))
            .expect(f)
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }

    // Restart with a renewal margin longer than pebble's lifetime: the stored certificate is
    // loaded, found due, and replaced by a new one without a further restart.
    s.set_env("SHELFWARDEN_ACME_RENEW_BEFORE_DAYS", "100000");
    s.restart().await;
    let addr = addr_of(&s.base);
    let url = format!("https://{domain}:{}/ping", addr.port());
    let c = client_for(addr);
    let renewed = wait_for("a renewed certificate", Duration::from_secs(90), || {
        let first = first.clone();
        let c = c.clone();
        let url = url.clone();
        async move { served_serial(&c, &url).await.filter(|s| *s != first) }
    })
    .await;
    assert_ne!(renewed, first);
    assert!(s.log().contains("ACME certificate issued"), "{}", s.log());
}

/// Real validation by pebble (no PEBBLE_VA_ALWAYS_VALID): pebble connects back to the server
/// for the challenge, over TLS-ALPN-01 on the HTTPS port or HTTP-01 on the redirect port.
async fn acme_with_real_validation(challenge: &str) {
    let Some(bin) = pebble_binary() else {
        eprintln!("SKIPPED ACME {challenge} validation: pebble not found");
        return;
    };
    if !bin.with_file_name("pebble-challtestsrv").exists() {
        eprintln!("SKIPPED ACME {challenge} validation: pebble-challtestsrv not found");
        return;
    }
    let ca = TestCa::new();
    let (https_port, http_port) = (free_port(), free_port());
    let pebble = Pebble::start(
        &bin,
        &ca,
        Validation::Real {
            https_port,
            http_port,
        },
    )
    .await;
    let domain = "validated.shelfwarden.test";
    let s = TestServer::builder()
        .arg("--tls")
        .arg("acme")
        .arg("--acme-domain")
        .arg(domain)
        .arg("--acme-directory")
        .arg(&pebble.directory)
        .arg("--acme-ca-root")
        .arg(pebble.dir.path().join("ca.pem").to_str().expect("path"))
        .arg("--redirect-port")
        .arg(&http_port.to_string())
        .env("SHELFWARDEN_ACME_CHALLENGE", challenge)
        .env("SHELFWARDEN_ACME_CHECK_INTERVAL", "1")
        .start_on_port(https_port)
        .await;
    let root = pebble.root_der(&ca).await;
    let addr = addr_of(&s.base);
    let c = tls_client_builder(&root)
        .resolve(domain, addr)
        .build()
        .expect("client");
    let url = format!("https://{domain}:{}/ping", addr.port());
    wait_for(
        &format!("a certificate validated by {challenge}"),
        Duration::from_secs(90),
        || served_serial(&c, &url),
    )
    .await;
}

#[tokio::test]
async fn acme_tls_alpn_01_validated_by_pebble() {
    acme_with_real_validation("tls-alpn-01").await;
}

#[tokio::test]
async fn acme_http_01_validated_by_pebble() {
    acme_with_real_validation("http-01").await;
}
