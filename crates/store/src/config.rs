//! `StoreConfig`, retention budgets and the store's named limits.

use std::path::PathBuf;
use std::time::Duration;

/// Largest raw message the store accepts. The trap's own SMTP size limit is lower (tens of MiB);
/// this is a backstop so one import of a huge file cannot fill a batch or the memory of the writer.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Bytes of raw messages waiting for the writer above which `capture` fails at once with
/// [`crate::StoreError::Full`] instead of queueing: the queue lives in memory, and a stalled disk
/// must turn into `451` replies, not into an out-of-memory kill that loses everything queued.
pub const MAX_QUEUED_BYTES: u64 = 512 * 1024 * 1024;

/// Commands (captures, session records, flushes) the writer's queue holds before
/// [`crate::Store::capture`] fails at once with [`crate::StoreError::Full`] (`451`) and
/// [`crate::Store::record_session`] drops the record and counts it. The queue is a bounded
/// channel so a stalled writer (a dying disk, another process holding the SQLite write lock)
/// turns into refusals instead of memory growth. 4096: eight full batches ([`StoreConfig`]
/// `max_batch`), about 230 ms of the measured peak of 18,000 messages/s, so it only fills when
/// the writer is stuck, not when it is merely busy. Memory: raw bytes are bounded by
/// [`MAX_QUEUED_BYTES`]; a session record is at most a 16 KiB transcript plus its facts, so a
/// full queue of them is tens of MiB at worst (about 870 bytes each in a connect-close flood).
pub const MAX_QUEUED_COMMANDS: usize = 4096;

/// Repeated store trouble is logged at most once per this interval, with a count: dropped session
/// records, and failed batches after the first one (a read-only or dead disk fails every batch,
/// and a flood against it would otherwise log once per connection).
pub const LOG_REPEAT_EVERY: Duration = Duration::from_secs(10);

/// How long `pressure()` keeps saying `Failed` after a failed batch when no batch succeeded since.
/// Long enough that a trap answering `451` early sheds load from a broken disk, short enough that
/// it soon lets a capture through again to find out whether the disk recovered.
pub const FAILED_HOLD: Duration = Duration::from_secs(2);

/// Interval between free-space probes (`statvfs`) by the writer: disk space changes slowly and
/// the probe is a system call we do not want per batch at 18,000 messages/s.
pub const DISK_PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// Raw-blob retention budgets. Sightings, sessions and jobs outlive the raw bytes: a purged blob
/// keeps its index row, marked with its purge time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retention {
    /// Total bytes of spool segment files to keep; oldest segments go first.
    pub max_blob_bytes: Option<u64>,
    /// Segments whose last write is older than this are deleted; blobs seen again within this
    /// age are copied forward first.
    pub max_blob_age: Option<Duration>,
}

/// Everything `Store::open` needs. Build with [`StoreConfig::new`] and adjust fields.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Holds `spamhattan.sqlite` (+ `-wal`, `-shm`) and `spool/seg-*.dat`.
    pub data_dir: PathBuf,
    /// Group-commit cap in messages (one segment fsync + one SQLite commit per batch).
    pub max_batch: usize,
    /// Group-commit cap in raw bytes.
    pub max_batch_bytes: usize,
    /// A segment file rolls over once it reaches this size.
    pub segment_bytes: u64,
    pub retention: Retention,
    /// Pending analysis jobs above which `pressure()` says `Backlog`.
    pub max_backlog: u64,
    /// Free disk space below which `pressure()` says `Disk`.
    pub min_free_bytes: u64,
    /// How long a connection waits for another process holding the SQLite write lock.
    pub busy_timeout: Duration,
    /// Capacity of the writer's command queue ([`MAX_QUEUED_COMMANDS`]; tests use a few).
    pub queue_capacity: usize,
    /// Whether a captured sighting gets an analysis job. `false` for a sensor, which forwards
    /// its captures to a collector and never analyses them (its backlog stays 0).
    pub analysis_jobs: bool,
    /// Unforwarded raw bytes ([`crate::Store::unforwarded`]) above which `pressure()` says
    /// `Disk`: a sensor whose bus is down stops accepting mail before its spool fills the disk.
    /// `None`: no budget.
    pub max_spool_bytes: Option<u64>,
    /// Keep everything in PostgreSQL instead of `data_dir` (a collector's store, shared by
    /// every collector of a network). `None`: SQLite and the spool journal in `data_dir`.
    pub postgres: Option<PgConfig>,
}

/// Where a PostgreSQL-backed store lives. The URL is a libpq connection string or
/// `postgresql://` URL; it may carry a password, so `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct PgConfig {
    pub url: String,
    /// A schema to create (if missing) and use instead of the user's default search path:
    /// one database can hold several stores (the test suite gives each test its own).
    pub schema: Option<String>,
    /// Connections kept open for readers and workers; more concurrent callers connect and
    /// drop extra ones.
    pub pool: usize,
}

impl PgConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: None,
            // 8: the analysis workers of a 2-to-4-core collector, the web console and the feeds.
            pool: 8,
        }
    }
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConfig")
            .field("url", &"<redacted>")
            .field("schema", &self.schema)
            .field("pool", &self.pool)
            .finish()
    }
}

impl StoreConfig {
    /// Defaults sized for one trap on a small VM.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            // 512 messages: at 18,000 msg/s a batch fills in ~28 ms, so under load each fsync
            // pair is shared by hundreds of sessions, while a lone message still commits at once
            // (the writer never waits for a batch to fill).
            max_batch: 512,
            // 32 MiB: bounds writer memory and the latency one big batch adds to everyone in it.
            max_batch_bytes: 32 * 1024 * 1024,
            // 256 MiB: few files, yet retention (which deletes whole segments) stays fine-grained.
            segment_bytes: 256 * 1024 * 1024,
            // No budget by default: a fresh trap keeps everything until the operator decides.
            retention: Retention::default(),
            // 100,000 jobs: about five seconds of peak capture, minutes of normal traffic;
            // beyond that analysis is hopelessly behind and the trap should shed load.
            max_backlog: 100_000,
            // 1 GiB: room for SQLite checkpoints and the rest of the system after we refuse mail.
            min_free_bytes: 1024 * 1024 * 1024,
            // 5 s: an `import` or retention run in another process holds the write lock for at
            // most one batch; waiting longer than this means something is stuck.
            busy_timeout: Duration::from_secs(5),
            queue_capacity: MAX_QUEUED_COMMANDS,
            analysis_jobs: true,
            max_spool_bytes: None,
            postgres: None,
        }
    }

    /// Whether this store keeps the forwarding counts ([`crate::Store::unforwarded`]): a
    /// store that analyses nothing (a sensor) or has a spool budget. Counting at open scans the
    /// unforwarded sightings, which on a collector or `serve` store would be all of them.
    pub(crate) fn forwards(&self) -> bool {
        !self.analysis_jobs || self.max_spool_bytes.is_some()
    }

    pub(crate) fn db_path(&self) -> PathBuf {
        self.data_dir.join("spamhattan.sqlite")
    }

    pub(crate) fn spool_dir(&self) -> PathBuf {
        self.data_dir.join("spool")
    }
}
