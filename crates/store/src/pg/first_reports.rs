//! The report save for a batch of first reports: one statement per table for the whole batch.
//!
//! Nearly every report a collector saves is a sighting's first, and the per-report save sends
//! eight statements for each, one network round trip apiece, in the one serial saver thread
//! (`docs/PERFORMANCE.md`). Here the batch's rows go in as arrays (`unnest`), as the capture
//! path's writer does: the reports, the message index rows (facts, search text, domains), the
//! dashboard rollups (summed per key first) and the indicator index (each indicator once per
//! batch, with the batch's earliest and latest sighting). The rules are those of the
//! per-report save in `reports.rs`, `search.rs` and `domains.rs`; the store test suite runs
//! the same assertions over both paths and over SQLite.
//!
//! Only first reports come here: the caller has locked the batch's sightings (in id order)
//! and read that none has a report, so nothing here can meet a concurrent save of the same
//! sighting, and no previous class or indicator link has to be taken back. Rows every
//! collector may lock (rollups, indicators) are written in key order, so two collectors'
//! batches lock them in one order.

use super::prepared::Tx;
use crate::error::{Result, StoreError};
use crate::reports::ReportSave;
use crate::search::{Text, hour_of, mailbox, network_of, trap_domains};
use crate::unix_nanos;
use model::Sighting;
use model::report::{IndicatorKind, Report};
use std::collections::{BTreeMap, HashMap};

/// A report to save, with its sighting's `sightings.seq` (the message index key).
pub(crate) struct First<'s, 'r> {
    pub(crate) item: &'s ReportSave<'r>,
    pub(crate) sighting_seq: i64,
}

/// Saves `batch` (first reports of distinct, stored sightings) in the caller's transaction,
/// all but their indicators ([`indicators`], which the caller writes under the feeds' clock):
/// nothing written here carries a `changed_at` stamp or is a row the clock's holders write.
pub(crate) fn save(tx: &mut Tx<'_>, batch: &[First<'_, '_>], now: i64) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    rollups(tx, batch)?;
    message_index(tx, batch)?;
    let seqs = reports(tx, batch, now)?;
    domains(tx, batch, &seqs)?;
    for f in batch {
        super::attribution::attribute(tx, f.item.sighting)?;
    }
    Ok(())
}

/// The reports, returning each one's `reports.seq` by sighting id.
fn reports(tx: &mut Tx<'_>, batch: &[First<'_, '_>], now: i64) -> Result<HashMap<Vec<u8>, i64>> {
    let mut sid = Vec::with_capacity(batch.len());
    let mut message = Vec::with_capacity(batch.len());
    let mut received = Vec::with_capacity(batch.len());
    let mut engine = Vec::with_capacity(batch.len());
    let mut class = Vec::with_capacity(batch.len());
    let mut score = Vec::with_capacity(batch.len());
    let mut json = Vec::with_capacity(batch.len());
    for f in batch {
        let (s, r) = (f.item.sighting, f.item.report);
        sid.push(s.id.as_bytes().to_vec());
        message.push(r.message_id.as_bytes().to_vec());
        received.push(unix_nanos(s.received_at));
        engine.push(r.engine.as_str());
        class.push(r.verdict.class.as_str());
        score.push(i64::from(r.verdict.score));
        json.push(
            serde_json::to_string(r)
                .map_err(|e| StoreError::corrupt(format!("report JSON: {e}")))?,
        );
    }
    let rows = tx.query(
        "INSERT INTO reports (sighting_id, message_id, received_at, analyzed_at, engine, class,
                              score, json)
         SELECT s, m, r, $4, e, c, sc, j
         FROM unnest($1::bytea[], $2::bytea[], $3::int8[], $5::text[], $6::text[], $7::int8[],
                     $8::text[]) AS t(s, m, r, e, c, sc, j)
         ON CONFLICT (sighting_id) DO UPDATE SET analyzed_at = excluded.analyzed_at,
             engine = excluded.engine, class = excluded.class, score = excluded.score,
             json = excluded.json
         RETURNING sighting_id, seq",
        &[
            &sid, &message, &received, &now, &engine, &class, &score, &json,
        ],
    )?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// The dashboard rollups: messages per hour by class and trap domain, and per hour by sending
/// network, summed over the batch per key.
fn rollups(tx: &mut Tx<'_>, batch: &[First<'_, '_>]) -> Result<()> {
    let mut hours: BTreeMap<(i64, &str, String), i64> = BTreeMap::new();
    let mut networks: BTreeMap<(i64, String), i64> = BTreeMap::new();
    for f in batch {
        let (s, r) = (f.item.sighting, f.item.report);
        let hour = hour_of(s.received_at);
        for d in trap_domains(s) {
            *hours
                .entry((hour, r.verdict.class.as_str(), d))
                .or_default() += 1;
        }
        *networks.entry((hour, network_of(&s.peer))).or_default() += 1;
    }
    let (mut h, mut c, mut d, mut n) = (vec![], vec![], vec![], vec![]);
    for ((hour, class, domain), count) in hours {
        h.push(hour);
        c.push(class);
        d.push(domain);
        n.push(count);
    }
    let (mut nh, mut nn, mut nc) = (vec![], vec![], vec![]);
    for ((hour, network), count) in networks {
        nh.push(hour);
        nn.push(network);
        nc.push(count);
    }
    tx.execute(
        "WITH hours AS (
             INSERT INTO message_hours (hour, class, domain, count)
             SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::int8[])
             ON CONFLICT (hour, class, domain)
             DO UPDATE SET count = message_hours.count + EXCLUDED.count)
         INSERT INTO message_networks (hour, network, count)
         SELECT * FROM unnest($5::int8[], $6::text[], $7::int8[])
         ON CONFLICT (hour, network)
         DO UPDATE SET count = message_networks.count + EXCLUDED.count",
        &[&h, &c, &d, &n, &nh, &nn, &nc],
    )?;
    Ok(())
}

/// The message index rows: facts and search text, keyed by `sightings.seq`.
fn message_index(tx: &mut Tx<'_>, batch: &[First<'_, '_>]) -> Result<()> {
    let n = batch.len();
    let (mut seq, mut class, mut subject, mut sender, mut attachments) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut words: [Vec<String>; 5] = Default::default();
    for f in batch {
        let (s, r) = (f.item.sighting, f.item.report);
        seq.push(f.sighting_seq);
        class.push(r.verdict.class.as_str());
        subject.push(r.headers.subject.as_deref().map(str::as_bytes));
        sender.push(r.headers.from.as_ref().map(|m| mailbox(m).into_bytes()));
        // Depth 0: attached to the message itself (archive members are deeper).
        attachments.push(super::big(
            r.artifacts.iter().filter(|a| a.depth == 0).count(),
        ));
        let t = Text::of(s, r);
        for (column, text) in
            words
                .iter_mut()
                .zip([&t.subject, &t.sender, &t.rcpt, &t.filenames, &t.body])
        {
            column.push(super::search::tsvector(text));
        }
    }
    let [w_subject, w_sender, w_rcpt, w_filenames, w_body] = &words;
    tx.execute(
        "WITH facts AS (
             INSERT INTO message_facts (seq, class, subject, sender, attachments)
             SELECT * FROM unnest($1::int8[], $2::text[], $3::bytea[], $4::bytea[], $5::int8[])
             ON CONFLICT (seq) DO UPDATE SET class = EXCLUDED.class, subject = EXCLUDED.subject,
                 sender = EXCLUDED.sender, attachments = EXCLUDED.attachments)
         INSERT INTO message_text (seq, subject, sender, rcpt, filenames, body)
         SELECT q, a::tsvector, b::tsvector, c::tsvector, d::tsvector, e::tsvector
         FROM unnest($1::int8[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
             AS t(q, a, b, c, d, e)
         ON CONFLICT (seq) DO UPDATE SET subject = EXCLUDED.subject, sender = EXCLUDED.sender,
             rcpt = EXCLUDED.rcpt, filenames = EXCLUDED.filenames, body = EXCLUDED.body",
        &[
            &seq,
            &class,
            &subject,
            &sender,
            &attachments,
            w_subject,
            w_sender,
            w_rcpt,
            w_filenames,
            w_body,
        ],
    )?;
    Ok(())
}

/// The per-domain message index (`domains.rs`): one row per report and trap domain.
fn domains(tx: &mut Tx<'_>, batch: &[First<'_, '_>], seqs: &HashMap<Vec<u8>, i64>) -> Result<()> {
    let (mut domain, mut received, mut seq, mut sensor) = (vec![], vec![], vec![], vec![]);
    for f in batch {
        let s = f.item.sighting;
        let Some(report_seq) = seqs.get(s.id.as_bytes().as_slice()) else {
            return Err(StoreError::corrupt(format!(
                "report of sighting {} not returned by its insert",
                s.id
            )));
        };
        let tag = crate::domains::sensor_of(s);
        for d in trap_domains(s).into_iter().filter(|d| !d.is_empty()) {
            domain.push(d);
            received.push(unix_nanos(s.received_at));
            seq.push(*report_seq);
            sensor.push(tag.clone());
        }
    }
    if domain.is_empty() {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO message_domains (domain, received_at, seq, sensor)
         SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::text[])
         ON CONFLICT DO NOTHING",
        &[&domain, &received, &seq, &sensor],
    )?;
    Ok(())
}

/// One indicator of the batch: the earliest and latest sighting it appeared in, its file facts
/// (the first report that has them), and the sightings that link to it.
struct Seen {
    kind: IndicatorKind,
    first: i64,
    last: i64,
    detail: Option<String>,
    sightings: Vec<Vec<u8>>,
}

/// Upserts the indicators of `reports` once each (in (kind, value) order), links each to the
/// sightings it appeared in, and counts the new links; returns the indicators' ids. Also the
/// per-report save's (`reports.rs`) for one report, which then unlinks what it no longer has.
/// A value containing NUL is left out (see `reports.rs`).
pub(crate) fn indicators(
    tx: &mut Tx<'_>,
    reports: &[(&Sighting, &Report)],
    changed: i64,
) -> Result<Vec<i64>> {
    let mut seen: BTreeMap<(&str, &str), Seen> = BTreeMap::new();
    for (s, r) in reports {
        let received = unix_nanos(s.received_at);
        let sid = s.id.as_bytes().to_vec();
        for i in r.indicators.iter().filter(|i| !i.value.contains('\0')) {
            let e = seen
                .entry((i.kind.as_str(), i.value.as_str()))
                .or_insert_with(|| Seen {
                    kind: i.kind,
                    first: received,
                    last: received,
                    detail: None,
                    sightings: Vec::new(),
                });
            e.first = e.first.min(received);
            e.last = e.last.max(received);
            if e.detail.is_none() && e.kind == IndicatorKind::Sha256 {
                e.detail = crate::intel::file_facts(r, &i.value);
            }
            // A report lists an indicator once per place it was found: link it once.
            if e.sightings.last() != Some(&sid) {
                e.sightings.push(sid.clone());
            }
        }
    }
    if seen.is_empty() {
        return Ok(Vec::new());
    }
    let n = seen.len();
    let (mut kinds, mut values, mut firsts, mut lasts, mut uuids, mut details) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for ((kind, value), s) in &seen {
        kinds.push(*kind);
        values.push(*value);
        firsts.push(s.first);
        lasts.push(s.last);
        uuids.push(crate::intel::new_indicator_uuid().as_bytes().to_vec());
        details.push(s.detail.clone());
    }
    // `changed_at` moves when what a feed says changes: first or last seen, or file facts.
    let rows = tx.query(
        "INSERT INTO indicators AS i (kind, value, first_seen, last_seen, count, uuid,
                                      changed_at, detail)
         SELECT k, v, f, l, 0, u, $7::int8, d
         FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], $5::bytea[], $6::text[])
             AS t(k, v, f, l, u, d)
         ON CONFLICT (kind, value) DO UPDATE SET
             first_seen = least(i.first_seen, excluded.first_seen),
             last_seen = greatest(i.last_seen, excluded.last_seen),
             changed_at = CASE WHEN excluded.first_seen < i.first_seen
                                 OR excluded.last_seen > i.last_seen
                                 OR (i.detail IS NULL AND excluded.detail IS NOT NULL)
                          THEN excluded.changed_at ELSE i.changed_at END,
             detail = coalesce(i.detail, excluded.detail)
         RETURNING id, kind, value",
        &[&kinds, &values, &firsts, &lasts, &uuids, &details, &changed],
    )?;
    let mut ids: HashMap<(String, String), i64> = HashMap::with_capacity(rows.len());
    for r in &rows {
        ids.insert((r.try_get(1)?, r.try_get(2)?), r.try_get(0)?);
    }
    let mut links: Vec<(i64, &[u8])> = Vec::new();
    let mut upserted = Vec::with_capacity(n);
    for ((kind, value), s) in &seen {
        let Some(id) = ids.get(&((*kind).to_string(), (*value).to_string())) else {
            return Err(StoreError::corrupt(format!(
                "indicator {kind} {value:?} not returned by its upsert"
            )));
        };
        upserted.push(*id);
        links.extend(s.sightings.iter().map(|sid| (*id, sid.as_slice())));
    }
    links.sort_unstable();
    links.dedup();
    let (indicator, sighting): (Vec<i64>, Vec<&[u8]>) = links.into_iter().unzip();
    tx.execute(
        "WITH linked AS (
             INSERT INTO indicator_sightings (indicator, sighting)
             SELECT * FROM unnest($1::int8[], $2::bytea[])
             ON CONFLICT DO NOTHING
             RETURNING indicator)
         UPDATE indicators SET count = count + l.n
         FROM (SELECT indicator, count(*) AS n FROM linked GROUP BY indicator) l
         WHERE indicators.id = l.indicator",
        &[&indicator, &sighting],
    )?;
    Ok(upserted)
}
