//! Jobs that a PostgreSQL store's writer hands to the same process's analysis threads in
//! memory, instead of through a claim.
//!
//! On PostgreSQL the claim (`UPDATE … FOR UPDATE SKIP LOCKED`) was the analysis path's most
//! expensive statement: under load each claim walked about 2,000 buffers of lease index entries
//! that earlier claims had left behind and of rows the other threads had just locked, whatever
//! its batch size (`docs/PERFORMANCE.md`). Yet a collector mostly analyses what it stored
//! itself, and its writer holds those messages in memory when it commits them. So while the
//! analysis threads have room ([`Handoff::enable`]), the writer inserts a batch's jobs already
//! leased to this process, as a claim would leave them (`attempts = 1`), and after the commit
//! queues them with their sightings and raw bytes; the threads take from the queue before they
//! claim.
//!
//! Nothing about durability changes: a handed job is a leased row like a claimed one. If the
//! process dies, the lease expires and any collector claims the job again. Jobs still queued
//! when the pool stops are given back at once (`Store::close_handoff`).

use crate::RawLookup;
use crate::jobs::{Claimed, Job};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// The queue between the writer and the analysis threads; off until enabled.
#[derive(Debug, Default)]
pub(crate) struct Handoff {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Jobs queued at most; 0: off.
    capacity: usize,
    /// Raw bytes queued at most, and queued now: a queue of large messages stops sooner.
    max_bytes: usize,
    bytes: usize,
    /// The lease holder named in the jobs' rows.
    worker: String,
    lease: Duration,
    queue: VecDeque<Claimed>,
}

/// What the writer may hand over now: how many jobs, leased to whom, for how long.
#[derive(Debug, Clone)]
pub(crate) struct Room {
    pub(crate) jobs: usize,
    /// Raw bytes that may still be queued; a message larger than what is left is not handed.
    pub(crate) bytes: usize,
    pub(crate) worker: String,
    pub(crate) lease: Duration,
}

impl Handoff {
    /// Lets the writer queue up to `capacity` jobs and `max_bytes` of raw messages, leased to
    /// `worker` for `lease`.
    pub(crate) fn enable(&self, worker: &str, lease: Duration, capacity: usize, max_bytes: usize) {
        if let Ok(mut s) = self.state.lock() {
            s.capacity = capacity;
            s.max_bytes = max_bytes;
            s.worker = worker.to_string();
            s.lease = lease;
        }
    }

    /// The room left; `None` when off or full. Only the writer adds to the queue, so the room
    /// it reads before a batch is still there after the commit.
    pub(crate) fn room(&self) -> Option<Room> {
        let s = self.state.lock().ok()?;
        let jobs = s.capacity.saturating_sub(s.queue.len());
        let bytes = s.max_bytes.saturating_sub(s.bytes);
        (jobs > 0 && bytes > 0).then(|| Room {
            jobs,
            bytes,
            worker: s.worker.clone(),
            lease: s.lease,
        })
    }

    /// Queues the jobs of a committed batch. Returns them instead when the handoff closed
    /// since the writer read its room: the caller gives them back.
    pub(crate) fn push(&self, items: Vec<Claimed>) -> Vec<Claimed> {
        match self.state.lock() {
            Ok(mut s) if s.capacity > 0 => {
                s.bytes += items.iter().map(raw_len).sum::<usize>();
                s.queue.extend(items);
                Vec::new()
            }
            _ => items,
        }
    }

    /// The lease holder named in handed jobs' rows.
    pub(crate) fn worker(&self) -> String {
        self.state
            .lock()
            .map(|s| s.worker.clone())
            .unwrap_or_default()
    }

    /// Up to `max` queued jobs, oldest first.
    pub(crate) fn take(&self, max: usize) -> Vec<Claimed> {
        let Ok(mut s) = self.state.lock() else {
            return Vec::new();
        };
        let n = max.min(s.queue.len());
        let taken: Vec<Claimed> = s.queue.drain(..n).collect();
        s.bytes = s
            .bytes
            .saturating_sub(taken.iter().map(raw_len).sum::<usize>());
        taken
    }

    /// Turns the handoff off and returns what was queued, with the lease holder's name.
    pub(crate) fn close(&self) -> (String, Vec<Claimed>) {
        let Ok(mut s) = self.state.lock() else {
            return (String::new(), Vec::new());
        };
        s.capacity = 0;
        s.bytes = 0;
        (s.worker.clone(), s.queue.drain(..).collect())
    }
}

fn raw_len(c: &Claimed) -> usize {
    match &c.raw {
        RawLookup::Found(raw) => raw.len(),
        _ => 0,
    }
}

/// A handed job: its row as the writer inserted it, the sighting and the raw bytes it wrote.
pub(crate) fn claimed(job: Job, sighting: model::Sighting, raw: Vec<u8>) -> Claimed {
    Claimed {
        job,
        sighting: Some(sighting),
        raw: RawLookup::Found(raw),
    }
}
