//! The DNS side of authentication: a hickory resolver built from [`AuthConfig`] and the bounded
//! record caches that mail-auth consults before asking it.

use crate::{AuthConfig, EnrichError};
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ProtocolConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use mail_auth::{MX, MessageAuthenticator, Parameters, RecordSet, ResolverCache, Txt};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest time a record stays cached, whatever TTL it was published with. Attacker-controlled
/// zones may publish week-long TTLs to pin a record (or a parse error) in the sensor; an hour
/// keeps repeated campaigns cheap while letting corrected records in soon.
pub(crate) const MAX_CACHE_TTL: Duration = Duration::from_secs(3600);

/// Builds mail-auth's authenticator over a hickory resolver that uses the configured
/// nameservers (or the system's `resolv.conf` when none are given).
pub(crate) fn build(cfg: &AuthConfig) -> Result<MessageAuthenticator, EnrichError> {
    let config = if cfg.nameservers.is_empty() {
        let (config, _) = hickory_resolver::system_conf::read_system_conf()
            .map_err(|e| EnrichError::Resolver(format!("reading the system resolv.conf: {e}")))?;
        // Search domains are dropped: mail-auth queries fully qualified names only, and a
        // search list would leak the sensor's own domain into queries.
        ResolverConfig::from_parts(None, Vec::new(), config.name_servers().to_vec())
    } else {
        let servers = cfg
            .nameservers
            .iter()
            .map(|addr| {
                let mut udp = ConnectionConfig::new(ProtocolConfig::Udp);
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::new(ProtocolConfig::Tcp);
                tcp.port = addr.port();
                NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
            })
            .collect();
        ResolverConfig::from_parts(None, Vec::new(), servers)
    };
    if config.name_servers().is_empty() {
        return Err(EnrichError::Resolver("no nameserver configured".into()));
    }
    MessageAuthenticator::new(config, options(cfg))
        .map_err(|e| EnrichError::Resolver(e.to_string()))
}

fn options(cfg: &AuthConfig) -> ResolverOpts {
    let mut opts = ResolverOpts::default();
    opts.timeout = cfg.timeout;
    // One attempt per query: the per-message budget is the real bound, and a retry of a
    // query to an unresponsive attacker nameserver would only spend it. A lost packet to the
    // recommended local caching resolver is rare and is reported honestly as `temperror`.
    opts.attempts = 1;
    opts.cache_size = u64::try_from(cfg.cache_entries).unwrap_or(u64::MAX);
    opts.positive_max_ttl = Some(MAX_CACHE_TTL);
    opts.negative_max_ttl = Some(MAX_CACHE_TTL);
    // Names in hostile mail must be answered by DNS, never by the sensor's /etc/hosts.
    opts.use_hosts_file = ResolveHosts::Never;
    opts
}

/// The five record caches mail-auth can use, kept for the life of the [`crate::Authenticator`]
/// so that a campaign's repeated domains cost one lookup per TTL, not one per message.
#[derive(Debug)]
pub(crate) struct Caches {
    pub(crate) txt: TtlCache<Box<str>, Txt>,
    pub(crate) mx: TtlCache<Box<str>, RecordSet<MX>>,
    pub(crate) ipv4: TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    pub(crate) ipv6: TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    pub(crate) ptr: TtlCache<IpAddr, RecordSet<Box<str>>>,
}

/// The caches as mail-auth's `Parameters` type wants them.
pub(crate) type CachedParameters<'x, P> = Parameters<
    'x,
    P,
    TtlCache<Box<str>, Txt>,
    TtlCache<Box<str>, RecordSet<MX>>,
    TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    TtlCache<IpAddr, RecordSet<Box<str>>>,
>;

impl Caches {
    /// `entries` bounds each cache separately.
    pub(crate) fn new(entries: usize) -> Caches {
        Caches {
            txt: TtlCache::new(entries),
            mx: TtlCache::new(entries),
            ipv4: TtlCache::new(entries),
            ipv6: TtlCache::new(entries),
            ptr: TtlCache::new(entries),
        }
    }

    pub(crate) fn parameters<P>(&self, params: P) -> CachedParameters<'_, P> {
        Parameters::new(params)
            .with_txt_cache(&self.txt)
            .with_mx_cache(&self.mx)
            .with_ipv4_cache(&self.ipv4)
            .with_ipv6_cache(&self.ipv6)
            .with_ptr_cache(&self.ptr)
    }
}

/// A bounded map whose entries expire at the record's TTL (capped by [`MAX_CACHE_TTL`]). When
/// full, expired entries go first, then the entry closest to expiry: a linear scan, cheap next
/// to the DNS round trip that precedes every insert.
pub(crate) struct TtlCache<K, V> {
    capacity: usize,
    map: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K, V> std::fmt::Debug for TtlCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TtlCache")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<K: Hash + Eq + Clone, V: Clone> TtlCache<K, V> {
    pub(crate) fn new(capacity: usize) -> Self {
        TtlCache {
            capacity,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (V, Instant)>> {
        // A panic while holding the lock cannot leave the map inconsistent (every operation
        // is a single HashMap call), so a poisoned lock is still usable.
        self.map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

impl<K: Hash + Eq + Clone, V: Clone> ResolverCache<K, V> for TtlCache<K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut map = self.lock();
        match map.get(name) {
            Some((value, expires)) if *expires > Instant::now() => Some(value.clone()),
            Some(_) => {
                map.remove(name);
                None
            }
            None => None,
        }
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().remove(name).map(|(value, _)| value)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        if self.capacity == 0 {
            return;
        }
        let now = Instant::now();
        let expires = valid_until.min(now + MAX_CACHE_TTL);
        if expires <= now {
            return;
        }
        let mut map = self.lock();
        if map.len() >= self.capacity && !map.contains_key(&key) {
            map.retain(|_, (_, at)| *at > now);
        }
        if map.len() >= self.capacity && !map.contains_key(&key) {
            let oldest = map
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                map.remove(&oldest);
            }
        }
        map.insert(key, (value, expires));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_cache_evicts_the_entry_closest_to_expiry() {
        let cache: TtlCache<Box<str>, u32> = TtlCache::new(2);
        let now = Instant::now();
        cache.insert("a.".into(), 1, now + Duration::from_secs(100));
        cache.insert("b.".into(), 2, now + Duration::from_secs(10));
        cache.insert("c.".into(), 3, now + Duration::from_secs(50));
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get("a."), Some(1));
        assert_eq!(cache.get("b."), None);
        assert_eq!(cache.get("c."), Some(3));
    }

    #[test]
    fn expired_and_zero_ttl_records_are_not_served() {
        let cache: TtlCache<Box<str>, u32> = TtlCache::new(4);
        cache.insert("a.".into(), 1, Instant::now());
        assert_eq!(cache.get("a."), None);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn hostile_long_ttl_is_capped() {
        let cache: TtlCache<Box<str>, u32> = TtlCache::new(4);
        let far = Instant::now() + Duration::from_secs(7 * 86_400);
        cache.insert("a.".into(), 1, far);
        let stored = cache.lock().get("a.").map(|(_, at)| *at);
        assert!(stored.is_some_and(|at| at <= Instant::now() + MAX_CACHE_TTL));
    }
}
