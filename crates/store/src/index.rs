//! Indexing journal records into SQLite, shared by the writer (live batches) and recovery
//! (replay): every statement is idempotent, so a record indexed twice changes nothing.

use crate::error::{Result, StoreError};
use crate::unix_nanos;
use model::{MessageId, SessionRecord, Sighting, SightingSource};
use rusqlite::{CachedStatement, Connection, OptionalExtension};

/// The indexed columns of a sighting plus its JSON, derived from a [`Sighting`] in one place so
/// a live capture and a replayed journal record produce the same row.
#[derive(Debug, Clone)]
pub(crate) struct SightingRow {
    pub id: uuid::Uuid,
    pub message_id: MessageId,
    pub received_at: i64,
    pub source: &'static str,
    pub peer: String,
    pub sender: String,
    pub size: i64,
    /// The sensor that captured it (a collector's sightings), for the `sensors` table.
    pub sensor: Option<model::SensorTag>,
    pub json: String,
}

impl SightingRow {
    pub fn new(sighting: &Sighting, json: String) -> Self {
        Self {
            id: sighting.id,
            message_id: sighting.message_id,
            received_at: unix_nanos(sighting.received_at),
            source: match sighting.source {
                SightingSource::Smtp => "smtp",
                SightingSource::Import { .. } => "import",
            },
            sender: sighting.sender().to_owned(),
            peer: sighting.peer.clone(),
            size: i64::try_from(sighting.size).unwrap_or(i64::MAX),
            sensor: sighting.sensor.clone(),
            json,
        }
    }

    /// Parses a sighting record's payload.
    pub fn from_json(json: &[u8]) -> Result<Self> {
        let text = std::str::from_utf8(json)
            .map_err(|_| StoreError::corrupt("sighting record is not UTF-8"))?;
        let sighting: Sighting = crate::query::parse_json(text, "sighting")?;
        Ok(Self::new(&sighting, text.to_owned()))
    }
}

/// The indexed columns of a session record plus its JSON.
#[derive(Debug, Clone)]
pub(crate) struct SessionRow {
    pub id: uuid::Uuid,
    pub started_at: i64,
    pub peer: String,
    pub json: String,
}

impl SessionRow {
    pub fn new(record: &SessionRecord, json: String) -> Self {
        Self {
            id: record.id,
            started_at: unix_nanos(record.started_at),
            peer: record.peer.clone(),
            json,
        }
    }

    pub fn from_json(json: &[u8]) -> Result<Self> {
        let text = std::str::from_utf8(json)
            .map_err(|_| StoreError::corrupt("session record is not UTF-8"))?;
        let record: SessionRecord = crate::query::parse_json(text, "session")?;
        Ok(Self::new(&record, text.to_owned()))
    }
}

/// The per-message statements of one write transaction, prepared (from the connection's cache)
/// once per batch, plus the job ids handed out in it.
///
/// Every statement here is a plain single-row insert or an update by key: no trigger, no
/// AUTOINCREMENT, no UPSERT, no `RETURNING`, so SQLite never needs a statement journal on
/// this path. Callers must hold the write lock (an immediate transaction) from their
/// [`Indexer::lookup_blob`] to their commit, so the answers it gives stay true.
pub(crate) struct Indexer<'c> {
    conn: &'c Connection,
    lookup: CachedStatement<'c>,
    insert_blob: CachedStatement<'c>,
    add_sightings: CachedStatement<'c>,
    insert_sighting: CachedStatement<'c>,
    insert_job: CachedStatement<'c>,
    /// Whether a new sighting gets an analysis job (`StoreConfig::analysis_jobs`).
    jobs: bool,
    /// The last job id handed out (the stored high-water mark until the first new job).
    last_job: i64,
    /// Jobs created in this transaction.
    pub jobs_added: u64,
}

impl<'c> Indexer<'c> {
    pub fn new(conn: &'c Connection, jobs: bool) -> Result<Self> {
        Ok(Self {
            conn,
            lookup: conn.prepare_cached(&format!(
                "SELECT id, segment IS NOT NULL FROM blobs WHERE id = {}",
                blob_by_sha("?1")
            ))?,
            insert_blob: conn.prepare_cached(
                "INSERT INTO blobs (sha256, segment, offset, length, first_seen, last_seen, refcount)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
            )?,
            add_sightings: conn.prepare_cached(
                "UPDATE blobs SET refcount = refcount + ?2, last_seen = max(last_seen, ?3)
                 WHERE id = ?1",
            )?,
            insert_sighting: conn.prepare_cached(
                "INSERT OR IGNORE INTO sightings
                     (id, message_id, received_at, source, peer, sender, size, json, blob)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?,
            insert_job: conn.prepare_cached(
                "INSERT INTO jobs (id, sighting_id, message_id, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?,
            jobs,
            last_job: crate::jobs::last_id(conn)?,
            jobs_added: 0,
        })
    }

    /// A blob's row: its key and whether its raw bytes are still stored. Sees every blob: the
    /// keyed ones and the unindexed tail (scanned; recovery and tests only, the writer keeps
    /// the tail in memory and calls [`Indexer::lookup_keyed`]).
    pub fn lookup_blob(&mut self, id: &MessageId) -> Result<Option<(i64, bool)>> {
        let mut rows = self.lookup.query([&id.as_bytes()[..]])?;
        match rows.next()? {
            Some(r) => Ok(Some((r.get(0)?, r.get(1)?))),
            None => Ok(None),
        }
    }

    /// A blob looked up in `blob_keys` only (the caller knows it is not in the tail).
    pub fn lookup_keyed(&mut self, id: &MessageId) -> Result<Option<(i64, bool)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT b.id, b.segment IS NOT NULL FROM blob_keys k JOIN blobs b ON b.id = k.blob
             WHERE k.sha256 = ?1",
        )?;
        let mut rows = stmt.query([&id.as_bytes()[..]])?;
        match rows.next()? {
            Some(r) => Ok(Some((r.get(0)?, r.get(1)?))),
            None => Ok(None),
        }
    }

    /// Whether blob `key`'s raw bytes are still stored.
    pub fn is_live(&mut self, key: i64) -> Result<bool> {
        let live = self
            .conn
            .prepare_cached("SELECT segment IS NOT NULL FROM blobs WHERE id = ?1")?
            .query_row([key], |r| r.get(0))?;
        Ok(live)
    }

    /// Inserts a blob the caller just looked up and did not find, stored at
    /// `segment`/`offset`, with `refcount` sightings (added in this transaction). Returns its key.
    pub fn insert_blob(&mut self, new: &NewBlob<'_>, refcount: i64, now: i64) -> Result<i64> {
        let (offset, len) = new.offset_len()?;
        self.insert_blob.execute((
            &new.id.as_bytes()[..],
            new.segment,
            offset,
            len,
            now,
            refcount,
        ))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// A purged blob (`blob`) stored again at `segment`/`offset`.
    pub fn revive_blob(&mut self, blob: i64, new: &NewBlob<'_>) -> Result<()> {
        let (offset, _) = new.offset_len()?;
        self.conn
            .prepare_cached(
                "UPDATE blobs SET segment = ?2, offset = ?3, purged_at = NULL
                 WHERE id = ?1 AND segment IS NULL",
            )?
            .execute((blob, new.segment, offset))?;
        Ok(())
    }

    /// Indexes a blob record idempotently (recovery): a blob already live elsewhere keeps its
    /// location (the record is a redundant copy); a purged one comes back here.
    pub fn index_blob(&mut self, new: &NewBlob<'_>, now: i64) -> Result<i64> {
        match self.lookup_blob(new.id)? {
            Some((blob, true)) => Ok(blob),
            Some((blob, false)) => {
                self.revive_blob(blob, new)?;
                Ok(blob)
            }
            None => self.insert_blob(new, 0, now),
        }
    }

    /// Counts `n` more sightings of `blob`, seen at `now`.
    pub fn add_sightings(&mut self, blob: i64, n: i64, now: i64) -> Result<()> {
        self.add_sightings.execute((blob, n, now))?;
        Ok(())
    }

    /// Inserts a sighting of blob `blob` and, if it is new (and the store analyses), its
    /// analysis job; the blob's refcount is the caller's ([`Indexer::add_sightings`]). Returns
    /// its `seq` if it was new (`None`: a replayed or retried sighting id changes nothing).
    pub fn insert_sighting(&mut self, s: &SightingRow, blob: i64, now: i64) -> Result<Option<i64>> {
        let sid = &s.id.as_bytes()[..];
        let mid = &s.message_id.as_bytes()[..];
        let inserted = self.insert_sighting.execute((
            sid,
            mid,
            s.received_at,
            s.source,
            s.peer.as_str(),
            s.sender.as_str(),
            s.size,
            s.json.as_str(),
            blob,
        ))?;
        if inserted == 0 {
            return Ok(None);
        }
        // Read before the job insert, which moves `last_insert_rowid` to the job.
        let seq = self.conn.last_insert_rowid();
        if self.jobs {
            let job = self.last_job + 1;
            self.insert_job.execute((job, sid, mid, now))?;
            self.last_job = job;
            self.jobs_added += 1;
        }
        Ok(Some(seq))
    }

    /// Indexes a sighting idempotently, refcount included (recovery). Returns its `seq` if it
    /// was new.
    pub fn index_sighting(&mut self, s: &SightingRow, blob: i64, now: i64) -> Result<Option<i64>> {
        let inserted = self.insert_sighting(s, blob, now)?;
        if inserted.is_some() {
            self.add_sightings(blob, 1, now)?;
        }
        Ok(inserted)
    }

    /// The `seq` of a stored sighting (rare paths: a retried id, an ingest replay).
    pub fn sighting_seq(&self, id: &uuid::Uuid) -> Result<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT seq FROM sightings WHERE id = ?1")?
            .query_row([&id.as_bytes()[..]], |r| r.get(0))
            .optional()?)
    }

    /// Stores the job-id high-water mark; call before committing. Returns the jobs created.
    pub fn finish(self) -> Result<u64> {
        if self.jobs_added > 0 {
            crate::jobs::set_last_id(self.conn, self.last_job)?;
        }
        Ok(self.jobs_added)
    }
}

/// Where a blob record was appended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewBlob<'a> {
    pub id: &'a MessageId,
    pub segment: &'a str,
    pub offset: u64,
    pub len: u64,
}

impl NewBlob<'_> {
    fn offset_len(&self) -> Result<(i64, i64)> {
        let offset =
            i64::try_from(self.offset).map_err(|_| StoreError::corrupt("offset overflow"))?;
        let len = i64::try_from(self.len).map_err(|_| StoreError::corrupt("length overflow"))?;
        Ok((offset, len))
    }
}

/// Stores a session record; a later record of the same session replaces the earlier one.
/// Returns the row's `seq` and whether it was inserted (`false`: an existing row was replaced).
/// An insert, else an update by key (not `INSERT OR REPLACE`, which needs a statement journal).
pub(crate) fn index_session(conn: &Connection, s: &SessionRow) -> Result<(i64, bool)> {
    let params = (
        &s.id.as_bytes()[..],
        s.started_at,
        s.peer.as_str(),
        s.json.as_str(),
    );
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO sessions (id, started_at, peer, json) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params)?;
    if inserted == 1 {
        return Ok((conn.last_insert_rowid(), true));
    }
    conn.prepare_cached("UPDATE sessions SET started_at = ?2, peer = ?3, json = ?4 WHERE id = ?1")?
        .execute(params)?;
    Ok((session_seq(conn, &s.id)?.unwrap_or(0), false))
}

/// The `seq` of a stored session record.
pub(crate) fn session_seq(conn: &Connection, id: &uuid::Uuid) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT seq FROM sessions WHERE id = ?1")?
        .query_row([&id.as_bytes()[..]], |r| r.get(0))
        .optional()?)
}

/// The `seq` ranges of the sighting and session rows a segment's records were indexed as
/// (0: none); kept in `segments` (schema v11) so a sensor knows when a segment was forwarded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SeqSpans {
    pub sightings: (i64, i64),
    pub sessions: (i64, i64),
}

impl SeqSpans {
    pub fn sighting(&mut self, seq: i64) {
        widen(&mut self.sightings, seq);
    }

    pub fn session(&mut self, seq: i64) {
        widen(&mut self.sessions, seq);
    }
}

fn widen(span: &mut (i64, i64), seq: i64) {
    if seq <= 0 {
        return;
    }
    span.0 = if span.0 == 0 { seq } else { span.0.min(seq) };
    span.1 = span.1.max(seq);
}

/// Records that `segment` is indexed up to `upto` (never moves backwards) and that its records
/// include the rows of `spans`. An update by key, an insert only for a segment's first batch
/// (no UPSERT: it would need a statement journal).
pub(crate) fn set_indexed_upto(
    conn: &Connection,
    segment: &str,
    upto: u64,
    spans: &SeqSpans,
) -> Result<()> {
    let upto = i64::try_from(upto).map_err(|_| StoreError::corrupt("offset overflow"))?;
    let params = (
        segment,
        upto,
        spans.sightings.0,
        spans.sightings.1,
        spans.sessions.0,
        spans.sessions.1,
    );
    let updated = conn
        .prepare_cached(
            "UPDATE segments SET indexed_upto = max(indexed_upto, ?2),
                 sightings_from = CASE WHEN ?3 = 0 THEN sightings_from
                                       WHEN sightings_from = 0 THEN ?3
                                       ELSE min(sightings_from, ?3) END,
                 sightings_upto = max(sightings_upto, ?4),
                 sessions_from = CASE WHEN ?5 = 0 THEN sessions_from
                                      WHEN sessions_from = 0 THEN ?5
                                      ELSE min(sessions_from, ?5) END,
                 sessions_upto = max(sessions_upto, ?6)
             WHERE name = ?1",
        )?
        .execute(params)?;
    if updated == 0 {
        conn.prepare_cached(
            "INSERT INTO segments (name, indexed_upto, sightings_from, sightings_upto,
                                   sessions_from, sessions_upto)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params)?;
    }
    Ok(())
}

/// Marks everything from `from` on in `segment` as void: a batch whose fdatasync failed.
pub(crate) fn set_void_from(conn: &Connection, segment: &str, from: u64) -> Result<()> {
    let from = i64::try_from(from).map_err(|_| StoreError::corrupt("offset overflow"))?;
    conn.prepare_cached(
        "INSERT INTO segments (name, indexed_upto, void_from) VALUES (?1, ?2, ?2)
         ON CONFLICT(name) DO UPDATE SET void_from = excluded.void_from",
    )?
    .execute((segment, from))?;
    Ok(())
}

/// Per segment: indexed up to where, void from where.
pub(crate) fn segment_marks(
    conn: &Connection,
) -> Result<std::collections::HashMap<String, (u64, Option<u64>)>> {
    let mut stmt = conn.prepare("SELECT name, indexed_upto, void_from FROM segments")?;
    let rows = stmt.query_map([], |r| {
        let upto: i64 = r.get(1)?;
        let void: Option<i64> = r.get(2)?;
        Ok((
            r.get::<_, String>(0)?,
            (
                u64::try_from(upto).unwrap_or(0),
                void.map(|v| u64::try_from(v).unwrap_or(0)),
            ),
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// New blobs are added to `blob_keys` in passes of this many (sorted by hash, so a pass writes
/// each touched leaf once instead of one random leaf per message). Lookups by hash scan at most
/// about this many unindexed rows, so keep it modest.
pub const KEY_BATCH: usize = 4096;

/// An SQL expression: the `blobs.id` whose hash is the parameter `param` (`?1`, `?3`...), or
/// NULL. It looks in `blob_keys`, then in the unindexed tail (`id > sha_indexed_upto`, a rowid
/// range of fewer than about [`KEY_BATCH`] rows), in one statement, so one read snapshot: a
/// reader in any process sees a blob as soon as its batch commits.
pub(crate) fn blob_by_sha(param: &str) -> String {
    format!(
        "coalesce((SELECT blob FROM blob_keys WHERE sha256 = {param}),
                  (SELECT id FROM blobs
                   WHERE id > coalesce((SELECT value FROM counters
                                        WHERE name = 'sha_indexed_upto'), 0)
                     AND sha256 = {param}))"
    )
}

/// How far `blob_keys` covers `blobs` (ids up to this are keyed).
pub(crate) fn keyed_upto(conn: &Connection) -> Result<i64> {
    let upto: Option<i64> = conn
        .prepare_cached("SELECT value FROM counters WHERE name = 'sha_indexed_upto'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(upto.unwrap_or(0))
}

/// The largest blob id (0 when there are none).
pub(crate) fn max_blob(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT coalesce(max(id), 0) FROM blobs")?
        .query_row([], |r| r.get(0))?)
}

/// One key pass: adds every blob after `from` (the current mark) to `blob_keys`, sorted by
/// hash, and advances the mark to `upto` (the largest blob id), in the caller's write
/// transaction. `OR IGNORE`: a hash already keyed (impossible while every inserter checks the
/// tail) must not wedge the writer; `verify` reports such a row.
pub(crate) fn index_keys(conn: &Connection, from: i64, upto: i64) -> Result<()> {
    if upto <= from {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT OR IGNORE INTO blob_keys (sha256, blob)
         SELECT sha256, id FROM blobs WHERE id > ?1 AND id <= ?2 ORDER BY sha256",
    )?
    .execute((from, upto))?;
    let updated = conn
        .prepare_cached("UPDATE counters SET value = ?1 WHERE name = 'sha_indexed_upto'")?
        .execute([upto])?;
    if updated == 0 {
        conn.prepare_cached("INSERT INTO counters (name, value) VALUES ('sha_indexed_upto', ?1)")?
            .execute([upto])?;
    }
    Ok(())
}

/// Keys the whole unindexed tail if it holds at least `min` blobs (recovery, idle writer).
pub(crate) fn index_tail(conn: &Connection, min: i64) -> Result<()> {
    let (from, upto) = (keyed_upto(conn)?, max_blob(conn)?);
    if upto - from >= min.max(1) {
        index_keys(conn, from, upto)?;
    }
    Ok(())
}
