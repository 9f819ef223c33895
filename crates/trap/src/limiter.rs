//! Connection caps: in total and per client IP. A slot is held by a guard for the life of the
//! session, so idle clients count, and a flood from one address cannot crowd out everyone else.
//!
//! "Per IP" means per IPv4 address and per IPv6 /64: one end site gets a whole /64 and can pick
//! a fresh address for every connection, so counting IPv6 addresses one by one would give a
//! single client 2^64 times the cap.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Total,
    PerIp,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Counts live connections.
#[derive(Debug)]
pub struct ConnLimiter {
    max_total: usize,
    max_per_ip: usize,
    counts: Mutex<Counts>,
    idle: Notify,
}

/// Holds one connection slot; releases it when dropped.
#[derive(Debug)]
pub struct Slot {
    limiter: Arc<ConnLimiter>,
    ip: IpAddr,
}

impl ConnLimiter {
    pub fn new(max_total: usize, max_per_ip: usize) -> Arc<Self> {
        Arc::new(Self {
            max_total,
            max_per_ip,
            counts: Mutex::new(Counts::default()),
            idle: Notify::new(),
        })
    }

    /// Takes a slot for `ip`, or says which limit is reached.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refusal> {
        let ip = model::client_key(ip);
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if c.total >= self.max_total {
            return Err(Refusal::Total);
        }
        let n = c.per_ip.entry(ip).or_insert(0);
        if *n >= self.max_per_ip {
            return Err(Refusal::PerIp);
        }
        *n += 1;
        c.total += 1;
        Ok(Slot {
            limiter: Arc::clone(self),
            ip,
        })
    }

    /// Live connections.
    pub fn active(&self) -> usize {
        self.counts.lock().map(|c| c.total).unwrap_or(0)
    }

    /// Resolves once no connection is live.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.active() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self
            .limiter
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&self.ip);
            }
        }
        if c.total == 0 {
            self.limiter.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ip_and_total_limits_hold_and_release() {
        let l = ConnLimiter::new(3, 2);
        let a: IpAddr = [192, 0, 2, 1].into();
        let b: IpAddr = [192, 0, 2, 2].into();
        let s1 = l.acquire(a).expect("first");
        let _s2 = l.acquire(a).expect("second");
        assert_eq!(l.acquire(a).err(), Some(Refusal::PerIp));
        let _s3 = l.acquire(b).expect("other ip");
        assert_eq!(l.acquire(b).err(), Some(Refusal::Total));
        drop(s1);
        assert!(l.acquire(a).is_ok());
    }

    #[test]
    fn an_ipv6_client_is_counted_per_64() {
        let l = ConnLimiter::new(100, 2);
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        let _a = l.acquire(ip("2001:db8:1:2::1")).expect("first");
        let _b = l
            .acquire(ip("2001:db8:1:2:ffff::9"))
            .expect("second, same /64");
        assert_eq!(
            l.acquire(ip("2001:db8:1:2:abcd::1")).err(),
            Some(Refusal::PerIp),
            "a third address of the same /64"
        );
        assert!(l.acquire(ip("2001:db8:1:3::1")).is_ok(), "another /64");
        let _c = l.acquire(ip("::ffff:192.0.2.7")).expect("mapped v4");
        let _d = l.acquire(ip("192.0.2.7")).expect("same v4, second");
        assert_eq!(l.acquire(ip("192.0.2.7")).err(), Some(Refusal::PerIp));
    }
}
