//! `spamhattan serve`: bind every socket, give up root (`privileges.rs`), open the store,
//! start the trap, announce readiness, run until SIGTERM/SIGINT, then drain.
//!
//! `sensor` and `collector` run the same code in another [`Role`]: the sensor without
//! analysis, alerts, feeds, with the forwarder (`network/forwarder.rs`); the collector without
//! SMTP listeners, with the bus consumer (`network/collector.rs`).

mod privileges;

use crate::config::{self, Config};
use crate::eventlog::EventLog;
use crate::worker::pool::Pool;
use anyhow::{Context, Result};
use model::{Event, EventKind};
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use trap::{EventSink, Trap};

/// How long requests in flight (a large feed download) may finish at shutdown.
const HTTP_DRAIN: Duration = Duration::from_secs(5);

/// How long the bus task may finish its batch at shutdown.
const NETWORK_DRAIN: Duration = Duration::from_secs(10);

/// How often the retention budgets are applied while serving.
const RETENTION_EVERY: Duration = Duration::from_secs(60);

/// Every listening socket of `serve`, bound before root is given up and before any thread or
/// runtime exists.
struct Sockets {
    /// `None` for the collector, which has no SMTP listener.
    smtp: Option<trap::BoundListeners>,
    http: Option<std::net::TcpListener>,
    bait: Option<std::net::TcpListener>,
}

impl Sockets {
    fn bind(cfg: &Config, role: &Role) -> Result<Sockets> {
        let smtp = match role {
            Role::Collector => None,
            Role::Single | Role::Sensor(_) => Some(Trap::bind_listeners(&cfg.trap)?),
        };
        let http = match cfg.feeds.http_listen {
            Some(addr) => Some(
                bind_tcp(addr).with_context(|| format!("cannot bind the HTTP listener {addr}"))?,
            ),
            None => None,
        };
        let bait = super::serve_bait::bind(cfg)?;
        Ok(Sockets { smtp, http, bait })
    }
}

/// Binds a plain TCP listener (`SO_REUSEADDR`, as tokio's `bind` does), non-blocking so tokio
/// can take it over once the runtime runs.
pub(crate) fn bind_tcp(addr: std::net::SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// What this process is in the sensor network.
#[derive(Debug, Clone)]
pub enum Role {
    /// `serve`: trap, store, analysis, console on one node.
    Single,
    /// `sensor`: trap and spool, forwarding to the bus.
    Sensor(config::SensorSettings),
    /// `collector`: bus consumer, store, analysis, console.
    Collector,
}

impl Role {
    fn name(&self) -> &'static str {
        match self {
            Role::Single => "serve",
            Role::Sensor(_) => "sensor",
            Role::Collector => "collector",
        }
    }
}

pub fn run(cfg: &Config) -> Result<ExitCode> {
    run_as_role(cfg, Role::Single)
}

pub fn run_as_role(cfg: &Config, role: Role) -> Result<ExitCode> {
    // Whom to become is settled first: an unknown user stops `serve` before it binds.
    let plan = privileges::plan(cfg.run_as.as_ref())?;
    config::prepare_data_dir(&cfg.data_dir)?;
    raise_fd_limit();
    let sockets = Sockets::bind(cfg, &role)?;
    match &plan {
        privileges::Plan::Drop(account) => {
            privileges::hand_over_data_dir(&cfg.data_dir, account)?;
            privileges::drop_to(account)?;
        }
        privileges::Plan::Stay => privileges::shed_capabilities()?,
    }
    let store = super::open_store(cfg).map_err(|e| match &plan {
        privileges::Plan::Drop(a) => e.context(format!(
            "running as {}: every parent of the data dir must be searchable by that user, and the data dir and everything in it must belong to it (once: chown -R {}: {})",
            a.user,
            a.user,
            cfg.data_dir.display()
        )),
        privileges::Plan::Stay => e,
    })?;
    let events = Arc::new(EventLog::open(&cfg.event_log, &cfg.data_dir)?);
    // Every event passes the metrics counters on its way to the log (`metrics/sink.rs`).
    let metrics = crate::metrics::Metrics::install(Some(Arc::clone(&events)))?;
    let sink: Arc<dyn EventSink> = Arc::new(crate::metrics::CountingSink::new(events.clone()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    // The analysis pool starts before the listeners: a bad rule file stops `serve` before the
    // ready line, and a backlog left by the last run is worked off at once.
    let wake = Arc::new(tokio::sync::Notify::new());
    let outbox = match role {
        Role::Sensor(_) => None,
        Role::Single | Role::Collector => Some(super::worker::build_outbox(
            cfg,
            &store,
            &runtime,
            Arc::clone(&sink),
        )?),
    };
    let pool = if cfg.analysis.workers > 0 && !matches!(role, Role::Sensor(_)) {
        let worker = super::worker::build_worker(
            cfg,
            &store,
            &runtime,
            Arc::clone(&sink),
            Arc::clone(&wake),
        )?;
        Some(Pool::start(
            worker,
            cfg.analysis.workers,
            runtime.handle().clone(),
        ))
    } else {
        None
    };
    // Alerts are delivered whether or not this process analyses: a `worker` next to it may
    // raise them.
    let (stop_outbox, outbox_stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = outbox.map(|outbox| {
        runtime.spawn(outbox.run(wake, async move {
            let _ = outbox_stopped.await;
        }))
    });
    let result = runtime.block_on(serve(cfg, &role, sockets, store.clone(), sink, metrics));
    if let Some(pool) = pool {
        pool.stop();
    }
    let _ = stop_outbox.send(());
    if let Some(runner) = runner {
        let _ = runtime.block_on(runner);
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    let flushed = store.flush();
    events.close();
    result?;
    // Everything acknowledged was durable before its 250; what a failed final flush loses was
    // never acknowledged (queued session records, refused captures). Worth a warning, not a
    // failed stop.
    if let Err(e) = flushed {
        tracing::warn!(error = %e, "store flush at shutdown failed");
    }
    if events.dropped() > 0 {
        tracing::warn!(
            dropped = events.dropped(),
            "event log could not keep up; events were dropped"
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn serve(
    cfg: &Config,
    role: &Role,
    sockets: Sockets,
    store: store::Store,
    sink: Arc<dyn EventSink>,
    metrics: Arc<crate::metrics::Metrics>,
) -> Result<()> {
    // Signal handlers first: a SIGTERM that arrives right after the ready line must stop the
    // trap gracefully, not kill it with the default action.
    let shutdown = shutdown_signal()?;
    let trap = match sockets.smtp {
        Some(smtp) => {
            Some(Trap::from_listeners(&cfg.trap, smtp, store.clone(), Arc::clone(&sink)).await?)
        }
        None => None,
    };
    let listeners: Vec<_> = trap
        .iter()
        .flat_map(Trap::local_addrs)
        .map(|l| serde_json::json!({"name": l.name, "address": l.address.to_string(), "tls": l.tls.as_str()}))
        .collect();
    // The sensor network's own task: the forwarder (sensor) or the bus consumer (collector).
    let (stop_network, network_stopped) = tokio::sync::watch::channel(false);
    let network = match role {
        Role::Single => None,
        Role::Sensor(s) => Some(super::sensor::start(cfg, s, &store, network_stopped).await?),
        Role::Collector => Some(super::collector::start(cfg, &store, network_stopped).await?),
    };
    let feeds = Arc::new(crate::intel::Feeds::prepare(cfg, &store)?);
    let (stop_feeds, feeds_stopped) = tokio::sync::watch::channel(false);
    let publishes = !matches!(role, Role::Sensor(_));
    let scheduler = cfg.feeds.refresh.filter(|_| publishes).map(|every| {
        tokio::spawn(crate::intel::run_scheduler(
            store.clone(),
            Arc::clone(&feeds),
            every,
            feeds_stopped.clone(),
        ))
    });
    // Submission connectors (opt-in: none runs unless configured), stopped with the feeds.
    let submitter = (publishes && !cfg.feeds.connectors.is_empty()).then(|| {
        tokio::spawn(crate::intel::run_connectors(
            store.clone(),
            Arc::clone(&feeds),
            feeds_stopped.clone(),
        ))
    });
    let http = match sockets.http {
        Some(listener) => {
            let tls = super::accounts::console_tls(cfg)?;
            let listener = tokio::net::TcpListener::from_std(listener)
                .context("cannot register the HTTP listener")?;
            let local = listener.local_addr()?;
            let shared_store = Arc::new(store.clone());
            let service = Arc::new(web::FeedService::new(
                Arc::clone(&shared_store),
                (*feeds.policy).clone(),
                feeds.producer.clone(),
                cfg.feeds.audiences.clone(),
                Some(cfg.feeds.publish_dir.clone()),
            ));
            let mut settings = super::accounts::console_settings(cfg);
            settings.trap_domains = cfg.trap.domains.clone();
            settings.metrics_token = cfg
                .feeds
                .metrics_token
                .as_deref()
                .map(web::principal::digest);
            let operations: Arc<dyn web::Operations> = metrics.clone();
            let console = Arc::new(
                web::Console::new(shared_store, settings)
                    .with_feeds(service)
                    .with_operations(operations),
            );
            super::accounts::announce_first_user(&store);
            let mut stopped = feeds_stopped.clone();
            let stop = async move {
                let _ = stopped.changed().await;
            };
            let router = web::app(console);
            let task = match tls {
                Some(tls) => tokio::spawn(web::serve_tls(listener, tls, router, stop)),
                None => tokio::spawn(web::serve(listener, router, stop)),
            };
            Some((local, task))
        }
        None => None,
    };
    // The public bait pages (`[bait] listen`), stopped with the console.
    let bait = {
        let mut stopped = feeds_stopped.clone();
        let stop = async move {
            let _ = stopped.changed().await;
        };
        super::serve_bait::start(cfg, sockets.bait, &store, Arc::clone(&sink), stop).await?
    };
    let mut ready = serde_json::json!({"ready": true, "role": role.name(), "listeners": listeners});
    if let Role::Sensor(s) = role {
        ready["sensor"] = serde_json::Value::String(s.tag.id.clone());
    }
    if let Some((addr, _)) = &http {
        ready["http"] = serde_json::Value::String(addr.to_string());
    }
    if let Some((addr, _)) = &bait {
        ready["bait"] = serde_json::Value::String(addr.to_string());
    }
    // Ready for /readyz before the ready line: a script that reads the line and asks /readyz
    // at once must not see "starting".
    metrics.set_ready(None);
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{ready}")?;
        out.flush()?;
    }
    tracing::info!(role = role.name(), listeners = %serde_json::Value::Array(listeners), data_dir = %cfg.data_dir.display(), "ready");
    let upkeep = tokio::spawn(Arc::clone(&metrics).run_upkeep());
    let inflight = trap
        .as_ref()
        .map(|t| tokio::spawn(inflight_gauge(t.inflight_gauge())));
    let retention = tokio::spawn(retention_loop(store, sink));
    match trap {
        Some(trap) => trap.run(shutdown).await,
        None => shutdown.await,
    }
    metrics.set_ready(Some("shutting down"));
    // The forwarder finishes its batch (marks only what the bus took); the consumer finishes
    // its batch (stored, then acknowledged). Either way nothing acknowledged is lost.
    let _ = stop_network.send(true);
    if let Some(task) = network {
        match tokio::time::timeout(NETWORK_DRAIN, task).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "bus task failed"),
            Err(_) => tracing::warn!("bus task still busy at shutdown was cut"),
        }
    }
    retention.abort();
    upkeep.abort();
    if let Some(inflight) = inflight {
        inflight.abort();
    }
    let _ = stop_feeds.send(true);
    if let Some((_, task)) = http {
        // Graceful: requests in flight finish; new connections are refused.
        match tokio::time::timeout(HTTP_DRAIN, task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "HTTP server stopped with an error"),
            Ok(Err(e)) => tracing::warn!(error = %e, "HTTP server task failed"),
            Err(_) => tracing::warn!("HTTP requests still running at shutdown were cut"),
        }
    }
    if let Some((_, task)) = bait {
        match tokio::time::timeout(HTTP_DRAIN, task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "bait listener stopped with an error"),
            Ok(Err(e)) => tracing::warn!(error = %e, "bait listener task failed"),
            Err(_) => tracing::warn!("bait requests still running at shutdown were cut"),
        }
    }
    if let Some(s) = submitter {
        // Not awaited: a pass stops at its next request boundary; the cursor only moves after
        // an accepted batch, so a pass cut short is sent again by the next run.
        s.abort();
    }
    if let Some(s) = scheduler {
        // Not awaited: a publication in progress may take minutes on a large store. Files are
        // replaced by rename, so one cut short leaves only its temporary file behind.
        s.abort();
    }
    tracing::info!("trap stopped");
    Ok(())
}

/// How often `spamhattan_smtp_inflight_bytes` is refreshed from the trap's budget.
const INFLIGHT_EVERY: Duration = Duration::from_secs(1);

/// Keeps the in-flight gauge current (the trap crate has no metrics dependency).
async fn inflight_gauge(budget: trap::InflightGauge) {
    let mut every = tokio::time::interval(INFLIGHT_EVERY);
    loop {
        every.tick().await;
        ::metrics::gauge!(crate::metrics::names::SMTP_INFLIGHT).set(budget.stats().used as f64);
    }
}

/// Applies the retention budgets periodically, off the async threads.
async fn retention_loop(store: store::Store, events: Arc<dyn EventSink>) {
    let mut every = tokio::time::interval(RETENTION_EVERY);
    loop {
        every.tick().await;
        let s = store.clone();
        match tokio::task::spawn_blocking(move || s.enforce_retention()).await {
            Ok(Ok(report)) if report.purged_blobs > 0 => {
                events.emit(Event::new(EventKind::StoreRetention, None).fields_of(&report));
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "retention failed"),
            Err(e) => tracing::warn!(error = %e, "retention task failed"),
        }
    }
}

/// Installs the SIGTERM and SIGINT handlers now and returns a future that resolves on either.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        tracing::info!("shutdown requested");
    })
}

/// Raises the soft open-files limit to the hard limit: ten thousand idle spam connections need
/// ten thousand descriptors, and the usual soft default is 1024.
#[allow(unsafe_code)]
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed by pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
