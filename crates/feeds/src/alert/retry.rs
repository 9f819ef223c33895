//! When to try again: exponential backoff with deterministic jitter, and a per-receiver
//! rate limit. Both take their inputs explicitly (attempt, seed, `now`) so they are pure.

use std::time::{Duration, Instant};

/// First retry delay.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Longest delay between attempts: an outage of hours is retried every ten minutes, so a
/// receiver that comes back is served within that time.
pub const BACKOFF_CAP: Duration = Duration::from_secs(600);

/// The delay before the next attempt after `attempt` failures (1 after the first; 0 counts as 1).
///
/// Nominal delay `1 s · 2^(attempt-1)`, capped at [`BACKOFF_CAP`]; jitter then takes off up to a
/// quarter of it. The jitter is a hash of `seed` and `attempt`, not randomness: with the alert
/// id as seed (see [`backoff_seed`]) the schedule is reproducible in tests and across restarts,
/// while alerts that failed together (a receiver outage) spread out instead of returning in a
/// herd. Jitter only shortens, so the cap is a hard ceiling.
pub fn backoff(attempt: u32, seed: u64) -> Duration {
    let attempt = attempt.max(1);
    let doublings = (attempt - 1).min(20);
    let nominal = BACKOFF_BASE.saturating_mul(1 << doublings).min(BACKOFF_CAP);
    let fraction_per_mille = mix(seed ^ u64::from(attempt)) % 1000;
    let nominal_ms = nominal.as_millis() as u64;
    Duration::from_millis(nominal_ms - nominal_ms * fraction_per_mille / 4000)
}

/// A jitter seed from an alert id (the two halves of the UUID folded together).
pub fn backoff_seed(id: &uuid::Uuid) -> u64 {
    let (high, low) = id.as_u64_pair();
    high ^ low
}

/// SplitMix64 finaliser: spreads neighbouring seeds over the whole range.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Token bucket for one receiver: a burst of up to `max_per_minute` deliveries, then one every
/// `60 s / max_per_minute`.
///
/// Kept as the time the bucket would next be full-minus-one (GCRA), so it is exact with
/// integer durations and needs no refill timer. The burst equals the per-minute budget so a
/// campaign that raises several alerts at once is delivered at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimiter {
    interval: Duration,
    burst_tolerance: Duration,
    /// Theoretical arrival time of the next delivery; `None` before the first.
    next_free: Option<Instant>,
}

impl RateLimiter {
    /// `max_per_minute` of 0 is treated as 1 (configuration refuses 0).
    pub fn per_minute(max_per_minute: u32) -> RateLimiter {
        let max = max_per_minute.max(1);
        let interval = Duration::from_secs(60) / max;
        RateLimiter {
            interval,
            burst_tolerance: interval * (max - 1),
            next_free: None,
        }
    }

    /// Takes one delivery slot at `now`, or says how long to wait for the next one.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        let tat = match self.next_free {
            Some(t) if t > now => t,
            _ => now,
        };
        let ahead = tat - now;
        if ahead > self.burst_tolerance {
            return Err(ahead - self.burst_tolerance);
        }
        self.next_free = Some(tat + self.interval);
        Ok(())
    }
}
