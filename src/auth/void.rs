//! The SPF void-lookup limit (RFC 7208 §4.6.4): more than two look-ups answered with no
//! records or NXDOMAIN make the check `permerror`. mail-auth does not count them, so one
//! check's view of the shared caches ([`Watched`]) notes each look-up mail-auth makes
//! through them.
//!
//! mail-auth asks the cache first and, for an answer with records, stores it right after
//! the look-up; a look-up that fails (no records, NXDOMAIN, or a DNS error, which ends the
//! check as `temperror`) stores nothing. So in a check that did not end in `temperror`, a
//! miss not followed at once by its own insert was a void look-up. The one exception is
//! `exists`: it asks the A and the AAAA cache for one name, then resolves both without
//! storing either answer. When later look-ups follow, it did not match, so it was void;
//! when it is the check's last look-up, whether it matched is not visible here, and it is
//! not counted (the limit is never applied on a guess).

use super::dns::TtlCache;
use mail_auth::{ResolverCache, MX};
use std::borrow::Borrow;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::Instant;

/// At most this many void look-ups in one check (RFC 7208 §4.6.4).
pub const MAX_VOID_LOOKUPS: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ipv4,
    Ipv6,
    Mx,
    Ptr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Hit(Kind, u64),
    Miss(Kind, u64),
    Insert(Kind, u64),
}

/// The look-ups of one check, in order.
#[derive(Default)]
pub struct VoidLog {
    events: Mutex<Vec<Event>>,
}

impl VoidLog {
    fn push(&self, event: Event) {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event);
    }

    /// Void look-ups in this check.
    pub fn voids(&self) -> usize {
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        count_voids(&events)
    }

    /// More than [`MAX_VOID_LOOKUPS`] void look-ups.
    pub fn exceeded(&self) -> bool {
        self.voids() > MAX_VOID_LOOKUPS
    }
}

fn count_voids(events: &[Event]) -> usize {
    let mut voids = 0;
    let mut i = 0;
    while i < events.len() {
        let next = events.get(i + 1).copied();
        match events[i] {
            // `exists`: the A cache, then the AAAA cache, for one name.
            Event::Miss(Kind::Ipv4, name) if matches!(next, Some(Event::Miss(Kind::Ipv6, n) | Event::Hit(Kind::Ipv6, n)) if n == name) =>
            {
                if matches!(next, Some(Event::Miss(..))) && i + 2 < events.len() {
                    voids += 1;
                }
                i += 2;
                continue;
            }
            Event::Miss(kind, name) => {
                if next != Some(Event::Insert(kind, name)) {
                    voids += 1;
                }
            }
            Event::Hit(..) | Event::Insert(..) => {}
        }
        i += 1;
    }
    voids
}

fn hash_of<Q: Hash + ?Sized>(name: &Q) -> u64 {
    let mut h = DefaultHasher::new();
    name.hash(&mut h);
    h.finish()
}

/// One check's view of a shared cache: answers from it, and notes each question.
pub struct Watched<'a, K, V> {
    cache: &'a TtlCache<K, V>,
    kind: Kind,
    log: &'a VoidLog,
}

impl<'a> Watched<'a, Box<str>, mail_auth::RecordSet<Ipv4Addr>> {
    pub fn ipv4(
        cache: &'a TtlCache<Box<str>, mail_auth::RecordSet<Ipv4Addr>>,
        log: &'a VoidLog,
    ) -> Self {
        Watched {
            cache,
            kind: Kind::Ipv4,
            log,
        }
    }
}

impl<'a> Watched<'a, Box<str>, mail_auth::RecordSet<Ipv6Addr>> {
    pub fn ipv6(
        cache: &'a TtlCache<Box<str>, mail_auth::RecordSet<Ipv6Addr>>,
        log: &'a VoidLog,
    ) -> Self {
        Watched {
            cache,
            kind: Kind::Ipv6,
            log,
        }
    }
}

impl<'a> Watched<'a, Box<str>, mail_auth::RecordSet<MX>> {
    pub fn mx(cache: &'a TtlCache<Box<str>, mail_auth::RecordSet<MX>>, log: &'a VoidLog) -> Self {
        Watched {
            cache,
            kind: Kind::Mx,
            log,
        }
    }
}

impl<'a> Watched<'a, IpAddr, mail_auth::RecordSet<Box<str>>> {
    pub fn ptr(
        cache: &'a TtlCache<IpAddr, mail_auth::RecordSet<Box<str>>>,
        log: &'a VoidLog,
    ) -> Self {
        Watched {
            cache,
            kind: Kind::Ptr,
            log,
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> ResolverCache<K, V> for Watched<'_, K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let found = self.cache.get(name);
        let h = hash_of(name);
        self.log.push(match found {
            Some(_) => Event::Hit(self.kind, h),
            None => Event::Miss(self.kind, h),
        });
        found
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.cache.remove(name)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        self.log.push(Event::Insert(self.kind, hash_of::<K>(&key)));
        self.cache.insert(key, value, valid_until);
    }
}

#[cfg(test)]
mod tests {
    use super::Event::*;
    use super::Kind::*;
    use super::*;

    #[test]
    fn misses_without_their_insert_are_void() {
        // a:found, a:void, mx:found with a void exchange, then a match.
        let events = [
            Miss(Ipv4, 1),
            Insert(Ipv4, 1),
            Miss(Ipv4, 2),
            Miss(Mx, 3),
            Insert(Mx, 3),
            Miss(Ipv4, 4),
            Hit(Ipv4, 1),
        ];
        assert_eq!(count_voids(&events), 2);
    }

    #[test]
    fn exists_counts_only_when_later_look_ups_show_it_did_not_match() {
        assert_eq!(
            count_voids(&[Miss(Ipv4, 1), Miss(Ipv6, 1), Miss(Ipv4, 2)]),
            2
        );
        assert_eq!(count_voids(&[Miss(Ipv4, 1), Miss(Ipv6, 1)]), 0);
        assert_eq!(count_voids(&[Miss(Ipv4, 1), Hit(Ipv6, 1), Hit(Ipv4, 2)]), 0);
        // An `a` void for a name, then `exists` for the same name.
        assert_eq!(
            count_voids(&[Miss(Ipv4, 1), Miss(Ipv4, 1), Miss(Ipv6, 1), Hit(Ipv4, 2)]),
            2
        );
    }
}
