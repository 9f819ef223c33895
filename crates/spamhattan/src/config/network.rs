//! `[sensor]`, `[collector]` and `[bus]`: the sensor network (issue 7).
//!
//! One binary, three roles: `serve` (single node), `sensor` (the trap and its spool, forwarding
//! to NATS JetStream) and `collector` (consumes, stores, analyses, serves the console). The
//! sections are read by every role and used only by the one they name, so a single config
//! file can be checked on either side.

use anyhow::{Result, bail};
use model::SensorTag;
use serde::{Deserialize, Serialize};

/// Unforwarded bytes a sensor keeps while the bus is unreachable before MAIL gets `452`.
pub const DEFAULT_MAX_SPOOL_BYTES: u64 = 8 << 30;
/// Messages per publish batch (sensor) and per fetch (collector).
pub const DEFAULT_BATCH: usize = 256;
/// Largest batch: one batch's raw bytes are held in memory at once.
pub const MAX_BATCH: usize = 4096;
/// The durable consumer every collector shares (work-queue: each message goes to one of them).
pub const DEFAULT_CONSUMER: &str = "collector";

/// `[sensor]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorFile {
    /// Unique per sensor; also its NATS subject token (see `model::SensorTag`).
    pub id: Option<String>,
    pub sector: Option<String>,
    pub location: Option<String>,
    pub max_spool_bytes: Option<u64>,
    pub batch: Option<usize>,
}

/// `[collector]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorFile {
    pub consumer: Option<String>,
    pub batch: Option<usize>,
}

/// The resolved `[sensor]` section; `None` in [`super::Config`] without a sensor id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensorSettings {
    pub tag: SensorTag,
    pub max_spool_bytes: u64,
    pub batch: usize,
}

/// The resolved `[collector]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorSettings {
    pub consumer: String,
    pub batch: usize,
}

fn batch(section: &str, n: Option<usize>) -> Result<usize> {
    match n.unwrap_or(DEFAULT_BATCH) {
        n @ 1..=MAX_BATCH => Ok(n),
        n => bail!("{section}.batch must be 1 to {MAX_BATCH}, got {n}"),
    }
}

pub(super) fn sensor(f: Option<&SensorFile>) -> Result<Option<SensorSettings>> {
    let Some(f) = f else { return Ok(None) };
    let Some(id) = &f.id else {
        if f.sector.is_some() || f.location.is_some() {
            bail!("[sensor] needs an id (A-Z a-z 0-9 _ -, at most 64)");
        }
        return Ok(None);
    };
    let tag = SensorTag {
        id: id.clone(),
        sector: f.sector.clone().unwrap_or_default(),
        location: f.location.clone().unwrap_or_default(),
    };
    if let Err(e) = tag.validate() {
        bail!("[sensor]: {e}, got id {id:?}");
    }
    let max_spool_bytes = f.max_spool_bytes.unwrap_or(DEFAULT_MAX_SPOOL_BYTES);
    // Checked before MAIL, not per message: a spool under budget still takes one more message
    // of any size, so a small budget is legal (and how the tests fill it).
    if max_spool_bytes == 0 {
        bail!("sensor.max_spool_bytes must be above 0");
    }
    Ok(Some(SensorSettings {
        tag,
        max_spool_bytes,
        batch: batch("sensor", f.batch)?,
    }))
}

pub(super) fn collector(f: Option<&CollectorFile>) -> Result<CollectorSettings> {
    let f = f.cloned().unwrap_or_default();
    let consumer = f.consumer.unwrap_or_else(|| DEFAULT_CONSUMER.into());
    if !model::valid_sensor_id(&consumer) {
        bail!("collector.consumer must be 1 to 64 characters of A-Z a-z 0-9 _ -, got {consumer:?}");
    }
    Ok(CollectorSettings {
        consumer,
        batch: batch("collector", f.batch)?,
    })
}
