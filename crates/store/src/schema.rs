//! Opening SQLite connections (WAL, synchronous=NORMAL, busy timeout) and the schema migrations.

use crate::config::StoreConfig;
use crate::error::{Result, StoreError};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

/// Schema migrations, applied in order; the `migrations` table records each applied version.
/// Never edit an entry once released: append a new one.
const MIGRATIONS: &[(i64, &str)] = &[
    (
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
    ),
    (
        2,
        "
    -- Journal-first: how far each segment (the write-ahead journal) has been indexed. Records
    -- after `indexed_upto` are replayed at open; records at or after `void_from` belong to a
    -- batch whose fdatasync failed and are never replayed.
    CREATE TABLE segments (
        name         TEXT PRIMARY KEY,
        indexed_upto INTEGER NOT NULL,
        void_from    INTEGER
    ) WITHOUT ROWID;

    -- Blobs get an integer key in arrival order, so rows append and the sightings of a message
    -- are indexed by an append-ordered integer instead of a random 32-byte hash. The hash keeps
    -- one unique index: the dedup lookup and the only random-page write per new message.
    CREATE TABLE blobs_v2 (
        id         INTEGER PRIMARY KEY,
        sha256     BLOB NOT NULL,      -- MessageId, 32 bytes
        segment    TEXT,               -- NULL once purged
        offset     INTEGER,            -- record header offset in the segment
        length     INTEGER NOT NULL,   -- raw message bytes
        first_seen INTEGER NOT NULL,   -- unix nanoseconds (writer clock)
        last_seen  INTEGER NOT NULL,
        refcount   INTEGER NOT NULL,   -- sightings of this message
        purged_at  INTEGER             -- set when retention removed the raw bytes
    );
    INSERT INTO blobs_v2 (sha256, segment, offset, length, first_seen, last_seen, refcount,
                          purged_at)
        SELECT sha256, segment, offset, length, first_seen, last_seen, refcount, purged_at
        FROM blobs ORDER BY first_seen;
    DROP TABLE blobs;
    ALTER TABLE blobs_v2 RENAME TO blobs;
    CREATE UNIQUE INDEX blobs_by_sha ON blobs(sha256);
    CREATE INDEX blobs_by_segment ON blobs(segment);

    ALTER TABLE sightings ADD COLUMN blob INTEGER NOT NULL DEFAULT 0;  -- blobs.id
    UPDATE sightings SET blob = coalesce(
        (SELECT id FROM blobs WHERE blobs.sha256 = sightings.message_id), 0);
    DROP INDEX sightings_by_message;
    CREATE INDEX sightings_by_blob ON sightings(blob);
    ",
    ),
    (
        3,
        "
    -- No triggers and no AUTOINCREMENT on the per-message path: both make SQLite keep a
    -- statement journal for every job insert. The pending-job count now lives in memory (see
    -- `Store::pressure`); job ids come from the `last_job_id` high-water mark, which the
    -- indexer advances once per batch, so an id is still never reused (a late `complete_job` of
    -- a job that was re-leased and finished must not delete a newer job).
    CREATE TABLE jobs_v3 (
        id          INTEGER PRIMARY KEY,  -- counters.last_job_id + n, never reused
        sighting_id BLOB NOT NULL,
        message_id  BLOB NOT NULL,
        created_at  INTEGER NOT NULL,
        lease_until INTEGER NOT NULL DEFAULT 0,  -- 0: never claimed
        worker      TEXT,
        attempts    INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO jobs_v3 (id, sighting_id, message_id, created_at, lease_until, worker, attempts)
        SELECT id, sighting_id, message_id, created_at, lease_until, worker, attempts FROM jobs;
    INSERT INTO counters (name, value) VALUES ('last_job_id', max(
        coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0),
        coalesce((SELECT max(id) FROM jobs), 0)));
    DROP TABLE jobs;  -- with its triggers jobs_count_insert/delete and its index
    ALTER TABLE jobs_v3 RENAME TO jobs;
    CREATE INDEX jobs_by_lease ON jobs(lease_until, id);
    DELETE FROM counters WHERE name = 'pending_jobs';
    ",
    ),
    (
        4,
        "
    -- Lazy, batched hash index: a unique index on blobs(sha256) dirtied one random leaf per new
    -- message. `blob_keys` covers the blobs up to `counters.sha_indexed_upto` (a blobs.id) and is
    -- filled by the writer every `index::KEY_BATCH` new blobs, sorted by hash, so each pass
    -- touches each leaf once. Lookups by hash read `blob_keys`, then the unindexed tail
    -- (`blobs.id > sha_indexed_upto`, a rowid range scan of at most a few thousand rows).
    CREATE TABLE blob_keys (
        sha256 BLOB PRIMARY KEY,     -- MessageId, 32 bytes
        blob   INTEGER NOT NULL      -- blobs.id
    ) WITHOUT ROWID;
    INSERT INTO blob_keys (sha256, blob) SELECT sha256, id FROM blobs ORDER BY sha256;
    INSERT INTO counters (name, value)
        VALUES ('sha_indexed_upto', coalesce((SELECT max(id) FROM blobs), 0));
    DROP INDEX blobs_by_sha;
    ",
    ),
    (
        5,
        "
    -- Analysis reports, one per sighting, and the indicator index (see reports.rs).
    CREATE TABLE reports (
        seq         INTEGER PRIMARY KEY,
        sighting_id BLOB NOT NULL UNIQUE,
        message_id  BLOB NOT NULL,
        received_at INTEGER NOT NULL,  -- the sighting's, unix nanoseconds
        analyzed_at INTEGER NOT NULL,
        engine      TEXT NOT NULL,
        class       TEXT NOT NULL,     -- verdict.class
        score       INTEGER NOT NULL,
        json        TEXT NOT NULL      -- the full model::Report
    );
    CREATE INDEX reports_by_time ON reports(received_at);
    CREATE INDEX reports_by_message ON reports(message_id);

    CREATE TABLE indicators (
        id         INTEGER PRIMARY KEY,
        kind       TEXT NOT NULL,      -- url | domain | ip | email | md5 | sha1 | sha256 | filename | yara
        value      TEXT NOT NULL,
        first_seen INTEGER NOT NULL,   -- earliest sighting, unix nanoseconds
        last_seen  INTEGER NOT NULL,
        count      INTEGER NOT NULL    -- distinct sightings
    );
    CREATE UNIQUE INDEX indicators_by_value ON indicators(kind, value);
    CREATE INDEX indicators_by_last_seen ON indicators(last_seen);

    CREATE TABLE indicator_sightings (
        indicator INTEGER NOT NULL,    -- indicators.id
        sighting  BLOB NOT NULL,       -- sightings.id
        PRIMARY KEY (indicator, sighting)
    ) WITHOUT ROWID;
    CREATE INDEX indicator_sightings_by_sighting ON indicator_sightings(sighting);
    ",
    ),
    (
        6,
        "
    -- Campaigns (campaigns.rs) and alerts with their delivery outbox (alerts.rs).
    ALTER TABLE reports ADD COLUMN campaign INTEGER;  -- campaigns.id; NULL until clustered
    CREATE INDEX reports_unclustered ON reports(seq) WHERE campaign IS NULL;
    CREATE INDEX reports_by_campaign ON reports(campaign, received_at);

    CREATE TABLE campaigns (
        id          INTEGER PRIMARY KEY,
        uuid        BLOB NOT NULL UNIQUE,
        first_seen  INTEGER NOT NULL,  -- earliest sighting, unix nanoseconds
        last_seen   INTEGER NOT NULL,
        messages    INTEGER NOT NULL,  -- sightings assigned (including merged-in ones)
        verdict     TEXT NOT NULL,     -- the most severe class among its messages
        label       TEXT NOT NULL DEFAULT '',
        notes       TEXT NOT NULL DEFAULT '',
        merged_into INTEGER,           -- campaigns.id when folded into another
        profile     TEXT NOT NULL      -- model::CampaignProfile JSON, owned by analysis::cluster
    );
    CREATE INDEX campaigns_by_last_seen ON campaigns(last_seen);

    -- Inverted index for candidate lookup: analysis::cluster keys -> live campaigns.
    CREATE TABLE campaign_keys (
        key      INTEGER NOT NULL,
        campaign INTEGER NOT NULL,
        PRIMARY KEY (key, campaign)
    ) WITHOUT ROWID;
    CREATE INDEX campaign_keys_by_campaign ON campaign_keys(campaign);

    CREATE TABLE campaign_facets (
        campaign   INTEGER NOT NULL,
        facet      TEXT NOT NULL,
        value      TEXT NOT NULL,
        count      INTEGER NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL,
        PRIMARY KEY (campaign, facet, value)
    ) WITHOUT ROWID;
    CREATE TABLE campaign_distinct (
        campaign INTEGER NOT NULL,
        facet    TEXT NOT NULL,
        n        INTEGER NOT NULL,
        PRIMARY KEY (campaign, facet)
    ) WITHOUT ROWID;
    -- Messages per hour; campaign 0 is the whole trap.
    CREATE TABLE campaign_rate (
        campaign INTEGER NOT NULL,
        hour     INTEGER NOT NULL,     -- unix seconds at the start of the hour
        messages INTEGER NOT NULL,
        PRIMARY KEY (campaign, hour)
    ) WITHOUT ROWID;
    CREATE TABLE campaign_merges (
        seq      INTEGER PRIMARY KEY,
        from_id  INTEGER NOT NULL,
        into_id  INTEGER NOT NULL,
        at       INTEGER NOT NULL,
        by       TEXT NOT NULL,        -- cluster | analyst
        detail   TEXT NOT NULL
    );
    CREATE INDEX campaign_merges_by_into ON campaign_merges(into_id);
    -- Facet values the trap has ever seen (for 'never seen before' rules).
    CREATE TABLE novelty (
        facet      TEXT NOT NULL,
        value      TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        PRIMARY KEY (facet, value)
    ) WITHOUT ROWID;

    CREATE TABLE alerts (
        seq        INTEGER PRIMARY KEY,
        id         BLOB NOT NULL UNIQUE,
        dedup_key  TEXT NOT NULL UNIQUE,
        rule       TEXT NOT NULL,
        severity   TEXT NOT NULL,
        campaign   INTEGER,
        created_at INTEGER NOT NULL,
        json       TEXT NOT NULL       -- model::Alert
    );
    CREATE INDEX alerts_by_time ON alerts(created_at);
    CREATE TABLE alert_deliveries (
        alert        INTEGER NOT NULL, -- alerts.seq
        receiver     TEXT NOT NULL,
        state        TEXT NOT NULL,    -- pending | delivered | failed
        attempts     INTEGER NOT NULL,
        next_at      INTEGER NOT NULL, -- unix nanoseconds
        last_error   TEXT NOT NULL DEFAULT '',
        delivered_at INTEGER,
        PRIMARY KEY (alert, receiver)
    ) WITHOUT ROWID;
    CREATE INDEX alert_deliveries_due ON alert_deliveries(next_at) WHERE state = 'pending';
    ",
    ),
    (
        7,
        "
    -- Intel feeds (intel.rs): what changed when, the campaign of each indicator, file facts.
    ALTER TABLE indicators ADD COLUMN uuid BLOB;           -- random v4, last 4 bits 0 (STIX id)
    ALTER TABLE indicators ADD COLUMN campaign INTEGER;    -- first campaign it was seen in
    ALTER TABLE indicators ADD COLUMN changed_at INTEGER NOT NULL DEFAULT 0;  -- change clock
    ALTER TABLE indicators ADD COLUMN detail TEXT;         -- model::intel::FileFacts JSON (sha256)
    CREATE UNIQUE INDEX indicators_by_uuid ON indicators(uuid);
    CREATE INDEX indicators_by_change ON indicators(changed_at, id);
    CREATE INDEX indicators_by_campaign ON indicators(campaign, changed_at);
    ALTER TABLE campaigns ADD COLUMN changed_at INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX campaigns_by_change ON campaigns(changed_at, id);
    -- Installation secret, publication serial.
    CREATE TABLE feed_state (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
    ",
    ),
    (
        8,
        "
    -- Console accounts (accounts.rs): users, API tokens, login sessions. Secrets are never
    -- stored: passwords as argon2id PHC strings, tokens and session ids as SHA-256 digests.
    CREATE TABLE users (
        name          TEXT PRIMARY KEY,
        role          TEXT NOT NULL,     -- admin | reader
        password_hash TEXT NOT NULL,     -- argon2id PHC string
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE api_tokens (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE,
        role       TEXT NOT NULL,
        digest     BLOB NOT NULL UNIQUE,  -- SHA-256 of the token
        created_at INTEGER NOT NULL,
        last_used  INTEGER
    );
    CREATE TABLE web_sessions (
        digest     BLOB PRIMARY KEY,      -- SHA-256 of the cookie value
        user       TEXT NOT NULL,
        csrf       TEXT NOT NULL,         -- the session's CSRF token (forms echo it)
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX web_sessions_by_user ON web_sessions(user);
    ",
    ),
    (9, crate::search::MIGRATION_V9),
    (10, crate::seeds::MIGRATION_V10),
    (
        11,
        "
    -- Sensors that sent sightings to this collector (sensors.rs), kept by the writer. The
    -- segments' seq ranges of v11 are added by `add_segment_seqs` (idempotent ALTERs).
    CREATE TABLE IF NOT EXISTS sensors (
        id         TEXT PRIMARY KEY,   -- model::SensorTag id
        sector     TEXT NOT NULL,      -- as last seen
        location   TEXT NOT NULL,      -- as last seen
        sightings  INTEGER NOT NULL,
        first_seen INTEGER NOT NULL,   -- earliest sighting received_at, unix nanoseconds
        last_seen  INTEGER NOT NULL
    ) WITHOUT ROWID;
    ",
    ),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 11;

/// Schema v11, forwarding (forward.rs, release.rs): the `sightings.seq` and `sessions.seq`
/// range each segment's records were indexed as (0: none), so a sensor can tell when every
/// record of a segment was forwarded and which rows no remaining segment holds. Segments
/// written before v11 count as holding every row so far. A column that exists already is kept
/// (so v11 may run again over a database whose version rows were rolled back).
fn add_segment_seqs(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    let columns: Vec<String> = tx
        .prepare("SELECT name FROM pragma_table_info('segments')")?
        .query_map([], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    for column in [
        "sightings_from",
        "sightings_upto",
        "sessions_from",
        "sessions_upto",
    ] {
        if !columns.iter().any(|c| c == column) {
            tx.execute_batch(&format!(
                "ALTER TABLE segments ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0"
            ))?;
        }
    }
    tx.execute_batch(
        "UPDATE segments SET
             sightings_from = CASE WHEN (SELECT max(seq) FROM sightings) IS NULL THEN 0 ELSE 1 END,
             sightings_upto = coalesce((SELECT max(seq) FROM sightings), 0),
             sessions_from = CASE WHEN (SELECT max(seq) FROM sessions) IS NULL THEN 0 ELSE 1 END,
             sessions_upto = coalesce((SELECT max(seq) FROM sessions), 0)",
    )?;
    Ok(())
}

/// Opens a connection with the store's pragmas.
///
/// `synchronous=NORMAL`: in WAL mode a commit does not fsync, so a power cut may lose the last
/// commits. That is safe because the index is not the durability point: every captured record
/// is fdatasynced in its segment journal first, and recovery at open re-indexes whatever the
/// index lost (see the crate docs). Operations whose effect is *not* in the journal (retention
/// deleting segment files) switch to `FULL` for their commit with [`durable_commits`].
pub(crate) fn connect(cfg: &StoreConfig, read_only: bool) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(cfg.db_path(), flags).map_err(StoreError::sqlite)?;
    conn.busy_timeout(cfg.busy_timeout)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(64);
    if read_only {
        conn.pragma_update(None, "query_only", true)?;
    } else {
        // 8 MiB of page cache, set once per connection. Larger is slower here: SQLite walks its
        // whole page-cache hash table at every commit (pcache1TruncateUnsafe, the writer's top
        // symbol at 64 MiB), while index pages that fall out of this cache are still in the
        // kernel's page cache, a cheap pread away. Measured with capture_bench: 40-46 µs/msg at
        // 64 MiB, 37-39 µs/msg at 8 MiB.
        conn.pragma_update(None, "cache_size", -8_192)?;
        // Checkpoint every 16 MiB of WAL instead of 4 MiB: a hot index page rewritten by many
        // commits is copied into the database once per checkpoint, not once per 4 MiB.
        conn.pragma_update(None, "wal_autocheckpoint", 4096)?;
        // After a checkpoint resets the WAL, cut it back to 64 MiB so it does not stay huge.
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    }
    Ok(conn)
}

/// Runs `f` with `synchronous=FULL`, so its commits are durable when they return: for changes
/// the segment journal cannot replay (schema migrations, retention before it deletes files).
pub(crate) fn durable_commits<T>(
    conn: &mut Connection,
    f: impl FnOnce(&mut Connection) -> Result<T>,
) -> Result<T> {
    conn.pragma_update(None, "synchronous", "FULL")?;
    let out = f(conn);
    let reset = conn.pragma_update(None, "synchronous", "NORMAL");
    let out = out?;
    reset?;
    Ok(out)
}

/// Creates or upgrades the schema. Safe when several processes open the store at once: the
/// check and the upgrade run under one immediate (write-locked) transaction.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    durable_commits(conn, migrate_now)
}

fn migrate_now(conn: &mut Connection) -> Result<()> {
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
    // Every version not recorded is applied, in order, even below the newest recorded one:
    // a database whose version rows were rolled back for one migration (the migration tests
    // do that) gets that migration again; v11 tolerates running twice.
    let applied: std::collections::HashSet<i64> = tx
        .prepare("SELECT version FROM migrations")?
        .query_map([], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| !applied.contains(v)) {
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO migrations (version, applied_at) VALUES (?1, ?2)",
            (version, crate::unix_nanos(model::now())),
        )?;
        if *version == 7 {
            crate::intel::backfill_v7(&tx)?;
        }
        if *version == 9 {
            crate::search::backfill_v9(&tx)?;
        }
        if *version == 10 {
            crate::domains::backfill_v10(&tx)?;
        }
        if *version == 11 {
            add_segment_seqs(&tx)?;
        }
        tracing::info!(version, "store schema migrated");
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_database_is_migrated_with_its_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = StoreConfig::new(dir.path());
        let mut conn = connect(&cfg, false).expect("connect");
        conn.execute_batch(
            "CREATE TABLE migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
             INSERT INTO migrations VALUES (1, 0);",
        )
        .expect("v1 table");
        conn.execute_batch(MIGRATIONS[0].1).expect("v1 schema");
        conn.execute_batch(
            "INSERT INTO blobs VALUES (x'aa', 'seg-1-1.dat', 0, 5, 1, 1, 1, NULL);
             INSERT INTO sightings (id, message_id, received_at, source, peer, sender, size, json)
                 VALUES (x'01', x'aa', 1, 'smtp', 'p', 's', 5, '{}');",
        )
        .expect("v1 rows");
        migrate(&mut conn).expect("migrate");
        let (blob, sha): (i64, Vec<u8>) = conn
            .query_row(
                "SELECT s.blob, b.sha256 FROM sightings s JOIN blobs b ON b.id = s.blob",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("joined");
        assert!(blob > 0);
        assert_eq!(sha, vec![0xaa]);
        let version: i64 = conn
            .query_row("SELECT max(version) FROM migrations", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version, SCHEMA_VERSION);
    }

    fn sighting_json(raw: &[u8]) -> (uuid::Uuid, String) {
        let id = uuid::Uuid::now_v7();
        let json = serde_json::json!({
            "id": id, "message_id": model::MessageId::of(raw),
            "received_at": "2026-01-01T00:00:00Z", "source": {"kind": "smtp"},
            "size": raw.len(), "session_id": uuid::Uuid::nil(),
            "envelope": {"mail_from": {"raw": "", "address": ""}, "recipients": []}
        });
        (id, json.to_string())
    }

    /// A data directory written by schema v2 (triggers, AUTOINCREMENT job ids, a counters row,
    /// plus a journal tail the index never saw) opens under v3: rows and job ids are kept, the
    /// triggers are gone, the journal is replayed, and a job id is never handed out twice, not
    /// even the id of a v2 job completed before the upgrade.
    #[test]
    fn a_version_2_data_dir_is_migrated_and_its_journal_replayed() {
        use crate::segment::{self, RecordKind};
        use crate::{RawLookup, Store};
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = StoreConfig::new(dir.path());
        cfg.min_free_bytes = 0;
        let spool = cfg.spool_dir();
        std::fs::create_dir_all(&spool).expect("spool");
        let conn = connect(&cfg, false).expect("connect");
        conn.execute_batch(
            "CREATE TABLE migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
             INSERT INTO migrations VALUES (1, 0), (2, 0);",
        )
        .expect("migrations");
        conn.execute_batch(MIGRATIONS[0].1).expect("v1 schema");
        conn.execute_batch(MIGRATIONS[1].1).expect("v2 schema");

        // The v2 journal: message `a` indexed, message `b` appended but never indexed.
        let seg_name = "seg-00000000000000000001-1.dat";
        let (a, b) = (b"indexed by v2".to_vec(), b"journal tail only".to_vec());
        let (a_sid, a_json) = sighting_json(&a);
        let (_, b_json) = sighting_json(&b);
        let mut buf = Vec::new();
        let a_at = segment::encode_record(&mut buf, &model::MessageId::of(&a), &a);
        let a_json = a_json.as_bytes();
        segment::encode(
            &mut buf,
            RecordKind::Sighting,
            &segment::digest(a_json),
            a_json,
        );
        let indexed_upto = buf.len() as i64;
        segment::encode_record(&mut buf, &model::MessageId::of(&b), &b);
        let b_json = b_json.as_bytes();
        segment::encode(
            &mut buf,
            RecordKind::Sighting,
            &segment::digest(b_json),
            b_json,
        );
        std::fs::write(spool.join(seg_name), &buf).expect("segment");

        // The v2 index of `a`: three jobs (AUTOINCREMENT ids 1..3), the last one completed.
        let a_mid = model::MessageId::of(&a);
        let a_id = &a_mid.as_bytes()[..];
        conn.execute(
            "INSERT INTO blobs (sha256, segment, offset, length, first_seen, last_seen, refcount)
             VALUES (?1, ?2, ?3, ?4, 1, 1, 1)",
            (a_id, seg_name, a_at as i64, a.len() as i64),
        )
        .expect("blob");
        conn.execute(
            "INSERT INTO sightings (id, message_id, received_at, source, peer, sender, size, json,
                                    blob)
             VALUES (?1, ?2, 1, 'smtp', '', '', ?3, ?4, 1)",
            (
                &a_sid.as_bytes()[..],
                a_id,
                a.len() as i64,
                std::str::from_utf8(a_json).expect("utf8"),
            ),
        )
        .expect("sighting");
        for _ in 0..3 {
            conn.execute(
                "INSERT INTO jobs (sighting_id, message_id, created_at) VALUES (?1, ?2, 1)",
                (&a_sid.as_bytes()[..], a_id),
            )
            .expect("job");
        }
        conn.execute("DELETE FROM jobs WHERE id = 3", [])
            .expect("complete");
        conn.execute(
            "INSERT INTO segments (name, indexed_upto) VALUES (?1, ?2)",
            (seg_name, indexed_upto),
        )
        .expect("segment row");
        let pending: i64 = conn
            .query_row(
                "SELECT value FROM counters WHERE name = 'pending_jobs'",
                [],
                |r| r.get(0),
            )
            .expect("v2 counter");
        assert_eq!(pending, 2);
        drop(conn);

        let store = Store::open(cfg.clone()).expect("open migrates");
        let conn = connect(&cfg, true).expect("connect");
        let version: i64 = conn
            .query_row("SELECT max(version) FROM migrations", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        let leftovers: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master
                 WHERE type = 'trigger' OR sql LIKE '%AUTOINCREMENT%'",
                [],
                |r| r.get(0),
            )
            .expect("schema");
        assert_eq!(leftovers, 0, "no trigger and no AUTOINCREMENT after v3");
        let counters: Vec<(String, i64)> = conn
            .prepare("SELECT name, value FROM counters WHERE name != 'sha_indexed_upto'")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<std::result::Result<_, _>>()
            .expect("rows");
        // 3 from sqlite_sequence (not max(id) = 2), then 1 for the replayed sighting of `b`.
        assert_eq!(counters, vec![("last_job_id".to_owned(), 4)]);
        // v4 keyed blob `a` (id 1); `b`, replayed after the migration, may still be in the tail.
        let keyed: i64 = conn
            .query_row("SELECT count(*) FROM blob_keys WHERE blob = 1", [], |r| {
                r.get(0)
            })
            .expect("keys");
        assert_eq!(keyed, 1);

        let stats = store.stats().expect("stats");
        assert_eq!(
            (stats.messages, stats.sightings, stats.pending_jobs),
            (2, 2, 3)
        );
        assert_eq!(store.job_depth().expect("depth"), 3);
        assert_eq!(
            store.raw(&model::MessageId::of(&b)).expect("raw"),
            RawLookup::Found(b.clone())
        );
        let c = b"captured under v3".to_vec();
        let c_sighting: model::Sighting =
            serde_json::from_str(&sighting_json(&c).1).expect("sighting");
        store
            .capture(c.clone(), c_sighting)
            .wait()
            .expect("capture");
        let lease = std::time::Duration::from_secs(60);
        let mut ids = Vec::new();
        while let Some(job) = store.try_claim_job("w", lease).expect("claim") {
            ids.push(job.id);
            store.complete_job(job.id).expect("complete");
        }
        assert_eq!(ids, vec![1, 2, 4, 5], "v2 ids kept, id 3 never reused");
        assert_eq!(store.job_depth().expect("depth"), 0);
        assert_eq!(store.pressure(), crate::Pressure::Normal);
        assert!(store.verify().expect("verify").is_ok());
    }

    /// A v3 data directory (unique index `blobs_by_sha`) opens under v4: `blob_keys` is built
    /// from `blobs` in one pass, the index is dropped, and dedup still finds the old blobs.
    #[test]
    fn a_version_3_data_dir_is_migrated_and_dedup_still_works() {
        use crate::segment::{self, RecordKind};
        use crate::{RawLookup, Store};
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = StoreConfig::new(dir.path());
        cfg.min_free_bytes = 0;
        let spool = cfg.spool_dir();
        std::fs::create_dir_all(&spool).expect("spool");
        let conn = connect(&cfg, false).expect("connect");
        conn.execute_batch(
            "CREATE TABLE migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
             INSERT INTO migrations VALUES (1, 0), (2, 0), (3, 0);",
        )
        .expect("migrations");
        for (_, sql) in &MIGRATIONS[..3] {
            conn.execute_batch(sql).expect("v1..v3 schema");
        }
        let seg_name = "seg-00000000000000000001-1.dat";
        let msgs: Vec<Vec<u8>> = (0..3)
            .map(|i| format!("v3 message {i}").into_bytes())
            .collect();
        let mut buf = Vec::new();
        for (n, m) in msgs.iter().enumerate() {
            let mid = model::MessageId::of(m);
            let at = segment::encode_record(&mut buf, &mid, m);
            let (sid, json) = sighting_json(m);
            segment::encode(
                &mut buf,
                RecordKind::Sighting,
                &segment::digest(json.as_bytes()),
                json.as_bytes(),
            );
            conn.execute(
                "INSERT INTO blobs (sha256, segment, offset, length, first_seen, last_seen,
                                    refcount) VALUES (?1, ?2, ?3, ?4, 1, 1, 1)",
                (&mid.as_bytes()[..], seg_name, at as i64, m.len() as i64),
            )
            .expect("blob");
            conn.execute(
                "INSERT INTO sightings (id, message_id, received_at, source, peer, sender, size,
                                        json, blob)
                 VALUES (?1, ?2, 1, 'smtp', '', '', ?3, ?4, ?5)",
                (
                    &sid.as_bytes()[..],
                    &mid.as_bytes()[..],
                    m.len() as i64,
                    json.as_str(),
                    n as i64 + 1,
                ),
            )
            .expect("sighting");
            conn.execute(
                "INSERT INTO jobs (id, sighting_id, message_id, created_at) VALUES (?1, ?2, ?3, 1)",
                (n as i64 + 1, &sid.as_bytes()[..], &mid.as_bytes()[..]),
            )
            .expect("job");
        }
        conn.execute_batch("UPDATE counters SET value = 3 WHERE name = 'last_job_id'")
            .expect("job mark");
        std::fs::write(spool.join(seg_name), &buf).expect("segment");
        conn.execute(
            "INSERT INTO segments (name, indexed_upto) VALUES (?1, ?2)",
            (seg_name, buf.len() as i64),
        )
        .expect("segment row");
        drop(conn);

        let store = Store::open(cfg.clone()).expect("open migrates");
        let conn = connect(&cfg, true).expect("connect");
        let (version, keys, mark, old_index): (i64, i64, i64, i64) = conn
            .query_row(
                "SELECT (SELECT max(version) FROM migrations),
                        (SELECT count(*) FROM blob_keys k JOIN blobs b
                         ON b.id = k.blob AND b.sha256 = k.sha256),
                        (SELECT value FROM counters WHERE name = 'sha_indexed_upto'),
                        (SELECT count(*) FROM sqlite_master WHERE name = 'blobs_by_sha')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .expect("schema");
        assert_eq!((version, keys, mark, old_index), (SCHEMA_VERSION, 3, 3, 0));
        for m in &msgs {
            let s: model::Sighting = serde_json::from_str(&sighting_json(m).1).expect("sighting");
            let done = store.capture(m.clone(), s).wait().expect("capture");
            assert!(done.duplicate, "a v3 blob is found after the migration");
            assert_eq!(
                store.raw(&model::MessageId::of(m)).expect("raw"),
                RawLookup::Found(m.clone())
            );
        }
        let stats = store.stats().expect("stats");
        assert_eq!((stats.messages, stats.sightings), (3, 6));
        assert!(store.verify().expect("verify").is_ok());
    }

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
