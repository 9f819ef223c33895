//! Prometheus metrics of `serve`: one recorder for the process (the `metrics` facade with
//! `metrics-exporter-prometheus` as renderer, without its own listener), served at `/metrics`
//! by the web crate through [`web::Operations`], which [`Metrics`] implements.
//!
//! Where the figures come from:
//! - events: the trap, the analysis pool and the outbox already announce what happens as
//!   `model::Event`s; [`CountingSink`] sits in front of the event log and counts them (SMTP
//!   sessions, messages, bytes, refusals, anomalies, TLS, verdicts, campaigns, alerts). The
//!   `trap`, `store` and `analysis` crates stay free of any metrics dependency.
//! - two hooks where no event says enough: [`report_saved`] (capture to saved report, called
//!   by `worker/mod.rs`) and [`feeds_published`]/[`feeds_failed`] (`intel/publish.rs`).
//! - the store's gauges (queue depth, spool, disk, pressure) are read by the web crate from
//!   the store at scrape time (`web::ops`).
//!
//! Names and help texts are in `names.rs`; label values come from fixed sets (`labels.rs`).
//! Without an installed recorder (every command but `serve`, and tests) the hooks cost a
//! branch and record nothing.

mod labels;
pub mod names;
mod sink;

pub use sink::CountingSink;

use crate::eventlog::EventLog;
use ::metrics::{counter, gauge, histogram};
use anyhow::{Context, Result};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use names::{Def, Kind};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often histogram samples are folded into their buckets between scrapes. Rendering folds
/// them too; this only bounds the memory samples take when nobody scrapes for a while.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's recorder, readiness and the event log whose drops it reports.
#[derive(Debug)]
pub struct Metrics {
    handle: PrometheusHandle,
    events: Option<Arc<EventLog>>,
    /// `None` when ready; else why not (starting, shutting down).
    not_ready: Mutex<Option<String>>,
}

/// The recorder with our histogram buckets (everything else is rendered as the exporter does).
pub fn recorder() -> Result<PrometheusRecorder> {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(names::ANALYSIS_LATENCY.into()),
            names::LATENCY_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full(names::ANALYSIS_ENGINE.into()),
            names::ENGINE_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full(names::FEED_DURATION.into()),
            names::FEED_BUCKETS,
        )?;
    Ok(builder.build_recorder())
}

impl Metrics {
    /// Installs the process-wide recorder (once per process) and describes every metric.
    /// Not ready until [`Metrics::set_ready`].
    pub fn install(events: Option<Arc<EventLog>>) -> Result<Arc<Metrics>> {
        let recorder = recorder()?;
        let handle = recorder.handle();
        ::metrics::set_global_recorder(recorder)
            .context("a metrics recorder is already installed")?;
        describe_all();
        Ok(Arc::new(Metrics {
            handle,
            events,
            not_ready: Mutex::new(Some("starting".into())),
        }))
    }

    /// Ready (`None`) or not, and why.
    pub fn set_ready(&self, not_ready: Option<&str>) {
        if let Ok(mut n) = self.not_ready.lock() {
            *n = not_ready.map(str::to_owned);
        }
    }

    /// Folds histogram samples every [`UPKEEP_EVERY`], forever (abort the task to stop).
    pub async fn run_upkeep(self: Arc<Self>) {
        let mut every = tokio::time::interval(UPKEEP_EVERY);
        loop {
            every.tick().await;
            self.handle.run_upkeep();
        }
    }
}

impl web::Operations for Metrics {
    fn render_metrics(&self) -> String {
        if let Some(events) = &self.events {
            counter!(names::EVENTS_DROPPED).absolute(events.dropped());
        }
        self.handle.render()
    }

    fn ready(&self) -> Result<(), String> {
        match self.not_ready.lock() {
            Ok(n) => n.clone().map_or(Ok(()), Err),
            Err(_) => Err("readiness state poisoned".into()),
        }
    }
}

/// Describes every metric in the current recorder, and sets the series known in advance to
/// zero, so a dashboard sees `0` (not "no data") before the first spam arrives.
pub fn describe_all() {
    for d in names::ALL {
        describe(d);
    }
    for name in [
        names::SMTP_SESSIONS,
        names::SMTP_MESSAGES,
        names::SMTP_MESSAGE_BYTES,
        names::SMTP_DUPLICATES,
        names::SMTP_RECIPIENTS,
        names::SMTP_AUTH,
        names::CLUSTERED,
        names::CAMPAIGNS_CREATED,
        names::CAMPAIGNS_MERGED,
        names::RETENTION_FREED,
        names::EVENTS_DROPPED,
    ] {
        counter!(name).absolute(0);
    }
    for (stage, reason) in labels::REFUSALS {
        counter!(names::SMTP_REFUSALS, "stage" => *stage, "reason" => *reason).absolute(0);
    }
    for outcome in ["ok", "failed"] {
        counter!(names::SMTP_TLS, "outcome" => outcome).absolute(0);
        counter!(names::FEED_PUBLICATIONS, "outcome" => outcome).absolute(0);
    }
    for outcome in ["delivered", "retry", "failed"] {
        counter!(names::ALERT_DELIVERIES, "outcome" => outcome).absolute(0);
    }
    for v in model::VerdictClass::ALL {
        counter!(names::ANALYZED, "verdict" => v.as_str()).absolute(0);
    }
    for s in model::Severity::ALL {
        counter!(names::ALERTS_RAISED, "severity" => s.as_str()).absolute(0);
    }
    gauge!(names::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    let started = model::now().unix_timestamp_nanos() as f64 / 1e9;
    gauge!(names::START_TIME).set(started);
}

fn describe(d: &Def) {
    match d.kind {
        Kind::Counter => ::metrics::describe_counter!(d.name, d.help),
        Kind::Gauge => ::metrics::describe_gauge!(d.name, d.help),
        Kind::Histogram => ::metrics::describe_histogram!(d.name, d.help),
    }
}

/// Hook of the analysis pool's saver: a report of a message captured at `received_at` is
/// saved now. A message queued again by `reanalyze` counts from its original capture.
pub fn report_saved(received_at: model::Timestamp) {
    let waited = (model::now() - received_at).as_seconds_f64().max(0.0);
    histogram!(names::ANALYSIS_LATENCY).record(waited);
}

/// Hook of the feed scheduler: a publication replaced the files of `formats` (one entry per
/// audience and format) in `took`.
pub fn feeds_published(formats: impl IntoIterator<Item = feeds::intel::Format>, took: Duration) {
    counter!(names::FEED_PUBLICATIONS, "outcome" => "ok").increment(1);
    for f in formats {
        counter!(names::FEED_FILES, "format" => f.as_str()).increment(1);
    }
    let now = model::now().unix_timestamp_nanos() as f64 / 1e9;
    gauge!(names::FEED_LAST_SUCCESS).set(now);
    histogram!(names::FEED_DURATION).record(took.as_secs_f64());
}

/// Hook of the feed scheduler: a publication failed after `took`.
pub fn feeds_failed(took: Duration) {
    counter!(names::FEED_PUBLICATIONS, "outcome" => "failed").increment(1);
    histogram!(names::FEED_DURATION).record(took.as_secs_f64());
}

#[cfg(test)]
mod tests;
