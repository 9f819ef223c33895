//! The server-wide budget for message bytes held in memory while DATA/BDAT is received.
//!
//! Each session may buffer up to `max_message_bytes`, so without a shared bound the memory a
//! trap needs grows with the number of connections times the message size. Every session
//! therefore reserves from one [`InflightBudget`] before its body buffer grows, and gives the
//! bytes back when the buffer goes away. The reservation is a guard ([`Reservation`]) owned
//! by the transaction: whatever ends it (capture, RSET, an error, a dropped connection, a
//! panic in the session task) releases the bytes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// MAIL is refused (`452`) while less than `1 / MAIL_HEADROOM_DIVISOR` of the budget is left:
/// the last eighth is kept for the transactions already receiving, so new ones are turned
/// away at MAIL (where a sender simply retries later) rather than after their content.
pub const MAIL_HEADROOM_DIVISOR: u64 = 8;

/// Bytes reserved by all sessions, against a maximum.
#[derive(Debug)]
pub struct InflightBudget {
    max: u64,
    used: AtomicU64,
    /// The highest `used` ever reached: what a test (or an operator) checks against `max`.
    peak: AtomicU64,
}

/// The budget's figures at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InflightStats {
    /// Bytes reserved now.
    pub used: u64,
    /// Highest value of `used` since start.
    pub peak: u64,
    /// The budget (`Limits::max_inflight_bytes`).
    pub max: u64,
}

impl InflightBudget {
    pub fn new(max: u64) -> Arc<Self> {
        Arc::new(Self {
            max,
            used: AtomicU64::new(0),
            peak: AtomicU64::new(0),
        })
    }

    /// Takes `n` bytes if they fit; never overshoots, whatever the number of sessions racing.
    fn try_take(&self, n: u64) -> bool {
        let taken = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|total| *total <= self.max)
            });
        match taken {
            Ok(before) => {
                self.peak.fetch_max(before + n, Ordering::AcqRel);
                true
            }
            Err(_) => false,
        }
    }

    fn give_back(&self, n: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                Some(used.saturating_sub(n))
            });
    }

    /// True while less than `1 / MAIL_HEADROOM_DIVISOR` of the budget is left (MAIL gets `452`).
    pub fn nearly_full(&self) -> bool {
        let used = self.used.load(Ordering::Acquire);
        self.max.saturating_sub(used) < self.max / MAIL_HEADROOM_DIVISOR
    }

    pub fn stats(&self) -> InflightStats {
        InflightStats {
            used: self.used.load(Ordering::Acquire),
            peak: self.peak.load(Ordering::Acquire),
            max: self.max,
        }
    }
}

/// Bytes one transaction holds from the budget; released when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<InflightBudget>,
    held: u64,
}

impl Reservation {
    /// An empty reservation on `budget`.
    pub fn new(budget: &Arc<InflightBudget>) -> Self {
        Self {
            budget: Arc::clone(budget),
            held: 0,
        }
    }

    /// Grows the reservation to `total` bytes; false (and unchanged) if the budget cannot
    /// give the difference. Asking for less than is held changes nothing.
    pub fn grow_to(&mut self, total: u64) -> bool {
        let Some(more) = total.checked_sub(self.held).filter(|m| *m > 0) else {
            return true;
        };
        if !self.budget.try_take(more) {
            return false;
        }
        self.held = total;
        true
    }

    /// Gives every byte back (the buffer was freed).
    pub fn release(&mut self) {
        self.budget.give_back(self.held);
        self.held = 0;
    }

    #[cfg(test)]
    pub fn held(&self) -> u64 {
        self.held
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.release();
    }
}

/// Grows `body` so that `incoming` more bytes fit without a reallocation the budget has not
/// paid for. The reservation follows the buffer's capacity (the memory really held), which
/// doubles as it grows, so copying stays linear; when the doubled size does not fit the
/// budget, exactly what is needed is tried. `cap` is the largest body a message may have
/// (`max_message_bytes`): the buffer never grows past it. False when the budget is spent.
pub fn grow_body(
    body: &mut Vec<u8>,
    reservation: &mut Reservation,
    incoming: usize,
    cap: u64,
) -> bool {
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    let needed = body.len().saturating_add(incoming).min(cap);
    if needed <= body.capacity() {
        return true;
    }
    let doubled = body.capacity().saturating_mul(2).min(cap).max(needed);
    for target in [doubled, needed] {
        if reservation.grow_to(target as u64) {
            body.reserve_exact(target - body.len());
            // `reserve_exact` gives exactly `target` bytes today; should it ever round up,
            // the extra is counted when the budget has it.
            let _ = reservation.grow_to(body.capacity() as u64);
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_never_overshoot_and_are_released_on_drop() {
        let b = InflightBudget::new(100);
        let mut r1 = Reservation::new(&b);
        let mut r2 = Reservation::new(&b);
        assert!(r1.grow_to(60));
        assert!(!r2.grow_to(41), "60 + 41 > 100");
        assert!(r2.grow_to(40));
        assert_eq!(b.stats().used, 100);
        assert!(b.nearly_full());
        drop(r1);
        assert_eq!(b.stats().used, 40);
        r2.release();
        assert_eq!(
            b.stats(),
            InflightStats {
                used: 0,
                peak: 100,
                max: 100
            }
        );
        assert!(!b.nearly_full());
    }

    #[test]
    fn a_body_grows_by_doubling_within_the_budget_and_then_exactly() {
        let b = InflightBudget::new(1000);
        let mut r = Reservation::new(&b);
        let mut body = Vec::new();
        assert!(grow_body(&mut body, &mut r, 300, 10_000));
        assert!(body.capacity() >= 300 && r.held() == body.capacity() as u64);
        body.extend_from_slice(&[0; 300]);
        // Doubling would ask for 600 (fits); then 1200 does not fit, so exactly 900 is tried.
        assert!(grow_body(&mut body, &mut r, 300, 10_000));
        body.extend_from_slice(&[0; 300]);
        assert!(grow_body(&mut body, &mut r, 300, 10_000));
        assert!(r.held() <= 1000, "{}", r.held());
        body.extend_from_slice(&[0; 300]);
        assert!(!grow_body(&mut body, &mut r, 200, 10_000), "1100 > 1000");
        assert_eq!(b.stats().peak, r.held());
    }
}
