//! spamhattan: a spamtrap honeypot. This binary parses the command line, resolves the
//! configuration and wires the crates together: `trap` receives, `store` keeps, and the
//! commands under `cmd/` serve, inspect and import.
//!
//! Layout: `cli.rs` (flags), `config/` (file ← env ← flags), `eventlog.rs` (JSON-lines
//! events), `cmd/` (one file per subcommand), `worker/` (analysis pool, clustering step),
//! `outbox.rs` (alert delivery), `intel/` (feed exports and their publication), `metrics/`
//! (Prometheus counters of `serve`), `sandbox/` (the analysis child process and its sandbox).

mod cli;
mod cmd;
mod config;
mod eventlog;
mod intel;
mod metrics;
mod network;
mod outbox;
mod sandbox;
mod worker;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging(&cli.log_format);
    sandbox::set_log_format(matches!(cli.log_format, cli::LogFormat::Json));
    match cmd::run(cli) {
        Ok(code) => code,
        // `spamhattan messages list | head` closes the pipe early: that is the reader's choice,
        // not an error worth a message.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, the whole context chain: "cannot open store: data dir ...: Permission denied".
            eprintln!("spamhattan: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(format: &cli::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // Parsers of hostile documents (lopdf) log every oddity they meet; the report already
        // records malformed content as anomalies, so their chatter stays out of the log.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,lopdf=error"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        cli::LogFormat::Json => builder.json().init(),
        cli::LogFormat::Text => builder.init(),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}
