//! The message index behind the console and `/api/v1/messages` (schema v9): full-text search,
//! structured filters, keyset paging and the dashboard's hourly rollups.
//!
//! Design for a million stored messages (list and search p95 ≤ 100 ms, dashboard ≤ 300 ms):
//! - **Listing** walks `sightings` by its integer key `seq`, newest capture first, and stops
//!   after one page: the cursor is the last `seq` shown (never OFFSET). Captured but unanalysed
//!   messages are listed too (no report yet: verdict `None`).
//! - **Free text** lives in the contentless FTS5 table `message_text` whose rowid *is* the
//!   sighting's `seq`, so an FTS query walks its own rowids downwards with the same cursor and
//!   the same order, and never sorts all matches. It is filled when a report is saved (the text
//!   comes from the analysis), so unanalysed messages are found by structured filters only.
//! - **Structured facts** the list shows (subject, From, attachment count, verdict class) sit
//!   in `message_facts`, keyed by `seq` too; `message_facts_by_class (class, seq)` walks one
//!   class newest first, so a rare verdict is as fast as a common one. Score and campaign are
//!   read from `reports` (the campaign column is owned by clustering and moves on merges).
//! - A **campaign** filter starts from `reports_by_campaign` (a campaign's members), an
//!   **indicator** filter from `indicator_sightings`; both are small sets sorted once.
//! - The **dashboard** reads `message_hours` (hour, verdict class, trap domain → count) and
//!   `message_networks` (hour, sending /24 → count), kept at report save, so it never scans
//!   messages.
//!
//! The PostgreSQL store has the same tables and rules in `pg/search.rs`, with `tsvector`s for
//! the free text whose words are cut like FTS5's (`pg/search/text.rs`).

use crate::error::{Result, StoreError};
use crate::query::{from_nanos, parse_json, uuid_from};
use crate::{Store, Timestamp, unix_nanos};
use model::report::{IndicatorKind, Report};
use model::{CampaignId, Sighting, VerdictClass};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Transaction};
use serde::Serialize;
use std::fmt::Write as _;

/// Body text indexed per message. The first 16 KiB of the text bodies hold the lure of any
/// spam or phishing mail; indexing whole bodies would multiply the index size for nothing an
/// analyst searches for.
pub const MAX_INDEXED_BODY: usize = 16 * 1024;

/// Attachment names indexed per message: a zip bomb's thousand members add nothing a search
/// for a file name needs beyond the first ones, and would bloat the index.
pub const MAX_INDEXED_FILENAMES: usize = 64;

/// Terms of one kind (free text, `from:`...) used in one query; more is refused, because every
/// term is one more FTS5 phrase to intersect.
pub const MAX_TERMS: usize = 16;

/// Bytes of one search term; longer terms are refused (no legitimate search needs them).
pub const MAX_TERM_BYTES: usize = 256;

/// Rows in one page of messages.
pub const MAX_PAGE: usize = 500;

/// Hours the dashboard covers at most (31 days of hourly buckets).
pub const MAX_DASHBOARD_HOURS: u32 = 31 * 24;

/// Entries in each dashboard top list (domains, networks, campaigns, latest threats).
pub const DASHBOARD_TOP: usize = 10;

/// What to list. Empty vectors and `None` do not filter; several values of one kind must all
/// match (terms) or any match (verdicts).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageFilter {
    /// Free text: anywhere in subject, senders, recipients, file names or body.
    pub text: Vec<String>,
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub subject: Vec<String>,
    pub filename: Vec<String>,
    pub verdict: Vec<VerdictClass>,
    pub campaign: Option<CampaignId>,
    /// An indicator value (URL, domain, IP, address, hash, file name) seen in the message.
    pub ioc: Option<String>,
    pub has_attachment: Option<bool>,
    /// Received strictly before this time.
    pub before: Option<Timestamp>,
    /// Received at or after this time.
    pub after: Option<Timestamp>,
}

impl MessageFilter {
    pub(crate) fn fts_terms(&self) -> impl Iterator<Item = (Option<&'static str>, &String)> {
        let col = |c: &'static str| move |t| (Some(c), t);
        self.text
            .iter()
            .map(|t| (None, t))
            .chain(self.from.iter().map(col("sender")))
            .chain(self.to.iter().map(col("rcpt")))
            .chain(self.subject.iter().map(col("subject")))
            .chain(self.filename.iter().map(col("filenames")))
    }

    pub(crate) fn check(&self) -> Result<()> {
        for list in [
            &self.text,
            &self.from,
            &self.to,
            &self.subject,
            &self.filename,
        ] {
            if list.len() > MAX_TERMS {
                return Err(StoreError::invalid(format!(
                    "at most {MAX_TERMS} search terms of one kind"
                )));
            }
            if list.iter().any(|t| t.len() > MAX_TERM_BYTES) {
                return Err(StoreError::invalid(format!(
                    "a search term is longer than {MAX_TERM_BYTES} bytes"
                )));
            }
        }
        if self
            .ioc
            .as_ref()
            .is_some_and(|t| t.len() > 4 * MAX_TERM_BYTES)
        {
            return Err(StoreError::invalid("the ioc value is too long"));
        }
        Ok(())
    }

    /// The FTS5 query text this filter searches with (`None` without terms). Only for the
    /// `web_search` fuzz target, which checks that every term reaches FTS5 as a quoted phrase.
    #[doc(hidden)]
    pub fn fts_query(&self) -> Option<String> {
        fts_query(self)
    }
}

/// One message in a list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageRow {
    pub sighting: uuid::Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: Timestamp,
    pub peer: String,
    pub envelope_from: String,
    pub recipients: Vec<String>,
    pub subject: Option<String>,
    /// Header From as `Name <address>` (or the address alone).
    pub from: Option<String>,
    /// `None` while the message waits for analysis.
    pub verdict: Option<VerdictClass>,
    pub score: Option<i64>,
    pub campaign: Option<CampaignId>,
    pub attachments: u32,
    pub size: u64,
}

/// A `key → count` pair of a dashboard list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub key: String,
    pub count: u64,
}

/// Messages received in one hour, by verdict class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HourVolume {
    #[serde(with = "time::serde::rfc3339")]
    pub hour: Timestamp,
    pub total: u64,
    pub by_verdict: Vec<Count>,
}

/// What the dashboard shows, for the `hours` up to `now`.
#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    #[serde(with = "time::serde::rfc3339")]
    pub since: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub until: Timestamp,
    pub hours: u32,
    /// Analysed messages per hour, oldest first, hours without mail included.
    pub volume: Vec<HourVolume>,
    pub by_verdict: Vec<Count>,
    pub by_trap_domain: Vec<Count>,
    /// Sending networks (IPv4 /24, IPv6 /48), most messages first.
    pub top_networks: Vec<Count>,
    /// Campaigns active in the window, most messages first.
    pub top_campaigns: Vec<model::Campaign>,
    /// Newest malware and ransomware-delivery messages.
    pub latest_threats: Vec<MessageRow>,
    /// Messages waiting for analysis.
    pub pending_analysis: u64,
}

/// Indexes one report being saved (called by `reports::save` in its transaction, before the
/// report row is written, so the previous class is still readable for the rollups).
pub(crate) fn index_report(tx: &Transaction<'_>, s: &Sighting, r: &Report) -> Result<()> {
    let sid = s.id.as_bytes().to_vec();
    let seq: Option<i64> = tx
        .prepare_cached("SELECT seq FROM sightings WHERE id = ?1")?
        .query_row([&sid], |row| row.get(0))
        .optional()?;
    let Some(seq) = seq else { return Ok(()) };
    let old: Option<String> = tx
        .prepare_cached("SELECT class FROM reports WHERE sighting_id = ?1")?
        .query_row([&sid], |row| row.get(0))
        .optional()?;
    index_seq(tx, seq, s, r, old.as_deref())
}

fn index_seq(
    tx: &Connection,
    seq: i64,
    s: &Sighting,
    r: &Report,
    old_class: Option<&str>,
) -> Result<()> {
    let class = r.verdict.class.as_str();
    let hour = hour_of(s.received_at);
    let domains = trap_domains(s);
    let mut bump = tx.prepare_cached(
        "INSERT INTO message_hours (hour, class, domain, count) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(hour, class, domain) DO UPDATE SET count = count + ?4",
    )?;
    match old_class {
        Some(old) if old == class => {}
        Some(old) => {
            for d in &domains {
                bump.execute((hour, old, d, -1))?;
                bump.execute((hour, class, d, 1))?;
            }
        }
        None => {
            for d in &domains {
                bump.execute((hour, class, d, 1))?;
            }
            tx.prepare_cached(
                "INSERT INTO message_networks (hour, network, count) VALUES (?1, ?2, 1)
                 ON CONFLICT(hour, network) DO UPDATE SET count = count + 1",
            )?
            .execute((hour, network_of(&s.peer)))?;
        }
    }
    // Depth 0: attached to the message itself (archive members are deeper).
    let attachments = r.artifacts.iter().filter(|a| a.depth == 0).count();
    tx.prepare_cached(
        "INSERT OR REPLACE INTO message_facts (seq, class, subject, sender, attachments)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute((
        seq,
        class,
        r.headers.subject.as_deref(),
        r.headers.from.as_ref().map(mailbox),
        i64::try_from(attachments).unwrap_or(i64::MAX),
    ))?;
    let text = Text::of(s, r);
    tx.prepare_cached("DELETE FROM message_text WHERE rowid = ?1")?
        .execute([seq])?;
    tx.prepare_cached(
        "INSERT INTO message_text (rowid, subject, sender, rcpt, filenames, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute((
        seq,
        text.subject,
        text.sender,
        text.rcpt,
        text.filenames,
        text.body,
    ))?;
    Ok(())
}

/// The indexed text columns of one message.
pub(crate) struct Text {
    pub(crate) subject: String,
    pub(crate) sender: String,
    pub(crate) rcpt: String,
    pub(crate) filenames: String,
    pub(crate) body: String,
}

impl Text {
    pub(crate) fn of(s: &Sighting, r: &Report) -> Text {
        let h = &r.headers;
        let mut sender = s.envelope.mail_from.address.clone();
        for m in h.from.iter().chain(h.sender.iter()).chain(&h.reply_to) {
            push_mailbox(&mut sender, m);
        }
        let mut rcpt = String::new();
        for rc in &s.envelope.recipients {
            rcpt.push_str(&rc.address);
            rcpt.push(' ');
        }
        for m in h.to.iter().chain(&h.cc) {
            push_mailbox(&mut rcpt, m);
        }
        let mut filenames = String::new();
        for name in r
            .artifacts
            .iter()
            .filter_map(|a| a.name.as_deref())
            .take(MAX_INDEXED_FILENAMES)
        {
            filenames.push_str(name);
            filenames.push(' ');
        }
        let mut body = String::new();
        for part in &r.bodies {
            if body.len() >= MAX_INDEXED_BODY {
                break;
            }
            let room = MAX_INDEXED_BODY - body.len();
            body.push_str(cut(&part.excerpt, room));
            body.push('\n');
        }
        Text {
            subject: h.subject.clone().unwrap_or_default(),
            sender,
            rcpt,
            filenames,
            body,
        }
    }
}

fn push_mailbox(out: &mut String, m: &model::report::Mailbox) {
    for part in [&m.name, &m.address].into_iter().flatten() {
        out.push(' ');
        out.push_str(part);
    }
    out.push(' ');
}

pub(crate) fn mailbox(m: &model::report::Mailbox) -> String {
    match (&m.name, &m.address) {
        (Some(n), Some(a)) => format!("{n} <{a}>"),
        (Some(n), None) => n.clone(),
        (None, Some(a)) => a.clone(),
        (None, None) => String::new(),
    }
}

/// `s` cut to at most `max` bytes on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

pub(crate) fn hour_of(ts: Timestamp) -> i64 {
    ts.unix_timestamp().div_euclid(3600) * 3600
}

/// Distinct domains of the accepted recipients (the trap domains this message reached);
/// `[""]` when none was accepted. Relay attempts and refused recipients are not trap domains.
pub(crate) fn trap_domains(s: &Sighting) -> Vec<String> {
    let mut out: Vec<String> = s
        .envelope
        .accepted()
        .filter_map(|r| {
            r.address
                .rsplit_once('@')
                .map(|(_, d)| d.to_ascii_lowercase())
        })
        .collect();
    out.sort();
    out.dedup();
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

/// The sending network of a peer `ip:port`: IPv4 /24, IPv6 /48, `import` when there is none.
pub(crate) fn network_of(peer: &str) -> String {
    let ip = peer
        .parse::<std::net::SocketAddr>()
        .map(|a| a.ip())
        .or_else(|_| peer.parse::<std::net::IpAddr>());
    match ip {
        Ok(std::net::IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        Ok(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
        Err(_) if peer.is_empty() => "import".into(),
        Err(_) => "unknown".into(),
    }
}

/// Fills the v9 index from the reports stored before it existed. Runs once, inside the
/// migration transaction; its cost is one pass over the reports (a few minutes for a million
/// on a small machine), paid at the first open of the new version.
pub(crate) fn backfill_v9(tx: &Transaction<'_>) -> Result<()> {
    let mut stmt = tx.prepare(
        "SELECT s.seq, s.json, r.json FROM reports r JOIN sightings s ON s.id = r.sighting_id
         ORDER BY s.seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut n = 0u64;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let s: Sighting = parse_json(&row.get::<_, String>(1)?, "sighting")?;
        let r: Report = parse_json(&row.get::<_, String>(2)?, "report")?;
        index_seq(tx, seq, &s, &r, None)?;
        n += 1;
    }
    if n > 0 {
        tracing::info!(reports = n, "message index built");
    }
    Ok(())
}

/// Quotes `term` as one FTS5 string (a phrase of its tokens): `"` doubled inside, so no user
/// text is ever FTS5 syntax (operators, column filters, `*`, `^`, parentheses).
pub fn fts_phrase(term: &str) -> String {
    let mut out = String::with_capacity(term.len() + 2);
    out.push('"');
    for c in term.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The FTS5 query for the filter's terms, `None` without terms. A term with no word
/// characters would be an empty phrase; it cannot match anything meaningful, so it is dropped
/// (the remaining filters still apply).
fn fts_query(f: &MessageFilter) -> Option<String> {
    let mut q = String::new();
    for (col, term) in f.fts_terms() {
        if !term.chars().any(char::is_alphanumeric) {
            continue;
        }
        if !q.is_empty() {
            q.push_str(" AND ");
        }
        if let Some(col) = col {
            let _ = write!(q, "{col} : ");
        }
        q.push_str(&fts_phrase(term));
    }
    (!q.is_empty()).then_some(q)
}

/// Cursor text for a page ending at `seq`. Opaque to clients; `s` plus the number.
pub(crate) fn cursor_of(seq: i64) -> String {
    format!("s{seq}")
}

pub(crate) fn parse_cursor(c: &str) -> Result<i64> {
    c.strip_prefix('s')
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| StoreError::invalid("the cursor is not one this server gave out"))
}

/// The columns [`message_row`] reads (PostgreSQL's search reads the same ones).
pub(crate) const ROW: &str = "s.seq, s.id, s.received_at, s.peer, s.sender, s.size, s.json,
    r.class, r.score, r.campaign, f.subject, f.sender, f.attachments";

pub(crate) fn search(
    conn: &Connection,
    f: &MessageFilter,
    limit: usize,
    after: Option<&str>,
) -> Result<(Vec<MessageRow>, Option<String>)> {
    f.check()?;
    let limit = limit.clamp(1, MAX_PAGE);
    let below = after.map(parse_cursor).transpose()?.unwrap_or(i64::MAX);
    let mut params: Vec<Value> = Vec::new();
    let mut p = |v: Value| {
        params.push(v);
        format!("?{}", params.len())
    };
    // The driving set decides the walk; every branch yields rows ordered by s.seq DESC.
    let fts = fts_query(f);
    let (mut sql, order) = if let Some(c) = f.campaign {
        let c = p(c.into());
        (
            format!(
                "SELECT {ROW} FROM reports r JOIN sightings s ON s.id = r.sighting_id
                 LEFT JOIN message_facts f ON f.seq = s.seq WHERE r.campaign = {c}"
            ),
            "s.seq",
        )
    } else if let Some(q) = &fts {
        let q = p(q.clone().into());
        (
            format!(
                "SELECT {ROW} FROM message_text t JOIN sightings s ON s.seq = t.rowid
                 LEFT JOIN reports r ON r.sighting_id = s.id
                 LEFT JOIN message_facts f ON f.seq = s.seq WHERE message_text MATCH {q}"
            ),
            "t.rowid",
        )
    } else if let [class] = f.verdict[..] {
        let c = p(class.as_str().to_string().into());
        (
            format!(
                "SELECT {ROW} FROM message_facts f JOIN sightings s ON s.seq = f.seq
                 LEFT JOIN reports r ON r.sighting_id = s.id WHERE f.class = {c}"
            ),
            "f.seq",
        )
    } else {
        (
            format!(
                "SELECT {ROW} FROM sightings s LEFT JOIN reports r ON r.sighting_id = s.id
                 LEFT JOIN message_facts f ON f.seq = s.seq WHERE 1"
            ),
            "s.seq",
        )
    };
    let by_class = order == "f.seq";
    // Time bounds also become `seq` bounds from `sightings_by_time` (computed once): sound
    // even for imports whose arrival times are out of capture order, and they stop the walk
    // where no row can match instead of scanning to the oldest message.
    // One upper bound on the walk: SQLite seeks with a single range constraint, so the cursor
    // and a `before:` bound are one `min(...)`, not two conditions of which one would be a scan.
    let b = p(below.into());
    match f.before {
        Some(t) => {
            let t = p(unix_nanos(t).into());
            let _ = write!(
                sql,
                " AND s.received_at < {t} AND {order} < min({b}, 1 + coalesce((SELECT max(seq)
                    FROM sightings INDEXED BY sightings_by_time WHERE received_at < {t}), 0))"
            );
        }
        None => {
            let _ = write!(sql, " AND {order} < {b}");
        }
    }
    if f.campaign.is_some()
        && let Some(q) = &fts
    {
        let q = p(q.clone().into());
        let _ = write!(
            sql,
            " AND s.seq IN (SELECT rowid FROM message_text WHERE message_text MATCH {q})"
        );
    }
    if !f.verdict.is_empty() && !by_class {
        let list: Vec<String> = f
            .verdict
            .iter()
            .map(|v| p(v.as_str().to_string().into()))
            .collect();
        let _ = write!(sql, " AND f.class IN ({})", list.join(","));
    }
    if let Some(ioc) = &f.ioc {
        // Every kind listed, so `indicators_by_value (kind, value)` answers without a scan.
        let kinds: Vec<String> = IndicatorKind::ALL
            .iter()
            .map(|k| p(k.as_str().to_string().into()))
            .collect();
        let v = p(ioc.clone().into());
        let _ = write!(
            sql,
            " AND s.id IN (SELECT l.sighting FROM indicators i
                JOIN indicator_sightings l ON l.indicator = i.id
                WHERE i.kind IN ({}) AND i.value = {v})",
            kinds.join(",")
        );
    }
    match f.has_attachment {
        Some(true) => sql.push_str(" AND f.attachments > 0"),
        Some(false) => sql.push_str(" AND coalesce(f.attachments, 0) = 0"),
        None => {}
    }
    if let Some(t) = f.after {
        let t = p(unix_nanos(t).into());
        let _ = write!(
            sql,
            " AND s.received_at >= {t} AND {order} >= coalesce((SELECT min(seq)
                FROM sightings INDEXED BY sightings_by_time WHERE received_at >= {t}), {})",
            i64::MAX
        );
    }
    // One row more than asked tells whether there is a next page.
    let l = p(i64::try_from(limit + 1).unwrap_or(i64::MAX).into());
    let _ = write!(sql, " ORDER BY {order} DESC LIMIT {l}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    let mut out = Vec::with_capacity(limit);
    let mut last = None;
    while let Some(row) = rows.next()? {
        if out.len() == limit {
            return Ok((out, last.map(cursor_of)));
        }
        last = Some(row.get::<_, i64>(0)?);
        out.push(message_row(row)?);
    }
    Ok((out, None))
}

fn message_row(row: &rusqlite::Row<'_>) -> Result<MessageRow> {
    RowCols {
        id: row.get(1)?,
        received_at: row.get(2)?,
        peer: row.get(3)?,
        envelope_from: row.get(4)?,
        size: row.get(5)?,
        json: row.get(6)?,
        class: row.get(7)?,
        score: row.get(8)?,
        campaign: row.get(9)?,
        subject: row.get(10)?,
        from: row.get(11)?,
        attachments: row.get(12)?,
    }
    .decode()
}

/// The [`ROW`] columns after `s.seq`, as read by either backend.
pub(crate) struct RowCols {
    pub(crate) id: Vec<u8>,
    pub(crate) received_at: i64,
    pub(crate) peer: String,
    pub(crate) envelope_from: String,
    pub(crate) size: i64,
    pub(crate) json: String,
    pub(crate) class: Option<String>,
    pub(crate) score: Option<i64>,
    pub(crate) campaign: Option<i64>,
    pub(crate) subject: Option<String>,
    pub(crate) from: Option<String>,
    pub(crate) attachments: Option<i64>,
}

impl RowCols {
    pub(crate) fn decode(self) -> Result<MessageRow> {
        let s: Sighting = parse_json(&self.json, "sighting")?;
        Ok(MessageRow {
            sighting: uuid_from(&self.id)?,
            received_at: from_nanos(self.received_at)?,
            peer: self.peer,
            envelope_from: self.envelope_from,
            recipients: s
                .envelope
                .recipients
                .into_iter()
                .map(|r| r.address)
                .collect(),
            verdict: self.class.as_deref().map(class_of),
            score: self.score,
            campaign: self.campaign,
            subject: self.subject,
            from: self.from.filter(|s| !s.is_empty()),
            attachments: u32::try_from(self.attachments.unwrap_or(0)).unwrap_or(0),
            size: u64::try_from(self.size).unwrap_or(0),
        })
    }
}

fn class_of(s: &str) -> VerdictClass {
    VerdictClass::ALL
        .into_iter()
        .find(|c| c.as_str() == s)
        .unwrap_or(VerdictClass::Unknown)
}

/// `(key, count)` rows of `sql` as [`Count`]s.
pub(crate) fn counts(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Count>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt
        .query_map(params, |r| {
            Ok(Count {
                key: r.get(0)?,
                count: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            })
        })?
        .collect::<std::result::Result<_, _>>()?;
    Ok(rows)
}

/// What the dashboard reads from the hourly rollups, on either backend.
pub(crate) struct Rollups {
    pub(crate) volume: Vec<HourVolume>,
    pub(crate) by_verdict: Vec<Count>,
    pub(crate) by_trap_domain: Vec<Count>,
    pub(crate) top_networks: Vec<Count>,
    pub(crate) pending_analysis: u64,
}

/// The `hours` buckets from `first` (unix seconds), hours without mail included, filled from
/// `(hour, class, count)` rows ordered by hour and class.
pub(crate) fn volume(
    first: i64,
    hours: u32,
    rows: impl IntoIterator<Item = (i64, String, u64)>,
) -> Result<Vec<HourVolume>> {
    let mut volume: Vec<HourVolume> = (0..hours)
        .map(|i| {
            let h = first + 3600 * i64::from(i);
            Ok(HourVolume {
                hour: from_nanos(h.saturating_mul(1_000_000_000))?,
                total: 0,
                by_verdict: Vec::new(),
            })
        })
        .collect::<Result<_>>()?;
    for (h, key, n) in rows {
        let i = usize::try_from((h - first) / 3600).unwrap_or(usize::MAX);
        if let Some(v) = volume.get_mut(i) {
            v.total += n;
            v.by_verdict.push(Count { key, count: n });
        }
    }
    Ok(volume)
}

fn rollups(c: &Connection, first: i64, last: i64, hours: u32) -> Result<Rollups> {
    let mut stmt = c.prepare_cached(
        "SELECT hour, class, sum(count) FROM message_hours
             WHERE hour >= ?1 AND hour <= ?2 GROUP BY hour, class HAVING sum(count) > 0
             ORDER BY hour, class",
    )?;
    let rows = stmt
        .query_map((first, last), |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            ))
        })?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Rollups {
        volume: volume(first, hours, rows)?,
        by_verdict: counts(
            c,
            "SELECT class, sum(count) AS n FROM message_hours WHERE hour >= ?1 AND hour <= ?2
                 GROUP BY class HAVING n > 0 ORDER BY n DESC, class",
            (first, last),
        )?,
        by_trap_domain: counts(
            c,
            "SELECT domain, sum(count) AS n FROM message_hours WHERE hour >= ?1 AND hour <= ?2
                 GROUP BY domain HAVING n > 0 ORDER BY n DESC, domain LIMIT ?3",
            (first, last, DASHBOARD_TOP as i64),
        )?,
        top_networks: counts(
            c,
            "SELECT network, sum(count) AS n FROM message_networks
                 WHERE hour >= ?1 AND hour <= ?2
                 GROUP BY network HAVING n > 0 ORDER BY n DESC, network LIMIT ?3",
            (first, last, DASHBOARD_TOP as i64),
        )?,
        pending_analysis: crate::jobs::depth(c)?,
    })
}

pub(crate) fn dashboard(store: &Store, now: Timestamp, hours: u32) -> Result<Dashboard> {
    let hours = hours.clamp(1, MAX_DASHBOARD_HOURS);
    let last = hour_of(now);
    let first = last - 3600 * (i64::from(hours) - 1);
    let since = from_nanos(first.saturating_mul(1_000_000_000))?;
    let Rollups {
        volume,
        by_verdict,
        by_trap_domain,
        top_networks,
        pending_analysis,
    } = store.on(
        |c| rollups(c, first, last, hours),
        |c| crate::pg::search::rollups(c, first, last, hours),
    )?;
    let mut top_campaigns = store.campaigns(&crate::CampaignQuery {
        limit: 100,
        since: Some(since),
        facet_values: 0,
        ..Default::default()
    })?;
    top_campaigns.sort_by(|a, b| {
        b.messages
            .cmp(&a.messages)
            .then(b.last_seen.cmp(&a.last_seen))
    });
    top_campaigns.truncate(DASHBOARD_TOP);
    let threats = MessageFilter {
        verdict: vec![VerdictClass::Malware, VerdictClass::RansomwareDelivery],
        ..Default::default()
    };
    let latest_threats = store.on(
        |c| threat_rows(c, &threats),
        |c| crate::pg::search::threat_rows(c, &threats),
    )?;
    Ok(Dashboard {
        since,
        until: now,
        hours,
        volume,
        by_verdict,
        by_trap_domain,
        top_networks,
        top_campaigns,
        latest_threats,
        pending_analysis,
    })
}

/// Newest threat messages: the newest few of each class from `message_facts_by_class`, merged,
/// so a trap where malware is rare answers as fast as one full of it.
fn threat_rows(c: &Connection, f: &MessageFilter) -> Result<Vec<MessageRow>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {ROW} FROM message_facts f JOIN sightings s ON s.seq = f.seq
         LEFT JOIN reports r ON r.sighting_id = s.id
         WHERE f.class = ?1 ORDER BY f.seq DESC LIMIT {DASHBOARD_TOP}"
    ))?;
    let mut out = Vec::new();
    for class in &f.verdict {
        let mut rows = stmt.query([class.as_str()])?;
        while let Some(row) = rows.next()? {
            out.push((row.get::<_, i64>(0)?, message_row(row)?));
        }
    }
    out.sort_by_key(|(seq, _)| std::cmp::Reverse(*seq));
    out.truncate(DASHBOARD_TOP);
    Ok(out.into_iter().map(|(_, r)| r).collect())
}

/// The checked arguments of an indicator page, on either backend.
pub(crate) struct IndicatorPage {
    pub(crate) limit: usize,
    /// The cursor: the previous page's last `(last_seen, id)`.
    pub(crate) seen: i64,
    pub(crate) id: i64,
    /// The lower-cased `contains` text.
    pub(crate) needle: Option<String>,
}

impl IndicatorPage {
    pub(crate) fn of(contains: Option<&str>, limit: usize, after: Option<&str>) -> Result<Self> {
        if contains.is_some_and(|c| c.len() > 4 * MAX_TERM_BYTES) {
            return Err(StoreError::invalid("the indicator search text is too long"));
        }
        let (seen, id) = match after {
            None => (i64::MAX, i64::MAX),
            Some(c) => c
                .strip_prefix('i')
                .and_then(|c| c.split_once('.'))
                .and_then(|(a, b)| Some((a.parse::<i64>().ok()?, b.parse::<i64>().ok()?)))
                .ok_or_else(|| StoreError::invalid("the cursor is not one this server gave out"))?,
        };
        Ok(IndicatorPage {
            limit: limit.clamp(1, MAX_PAGE),
            seen,
            id,
            needle: contains.map(|c| c.to_lowercase()),
        })
    }
}

/// Cursor text for an indicator page ending at `(last_seen, id)`.
pub(crate) fn indicator_cursor(seen: i64, id: i64) -> String {
    format!("i{seen}.{id}")
}

/// One page of indicators, most recently seen first: keyset `(last_seen, id)` on
/// `indicators_by_last_seen`. `contains` is a case-insensitive substring of the value (a scan
/// of the walk, stopped at the page end).
pub(crate) fn indicator_page(
    conn: &Connection,
    kind: Option<IndicatorKind>,
    contains: Option<&str>,
    limit: usize,
    after: Option<&str>,
) -> Result<(Vec<crate::IndicatorRecord>, Option<String>)> {
    let IndicatorPage {
        limit,
        seen,
        id,
        needle,
    } = IndicatorPage::of(contains, limit, after)?;
    let mut stmt = conn.prepare_cached(
        "SELECT id, kind, value, first_seen, last_seen, count FROM indicators
         WHERE (last_seen < ?1 OR (last_seen = ?1 AND id < ?2))
           AND (?3 IS NULL OR kind = ?3) AND (?4 IS NULL OR instr(lower(value), ?4) > 0)
         ORDER BY last_seen DESC, id DESC LIMIT ?5",
    )?;
    let mut rows = stmt.query((
        seen,
        id,
        kind.map(IndicatorKind::as_str),
        needle,
        i64::try_from(limit + 1).unwrap_or(i64::MAX),
    ))?;
    let mut out = Vec::with_capacity(limit);
    let mut last = None;
    while let Some(r) = rows.next()? {
        if out.len() == limit {
            return Ok((out, last.map(|(s, i)| indicator_cursor(s, i))));
        }
        let last_seen: i64 = r.get(4)?;
        last = Some((last_seen, r.get::<_, i64>(0)?));
        out.push(crate::IndicatorRecord {
            kind: r.get(1)?,
            value: r.get(2)?,
            first_seen: from_nanos(r.get(3)?)?,
            last_seen: from_nanos(last_seen)?,
            count: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
            sightings: Vec::new(),
        });
    }
    Ok((out, None))
}

impl Store {
    /// Messages matching `f`, newest capture first, one page of at most `limit` (clamped to
    /// [`MAX_PAGE`]) after the opaque cursor `after`; returns the page and the cursor of the
    /// next page (`None` on the last page). Invalid filters or cursors are
    /// [`StoreError::Invalid`].
    pub fn search_messages(
        &self,
        f: &MessageFilter,
        limit: usize,
        after: Option<&str>,
    ) -> Result<(Vec<MessageRow>, Option<String>)> {
        self.on(
            |c| search(c, f, limit, after),
            |c| crate::pg::search::search(c, f, limit, after),
        )
    }

    /// One page of indicators (of `kind`, whose value contains `contains`), most recently
    /// seen first, after the opaque cursor `after`; returns the next page's cursor.
    pub fn indicator_page(
        &self,
        kind: Option<IndicatorKind>,
        contains: Option<&str>,
        limit: usize,
        after: Option<&str>,
    ) -> Result<(Vec<crate::IndicatorRecord>, Option<String>)> {
        self.on(
            |c| indicator_page(c, kind, contains, limit, after),
            |c| crate::pg::search::indicator_page(c, kind, contains, limit, after),
        )
    }

    /// The dashboard for the `hours` (clamped to [`MAX_DASHBOARD_HOURS`]) ending with the hour
    /// of `now`, from the rollups (never a scan of messages).
    pub fn dashboard(&self, now: Timestamp, hours: u32) -> Result<Dashboard> {
        dashboard(self, now, hours)
    }
}

/// Schema v9 (appended to `schema::MIGRATIONS`).
pub(crate) const MIGRATION_V9: &str = "
    -- Message index (search.rs). Keyed by sightings.seq; filled at report save.
    CREATE TABLE message_facts (
        seq         INTEGER PRIMARY KEY,  -- sightings.seq
        class       TEXT NOT NULL,        -- verdict class (reports.class)
        subject     TEXT,
        sender      TEXT,                 -- header From as 'Name <address>'
        attachments INTEGER NOT NULL
    );
    -- Free text; rowid = sightings.seq. Contentless: the text is in the reports already.
    CREATE VIRTUAL TABLE message_text USING fts5(
        subject, sender, rcpt, filenames, body,
        content = '', contentless_delete = 1
    );
    -- Dashboard rollups: analysed messages per hour (unix seconds) by class and trap domain,
    -- and per hour by sending network.
    CREATE TABLE message_hours (
        hour   INTEGER NOT NULL,
        class  TEXT NOT NULL,
        domain TEXT NOT NULL,
        count  INTEGER NOT NULL,
        PRIMARY KEY (hour, class, domain)
    ) WITHOUT ROWID;
    CREATE TABLE message_networks (
        hour    INTEGER NOT NULL,
        network TEXT NOT NULL,
        count   INTEGER NOT NULL,
        PRIMARY KEY (hour, network)
    ) WITHOUT ROWID;
    CREATE INDEX message_facts_by_class ON message_facts(class, seq);
";
