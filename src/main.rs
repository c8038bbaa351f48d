use clap::Parser;
use shelfwarden::cli::{
    BenchCommand, Cli, Command, apikey, audit, backup, bench_http, bench_scan, bench_tls, demo,
    doctor, import_abs, scan, serve, user,
};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(&cli.data, args),
        Command::Demo(args) => demo::run(args),
        Command::Scan { library } => scan::run(&cli.data, library.as_deref()),
        Command::GenerateLibrary(args) => demo::generate(&args),
        Command::Bench { command } => match command {
            BenchCommand::Scan { sizes } => bench_scan::run(&sizes),
            BenchCommand::Tls(args) => bench_tls::run(&args).map(|_| ()),
            BenchCommand::Http(args) => bench_http::run(&args),
        },
        Command::User { command } => user::run(&cli.data, command),
        Command::Backup { command } => backup::run(&cli.data, command),
        Command::Apikey { command } => apikey::run(&cli.data, command),
        Command::Audit { command } => audit::run(&cli.data, command),
        Command::ImportAbs(args) => import_abs::run(&cli.data, args),
        // These two choose their own exit status (doctor: 2 on high findings; healthcheck: 1 when down).
        Command::Doctor(args) => match doctor::run(&cli.data, args) {
            Ok(code) => return code,
            Err(e) => Err(e),
        },
        Command::Healthcheck(args) => return doctor::healthcheck(&cli.data, args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
