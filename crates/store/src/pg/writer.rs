//! The PostgreSQL store's group-commit thread: captures, ingests and session records.
//!
//! It takes the same commands from the same bounded queue as the SQLite writer (so
//! [`crate::Store::capture`], [`crate::Store::ingest`], `record_session` and `flush` are
//! backend-neutral) and writes each drained batch with one statement per table, using arrays
//! (`unnest`) instead of a round trip per message, in one transaction. Tickets resolve after
//! the commit: the collector acknowledges the bus only then.
//!
//! A sighting whose id is stored already (a redelivery, or a concurrent collector that got it
//! first) is a replay: `ON CONFLICT (id) DO NOTHING` skips it and nothing else of it is written
//! (no blob reference, no job, no sensor count). A failed batch fails every ticket in it (the
//! collector naks and the bus redelivers), drops the connection (it may be the broken one
//! after a PostgreSQL restart) and the next batch connects again.

use super::Pg;
use crate::config::{DISK_PROBE_INTERVAL, StoreConfig};
use crate::error::{Result, StoreError};
use crate::handoff::Room;
use crate::jobs::Job;
use crate::sensors::SensorTally;
use crate::writer::{Cmd, PendingCapture, PendingSession, Shared, unix_millis};
use crate::{Captured, RetentionReport, StoreError as E};
use model::Timestamp;
use postgres::{Client, Transaction};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver};
use std::time::Instant;

/// Runs until [`Cmd::Shutdown`] or until every sender is gone.
pub(crate) fn run(pg: Arc<Pg>, cfg: StoreConfig, rx: Receiver<Cmd>, shared: Arc<Shared>) {
    let mut client: Option<Client> = None;
    let mut last_count = Instant::now();
    loop {
        let first = match rx.recv_timeout(DISK_PROBE_INTERVAL) {
            Ok(cmd) => Some(cmd),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let mut stop = false;
        if let Some(first) = first {
            let mut batch = Batch::default();
            batch.push(first, &shared);
            while !batch.stop
                && batch.captures.len() < cfg.max_batch.max(1)
                && batch.bytes < cfg.max_batch_bytes
            {
                match rx.try_recv() {
                    Ok(cmd) => batch.push(cmd, &shared),
                    Err(_) => break,
                }
            }
            stop = batch.stop;
            batch.process(&pg, &mut client, &cfg, &shared);
        }
        if last_count.elapsed() >= DISK_PROBE_INTERVAL {
            // Other collectors' workers complete jobs too: the backlog behind `pressure()` is
            // recounted here, capped like `usage()`.
            if let Ok(depth) = with_client(&pg, &mut client, super::usage::job_count) {
                shared.pending_jobs.store(depth, Ordering::Relaxed);
            }
            last_count = Instant::now();
        }
        if stop {
            break;
        }
    }
}

/// Runs `f` on the writer's own connection, connecting when it has none (or it broke).
fn with_client<T>(
    pg: &Pg,
    client: &mut Option<Client>,
    f: impl FnOnce(&mut Client) -> Result<T>,
) -> Result<T> {
    if client.as_ref().is_none_or(Client::is_closed) {
        *client = Some(pg.connect()?);
    }
    let c = client.as_mut().ok_or(StoreError::Closed)?;
    let out = f(c);
    if out.is_err() && c.is_closed() {
        *client = None;
    }
    out
}

/// Tries of one batch that PostgreSQL aborted to break a deadlock or a serialization conflict
/// with another collector. The writes lock rows in one order, so this is a second line of
/// defence; a batch that still fails fails its tickets and the bus redelivers it.
pub(crate) const BATCH_ATTEMPTS: u32 = 3;

/// Whether `e` is PostgreSQL choosing this transaction as the loser of a race (retrying it is
/// safe: nothing of it was committed).
pub(crate) fn lost_a_race(e: &StoreError) -> bool {
    use postgres::error::SqlState;
    let code = match e {
        StoreError::Postgres(p) => p.code(),
        _ => None,
    };
    code == Some(&SqlState::T_R_DEADLOCK_DETECTED)
        || code == Some(&SqlState::T_R_SERIALIZATION_FAILURE)
}

/// Commands drained from the queue in one go.
#[derive(Default)]
struct Batch {
    captures: Vec<PendingCapture>,
    sessions: Vec<PendingSession>,
    bytes: usize,
    flushes: Vec<mpsc::Sender<Result<()>>>,
    retention: Vec<(Timestamp, mpsc::Sender<Result<RetentionReport>>)>,
    stop: bool,
}

/// What a committed batch did to each capture and session, in queue order.
struct Written {
    captured: Vec<Captured>,
    sessions_stored: Vec<bool>,
    jobs: u64,
    /// Jobs inserted leased to this process's analysis threads (`handoff.rs`).
    handed: Vec<Handed>,
}

/// A job inserted leased for the handoff: the capture's index in the batch, the job and the
/// capture's sighting.
type Handed = (usize, Job, model::Sighting);

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
            Cmd::Retention(now, reply) => self.retention.push((now, reply)),
            Cmd::Release(reply) => {
                let _ = reply.send(Err(StoreError::Unsupported {
                    what: "releasing forwarded captures",
                    why: "a PostgreSQL store is a collector's, and only a sensor forwards",
                }));
            }
            Cmd::Shutdown => self.stop = true,
        }
    }

    fn process(self, pg: &Pg, client: &mut Option<Client>, cfg: &StoreConfig, shared: &Shared) {
        let Batch {
            captures,
            sessions,
            flushes,
            retention,
            ..
        } = self;
        if !captures.is_empty() || !sessions.is_empty() {
            let room = shared.handoff.room();
            let outcome = with_client(pg, client, |c| {
                let mut attempt = 1;
                loop {
                    let written = c
                        .transaction()
                        .map_err(StoreError::from)
                        .and_then(|mut tx| {
                            let jobs = cfg.analysis_jobs.then_some(room.as_ref());
                            let written = write(&mut tx, &captures, &sessions, jobs)?;
                            tx.commit()?;
                            Ok(written)
                        });
                    match written {
                        Err(e) if attempt < BATCH_ATTEMPTS && lost_a_race(&e) => attempt += 1,
                        other => break other,
                    }
                }
            });
            match outcome {
                Ok(written) => {
                    shared.commits.fetch_add(1, Ordering::Relaxed);
                    shared
                        .pending_jobs
                        .fetch_add(written.jobs, Ordering::Relaxed);
                    shared.failed_at_ms.store(0, Ordering::Relaxed);
                    // Queued before the replies: a capture whose ticket resolved has its job
                    // where the analysis threads look.
                    let mut handed = written.handed.into_iter().peekable();
                    let mut queued = Vec::new();
                    let mut replies = Vec::with_capacity(captures.len());
                    for (i, (c, done)) in captures.into_iter().zip(written.captured).enumerate() {
                        if let Some((_, job, sighting)) = handed.next_if(|(at, ..)| *at == i) {
                            queued.push(crate::handoff::claimed(job, sighting, c.raw));
                        }
                        replies.push((c.reply, done));
                    }
                    let refused = shared.handoff.push(queued, Instant::now());
                    if !refused.is_empty() {
                        give_back(pg, client, shared, &refused);
                    }
                    for (reply, done) in replies {
                        let _ = reply.send(Ok(done));
                    }
                    for (s, stored) in sessions.into_iter().zip(written.sessions_stored) {
                        if let Some(reply) = s.ingest {
                            let _ = reply.send(Ok(stored));
                        }
                    }
                    for f in flushes {
                        let _ = f.send(Ok(()));
                    }
                }
                Err(e) => {
                    shared.batch_failed(&e, captures.len());
                    shared
                        .failed_at_ms
                        .store(unix_millis().max(1), Ordering::Relaxed);
                    // The connection may be the broken one: the next batch connects again.
                    *client = None;
                    let e = Arc::new(e);
                    for c in captures {
                        let _ = c.reply.send(Err(E::WriteFailed(e.clone())));
                    }
                    let mut dropped = 0;
                    for s in sessions {
                        match s.ingest {
                            Some(reply) => {
                                let _ = reply.send(Err(E::WriteFailed(e.clone())));
                            }
                            None => dropped += 1,
                        }
                    }
                    if dropped > 0 {
                        shared.session_records_dropped(dropped, "their batch failed");
                    }
                    for f in flushes {
                        let _ = f.send(Err(E::WriteFailed(e.clone())));
                    }
                }
            }
        } else {
            for f in flushes {
                let _ = f.send(Ok(()));
            }
        }
        for (now, reply) in retention {
            let report = with_client(pg, client, |c| super::retention::run(c, cfg, now));
            let _ = reply.send(report);
        }
    }
}

/// Writes one batch in `tx`: sightings first (their ids decide what is a replay), then the
/// blobs they name, their jobs (`jobs`: `None` when analysis is off; the handoff's room
/// otherwise), the sensors' counts and the session records.
fn write(
    tx: &mut Transaction<'_>,
    captures: &[PendingCapture],
    sessions: &[PendingSession],
    jobs: Option<Option<&Room>>,
) -> Result<Written> {
    let now = crate::unix_nanos(model::now());
    let inserted = insert_sightings(tx, captures)?;
    // Blobs of the sightings stored now, one row per distinct message (an upsert may not touch
    // a row twice in one statement).
    let mut per_blob: HashMap<[u8; 32], (usize, i64)> = HashMap::new();
    let mut fresh = vec![false; captures.len()];
    let mut seen_ids = HashSet::new();
    for (i, c) in captures.iter().enumerate() {
        if inserted.contains(c.row.id.as_bytes()) && seen_ids.insert(c.row.id) {
            fresh[i] = true;
            per_blob
                .entry(*c.row.message_id.as_bytes())
                .or_insert((i, 0))
                .1 += 1;
        }
    }
    let new_blobs = upsert_blobs(tx, captures, &per_blob, now)?;
    let (jobs, handed) = match jobs {
        Some(room) => insert_jobs(tx, captures, &fresh, room, now)?,
        None => (0, Vec::new()),
    };
    let mut tally = SensorTally::default();
    for (c, _) in captures.iter().zip(&fresh).filter(|(_, f)| **f) {
        tally.add(&c.row);
    }
    for (id, sector, location, n, first, last) in tally.rows() {
        tx.execute(
            "INSERT INTO sensors (id, sector, location, sightings, first_seen, last_seen)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET sector = excluded.sector,
                 location = excluded.location,
                 sightings = sensors.sightings + excluded.sightings,
                 first_seen = least(sensors.first_seen, excluded.first_seen),
                 last_seen = greatest(sensors.last_seen, excluded.last_seen)",
            &[&id, &sector, &location, &n, &first, &last],
        )?;
    }
    // A message is a duplicate when its blob was stored before, or earlier in this batch.
    let mut first_of_blob: HashSet<[u8; 32]> = HashSet::new();
    let captured = captures
        .iter()
        .zip(&fresh)
        .map(|(c, fresh)| {
            let key = *c.row.message_id.as_bytes();
            let new_blob = *fresh && new_blobs.contains(&key) && first_of_blob.insert(key);
            Captured {
                message_id: c.row.message_id,
                sighting_id: c.row.id,
                duplicate: !new_blob,
                replayed: !*fresh,
            }
        })
        .collect();
    let sessions_stored = write_sessions(tx, sessions)?;
    Ok(Written {
        captured,
        sessions_stored,
        jobs,
        handed,
    })
}

/// Gives back jobs leased for a handoff that closed meanwhile; they would otherwise wait for
/// their lease to end.
fn give_back(pg: &Pg, client: &mut Option<Client>, shared: &Shared, jobs: &[crate::Claimed]) {
    let ids: Vec<i64> = jobs.iter().map(|c| c.job.id).collect();
    let worker = shared.handoff.worker();
    let released = with_client(pg, client, |c| {
        Ok(c.execute(super::jobs::RELEASE, &[&ids, &worker])?)
    });
    if let Err(e) = released {
        tracing::warn!(error = %e, jobs = ids.len(), "cannot give handed analysis jobs back; they come back when their lease ends");
    }
}

/// Inserts the jobs of the captures stored now (`fresh`); the first ones, while `room`
/// lasts, leased to this process's analysis threads, as a claim would leave them. Returns how
/// many jobs, and the leased ones by capture index (ascending).
fn insert_jobs(
    tx: &mut Transaction<'_>,
    captures: &[PendingCapture],
    fresh: &[bool],
    room: Option<&Room>,
    now: i64,
) -> Result<(u64, Vec<Handed>)> {
    let mut handed: Vec<(usize, model::Sighting)> = Vec::new();
    let mut bytes = 0usize;
    let (mut sids, mut mids, mut at) = (Vec::new(), Vec::new(), Vec::new());
    let (mut until, mut worker, mut attempts) = (Vec::new(), Vec::new(), Vec::new());
    for (i, c) in captures.iter().enumerate().filter(|(i, _)| fresh[*i]) {
        sids.push(c.row.id.as_bytes().as_slice());
        mids.push(c.row.message_id.as_bytes().as_slice());
        at.push(now);
        let fits = |r: &&Room| handed.len() < r.jobs && bytes + c.raw.len() <= r.bytes;
        let lease = room.filter(fits).and_then(|r| {
            // The sighting as the threads will get it; one that does not read back (never
            // expected: the row holds its serialisation) is left to a claim.
            let s = crate::query::parse_json::<model::Sighting>(&c.row.json, "sighting").ok()?;
            handed.push((i, s));
            bytes += c.raw.len();
            Some(r)
        });
        until.push(lease.map_or(0, |r| crate::jobs::lease_end(now, r.lease)));
        worker.push(lease.map(|r| r.worker.as_str()));
        attempts.push(i64::from(lease.is_some()));
    }
    if sids.is_empty() {
        return Ok((0, Vec::new()));
    }
    let rows = tx.query(
        "INSERT INTO jobs (sighting_id, message_id, created_at, lease_until, worker, attempts)
         SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::int8[], $4::int8[], $5::text[],
                              $6::int8[])
         RETURNING id, sighting_id, attempts",
        &[&sids, &mids, &at, &until, &worker, &attempts],
    )?;
    let mut ids: HashMap<&[u8], i64> = HashMap::with_capacity(handed.len());
    for r in &rows {
        if r.try_get::<_, i64>(2)? > 0 {
            ids.insert(r.try_get(1)?, r.try_get(0)?);
        }
    }
    let handed = handed
        .into_iter()
        .filter_map(|(i, sighting)| {
            let row = &captures[i].row;
            let id = *ids.get(row.id.as_bytes().as_slice())?;
            let job = Job {
                id,
                sighting_id: row.id,
                message_id: row.message_id,
                attempts: 1,
            };
            Some((i, job, sighting))
        })
        .collect();
    Ok((rows.len() as u64, handed))
}

/// Inserts the batch's sightings; returns the ids stored now.
fn insert_sightings(
    tx: &mut Transaction<'_>,
    captures: &[PendingCapture],
) -> Result<HashSet<[u8; 16]>> {
    if captures.is_empty() {
        return Ok(HashSet::new());
    }
    // Sorted by id: two collectors inserting overlapping redeliveries wait on each other's
    // rows in the same order, so one waits for the other to commit instead of deadlocking.
    let mut rows: Vec<_> = captures.iter().map(|c| &c.row).collect();
    rows.sort_by_key(|r| r.id);
    let ids: Vec<&[u8]> = rows.iter().map(|r| r.id.as_bytes().as_slice()).collect();
    let mids: Vec<&[u8]> = rows
        .iter()
        .map(|r| r.message_id.as_bytes().as_slice())
        .collect();
    let at: Vec<i64> = rows.iter().map(|r| r.received_at).collect();
    let source: Vec<&str> = rows.iter().map(|r| r.source).collect();
    let peer: Vec<Cow<'_, str>> = rows.iter().map(|r| text(&r.peer)).collect();
    let sender: Vec<Cow<'_, str>> = rows.iter().map(|r| text(&r.sender)).collect();
    let size: Vec<i64> = rows.iter().map(|r| r.size).collect();
    let json: Vec<&str> = rows.iter().map(|r| r.json.as_str()).collect();
    let stored = tx.query(
        "INSERT INTO sightings (id, message_id, received_at, source, peer, sender, size, json)
         SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::int8[], $4::text[], $5::text[],
                              $6::text[], $7::int8[], $8::text[])
         ON CONFLICT (id) DO NOTHING
         RETURNING id",
        &[&ids, &mids, &at, &source, &peer, &sender, &size, &json],
    )?;
    let mut out = HashSet::with_capacity(stored.len());
    for row in stored {
        let id: &[u8] = row.try_get(0)?;
        if let Ok(id) = <[u8; 16]>::try_from(id) {
            out.insert(id);
        }
    }
    Ok(out)
}

/// Adds the references of the batch's new sightings to their blobs (storing the raw bytes of
/// new ones, and again of purged ones); returns the hashes whose bytes were stored now: new
/// ones (`xmax = 0`: inserted, not updated) and purged ones stored again, like the SQLite
/// store, which answers `duplicate: false` for both. The subquery reads the table as it was
/// before this statement, so it sees the purged row's `raw IS NULL`.
fn upsert_blobs(
    tx: &mut Transaction<'_>,
    captures: &[PendingCapture],
    per_blob: &HashMap<[u8; 32], (usize, i64)>,
    now: i64,
) -> Result<HashSet<[u8; 32]>> {
    if per_blob.is_empty() {
        return Ok(HashSet::new());
    }
    // Sorted by hash: two collectors upserting overlapping blobs lock them in the same order.
    let mut keys: Vec<_> = per_blob.iter().collect();
    keys.sort_by_key(|(k, _)| **k);
    let sha: Vec<&[u8]> = keys.iter().map(|(k, _)| k.as_slice()).collect();
    let len: Vec<i64> = keys
        .iter()
        .map(|(_, (i, _))| captures[*i].raw.len() as i64)
        .collect();
    let raw: Vec<&[u8]> = keys
        .iter()
        .map(|(_, (i, _))| captures[*i].raw.as_slice())
        .collect();
    let refs: Vec<i64> = keys.iter().map(|(_, (_, n))| *n).collect();
    let rows = tx.query(
        "INSERT INTO blobs (sha256, length, raw, first_seen, last_seen, refcount)
         SELECT s, l, r, $4, $4, n FROM unnest($1::bytea[], $2::int8[], $3::bytea[], $5::int8[])
             AS u(s, l, r, n)
         ON CONFLICT (sha256) DO UPDATE SET
             refcount = blobs.refcount + excluded.refcount,
             last_seen = greatest(blobs.last_seen, excluded.last_seen),
             purged_at = CASE WHEN blobs.raw IS NULL THEN NULL ELSE blobs.purged_at END,
             raw = coalesce(blobs.raw, excluded.raw)
         RETURNING sha256, (xmax = 0 OR coalesce(
             (SELECT old.raw IS NULL FROM blobs old WHERE old.sha256 = blobs.sha256), false))
             AS stored_now",
        &[&sha, &len, &raw, &now, &refs],
    )?;
    let mut out = HashSet::new();
    for row in rows {
        let inserted: bool = row.try_get(1)?;
        let sha: &[u8] = row.try_get(0)?;
        if inserted && let Ok(sha) = <[u8; 32]>::try_from(sha) {
            out.insert(sha);
        }
    }
    Ok(out)
}

/// Session records: an ingested one is stored unless its id is (a replay, `false`); a local
/// one replaces a record with its id, like the SQLite store's.
fn write_sessions(tx: &mut Transaction<'_>, sessions: &[PendingSession]) -> Result<Vec<bool>> {
    let mut stored = vec![false; sessions.len()];
    let mut seen = HashSet::new();
    // In id order, like the sightings: collectors lock overlapping rows in the same order.
    let mut order: Vec<usize> = (0..sessions.len()).collect();
    order.sort_by_key(|&i| sessions[i].row.id);
    for i in order {
        let s = &sessions[i];
        let id = s.row.id.as_bytes().as_slice();
        let peer = text(&s.row.peer);
        let params: [&(dyn postgres::types::ToSql + Sync); 4] =
            [&id, &s.row.started_at, &peer, &s.row.json];
        let n = if s.ingest.is_some() {
            if !seen.insert(s.row.id) {
                continue;
            }
            tx.execute(
                "INSERT INTO sessions (id, started_at, peer, json) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO NOTHING",
                &params,
            )?
        } else {
            tx.execute(
                "INSERT INTO sessions (id, started_at, peer, json) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at,
                     peer = excluded.peer, json = excluded.json",
                &params,
            )?
        };
        stored[i] = n > 0;
    }
    Ok(stored)
}

/// PostgreSQL text cannot hold NUL, and one attacker-chosen NUL in a sender address would fail
/// every batch its message lands in (the bus redelivers it, with its neighbours, for ever): in
/// the columns the store searches by it becomes U+FFFD. The JSON record keeps the original
/// (serde_json writes it as `\u0000`).
pub(crate) fn text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{fffd}"))
    } else {
        Cow::Borrowed(s)
    }
}
