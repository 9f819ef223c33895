//! `spamhattan collector`: consumes what the sensors publish on NATS JetStream, stores it
//! (`network/collector.rs`), and runs analysis, campaigns, alerts, feeds and the console as
//! `serve` does, without SMTP listeners. Several collectors share one durable consumer.

use super::serve::{Role, run_as_role};
use crate::config::Config;
use crate::network::collector::Collector;
use anyhow::{Context, Result};
use std::process::ExitCode;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub fn run(cfg: &Config) -> Result<ExitCode> {
    run_as_role(cfg, Role::Collector)
}

/// Connects to the bus, makes sure the streams and the shared consumer exist, and starts
/// consuming. The bus being down at start is an error the operator sees at once; later
/// outages are retried.
pub(crate) async fn start(
    cfg: &Config,
    store: &::store::Store,
    stop: watch::Receiver<bool>,
) -> Result<JoinHandle<()>> {
    let name = format!("spamhattan-collector-{}", cfg.trap.hostname);
    let client = bus::connect(&cfg.bus, &name)
        .await
        .context("cannot set up the bus connection")?;
    let consumer = bus::Consumer::new(client, &cfg.bus, &cfg.collector.consumer)
        .await
        .with_context(|| format!("cannot set up the JetStream consumer on {}", cfg.bus.url))?;
    let collector = Collector::new(store.clone(), consumer, cfg.collector.batch);
    tracing::info!(consumer = %cfg.collector.consumer, url = %cfg.bus.url, "consuming from the bus");
    Ok(tokio::spawn(collector.run(stop)))
}
