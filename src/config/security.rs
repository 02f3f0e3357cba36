//! `[security]` (who may write into a conversation, and what an unverified reply does) and
//! `[dns]` (the resolver sender verification asks).
//!
//! They are one file because they are one feature: verification on direct delivery
//! ([`crate::auth`]) reads both, and nothing else reads `[dns]`.

use super::values::{de_duration, ser_duration};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// What an unverified reply, or one from outside the allowed senders, does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SenderPolicy {
    /// Store everything; verdicts are recorded, no flag is added.
    #[default]
    Record,
    /// Store it with the flag `unverified_sender`.
    Flag,
    /// As `flag`, and a DMARC fail under `p=reject` is refused with `550 5.7.1`.
    Strict,
}

/// `[security]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Verify SPF, DKIM, DMARC and ARC on direct delivery (not from trusted relays). On by
    /// default: where replyd is the MX itself (the main way in), a forged From is otherwise
    /// a blind spot; under the default `record` policy it only records, and mail through a
    /// front MTA on `trusted_relays` is not checked again.
    pub verify_senders: bool,
    /// Our id in the `Authentication-Results` we write; unset = `[server] hostname`.
    pub authserv_id: Option<String>,
    /// ARC sealers (domains) whose chain may vouch for a message a list or forwarder broke.
    pub trusted_arc_sealers: Vec<String>,
    pub sender_policy: SenderPolicy,
    /// At most this many messages per hour into one conversation; 0 = no limit.
    pub max_messages_per_hour: u32,
    /// At most this many distinct envelope senders per day into one conversation; 0 = no
    /// limit.
    pub max_senders_per_day: u32,
    /// How long a rotated-out reply address is still accepted (`replyd conversation rotate`).
    #[serde(deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub rotation_grace: Duration,
}

impl Default for SecurityConfig {
    fn default() -> SecurityConfig {
        SecurityConfig {
            verify_senders: true,
            authserv_id: None,
            trusted_arc_sealers: Vec::new(),
            sender_policy: SenderPolicy::Record,
            max_messages_per_hour: 0,
            max_senders_per_day: 0,
            rotation_grace: Duration::from_secs(7 * 86_400),
        }
    }
}

/// `[dns]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    /// Name servers, `"IP"` or `"IP:port"`; empty = the system resolver (`/etc/resolv.conf`).
    pub servers: Vec<String>,
    /// The time limit of one look-up.
    #[serde(deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub lookup_timeout: Duration,
    /// The time limit of all the look-ups for one message; past it, `temperror`.
    #[serde(deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub message_timeout: Duration,
    /// Entries kept in each answer cache (TXT, A, AAAA, MX, PTR).
    pub cache_entries: usize,
}

impl Default for DnsConfig {
    fn default() -> DnsConfig {
        DnsConfig {
            servers: Vec::new(),
            lookup_timeout: Duration::from_secs(5),
            message_timeout: Duration::from_secs(15),
            cache_entries: 10_000,
        }
    }
}

/// One `[dns] servers` entry: `"IP"` (port 53) or `"IP:port"` (`"[v6]:port"`).
pub fn parse_dns_server(entry: &str) -> Result<SocketAddr, String> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    entry
        .parse::<SocketAddr>()
        .map_err(|_| format!("`{entry}` is neither an IP address nor IP:port"))
}

impl DnsConfig {
    /// The configured servers, checked.
    pub fn server_addrs(&self) -> Result<Vec<SocketAddr>, String> {
        self.servers.iter().map(|s| parse_dns_server(s)).collect()
    }

    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        self.server_addrs().map_err(|e| ("dns.servers", e))?;
        if self.lookup_timeout.is_zero() {
            return Err(("dns.lookup_timeout", "must be more than 0".into()));
        }
        if self.message_timeout < self.lookup_timeout {
            return Err((
                "dns.message_timeout",
                "must be at least dns.lookup_timeout".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_with_and_without_port() {
        assert_eq!(parse_dns_server("127.0.0.1").unwrap().port(), 53);
        assert_eq!(parse_dns_server("127.0.0.1:5353").unwrap().port(), 5353);
        assert_eq!(parse_dns_server("[::1]:5353").unwrap().port(), 5353);
        assert!(parse_dns_server("ns.example").is_err());
    }
}
