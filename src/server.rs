//! Starting the server: data dir, configuration, storage, secrets, first-run setup, listener.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use crate::app::{AppState, Inner};
use crate::auth::throttle::Throttle;
use crate::auth::{secrets, setup, tokens::TokenKeys};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::realtime::Realtime;
use crate::store::{Store, users};
use crate::tls;
use socketioxide::layer::SocketIoLayer;

pub const DB_FILE_NAME: &str = "shelfwarden.sqlite";

/// Creates the data dir with mode 0700 (tightening it if it exists).
pub fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data dir {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot set permissions on {}", dir.display()))?;
    Ok(())
}

/// Opens the database in the data dir; the file is created 0600 before SQLite touches it.
pub fn open_store(data_dir: &Path) -> anyhow::Result<Store> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    prepare_data_dir(data_dir)?;
    let path = data_dir.join(DB_FILE_NAME);
    if !path.exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Store::open(&path).with_context(|| format!("cannot open database {}", path.display()))
}

/// True when this process runs with an effective uid of 0.
pub fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

pub fn refuse_root(allow_root: bool) -> anyhow::Result<()> {
    if running_as_root() && !allow_root {
        anyhow::bail!(
            "refusing to run as root: a server bug would then own the whole machine. Run shelfwarden as an \
             unprivileged user (e.g. `sudo -u shelfwarden shelfwarden serve`, the systemd unit, or the container \
             image, which runs as UID 65532). If you must, pass --allow-root."
        );
    }
    Ok(())
}

pub fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SHELFWARDEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = if config.log_format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Builds the shared state: store, token keys, clock.
pub fn build_state(
    config: Config,
    data_dir: PathBuf,
) -> anyhow::Result<(AppState, Vec<SocketIoLayer>)> {
    let store = open_store(&data_dir)?;
    let secret = secrets::jwt_secret(&data_dir, config.jwt_secret.as_deref())?;
    let (realtime, layers) = Realtime::new();
    let now = SystemClock.now_ms();
    let throttle = Throttle::load(config.throttle(), store.clone(), now)?;
    let allowlists = config.allowlists();
    let state = AppState::new(Inner {
        config,
        data_dir,
        store,
        keys: TokenKeys::new(&secret),
        clock: Arc::new(SystemClock),
        realtime: Some(realtime.clone()),
        throttle: Arc::new(throttle),
        allowlists,
        catalog: Default::default(),
        credentials: Default::default(),
        me_bodies: Default::default(),
        tasks: Default::default(),
    });
    realtime.install(&state);
    Ok((state, layers))
}

/// Prints the one-time setup token when the server has no user yet.
pub fn announce_setup(state: &AppState) -> anyhow::Result<()> {
    let count = state.store.read_blocking(users::count)?;
    if count == 0 {
        let token = setup::ensure_token(&state.data_dir)?;
        eprintln!(
            "\n  No user exists yet. Create the first admin with\n    shelfwarden user add NAME --admin --password-stdin --data {}\n  or open the web page and enter this one-time setup token:\n    {token}\n  (also in {}/{})\n",
            state.data_dir.display(),
            state.data_dir.display(),
            secrets::SETUP_TOKEN_FILE
        );
    }
    Ok(())
}

/// Serves until SIGINT/SIGTERM, then finishes in-flight requests. Plain HTTP or HTTPS as
/// `tls::decide` says; with HTTPS, optionally a plain-HTTP redirect listener beside it.
/// Stops a background task whichever way `serve` returns (a backup must not outlive shutdown).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub async fn serve(state: AppState, socket_layers: Vec<SocketIoLayer>) -> anyhow::Result<()> {
    let decision = tls::decide(&state.config)?;
    let addr = SocketAddr::new(state.config.bind, state.config.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    let mut app = crate::http::router(state.clone());
    for layer in socket_layers {
        app = app.layer(layer);
    }
    let app = crate::http::merging_slashes(app);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    // --- scheduled backups (issue 9); returns at once when backup_schedule is unset ---
    let _backups = AbortOnDrop(tokio::spawn(crate::backup::run_scheduler(
        state.store.clone(),
        state.config.clone(),
        state.data_dir.clone(),
        state.clock.clone(),
    )));
    // --- end scheduled backups ---
    if decision.mode == tls::Mode::Off {
        if state.config.redirect_port.is_some() {
            tracing::warn!(
                "redirect_port is ignored: TLS is off, so there is nothing to redirect to"
            );
        }
        println!("Shelfwarden listening on http://{local}");
        tracing::info!(%local, reason = decision.reason, sqlite = crate::store::sqlite_version(), "listening (plain HTTP)");
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stopped())
        .await
        .context("server failed")?;
        tracing::info!("stopped");
        return Ok(());
    }
    if decision.mode == tls::Mode::SelfSigned && state.config.tls == "auto" {
        tracing::warn!(
            bind = %state.config.bind,
            "no certificate configured for a non-loopback bind: serving HTTPS with a self-signed certificate \
             (set tls_cert/tls_key or acme_domains for a trusted one, see docs/TLS.md)"
        );
    }
    let store = tls::start(decision.mode, &state.config, &state.data_dir)?;
    let rustls_config = Arc::new(tls::server_config(
        store.clone(),
        decision.mode == tls::Mode::Acme,
    )?);
    if let Some(port) = state.config.redirect_port {
        let raddr = SocketAddr::new(state.config.bind, port);
        let rlistener = tokio::net::TcpListener::bind(raddr)
            .await
            .with_context(|| format!("cannot listen on {raddr} (redirect_port)"))?;
        let rlocal = rlistener.local_addr()?;
        let router =
            tls::redirect::router(store.clone(), local.port(), tls::public_host(&state.config));
        let stop = stopped();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(rlistener, router)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::error!(error = %e, "redirect listener failed");
            }
        });
        println!("Shelfwarden redirecting http://{rlocal} to https");
        tracing::info!(%rlocal, "plain-HTTP redirect listener");
    }
    println!("Shelfwarden listening on https://{local}");
    tracing::info!(%local, mode = ?decision.mode, reason = decision.reason, sqlite = crate::store::sqlite_version(), "listening (HTTPS)");
    tls::listener::serve(
        listener,
        rustls_config,
        app,
        tls::listener::hsts_value(state.config.hsts_max_age),
        stopped(),
    )
    .await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Libraries from the command line, then watchers and a first scan for every library.
pub fn start_background(state: &AppState) -> anyhow::Result<()> {
    crate::tasks::ensure_libraries(state, &state.config.libraries)?;
    crate::maintenance::spawn(state.clone());
    let all = state
        .store
        .read_blocking(crate::store::libraries::list_libraries)?;
    for lib in &all {
        crate::tasks::watch_library(state, lib);
        if state.config.scan_on_start
            && let Err(e) = crate::tasks::start_scan(state, lib, false)
        {
            tracing::warn!(library = %lib.name, error = %e, "scan at start not started");
        }
    }
    Ok(())
}
