//! What the scratch-store benchmarks (`campaigns bench`, `feeds-bench-fill`) share: a
//! synthetic SMTP sighting, and capturing a batch then saving its reports the way the worker
//! does (capture tickets first, one report transaction after).

use anyhow::Result;
use model::{Envelope, MessageId, Report, Sighting, SightingSource, Timings};
use store::{ReportSave, Store};

/// A sighting of `raw` as if it arrived over SMTP from `peer` now.
pub fn sighting(raw: &[u8], peer: &str) -> Sighting {
    Sighting {
        id: uuid::Uuid::now_v7(),
        message_id: MessageId::of(raw),
        received_at: model::now(),
        source: SightingSource::Smtp,
        size: raw.len() as u64,
        session_id: uuid::Uuid::now_v7(),
        listener: "smtp".into(),
        peer: peer.into(),
        local: "127.0.0.1:2525".into(),
        helo: Some("bench.example".into()),
        tls: None,
        envelope: Envelope::default(),
        anomalies: vec![],
        timings: Timings::default(),
        queue_id: String::new(),
        sensor: None,
    }
}

/// Captures every message (all in flight at once, as concurrent sessions would), waits until
/// each is durable, then saves their reports in one transaction.
pub fn capture_and_save(store: &Store, messages: Vec<(Vec<u8>, Sighting, Report)>) -> Result<()> {
    let mut items = Vec::with_capacity(messages.len());
    for (raw, sighting, report) in messages {
        let ticket = store.capture(raw, sighting.clone());
        items.push((ticket, sighting, report));
    }
    let mut saved = Vec::with_capacity(items.len());
    for (ticket, sighting, report) in items {
        ticket.wait()?;
        saved.push((sighting, report));
    }
    let batch: Vec<ReportSave<'_>> = saved
        .iter()
        .map(|(s, r)| ReportSave {
            job: None,
            sighting: s,
            report: r,
        })
        .collect();
    store.save_reports(&batch)?;
    Ok(())
}
