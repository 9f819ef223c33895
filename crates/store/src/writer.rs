//! The group-commit writer thread: drains the queue, appends new blobs to the current segment,
//! fdatasyncs it, commits one SQLite transaction, then answers every waiter of the batch.

use crate::config::{DISK_PROBE_INTERVAL, StoreConfig};
use crate::error::{Result, StoreError};
use crate::retention::{self, RetentionReport};
use crate::segment::{self, SegmentWriter};
use crate::{Captured, Timestamp, unix_nanos};
use model::MessageId;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::Instant;
use tokio::sync::oneshot;

/// A capture on its way to the writer: everything the rows need is computed by the caller's
/// thread (hash, JSON), so the single writer only does I/O.
#[derive(Debug)]
pub(crate) struct PendingCapture {
    pub raw: Vec<u8>,
    pub id: MessageId,
    pub sighting_id: uuid::Uuid,
    pub received_at: i64,
    pub source: &'static str,
    pub peer: String,
    pub sender: String,
    pub json: String,
    pub reply: oneshot::Sender<Result<Captured>>,
}

/// A session record on its way to the writer.
#[derive(Debug)]
pub(crate) struct SessionRow {
    pub id: uuid::Uuid,
    pub started_at: i64,
    pub peer: String,
    pub json: String,
}

/// What the writer thread is asked to do.
#[derive(Debug)]
pub(crate) enum Cmd {
    Capture(Box<PendingCapture>),
    Session(Box<SessionRow>),
    /// Answered once everything queued before it is committed.
    Flush(mpsc::Sender<Result<()>>),
    Retention(Timestamp, mpsc::Sender<Result<RetentionReport>>),
    Shutdown,
}

/// State shared between the writer and every `Store` handle; read on the SMTP hot path.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Batches committed by this store's writer.
    pub commits: AtomicU64,
    pub pending_jobs: AtomicU64,
    pub disk_free: AtomicU64,
    /// Unix milliseconds of the last failed batch; 0 after a success.
    pub failed_at_ms: AtomicU64,
    /// Raw bytes queued but not yet taken by the writer.
    pub queued_bytes: AtomicU64,
}

/// The writer's own resources: the write connection and the segment it appends to.
#[derive(Debug)]
pub(crate) struct WriterState {
    pub cfg: StoreConfig,
    conn: Option<Connection>,
    pub segment: Option<SegmentWriter>,
}

impl WriterState {
    pub fn new(cfg: StoreConfig, conn: Connection) -> Self {
        Self {
            cfg,
            conn: Some(conn),
            segment: None,
        }
    }

    /// The write connection, reopened if a failure discarded it.
    pub fn conn(&mut self) -> Result<&mut Connection> {
        if self.conn.is_none() {
            self.conn = Some(crate::schema::connect(&self.cfg, false)?);
        }
        self.conn.as_mut().ok_or(StoreError::Closed)
    }

    /// Takes the write connection out (opening one if needed) so it can be used while `self` is
    /// borrowed for appends; give it back with [`WriterState::put_conn`].
    pub fn take_conn(&mut self) -> Result<Connection> {
        self.conn
            .take()
            .map_or_else(|| crate::schema::connect(&self.cfg, false), Ok)
    }

    pub fn put_conn(&mut self, conn: Connection) {
        self.conn = Some(conn);
    }

    /// The segment to append to, created on first use (so idle writers leave no empty files).
    pub fn segment(&mut self) -> Result<&mut SegmentWriter> {
        if self.segment.is_none() {
            self.segment = Some(SegmentWriter::create(&self.cfg.spool_dir())?);
        }
        self.segment.as_mut().ok_or(StoreError::Closed)
    }

    /// Appends and fdatasyncs; on failure the segment is abandoned for good, because after a
    /// failed fsync the kernel may have dropped dirty pages and a later fsync could "succeed".
    pub fn append_durably(&mut self, buf: &[u8]) -> Result<(String, u64)> {
        let seg = self.segment()?;
        let written = seg.append(buf).and_then(|at| seg.sync().map(|()| at));
        match written {
            Ok(at) => Ok((seg.name.clone(), at)),
            Err(e) => {
                tracing::error!(segment = %seg.name, error = %e, "segment write failed; abandoning it");
                self.segment = None;
                Err(e)
            }
        }
    }
}

/// Runs the writer loop until `Shutdown` or until every sender is gone.
pub(crate) fn run(mut state: WriterState, rx: Receiver<Cmd>, shared: Arc<Shared>) {
    let mut last_probe: Option<Instant> = None;
    while let Ok(first) = rx.recv() {
        let mut batch = Batch::default();
        batch.push(first, &shared);
        while !batch.stop && !batch.is_full(&state.cfg) {
            match rx.try_recv() {
                Ok(cmd) => batch.push(cmd, &shared),
                Err(_) => break,
            }
        }
        let stop = batch.stop;
        batch.process(&mut state, &shared);
        if last_probe.is_none_or(|t| t.elapsed() >= DISK_PROBE_INTERVAL) {
            if let Some(free) = crate::disk::free_bytes(&state.cfg.data_dir) {
                shared.disk_free.store(free, Ordering::Relaxed);
            }
            last_probe = Some(Instant::now());
        }
        if stop {
            break;
        }
    }
    if let Ok(conn) = state.conn() {
        // Keep the WAL file small for the next start; failure here costs nothing but disk.
        let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
    }
}

/// Commands drained from the queue in one go.
#[derive(Debug, Default)]
struct Batch {
    captures: Vec<PendingCapture>,
    sessions: Vec<SessionRow>,
    bytes: usize,
    flushes: Vec<mpsc::Sender<Result<()>>>,
    retention: Vec<(Timestamp, mpsc::Sender<Result<RetentionReport>>)>,
    stop: bool,
}

impl Batch {
    fn push(&mut self, cmd: Cmd, shared: &Shared) {
        match cmd {
            Cmd::Capture(c) => {
                shared
                    .queued_bytes
                    .fetch_sub(c.raw.len() as u64, Ordering::Relaxed);
                self.bytes += c.raw.len();
                self.captures.push(*c);
            }
            Cmd::Session(s) => self.sessions.push(*s),
            Cmd::Flush(reply) => self.flushes.push(reply),
            Cmd::Retention(now, reply) => {
                // Runs after this batch commits; `is_full` makes later commands wait for it.
                self.retention.push((now, reply));
            }
            Cmd::Shutdown => self.stop = true,
        }
    }

    fn is_full(&self, cfg: &StoreConfig) -> bool {
        self.captures.len() >= cfg.max_batch
            || self.bytes >= cfg.max_batch_bytes
            || !self.retention.is_empty()
    }

    fn process(self, state: &mut WriterState, shared: &Shared) {
        let outcome = if self.captures.is_empty() && self.sessions.is_empty() {
            Ok(Vec::new())
        } else {
            commit(state, &self.captures, &self.sessions, shared)
        };
        match outcome {
            Ok(done) => {
                shared.failed_at_ms.store(0, Ordering::Relaxed);
                for (capture, captured) in self.captures.into_iter().zip(done) {
                    let _ = capture.reply.send(Ok(captured));
                }
                for reply in self.flushes {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, messages = self.captures.len(), "store batch failed");
                shared.failed_at_ms.store(unix_millis(), Ordering::Relaxed);
                let e = Arc::new(e);
                for capture in self.captures {
                    let _ = capture.reply.send(Err(StoreError::WriteFailed(e.clone())));
                }
                for reply in self.flushes {
                    let _ = reply.send(Err(StoreError::WriteFailed(e.clone())));
                }
            }
        }
        for (now, reply) in self.retention {
            let _ = reply.send(retention::run(state, now));
        }
    }
}

fn unix_millis() -> u64 {
    u64::try_from(unix_nanos(model::now()) / 1_000_000)
        .unwrap_or(1)
        .max(1)
}

/// One group commit. The SQLite write lock is taken first, so the "is this blob known?" answers
/// stay true until the commit even with writers in other processes.
fn commit(
    state: &mut WriterState,
    caps: &[PendingCapture],
    sessions: &[SessionRow],
    shared: &Shared,
) -> Result<Vec<Captured>> {
    let result = commit_inner(state, caps, sessions);
    match result {
        Ok((done, pending)) => {
            shared.commits.fetch_add(1, Ordering::Relaxed);
            shared.pending_jobs.store(pending, Ordering::Relaxed);
            if state
                .segment
                .as_ref()
                .is_some_and(|s| s.len >= state.cfg.segment_bytes)
            {
                state.segment = None; // roll over: the next batch opens a fresh segment
            }
            Ok(done)
        }
        Err(e) => {
            if matches!(e, StoreError::Sqlite(_) | StoreError::Full { .. }) {
                state.conn = None; // reopen: never trust a connection whose commit failed
            }
            Err(e)
        }
    }
}

fn commit_inner(
    state: &mut WriterState,
    caps: &[PendingCapture],
    sessions: &[SessionRow],
) -> Result<(Vec<Captured>, u64)> {
    let now = unix_nanos(model::now());
    let mut conn = state.take_conn()?;
    let outcome = (|| {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // 1. Which blobs are new? Known live blobs (or earlier in this batch) are duplicates.
        let mut in_batch: HashSet<MessageId> = HashSet::new();
        let mut buf = Vec::new();
        let mut offsets = Vec::with_capacity(caps.len());
        let mut done = Vec::with_capacity(caps.len());
        {
            let mut live =
                tx.prepare_cached("SELECT segment IS NOT NULL FROM blobs WHERE sha256 = ?1")?;
            for c in caps {
                let known = in_batch.contains(&c.id)
                    || live
                        .query_row([&c.id.as_bytes()[..]], |r| r.get::<_, bool>(0))
                        .optional()?
                        .unwrap_or(false);
                offsets.push((!known).then(|| segment::encode_record(&mut buf, &c.id, &c.raw)));
                in_batch.insert(c.id);
                done.push(Captured {
                    message_id: c.id,
                    sighting_id: c.sighting_id,
                    duplicate: known,
                });
            }
        }
        // 2. New bytes are durable in the segment before any index row points at them.
        let (segment, base) = if buf.is_empty() {
            (String::new(), 0)
        } else {
            state.append_durably(&buf)?
        };
        // 3. Index rows, sightings, jobs, sessions: one transaction, one WAL fsync.
        write_rows(&tx, caps, &offsets, &segment, base, now)?;
        for s in sessions {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO sessions (id, started_at, peer, json) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute((&s.id.as_bytes()[..], s.started_at, &s.peer, &s.json))?;
        }
        let pending: i64 = tx
            .prepare_cached("SELECT value FROM counters WHERE name = 'pending_jobs'")?
            .query_row([], |r| r.get(0))?;
        tx.commit()?;
        Ok((done, u64::try_from(pending).unwrap_or(0)))
    })();
    state.conn = Some(conn);
    outcome.map_err(|e: StoreError| match e {
        StoreError::Sqlite(e) => StoreError::sqlite(e),
        other => other,
    })
}

fn write_rows(
    tx: &rusqlite::Transaction<'_>,
    caps: &[PendingCapture],
    offsets: &[Option<u64>],
    segment: &str,
    base: u64,
    now: i64,
) -> Result<()> {
    let mut new_blob = tx.prepare_cached(
        "INSERT INTO blobs (sha256, segment, offset, length, first_seen, last_seen, refcount)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, 0)
         ON CONFLICT(sha256) DO UPDATE SET
             segment = excluded.segment, offset = excluded.offset, purged_at = NULL",
    )?;
    let mut seen = tx.prepare_cached(
        "UPDATE blobs SET refcount = refcount + 1, last_seen = max(last_seen, ?2) WHERE sha256 = ?1",
    )?;
    let mut sighting = tx.prepare_cached(
        "INSERT OR IGNORE INTO sightings (id, message_id, received_at, source, peer, sender, size, json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut job = tx.prepare_cached(
        "INSERT INTO jobs (sighting_id, message_id, created_at) VALUES (?1, ?2, ?3)",
    )?;
    for (c, offset) in caps.iter().zip(offsets) {
        let id = &c.id.as_bytes()[..];
        if let Some(rel) = offset {
            let at =
                i64::try_from(base + rel).map_err(|_| StoreError::corrupt("offset overflow"))?;
            new_blob.execute((id, segment, at, c.raw.len() as i64, now))?;
        }
        let sid = &c.sighting_id.as_bytes()[..];
        let inserted = sighting.execute((
            sid,
            id,
            c.received_at,
            c.source,
            &c.peer,
            &c.sender,
            c.raw.len() as i64,
            &c.json,
        ))?;
        // A sighting id seen before is the same arrival recorded twice: keep it idempotent.
        if inserted == 1 {
            seen.execute((id, now))?;
            job.execute((sid, id, now))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::{Pressure, RawLookup, Store, StoreConfig, StoreError, fault};
    use model::{MessageId, Sighting};

    fn sighting(raw: &[u8]) -> Sighting {
        let json = serde_json::json!({
            "id": uuid::Uuid::now_v7(), "message_id": MessageId::of(raw),
            "received_at": "2026-01-01T00:00:00Z", "source": {"kind": "smtp"}, "size": 0,
            "session_id": uuid::Uuid::nil(), "envelope": {"mail_from": {"raw": "", "address": ""},
            "recipients": []}
        });
        serde_json::from_value(json).expect("sighting")
    }

    #[test]
    fn a_failed_segment_write_is_never_acknowledged_and_the_segment_is_abandoned() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = StoreConfig::new(dir.path());
        cfg.min_free_bytes = 0; // this test is about write failures, not free space
        let store = Store::open(cfg).expect("open");
        let ok = b"before the failure".to_vec();
        store
            .capture(ok.clone(), sighting(&ok))
            .wait()
            .expect("capture");

        fault::fail_under(dir.path());
        let lost = b"written while the disk fails".to_vec();
        let err = store.capture(lost.clone(), sighting(&lost)).wait();
        assert!(matches!(err, Err(StoreError::WriteFailed(_))), "{err:?}");
        assert_eq!(store.pressure(), Pressure::Failed);
        assert_eq!(
            store.raw(&MessageId::of(&lost)).expect("raw"),
            RawLookup::Unknown
        );
        // While the fault lasts every capture fails; none is acknowledged.
        let again = store.capture(lost.clone(), sighting(&lost)).wait();
        assert!(again.is_err());

        fault::heal(dir.path());
        let after = b"after the disk recovered".to_vec();
        let done = store
            .capture(after.clone(), sighting(&after))
            .wait()
            .expect("capture");
        assert!(!done.duplicate);
        assert_eq!(store.pressure(), Pressure::Normal);
        assert_eq!(
            store.raw(&done.message_id).expect("raw"),
            RawLookup::Found(after)
        );
        let stats = store.stats().expect("stats");
        assert_eq!(stats.sightings, 2);
        assert!(
            stats.segments >= 2,
            "the failed segment was abandoned for a new one"
        );
        assert!(store.verify().expect("verify").is_ok());
    }
}
