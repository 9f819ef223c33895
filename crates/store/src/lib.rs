//! Durable capture for spamhattan: a content-addressed raw-message spool that is also the
//! write-ahead journal, a SQLite metadata index and the analysis job queue.
//!
//! # Journal-first: where the durability guarantee lives
//!
//! [`Store::capture`] hands a raw message and its [`model::Sighting`] to one writer thread. The
//! writer drains everything queued (group commit) and, per batch:
//!
//! 1. appends to its own segment file the new blobs (a blob already stored, or earlier in the
//!    batch, is not appended again) and one *sighting record* per capture (the sighting JSON,
//!    which implies its analysis job), plus *session records*; every record carries the SHA-256
//!    of its payload;
//! 2. calls `fdatasync` **once**. This is the single durability point: from here on the batch
//!    survives `kill -9` and power loss;
//! 3. indexes the batch into SQLite in one transaction, including the segment's
//!    `indexed_upto` offset, with `synchronous=NORMAL` (WAL: the commit does not fsync). The
//!    per-message statements (one dedup lookup per distinct message, then plain inserts: blob,
//!    sighting, job) are prepared once per batch and need no SQLite statement journal: no
//!    triggers, no AUTOINCREMENT, no UPSERT or `RETURNING` on this path (schema v3). No
//!    random index page per message either (schema v4): `blobs` rows append by integer id and
//!    the hash → id table `blob_keys` is filled lazily, every [`BLOB_KEY_BATCH`] new blobs (or
//!    when the writer is idle), in one insert sorted by hash, up to the mark
//!    `counters.sha_indexed_upto`. Every lookup by hash (dedup, recovery, `raw`, `sightings`,
//!    verify) reads `blob_keys` and then the unindexed tail (`blobs.id` above the mark, a short
//!    rowid range scan; the writer keeps that tail in memory, reloaded under its write lock);
//! 4. only then resolves each [`CaptureTicket`], so the trap's `250` follows both the fsync and
//!    the commit, and a reader in any process sees the message once its `250` is sent.
//!
//! Why: SQLite with `synchronous=FULL` fsynced ~1.5 MB of WAL per batch (random index pages),
//! while a sequential append of the same batch is a fraction of a millisecond to sync. The
//! index may now lose its last commits in a power cut; the journal re-creates them:
//! **recovery** at [`Store::open`] scans every segment no live writer holds (the writer keeps an
//! exclusive `flock` on its current segment) from its `indexed_upto`, re-checks each record's
//! hash, indexes every complete record idempotently (blob hash and sighting id are unique keys;
//! blobs of all segments before sightings, since a duplicate may name a blob another writer
//! appended), and cuts a torn tail off (it was never acknowledged). A batch whose append or
//! fdatasync fails is answered with errors (never success), cut off the file and marked void
//! (`segments.void_from`), so recovery never replays what was refused; the writer moves to a
//! new segment and [`Store::pressure`] says `Failed`. (When neither the cut nor the mark can be
//! written, as on a file system that just turned read-only, the refused batch may be replayed
//! at the next open: a message answered `451` may turn up, one answered `250` never goes
//! missing.) The writer's queue is bounded ([`MAX_QUEUED_COMMANDS`]): when it is full a capture
//! fails at once and a session record is dropped and counted. What the journal cannot replay (retention
//! purging blobs and deleting segments, migrations) commits with `synchronous=FULL`.
//!
//! Identical messages share one blob (their id is the SHA-256 of the bytes) and get one
//! sighting each. Job ids come from a stored high-water mark and are never reused, so a late
//! `complete_job` cannot delete a newer job. The pending-job count behind [`Store::pressure`]
//! lives in memory (counted at open, kept by the writer and `complete_job`, recounted at every
//! disk probe to pick up other processes' work); [`Store::job_depth`] and [`Store::stats`]
//! count rows. Several processes may open one data directory (`serve` plus CLI `import`):
//! each writer appends to its own locked segments, holds the SQLite write lock from its dedup
//! lookups to its commit, readers use their own connections.
//!
//! Layout: `config.rs` (configuration, named limits), `error.rs` ([`StoreError`]), `schema.rs`
//! (connections, pragmas, migrations), `segment.rs` (record format, append/scan), `index.rs`
//! (indexing records, shared by writer and recovery), `writer.rs` (the group-commit thread),
//! `recovery.rs` (journal replay), `query.rs` (reads, stats), `usage.rs` (scrape-cheap
//! figures, no table scans), `verify.rs`, `retention.rs`,
//! `jobs.rs`, `disk.rs` (free space), `reports.rs` (reports, indicator index), `campaigns.rs`
//! (the clustering transaction), `campaign_read.rs` (campaign records), `alerts.rs` (alerts and
//! their delivery outbox), `seeds.rs` (seeds and bait visits, schema v10; reads in
//! `seeds_read.rs`, attribution at report save in `attribution.rs`), `domains.rs` (per trap
//! domain statistics; summed per configured domain in `domain_report.rs`), `ingest.rs`
//! (a collector's idempotent [`Store::ingest`] and [`Store::ingest_session`]: a redelivered id
//! appends nothing), `sensors.rs` (the sensors a collector heard from, schema v11),
//! `forward.rs` (a sensor's outbox, forward marks and unforwarded count, behind
//! [`StoreConfig::max_spool_bytes`]), `release.rs` (freeing what was forwarded, reusing
//! retention's segment deletion). On disk: `spamhattan.sqlite` (+ `-wal`, `-shm`) and
//! `spool/seg-<unix nanos>-<pid>.dat`.
//!
//! # Sensors and collectors
//!
//! A sensor's store is its durable spool: [`StoreConfig::analysis_jobs`] off, captures are
//! handed out in `seq` order by [`Store::outbox`], marked with [`Store::mark_forwarded`] once
//! the bus acknowledged them, and [`Store::release_forwarded`] deletes what was forwarded (a
//! sensor keeps no history). A collector stores what arrives with [`Store::ingest`], so a
//! redelivery is a replay, not a second sighting, and counts each sensor's sightings.

mod accounts;
mod alerts;
mod attribution;
mod campaign_read;
mod campaigns;
mod config;
mod disk;
mod domain_report;
mod domains;
mod error;
mod forward;
mod handoff;
mod index;
mod ingest;
mod intel;
mod jobs;
mod pg;
mod query;
mod recovery;
mod release;
mod reports;
mod retention;
mod schema;
mod search;
mod seeds;
mod seeds_read;
mod segment;
mod sensors;
mod usage;
mod verify;
mod writer;

pub use accounts::{MAX_ACCOUNT_NAME, Role, Token, User, WebSession, valid_account_name};
pub use alerts::{AlertRecord, Attempt, Delivery, DeliveryState, MAX_ERROR_CHARS};
pub use attribution::MAX_SEEDS_PER_MESSAGE;
pub use campaign_read::{CampaignQuery, FACET_VALUES_SHOWN, Member};
pub use campaigns::{
    CampaignTx, DORMANT_AFTER, MAX_FACET_VALUES, MAX_POSTING, MAX_RATE_POINTS, NEW_FOR,
    Unclustered, severity_rank,
};
pub use config::{
    DISK_PROBE_INTERVAL, FAILED_HOLD, LOG_REPEAT_EVERY, MAX_MESSAGE_BYTES, MAX_QUEUED_BYTES,
    MAX_QUEUED_COMMANDS, PgConfig, Retention, StoreConfig,
};
pub use domain_report::{DomainReport, DomainSummary, MAX_FIRST_LOOKUPS, MAX_REPORT_DAYS};
pub use domains::{MAX_SENSOR, MAX_STAT_DOMAINS};
pub use error::StoreError;
pub use forward::{ForwardMarks, Outgoing, Unforwarded};
pub use index::KEY_BATCH as BLOB_KEY_BATCH;
pub use ingest::SessionTicket;
pub use intel::{BRIEF_FACET_VALUES, IntelCursor};
pub use jobs::{Claimed, Job};
pub use pg::schema::PG_SCHEMA_VERSION;
pub use query::{SightingQuery, StoreStats};
pub use release::ReleaseReport;
pub use reports::{IndicatorQuery, IndicatorRecord, ReportSave};
pub use retention::RetentionReport;
pub use schema::SCHEMA_VERSION;
pub use search::{
    Count, DASHBOARD_TOP, Dashboard, HourVolume, MAX_DASHBOARD_HOURS, MAX_INDEXED_BODY,
    MAX_INDEXED_FILENAMES, MAX_PAGE, MAX_TERM_BYTES, MAX_TERMS, MessageFilter, MessageRow,
    fts_phrase,
};
pub use seeds::{
    CampaignUse, DomainStats, HarvesterDetail, HarvesterRow, MAX_DETAIL_ROWS, MAX_MINT,
    MAX_SEED_ADDRESS, MAX_SEED_PAGE, SeedAttribution, SeedDetail, SeedFilter, SeedHit, SeedRecord,
};
pub use seeds_read::MAX_DETAIL_SCAN;
pub use segment::{
    HEADER_LEN, RECORD_MAGIC, RecordKind, SESSION_MAGIC, SIGHTING_MAGIC, ScannedRecord,
    SegmentScan, scan_segment,
};
pub use sensors::SensorRow;
pub use usage::{MAX_COUNTED_JOBS, StoreUsage};
pub use verify::VerifyReport;

use error::Result;
use model::{MessageId, SessionRecord, Sighting, Timestamp};
use rusqlite::Connection;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::oneshot;
use writer::{Cmd, PendingCapture, PendingSession, Shared};

/// Read connections kept for reuse; more concurrent readers just open (and drop) extra ones.
const MAX_IDLE_READERS: usize = 4;

/// A handle to an open store. Cheap to clone; the writer stops when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cfg: StoreConfig,
    /// Bounded ([`StoreConfig::queue_capacity`]): hot-path producers use `try_send`.
    tx: mpsc::SyncSender<Cmd>,
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    jobs: Mutex<Option<Connection>>,
    /// The PostgreSQL store (`cfg.postgres`); the SQLite fields above are then unused.
    pg: Option<Arc<pg::Pg>>,
}

/// The outcome of a durable capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Captured {
    pub message_id: MessageId,
    pub sighting_id: uuid::Uuid,
    /// The blob was already stored (this arrival only added a sighting), or (with `replayed`)
    /// the sighting itself was.
    pub duplicate: bool,
    /// [`Store::ingest`] only: this sighting id was stored already (a redelivery); nothing was
    /// appended and no job created.
    pub replayed: bool,
}

/// Raw bytes of a message, or why there are none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawLookup {
    Found(Vec<u8>),
    /// Known, but retention removed the raw bytes (sightings remain).
    Purged,
    Unknown,
}

/// What the trap should know before accepting more mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pressure {
    Normal,
    /// More pending analysis jobs than `max_backlog`.
    Backlog,
    /// Less free disk than `min_free_bytes`, or more unforwarded bytes than `max_spool_bytes`.
    Disk,
    /// The last batch failed to write (within [`FAILED_HOLD`]): captures will likely fail too.
    Failed,
}

/// Resolves when a capture is durable (or failed). Await it, or [`CaptureTicket::wait`].
#[derive(Debug)]
#[must_use = "the message is not safe to acknowledge until the ticket resolves"]
pub struct CaptureTicket {
    rx: oneshot::Receiver<Result<Captured>>,
}

impl CaptureTicket {
    fn failed(e: StoreError) -> Self {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(Err(e));
        Self { rx }
    }

    /// Blocks the thread until the capture is durable. For synchronous callers (CLI import);
    /// inside an async runtime `.await` the ticket instead (tokio panics on blocking there).
    pub fn wait(self) -> Result<Captured> {
        self.rx.blocking_recv().unwrap_or(Err(StoreError::Closed))
    }
}

impl Future for CaptureTicket {
    type Output = Result<Captured>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(StoreError::Closed)))
    }
}

impl Store {
    /// Opens (creating if needed) the store in `cfg.data_dir`, migrates the schema and starts
    /// the writer thread.
    ///
    /// A damaged index (not a database, or malformed: SQLite's own checks when it opens it) is
    /// refused with [`StoreError::Corrupt`], naming the file and the way out; nothing is
    /// changed. A missing or empty index next to a spool that holds segments is rebuilt from the
    /// journal (messages, sightings, sessions and their jobs), with a warning: the journal has no
    /// reports, campaigns, accounts or alerts. A spool directory that cannot be written to (a
    /// read-only mount) is refused here too, so `serve` never announces readiness only to answer
    /// every message with `451`.
    pub fn open(cfg: StoreConfig) -> Result<Store> {
        if let Some(pgc) = cfg.postgres.clone() {
            return Self::open_pg(cfg, &pgc);
        }
        let spool = cfg.spool_dir();
        std::fs::create_dir_all(&spool).map_err(|e| StoreError::io(&spool, e))?;
        probe_writable(&spool)?;
        let fresh_index = disk::file_bytes(&cfg.db_path()) == 0;
        let mut conn = schema::connect(&cfg, false).map_err(|e| damaged_index(&cfg, e))?;
        schema::migrate(&mut conn).map_err(|e| damaged_index(&cfg, e))?;
        let recovered = recovery::run(&mut conn, &spool, cfg.analysis_jobs)
            .map_err(|e| damaged_index(&cfg, e))?;
        if fresh_index && recovered.segments > 0 {
            tracing::warn!(
                segments = recovered.segments,
                messages = recovered.blobs,
                sightings = recovered.sightings,
                sessions = recovered.sessions,
                "the index was missing or empty: messages, sightings and sessions were rebuilt \
                 from the spool journal; reports, campaigns, accounts and alerts are not in it"
            );
        }
        let shared = Arc::new(Shared::default());
        shared
            .pending_jobs
            .store(jobs::depth(&conn)?, Ordering::Relaxed);
        let (rows, bytes) = forward::count_at_open(&conn, &cfg)?;
        shared.unforwarded_rows.store(rows, Ordering::Relaxed);
        shared.unforwarded_bytes.store(bytes, Ordering::Relaxed);
        shared.disk_free.store(
            disk::free_bytes(&cfg.data_dir).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        let (tx, rx) = mpsc::sync_channel(cfg.queue_capacity.max(1));
        let state = writer::WriterState::new(cfg.clone(), conn);
        let thread_shared = shared.clone();
        let handle = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer::run(state, rx, thread_shared))
            .map_err(|e| StoreError::io(&cfg.data_dir, e))?;
        let inner = Inner {
            cfg,
            tx,
            shared,
            writer: Mutex::new(Some(handle)),
            readers: Mutex::new(Vec::new()),
            jobs: Mutex::new(None),
            pg: None,
        };
        Ok(Store {
            inner: Arc::new(inner),
        })
    }

    /// [`Store::open`] for `cfg.postgres`: connects, migrates, starts the PostgreSQL writer.
    /// Nothing is written to `cfg.data_dir`.
    fn open_pg(cfg: StoreConfig, pgc: &PgConfig) -> Result<Store> {
        let pg = Arc::new(pg::Pg::open(pgc)?);
        let shared = Arc::new(Shared::default());
        let depth = pg.with(pg::usage::job_count)?;
        shared.pending_jobs.store(depth, Ordering::Relaxed);
        // The database's disk is the server's: `min_free_bytes` does not apply here.
        shared.disk_free.store(u64::MAX, Ordering::Relaxed);
        let (tx, rx) = mpsc::sync_channel(cfg.queue_capacity.max(1));
        let (thread_pg, thread_cfg, thread_shared) = (pg.clone(), cfg.clone(), shared.clone());
        let handle = std::thread::Builder::new()
            .name("store-writer-pg".into())
            .spawn(move || pg::writer::run(thread_pg, thread_cfg, rx, thread_shared))
            .map_err(|e| StoreError::io(&cfg.data_dir, e))?;
        let inner = Inner {
            cfg,
            tx,
            shared,
            writer: Mutex::new(Some(handle)),
            readers: Mutex::new(Vec::new()),
            jobs: Mutex::new(None),
            pg: Some(pg),
        };
        Ok(Store {
            inner: Arc::new(inner),
        })
    }

    /// Whether this store is PostgreSQL-backed.
    pub fn is_postgres(&self) -> bool {
        self.inner.pg.is_some()
    }

    pub fn config(&self) -> &StoreConfig {
        &self.inner.cfg
    }

    /// Queues a message for durable capture; never blocks. `sighting.message_id` must be the
    /// SHA-256 of `raw` (checked here, on the caller's thread, as are the JSON encoding and its
    /// checksum, so the single writer only does I/O). `sighting.size` is set to `raw.len()`.
    pub fn capture(&self, raw: Vec<u8>, sighting: Sighting) -> CaptureTicket {
        self.queue_capture(raw, sighting, false)
    }

    /// [`Store::capture`] and [`Store::ingest`]: the checks on the caller's thread, then the queue.
    fn queue_capture(&self, raw: Vec<u8>, mut sighting: Sighting, ingest: bool) -> CaptureTicket {
        if raw.len() > MAX_MESSAGE_BYTES {
            let (size, limit) = (raw.len() as u64, MAX_MESSAGE_BYTES as u64);
            return CaptureTicket::failed(StoreError::TooLarge { size, limit });
        }
        let actual = MessageId::of(&raw);
        if actual != sighting.message_id {
            let claimed = sighting.message_id;
            return CaptureTicket::failed(StoreError::IdMismatch { claimed, actual });
        }
        sighting.size = raw.len() as u64;
        let json = match serde_json::to_string(&sighting) {
            Ok(json) => json,
            Err(e) => return CaptureTicket::failed(StoreError::corrupt(format!("sighting: {e}"))),
        };
        let queued = &self.inner.shared.queued_bytes;
        if queued.fetch_add(raw.len() as u64, Ordering::Relaxed) + raw.len() as u64
            > MAX_QUEUED_BYTES
        {
            queued.fetch_sub(raw.len() as u64, Ordering::Relaxed);
            let detail = format!("more than {MAX_QUEUED_BYTES} bytes wait for the disk");
            return CaptureTicket::failed(StoreError::Full { detail });
        }
        let (reply, rx) = oneshot::channel();
        let pending = PendingCapture {
            digest: segment::digest(json.as_bytes()),
            row: index::SightingRow::new(&sighting, json),
            raw,
            ingest,
            reply,
        };
        // `try_send`: a full queue means the writer is stuck; the session answers `451` now
        // instead of parking a tokio worker thread on the channel.
        match self.inner.tx.try_send(Cmd::Capture(Box::new(pending))) {
            Ok(()) => CaptureTicket { rx },
            Err(e) => {
                let full = matches!(e, mpsc::TrySendError::Full(_));
                if let mpsc::TrySendError::Full(Cmd::Capture(p))
                | mpsc::TrySendError::Disconnected(Cmd::Capture(p)) = e
                {
                    queued.fetch_sub(p.raw.len() as u64, Ordering::Relaxed);
                }
                CaptureTicket::failed(if full {
                    let capacity = self.inner.cfg.queue_capacity;
                    StoreError::Full {
                        detail: format!("{capacity} commands already wait for the store writer"),
                    }
                } else {
                    StoreError::Closed
                })
            }
        }
    }

    /// Queues a session record; never blocks. Durable with the next batch (use [`Store::flush`]
    /// to wait); a failure is logged by the writer.
    ///
    /// Session records are the first thing given up when the store is in trouble, so that they
    /// never stand between the trap and the mail it is there for: a record is dropped (counted
    /// in [`Store::dropped_session_records`], with a warning at most every
    /// [`config::LOG_REPEAT_EVERY`]) when the writer's queue is full, when free disk is below
    /// `min_free_bytes` (every connection of a flood would otherwise still write a row while
    /// MAIL is refused) unless the session had a message stored (its sighting names it), or
    /// when the batch that carries it fails.
    pub fn record_session(&self, record: SessionRecord) {
        let shared = &self.inner.shared;
        if record.sightings.is_empty()
            && shared.disk_free.load(Ordering::Relaxed) < self.inner.cfg.min_free_bytes
        {
            shared.session_records_dropped(1, "free disk below min_free_bytes");
            return;
        }
        match serde_json::to_string(&record) {
            Ok(json) => {
                let row = PendingSession {
                    digest: segment::digest(json.as_bytes()),
                    row: index::SessionRow::new(&record, json),
                    ingest: None,
                };
                match self.inner.tx.try_send(Cmd::Session(Box::new(row))) {
                    Ok(()) => {}
                    Err(mpsc::TrySendError::Full(_)) => {
                        shared.session_records_dropped(1, "store queue full");
                    }
                    Err(mpsc::TrySendError::Disconnected(_)) => {
                        shared.session_records_dropped(1, "store closed");
                    }
                }
            }
            Err(e) => {
                tracing::warn!(session = %record.id, error = %e, "session record not encodable")
            }
        }
    }

    /// Session records dropped by this process since the store was opened (see
    /// [`Store::record_session`]): a counter for metrics.
    pub fn dropped_session_records(&self) -> u64 {
        self.inner.shared.sessions_dropped.load(Ordering::Relaxed)
    }

    /// Blocks until everything queued before this call is durable. Errs if that batch failed.
    pub fn flush(&self) -> Result<()> {
        let (reply, rx) = mpsc::channel();
        self.inner
            .tx
            .send(Cmd::Flush(reply))
            .map_err(|_| StoreError::Closed)?;
        rx.recv().unwrap_or(Err(StoreError::Closed))
    }

    /// Cheap backpressure check for the SMTP hot path: atomics refreshed by the writer. A
    /// sensor over its spool budget ([`StoreConfig::max_spool_bytes`], unforwarded raw bytes)
    /// says `Disk` too, so the trap refuses MAIL (`452`) until the bus catches up. The
    /// backlog is this process's count: jobs another process on the same directory created or
    /// completed show up at the writer's next recount ([`DISK_PROBE_INTERVAL`], after a batch).
    pub fn pressure(&self) -> Pressure {
        let shared = &self.inner.shared;
        let failed_at = shared.failed_at_ms.load(Ordering::Relaxed);
        let now_ms = u64::try_from(unix_nanos(model::now()) / 1_000_000).unwrap_or(0);
        if failed_at != 0 && now_ms.saturating_sub(failed_at) < FAILED_HOLD.as_millis() as u64 {
            return Pressure::Failed;
        }
        if shared.disk_free.load(Ordering::Relaxed) < self.inner.cfg.min_free_bytes {
            return Pressure::Disk;
        }
        if let Some(max) = self.inner.cfg.max_spool_bytes
            && shared.unforwarded_bytes.load(Ordering::Relaxed)
                > i64::try_from(max).unwrap_or(i64::MAX)
        {
            return Pressure::Disk;
        }
        if shared.pending_jobs.load(Ordering::Relaxed) > self.inner.cfg.max_backlog {
            return Pressure::Backlog;
        }
        Pressure::Normal
    }

    pub fn raw(&self, id: &MessageId) -> Result<RawLookup> {
        let spool = self.inner.cfg.spool_dir();
        self.on_conn(
            |conn| query::raw(conn, &spool, id),
            |c| pg::query::raw(c, id),
        )
    }

    pub fn sightings(&self, q: &SightingQuery) -> Result<Vec<Sighting>> {
        self.on(
            |conn| query::sightings(conn, q),
            |c| pg::query::sightings(c, q),
        )
    }

    pub fn session(&self, id: uuid::Uuid) -> Result<Option<SessionRecord>> {
        self.on(
            |conn| query::session(conn, id),
            |c| pg::query::session(c, id),
        )
    }

    /// Counts every table (see [`StoreStats`]; on PostgreSQL, `pg::query::stats` says what
    /// the segment and file figures mean there).
    pub fn stats(&self) -> Result<StoreStats> {
        let cfg = &self.inner.cfg;
        let mut stats = self.on(
            |conn| query::stats(conn, &cfg.data_dir, &cfg.spool_dir()),
            pg::query::stats,
        )?;
        stats.commits = self.inner.shared.commits.load(Ordering::Relaxed);
        Ok(stats)
    }

    /// Re-hashes every live blob and checks every sighting has a blob (or purge) row.
    pub fn verify(&self) -> Result<VerifyReport> {
        let spool = self.inner.cfg.spool_dir();
        self.on(|conn| verify::run(conn, &spool), pg::verify::run)
    }

    /// Applies the retention budgets now (run it on a timer). Runs on the writer thread.
    pub fn enforce_retention(&self) -> Result<RetentionReport> {
        self.enforce_retention_at(model::now())
    }

    /// [`Store::enforce_retention`] as if the time were `now` (tests, replays).
    pub fn enforce_retention_at(&self, now: Timestamp) -> Result<RetentionReport> {
        let (reply, rx) = mpsc::channel();
        self.inner
            .tx
            .send(Cmd::Retention(now, reply))
            .map_err(|_| StoreError::Closed)?;
        rx.recv().unwrap_or(Err(StoreError::Closed))
    }

    /// Claims the next analysis job for `lease`; `None` when there is nothing to do.
    pub fn try_claim_job(&self, worker: &str, lease: Duration) -> Result<Option<Job>> {
        self.try_claim_job_at(worker, lease, model::now())
    }

    /// [`Store::try_claim_job`] as if the time were `now`.
    pub fn try_claim_job_at(
        &self,
        worker: &str,
        lease: Duration,
        now: Timestamp,
    ) -> Result<Option<Job>> {
        self.on_conn_mut(
            |conn| jobs::try_claim(conn, worker, lease, now),
            |c| pg::jobs::try_claim(c, worker, lease, now),
        )
    }

    /// Claims up to `max` jobs at once (one statement, one commit): what a worker pool uses so
    /// that claiming does not cost a commit per message.
    pub fn try_claim_jobs(&self, worker: &str, lease: Duration, max: usize) -> Result<Vec<Job>> {
        let now = model::now();
        self.on_conn_mut(
            |conn| jobs::try_claim_many(conn, worker, lease, now, max),
            |c| pg::jobs::try_claim_many(c, worker, lease, now, max),
        )
    }

    /// Claims up to `max` jobs, as [`Store::try_claim_jobs`], each with its sighting and raw
    /// message. On PostgreSQL one statement does all of it: the analysis threads used to read
    /// each job's sighting and raw message with a round trip of their own.
    pub fn claim_messages(
        &self,
        worker: &str,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<Claimed>> {
        if let Some(p) = &self.inner.pg {
            let now = model::now();
            return p.with_conn(|c| pg::jobs::claim_messages(c, worker, lease, now, max));
        }
        self.try_claim_jobs(worker, lease, max)?
            .into_iter()
            .map(|job| {
                Ok(Claimed {
                    sighting: self.sighting(job.sighting_id)?,
                    raw: self.raw(&job.message_id)?,
                    job,
                })
            })
            .collect()
    }

    /// Lets the writer of a PostgreSQL store hand the jobs of what it commits to this
    /// process's analysis threads, up to `capacity` jobs and `max_bytes` of raw messages
    /// queued, leased to `worker` for `lease` (see `handoff.rs`); they take them with
    /// [`Store::take_handed_off`]. Returns false, and does nothing, on SQLite, where a claim is
    /// a local statement.
    pub fn enable_handoff(
        &self,
        worker: &str,
        lease: Duration,
        capacity: usize,
        max_bytes: usize,
    ) -> bool {
        if self.inner.pg.is_none() {
            return false;
        }
        self.inner
            .shared
            .handoff
            .enable(worker, lease, capacity, max_bytes);
        true
    }

    /// Up to `max` jobs the writer handed over, each with its sighting and raw message. Jobs
    /// that waited too long for a thread are given back to the queue instead (`handoff.rs`).
    pub fn take_handed_off(&self, max: usize) -> Result<Vec<Claimed>> {
        let taken = self
            .inner
            .shared
            .handoff
            .take(max, std::time::Instant::now());
        if !taken.stale.is_empty()
            && let Some(p) = &self.inner.pg
        {
            let ids: Vec<i64> = taken.stale.iter().map(|c| c.job.id).collect();
            p.with_conn(|c| pg::jobs::release(c, &ids, &taken.worker))?;
        }
        Ok(taken.fresh)
    }

    /// Stops the handoff and gives the jobs still queued back to the queue at once (their
    /// lease and this attempt undone), instead of when their lease runs out. Returns how
    /// many.
    pub fn close_handoff(&self) -> Result<usize> {
        let (worker, queued) = self.inner.shared.handoff.close();
        if queued.is_empty() {
            return Ok(0);
        }
        let ids: Vec<i64> = queued.iter().map(|c| c.job.id).collect();
        match &self.inner.pg {
            Some(p) => p.with_conn(|c| pg::jobs::release(c, &ids, &worker)),
            None => Ok(0),
        }
    }

    pub fn complete_job(&self, job_id: i64) -> Result<()> {
        let deleted = self.on_conn_mut(
            |conn| jobs::complete(conn, job_id),
            |c| pg::jobs::complete(c, job_id),
        )?;
        if deleted {
            // Saturating: a resync by the writer may already have counted this deletion.
            let _ = self.inner.shared.pending_jobs.fetch_update(
                Ordering::Relaxed,
                Ordering::Relaxed,
                |n| Some(n.saturating_sub(1)),
            );
        }
        Ok(())
    }

    /// Saves analysis reports and their indicators in one transaction, completing their jobs.
    pub fn save_reports(&self, batch: &[ReportSave<'_>]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let now = model::now();
        let completed = match &self.inner.pg {
            Some(p) => p.with_conn(|c| pg::reports::save(c, batch, now))?,
            None => self.with_jobs_mut(|conn| reports::save(conn, batch, now))?,
        };
        let _ = self.inner.shared.pending_jobs.fetch_update(
            Ordering::Relaxed,
            Ordering::Relaxed,
            |n| Some(n.saturating_sub(completed)),
        );
        Ok(())
    }

    /// Live campaigns changed strictly after `after`, in change order (feeds, TAXII).
    pub fn intel_campaigns(
        &self,
        after: Option<IntelCursor>,
        limit: usize,
    ) -> Result<Vec<model::intel::CampaignBrief>> {
        self.on(
            |c| intel::campaigns(c, after, limit),
            |c| pg::intel::campaigns(c, after, limit),
        )
    }

    /// One campaign's brief by id (live or merged).
    pub fn intel_campaign(
        &self,
        id: model::CampaignId,
    ) -> Result<Option<model::intel::CampaignBrief>> {
        self.on(|c| intel::campaign(c, id), |c| pg::intel::campaign(c, id))
    }

    /// One campaign's brief by its public UUID.
    pub fn intel_campaign_by_uuid(
        &self,
        uuid: uuid::Uuid,
    ) -> Result<Option<model::intel::CampaignBrief>> {
        self.on(
            |c| intel::campaign_by_uuid(c, uuid),
            |c| pg::intel::campaign_by_uuid(c, uuid),
        )
    }

    /// Indicators of `kinds` changed strictly after `after`, in change order (feeds, TAXII).
    pub fn intel_indicators(
        &self,
        after: Option<IntelCursor>,
        kinds: &[model::report::IndicatorKind],
        limit: usize,
    ) -> Result<Vec<model::intel::IndicatorRow>> {
        self.on(
            |c| intel::indicators(c, after, kinds, limit),
            |c| pg::intel::indicators(c, after, kinds, limit),
        )
    }

    /// One indicator by its UUID.
    pub fn intel_indicator_by_uuid(
        &self,
        uuid: uuid::Uuid,
    ) -> Result<Option<model::intel::IndicatorRow>> {
        self.on(
            |c| intel::indicator_by_uuid(c, uuid),
            |c| pg::intel::indicator_by_uuid(c, uuid),
        )
    }

    /// Streams the indicators of one campaign (`None`: in no campaign yet) of `kinds` changed
    /// after `since`, in change order, from one read snapshot. Returns how many were passed.
    pub fn for_each_campaign_indicator(
        &self,
        campaign: Option<model::CampaignId>,
        since: Option<Timestamp>,
        kinds: &[model::report::IndicatorKind],
        f: &mut dyn FnMut(model::intel::IndicatorRow) -> Result<()>,
    ) -> Result<u64> {
        // Not `on`: both of its closures would borrow `f` mutably.
        match &self.inner.pg {
            Some(p) => p.with(|c| pg::intel::for_each_of_campaign(c, campaign, since, kinds, f)),
            None => self.read(|c| intel::for_each_of_campaign(c, campaign, since, kinds, f)),
        }
    }

    /// Trap domains mail was accepted for (from the campaigns), at most `max`: feeds must
    /// never name them, even when the configuration no longer lists them.
    pub fn trap_domains_seen(&self, max: usize) -> Result<Vec<String>> {
        self.on(
            |c| intel::trap_domains_seen(c, max),
            |c| pg::intel::trap_domains_seen(c, max),
        )
    }

    /// A feed state value (a submission connector's cursor, say); keys `secret` and
    /// `serial` are the store's own.
    pub fn feed_state(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.on(|c| intel::state(c, key), |c| pg::intel::state(c, key))
    }

    /// Sets a feed state value. The keys `secret` and `serial` are refused.
    pub fn set_feed_state(&self, key: &str, value: &[u8]) -> Result<()> {
        if key == "secret" || key == "serial" {
            return Err(StoreError::corrupt(format!(
                "feed state key {key:?} is reserved"
            )));
        }
        self.on_mut(
            |c| intel::set_state(c, key, value),
            |c| pg::intel::set_state(c, key, value),
        )
    }

    /// The installation secret that keys stable feed ids and pseudonyms (made on first use).
    pub fn feed_secret(&self) -> Result<[u8; 32]> {
        self.on_mut(intel::feed_secret, pg::intel::feed_secret)
    }

    /// The next publication serial (`YYYYMMDDnn`, always increasing).
    pub fn next_feed_serial(&self) -> Result<u32> {
        let now = model::now();
        self.on_mut(
            |c| intel::next_serial(c, now),
            |c| pg::intel::next_serial(c, now),
        )
    }

    /// The report of one sighting, if it was analysed.
    pub fn report(&self, sighting: uuid::Uuid) -> Result<Option<model::Report>> {
        self.on(
            |c| reports::by_sighting(c, sighting),
            |c| pg::reports::by_sighting(c, sighting),
        )
    }

    /// The newest report of a message.
    pub fn report_for_message(&self, message: &MessageId) -> Result<Option<model::Report>> {
        self.on(
            |c| reports::by_message(c, message),
            |c| pg::reports::by_message(c, message),
        )
    }

    /// Indicators, most recently seen first.
    pub fn indicators(&self, q: &IndicatorQuery) -> Result<Vec<IndicatorRecord>> {
        self.on(
            |c| reports::indicators(c, q),
            |c| pg::reports::indicators(c, q),
        )
    }

    /// One indicator with its statistics and up to `sightings` sightings.
    pub fn indicator(
        &self,
        kind: model::report::IndicatorKind,
        value: &str,
        sightings: usize,
    ) -> Result<Option<IndicatorRecord>> {
        self.on(
            |c| reports::indicator(c, kind, value, sightings),
            |c| pg::reports::indicator(c, kind, value, sightings),
        )
    }

    /// Reports per verdict class.
    pub fn verdict_counts(&self) -> Result<Vec<(String, u64)>> {
        self.on(reports::class_counts, pg::reports::class_counts)
    }

    /// One sighting by id.
    pub fn sighting(&self, id: uuid::Uuid) -> Result<Option<Sighting>> {
        self.on_conn(|c| query::sighting(c, id), |c| pg::query::sighting(c, id))
    }

    /// Queues every stored sighting received since `since` for analysis again (after a rule
    /// update). Sightings whose raw bytes retention removed, or with a pending job, are skipped.
    pub fn requeue(&self, since: Option<Timestamp>) -> Result<u64> {
        let now = model::now();
        let added = self.on_mut(
            |conn| reports::requeue(conn, since, now),
            |c| pg::reports::requeue(c, since, now),
        )?;
        self.inner
            .shared
            .pending_jobs
            .fetch_add(added, Ordering::Relaxed);
        Ok(added)
    }

    /// Runs one clustering step in one immediate transaction: everything `f` does through the
    /// [`CampaignTx`] commits together, or nothing does when it returns an error. On
    /// PostgreSQL the transaction first takes an advisory lock, so one step runs at a time
    /// across collectors (see `pg/campaigns.rs`).
    pub fn cluster<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&CampaignTx<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let step = |ctx: CampaignTx<'_>| match f(&ctx) {
            Ok(v) => {
                ctx.commit()?;
                Ok(Ok(v))
            }
            Err(e) => Ok(Err(e)),
        };
        match &self.inner.pg {
            Some(p) => p.with_conn(|c| {
                let mut tx = c.transaction()?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&pg::LOCK_CLUSTER])?;
                step(CampaignTx::postgres(tx))
            }),
            None => self.with_jobs_mut(|conn| {
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                step(CampaignTx::sqlite(tx))
            }),
        }
        .map_err(E::from)?
    }

    /// Campaigns, most recently active first.
    pub fn campaigns(&self, q: &CampaignQuery) -> Result<Vec<model::Campaign>> {
        let now = model::now();
        self.on(
            |c| campaign_read::list(c, q, now),
            |c| pg::campaign_read::list(c, q, now),
        )
    }

    /// Campaigns by id, descending, below `before`: pages for exports.
    pub fn campaigns_by_id(
        &self,
        before: Option<model::CampaignId>,
        limit: usize,
        include_merged: bool,
    ) -> Result<Vec<model::Campaign>> {
        let now = model::now();
        self.on(
            |c| campaign_read::by_id(c, before, limit, include_merged, now),
            |c| pg::campaign_read::by_id(c, before, limit, include_merged, now),
        )
    }

    /// One campaign's record (merged ones too: `merged_into` says where it went).
    pub fn campaign(&self, id: model::CampaignId) -> Result<Option<model::Campaign>> {
        let now = model::now();
        self.on(
            |c| campaign_read::campaign(c, id, now),
            |c| pg::campaign_read::campaign(c, id, now),
        )
    }

    /// A campaign's sightings, oldest first.
    pub fn campaign_members(&self, id: model::CampaignId, limit: usize) -> Result<Vec<Member>> {
        self.on(
            |c| campaign_read::members(c, id, limit),
            |c| pg::campaign_read::members(c, id, limit),
        )
    }

    /// Merges into or out of a campaign, oldest first.
    pub fn campaign_merges(
        &self,
        id: model::CampaignId,
    ) -> Result<Vec<model::campaign::CampaignMerge>> {
        self.on(
            |c| campaign_read::merges(c, id),
            |c| pg::campaign_read::merges(c, id),
        )
    }

    /// Sets a campaign's analyst label and/or notes; false if there is no such campaign.
    pub fn annotate_campaign(
        &self,
        id: model::CampaignId,
        label: Option<&str>,
        notes: Option<&str>,
    ) -> Result<bool> {
        self.on_mut(
            |c| campaign_read::annotate(c, id, label, notes),
            |c| pg::campaign_read::annotate(c, id, label, notes),
        )
    }

    /// Live campaigns, merged campaigns, reports waiting to be clustered.
    pub fn campaign_counts(&self) -> Result<(u64, u64, u64)> {
        self.on(campaign_read::counts, pg::campaign_read::counts)
    }

    /// Alerts newest first with their delivery states.
    pub fn alerts(&self, since: Option<Timestamp>, limit: usize) -> Result<Vec<AlertRecord>> {
        self.on(
            |c| alerts::list(c, since, limit),
            |c| pg::alerts::list(c, since, limit),
        )
    }

    /// Alert deliveries due at `now`.
    pub fn due_deliveries(&self, now: Timestamp, max: usize) -> Result<Vec<Delivery>> {
        self.on(
            |c| alerts::due(c, now, max),
            |c| pg::alerts::due(c, now, max),
        )
    }

    /// Takes a delivery read from [`Store::due_deliveries`] for this process before it is
    /// sent: `false` when another process (a second collector, `serve` next to a `worker`)
    /// took or attempted it since, and it must not be sent again. A taken delivery is due
    /// again after `lease` unless [`Store::record_delivery`] records its outcome first, so a
    /// process that dies while sending loses nothing (the receiver may then see it twice:
    /// at least once, never silently dropped).
    pub fn claim_delivery(&self, d: &Delivery, lease: Duration) -> Result<bool> {
        let now = model::now();
        let until = now + lease;
        self.on_mut(
            |c| alerts::claim(c, d, now, until),
            |c| pg::alerts::claim(c, d, now, until),
        )
    }

    /// When the next pending delivery is due.
    pub fn next_delivery(&self) -> Result<Option<Timestamp>> {
        self.on(alerts::next_due, pg::alerts::next_due)
    }

    /// Queues deliveries that failed for good again (all receivers, or one).
    pub fn redeliver_failed(&self, receiver: Option<&str>) -> Result<u64> {
        let now = model::now();
        self.on_mut(
            |c| alerts::redeliver(c, receiver, now),
            |c| pg::alerts::redeliver(c, receiver, now),
        )
    }

    /// Records the outcome of a delivery attempt.
    pub fn record_delivery(&self, d: &Delivery, outcome: &Attempt) -> Result<()> {
        let now = model::now();
        self.on_mut(
            |c| alerts::record(c, d.alert_seq, &d.receiver, outcome, now),
            |c| pg::alerts::record(c, d.alert_seq, &d.receiver, outcome, now),
        )
    }

    /// Pending analysis jobs (claimed or not), counted in the database: exact across processes.
    pub fn job_depth(&self) -> Result<u64> {
        self.on(jobs::depth, pg::jobs::depth)
    }

    /// Drains the queue and stops the writer if this is the last handle; errs if the writer
    /// thread had died. Dropping the last handle does the same, silently.
    pub fn close(self) -> Result<()> {
        match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner.shutdown(),
            Err(_) => Ok(()),
        }
    }

    /// Runs `sqlite` on a read connection, or `pg` on a pooled PostgreSQL connection.
    fn on<T>(
        &self,
        sqlite: impl FnOnce(&Connection) -> Result<T>,
        pg: impl FnOnce(&mut postgres::Client) -> Result<T>,
    ) -> Result<T> {
        self.on_conn(sqlite, |c| pg(&mut c.client))
    }

    /// [`Store::on`] for writes: `sqlite` on the shared write connection ([`Store::with_jobs_mut`]).
    fn on_mut<T>(
        &self,
        sqlite: impl FnOnce(&mut Connection) -> Result<T>,
        pg: impl FnOnce(&mut postgres::Client) -> Result<T>,
    ) -> Result<T> {
        self.on_conn_mut(sqlite, |c| pg(&mut c.client))
    }

    /// [`Store::on`] for the analysis path's hot statements: the PostgreSQL side gets the
    /// pooled connection with its prepared statements (`pg/prepared.rs`).
    fn on_conn<T>(
        &self,
        sqlite: impl FnOnce(&Connection) -> Result<T>,
        pg: impl FnOnce(&mut pg::prepared::Conn) -> Result<T>,
    ) -> Result<T> {
        match &self.inner.pg {
            Some(p) => p.with_conn(pg),
            None => self.read(sqlite),
        }
    }

    /// [`Store::on_mut`] with the prepared statements, like [`Store::on_conn`].
    fn on_conn_mut<T>(
        &self,
        sqlite: impl FnOnce(&mut Connection) -> Result<T>,
        pg: impl FnOnce(&mut pg::prepared::Conn) -> Result<T>,
    ) -> Result<T> {
        match &self.inner.pg {
            Some(p) => p.with_conn(pg),
            None => self.with_jobs_mut(sqlite),
        }
    }

    /// The SQLite-only path (a sensor's spool, the journal): refused on PostgreSQL.
    fn sqlite_only(&self, what: &'static str) -> Result<()> {
        match &self.inner.pg {
            Some(_) => Err(StoreError::Unsupported {
                what,
                why: "it belongs to the SQLite store's journal (a single node or a sensor)",
            }),
            None => Ok(()),
        }
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.sqlite_only("this read")?;
        let pooled = self
            .inner
            .readers
            .lock()
            .ok()
            .and_then(|mut pool| pool.pop());
        let conn = match pooled {
            Some(conn) => conn,
            None => schema::connect(&self.inner.cfg, true)?,
        };
        let out = f(&conn);
        if let Ok(mut pool) = self.inner.readers.lock()
            && pool.len() < MAX_IDLE_READERS
        {
            pool.push(conn);
        }
        out
    }

    fn with_jobs_mut<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        self.sqlite_only("this write")?;
        let mut guard = self.inner.jobs.lock().map_err(|_| StoreError::Closed)?;
        if guard.is_none() {
            *guard = Some(schema::connect(&self.inner.cfg, false)?);
        }
        let conn = guard.as_mut().ok_or(StoreError::Closed)?;
        f(conn)
    }
}

impl Inner {
    fn shutdown(&self) -> Result<()> {
        let handle = self.writer.lock().ok().and_then(|mut h| h.take());
        let Some(handle) = handle else { return Ok(()) };
        let _ = self.tx.send(Cmd::Shutdown);
        handle.join().map_err(|_| StoreError::Closed)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.shutdown().is_err() {
            tracing::error!("store writer thread panicked");
        }
    }
}

/// Creates and removes a probe file in `dir`: a read-only mount (`EROFS`) or a full disk is
/// found at open, not at the first capture.
fn probe_writable(dir: &std::path::Path) -> Result<()> {
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"").map_err(|e| StoreError::io(&probe, e))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// A SQLite "not a database" or "malformed" error at open becomes [`StoreError::Corrupt`] with
/// the path and what to do; other errors pass unchanged.
fn damaged_index(cfg: &StoreConfig, e: StoreError) -> StoreError {
    let code = match &e {
        StoreError::Sqlite(s) => s.sqlite_error_code(),
        _ => None,
    };
    match code {
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
            let db = cfg.db_path();
            StoreError::corrupt(format!(
                "the index {} is damaged ({e}); nothing was changed. The spool journal is \
                 separate: moving {} (with its -wal and -shm files) aside rebuilds messages, \
                 sightings and sessions from it at the next start, but not reports, campaigns, \
                 accounts or alerts (keep the damaged file for those)",
                db.display(),
                db.file_name()
                    .map_or_else(Default::default, |n| n.to_string_lossy()),
            ))
        }
        _ => e,
    }
}

/// Unix time in nanoseconds, saturating outside 1677..2262.
pub(crate) fn unix_nanos(ts: Timestamp) -> i64 {
    let ns = ts.unix_timestamp_nanos();
    i64::try_from(ns).unwrap_or(if ns < 0 { i64::MIN } else { i64::MAX })
}

/// Test-only fault injection: segment writes under a registered directory fail with `EIO`.
#[cfg(test)]
pub(crate) mod fault {
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    static FAILING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    static FAILING_SYNC: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    /// Only `fdatasync` fails under `dir`: the bytes reach the file, durability is not confirmed.
    pub fn fail_sync_under(dir: &Path) {
        if let Ok(mut v) = FAILING_SYNC.lock() {
            v.push(dir.to_path_buf());
        }
    }

    pub fn check_sync(path: &Path) -> crate::error::Result<()> {
        fail_if_listed(&FAILING_SYNC, path)
    }

    pub fn fail_under(dir: &Path) {
        if let Ok(mut v) = FAILING.lock() {
            v.push(dir.to_path_buf());
        }
    }

    pub fn heal(dir: &Path) {
        if let Ok(mut v) = FAILING.lock() {
            v.retain(|d| d != dir);
        }
        if let Ok(mut v) = FAILING_SYNC.lock() {
            v.retain(|d| d != dir);
        }
    }

    pub fn check(path: &Path) -> crate::error::Result<()> {
        fail_if_listed(&FAILING, path)
    }

    /// `EIO` for a path under one of the listed directories.
    fn fail_if_listed(list: &Mutex<Vec<PathBuf>>, path: &Path) -> crate::error::Result<()> {
        let failing = list
            .lock()
            .map(|v| v.iter().any(|d| path.starts_with(d)))
            .unwrap_or(false);
        if failing {
            return Err(crate::StoreError::io(
                path,
                std::io::Error::from_raw_os_error(libc::EIO),
            ));
        }
        Ok(())
    }
}
