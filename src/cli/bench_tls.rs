//! `shelfwarden bench-tls`: TLS handshakes per second and streaming throughput over HTTPS next to
//! plain HTTP, on loopback with a self-signed certificate. Client and server share the process
//! (and the machine's cores), so the figures are a lower bound for a dedicated server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::routing::get;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::tls;

#[derive(clap::Args, Debug, Clone)]
pub struct BenchTlsArgs {
    /// Full TLS handshakes to perform.
    #[arg(long, default_value_t = 2000)]
    pub handshakes: usize,
    /// Connections in flight at once during the handshake test.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Size of the streamed response, MiB.
    #[arg(long, default_value_t = 256)]
    pub size_mib: usize,
    /// Downloads per protocol; the best is reported.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

impl Default for BenchTlsArgs {
    fn default() -> Self {
        BenchTlsArgs {
            handshakes: 2000,
            concurrency: 8,
            size_mib: 256,
            rounds: 3,
        }
    }
}

/// Measured figures, also printed by `run`.
#[derive(Debug, Clone)]
pub struct BenchTlsReport {
    pub handshakes_per_sec: f64,
    pub resumed_handshakes_per_sec: f64,
    pub https_mib_per_sec: f64,
    pub http_mib_per_sec: f64,
    pub tls_version: String,
    pub cipher_suite: String,
}

pub fn run(args: &BenchTlsArgs) -> anyhow::Result<BenchTlsReport> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(bench(args))?;
    println!("TLS benchmark (loopback, self-signed ECDSA P-256, client and server in one process)");
    println!(
        "  protocol:                {} {}",
        report.tls_version, report.cipher_suite
    );
    println!(
        "  full handshakes/s:       {:.0} ({} handshakes, {} at once)",
        report.handshakes_per_sec, args.handshakes, args.concurrency
    );
    println!(
        "  resumed handshakes/s:    {:.0}",
        report.resumed_handshakes_per_sec
    );
    println!(
        "  streaming {} MiB, HTTPS: {:.0} MiB/s",
        args.size_mib, report.https_mib_per_sec
    );
    println!(
        "  streaming {} MiB, HTTP:  {:.0} MiB/s",
        args.size_mib, report.http_mib_per_sec
    );
    Ok(report)
}

async fn bench(args: &BenchTlsArgs) -> anyhow::Result<BenchTlsReport> {
    tls::install_crypto_provider();
    let (cert_pem, key_pem) = tls::self_signed::generate(&["localhost".to_string()])?;
    let certified = tls::files::certified_key_from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?;
    let cert_der = certified
        .cert
        .first()
        .cloned()
        .context("generated certificate is empty")?;
    let store = tls::CertStore::new();
    store.set(Arc::new(certified));

    let blob = Bytes::from(vec![0x5au8; args.size_mib.max(1) * 1024 * 1024]);
    let app = Router::new()
        .route("/ping", get(|| async { "pong" }))
        .route(
            "/blob",
            get(move || async move { Body::from(blob.clone()) }),
        );

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let tls_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let tls_addr = tls_listener.local_addr()?;
    let server_config = Arc::new(tls::server_config(store, false)?);
    tokio::spawn(tls::listener::serve(
        tls_listener,
        server_config,
        app.clone(),
        None,
        stopped(),
    ));
    let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let http_addr = http_listener.local_addr()?;
    let stop = stopped();
    tokio::spawn(async move {
        let _ = axum::serve(http_listener, app)
            .with_graceful_shutdown(stop)
            .await;
    });

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert_der)?;
    let base = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut full = base.clone();
    full.resumption = rustls::client::Resumption::disabled();
    full.alpn_protocols = vec![b"http/1.1".to_vec()];
    let mut resumed = base;
    resumed.alpn_protocols = vec![b"http/1.1".to_vec()];

    let (handshakes_per_sec, version, suite) =
        handshakes(tls_addr, Arc::new(full), args.handshakes, args.concurrency).await?;
    let (resumed_handshakes_per_sec, _, _) = handshakes(
        tls_addr,
        Arc::new(resumed.clone()),
        args.handshakes,
        args.concurrency,
    )
    .await?;

    let connector = tokio_rustls::TlsConnector::from(Arc::new(resumed));
    let expected = args.size_mib.max(1) * 1024 * 1024;
    let mut best_tls = 0f64;
    let mut best_http = 0f64;
    for _ in 0..args.rounds.max(1) {
        let tcp = TcpStream::connect(tls_addr).await?;
        let stream = connector.connect(server_name()?, tcp).await?;
        best_tls = best_tls.max(download(stream, expected).await?);
        let tcp = TcpStream::connect(http_addr).await?;
        best_http = best_http.max(download(tcp, expected).await?);
    }
    let _ = stop_tx.send(true);
    Ok(BenchTlsReport {
        handshakes_per_sec,
        resumed_handshakes_per_sec,
        https_mib_per_sec: best_tls,
        http_mib_per_sec: best_http,
        tls_version: version,
        cipher_suite: suite,
    })
}

fn server_name() -> anyhow::Result<ServerName<'static>> {
    Ok(ServerName::try_from("localhost")?)
}

/// Handshakes per second, plus the negotiated version and suite of the last one.
async fn handshakes(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    total: usize,
    concurrency: usize,
) -> anyhow::Result<(f64, String, String)> {
    let connector = tokio_rustls::TlsConnector::from(config);
    let per_task = total.div_ceil(concurrency.max(1));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let connector = connector.clone();
        tasks.push(tokio::spawn(async move {
            let mut last = (String::new(), String::new());
            for _ in 0..per_task {
                let tcp = TcpStream::connect(addr).await?;
                let mut tls = connector.connect(server_name()?, tcp).await?;
                let conn = tls.get_ref().1;
                last = (
                    conn.protocol_version()
                        .map(|v| format!("{v:?}"))
                        .unwrap_or_default(),
                    conn.negotiated_cipher_suite()
                        .map(|s| format!("{:?}", s.suite()))
                        .unwrap_or_default(),
                );
                let _ = tls.shutdown().await;
            }
            anyhow::Ok(last)
        }));
    }
    let mut last = (String::new(), String::new());
    for t in tasks {
        last = t.await??;
    }
    let elapsed = started.elapsed().max(Duration::from_micros(1));
    Ok((
        (per_task * concurrency.max(1)) as f64 / elapsed.as_secs_f64(),
        last.0,
        last.1,
    ))
}

/// GETs /blob over `stream` and returns MiB/s of the whole response.
async fn download<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    expected: usize,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    stream
        .write_all(b"GET /blob HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0usize;
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => total += n,
            // A peer that closes without close_notify still delivered every byte we count.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e.into()),
        }
    }
    if total < expected {
        anyhow::bail!("short response: {total} of {expected} bytes");
    }
    let secs = started.elapsed().as_secs_f64().max(1e-6);
    Ok(total as f64 / (1024.0 * 1024.0) / secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_run_produces_figures() {
        let report = run(&BenchTlsArgs {
            handshakes: 16,
            concurrency: 2,
            size_mib: 2,
            rounds: 1,
        })
        .expect("bench");
        assert!(report.handshakes_per_sec > 0.0);
        assert!(report.https_mib_per_sec > 0.0 && report.http_mib_per_sec > 0.0);
        assert_eq!(report.tls_version, "TLSv1_3");
    }

    /// The full benchmark: `cargo test --lib bench_tls -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn full_benchmark() {
        run(&BenchTlsArgs::default()).expect("bench");
    }
}
