//! The sensor's forwarder: local spool → NATS JetStream, in capture order, nothing lost.
//!
//! The store is the sensor's durable spool: the trap's `250` already follows its fsync. The
//! forwarder reads the outbox (sightings and session records after the forward marks), publishes
//! one batch pipelined, and moves each mark only over the *contiguous prefix* the bus
//! acknowledged. A failure part-way leaves the rest for the next try, in order; what was sent but
//! not acknowledged is sent again with the same `Nats-Msg-Id`, so the stream's de-dup window
//! drops the copy (and the collector's idempotent store drops it if the window has passed).
//! Behind the marks, [`store::Store::release_forwarded`] frees the disk every
//! [`RELEASE_EVERY`].

use super::Backoff;
use crate::metrics::names;
use bus::BusMessage;
use std::time::{Duration, Instant};
use store::Store;
use tokio::sync::watch;

/// Pause when the outbox is empty before looking again. A sensor idles at ~20 cheap queries a
/// second (an indexed range scan on `seq`); a capture waits at most this long to leave.
pub const IDLE_POLL: Duration = Duration::from_millis(50);
/// How often the forwarded part of the spool is freed.
pub const RELEASE_EVERY: Duration = Duration::from_secs(10);
/// Raw bytes one batch may hold in memory.
pub const MAX_BATCH_BYTES: usize = 64 << 20;

/// What one [`Forwarder::step`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Step {
    pub captures: usize,
    pub sessions: usize,
}

impl Step {
    pub fn is_idle(&self) -> bool {
        self.captures == 0 && self.sessions == 0
    }
}

/// Forwards a sensor's captures and session records to the bus.
#[derive(Debug)]
pub struct Forwarder {
    store: Store,
    publisher: bus::Publisher,
    batch: usize,
    /// A whole batch must be sent and acknowledged within this; see [`Forwarder::new`].
    deadline: Duration,
    marks: Option<store::ForwardMarks>,
}

impl Forwarder {
    /// `deadline` bounds one batch: while the bus is away the NATS client queues publishes
    /// and may wait for room without end; past the deadline the batch counts as not taken
    /// (nothing is marked), and is sent again after the back-off.
    pub fn new(store: Store, publisher: bus::Publisher, batch: usize, deadline: Duration) -> Self {
        Forwarder {
            store,
            publisher,
            batch,
            deadline,
            marks: None,
        }
    }

    /// Publishes one batch from the outbox and moves the marks over what the bus acknowledged.
    /// An error names the first message the bus did not take; the marks cover everything
    /// before it.
    pub async fn step(&mut self) -> anyhow::Result<Step> {
        let marks = match self.marks {
            Some(m) => m,
            None => {
                let s = self.store.clone();
                let m = tokio::task::spawn_blocking(move || s.forward_marks()).await??;
                self.marks = Some(m);
                m
            }
        };
        let (s, batch) = (self.store.clone(), self.batch);
        let (captures, sessions) = tokio::task::spawn_blocking(move || {
            let c = s.outbox(marks.sightings, batch, MAX_BATCH_BYTES)?;
            let r = s.session_outbox(marks.sessions, batch)?;
            Ok::<_, store::StoreError>((c, r))
        })
        .await??;
        if captures.is_empty() && sessions.is_empty() {
            return Ok(Step::default());
        }
        let seqs: Vec<u64> = captures.iter().map(|o| o.seq).collect();
        let session_seqs: Vec<u64> = sessions.iter().map(|(seq, _)| *seq).collect();
        let mut msgs: Vec<BusMessage> = Vec::with_capacity(captures.len() + sessions.len());
        msgs.extend(captures.into_iter().map(|o| BusMessage::Capture {
            sighting: o.sighting,
            raw: o.raw,
        }));
        msgs.extend(sessions.into_iter().map(|(_, r)| BusMessage::Session(r)));
        let Ok(results) =
            tokio::time::timeout(self.deadline, self.publisher.publish_batch(&msgs)).await
        else {
            ::metrics::counter!(names::BUS_PUBLISH_FAILURES).increment(1);
            anyhow::bail!(
                "the bus did not acknowledge a batch of {} messages within {} ms",
                msgs.len(),
                self.deadline.as_millis()
            );
        };
        let (ok_captures, first_err) = acked_prefix(&results[..seqs.len().min(results.len())]);
        let (ok_sessions, session_err) = acked_prefix(results.get(seqs.len()..).unwrap_or(&[]));
        let mut next = marks;
        if ok_captures > 0 {
            next.sightings = seqs[ok_captures - 1];
        }
        if ok_sessions > 0 {
            next.sessions = session_seqs[ok_sessions - 1];
        }
        if next != marks {
            let s = self.store.clone();
            tokio::task::spawn_blocking(move || s.mark_forwarded(next)).await??;
            self.marks = Some(next);
        }
        let published = |kind: &'static str, n: usize| {
            ::metrics::counter!(names::BUS_PUBLISHED, "kind" => kind).increment(n as u64);
        };
        published("capture", ok_captures);
        published("session", ok_sessions);
        match first_err.or(session_err) {
            Some(e) => {
                ::metrics::counter!(names::BUS_PUBLISH_FAILURES).increment(1);
                Err(anyhow::anyhow!(
                    "the bus took {ok_captures} of {} captures and {ok_sessions} of {} session records: {e}",
                    seqs.len(),
                    session_seqs.len()
                ))
            }
            None => Ok(Step {
                captures: ok_captures,
                sessions: ok_sessions,
            }),
        }
    }

    /// Runs until `stop` turns true: steps while there is work, polls when idle, backs off after
    /// errors (the trap keeps accepting into the spool meanwhile), frees the forwarded spool.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        // The gauges move with the spool, not with the forwarder (which may wait out a dead bus).
        let gauges = tokio::spawn(publish_gauges(self.store.clone()));
        let mut backoff = Backoff::new();
        let mut last_release = Instant::now();
        let mut failing_since: Option<Instant> = None;
        while !*stop.borrow() {
            let pause = match self.step().await {
                Ok(step) => {
                    if let Some(since) = failing_since.take() {
                        tracing::info!(
                            after_secs = since.elapsed().as_secs(),
                            "forwarding to the bus again"
                        );
                    }
                    backoff.reset();
                    step.is_idle().then_some(IDLE_POLL)
                }
                Err(e) => {
                    let pause = backoff.next();
                    if failing_since.is_none() || pause == super::MAX_BACKOFF {
                        tracing::warn!(error = %e, retry_in_ms = pause.as_millis() as u64, "forwarding to the bus failed; captures stay in the spool");
                    }
                    failing_since.get_or_insert_with(Instant::now);
                    Some(pause)
                }
            };
            if last_release.elapsed() >= RELEASE_EVERY {
                last_release = Instant::now();
                self.release().await;
            }
            if let Some(pause) = pause {
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => {}
                }
            }
        }
        self.release().await;
        gauges.abort();
    }

    async fn release(&self) {
        let s = self.store.clone();
        match tokio::task::spawn_blocking(move || s.release_forwarded()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "freeing the forwarded spool failed"),
            Err(e) => tracing::warn!(error = %e, "freeing the forwarded spool panicked"),
        }
    }
}

/// How often the spool gauges are refreshed.
pub const GAUGE_EVERY: Duration = Duration::from_secs(1);

/// Keeps `spamhattan_bus_unforwarded_*` current (an in-memory read of the store's counters).
async fn publish_gauges(store: Store) {
    let mut every = tokio::time::interval(GAUGE_EVERY);
    loop {
        every.tick().await;
        let u = store.unforwarded();
        ::metrics::gauge!(names::BUS_UNFORWARDED).set(u.messages as f64);
        ::metrics::gauge!(names::BUS_UNFORWARDED_BYTES).set(u.bytes as f64);
    }
}

/// How many results from the start were acknowledged, and the first error.
fn acked_prefix<T, E: std::fmt::Display>(results: &[Result<T, E>]) -> (usize, Option<String>) {
    match results.iter().position(|r| r.is_err()) {
        Some(i) => (
            i,
            results[i]
                .as_ref()
                .err()
                .map(std::string::ToString::to_string),
        ),
        None => (results.len(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::acked_prefix;

    #[test]
    fn marks_move_only_over_the_acknowledged_prefix() {
        let r: Vec<Result<(), &str>> = vec![Ok(()), Ok(()), Err("timeout"), Ok(())];
        assert_eq!(acked_prefix(&r), (2, Some("timeout".into())));
        let all: Vec<Result<(), &str>> = vec![Ok(()), Ok(())];
        assert_eq!(acked_prefix(&all), (2, None));
        let none: Vec<Result<(), &str>> = vec![Err("down")];
        assert_eq!(acked_prefix(&none), (0, Some("down".into())));
    }
}
