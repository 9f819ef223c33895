//! `spamhattan worker` and `spamhattan reanalyze`: the analysis queue outside `serve`.

use crate::config::Config;
use crate::eventlog::EventLog;
use crate::outbox::Outbox;
use crate::worker::{Clustering, Enricher, Outcome, Worker, pool::Pool};
use anyhow::{Context, Result, bail};
use std::process::ExitCode;
use std::sync::Arc;
use trap::EventSink;

pub fn run(cfg: &Config, until_idle: bool) -> Result<ExitCode> {
    let store = super::open_store(cfg)?;
    let rt = runtime()?;
    let events = Arc::new(EventLog::open(&cfg.event_log, &cfg.data_dir)?);
    let wake = Arc::new(tokio::sync::Notify::new());
    let worker = build_worker(cfg, &store, &rt, events.clone(), Arc::clone(&wake))?;
    let outbox = build_outbox(cfg, &store, &rt, events.clone())?;
    let result = if until_idle {
        drain(&worker, &rt).and_then(|n| {
            let clustered = worker.cluster_pending();
            // One delivery pass for what this run raised; what fails stays in the outbox.
            let step = rt.block_on(outbox.try_deliver_due())?;
            eprintln!(
                "spamhattan: analysed {n} messages, clustered {clustered} more; \
                 {} alert deliveries attempted; the queue is empty",
                step.attempted
            );
            Ok(())
        })
    } else {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let runner = rt.spawn(outbox.run(wake, async move {
            let _ = stop_rx.await;
        }));
        let pool = Pool::start(worker, cfg.analysis.workers.max(1), rt.handle().clone());
        let waited = rt.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate())?;
            let mut int = signal(SignalKind::interrupt())?;
            tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
            Ok::<(), std::io::Error>(())
        });
        pool.stop();
        let _ = stop_tx.send(());
        let _ = rt.block_on(runner);
        waited.context("cannot wait for signals")
    };
    events.close();
    store.flush()?;
    result?;
    Ok(ExitCode::SUCCESS)
}

pub fn reanalyze(cfg: &Config, since: Option<&str>, queue_only: bool) -> Result<ExitCode> {
    let since = since.map(parse_since).transpose()?;
    let store = super::open_store(cfg)?;
    let queued = store.requeue(since)?;
    eprintln!("spamhattan: queued {queued} messages for analysis");
    if !queue_only {
        let rt = runtime()?;
        let events = Arc::new(EventLog::open(&cfg.event_log, &cfg.data_dir)?);
        let wake = Arc::new(tokio::sync::Notify::new());
        let worker = build_worker(cfg, &store, &rt, events.clone(), wake)?;
        let n = drain(&worker, &rt)?;
        events.close();
        eprintln!("spamhattan: analysed {n} messages");
    }
    store.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The worker of a resolved config: engine, analyst (sandboxed children unless
/// `[analysis.sandbox] mode = "off"`), enrichers (built inside `rt`), event sink, and
/// clustering with alerts (waking `outbox` when it raised some) unless `[campaigns]` is off.
pub(crate) fn build_worker(
    cfg: &Config,
    store: &store::Store,
    rt: &tokio::runtime::Runtime,
    events: Arc<dyn EventSink>,
    outbox: Arc<tokio::sync::Notify>,
) -> Result<Worker> {
    let engine = Arc::new(super::build_engine(cfg)?);
    let enricher = {
        let _guard = rt.enter();
        Arc::new(Enricher::from_settings(&cfg.analysis)?)
    };
    let analyst = crate::sandbox::start(sandbox_spec(cfg))?;
    let worker = Worker::new(
        store.clone(),
        engine,
        enricher,
        Arc::clone(&events),
        format!("worker-{}", std::process::id()),
    )
    .with_analyst(analyst);
    if !cfg.alerts.clustering {
        return Ok(worker);
    }
    let receivers = cfg
        .alerts
        .webhooks
        .iter()
        .map(|w| (w.name.clone(), w.min_severity))
        .chain(
            cfg.alerts
                .syslogs
                .iter()
                .map(|s| (s.name.clone(), s.min_severity)),
        )
        .collect();
    Ok(worker.with_clustering(Clustering {
        thresholds: analysis::cluster::Thresholds::default(),
        rules: Arc::clone(&cfg.alerts.rules),
        receivers,
        events,
        outbox,
        raised: Default::default(),
    }))
}

/// How analysis children are started for a resolved config: this very binary
/// (`/proc/self/exe`), the `[analysis]` engine and the `[analysis.sandbox]` limits.
fn sandbox_spec(cfg: &Config) -> crate::sandbox::SandboxSpec {
    let s: &crate::config::SandboxSettings = &cfg.analysis.sandbox;
    crate::sandbox::SandboxSpec {
        mode: s.mode,
        memory_limit_mb: s.memory_limit_mb,
        time_limit: s.time_limit,
        program: crate::sandbox::SELF_EXE.into(),
        args: crate::sandbox::SandboxSpec::args_of_self(),
        engine: cfg.analysis.engine.clone(),
    }
}

/// The alert outbox runner of a resolved config.
pub(crate) fn build_outbox(
    cfg: &Config,
    store: &store::Store,
    rt: &tokio::runtime::Runtime,
    events: Arc<dyn EventSink>,
) -> Result<Outbox> {
    let _guard = rt.enter();
    Ok(Outbox::new(store.clone(), cfg.alerts.sinks()?, events))
}

/// Runs steps until the queue is empty; returns the jobs completed.
fn drain(worker: &Worker, rt: &tokio::runtime::Runtime) -> Result<usize> {
    let mut n = 0;
    while let Outcome::Analyzed(k) = worker.try_analyze_next(rt.handle())? {
        n += k;
    }
    Ok(n)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")
}

/// `2026-12-01T00:00:00Z`, or an age: `90m`, `12h`, `7d`.
pub(crate) fn parse_since(s: &str) -> Result<model::Timestamp> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = model::Timestamp::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = num
        .parse()
        .with_context(|| format!("--since: want RFC 3339 or an age like 7d, got {s:?}"))?;
    let age = match unit {
        "m" => time::Duration::minutes(n),
        "h" => time::Duration::hours(n),
        "d" => time::Duration::days(n),
        _ => bail!("--since: unit must be m, h or d, got {s:?}"),
    };
    Ok(model::now() - age)
}
