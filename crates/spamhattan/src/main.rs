//! spamhattan: a spamtrap honeypot. This binary parses the command line, resolves the
//! configuration and wires the crates together: `trap` receives, `store` keeps, and the
//! commands under `cmd/` serve, inspect and import.
//!
//! Layout: `cli.rs` (flags), `config.rs` (file ← env ← flags), `eventlog.rs` (JSON-lines
//! events), `cmd/` (one file per subcommand).

mod cli;
mod cmd;
mod config;
mod eventlog;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging(&cli.log_format);
    match cmd::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // One line, the whole context chain: "cannot open store: data dir ...: Permission denied".
            eprintln!("spamhattan: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(format: &cli::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        cli::LogFormat::Json => builder.json().init(),
        cli::LogFormat::Text => builder.init(),
    }
}
