//! The command line: one file per command group. `main.rs` only parses and dispatches.

pub mod apikey;
pub mod audit;
pub mod backup;
pub mod bench_http;
pub mod bench_scan;
pub mod bench_tls;
pub mod demo;
pub mod doctor;
pub mod import_abs;
pub mod scan;
pub mod serve;
pub mod user;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "shelfwarden", version = long_version(), about = "A self-hosted audiobook server that speaks the Audiobookshelf API, secure by default")]
pub struct Cli {
    /// Folder that holds everything the server writes.
    #[arg(
        long,
        global = true,
        env = "SHELFWARDEN_DATA",
        default_value = "./shelfwarden-data"
    )]
    pub data: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

/// `--version`: the build facts recorded by build.rs, so a bug report says exactly what runs.
fn long_version() -> &'static str {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (ABS API 2.36-compatible, SQLite bundled)\ncommit: ",
        env!("SHELFWARDEN_GIT_HASH"),
        "\nbuilt: ",
        env!("SHELFWARDEN_BUILD_DATE"),
        "\ntarget: ",
        env!("SHELFWARDEN_TARGET")
    )
}

// Parsed once per process; boxing the serve flags would only complicate dispatch in main.rs.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Try Shelfwarden: a generated library and a demo login, served on loopback.
    Demo(demo::DemoArgs),
    /// Scan libraries in the foreground (all, or the one at --library, created if new).
    Scan {
        #[arg(long)]
        library: Option<PathBuf>,
    },
    /// Generate a library of N distinct books from the bundled audio fixtures.
    GenerateLibrary(demo::GenerateArgs),
    /// Measure scanning, HTTP and TLS performance.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: user::UserCommand,
    },
    /// Encrypted backups: create, verify, restore, list, prune.
    Backup {
        #[command(subcommand)]
        command: backup::BackupCommand,
    },
    /// Manage API keys.
    Apikey {
        #[command(subcommand)]
        command: apikey::ApikeyCommand,
    },
    /// Judge this deployment's security: configuration, data dir, accounts, backups (exit 2 on high findings).
    Doctor(doctor::DoctorArgs),
    /// Exit 0 when the local server answers /healthcheck (for container HEALTHCHECKs).
    Healthcheck(doctor::HealthcheckArgs),
    /// Check, export or prune the audit log.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Import users, libraries, books, progress and history from Audiobookshelf.
    ImportAbs(import_abs::ImportAbsArgs),
}

#[derive(Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// Configuration file (default: DATA/shelfwarden.toml when present).
    #[arg(long, env = "SHELFWARDEN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1).
    #[arg(long)]
    pub bind: Option<std::net::IpAddr>,
    /// Port to listen on (default 13378).
    #[arg(long)]
    pub port: Option<u16>,
    /// A folder of audiobooks to serve as a library (repeatable).
    #[arg(long = "library")]
    pub libraries: Vec<PathBuf>,
    /// Run even as root (not recommended).
    #[arg(long)]
    pub allow_root: bool,
    /// HTTPS mode: auto, off, files, self-signed or acme (default auto: HTTP on loopback, else HTTPS).
    #[arg(long, value_parser = ["auto", "off", "files", "self-signed", "acme"])]
    pub tls: Option<String>,
    /// PEM certificate chain (implies --tls files).
    #[arg(long)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (implies --tls files).
    #[arg(long)]
    pub tls_key: Option<PathBuf>,
    /// Allow plain HTTP on a non-loopback address.
    #[arg(long)]
    pub insecure_http: bool,
    /// A reverse proxy in trusted_proxies terminates TLS; allows plain HTTP on a private address.
    #[arg(long)]
    pub behind_proxy: bool,
    /// Also listen on this port for plain HTTP: 301 to HTTPS, and ACME HTTP-01 answers.
    #[arg(long)]
    pub redirect_port: Option<u16>,
    /// Strict-Transport-Security max-age in seconds on HTTPS responses (0 disables).
    #[arg(long)]
    pub hsts_max_age: Option<u64>,
    /// Domain to get an ACME certificate for (repeatable; implies --tls acme).
    #[arg(long = "acme-domain")]
    pub acme_domains: Vec<String>,
    /// Contact e-mail for the ACME account.
    #[arg(long)]
    pub acme_email: Option<String>,
    /// ACME directory URL (default: Let's Encrypt).
    #[arg(long)]
    pub acme_directory: Option<String>,
    /// Use Let's Encrypt's staging directory.
    #[arg(long)]
    pub acme_staging: bool,
    /// PEM root certificate of a private ACME CA's HTTPS endpoint.
    #[arg(long)]
    pub acme_ca_root: Option<PathBuf>,
}

/// The process environment as (name, value) pairs, for `Config::load`.
pub fn process_env() -> Vec<(String, String)> {
    std::env::vars().collect()
}

/// Reads a password from standard input (first line, without its newline).
pub fn read_password_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let pw = line.trim_end_matches(['\n', '\r']).to_string();
    if pw.is_empty() {
        anyhow::bail!("no password on standard input");
    }
    Ok(pw)
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Full scan, no-change rescan, files/s and peak RSS for generated libraries.
    Scan {
        /// Library sizes in books.
        #[arg(long = "books", default_values_t = vec![1000, 10000])]
        sizes: Vec<usize>,
    },
    /// TLS handshakes/s and streaming throughput over TLS next to plain HTTP.
    Tls(bench_tls::BenchTlsArgs),
    /// HTTP load with wrk against the ABS API (items page, item, /api/me, progress, Range reads).
    Http(bench_http::BenchHttpArgs),
}
