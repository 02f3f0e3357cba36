//! The resolver sender verification asks: `[dns] servers` or the system's, a time limit on
//! each look-up, and caches of the parsed answers that honour their TTLs.
//!
//! mail-auth parses each TXT answer (an SPF, DKIM or DMARC record) once and hands the cache
//! its expiry (from the answer's TTL); keeping the parsed record means a busy sender costs
//! one parse per TTL, not one per message. Each cache is bounded: past its size, expired
//! entries go first, then arbitrary ones (a sender cannot grow our memory by naming many
//! domains).
//!
//! mail-auth keeps only answers with records. The names the DMARC tree walk asks that have
//! none (`_dmarc.org`, for every sender under `.org`) then went through the resolver for
//! every message; [`DnsCaches::remember_absent`] keeps "no such record" answers too, for as
//! long as the zone's SOA says (RFC 2308 §5), where mail-auth finds them.

use crate::config::DnsConfig;
use mail_auth::hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts,
};
use mail_auth::hickory_resolver::net::{DnsError, NetError};
use mail_auth::hickory_resolver::proto::rr::Name;
use mail_auth::{MessageAuthenticator, RecordSet, ResolverCache, Txt, MX};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A bounded map from a DNS name (or address) to a parsed answer, until its TTL runs out.
pub struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
    capacity: usize,
}

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    pub fn new(capacity: usize) -> Self {
        TtlCache {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (V, Instant)>> {
        // A panic while holding the lock leaves a map that is still consistent.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<K: Hash + Eq + Clone, V: Clone> ResolverCache<K, V> for TtlCache<K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut entries = self.lock();
        match entries.get(name) {
            Some((value, until)) if *until > Instant::now() => Some(value.clone()),
            Some(_) => {
                entries.remove(name);
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
        self.lock().remove(name).map(|(v, _)| v)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            let now = Instant::now();
            entries.retain(|_, (_, until)| *until > now);
            while entries.len() >= self.capacity {
                let Some(victim) = entries.keys().next().cloned() else {
                    break;
                };
                entries.remove(&victim);
            }
        }
        entries.insert(key, (value, valid_until));
    }
}

/// The caches mail-auth is handed for every message.
pub struct DnsCaches {
    pub txt: TtlCache<Box<str>, Txt>,
    pub mx: TtlCache<Box<str>, RecordSet<MX>>,
    pub ipv4: TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    pub ipv6: TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    pub ptr: TtlCache<IpAddr, RecordSet<Box<str>>>,
}

impl DnsCaches {
    pub fn new(capacity: usize) -> DnsCaches {
        DnsCaches {
            txt: TtlCache::new(capacity),
            mx: TtlCache::new(capacity),
            ipv4: TtlCache::new(capacity),
            ipv6: TtlCache::new(capacity),
            ptr: TtlCache::new(capacity),
        }
    }
}

impl DnsCaches {
    /// Looks up the TXT records of `names` (FQDNs, lower case, with the final dot) that
    /// neither answer is cached for, and caches a "no such record" answer (NXDOMAIN, or
    /// the name without TXT records) for its negative TTL, as mail-auth would read it.
    /// Answers with records are left to mail-auth (the resolver's own cache then has them);
    /// errors are not cached.
    pub async fn remember_absent(&self, auth: &MessageAuthenticator, names: &[String]) {
        let missing = names.iter().filter(|n| self.txt.get(n.as_str()).is_none());
        let lookups = missing.filter_map(|name| {
            let query = Name::from_str_relaxed(name.as_str()).ok()?;
            Some(async move { (name, auth.resolver().txt_lookup(query).await) })
        });
        for (name, answer) in futures_util::future::join_all(lookups).await {
            let Err(NetError::Dns(DnsError::NoRecordsFound(none))) = answer else {
                continue;
            };
            let Some(ttl) = none.negative_ttl else {
                continue;
            };
            let absent =
                mail_auth::Error::Dns(mail_auth::DnsError::RecordNotFound(none.response_code));
            self.txt.insert(
                name.as_str().into(),
                Txt::Error(absent),
                Instant::now() + Duration::from_secs(ttl.into()),
            );
        }
    }
}

/// The names the DMARC tree walk (RFC 9989 §4.10) asks for `domain`, as mail-auth walks
/// them: the domain itself, then its parents from seven labels down to the top-level one.
pub fn dmarc_walk(domain: &str) -> Vec<String> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = domain.split('.').filter(|l| !l.is_empty()).collect();
    if labels.len() < 2 {
        return Vec::new();
    }
    let mut names = vec![format!("_dmarc.{}.", labels.join("."))];
    for count in (1..labels.len().min(8)).rev() {
        names.push(format!(
            "_dmarc.{}.",
            labels[labels.len() - count..].join(".")
        ));
    }
    names
}

/// Builds the resolver: the configured servers (UDP, then TCP for a truncated answer), or
/// `/etc/resolv.conf`; one attempt per look-up within `lookup_timeout`.
pub fn authenticator(config: &DnsConfig) -> Result<MessageAuthenticator, String> {
    let servers = config.server_addrs()?;
    let (resolver_config, mut opts) = if servers.is_empty() {
        mail_auth::hickory_resolver::system_conf::read_system_conf()
            .map_err(|e| format!("cannot read the system resolver configuration: {e}"))?
    } else {
        let name_servers = servers
            .iter()
            .map(|addr| {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
            })
            .collect();
        (
            ResolverConfig::from_name_servers(name_servers),
            ResolverOpts::default(),
        )
    };
    opts.timeout = config.lookup_timeout;
    opts.attempts = 1;
    MessageAuthenticator::new(resolver_config, opts)
        .map_err(|e| format!("cannot start the DNS resolver: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_dmarc_walk_names() {
        assert_eq!(
            dmarc_walk("Mail.Example.org"),
            [
                "_dmarc.mail.example.org.",
                "_dmarc.example.org.",
                "_dmarc.org."
            ]
        );
        assert!(dmarc_walk("localhost").is_empty());
        let long = dmarc_walk("a.b.c.d.e.f.g.h.i.example.com");
        assert_eq!(long.len(), 8);
        assert_eq!(long[1], "_dmarc.e.f.g.h.i.example.com.");
        assert_eq!(long[7], "_dmarc.com.");
    }

    #[test]
    fn entries_expire_and_the_cache_stays_bounded() {
        let cache: TtlCache<Box<str>, u32> = TtlCache::new(2);
        let later = Instant::now() + Duration::from_secs(60);
        cache.insert("a".into(), 1, later);
        cache.insert("b".into(), 2, Instant::now());
        assert_eq!(cache.get("a"), Some(1));
        assert_eq!(cache.get("b"), None, "expired");
        cache.insert("c".into(), 3, later);
        cache.insert("d".into(), 4, later);
        assert!(cache.lock().len() <= 2);
        assert_eq!(cache.get("d"), Some(4));
    }
}
