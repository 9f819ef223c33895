//! The worker pool of `serve` and `worker`: analysis threads (CPU), an enrichment stage (async,
//! many messages in flight, so a slow resolver never idles a core) and one saver thread that
//! commits reports in batches.
//!
//! ```text
//! N analysis threads --(bounded)--> enrichment tasks on the runtime --(bounded)--> saver thread
//!   claim + analyze                   auth + clamd + rescore                    save_reports
//!                                                                                   | wake
//!                                                                          clustering thread
//! ```
//! Clustering has a thread of its own so that a save and a clustering step overlap: on
//! PostgreSQL each is a chain of round trips, and in one thread they took turns.
//! Analysed messages travel as the batch they were claimed in: one channel send and one
//! wake-up per batch, not per message. Without enrichers (no authentication, no ClamAV) the
//! batches go straight from the analysis threads to the saver.
//! Bounded channels carry backpressure back to the claims; leases bring back whatever a crash
//! leaves in flight. With the sandbox on, each analysis thread drives its own analysis child
//! (the thread's clone of the worker has its own `Analyst`), started when the thread starts.

use super::{Analyzed, Worker};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long an idle analysis thread waits before looking at the queue again. New captures
/// are analysed within this delay; an idle trap costs a few cheap queries a second.
pub const IDLE_POLL: Duration = Duration::from_millis(200);

/// Messages being enriched at once (each waits on DNS or clamd, not on a core).
pub const MAX_IN_FLIGHT: usize = 256;

/// Batches (of up to [`super::BATCH`] messages) queued between the stages.
const QUEUED_BATCHES: usize = MAX_IN_FLIGHT / super::BATCH;

/// How long the saver waits for reports before clustering what other processes saved.
const CLUSTER_IDLE: Duration = Duration::from_secs(1);

/// Reports committed per transaction: the saver joins the batches that wait until it holds
/// this many, so a commit has at most this plus one claimed batch ([`super::BATCH`]).
const SAVE_BATCH: usize = 256;

/// Claims' worth of jobs per analysis thread that the store's writer may hand over in memory.
/// More means fewer claims when analysis lags behind storing (every job handed is one a claim
/// does not have to find), and more jobs waiting for their lease to end after a crash.
const HANDOFF_BATCHES: usize = 8;

/// Raw bytes handed over and not yet taken, at most: 8 claims of 4 KiB spam per thread take
/// about 2 MiB; large messages stop the handoff sooner and go through claims.
const HANDOFF_BYTES: usize = 64 << 20;

/// A running pool; [`Pool::stop`] finishes what is in flight and joins the threads.
#[derive(Debug)]
pub struct Pool {
    stop: Arc<AtomicBool>,
    analysts: Vec<JoinHandle<()>>,
    saver: Option<JoinHandle<()>>,
    clusterer: Option<JoinHandle<()>>,
    store: store::Store,
}

impl Pool {
    /// Starts `threads` analysis threads for `worker`, enriching on `rt`.
    pub fn start(worker: Worker, threads: usize, rt: tokio::runtime::Handle) -> Pool {
        let stop = Arc::new(AtomicBool::new(false));
        // On PostgreSQL the store's writer hands what it commits to these threads
        // (`store::handoff`), while fewer than HANDOFF_BATCHES claims' worth per thread and
        // HANDOFF_BYTES wait.
        let handoff = format!("{}-handoff", worker.name);
        worker.store.enable_handoff(
            &handoff,
            super::LEASE,
            threads.max(1) * super::BATCH * HANDOFF_BATCHES,
            HANDOFF_BYTES,
        );
        let (to_save, save_rx) = std::sync::mpsc::sync_channel::<Vec<Analyzed>>(QUEUED_BATCHES);
        let next = if worker.enricher.is_empty() {
            Next::Save(to_save)
        } else {
            Next::Enrich(spawn_enrichment(&worker, to_save, &rt))
        };
        let mut analysts = Vec::new();
        for n in 0..threads.max(1) {
            let w = Worker {
                name: format!("{}-{n}", worker.name),
                ..worker.clone()
            };
            let next = next.clone();
            let stop = Arc::clone(&stop);
            let spawned = std::thread::Builder::new()
                .name(format!("analysis-{n}"))
                .spawn(move || analyse_loop(&w, &next, &stop));
            match spawned {
                Ok(h) => analysts.push(h),
                Err(e) => tracing::error!(error = %e, "cannot start an analysis thread"),
            }
        }
        drop(next);
        // One pending wake-up is enough: a step clusters everything saved before it starts.
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let saver_worker = worker.clone();
        let saver = std::thread::Builder::new()
            .name("analysis-saver".into())
            .spawn(move || save_loop(&saver_worker, &save_rx, &wake))
            .map_err(|e| tracing::error!(error = %e, "cannot start the report saver"))
            .ok();
        let worker_store = worker.store.clone();
        let clusterer = std::thread::Builder::new()
            .name("clustering".into())
            .spawn(move || cluster_loop(&worker, &woken))
            .map_err(|e| tracing::error!(error = %e, "cannot start the clustering thread"))
            .ok();
        Pool {
            stop,
            analysts,
            saver,
            clusterer,
            store: worker_store,
        }
    }

    /// Stops claiming, lets claimed messages finish and be saved, and joins every thread.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for h in self.analysts.drain(..) {
            let _ = h.join();
        }
        // Handed jobs no thread will take now go back to the queue at once, not after their
        // lease.
        match self.store.close_handoff() {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "handed analysis jobs given back to the queue"),
            Err(e) => {
                tracing::warn!(error = %e, "cannot give handed analysis jobs back; they come back when their lease ends")
            }
        }
        if let Some(h) = self.saver.take() {
            let _ = h.join();
        }
        // The saver is gone, so is its wake sender: the clusterer drains and returns.
        if let Some(h) = self.clusterer.take() {
            let _ = h.join();
        }
    }
}

/// Where an analysis thread sends what it analysed.
#[derive(Clone)]
enum Next {
    Enrich(tokio::sync::mpsc::Sender<Vec<Analyzed>>),
    Save(std::sync::mpsc::SyncSender<Vec<Analyzed>>),
}

impl Next {
    /// Blocks while the next stage is full; false when it is gone.
    fn send(&self, batch: Vec<Analyzed>) -> bool {
        match self {
            Next::Enrich(tx) => tx.blocking_send(batch).is_ok(),
            Next::Save(tx) => tx.send(batch).is_ok(),
        }
    }
}

/// The enrichment stage: each batch is enriched concurrently on the runtime (up to
/// [`MAX_IN_FLIGHT`] messages at once, whatever the batches), then goes to the saver.
fn spawn_enrichment(
    worker: &Worker,
    to_save: std::sync::mpsc::SyncSender<Vec<Analyzed>>,
    rt: &tokio::runtime::Handle,
) -> tokio::sync::mpsc::Sender<Vec<Analyzed>> {
    let (to_enrich, mut enrich_rx) = tokio::sync::mpsc::channel::<Vec<Analyzed>>(QUEUED_BATCHES);
    let enricher = Arc::clone(&worker.enricher);
    let engine = Arc::clone(&worker.engine);
    rt.spawn(async move {
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
        let mut tasks = tokio::task::JoinSet::new();
        while let Some(mut batch) = enrich_rx.recv().await {
            // A batch holds at most BATCH (< MAX_IN_FLIGHT) messages.
            let n = u32::try_from(batch.len().clamp(1, MAX_IN_FLIGHT)).unwrap_or(1);
            let Ok(permits) = Arc::clone(&slots).acquire_many_owned(n).await else {
                break;
            };
            let (enricher, engine, to_save) =
                (Arc::clone(&enricher), Arc::clone(&engine), to_save.clone());
            tasks.spawn(async move {
                enricher.enrich_all(&engine, &mut batch).await;
                drop(permits);
                // The saver thread may block briefly on a commit: wait for it off the
                // runtime, and only when its queue is full.
                if let Err(std::sync::mpsc::TrySendError::Full(batch)) = to_save.try_send(batch) {
                    let _ = tokio::task::spawn_blocking(move || to_save.send(batch).is_ok()).await;
                }
            });
            while tasks.try_join_next().is_some() {}
        }
        while tasks.join_next().await.is_some() {}
    });
    to_enrich
}

fn analyse_loop(w: &Worker, next: &Next, stop: &AtomicBool) {
    // This thread's analysis child (when sandboxed) is started now: its engine is built
    // before mail arrives. A failure is retried at the first message.
    if let Err(e) = w.warm_up() {
        tracing::warn!(error = %format!("{e:#}"), "cannot start an analysis child; retrying at the first message");
    }
    while !stop.load(Ordering::Relaxed) {
        match w.claim_and_analyze() {
            Ok(Some(batch)) if batch.is_empty() => {}
            Ok(Some(batch)) => {
                if !next.send(batch) {
                    return;
                }
            }
            Ok(None) => std::thread::sleep(IDLE_POLL),
            Err(e) => {
                tracing::warn!(error = %e, "analysis step failed; retrying");
                std::thread::sleep(IDLE_POLL);
            }
        }
    }
}

fn save_loop(
    w: &Worker,
    rx: &std::sync::mpsc::Receiver<Vec<Analyzed>>,
    wake: &std::sync::mpsc::SyncSender<()>,
) {
    while let Ok(mut batch) = rx.recv() {
        while batch.len() < SAVE_BATCH {
            match rx.try_recv() {
                Ok(more) => batch.extend(more),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        match w.save_only(&batch) {
            // Full: a wake-up is already pending.
            Ok(()) => {
                let _ = wake.try_send(());
            }
            // The jobs stay leased and come back after `LEASE`: nothing is lost.
            Err(e) => tracing::warn!(error = %e, reports = batch.len(), "saving reports failed"),
        }
    }
}

/// Clusters after each save, and what other processes saved (or an earlier run left
/// unclustered) whenever nothing was saved for a moment; drains once more when the saver has
/// stopped.
fn cluster_loop(w: &Worker, woken: &std::sync::mpsc::Receiver<()>) {
    loop {
        w.cluster_pending();
        match woken.recv_timeout(CLUSTER_IDLE) {
            Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                w.cluster_pending();
                return;
            }
        }
    }
}
