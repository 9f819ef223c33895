//! PostgreSQL counterpart of `crate::search`: the message index, its search and the
//! dashboard's rollups.
//!
//! Same tables as SQLite's schema v9, keyed by `sightings.seq`, with one difference: the free
//! text is not an FTS5 table but `message_text`, one `tsvector` per column (subject, sender,
//! rcpt, filenames, body) so that a `from:` term searches the senders only, with one GIN index
//! over their concatenation that finds the candidates of every query. The words in both the
//! vectors and the queries are cut by [`text`] the way FTS5 cuts them, so both stores find
//! the same messages (the known differences are listed there). A term is a phrase, as in
//! FTS5: its words in order (`<->`), inside one column; several terms must all match.
//!
//! Listing is the same keyset walk (`seq` below the cursor, newest first); PostgreSQL's
//! planner picks the driving set (class, campaign, text, indicator) itself, so there is one
//! query with optional conditions instead of SQLite's hand-picked branches.

mod text;

pub(crate) use text::tsvector;

use super::big;
use crate::error::{Result, StoreError};
use crate::query::from_nanos;
use crate::search::{
    Count, DASHBOARD_TOP, IndicatorPage, MessageFilter, MessageRow, ROW, Rollups, RowCols, Text,
    cursor_of, hour_of, indicator_cursor, mailbox, network_of, parse_cursor, trap_domains,
};
use crate::{IndicatorRecord, MAX_PAGE, unix_nanos};
use model::report::{IndicatorKind, Report};
use model::{Sighting, VerdictClass};
use postgres::types::ToSql;
use postgres::{GenericClient, Row};

/// This module's tables (part of schema version 1, see `schema.rs`). Text keys sort by
/// `COLLATE "C"` (bytes), as SQLite's do, whatever the database's collation.
pub(crate) const DDL: &str = r#"
    CREATE TABLE message_facts (
        seq         BIGINT PRIMARY KEY,   -- sightings.seq
        class       TEXT NOT NULL,        -- verdict class (reports.class)
        subject     BYTEA,                -- UTF-8; BYTEA because a header may decode to NUL
        sender      BYTEA,                -- header From as 'Name <address>', UTF-8
        attachments BIGINT NOT NULL
    );
    CREATE INDEX message_facts_by_class ON message_facts(class, seq);
    -- Free text, one vector per column (see pg/search/text.rs for how words are cut).
    CREATE TABLE message_text (
        seq       BIGINT PRIMARY KEY,     -- sightings.seq
        subject   TSVECTOR NOT NULL,
        sender    TSVECTOR NOT NULL,
        rcpt      TSVECTOR NOT NULL,
        filenames TSVECTOR NOT NULL,
        body      TSVECTOR NOT NULL
    );
    CREATE INDEX message_text_words ON message_text
        USING GIN ((subject || sender || rcpt || filenames || body));
    -- Dashboard rollups: analysed messages per hour (unix seconds) by class and trap domain,
    -- and per hour by sending network.
    CREATE TABLE message_hours (
        hour   BIGINT NOT NULL,
        class  TEXT COLLATE "C" NOT NULL,
        domain TEXT COLLATE "C" NOT NULL,
        count  BIGINT NOT NULL,
        PRIMARY KEY (hour, class, domain)
    );
    CREATE TABLE message_networks (
        hour    BIGINT NOT NULL,
        network TEXT COLLATE "C" NOT NULL,
        count   BIGINT NOT NULL,
        PRIMARY KEY (hour, network)
    );
"#;

/// The concatenated vector the GIN index covers (the query must name the same expression).
const ALL_TEXT: &str = "(t.subject || t.sender || t.rcpt || t.filenames || t.body)";

/// The text columns a term without a column searches: any one of them holds the phrase.
const TEXT_COLUMNS: [&str; 5] = ["subject", "sender", "rcpt", "filenames", "body"];

/// The message index rows of one analysed sighting, in the report save's transaction (before
/// the report row is written, so the previous class is still readable for the rollups).
///
/// The sighting row is locked (`FOR NO KEY UPDATE`) first: two collectors saving a report of
/// the same sighting at once (a requeue, an expired lease) then take turns, and the second
/// reads the first one's class, so the hourly counts move once, not twice. (The class is read
/// by a statement of its own: one started before the lock was granted would not see the first
/// save's report.)
///
/// Returns whether the sighting may have had a report before (false only when it is known
/// not to), so the save can skip unlinking the indicators of a first report.
pub(crate) fn index_report(
    tx: &mut super::prepared::Tx<'_>,
    s: &Sighting,
    r: &Report,
) -> Result<bool> {
    let sid = s.id.as_bytes().as_slice();
    let Some(row) = tx.query_opt(
        "SELECT seq FROM sightings WHERE id = $1 FOR NO KEY UPDATE",
        &[&sid],
    )?
    else {
        return Ok(true);
    };
    let seq: i64 = row.try_get(0)?;
    let old: Option<String> = tx
        .query_opt("SELECT class FROM reports WHERE sighting_id = $1", &[&sid])?
        .map(|r| r.try_get(0))
        .transpose()?;
    let class = r.verdict.class.as_str();
    let hour = hour_of(s.received_at);
    let bump = "INSERT INTO message_hours (hour, class, domain, count)
                SELECT $1, $2, d, $4 FROM unnest($3::text[]) AS d
                ON CONFLICT (hour, class, domain)
                DO UPDATE SET count = message_hours.count + EXCLUDED.count";
    let domains = trap_domains(s);
    match old.as_deref() {
        Some(old) if old == class => {}
        Some(old) => {
            tx.execute(bump, &[&hour, &old, &domains, &-1i64])?;
            tx.execute(bump, &[&hour, &class, &domains, &1i64])?;
        }
        // A first report: both rollups in one round trip.
        None => {
            tx.execute(
                "WITH hours AS (
                     INSERT INTO message_hours (hour, class, domain, count)
                     SELECT $1, $2, d, 1 FROM unnest($3::text[]) AS d
                     ON CONFLICT (hour, class, domain)
                     DO UPDATE SET count = message_hours.count + EXCLUDED.count)
                 INSERT INTO message_networks (hour, network, count) VALUES ($1, $4, 1)
                 ON CONFLICT (hour, network)
                 DO UPDATE SET count = message_networks.count + 1",
                &[&hour, &class, &domains, &network_of(&s.peer)],
            )?;
        }
    }
    // Depth 0: attached to the message itself (archive members are deeper).
    let attachments = big(r.artifacts.iter().filter(|a| a.depth == 0).count());
    let t = Text::of(s, r);
    let [subject, sender, rcpt, filenames, body] =
        [&t.subject, &t.sender, &t.rcpt, &t.filenames, &t.body].map(|c| text::tsvector(c));
    // The facts and the words in one round trip.
    tx.execute(
        "WITH facts AS (
             INSERT INTO message_facts (seq, class, subject, sender, attachments)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (seq) DO UPDATE SET class = EXCLUDED.class, subject = EXCLUDED.subject,
                 sender = EXCLUDED.sender, attachments = EXCLUDED.attachments)
         INSERT INTO message_text (seq, subject, sender, rcpt, filenames, body)
         VALUES ($1, $6::text::tsvector, $7::text::tsvector, $8::text::tsvector,
                 $9::text::tsvector, $10::text::tsvector)
         ON CONFLICT (seq) DO UPDATE SET subject = EXCLUDED.subject, sender = EXCLUDED.sender,
             rcpt = EXCLUDED.rcpt, filenames = EXCLUDED.filenames, body = EXCLUDED.body",
        &[
            &seq,
            &class,
            &r.headers.subject.as_deref().map(str::as_bytes),
            &r.headers.from.as_ref().map(|m| mailbox(m).into_bytes()),
            &attachments,
            &subject,
            &sender,
            &rcpt,
            &filenames,
            &body,
        ],
    )?;
    Ok(old.is_some())
}

/// Query parameters, numbered as they are added.
#[derive(Default)]
struct Params(Vec<Box<dyn ToSql + Sync>>);

impl Params {
    fn add(&mut self, v: impl ToSql + Sync + 'static) -> String {
        self.0.push(Box::new(v));
        format!("${}", self.0.len())
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0.iter().map(|p| p.as_ref() as _).collect()
    }
}

/// The conditions on `message_text t` for the filter's terms, `None` without terms. A term
/// with no word is dropped, as the SQLite store drops it.
fn text_conditions(f: &MessageFilter, p: &mut Params) -> Option<String> {
    let mut all = Vec::new();
    let mut conds = Vec::new();
    for (col, term) in f.fts_terms() {
        let Some(q) = text::phrase(term) else {
            continue;
        };
        let q = p.add(q);
        all.push(format!("{q}::text::tsquery"));
        let cols: Vec<String> = match col {
            Some(c) => vec![format!("t.{c} @@ {q}::text::tsquery")],
            None => TEXT_COLUMNS
                .iter()
                .map(|c| format!("t.{c} @@ {q}::text::tsquery"))
                .collect(),
        };
        conds.push(format!("({})", cols.join(" OR ")));
    }
    if all.is_empty() {
        return None;
    }
    // The index finds messages with every word somewhere; the per-column conditions then
    // keep those where each phrase is whole inside one column.
    Some(format!(
        "{ALL_TEXT} @@ ({}) AND {}",
        all.join(" && "),
        conds.join(" AND ")
    ))
}

pub(crate) fn search(
    c: &mut impl GenericClient,
    f: &MessageFilter,
    limit: usize,
    after: Option<&str>,
) -> Result<(Vec<MessageRow>, Option<String>)> {
    f.check()?;
    let limit = limit.clamp(1, MAX_PAGE);
    if f.ioc.as_ref().is_some_and(|v| v.contains('\0')) {
        // PostgreSQL text cannot hold NUL, so no indexed indicator has one (`reports.rs`
        // leaves such values out): nothing matches, as on SQLite where none was seen.
        return Ok((Vec::new(), None));
    }
    let below = after.map(parse_cursor).transpose()?.unwrap_or(i64::MAX);
    let mut p = Params::default();
    let mut sql = format!(
        "SELECT {ROW} FROM sightings s LEFT JOIN reports r ON r.sighting_id = s.id
         LEFT JOIN message_facts f ON f.seq = s.seq WHERE s.seq < {}",
        p.add(below)
    );
    if let Some(conds) = text_conditions(f, &mut p) {
        sql.push_str(&format!(
            " AND s.seq IN (SELECT t.seq FROM message_text t WHERE {conds})"
        ));
    }
    if let Some(k) = f.campaign {
        sql.push_str(&format!(" AND r.campaign = {}", p.add(k)));
    }
    if !f.verdict.is_empty() {
        let classes: Vec<String> = f.verdict.iter().map(|v| v.as_str().to_string()).collect();
        sql.push_str(&format!(" AND f.class = ANY({}::text[])", p.add(classes)));
    }
    if let Some(ioc) = &f.ioc {
        // Every kind listed, so the (kind, value) index answers without a scan.
        let kinds: Vec<String> = IndicatorKind::ALL
            .iter()
            .map(|k| k.as_str().to_string())
            .collect();
        sql.push_str(&format!(
            " AND s.id IN (SELECT l.sighting FROM indicators i
                JOIN indicator_sightings l ON l.indicator = i.id
                WHERE i.kind = ANY({}::text[]) AND i.value = {})",
            p.add(kinds),
            p.add(ioc.clone())
        ));
    }
    match f.has_attachment {
        Some(true) => sql.push_str(" AND f.attachments > 0"),
        Some(false) => sql.push_str(" AND coalesce(f.attachments, 0) = 0"),
        None => {}
    }
    // Time bounds also become `seq` bounds (from `sightings_by_time`, computed once): sound
    // even for imports whose arrival times are out of capture order, and they stop the walk
    // down `seq` where no row can match instead of at the oldest message.
    if let Some(t) = f.before {
        let t = p.add(unix_nanos(t));
        sql.push_str(&format!(
            " AND s.received_at < {t} AND s.seq <= (SELECT coalesce(max(seq), 0)
                FROM sightings WHERE received_at < {t})"
        ));
    }
    if let Some(t) = f.after {
        let t = p.add(unix_nanos(t));
        sql.push_str(&format!(
            " AND s.received_at >= {t} AND s.seq >= (SELECT coalesce(min(seq), {})
                FROM sightings WHERE received_at >= {t})",
            i64::MAX
        ));
    }
    // One row more than asked tells whether there is a next page.
    sql.push_str(&format!(
        " ORDER BY s.seq DESC LIMIT {}",
        p.add(big(limit + 1))
    ));
    let rows = c.query(&sql, &p.refs())?;
    let mut out = Vec::with_capacity(limit);
    let mut last = None;
    for row in &rows {
        if out.len() == limit {
            return Ok((out, last.map(cursor_of)));
        }
        last = Some(row.try_get::<_, i64>(0)?);
        out.push(message_row(row)?);
    }
    Ok((out, None))
}

fn message_row(row: &Row) -> Result<MessageRow> {
    RowCols {
        id: row.try_get(1)?,
        received_at: row.try_get(2)?,
        peer: row.try_get(3)?,
        envelope_from: row.try_get(4)?,
        size: row.try_get(5)?,
        json: row.try_get(6)?,
        class: row.try_get(7)?,
        score: row.try_get(8)?,
        campaign: row.try_get(9)?,
        subject: utf8(row.try_get(10)?)?,
        from: utf8(row.try_get(11)?)?,
        attachments: row.try_get(12)?,
    }
    .decode()
}

/// A header stored as bytes (`message_facts`), back to text.
pub(crate) fn utf8(bytes: Option<Vec<u8>>) -> Result<Option<String>> {
    bytes
        .map(|b| {
            String::from_utf8(b).map_err(|_| StoreError::corrupt("a message header is not UTF-8"))
        })
        .transpose()
}

/// `(key, count)` rows as [`Count`]s.
pub(crate) fn counts(
    c: &mut impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Count>> {
    c.query(sql, params)?
        .iter()
        .map(|r| {
            Ok(Count {
                key: r.try_get(0)?,
                count: u64::try_from(r.try_get::<_, i64>(1)?).unwrap_or(0),
            })
        })
        .collect()
}

/// The dashboard's rollups for the hours `first..=last` (unix seconds).
pub(crate) fn rollups(
    c: &mut impl GenericClient,
    first: i64,
    last: i64,
    hours: u32,
) -> Result<Rollups> {
    let rows = c
        .query(
            "SELECT hour, class, sum(count)::BIGINT FROM message_hours
             WHERE hour >= $1 AND hour <= $2 GROUP BY hour, class HAVING sum(count) > 0
             ORDER BY hour, class",
            &[&first, &last],
        )?
        .iter()
        .map(|r| {
            let n: i64 = r.try_get(2)?;
            Ok((r.try_get(0)?, r.try_get(1)?, u64::try_from(n).unwrap_or(0)))
        })
        .collect::<Result<Vec<_>>>()?;
    let top = big(DASHBOARD_TOP);
    let pending: i64 = c.query_one("SELECT count(*) FROM jobs", &[])?.try_get(0)?;
    Ok(Rollups {
        volume: crate::search::volume(first, hours, rows)?,
        by_verdict: counts(
            c,
            "SELECT class, sum(count)::BIGINT AS n FROM message_hours
             WHERE hour >= $1 AND hour <= $2
             GROUP BY class HAVING sum(count) > 0 ORDER BY n DESC, class",
            &[&first, &last],
        )?,
        by_trap_domain: counts(
            c,
            "SELECT domain, sum(count)::BIGINT AS n FROM message_hours
             WHERE hour >= $1 AND hour <= $2
             GROUP BY domain HAVING sum(count) > 0 ORDER BY n DESC, domain LIMIT $3",
            &[&first, &last, &top],
        )?,
        top_networks: counts(
            c,
            "SELECT network, sum(count)::BIGINT AS n FROM message_networks
             WHERE hour >= $1 AND hour <= $2
             GROUP BY network HAVING sum(count) > 0 ORDER BY n DESC, network LIMIT $3",
            &[&first, &last, &top],
        )?,
        pending_analysis: u64::try_from(pending).unwrap_or(0),
    })
}

/// Newest threat messages: the newest few of each class from `message_facts_by_class`,
/// merged, so a trap where malware is rare answers as fast as one full of it.
pub(crate) fn threat_rows(
    c: &mut impl GenericClient,
    f: &MessageFilter,
) -> Result<Vec<MessageRow>> {
    let sql = format!(
        "SELECT {ROW} FROM message_facts f JOIN sightings s ON s.seq = f.seq
         LEFT JOIN reports r ON r.sighting_id = s.id
         WHERE f.class = $1 ORDER BY f.seq DESC LIMIT {DASHBOARD_TOP}"
    );
    let mut out = Vec::new();
    for class in f.verdict.iter().map(|v: &VerdictClass| v.as_str()) {
        for row in c.query(&sql, &[&class])? {
            out.push((row.try_get::<_, i64>(0)?, message_row(&row)?));
        }
    }
    out.sort_by_key(|(seq, _)| std::cmp::Reverse(*seq));
    out.truncate(DASHBOARD_TOP);
    Ok(out.into_iter().map(|(_, r)| r).collect())
}

/// One page of indicators, most recently seen first: keyset `(last_seen, id)`. `contains` is
/// a case-insensitive substring of the value.
pub(crate) fn indicator_page(
    c: &mut impl GenericClient,
    kind: Option<IndicatorKind>,
    contains: Option<&str>,
    limit: usize,
    after: Option<&str>,
) -> Result<(Vec<IndicatorRecord>, Option<String>)> {
    let IndicatorPage {
        limit,
        seen,
        id,
        needle,
    } = IndicatorPage::of(contains, limit, after)?;
    if needle.as_ref().is_some_and(|n| n.contains('\0')) {
        // No indexed value holds a NUL (see `search`).
        return Ok((Vec::new(), None));
    }
    let rows = c.query(
        "SELECT id, kind, value, first_seen, last_seen, count FROM indicators
         WHERE (last_seen < $1 OR (last_seen = $1 AND id < $2))
           AND ($3::text IS NULL OR kind = $3) AND ($4::text IS NULL OR strpos(lower(value), $4) > 0)
         ORDER BY last_seen DESC, id DESC LIMIT $5",
        &[
            &seen,
            &id,
            &kind.map(IndicatorKind::as_str),
            &needle,
            &big(limit + 1),
        ],
    )?;
    let mut out = Vec::with_capacity(limit);
    let mut last = None;
    for r in &rows {
        if out.len() == limit {
            return Ok((out, last.map(|(s, i)| indicator_cursor(s, i))));
        }
        let last_seen: i64 = r.try_get(4)?;
        last = Some((last_seen, r.try_get::<_, i64>(0)?));
        out.push(IndicatorRecord {
            kind: r.try_get(1)?,
            value: r.try_get(2)?,
            first_seen: from_nanos(r.try_get(3)?)?,
            last_seen: from_nanos(last_seen)?,
            count: u64::try_from(r.try_get::<_, i64>(5)?).unwrap_or(0),
            sightings: Vec::new(),
        });
    }
    Ok((out, None))
}
