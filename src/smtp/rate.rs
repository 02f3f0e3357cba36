//! Per-client-IP rates: connections and messages per minute.
//!
//! A concurrency limit alone does not stop a client that opens and closes connections as
//! fast as it can, or sends thousands of messages down one. These counters do, per minute
//! (on by default: `limits.max_connection_rate_per_ip`, `limits.max_message_rate_per_ip`,
//! whose defaults say why they are what they are); clients on `trusted_relays` (a front MTA
//! carrying everyone's mail) are never counted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Past this many tracked addresses, expired entries are swept (memory stays bounded).
const SWEEP_AT: usize = 10_000;

/// Events per IP in fixed one-minute windows.
pub(crate) struct RateLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    /// `per_minute` = 0 means unlimited.
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one event for `ip`; `false` when it is over the limit.
    pub fn allow(&self, ip: IpAddr) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let now = Instant::now();
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= SWEEP_AT {
            map.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = map.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1 <= self.per_minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_ip() {
        let r = RateLimiter::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(r.allow(a));
        assert!(r.allow(a));
        assert!(!r.allow(a));
        assert!(r.allow(b));
        assert!(RateLimiter::new(0).allow(a));
    }
}
