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
//! when the pool stops are given back at once (`Store::close_handoff`), and so is a job that
//! waited in the queue for more than 1/[`STALE_SHARE`] of its lease (slow analysis): taken that
//! late, its lease could run out while it is analysed, and a second claim would analyse it
//! again and count an attempt that never failed.

use crate::RawLookup;
use crate::jobs::{Claimed, Job};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A queued job is given back instead of taken once it waited 1/`STALE_SHARE` of its lease.
pub(crate) const STALE_SHARE: u32 = 4;

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
    /// Jobs with the time they were queued, oldest first.
    queue: VecDeque<(Instant, Claimed)>,
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

    /// Queues the jobs of a committed batch at `now`. Returns them instead when the handoff
    /// closed since the writer read its room: the caller gives them back.
    pub(crate) fn push(&self, items: Vec<Claimed>, now: Instant) -> Vec<Claimed> {
        match self.state.lock() {
            Ok(mut s) if s.capacity > 0 => {
                s.bytes += items.iter().map(raw_len).sum::<usize>();
                s.queue.extend(items.into_iter().map(|c| (now, c)));
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

    /// Up to `max` queued jobs, oldest first, taken at `now`; and the jobs that waited too
    /// long (see the module doc), which the caller gives back, with the lease holder's name.
    pub(crate) fn take(&self, max: usize, now: Instant) -> Taken {
        let Ok(mut s) = self.state.lock() else {
            return Taken::default();
        };
        let stale_after = s.lease / STALE_SHARE;
        let mut taken = Taken {
            worker: s.worker.clone(),
            ..Taken::default()
        };
        while taken.fresh.len() < max {
            let Some((queued, c)) = s.queue.pop_front() else {
                break;
            };
            s.bytes = s.bytes.saturating_sub(raw_len(&c));
            if now.saturating_duration_since(queued) > stale_after {
                taken.stale.push(c);
            } else {
                taken.fresh.push(c);
            }
        }
        taken
    }

    /// Turns the handoff off and returns what was queued, with the lease holder's name.
    pub(crate) fn close(&self) -> (String, Vec<Claimed>) {
        let Ok(mut s) = self.state.lock() else {
            return (String::new(), Vec::new());
        };
        s.capacity = 0;
        s.bytes = 0;
        (
            s.worker.clone(),
            s.queue.drain(..).map(|(_, c)| c).collect(),
        )
    }
}

/// What [`Handoff::take`] took.
#[derive(Debug, Default)]
pub(crate) struct Taken {
    pub(crate) fresh: Vec<Claimed>,
    pub(crate) stale: Vec<Claimed>,
    /// The lease holder named in their rows.
    pub(crate) worker: String,
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

#[cfg(test)]
mod tests {
    use super::{Handoff, STALE_SHARE};
    use crate::RawLookup;
    use crate::jobs::{Claimed, Job};
    use std::time::{Duration, Instant};

    fn job(id: i64, raw: &[u8]) -> Claimed {
        let job = Job {
            id,
            sighting_id: uuid::Uuid::now_v7(),
            message_id: model::MessageId::of(raw),
            attempts: 1,
        };
        Claimed {
            job,
            sighting: None,
            raw: RawLookup::Found(raw.to_vec()),
        }
    }

    fn ids(jobs: &[Claimed]) -> Vec<i64> {
        jobs.iter().map(|c| c.job.id).collect()
    }

    #[test]
    fn room_counts_jobs_and_bytes_and_a_closed_handoff_refuses() {
        let h = Handoff::default();
        assert!(h.room().is_none(), "off until enabled");
        h.enable("w", Duration::from_secs(300), 3, 10);
        let t0 = Instant::now();
        assert!(
            h.push(vec![job(1, b"12345"), job(2, b"1234")], t0)
                .is_empty()
        );
        let room = h.room().expect("room");
        assert_eq!((room.jobs, room.bytes), (1, 1));
        assert!(h.push(vec![job(3, b"1")], t0).is_empty());
        assert!(h.room().is_none(), "full");
        let taken = h.take(2, t0);
        assert_eq!(ids(&taken.fresh), [1, 2]);
        assert_eq!(h.room().map(|r| (r.jobs, r.bytes)), Some((2, 9)));
        let (worker, left) = h.close();
        assert_eq!((worker.as_str(), ids(&left)), ("w", vec![3]));
        assert_eq!(
            ids(&h.push(vec![job(4, b"x")], t0)),
            [4],
            "closed: handed back"
        );
        assert!(h.room().is_none());
    }

    #[test]
    fn a_job_that_waited_past_a_share_of_its_lease_is_given_back_not_taken() {
        let h = Handoff::default();
        let lease = Duration::from_secs(300);
        h.enable("w", lease, 10, 1 << 20);
        let t0 = Instant::now();
        h.push(vec![job(1, b"a"), job(2, b"b")], t0);
        h.push(vec![job(3, b"c")], t0 + lease / STALE_SHARE);
        let taken = h.take(10, t0 + lease / STALE_SHARE + Duration::from_millis(1));
        assert_eq!(ids(&taken.stale), [1, 2]);
        assert_eq!(ids(&taken.fresh), [3]);
        assert_eq!(taken.worker, "w");
    }
}
