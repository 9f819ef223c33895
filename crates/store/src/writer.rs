//! The group-commit writer thread: drains the queue, appends the batch's records (new blobs,
//! sightings, sessions) to the current segment, fdatasyncs it once, indexes the batch in one
//! SQLite transaction, then answers every waiter of the batch.

use crate::config::{DISK_PROBE_INTERVAL, LOG_REPEAT_EVERY, StoreConfig};
use crate::error::{Result, StoreError};
use crate::index::{self, Indexer, NewBlob, SessionRow, SightingRow};
use crate::release::{self, ReleaseReport};
use crate::retention::{self, RetentionReport};
use crate::segment::{self, RecordKind, SegmentWriter};
use crate::sensors::SensorTally;
use crate::{Captured, Timestamp, unix_nanos};
use model::MessageId;
use rusqlite::Connection;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::Instant;
use tokio::sync::oneshot;

/// A capture on its way to the writer: everything the records and rows need is computed by the
/// caller's thread (message hash, JSON, its digest), so the single writer only does I/O.
#[derive(Debug)]
pub(crate) struct PendingCapture {
    pub raw: Vec<u8>,
    pub row: SightingRow,
    /// SHA-256 of `row.json`: the sighting record's checksum.
    pub digest: [u8; 32],
    /// An ingest (collector): a sighting whose id is stored already is a replay, skipped.
    pub ingest: bool,
    pub reply: oneshot::Sender<Result<Captured>>,
}

/// A session record on its way to the writer.
#[derive(Debug)]
pub(crate) struct PendingSession {
    pub row: SessionRow,
    pub digest: [u8; 32],
    /// An ingest (collector): a record whose id is stored already is skipped, and the caller
    /// learns the outcome (`true`: stored now) instead of a failure being counted as a drop.
    pub ingest: Option<oneshot::Sender<Result<bool>>>,
}

/// What the writer thread is asked to do.
#[derive(Debug)]
pub(crate) enum Cmd {
    Capture(Box<PendingCapture>),
    Session(Box<PendingSession>),
    /// Answered once everything queued before it is committed.
    Flush(mpsc::Sender<Result<()>>),
    Retention(Timestamp, mpsc::Sender<Result<RetentionReport>>),
    Release(mpsc::Sender<Result<ReleaseReport>>),
    Shutdown,
}

/// State shared between the writer and every `Store` handle; read on the SMTP hot path.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Batches committed by this store's writer.
    pub commits: AtomicU64,
    /// Pending analysis jobs: counted at open, then kept by this process (+ the jobs of each
    /// committed batch, - each `complete_job` that deleted a row), so neither the writer nor
    /// `pressure()` counts rows per message. Jobs created or completed by *other* processes on
    /// the same directory are picked up by a recount at every disk probe (at most
    /// [`DISK_PROBE_INTERVAL`] late); `Store::job_depth` and `stats()` always count.
    pub pending_jobs: AtomicU64,
    pub disk_free: AtomicU64,
    /// Unix milliseconds of the last failed batch; 0 after a success.
    pub failed_at_ms: AtomicU64,
    /// Raw bytes queued but not yet taken by the writer.
    pub queued_bytes: AtomicU64,
    /// Session records dropped: queue full, disk below `min_free_bytes`, or their batch failed.
    pub sessions_dropped: AtomicU64,
    /// Unix milliseconds of the last "session records dropped" warning (rate limit).
    pub drop_warned_ms: AtomicU64,
    /// Failed batches not logged yet, and when the last failure was logged (rate limit).
    pub unlogged_failures: AtomicU64,
    pub failure_logged_ms: AtomicU64,
    /// Sighting and session rows after the forward marks, and the raw bytes of those
    /// sightings: counted at open, + each batch's new rows (writer), - each `mark_forwarded`.
    /// Signed: a mark may count rows whose batch the writer has committed but not added yet.
    /// Kept only when `StoreConfig::forwards`.
    pub unforwarded_rows: AtomicI64,
    pub unforwarded_bytes: AtomicI64,
    /// Jobs the PostgreSQL writer hands to this process's analysis threads (`handoff.rs`).
    pub handoff: crate::handoff::Handoff,
}

impl Shared {
    /// Logs a failed batch: always the first after a success, then at most once per
    /// [`LOG_REPEAT_EVERY`] with the number of failed batches since. Call before `failed_at_ms`
    /// is set for this failure.
    pub(crate) fn batch_failed(&self, e: &StoreError, messages: usize) {
        let failed = self.unlogged_failures.fetch_add(1, Ordering::Relaxed) + 1;
        let now = unix_millis();
        let last = self.failure_logged_ms.load(Ordering::Relaxed);
        let first = self.failed_at_ms.load(Ordering::Relaxed) == 0;
        if (first || now.saturating_sub(last) >= LOG_REPEAT_EVERY.as_millis() as u64)
            && self
                .failure_logged_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.unlogged_failures.store(0, Ordering::Relaxed);
            tracing::error!(error = %e, messages, failed_batches = failed, "store batch failed");
        }
    }

    /// Counts `n` dropped session records and warns, at most once per [`LOG_REPEAT_EVERY`].
    pub fn session_records_dropped(&self, n: u64, why: &str) {
        let total = self.sessions_dropped.fetch_add(n, Ordering::Relaxed) + n;
        let now = unix_millis();
        let last = self.drop_warned_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= LOG_REPEAT_EVERY.as_millis() as u64
            && self
                .drop_warned_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                dropped_total = total,
                reason = why,
                "session records dropped"
            );
        }
    }
}

/// The writer's own resources: the write connection and the segment it appends to.
#[derive(Debug)]
pub(crate) struct WriterState {
    pub cfg: StoreConfig,
    conn: Option<Connection>,
    pub segment: Option<SegmentWriter>,
    /// A segment whose append or fdatasync failed, with the length before that append; kept
    /// (locked) until the void mark is written, so no recovery can replay the failed batch.
    abandoned: Option<(SegmentWriter, u64)>,
    /// The batch's records, reused between batches.
    buf: Vec<u8>,
    /// The unindexed tail of `blobs` (not yet in `blob_keys`), in memory, so the dedup lookup
    /// of a new message is a hash-map miss plus one `blob_keys` probe, not a tail scan. `None`:
    /// unknown (at start, after a failed batch), rebuilt from the table under the write lock.
    tail: Option<TailKeys>,
}

/// The blobs after `blob_keys`' mark, as last seen under the write lock.
#[derive(Debug, Default)]
pub(crate) struct TailKeys {
    /// `counters.sha_indexed_upto`: blobs up to this id are in `blob_keys`.
    mark: i64,
    /// The largest blob id in `map` (or `mark`): rows after it were added by another process.
    known_upto: i64,
    map: HashMap<MessageId, i64>,
}

impl TailKeys {
    /// Brings the tail up to date with the table; call under the write lock. Blobs another
    /// process inserted are loaded, a key pass another process ran drops what it keyed.
    fn sync(tail: &mut Option<TailKeys>, conn: &Connection) -> Result<()> {
        let mark = index::keyed_upto(conn)?;
        let max = index::max_blob(conn)?;
        let t = match tail {
            Some(t) if t.known_upto <= max && t.mark <= mark => t,
            _ => tail.insert(TailKeys {
                mark,
                known_upto: mark,
                map: HashMap::new(),
            }),
        };
        if mark > t.mark {
            t.map.retain(|_, id| *id > mark);
            t.mark = mark;
            t.known_upto = t.known_upto.max(mark);
        }
        if max > t.known_upto {
            let mut stmt =
                conn.prepare_cached("SELECT sha256, id FROM blobs WHERE id > ?1 AND id <= ?2")?;
            let mut rows = stmt.query((t.known_upto, max))?;
            while let Some(r) = rows.next()? {
                let sha: Vec<u8> = r.get(0)?;
                t.map
                    .insert(crate::query::message_id_from(&sha)?, r.get(1)?);
            }
            t.known_upto = max;
        }
        Ok(())
    }

    fn insert(&mut self, id: MessageId, key: i64) {
        self.map.insert(id, key);
        self.known_upto = self.known_upto.max(key);
    }

    /// Runs a key pass if the tail holds at least `min` blobs (in the caller's transaction).
    fn index_if(&mut self, conn: &Connection, min: usize) -> Result<()> {
        if self.map.is_empty() || self.map.len() < min {
            return Ok(());
        }
        index::index_keys(conn, self.mark, self.known_upto)?;
        self.mark = self.known_upto;
        self.map.clear();
        Ok(())
    }
}

impl WriterState {
    pub fn new(cfg: StoreConfig, conn: Connection) -> Self {
        Self {
            cfg,
            conn: Some(conn),
            segment: None,
            abandoned: None,
            buf: Vec::new(),
            tail: None,
        }
    }

    /// Forgets the in-memory blob tail (blob rows or keys changed under it): the next batch
    /// reloads it under the write lock.
    pub fn forget_tail(&mut self) {
        self.tail = None;
    }

    /// The write connection, reopened if a failure discarded it.
    pub fn conn(&mut self) -> Result<&mut Connection> {
        if self.conn.is_none() {
            self.conn = Some(self.connect()?);
        }
        self.conn.as_mut().ok_or(StoreError::Closed)
    }

    /// Takes the write connection out (opening one if needed) so it can be used while `self` is
    /// borrowed for appends; give it back with [`WriterState::put_conn`].
    pub fn take_conn(&mut self) -> Result<Connection> {
        match self.conn.take() {
            Some(conn) => Ok(conn),
            None => self.connect(),
        }
    }

    fn connect(&self) -> Result<Connection> {
        crate::schema::connect(&self.cfg, false)
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

    /// Appends and fdatasyncs; returns the segment's name and the offset `buf` starts at. On
    /// failure the segment is abandoned for good, because after a failed fsync the kernel may
    /// have dropped dirty pages and a later fsync could "succeed"; the failed append is cut off
    /// the file (best effort) and, by [`WriterState::seal_abandoned`], marked void in the index.
    pub fn append_durably(&mut self, buf: &[u8]) -> Result<(String, u64)> {
        let seg = self.segment()?;
        let before = seg.len;
        let written = seg.append(buf).and_then(|at| seg.sync().map(|()| at));
        match written {
            Ok(at) => Ok((seg.name.clone(), at)),
            Err(e) => {
                tracing::error!(segment = %seg.name, error = %e, "segment write failed; abandoning it");
                if let Err(cut) = seg.truncate(before) {
                    tracing::error!(segment = %seg.name, error = %cut, "cannot cut the failed append off");
                }
                if let Some(seg) = self.segment.take() {
                    self.abandoned = Some((seg, before));
                }
                Err(e)
            }
        }
    }

    /// Marks the abandoned segment void from its failed append on (best effort: the disk may be
    /// failing) and releases its lock. Call outside any transaction.
    pub fn seal_abandoned(&mut self) {
        let Some((seg, from)) = self.abandoned.take() else {
            return;
        };
        let marked = self.conn().and_then(|conn| {
            crate::schema::durable_commits(conn, |c| index::set_void_from(c, &seg.name, from))
        });
        if let Err(e) = marked {
            tracing::error!(segment = %seg.name, error = %e, "cannot mark the failed append void");
        }
    }
}

/// `BEGIN IMMEDIATE` ... `COMMIT` through cached prepared statements, so a batch parses no SQL;
/// rolls back when dropped uncommitted (like `rusqlite::Transaction`).
struct WriteTx<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> WriteTx<'c> {
    fn begin(conn: &'c Connection) -> Result<Self> {
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(Self { conn, open: true })
    }

    fn commit(mut self) -> Result<()> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        self.open = false;
        Ok(())
    }
}

impl Drop for WriteTx<'_> {
    fn drop(&mut self) {
        if self.open && !self.conn.is_autocommit() {
            // The connection is discarded after a failed batch anyway; this just ends cleanly.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// Runs the writer loop until `Shutdown` or until every sender is gone.
pub(crate) fn run(mut state: WriterState, rx: Receiver<Cmd>, shared: Arc<Shared>) {
    let mut last_probe: Option<Instant> = None;
    loop {
        let first = match rx.recv_timeout(IDLE_KEY_PASS) {
            Ok(cmd) => cmd,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                idle_key_pass(&mut state);
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
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
            // Picks up jobs other processes created or completed (see `Shared::pending_jobs`).
            if let Ok(depth) = state.conn().and_then(|c| crate::jobs::depth(c)) {
                shared.pending_jobs.store(depth, Ordering::Relaxed);
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

/// A writer idle this long keys its unindexed tail, so readers' tail scans stay short.
const IDLE_KEY_PASS: std::time::Duration = std::time::Duration::from_secs(1);

/// Keys whatever tail is pending (best effort: the next batch or idle period retries).
fn idle_key_pass(state: &mut WriterState) {
    if state.tail.as_ref().is_some_and(|t| t.map.is_empty()) {
        return;
    }
    let Ok(conn) = state.take_conn() else {
        return;
    };
    let mut tail = state.tail.take();
    let outcome = (|| {
        let tx = WriteTx::begin(&conn)?;
        TailKeys::sync(&mut tail, &conn)?;
        if let Some(t) = tail.as_mut() {
            t.index_if(&conn, 1)?;
        }
        tx.commit()
    })();
    state.conn = Some(conn);
    match outcome {
        Ok(()) => state.tail = tail,
        Err(e) => tracing::warn!(error = %e, "idle blob key pass failed"),
    }
}

/// Commands drained from the queue in one go.
#[derive(Debug, Default)]
struct Batch {
    captures: Vec<PendingCapture>,
    sessions: Vec<PendingSession>,
    bytes: usize,
    flushes: Vec<mpsc::Sender<Result<()>>>,
    retention: Vec<(Timestamp, mpsc::Sender<Result<RetentionReport>>)>,
    release: Vec<mpsc::Sender<Result<ReleaseReport>>>,
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
            Cmd::Release(reply) => self.release.push(reply),
            Cmd::Shutdown => self.stop = true,
        }
    }

    /// A batch also stops at one queue's worth of captures and session records, so producers
    /// that keep the queue topped up cannot grow one batch (and its buffer) without bound.
    fn is_full(&self, cfg: &StoreConfig) -> bool {
        self.captures.len() >= cfg.max_batch
            || self.captures.len() + self.sessions.len() >= cfg.queue_capacity.max(1)
            || self.bytes >= cfg.max_batch_bytes
            || !self.retention.is_empty()
            || !self.release.is_empty()
    }

    fn process(self, state: &mut WriterState, shared: &Shared) {
        let outcome = if self.captures.is_empty() && self.sessions.is_empty() {
            Ok(Committed::default())
        } else {
            commit(state, &self.captures, &self.sessions, shared)
        };
        match outcome {
            Ok(done) => {
                shared.failed_at_ms.store(0, Ordering::Relaxed);
                for (capture, captured) in self.captures.into_iter().zip(done.done) {
                    let _ = capture.reply.send(Ok(captured));
                }
                for (session, stored) in self.sessions.into_iter().zip(done.sessions) {
                    if let Some(reply) = session.ingest {
                        let _ = reply.send(Ok(stored));
                    }
                }
                for reply in self.flushes {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(e) => {
                shared.batch_failed(&e, self.captures.len());
                shared.failed_at_ms.store(unix_millis(), Ordering::Relaxed);
                let e = Arc::new(e);
                let mut dropped = 0;
                for session in self.sessions {
                    match session.ingest {
                        Some(reply) => {
                            let _ = reply.send(Err(StoreError::WriteFailed(e.clone())));
                        }
                        None => dropped += 1,
                    }
                }
                if dropped > 0 {
                    shared.session_records_dropped(dropped, "write failed");
                }
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
        for reply in self.release {
            let _ = reply.send(release::run(state));
        }
    }
}

pub(crate) fn unix_millis() -> u64 {
    u64::try_from(unix_nanos(model::now()) / 1_000_000)
        .unwrap_or(1)
        .max(1)
}

/// One group commit. The SQLite write lock is taken first, so the "is this blob known?" answers
/// stay true until the commit even with writers in other processes.
fn commit(
    state: &mut WriterState,
    caps: &[PendingCapture],
    sessions: &[PendingSession],
    shared: &Shared,
) -> Result<Committed> {
    let mut appended = false;
    let result = commit_inner(state, caps, sessions, &mut appended);
    match result {
        Ok(done) => {
            shared.commits.fetch_add(1, Ordering::Relaxed);
            shared.pending_jobs.fetch_add(done.jobs, Ordering::Relaxed);
            if state.cfg.forwards() {
                shared
                    .unforwarded_rows
                    .fetch_add(done.new_rows, Ordering::Relaxed);
                shared
                    .unforwarded_bytes
                    .fetch_add(done.new_bytes, Ordering::Relaxed);
            }
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
            state.tail = None; // its new entries may have been rolled back
            if matches!(e, StoreError::Sqlite(_) | StoreError::Full { .. }) {
                state.conn = None; // reopen: never trust a connection whose commit failed
            }
            state.seal_abandoned();
            if appended {
                // Durable in the journal but not indexed: leave those records to recovery (at
                // the next open) instead of appending after them and skipping them.
                state.segment = None;
            }
            Err(e)
        }
    }
}

/// A distinct message of the batch: where its blob is and how many of the batch's captures
/// (and of their new sightings) it has.
struct BatchBlob {
    /// The first capture of this message in the batch.
    first: usize,
    /// Already stored live, or else appended in this batch at `rel` in the batch buffer (a
    /// purged blob is stored again: `revive` is its existing key).
    place: Place,
    captures: i64,
    /// Its key once indexed.
    key: i64,
    /// Sightings actually inserted (a retried sighting id is not).
    inserted: i64,
}

enum Place {
    Known,
    New { rel: u64, revive: Option<i64> },
}

/// What one committed batch did, beyond answering its captures.
#[derive(Debug, Default)]
struct Committed {
    done: Vec<Captured>,
    /// Per session record of the batch: whether it was stored (`false`: an ingest of a record
    /// already stored, skipped).
    sessions: Vec<bool>,
    jobs: u64,
    /// New sighting and session rows, and the raw bytes of the new sightings (forwarding counts).
    new_rows: i64,
    new_bytes: i64,
}

fn commit_inner(
    state: &mut WriterState,
    caps: &[PendingCapture],
    sessions: &[PendingSession],
    appended: &mut bool,
) -> Result<Committed> {
    let now = unix_nanos(model::now());
    let jobs = state.cfg.analysis_jobs;
    let conn = state.take_conn()?;
    let mut buf = std::mem::take(&mut state.buf);
    buf.clear();
    let mut tail = state.tail.take();
    let outcome = (|| {
        let tx = WriteTx::begin(&conn)?;
        TailKeys::sync(&mut tail, &conn)?;
        let keys = tail.as_mut().ok_or(StoreError::Closed)?;
        let mut ix = Indexer::new(&conn, jobs)?;
        let mut out = Committed::default();
        // 1. Encode the batch: new blobs (known live blobs, or earlier in this batch, are
        //    duplicates), then every sighting and session record. One lookup per distinct
        //    message, under the write lock, so the answers hold until the commit. An ingested
        //    sighting (or session record) whose id is stored, or earlier in the batch, is a
        //    replay: nothing of it is appended or indexed.
        let mut replays = Replays::new(caps.iter().any(|c| c.ingest));
        let mut in_batch: HashMap<MessageId, usize> = HashMap::with_capacity(caps.len());
        let mut blobs: Vec<BatchBlob> = Vec::with_capacity(caps.len());
        let mut of_cap = Vec::with_capacity(caps.len());
        for (i, c) in caps.iter().enumerate() {
            let id = c.row.message_id;
            if replays.seen(c.row.id, c.ingest, || ix.sighting_seq(&c.row.id))? {
                out.done.push(Captured {
                    message_id: id,
                    sighting_id: c.row.id,
                    duplicate: true,
                    replayed: true,
                });
                of_cap.push(None);
                continue;
            }
            let (b, duplicate) = match in_batch.get(&id) {
                Some(&b) => (b, true),
                None => {
                    let found = match keys.map.get(&id) {
                        Some(&key) => Some((key, ix.is_live(key)?)),
                        None => ix.lookup_keyed(&id)?,
                    };
                    let (place, key) = match found {
                        Some((key, true)) => (Place::Known, key),
                        known => {
                            let rel = segment::encode_record(&mut buf, &id, &c.raw);
                            let revive = known.map(|(key, _)| key);
                            (Place::New { rel, revive }, revive.unwrap_or(0))
                        }
                    };
                    let duplicate = matches!(place, Place::Known);
                    in_batch.insert(id, blobs.len());
                    blobs.push(BatchBlob {
                        first: i,
                        place,
                        captures: 0,
                        key,
                        inserted: 0,
                    });
                    (blobs.len() - 1, duplicate)
                }
            };
            blobs[b].captures += 1;
            segment::encode(
                &mut buf,
                RecordKind::Sighting,
                &c.digest,
                c.row.json.as_bytes(),
            );
            out.done.push(Captured {
                message_id: id,
                sighting_id: c.row.id,
                duplicate,
                replayed: false,
            });
            of_cap.push(Some(b));
        }
        let mut session_ids = std::collections::HashSet::new();
        for s in sessions {
            let replay = s.ingest.is_some()
                && (!session_ids.insert(s.row.id)
                    || index::session_seq(&conn, &s.row.id)?.is_some());
            out.sessions.push(!replay);
            if !replay {
                segment::encode(
                    &mut buf,
                    RecordKind::Session,
                    &s.digest,
                    s.row.json.as_bytes(),
                );
            }
        }
        if buf.is_empty() {
            tx.commit()?; // only replays: nothing to append or index
            return Ok(out);
        }
        // 2. The journal: one append, one fdatasync. From here on the batch survives a crash.
        *appended = true;
        let (segment, base) = state.append_durably(&buf)?;
        // 3. The index, one transaction, no fsync (recovery replays it from the journal). A new
        //    blob is inserted with the batch's sightings already counted; blobs whose count
        //    differs (known blobs, retried sighting ids) get one update each.
        let mut spans = index::SeqSpans::default();
        let mut sensors = SensorTally::default();
        for (i, (c, b)) in caps.iter().zip(&of_cap).enumerate() {
            let Some(b) = *b else { continue };
            let blob = &mut blobs[b];
            if let Place::New { rel, revive } = blob.place
                && blob.first == i
            {
                let new = NewBlob {
                    id: &c.row.message_id,
                    segment: &segment,
                    offset: base + rel,
                    len: c.raw.len() as u64,
                };
                blob.key = match revive {
                    Some(key) => {
                        ix.revive_blob(key, &new)?;
                        key
                    }
                    None => {
                        let key = ix.insert_blob(&new, blob.captures, now)?;
                        keys.insert(c.row.message_id, key);
                        key
                    }
                };
            }
            if let Some(seq) = ix.insert_sighting(&c.row, blob.key, now)? {
                blob.inserted += 1;
                spans.sighting(seq);
                sensors.add(&c.row);
                out.new_rows += 1;
                out.new_bytes += c.row.size;
            } else if let Some(seq) = ix.sighting_seq(&c.row.id)? {
                spans.sighting(seq); // a retried id: this segment holds a record of that row too
            }
        }
        for blob in &blobs {
            let counted = match blob.place {
                Place::New { revive: None, .. } => blob.captures,
                _ => 0,
            };
            if blob.inserted != counted {
                ix.add_sightings(blob.key, blob.inserted - counted, now)?;
            }
        }
        for (s, _) in sessions
            .iter()
            .zip(&out.sessions)
            .filter(|(_, stored)| **stored)
        {
            let (seq, inserted) = index::index_session(&conn, &s.row)?;
            spans.session(seq);
            out.new_rows += i64::from(inserted);
        }
        sensors.write(&conn)?;
        index::set_indexed_upto(&conn, &segment, base + buf.len() as u64, &spans)?;
        keys.index_if(&conn, index::KEY_BATCH)?;
        out.jobs = ix.finish()?;
        tx.commit()?;
        Ok(out)
    })();
    state.buf = buf;
    state.conn = Some(conn);
    if outcome.is_ok() {
        state.tail = tail;
    }
    outcome.map_err(|e: StoreError| match e {
        StoreError::Sqlite(e) => StoreError::sqlite(e),
        other => other,
    })
}

/// Sighting ids of the batch so far, kept only when the batch holds an ingest.
struct Replays {
    ids: Option<std::collections::HashSet<uuid::Uuid>>,
}

impl Replays {
    fn new(any_ingest: bool) -> Self {
        Self {
            ids: any_ingest.then(std::collections::HashSet::new),
        }
    }

    /// Whether sighting `id` is a replay: an ingest whose id is earlier in the batch or
    /// `stored` (looked up only for ingests). Records every id of the batch.
    fn seen(
        &mut self,
        id: uuid::Uuid,
        ingest: bool,
        stored: impl FnOnce() -> Result<Option<i64>>,
    ) -> Result<bool> {
        let Some(ids) = self.ids.as_mut() else {
            return Ok(false);
        };
        let earlier = !ids.insert(id);
        Ok(ingest && (earlier || stored()?.is_some()))
    }
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

    fn pending(raw: &[u8], sighting_id: uuid::Uuid) -> (super::PendingCapture, Receiver) {
        let mut s = sighting(raw);
        s.id = sighting_id;
        s.size = raw.len() as u64;
        let json = serde_json::to_string(&s).expect("json");
        let (reply, rx) = tokio::sync::oneshot::channel();
        let p = super::PendingCapture {
            digest: crate::segment::digest(json.as_bytes()),
            row: crate::index::SightingRow::new(&s, json),
            raw: raw.to_vec(),
            ingest: false,
            reply,
        };
        (p, rx)
    }

    type Receiver = tokio::sync::oneshot::Receiver<crate::error::Result<crate::Captured>>;

    /// One batch with every kind of blob place: new, new twice, a retried sighting id, a known
    /// blob (with a retry of its earlier sighting), a purged blob stored again. The refcounts,
    /// job count and duplicate flags must come out as if every capture were indexed alone.
    #[test]
    fn a_mixed_batch_counts_sightings_and_jobs_exactly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = StoreConfig::new(dir.path());
        std::fs::create_dir_all(cfg.spool_dir()).expect("spool");
        let mut conn = crate::schema::connect(&cfg, false).expect("connect");
        crate::schema::migrate(&mut conn).expect("migrate");
        let mut state = super::WriterState::new(cfg, conn);
        let shared = super::Shared::default();
        let (x, y, z) = (b"x".as_slice(), b"y".as_slice(), b"z".as_slice());
        let ids: Vec<uuid::Uuid> = (0..7).map(|_| uuid::Uuid::now_v7()).collect();
        let run = |state: &mut super::WriterState, caps: Vec<(&[u8], usize)>| {
            let caps: Vec<_> = caps
                .into_iter()
                .map(|(r, i)| pending(r, ids[i]).0)
                .collect();
            super::commit(state, &caps, &[], &shared)
                .expect("commit")
                .done
                .iter()
                .map(|c| c.duplicate)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(&mut state, vec![(z, 1)]), [false]);
        let dups = run(
            &mut state,
            vec![(x, 2), (x, 3), (y, 4), (y, 4), (z, 5), (z, 1)],
        );
        assert_eq!(dups, [false, true, false, true, true, true]);
        state
            .conn()
            .expect("conn")
            .execute(
                "UPDATE blobs SET segment = NULL, offset = NULL, purged_at = 1 WHERE sha256 = ?1",
                [&MessageId::of(x).as_bytes()[..]],
            )
            .expect("purge");
        assert_eq!(run(&mut state, vec![(x, 6), (x, 2)]), [false, true]);
        let conn = state.conn().expect("conn");
        let counts: Vec<(i64, i64, bool)> = conn
            .prepare(
                "SELECT refcount, (SELECT count(*) FROM sightings s WHERE s.blob = b.id),
                        segment IS NOT NULL
                 FROM blobs b ORDER BY id",
            )
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        // z, x, y in order of first arrival; x revived by its last capture.
        assert_eq!(counts, [(2, 2, true), (3, 3, true), (1, 1, true)]);
        let jobs: i64 = conn
            .query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))
            .expect("jobs");
        assert_eq!(jobs, 6);
        assert_eq!(
            shared
                .pending_jobs
                .load(std::sync::atomic::Ordering::Relaxed),
            6
        );
    }

    /// Ingests replaying a sighting id earlier in the same batch, or already stored, append
    /// nothing and create no job; a plain capture of a stored id is indexed once, as before.
    #[test]
    fn an_ingest_replayed_within_one_batch_is_stored_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = StoreConfig::new(dir.path());
        std::fs::create_dir_all(cfg.spool_dir()).expect("spool");
        let mut conn = crate::schema::connect(&cfg, false).expect("connect");
        crate::schema::migrate(&mut conn).expect("migrate");
        let mut state = super::WriterState::new(cfg, conn);
        let shared = super::Shared::default();
        let (a, b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let ingest = |raw: &[u8], id| {
            let mut p = pending(raw, id).0;
            p.ingest = true;
            p
        };
        let caps = vec![ingest(b"x", a), ingest(b"x", a), ingest(b"y", b)];
        let done = super::commit(&mut state, &caps, &[], &shared).expect("commit");
        let flags: Vec<_> = done
            .done
            .iter()
            .map(|c| (c.duplicate, c.replayed))
            .collect();
        assert_eq!(flags, [(false, false), (true, true), (false, false)]);
        assert_eq!(done.jobs, 2);
        let len = state.segment.as_ref().expect("segment").len;
        // Stored already: the whole batch is replays, nothing is appended.
        let again = vec![ingest(b"x", a), ingest(b"y", b)];
        let done = super::commit(&mut state, &again, &[], &shared).expect("commit");
        assert!(done.done.iter().all(|c| c.replayed));
        assert_eq!(state.segment.as_ref().expect("segment").len, len);
        let conn = state.conn().expect("conn");
        let counts: (i64, i64, i64) = conn
            .query_row(
                "SELECT (SELECT count(*) FROM sightings), (SELECT count(*) FROM jobs),
                        (SELECT sum(refcount) FROM blobs)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("counts");
        assert_eq!(counts, (2, 2, 2));
    }

    /// The durability ordering: a ticket resolves only after its bytes are fdatasynced. When the
    /// fdatasync fails the bytes may well be in the file, yet the capture is refused, and no
    /// recovery (reopen) may bring it back.
    #[test]
    fn a_capture_whose_fdatasync_fails_is_refused_and_never_replayed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = StoreConfig::new(dir.path());
        cfg.min_free_bytes = 0;
        let store = Store::open(cfg.clone()).expect("open");
        let ok = b"acknowledged before the failure".to_vec();
        store
            .capture(ok.clone(), sighting(&ok))
            .wait()
            .expect("capture");

        fault::fail_sync_under(dir.path());
        let lost = b"appended, but its fdatasync failed".to_vec();
        let err = store.capture(lost.clone(), sighting(&lost)).wait();
        assert!(matches!(err, Err(StoreError::WriteFailed(_))), "{err:?}");
        assert_eq!(store.pressure(), Pressure::Failed);
        assert_eq!(
            store.raw(&MessageId::of(&lost)).expect("raw"),
            RawLookup::Unknown
        );
        fault::heal(dir.path());
        store.close().expect("close");

        let store = Store::open(cfg).expect("reopen");
        assert_eq!(
            store.raw(&MessageId::of(&lost)).expect("raw"),
            RawLookup::Unknown,
            "a refused capture came back from the journal"
        );
        assert_eq!(
            store.raw(&MessageId::of(&ok)).expect("raw"),
            RawLookup::Found(ok)
        );
        let stats = store.stats().expect("stats");
        assert_eq!((stats.sightings, stats.pending_jobs), (1, 1));
        assert!(store.verify().expect("verify").is_ok());
    }

    /// Even if cutting the failed append off the file fails too, the void mark keeps recovery
    /// from replaying it.
    #[test]
    fn a_void_mark_keeps_a_failed_batch_out_of_recovery() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = StoreConfig::new(dir.path());
        let store = Store::open(cfg.clone()).expect("open");
        let ok = b"kept".to_vec();
        store
            .capture(ok.clone(), sighting(&ok))
            .wait()
            .expect("capture");
        store.close().expect("close");
        // Simulate a failed batch whose bytes stayed in the file: append a whole capture and mark
        // it void from where it starts.
        let seg = std::fs::read_dir(dir.path().join("spool"))
            .expect("spool")
            .next()
            .expect("segment")
            .expect("entry");
        let name = seg.file_name().to_string_lossy().into_owned();
        let from = seg.metadata().expect("meta").len();
        let ghost = b"never acknowledged".to_vec();
        let json = serde_json::to_string(&sighting(&ghost)).expect("json");
        let mut buf = Vec::new();
        crate::segment::encode_record(&mut buf, &MessageId::of(&ghost), &ghost);
        crate::segment::encode(
            &mut buf,
            crate::segment::RecordKind::Sighting,
            &crate::segment::digest(json.as_bytes()),
            json.as_bytes(),
        );
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(seg.path())
            .expect("open");
        std::io::Write::write_all(&mut f, &buf).expect("write");
        let conn = crate::schema::connect(&cfg, false).expect("connect");
        crate::index::set_void_from(&conn, &name, from).expect("void");
        drop(conn);

        let store = Store::open(cfg).expect("reopen");
        assert_eq!(
            store.raw(&MessageId::of(&ghost)).expect("raw"),
            RawLookup::Unknown
        );
        assert_eq!(std::fs::metadata(seg.path()).expect("meta").len(), from);
        assert_eq!(store.stats().expect("stats").sightings, 1);
        assert!(store.verify().expect("verify").is_ok());
    }

    /// Session records in a batch that fails are lost: they are counted as dropped, not silent.
    #[test]
    fn session_records_of_a_failed_batch_are_counted_as_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = StoreConfig::new(dir.path());
        cfg.min_free_bytes = 0;
        let store = Store::open(cfg).expect("open");
        fault::fail_under(dir.path());
        let json = serde_json::json!({
            "id": uuid::Uuid::now_v7(), "started_at": "2026-01-01T00:00:00Z",
            "ended_at": "2026-01-01T00:00:01Z", "listener": "smtp", "peer": "192.0.2.1:1",
            "local": "192.0.2.2:25", "helo": null, "tls": null, "auth_attempts": [],
            "anomalies": [], "sightings": [], "commands": 1, "errors": 0, "end": "quit",
            "transcript": {"lines": []}
        });
        let record: model::SessionRecord = serde_json::from_value(json).expect("record");
        store.record_session(record.clone());
        assert!(store.flush().is_err());
        fault::heal(dir.path());
        assert_eq!(store.dropped_session_records(), 1);
        store.flush().expect("flush");
        assert_eq!(store.session(record.id).expect("read"), None);
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
