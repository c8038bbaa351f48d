//! `shelfwarden demo`: a working server in one command — a generated library of real audio files
//! in a temporary folder, a demo user with a one-time password, served on loopback.

use std::path::Path;

use clap::Args;

use super::{ServeArgs, serve};
use crate::auth::secrets::random_token;
use crate::clock::{Clock, SystemClock};
use crate::library::generator::generate_library;
use crate::model::UserType;

#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// Number of books to generate.
    #[arg(long, default_value_t = 24)]
    pub books: usize,
    /// Port to listen on.
    #[arg(long, default_value_t = 13378)]
    pub port: u16,
    /// Run even as root (not recommended).
    #[arg(long)]
    pub allow_root: bool,
}

#[derive(Args, Debug, Clone)]
pub struct GenerateArgs {
    /// Number of books.
    #[arg(long, default_value_t = 24)]
    pub books: usize,
    /// Folder to create the library in (must not exist or be empty).
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// Seed; the same seed makes the same library.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// `shelfwarden generate-library`: the fixture generator tests and benchmarks use.
pub fn generate(args: &GenerateArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)?;
    let books = generate_library(&args.out, args.books, args.seed)?;
    println!("generated {} books in {}", books.len(), args.out.display());
    Ok(())
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    crate::server::refuse_root(args.allow_root)?;
    let root = tempfile::Builder::new()
        .prefix("shelfwarden-demo-")
        .tempdir()?;
    let library = root.path().join("Audiobooks");
    let data = root.path().join("data");
    std::fs::create_dir_all(&library)?;
    eprintln!(
        "generating {} demo books in {} ...",
        args.books,
        library.display()
    );
    generate_library(&library, args.books, 7)?;
    let store = crate::server::open_store(&data)?;
    let config = crate::config::Config::default();
    let password = random_token(12);
    crate::accounts::create_user_blocking(
        &store,
        &config,
        "demo",
        &password,
        UserType::Root,
        SystemClock.now_ms(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    drop(store);
    println!(
        "\n  Shelfwarden demo: http://127.0.0.1:{}\n  log in as  demo  with password  {password}\n  (everything lives in {} and is deleted when you stop the demo)\n",
        args.port,
        root.path().display()
    );
    let serve_args = ServeArgs {
        port: Some(args.port),
        libraries: vec![library],
        allow_root: true,
        ..ServeArgs::default()
    };
    serve::run(Path::new(&data), serve_args)
}
