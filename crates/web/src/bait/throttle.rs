//! Per-visitor and daily limits on new bait visits, in bounded memory.
//!
//! A harvester that hammers the site must not fill the store with seeds: past
//! `visits_per_ip_hour` new visits in one IP's hour it is shown the addresses of its own latest
//! visit again, and past `visits_per_day` new visits in a UTC day a visitor is shown its own
//! latest addresses, or, when it has none yet, the latest addresses issued to anyone (mail to
//! those is attributed to the visit that first got them: the price of a bounded store). Either way the page looks the same and nothing is stored; mail to
//! a replayed address is still attributed to the visit that first issued it.
//!
//! A slot is taken when the visit is decided ([`Throttle::decide`]), before the store is asked,
//! so parallel requests cannot overshoot a limit; a visit the store failed to keep gives its
//! slot back ([`Throttle::release`]).

use model::BaitForm;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::Date;

use super::MAX_TRACKED_VISITORS;

/// How long one visitor's count of new visits runs.
pub const VISITOR_WINDOW: Duration = Duration::from_secs(3600);

/// The addresses one visit showed, one per form in [`BaitForm::ALL`] order.
pub type Issued = Arc<[String; BaitForm::ALL.len()]>;

/// What a page view may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Mint and store a new visit (its slot is taken).
    Mint,
    /// Show these addresses again and store nothing; `None` when nothing was issued yet.
    Replay(Option<Issued>),
    /// The day's count is not known yet: read it from the store, [`Throttle::start_day`], ask
    /// again.
    CountDay(Date),
}

/// Who is counted: an IPv6 visitor by its /64, which one host usually holds whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key(IpAddr);

impl Key {
    fn of(ip: IpAddr) -> Key {
        Key(model::client_key(ip))
    }
}

#[derive(Debug, Clone)]
struct Visitor {
    since: Instant,
    visits: u32,
    latest: Option<Issued>,
}

#[derive(Debug, Default)]
struct State {
    visitors: HashMap<Key, Visitor>,
    /// The UTC day `today_visits` counts, once read from the store.
    day: Option<Date>,
    today_visits: u64,
    latest: Option<Issued>,
}

/// The limits and what they remember.
#[derive(Debug)]
pub struct Throttle {
    per_ip_hour: u32,
    per_day: u64,
    state: Mutex<State>,
}

impl Throttle {
    pub fn new(per_ip_hour: u32, per_day: u64) -> Throttle {
        Throttle {
            per_ip_hour,
            per_day,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decides one page view of `ip` at `now` on UTC day `today`, taking a slot for
    /// [`Decision::Mint`].
    pub fn decide(&self, ip: IpAddr, now: Instant, today: Date) -> Decision {
        let mut s = self.lock();
        if s.day != Some(today) {
            return Decision::CountDay(today);
        }
        let key = Key::of(ip);
        if let Some(v) = s.visitors.get_mut(&key) {
            if now.saturating_duration_since(v.since) >= VISITOR_WINDOW {
                v.since = now;
                v.visits = 0;
            }
            // Only its own addresses: someone else's would attribute its spam to them.
            if v.visits >= self.per_ip_hour {
                return Decision::Replay(v.latest.clone());
            }
        }
        if s.today_visits >= self.per_day {
            // Its own latest addresses if it has any, so that its spam stays its own.
            let own = s.visitors.get(&key).and_then(|v| v.latest.clone());
            return Decision::Replay(own.or_else(|| s.latest.clone()));
        }
        if !s.visitors.contains_key(&key) && s.visitors.len() >= MAX_TRACKED_VISITORS {
            evict(&mut s.visitors, now);
        }
        let v = s.visitors.entry(key).or_insert(Visitor {
            since: now,
            visits: 0,
            latest: None,
        });
        v.visits += 1;
        s.today_visits += 1;
        Decision::Mint
    }

    /// Starts counting `day` at `stored` visits (what the store holds for it). A count already
    /// started for that day by a parallel request is kept if higher.
    pub fn start_day(&self, day: Date, stored: u64) {
        let mut s = self.lock();
        if s.day == Some(day) {
            s.today_visits = s.today_visits.max(stored);
        } else if s.day.is_none_or(|d| d < day) {
            s.day = Some(day);
            s.today_visits = stored;
        }
    }

    /// The visit decided [`Decision::Mint`] for `ip` was stored and showed `issued`.
    pub fn issued(&self, ip: IpAddr, issued: Issued) {
        let mut s = self.lock();
        if let Some(v) = s.visitors.get_mut(&Key::of(ip)) {
            v.latest = Some(issued.clone());
        }
        s.latest = Some(issued);
    }

    /// The visit decided [`Decision::Mint`] for `ip` was not stored: its slot is free again.
    pub fn release(&self, ip: IpAddr) {
        let mut s = self.lock();
        s.today_visits = s.today_visits.saturating_sub(1);
        if let Some(v) = s.visitors.get_mut(&Key::of(ip)) {
            v.visits = v.visits.saturating_sub(1);
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.lock().visitors.len()
    }
}

/// Makes room: visitors whose window ended go first, then the oldest eighth, so a spray of
/// new addresses pays for one scan per [`MAX_TRACKED_VISITORS`]` / 8` arrivals, not per
/// arrival.
fn evict(visitors: &mut HashMap<Key, Visitor>, now: Instant) {
    visitors.retain(|_, v| now.saturating_duration_since(v.since) < VISITOR_WINDOW);
    if visitors.len() < MAX_TRACKED_VISITORS {
        return;
    }
    let mut since: Vec<Instant> = visitors.values().map(|v| v.since).collect();
    let cut = since.len() / 8;
    let (_, oldest_kept, _) = since.select_nth_unstable(cut);
    let oldest_kept = *oldest_kept;
    visitors.retain(|_, v| v.since >= oldest_kept);
    // Equal times could keep everyone: then drop arbitrary entries down to the mark.
    if visitors.len() >= MAX_TRACKED_VISITORS {
        let drop: Vec<Key> = visitors.keys().take(cut.max(1)).copied().collect();
        for k in drop {
            visitors.remove(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const DAY: Date = date!(2026 - 12 - 05);

    fn ip(n: u32) -> IpAddr {
        IpAddr::from(std::net::Ipv4Addr::from(0xC000_0200 + n))
    }

    fn issued(tag: &str) -> Issued {
        Arc::new(BaitForm::ALL.map(|f| format!("{tag}.{}@trap.example", f.as_str())))
    }

    #[test]
    fn the_day_is_counted_from_the_store_first() {
        let t = Throttle::new(5, 10);
        let now = Instant::now();
        assert_eq!(t.decide(ip(1), now, DAY), Decision::CountDay(DAY));
        t.start_day(DAY, 9);
        assert_eq!(t.decide(ip(1), now, DAY), Decision::Mint);
        assert_eq!(t.decide(ip(2), now, DAY), Decision::Replay(None));
        // A new day starts over from what the store says about it.
        let next = date!(2026 - 12 - 06);
        assert_eq!(t.decide(ip(2), now, next), Decision::CountDay(next));
        t.start_day(next, 0);
        assert_eq!(t.decide(ip(2), now, next), Decision::Mint);
        // A late reader of the old day does not turn the clock back.
        t.start_day(DAY, 0);
        assert_eq!(t.decide(ip(3), now, next), Decision::Mint);
    }

    #[test]
    fn a_busy_visitor_gets_its_latest_addresses_until_its_hour_ends() {
        let t = Throttle::new(2, 1000);
        t.start_day(DAY, 0);
        let t0 = Instant::now();
        assert_eq!(t.decide(ip(1), t0, DAY), Decision::Mint);
        t.issued(ip(1), issued("first"));
        assert_eq!(t.decide(ip(1), t0, DAY), Decision::Mint);
        t.issued(ip(1), issued("second"));
        assert_eq!(
            t.decide(ip(1), t0 + Duration::from_secs(60), DAY),
            Decision::Replay(Some(issued("second")))
        );
        // Others are not held back by it.
        assert_eq!(t.decide(ip(2), t0, DAY), Decision::Mint);
        assert_eq!(t.decide(ip(1), t0 + VISITOR_WINDOW, DAY), Decision::Mint);
    }

    #[test]
    fn past_the_daily_cap_everyone_sees_the_latest_addresses_issued() {
        let t = Throttle::new(100, 2);
        t.start_day(DAY, 0);
        let now = Instant::now();
        assert_eq!(t.decide(ip(1), now, DAY), Decision::Mint);
        t.issued(ip(1), issued("a"));
        assert_eq!(t.decide(ip(2), now, DAY), Decision::Mint);
        t.issued(ip(2), issued("b"));
        assert_eq!(
            t.decide(ip(3), now, DAY),
            Decision::Replay(Some(issued("b")))
        );
        // A visitor seen before keeps seeing its own.
        assert_eq!(
            t.decide(ip(1), now, DAY),
            Decision::Replay(Some(issued("a")))
        );
    }

    #[test]
    fn a_failed_visit_gives_its_slot_back() {
        let t = Throttle::new(1, 1);
        t.start_day(DAY, 0);
        let now = Instant::now();
        assert_eq!(t.decide(ip(1), now, DAY), Decision::Mint);
        t.release(ip(1));
        assert_eq!(t.decide(ip(1), now, DAY), Decision::Mint);
    }

    #[test]
    fn an_ipv6_host_is_counted_by_its_64() {
        let t = Throttle::new(1, 100);
        t.start_day(DAY, 0);
        let now = Instant::now();
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        assert_eq!(t.decide(a, now, DAY), Decision::Mint);
        assert_eq!(t.decide(b, now, DAY), Decision::Replay(None));
    }

    #[test]
    fn memory_stays_bounded_under_a_spray_of_addresses() {
        let t = Throttle::new(1, u64::MAX);
        t.start_day(DAY, 0);
        let now = Instant::now();
        for n in 0..(MAX_TRACKED_VISITORS as u32 + 5000) {
            assert_eq!(t.decide(ip(n), now, DAY), Decision::Mint);
        }
        assert!(t.tracked() <= MAX_TRACKED_VISITORS);
        // The newest visitors are still held to their limit.
        let last = ip(MAX_TRACKED_VISITORS as u32 + 4999);
        assert_eq!(t.decide(last, now, DAY), Decision::Replay(None));
    }
}
