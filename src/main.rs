use clap::Parser;
use shelfwarden::cli::{Cli, Command, apikey, audit, import_abs, serve, user};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(&cli.data, args),
        Command::User { command } => user::run(&cli.data, command),
        Command::Apikey { command } => apikey::run(&cli.data, command),
        Command::Audit { command } => audit::run(&cli.data, command),
        Command::ImportAbs(args) => import_abs::run(&cli.data, args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
