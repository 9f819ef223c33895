//! `spamhattan submit`: one pass of one submission connector, sent or (`--dry-run`) printed.

use crate::cli::SubmitArgs;
use crate::config::Config;
use crate::intel::{CLI_ATTEMPTS, Connector, Delivery, Feeds, pass};
use anyhow::{Context, Result};
use std::process::ExitCode;

pub fn run(cfg: &Config, args: &SubmitArgs) -> Result<ExitCode> {
    if !cfg
        .feeds
        .connectors
        .iter()
        .any(|c| c.name == args.connector)
    {
        let names: Vec<&str> = cfg
            .feeds
            .connectors
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        eprintln!(
            "spamhattan: no connector {:?} (configured: {})",
            args.connector,
            if names.is_empty() {
                "none; add a [[feeds.connector]] section".to_owned()
            } else {
                names.join(", ")
            }
        );
        return Ok(ExitCode::from(2));
    }
    let store = super::open_store(cfg)?;
    let feeds = Feeds::prepare(cfg, &store)?;
    let connector = Connector::named(&feeds, &args.connector)?;
    // Multi-threaded (one worker): the pass reads the store between requests, and a
    // PostgreSQL store may block only where tokio allows it (`block_in_place`).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let mut stdout = std::io::stdout();
    let delivery = if args.dry_run {
        Delivery::DryRun(&mut stdout)
    } else {
        Delivery::Send {
            attempts: CLI_ATTEMPTS,
        }
    };
    let stats = runtime.block_on(pass(&store, &feeds, &connector, args.limit, delivery))?;
    eprintln!(
        "spamhattan: {} {}: {} requests, {} items, {} accepted, {} already known, {} refused, {} files not at hand",
        if args.dry_run {
            "would submit to"
        } else {
            "submitted to"
        },
        args.connector,
        stats.requests,
        stats.items,
        stats.accepted,
        stats.duplicates,
        stats.rejected,
        stats.files_missing
    );
    store.close()?;
    Ok(ExitCode::SUCCESS)
}
