//! `spike`: this hour's count, for the campaign or the whole trap, is at least `factor` times
//! the mean of the previous `baseline_hours` hourly counts and at least `min_messages`.
//! Dedup `rule/campaign/hour-start` or `rule/trap/hour-start`: at most once per hour.
//!
//! Hours are UTC clock hours (`unix time / 3600`), the buckets the rate histories use. Hours
//! missing from a history count 0. The mean has a floor of [`MEAN_FLOOR`] messages per hour:
//! a brand-new trap or campaign has a mean of 0, and "any traffic is an infinite spike" would
//! fire on the first busy hour of every campaign; with the floor it takes `factor` messages
//! an hour (and `min_messages`) to fire.

use super::Situation;
use super::build::{Draft, dedup_key, evidence, rfc3339};
use super::rules::{Rule, Scope, Spike};
use model::campaign::RatePoint;

/// Floor on the baseline mean, in messages per hour (see the module doc).
pub const MEAN_FLOOR: f64 = 1.0;

const SECONDS_PER_HOUR: i64 = 3_600;

fn hour_of(t: model::Timestamp) -> i64 {
    t.unix_timestamp().div_euclid(SECONDS_PER_HOUR)
}

/// This hour's count and the baseline mean (before the floor).
fn measure(rate: &[RatePoint], hour: i64, baseline_hours: u64) -> (u64, f64) {
    let first = hour.saturating_sub(i64::try_from(baseline_hours).unwrap_or(i64::MAX));
    let mut current = 0u64;
    let mut before = 0u64;
    for p in rate {
        let h = hour_of(p.hour);
        if h == hour {
            current = current.saturating_add(p.messages);
        } else if (first..hour).contains(&h) {
            before = before.saturating_add(p.messages);
        }
    }
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let mean = before as f64 / baseline_hours as f64;
    (current, mean)
}

pub(super) fn check(rule: &Rule, k: &Spike, s: &Situation<'_>) -> Vec<Draft> {
    let c = s.campaign;
    let rate = match k.scope {
        Scope::Campaign => c.rate.as_slice(),
        Scope::Trap => s.trap_rate,
    };
    let hour = hour_of(s.now);
    let (current, mean) = measure(rate, hour, k.baseline_hours);
    let baseline = mean.max(MEAN_FLOOR);
    #[allow(clippy::cast_precision_loss)]
    let current_f = current as f64;
    if current < k.min_messages || current_f < k.factor * baseline {
        return Vec::new();
    }
    let hour_start = time::OffsetDateTime::from_unix_timestamp(hour * SECONDS_PER_HOUR)
        .map(rfc3339)
        .unwrap_or_else(|_| hour.to_string());
    let ratio = current_f / baseline;
    let detail = format!(
        "{current} messages in the hour from {hour_start}; mean of the previous {} hours \
         {mean:.1}/h (floor {MEAN_FLOOR}/h); factor {:.1}, threshold {:.1}",
        k.baseline_hours,
        k.factor,
        k.factor * baseline
    );
    let (title, scope_key, about_campaign) = match k.scope {
        Scope::Campaign => (
            format!(
                "Campaign #{} ({}) spiking: {current} messages this hour, x{ratio:.1} its {} h baseline",
                c.id,
                c.verdict.as_str(),
                k.baseline_hours
            ),
            c.id.to_string(),
            true,
        ),
        Scope::Trap => (
            format!(
                "Trap volume spike: {current} messages this hour, x{ratio:.1} the {} h baseline",
                k.baseline_hours
            ),
            "trap".to_string(),
            false,
        ),
    };
    let mut found = vec![evidence(s, "volume", &detail)];
    if !about_campaign {
        found.push(evidence(
            s,
            "campaign",
            &format!(
                "the threshold was crossed by a message of campaign #{}",
                c.id
            ),
        ));
    }
    vec![Draft {
        title,
        lines: vec![detail],
        evidence: found,
        dedup_key: dedup_key(rule, &[&scope_key, &hour_start]),
        about_campaign,
    }]
}
