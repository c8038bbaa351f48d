//! `shelfwarden doctor` and `shelfwarden healthcheck`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::ServeArgs;
use super::serve::load_config_unvalidated;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::doctor::{self, probe, snapshot};
use crate::tls;

#[derive(Args, Debug, Clone)]
pub struct DoctorArgs {
    /// The same configuration flags as `serve`: doctor judges what the server would run with.
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Also probe a running server from outside at this address (e.g. https://books.example.org).
    #[arg(long)]
    pub url: Option<String>,
    /// With --url: do not verify the server's certificate.
    #[arg(long)]
    pub insecure: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// Exit status: 0 without high-severity findings, 2 with (1 is left for errors).
pub fn run(data: &Path, args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let (config, config_error) = match load_config_unvalidated(data, &args.serve) {
        Ok(c) => {
            let err = c.validate().err().map(|e| format!("{e:#}"));
            (c, err)
        }
        Err(e) => (Config::default(), Some(format!("{e:#}"))),
    };
    let (conn, db_error) = match snapshot::open_read_only(data) {
        Ok(c) => (c, None),
        Err(e) => (None, Some(format!("{e:#}"))),
    };
    let mut snap = snapshot::gather(
        &config,
        config_error,
        data,
        conn.as_ref(),
        SystemClock.now_ms(),
    );
    if snap.db_error.is_none() {
        snap.db_error = db_error;
    }
    let mut findings = doctor::findings(&snap);
    if let Some(url) = &args.url {
        findings.extend(probe::probe(url, args.insecure));
        findings.sort_by_key(|f| f.severity);
    }
    if args.json {
        let out = serde_json::json!({
            "version": doctor::build_info(),
            "dataDir": data,
            "findings": findings,
            "ok": !doctor::has_high(&findings),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("Shelfwarden doctor: data dir {}\n", data.display());
        print!("{}", doctor::render_human(&findings));
    }
    Ok(if doctor::has_high(&findings) {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Args, Debug, Clone)]
pub struct HealthcheckArgs {
    /// Address to check (default: the configured port on loopback, https when TLS is on).
    #[arg(long)]
    pub url: Option<String>,
    /// Configuration file (default: DATA/shelfwarden.toml when present).
    #[arg(long, env = "SHELFWARDEN_CONFIG")]
    pub config: Option<std::path::PathBuf>,
    /// Do not verify the certificate (never verified for loopback addresses anyway).
    #[arg(long)]
    pub insecure: bool,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 5)]
    pub timeout: u64,
}

/// The URL the local server answers on, from the configuration it runs with.
pub fn local_url(config: &Config) -> String {
    let https = tls::decide(config).is_ok_and(|d| d.mode != tls::Mode::Off);
    let host = match config.bind {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => "127.0.0.1".to_string(),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
    };
    format!(
        "{}://{host}:{}/healthcheck",
        if https { "https" } else { "http" },
        config.port
    )
}

/// Used by the container's HEALTHCHECK: exit 0 when `/healthcheck` answers 200, else 1.
pub fn healthcheck(data: &Path, args: HealthcheckArgs) -> ExitCode {
    let url = args.url.clone().unwrap_or_else(|| {
        // A configuration the server would refuse still names the port it would have used.
        let config = Config::load_unvalidated(data, args.config.as_deref(), &super::process_env())
            .unwrap_or_default();
        local_url(&config)
    });
    match probe::get(
        &url,
        args.insecure,
        Duration::from_secs(args.timeout.max(1)),
    ) {
        Ok(r) if r.status == 200 => ExitCode::SUCCESS,
        Ok(r) => {
            eprintln!("unhealthy: {url} answered {}", r.status);
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {url}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_url_follows_bind_port_and_tls() {
        let mut c = Config::default();
        assert_eq!(local_url(&c), "http://127.0.0.1:13378/healthcheck");
        c.bind = "0.0.0.0".parse().expect("ip");
        c.port = 8443;
        assert_eq!(local_url(&c), "https://127.0.0.1:8443/healthcheck");
        c.insecure_http = true;
        assert_eq!(local_url(&c), "http://127.0.0.1:8443/healthcheck");
        c.bind = "::".parse().expect("ip");
        assert_eq!(local_url(&c), "http://[::1]:8443/healthcheck");
    }
}
