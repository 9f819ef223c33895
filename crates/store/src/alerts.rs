//! Alerts and their delivery outbox (schema v6).
//!
//! An alert is inserted with one `pending` delivery per receiver in the clustering step's
//! transaction ([`CampaignTx::raise`]): stored before anything is sent, so a crash or a receiver
//! outage loses nothing. The delivery runner takes due deliveries, sends, and marks each
//! `delivered`, reschedules it (retryable failure) or marks it `failed` (the receiver refused it
//! for good; kept with its error for `alerts list`). `dedup_key` is unique: a rule that keeps
//! matching raises one alert.

use crate::campaigns::CampaignTx;
use crate::error::{Result, StoreError};
use crate::query::{from_nanos, parse_json};
use crate::{Timestamp, unix_nanos};
use model::Alert;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use serde::Serialize;

/// Longest delivery error text kept (receivers can answer with anything).
pub const MAX_ERROR_CHARS: usize = 500;

/// A delivery due now.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub alert_seq: i64,
    pub receiver: String,
    pub attempts: u32,
    pub alert: Alert,
}

/// An alert with the state of each of its deliveries, for `alerts list` and the API.
#[derive(Debug, Clone, Serialize)]
pub struct AlertRecord {
    #[serde(flatten)]
    pub alert: Alert,
    pub deliveries: Vec<DeliveryState>,
}

/// Where one delivery stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryState {
    pub receiver: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_error: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<Timestamp>,
}

impl CampaignTx<'_> {
    /// Stores `alert` with a pending delivery to each receiver. False (and nothing stored)
    /// when an alert with the same `dedup_key` exists.
    pub fn raise(&self, alert: &Alert, receivers: &[String]) -> Result<bool> {
        let json = serde_json::to_string(alert)
            .map_err(|e| StoreError::corrupt(format!("alert JSON: {e}")))?;
        self.on(
            |tx| raise(tx, alert, &json, receivers),
            |step| crate::pg::alerts::raise(step, alert, &json, receivers),
        )
    }
}

/// [`CampaignTx::raise`] on SQLite.
fn raise(tx: &Transaction<'_>, alert: &Alert, json: &str, receivers: &[String]) -> Result<bool> {
    let n = tx
        .prepare_cached(
            "INSERT INTO alerts (id, dedup_key, rule, severity, campaign, created_at, json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(dedup_key) DO NOTHING",
        )?
        .execute((
            alert.id.as_bytes().to_vec(),
            &alert.dedup_key,
            &alert.rule,
            alert.severity.as_str(),
            alert.campaign,
            unix_nanos(alert.created_at),
            json,
        ))?;
    if n == 0 {
        return Ok(false);
    }
    let seq = tx.last_insert_rowid();
    let mut put = tx.prepare_cached(
        "INSERT INTO alert_deliveries (alert, receiver, state, attempts, next_at)
         VALUES (?1, ?2, 'pending', 0, ?3)",
    )?;
    for r in receivers {
        put.execute((seq, r, unix_nanos(alert.created_at)))?;
    }
    Ok(true)
}

/// Deliveries due at `now`, oldest first, at most `max`.
pub(crate) fn due(conn: &Connection, now: Timestamp, max: usize) -> Result<Vec<Delivery>> {
    let rows: Vec<(i64, String, i64, String)> = conn
        .prepare_cached(
            "SELECT d.alert, d.receiver, d.attempts, a.json FROM alert_deliveries d
             JOIN alerts a ON a.seq = d.alert
             WHERE d.state = 'pending' AND d.next_at <= ?1 ORDER BY d.next_at, d.alert LIMIT ?2",
        )?
        .query_map(
            (unix_nanos(now), i64::try_from(max).unwrap_or(i64::MAX)),
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?
        .collect::<std::result::Result<_, _>>()?;
    rows.into_iter()
        .map(|(seq, receiver, attempts, json)| {
            Ok(Delivery {
                alert_seq: seq,
                receiver,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                alert: parse_json(&json, "alert")?,
            })
        })
        .collect()
}

/// When the next pending delivery is due (to sleep until then).
pub(crate) fn next_due(conn: &Connection) -> Result<Option<Timestamp>> {
    let t: Option<i64> = conn.query_row(
        "SELECT min(next_at) FROM alert_deliveries WHERE state = 'pending'",
        [],
        |r| r.get(0),
    )?;
    t.map(from_nanos).transpose()
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered,
    /// Try again at this time.
    Retry {
        at: Timestamp,
        error: String,
    },
    /// The receiver refused it for good.
    Failed {
        error: String,
    },
}

/// Records the outcome of one attempt.
pub(crate) fn record(
    conn: &mut Connection,
    alert_seq: i64,
    receiver: &str,
    outcome: &Attempt,
    now: Timestamp,
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    match outcome {
        Attempt::Delivered => tx.execute(
            "UPDATE alert_deliveries SET state = 'delivered', attempts = attempts + 1,
             delivered_at = ?3, last_error = '' WHERE alert = ?1 AND receiver = ?2",
            (alert_seq, receiver, unix_nanos(now)),
        )?,
        Attempt::Retry { at, error } => tx.execute(
            "UPDATE alert_deliveries SET attempts = attempts + 1, next_at = ?3, last_error = ?4
             WHERE alert = ?1 AND receiver = ?2",
            (alert_seq, receiver, unix_nanos(*at), cut_error(error)),
        )?,
        Attempt::Failed { error } => tx.execute(
            "UPDATE alert_deliveries SET state = 'failed', attempts = attempts + 1,
             last_error = ?3 WHERE alert = ?1 AND receiver = ?2",
            (alert_seq, receiver, cut_error(error)),
        )?,
    };
    tx.commit()?;
    Ok(())
}

/// The `UPDATE` behind [`crate::Store::claim_delivery`], the same on both backends: it
/// moves the delivery's due time past the lease only if it is still pending, still due and
/// has not been attempted since it was read.
pub(crate) const CLAIM_SQL: &str = "UPDATE alert_deliveries SET next_at = $1
     WHERE alert = $2 AND receiver = $3 AND state = 'pending' AND next_at <= $4
       AND attempts = $5";

/// See [`CLAIM_SQL`].
pub(crate) fn claim(
    conn: &Connection,
    d: &Delivery,
    now: Timestamp,
    until: Timestamp,
) -> Result<bool> {
    let n = conn.prepare_cached(CLAIM_SQL)?.execute((
        unix_nanos(until),
        d.alert_seq,
        &d.receiver,
        unix_nanos(now),
        i64::from(d.attempts),
    ))?;
    Ok(n == 1)
}

/// A receiver's error text cut to [`MAX_ERROR_CHARS`].
pub(crate) fn cut_error(e: &str) -> String {
    e.chars().take(MAX_ERROR_CHARS).collect()
}

/// Puts deliveries that failed for good back in the queue, due now (after an operator fixed
/// the receiver); only those to `receiver` when given. Returns how many.
pub(crate) fn redeliver(
    conn: &mut Connection,
    receiver: Option<&str>,
    now: Timestamp,
) -> Result<u64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let n = tx.execute(
        "UPDATE alert_deliveries SET state = 'pending', next_at = ?2
         WHERE state = 'failed' AND (?1 IS NULL OR receiver = ?1)",
        (receiver, unix_nanos(now)),
    )?;
    tx.commit()?;
    Ok(n as u64)
}

/// Alerts newest first, with their delivery states.
pub(crate) fn list(
    conn: &Connection,
    since: Option<Timestamp>,
    limit: usize,
) -> Result<Vec<AlertRecord>> {
    let rows: Vec<(i64, String)> = conn
        .prepare_cached(
            "SELECT seq, json FROM alerts WHERE created_at >= ?1 ORDER BY seq DESC LIMIT ?2",
        )?
        .query_map(
            (
                since.map(unix_nanos).unwrap_or(i64::MIN),
                i64::try_from(limit).unwrap_or(i64::MAX),
            ),
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .collect::<std::result::Result<_, _>>()?;
    let mut states = conn.prepare_cached(
        "SELECT receiver, state, attempts, last_error, delivered_at FROM alert_deliveries
         WHERE alert = ?1 ORDER BY receiver",
    )?;
    rows.into_iter()
        .map(|(seq, json)| {
            let raw: Vec<(String, String, i64, String, Option<i64>)> = states
                .query_map([seq], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<std::result::Result<_, _>>()?;
            let deliveries = raw
                .into_iter()
                .map(|(receiver, state, attempts, last_error, at)| {
                    Ok(DeliveryState {
                        receiver,
                        state,
                        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                        last_error,
                        delivered_at: at.map(from_nanos).transpose()?,
                    })
                })
                .collect::<Result<_>>()?;
            Ok(AlertRecord {
                alert: parse_json(&json, "alert")?,
                deliveries,
            })
        })
        .collect()
}
