//! `spamhattan sensor`: the trap with its local spool, forwarding every capture and session
//! record to NATS JetStream (`network/forwarder.rs`). No analysis, alerts or feeds run here:
//! a sensor is light and dumb, the collector does the rest.

use super::serve::{Role, run_as_role};
use crate::config::{Config, SensorSettings};
use crate::network::forwarder::Forwarder;
use anyhow::{Context, Result, bail};
use std::process::ExitCode;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Room a capture's frame needs besides the raw message: its sighting JSON and the header.
pub const FRAME_OVERHEAD: u64 = 64 << 10;

/// A message the trap accepts but the bus cannot carry would stop the forwarder at it (the
/// spool is forwarded in order, and nothing acknowledged may be skipped), so the two limits
/// are checked against each other when the server is reachable at start.
fn check_max_payload(client: &async_nats::Client, cfg: &Config) -> Result<()> {
    let max = client.server_info().max_payload as u64;
    let need = cfg.trap.limits.max_message_bytes + FRAME_OVERHEAD;
    if max > 0 && max < need {
        bail!(
            "the NATS server carries at most {max} bytes per message (max_payload), but the trap accepts messages of {} bytes: raise max_payload in nats-server.conf to at least {need} (contrib/nats/nats-server.conf sets 16 MB) or lower [limits] max_message_bytes",
            cfg.trap.limits.max_message_bytes
        );
    }
    Ok(())
}

/// Segment size of a sensor's spool (`serve` uses [`store::StoreConfig`]'s default).
pub const SENSOR_SEGMENT_BYTES: u64 = 16 << 20;

pub fn run(cfg: &Config) -> Result<ExitCode> {
    let Some(settings) = cfg.sensor.clone() else {
        bail!(
            "spamhattan sensor needs [sensor] id in the config file (A-Z a-z 0-9 _ -, at most 64): it names this sensor on the bus"
        );
    };
    if cfg.store.postgres.is_some() {
        bail!(
            "a sensor's spool is local (SQLite and its journal in the data dir, freed as the bus acknowledges it): [store] postgres_url is for the collector (and serve), remove it here"
        );
    }
    let mut cfg = cfg.clone();
    // Captures wait for the collector's analysis, not for a local one: no jobs, no backlog
    // limit; the spool budget takes its place.
    cfg.analysis.workers = 0;
    cfg.store.analysis_jobs = false;
    cfg.store.max_backlog = u64::MAX;
    cfg.store.max_spool_bytes = Some(settings.max_spool_bytes);
    // A segment is freed only once everything in it was forwarded, and the current one always
    // holds something new: small segments keep a busy sensor's disk use close to its backlog.
    cfg.store.segment_bytes = cfg.store.segment_bytes.min(SENSOR_SEGMENT_BYTES);
    cfg.trap.sensor = Some(settings.tag.clone());
    run_as_role(&cfg, Role::Sensor(settings))
}

/// Connects to the bus (retrying in the background: the sensor must accept mail while the bus
/// is down) and starts the forwarder.
pub(crate) async fn start(
    cfg: &Config,
    settings: &SensorSettings,
    store: &::store::Store,
    stop: watch::Receiver<bool>,
) -> Result<JoinHandle<()>> {
    let name = format!("spamhattan-sensor-{}", settings.tag.id);
    let client = bus::connect(&cfg.bus, &name)
        .await
        .context("cannot set up the bus connection")?;
    check_max_payload(&client, cfg)?;
    let publisher = bus::Publisher::new(client, &cfg.bus, &settings.tag.id)
        .context("cannot set up the publisher")?;
    // Every ack has `request_timeout` from its send; sending a batch takes milliseconds.
    let deadline = cfg.bus.request_timeout() + std::time::Duration::from_secs(2);
    let forwarder = Forwarder::new(store.clone(), publisher, settings.batch, deadline);
    tracing::info!(sensor = %settings.tag.id, url = %cfg.bus.url, "forwarding to the bus");
    Ok(tokio::spawn(forwarder.run(stop)))
}
