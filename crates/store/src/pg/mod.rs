//! The PostgreSQL store: what a collector keeps, shared by every collector of a sensor network.
//!
//! Same [`crate::Store`] API as the SQLite store, different durability story. There is no
//! local journal: a capture or an ingest is durable when its batch's transaction commits
//! (`synchronous_commit` as the server has it, `on` by default), and only then does its ticket
//! resolve, so a collector acknowledges the bus after the commit. Raw messages live in the
//! database (`blobs.raw`, deduplicated by SHA-256) so that every collector, on any host, serves
//! the same console, feeds and analysis queue.
//!
//! Layout mirrors the SQLite modules: `schema.rs` (DDL and migrations), `writer.rs` (the
//! group-commit thread for captures, ingests and session records) and one file per SQLite
//! module with that module's statements (`jobs.rs`, `reports.rs`, `campaigns.rs`, ...). Three
//! files have no SQLite twin: `prepared.rs` (statements prepared once per connection),
//! `first_reports.rs` (a batch's first reports, one statement per table) and `step.rs` (the
//! clustering step's transaction and what it remembers): round trips are PostgreSQL's cost.
//!
//! Connections: one pool of synchronous `postgres` clients. The store's API is synchronous
//! and its callers run it on their own threads or in `spawn_blocking`; the `postgres` client
//! runs a small runtime of its own, so a call that still comes from a tokio worker runs under
//! `block_in_place` ([`Pg::with`]). A connection that broke (a PostgreSQL
//! restart) is dropped from the pool, so the next call connects again; the call that saw the
//! break fails with the server's error and its caller retries (the collector naks, a worker
//! leaves the job for its lease to expire).
//!
//! Concurrency between collectors: ingests are idempotent on the sighting id (`ON CONFLICT DO
//! NOTHING` on a unique key, which makes a concurrent duplicate wait for the first one's
//! commit); jobs are claimed with `FOR UPDATE SKIP LOCKED`; the feeds' change clock is taken
//! under an advisory lock ([`LOCK_CLOCK`]) so change order is commit order.

pub(crate) mod accounts;
pub(crate) mod alerts;
pub(crate) mod attribution;
pub(crate) mod campaign_read;
pub(crate) mod campaigns;
pub(crate) mod domain_report;
pub(crate) mod domains;
pub(crate) mod facets;
pub(crate) mod first_reports;
pub(crate) mod intel;
pub(crate) mod jobs;
pub(crate) mod prepared;
pub(crate) mod query;
pub(crate) mod reports;
pub(crate) mod retention;
pub(crate) mod schema;
pub(crate) mod search;
pub(crate) mod seeds;
pub(crate) mod seeds_read;
pub(crate) mod sensors;
pub(crate) mod step;
pub(crate) mod tls;
pub(crate) mod usage;
pub(crate) mod verify;
pub(crate) mod writer;

use crate::config::PgConfig;
use crate::error::{Result, StoreError};
use postgres::Client;
use prepared::Conn;
use std::sync::Mutex;
use std::time::Duration;

/// Advisory lock keys (`pg_advisory_xact_lock`), one per thing serialised across collectors.
pub(crate) const LOCK_MIGRATE: i64 = 0x5350_414d_0001;
/// The feeds' change clock: taken by every transaction that stamps `changed_at`.
pub(crate) const LOCK_CLOCK: i64 = 0x5350_414d_0002;
/// Clustering: one clustering step at a time across collectors (see `campaigns.rs`).
pub(crate) const LOCK_CLUSTER: i64 = 0x5350_414d_0003;
/// Requeueing (`reports.rs`): its "no pending job" check and its inserts must not interleave
/// with another requeue's, or a sighting gets two jobs.
pub(crate) const LOCK_REQUEUE: i64 = 0x5350_414d_0004;
/// A retention pass (`retention.rs`): one at a time across collectors.
pub(crate) const LOCK_RETENTION: i64 = 0x5350_414d_0005;

/// How long a connection attempt may take before the call fails (a server that is down answers
/// at once; one that is unreachable must not hang a worker for the TCP timeout).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A pool of connections to one PostgreSQL store.
pub(crate) struct Pg {
    cfg: PgConfig,
    /// The connection string without `sslmode`/`sslrootcert`, and what they ask for
    /// (`tls.rs`).
    conninfo: String,
    tls: tls::Tls,
    /// Idle connections, each with the statements it prepared (`prepared.rs`).
    idle: Mutex<Vec<Conn>>,
}

impl std::fmt::Debug for Pg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pg")
            .field("cfg", &self.cfg)
            .field("tls", &self.tls)
            .finish()
    }
}

impl Pg {
    /// Connects, creates the schema if configured, and applies the migrations.
    pub(crate) fn open(cfg: &PgConfig) -> Result<Pg> {
        if let Some(schema) = &cfg.schema {
            valid_schema(schema)?;
        }
        let (conninfo, tls) = tls::Tls::split(&cfg.url)?;
        let pg = Pg {
            cfg: cfg.clone(),
            conninfo,
            tls,
            idle: Mutex::new(Vec::new()),
        };
        let mut client = pg.connect()?;
        schema::migrate(&mut client, cfg.schema.as_deref())?;
        pg.put(Conn::new(client));
        Ok(pg)
    }

    /// A new connection with the store's settings (its schema first on the search path).
    pub(crate) fn connect(&self) -> Result<Client> {
        let mut config: postgres::Config = self
            .conninfo
            .parse()
            .map_err(|e| StoreError::invalid(format!("[store] postgres url: {e}")))?;
        config.application_name("spamhattan");
        config.ssl_mode(self.tls.ssl_mode());
        config.connect_timeout(CONNECT_TIMEOUT);
        if let Some(schema) = &self.cfg.schema {
            config.options(&format!("-c search_path={schema}"));
        }
        Ok(config.connect(self.tls.connector())?)
    }

    /// Runs `f` on a pooled connection (connecting when none is idle). A connection that broke
    /// is not returned to the pool.
    ///
    /// The `postgres` client blocks on a small runtime of its own, which tokio forbids on a
    /// thread that drives async tasks. The SQLite store was called from async code here and
    /// there (a metrics scrape, the feeds at start); on a multi-threaded runtime such a call
    /// runs under `block_in_place`, which hands the thread's tasks to another worker while it
    /// blocks, exactly what a blocking SQLite call should have done. Elsewhere (plain threads,
    /// `spawn_blocking`) it runs as is.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        self.with_conn(|c| f(&mut c.client))
    }

    /// [`Pg::with`] with the connection's prepared statements, for the hot paths.
    pub(crate) fn with_conn<T>(&self, f: impl FnOnce(&mut Conn) -> Result<T>) -> Result<T> {
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| self.with_now(f))
            }
            _ => self.with_now(f),
        }
    }

    fn with_now<T>(&self, f: impl FnOnce(&mut Conn) -> Result<T>) -> Result<T> {
        let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut conn = match pooled {
            Some(c) if !c.client.is_closed() => c,
            _ => Conn::new(self.connect()?),
        };
        let out = f(&mut conn);
        self.put(conn);
        out
    }

    fn put(&self, conn: Conn) {
        if conn.client.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.cfg.pool.max(1)
        {
            idle.push(conn);
        }
    }
}

impl Drop for Pg {
    /// Closing a `postgres::Client` blocks on its own small runtime, which panics on a tokio
    /// worker thread: when the last store handle goes away inside an async task, the idle
    /// connections are closed on a thread of their own instead.
    fn drop(&mut self) {
        let idle = match self.idle.get_mut() {
            Ok(idle) => std::mem::take(idle),
            Err(poisoned) => std::mem::take(poisoned.into_inner()),
        };
        if idle.is_empty() {
            return;
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            let _ = std::thread::Builder::new()
                .name("store-pg-close".into())
                .spawn(move || drop(idle));
        } else {
            drop(idle);
        }
    }
}

/// A schema name goes into `search_path` and DDL unquoted: lower-case letters, digits and `_`.
fn valid_schema(schema: &str) -> Result<()> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !schema.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid(format!(
            "[store] postgres schema {schema:?}: use 1 to 63 lower-case letters, digits and _, \
             not starting with a digit"
        )))
    }
}

/// Converts a row count or limit for a `BIGINT` parameter.
pub(crate) fn big(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
