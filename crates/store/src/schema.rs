//! Opening SQLite connections (WAL, synchronous=FULL, busy timeout) and the schema migrations.

use crate::config::StoreConfig;
use crate::error::{Result, StoreError};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

/// Schema migrations, applied in order; the `migrations` table records each applied version.
/// Never edit an entry once released: append a new one.
const MIGRATIONS: &[(i64, &str)] = &[(
    1,
    "
    CREATE TABLE blobs (
        sha256     BLOB PRIMARY KEY,   -- MessageId, 32 bytes
        segment    TEXT,               -- NULL once purged
        offset     INTEGER,            -- record header offset in the segment
        length     INTEGER NOT NULL,   -- raw message bytes
        first_seen INTEGER NOT NULL,   -- unix nanoseconds (writer clock)
        last_seen  INTEGER NOT NULL,
        refcount   INTEGER NOT NULL,   -- sightings of this message
        purged_at  INTEGER             -- set when retention removed the raw bytes
    ) WITHOUT ROWID;
    CREATE INDEX blobs_by_segment ON blobs(segment);

    -- Rowid tables for the JSON-carrying rows: WITHOUT ROWID would push ~1 KiB rows into
    -- overflow pages (one extra page write per sighting).
    CREATE TABLE sightings (
        seq         INTEGER PRIMARY KEY,
        id          BLOB NOT NULL UNIQUE,  -- UUIDv7
        message_id  BLOB NOT NULL,
        received_at INTEGER NOT NULL,  -- unix nanoseconds
        source      TEXT NOT NULL,     -- smtp | import
        peer        TEXT NOT NULL,
        sender      TEXT NOT NULL,
        size        INTEGER NOT NULL,
        json        TEXT NOT NULL      -- the full model::Sighting
    );
    CREATE INDEX sightings_by_time ON sightings(received_at);
    CREATE INDEX sightings_by_message ON sightings(message_id);

    CREATE TABLE sessions (
        seq        INTEGER PRIMARY KEY,
        id         BLOB NOT NULL UNIQUE,
        started_at INTEGER NOT NULL,
        peer       TEXT NOT NULL,
        json       TEXT NOT NULL       -- the full model::SessionRecord
    );
    CREATE INDEX sessions_by_time ON sessions(started_at);

    CREATE TABLE jobs (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        sighting_id BLOB NOT NULL,
        message_id  BLOB NOT NULL,
        created_at  INTEGER NOT NULL,
        lease_until INTEGER NOT NULL DEFAULT 0,  -- 0: never claimed
        worker      TEXT,
        attempts    INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX jobs_by_lease ON jobs(lease_until, id);

    -- Counters kept exact by triggers, so backpressure reads one row instead of counting.
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO counters VALUES ('pending_jobs', 0);
    CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN
        UPDATE counters SET value = value + 1 WHERE name = 'pending_jobs';
    END;
    CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN
        UPDATE counters SET value = value - 1 WHERE name = 'pending_jobs';
    END;
    ",
)];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 1;

/// Opens a connection with the store's pragmas. `synchronous=FULL` in WAL mode makes every
/// commit durable when it returns, which the `250` promise needs.
pub(crate) fn connect(cfg: &StoreConfig, read_only: bool) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(cfg.db_path(), flags).map_err(StoreError::sqlite)?;
    conn.busy_timeout(cfg.busy_timeout)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    if read_only {
        conn.pragma_update(None, "query_only", true)?;
    } else {
        // 64 MiB of page cache: the blob and message-id indexes are keyed by SHA-256, so every
        // insert lands on a random page; keeping them cached avoids a read per insert.
        conn.pragma_update(None, "cache_size", -65_536)?;
        // Checkpoint every 16 MiB of WAL instead of 4 MiB: a hot index page rewritten by many
        // commits is copied into the database once per checkpoint, not once per 4 MiB.
        conn.pragma_update(None, "wal_autocheckpoint", 4096)?;
    }
    Ok(conn)
}

/// Creates or upgrades the schema. Safe when several processes open the store at once: the
/// check and the upgrade run under one immediate (write-locked) transaction.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS migrations (
            version    INTEGER PRIMARY KEY,
            applied_at INTEGER NOT NULL
        )",
    )?;
    let current: i64 = tx.query_row(
        "SELECT coalesce(max(version), 0) FROM migrations",
        [],
        |r| r.get(0),
    )?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO migrations (version, applied_at) VALUES (?1, ?2)",
            (version, crate::unix_nanos(model::now())),
        )?;
        tracing::info!(version, "store schema migrated");
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_a_no_op_and_newer_schemas_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = StoreConfig::new(dir.path());
        let mut conn = connect(&cfg, false).expect("connect");
        migrate(&mut conn).expect("first");
        migrate(&mut conn).expect("second");
        conn.execute("INSERT INTO migrations VALUES (99, 0)", [])
            .expect("insert");
        assert!(matches!(
            migrate(&mut conn),
            Err(StoreError::SchemaTooNew { found: 99, .. })
        ));
    }
}
