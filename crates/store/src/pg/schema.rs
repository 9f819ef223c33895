//! The PostgreSQL schema and its migrations.
//!
//! One schema version list of its own (the SQLite history of journal-first tricks, lazy hash
//! keys and counters has no reason to exist here). Types follow the SQLite store so both
//! backends share their row-decoding helpers: ids and hashes are `BYTEA` (UUID bytes,
//! SHA-256), times are `BIGINT` unix nanoseconds, model records are JSON text.
//!
//! Version 1 is the base (this file) plus each module's tables (`DDL` in each file), created in
//! one transaction under an advisory lock, so collectors starting together migrate once.
//! Version 2 compresses the large values with lz4 ([`VERSION_2`]).

use super::LOCK_MIGRATE;
use crate::error::{Result, StoreError};
use postgres::Client;

/// The newest schema this build knows.
pub const PG_SCHEMA_VERSION: i64 = 2;

/// Captures: raw messages, sightings, session records, analysis jobs, sensors.
const BASE: &str = "
    CREATE TABLE blobs (
        sha256     BYTEA PRIMARY KEY,   -- MessageId, 32 bytes
        length     BIGINT NOT NULL,     -- raw message bytes
        raw        BYTEA,               -- NULL once retention purged it
        first_seen BIGINT NOT NULL,     -- unix nanoseconds
        last_seen  BIGINT NOT NULL,
        refcount   BIGINT NOT NULL,     -- sightings of this message
        purged_at  BIGINT
    );
    CREATE INDEX blobs_by_first_seen ON blobs(first_seen) WHERE raw IS NOT NULL;

    CREATE TABLE sightings (
        seq         BIGSERIAL PRIMARY KEY,
        id          BYTEA NOT NULL UNIQUE,  -- UUIDv7
        message_id  BYTEA NOT NULL,         -- blobs.sha256
        received_at BIGINT NOT NULL,
        source      TEXT NOT NULL,          -- smtp | import
        peer        TEXT NOT NULL,
        sender      TEXT NOT NULL,
        size        BIGINT NOT NULL,
        json        TEXT NOT NULL           -- the full model::Sighting
    );
    CREATE INDEX sightings_by_time ON sightings(received_at);
    CREATE INDEX sightings_by_message ON sightings(message_id);

    CREATE TABLE sessions (
        seq        BIGSERIAL PRIMARY KEY,
        id         BYTEA NOT NULL UNIQUE,
        started_at BIGINT NOT NULL,
        peer       TEXT NOT NULL,
        json       TEXT NOT NULL            -- the full model::SessionRecord
    );
    CREATE INDEX sessions_by_time ON sessions(started_at);

    -- Ids from a sequence are never reused, so a late complete_job cannot delete a newer job.
    CREATE TABLE jobs (
        id          BIGSERIAL PRIMARY KEY,
        sighting_id BYTEA NOT NULL,
        message_id  BYTEA NOT NULL,
        created_at  BIGINT NOT NULL,
        lease_until BIGINT NOT NULL DEFAULT 0,  -- 0: never claimed
        worker      TEXT,
        attempts    BIGINT NOT NULL DEFAULT 0
    );
    CREATE INDEX jobs_by_lease ON jobs(lease_until, id);

    CREATE TABLE sensors (
        id         TEXT PRIMARY KEY,        -- model::SensorTag id
        sector     TEXT NOT NULL,           -- as last seen
        location   TEXT NOT NULL,
        sightings  BIGINT NOT NULL,
        first_seen BIGINT NOT NULL,
        last_seen  BIGINT NOT NULL
    );
";

/// Every table of version 1, in creation order.
fn version_1() -> [&'static str; 14] {
    [
        BASE,
        super::reports::DDL,
        super::intel::DDL,
        super::campaigns::DDL,
        super::alerts::DDL,
        super::accounts::DDL,
        super::search::DDL,
        super::seeds::DDL,
        super::domains::DDL,
        super::attribution::DDL,
        super::campaign_read::DDL,
        super::seeds_read::DDL,
        super::domain_report::DDL,
        super::retention::DDL,
    ]
}

/// The large values (raw messages, the JSON records) compressed with lz4 instead of the server's
/// default, pglz. Measured on the sensor-network bench (docs/PERFORMANCE.md): pglz spent about
/// 80 µs of server CPU per report inserting its 2 KB JSON, mostly on failed attempts that
/// stored it uncompressed, and did so again when the clustering step updated the row; lz4
/// compresses it, and an update copies the compressed value. Only new values change; a server
/// before 14, or one built without lz4, keeps pglz (the statements are `EXECUTE`d so that such
/// a server never parses them).
const VERSION_2: &str = "
    DO $$
    BEGIN
        IF current_setting('server_version_num')::int >= 140000 THEN
            BEGIN
                EXECUTE 'ALTER TABLE blobs ALTER COLUMN raw SET COMPRESSION lz4';
                EXECUTE 'ALTER TABLE sightings ALTER COLUMN json SET COMPRESSION lz4';
                EXECUTE 'ALTER TABLE sessions ALTER COLUMN json SET COMPRESSION lz4';
                EXECUTE 'ALTER TABLE reports ALTER COLUMN json SET COMPRESSION lz4';
                EXECUTE 'ALTER TABLE campaigns ALTER COLUMN profile SET COMPRESSION lz4';
                EXECUTE 'ALTER TABLE alerts ALTER COLUMN json SET COMPRESSION lz4';
            EXCEPTION WHEN feature_not_supported THEN
                RAISE NOTICE 'lz4 is not available on this server: pglz stays';
            END;
        END IF;
    END $$";

/// Creates `schema` if asked, then applies what is missing, in one transaction.
pub(crate) fn migrate(client: &mut Client, schema: Option<&str>) -> Result<()> {
    if let Some(schema) = schema {
        // Validated by the caller: an unquoted identifier.
        client.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))?;
    }
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_MIGRATE])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS migrations (
             version    BIGINT PRIMARY KEY,
             applied_at BIGINT NOT NULL
         )",
    )?;
    let current: i64 = tx
        .query_one(
            "SELECT coalesce(max(version), 0)::BIGINT FROM migrations",
            &[],
        )?
        .get(0);
    if current > PG_SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported: PG_SCHEMA_VERSION,
        });
    }
    if current < 1 {
        for ddl in version_1() {
            tx.batch_execute(ddl)?;
        }
        tx.execute(
            "INSERT INTO migrations (version, applied_at) VALUES (1, $1)",
            &[&crate::unix_nanos(model::now())],
        )?;
        tracing::info!(version = 1, "PostgreSQL store schema created");
    }
    if current < 2 {
        tx.batch_execute(VERSION_2)?;
        tx.execute(
            "INSERT INTO migrations (version, applied_at) VALUES (2, $1)",
            &[&crate::unix_nanos(model::now())],
        )?;
        tracing::info!(version = 2, "PostgreSQL store schema migrated");
    }
    tx.commit()?;
    Ok(())
}
