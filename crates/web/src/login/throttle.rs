//! Failed-login throttling per client address and per user name, in bounded memory.
//!
//! Every attempt is counted before the password is checked and forgiven when it succeeds, so
//! parallel guesses cannot slip past the limit while the slow hash runs.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use store::MAX_ACCOUNT_NAME;

/// Failed logins allowed per key within [`FAILURE_WINDOW`]; the next attempt gets 429
/// without its password being checked. Five covers typos and a caps-lock; an online guesser
/// gets 480 tries a day per name, hopeless against a 12-character password.
pub const MAX_FAILURES: u32 = 5;

/// How long failures count. Fifteen minutes is long enough to make guessing slow and short
/// enough that an analyst who mistyped five times is not locked out for the shift.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Most keys (addresses and names) tracked at once. A spray of fresh names or addresses
/// evicts the oldest windows instead of growing memory; 10,000 entries are about 1 MiB.
pub const MAX_TRACKED_KEYS: usize = 10_000;

/// What failures are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    /// A client address; IPv6 by its /64, which one host usually holds whole.
    Client(IpAddr),
    /// Requests whose peer address is unknown (tests, in-process callers) share one bucket.
    UnknownClient,
    /// A user name as typed (cut to the longest valid name).
    User(String),
}

impl Key {
    pub(crate) fn client(ip: Option<IpAddr>) -> Key {
        match ip {
            Some(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                Key::Client(IpAddr::V6(net))
            }
            Some(IpAddr::V6(v6)) => Key::Client(IpAddr::V4(
                v6.to_ipv4_mapped()
                    .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
            )),
            Some(ip) => Key::Client(ip),
            None => Key::UnknownClient,
        }
    }

    pub(crate) fn user(name: &str) -> Key {
        Key::User(name.chars().take(MAX_ACCOUNT_NAME).collect())
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    since: Instant,
    attempts: u32,
}

/// The counters of failed logins.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    windows: Mutex<HashMap<Key, Window>>,
}

impl Throttle {
    /// Counts an attempt against every key, or returns how long to wait when any key has
    /// used up its failures (then nothing is counted).
    pub(crate) fn begin(&self, keys: &[Key], now: Instant) -> Result<(), Duration> {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = Duration::ZERO;
        for key in keys {
            if let Some(w) = windows.get(key)
                && now.saturating_duration_since(w.since) < FAILURE_WINDOW
                && w.attempts >= MAX_FAILURES
            {
                wait = wait.max(FAILURE_WINDOW - now.saturating_duration_since(w.since));
            }
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        for key in keys {
            if !windows.contains_key(key) && windows.len() >= MAX_TRACKED_KEYS {
                evict(&mut windows, now);
            }
            let w = windows.entry(key.clone()).or_insert(Window {
                since: now,
                attempts: 0,
            });
            if now.saturating_duration_since(w.since) >= FAILURE_WINDOW {
                *w = Window {
                    since: now,
                    attempts: 0,
                };
            }
            w.attempts += 1;
        }
        Ok(())
    }

    /// The attempt begun with these keys succeeded: it is not a failure.
    pub(crate) fn forgive(&self, keys: &[Key]) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            if let Some(w) = windows.get_mut(key) {
                w.attempts = w.attempts.saturating_sub(1);
            }
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.windows.lock().map(|w| w.len()).unwrap_or(0)
    }
}

/// Makes room for one key: expired windows go first, else the oldest one.
fn evict(windows: &mut HashMap<Key, Window>, now: Instant) {
    windows.retain(|_, w| now.saturating_duration_since(w.since) < FAILURE_WINDOW);
    if windows.len() < MAX_TRACKED_KEYS {
        return;
    }
    if let Some(oldest) = windows
        .iter()
        .min_by_key(|(_, w)| w.since)
        .map(|(k, _)| k.clone())
    {
        windows.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ip: [u8; 4], user: &str) -> Vec<Key> {
        vec![Key::client(Some(IpAddr::from(ip))), Key::user(user)]
    }

    #[test]
    fn the_sixth_attempt_in_a_window_waits_and_the_window_ends() {
        let t = Throttle::default();
        let t0 = Instant::now();
        for i in 0..MAX_FAILURES {
            assert!(
                t.begin(&keys([192, 0, 2, 1], "ana"), t0).is_ok(),
                "attempt {i}"
            );
        }
        let wait = t
            .begin(&keys([192, 0, 2, 1], "ana"), t0 + Duration::from_secs(60))
            .expect_err("throttled");
        assert_eq!(wait, FAILURE_WINDOW - Duration::from_secs(60));
        // The name is locked from another address too, the address for another name too.
        assert!(t.begin(&keys([192, 0, 2, 2], "ana"), t0).is_err());
        assert!(t.begin(&keys([192, 0, 2, 1], "bo"), t0).is_err());
        assert!(t.begin(&keys([192, 0, 2, 2], "bo"), t0).is_ok());
        assert!(
            t.begin(&keys([192, 0, 2, 1], "ana"), t0 + FAILURE_WINDOW)
                .is_ok()
        );
    }

    #[test]
    fn successes_are_forgiven() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..MAX_FAILURES * 3 {
            let k = keys([192, 0, 2, 1], "ana");
            t.begin(&k, now).expect("not throttled");
            t.forgive(&k);
        }
    }

    #[test]
    fn an_ipv6_host_is_throttled_by_its_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        assert_eq!(Key::client(Some(a)), Key::client(Some(b)));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("ip");
        assert_eq!(
            Key::client(Some(mapped)),
            Key::client(Some(IpAddr::from([192, 0, 2, 1])))
        );
    }

    #[test]
    fn memory_stays_bounded_under_a_spray_of_names() {
        let t = Throttle::default();
        let now = Instant::now();
        for i in 0..MAX_TRACKED_KEYS + 500 {
            let _ = t.begin(&[Key::user(&format!("u{i}"))], now);
        }
        assert!(t.tracked() <= MAX_TRACKED_KEYS);
    }
}
