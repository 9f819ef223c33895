//! PostgreSQL counterpart of `crate::alerts`: alerts and their delivery outbox.
//!
//! Alerts are raised inside the clustering step (one at a time across collectors, see
//! `campaigns.rs`); `dedup_key` is unique all the same, so a rule that keeps matching raises
//! one alert whichever collector ran the step. Outcomes are single-row updates, atomic without
//! an explicit transaction.

use super::big;
use crate::alerts::{AlertRecord, Attempt, Delivery, DeliveryState, cut_error};
use crate::error::Result;
use crate::query::{from_nanos, parse_json};
use crate::{Timestamp, unix_nanos};
use model::Alert;
use postgres::GenericClient;
use std::collections::HashMap;

/// This module's tables (part of schema version 1, see `schema.rs`): SQLite schema v6.
pub(crate) const DDL: &str = "
    CREATE TABLE alerts (
        seq        BIGSERIAL PRIMARY KEY,
        id         BYTEA NOT NULL UNIQUE,
        dedup_key  TEXT NOT NULL UNIQUE,
        rule       TEXT NOT NULL,
        severity   TEXT NOT NULL,
        campaign   BIGINT,
        created_at BIGINT NOT NULL,
        json       TEXT NOT NULL          -- model::Alert
    );
    CREATE INDEX alerts_by_time ON alerts(created_at);
    CREATE TABLE alert_deliveries (
        alert        BIGINT NOT NULL,     -- alerts.seq
        receiver     TEXT NOT NULL,
        state        TEXT NOT NULL,       -- pending | delivered | failed
        attempts     BIGINT NOT NULL,
        next_at      BIGINT NOT NULL,     -- unix nanoseconds
        last_error   TEXT NOT NULL DEFAULT '',
        delivered_at BIGINT,
        PRIMARY KEY (alert, receiver)
    );
    CREATE INDEX alert_deliveries_due ON alert_deliveries(next_at) WHERE state = 'pending';
";

/// Stores `alert` (its JSON) with a pending delivery to each receiver; false when an alert
/// with the same `dedup_key` exists.
pub(crate) fn raise(
    tx: &mut super::prepared::Tx<'_>,
    alert: &Alert,
    json: &str,
    receivers: &[String],
) -> Result<bool> {
    let row = tx.query_opt(
        "INSERT INTO alerts (id, dedup_key, rule, severity, campaign, created_at, json)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (dedup_key) DO NOTHING
         RETURNING seq",
        &[
            &alert.id.as_bytes().as_slice(),
            &alert.dedup_key,
            &alert.rule,
            &alert.severity.as_str(),
            &alert.campaign,
            &unix_nanos(alert.created_at),
            &json,
        ],
    )?;
    let Some(row) = row else {
        return Ok(false);
    };
    let seq: i64 = row.try_get(0)?;
    tx.execute(
        "INSERT INTO alert_deliveries (alert, receiver, state, attempts, next_at)
         SELECT $1::BIGINT, r, 'pending', 0, $3::BIGINT FROM unnest($2::TEXT[]) AS r",
        &[&seq, &receivers, &unix_nanos(alert.created_at)],
    )?;
    Ok(true)
}

/// See [`crate::alerts::CLAIM_SQL`].
pub(crate) fn claim(
    c: &mut impl GenericClient,
    d: &Delivery,
    now: Timestamp,
    until: Timestamp,
) -> Result<bool> {
    let n = c.execute(
        crate::alerts::CLAIM_SQL,
        &[
            &unix_nanos(until),
            &d.alert_seq,
            &d.receiver,
            &unix_nanos(now),
            &i64::from(d.attempts),
        ],
    )?;
    Ok(n == 1)
}

/// Deliveries due at `now`, oldest first, at most `max`.
pub(crate) fn due(c: &mut impl GenericClient, now: Timestamp, max: usize) -> Result<Vec<Delivery>> {
    c.query(
        "SELECT d.alert, d.receiver, d.attempts, a.json FROM alert_deliveries d
         JOIN alerts a ON a.seq = d.alert
         WHERE d.state = 'pending' AND d.next_at <= $1 ORDER BY d.next_at, d.alert LIMIT $2",
        &[&unix_nanos(now), &big(max)],
    )?
    .iter()
    .map(|r| {
        let attempts: i64 = r.try_get(2)?;
        Ok(Delivery {
            alert_seq: r.try_get(0)?,
            receiver: r.try_get(1)?,
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            alert: parse_json(r.try_get(3)?, "alert")?,
        })
    })
    .collect()
}

/// When the next pending delivery is due (to sleep until then).
pub(crate) fn next_due(c: &mut impl GenericClient) -> Result<Option<Timestamp>> {
    let t: Option<i64> = c
        .query_one(
            "SELECT min(next_at) FROM alert_deliveries WHERE state = 'pending'",
            &[],
        )?
        .try_get(0)?;
    t.map(from_nanos).transpose()
}

/// Records the outcome of one attempt.
pub(crate) fn record(
    c: &mut impl GenericClient,
    alert_seq: i64,
    receiver: &str,
    outcome: &Attempt,
    now: Timestamp,
) -> Result<()> {
    match outcome {
        Attempt::Delivered => c.execute(
            "UPDATE alert_deliveries SET state = 'delivered', attempts = attempts + 1,
             delivered_at = $3, last_error = '' WHERE alert = $1 AND receiver = $2",
            &[&alert_seq, &receiver, &unix_nanos(now)],
        )?,
        Attempt::Retry { at, error } => c.execute(
            "UPDATE alert_deliveries SET attempts = attempts + 1, next_at = $3, last_error = $4
             WHERE alert = $1 AND receiver = $2",
            &[&alert_seq, &receiver, &unix_nanos(*at), &cut_error(error)],
        )?,
        Attempt::Failed { error } => c.execute(
            "UPDATE alert_deliveries SET state = 'failed', attempts = attempts + 1,
             last_error = $3 WHERE alert = $1 AND receiver = $2",
            &[&alert_seq, &receiver, &cut_error(error)],
        )?,
    };
    Ok(())
}

/// Puts deliveries that failed for good back in the queue, due now; only those to `receiver`
/// when given. Returns how many.
pub(crate) fn redeliver(
    c: &mut impl GenericClient,
    receiver: Option<&str>,
    now: Timestamp,
) -> Result<u64> {
    let n = c.execute(
        "UPDATE alert_deliveries SET state = 'pending', next_at = $2
         WHERE state = 'failed' AND ($1::TEXT IS NULL OR receiver = $1)",
        &[&receiver, &unix_nanos(now)],
    )?;
    Ok(n)
}

/// Alerts newest first, with their delivery states (one query for all their deliveries;
/// receivers in byte order, as SQLite sorts them).
pub(crate) fn list(
    c: &mut impl GenericClient,
    since: Option<Timestamp>,
    limit: usize,
) -> Result<Vec<AlertRecord>> {
    let alerts = c.query(
        "SELECT seq, json FROM alerts WHERE created_at >= $1 ORDER BY seq DESC LIMIT $2",
        &[&since.map(unix_nanos).unwrap_or(i64::MIN), &big(limit)],
    )?;
    let seqs = alerts
        .iter()
        .map(|r| r.try_get(0))
        .collect::<std::result::Result<Vec<i64>, _>>()?;
    let mut states: HashMap<i64, Vec<DeliveryState>> = HashMap::new();
    for r in c.query(
        "SELECT alert, receiver, state, attempts, last_error, delivered_at FROM alert_deliveries
         WHERE alert = ANY($1) ORDER BY alert, receiver COLLATE \"C\"",
        &[&seqs],
    )? {
        let attempts: i64 = r.try_get(3)?;
        let at: Option<i64> = r.try_get(5)?;
        states
            .entry(r.try_get(0)?)
            .or_default()
            .push(DeliveryState {
                receiver: r.try_get(1)?,
                state: r.try_get(2)?,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                last_error: r.try_get(4)?,
                delivered_at: at.map(from_nanos).transpose()?,
            });
    }
    alerts
        .iter()
        .zip(seqs)
        .map(|(r, seq)| {
            Ok(AlertRecord {
                alert: parse_json(r.try_get(1)?, "alert")?,
                deliveries: states.remove(&seq).unwrap_or_default(),
            })
        })
        .collect()
}
