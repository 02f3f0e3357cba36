//! The value types of the configuration: networks in CIDR notation, durations (`"30s"`,
//! `"5m"`, `"1d"`) and sizes (`"25MiB"`), each parsed with an error that says what was
//! expected, and written back the same way (`replyd check-config` prints them).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

/// An IP network in CIDR notation (`127.0.0.0/8`, `::1/128`, or a bare address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    pub(super) fn any() -> Network {
        Network {
            addr: IpAddr::from([0, 0, 0, 0]),
            prefix: 0,
        }
    }

    /// Whether `ip` is inside this network (IPv4-mapped IPv6 counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - self.prefix as u32).unwrap_or(0);
                (u32::from(net) & mask) == (u32::from(ip) & mask)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - self.prefix as u32).unwrap_or(0);
                (u128::from(net) & mask) == (u128::from(ip) & mask)
            }
            _ => false,
        }
    }
}

impl FromStr for Network {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an IP network like 10.0.0.0/8"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?} has a prefix length outside 0..={max}"))?,
            None => max,
        };
        Ok(Network { addr, prefix })
    }
}

impl<'de> Deserialize<'de> for Network {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for Network {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrText {
    Num(i64),
    Text(String),
}

/// A duration: whole seconds (`30`) or text with a unit (`"500ms"`, `"30s"`, `"5m"`, `"1h"`).
pub(super) fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    match NumOrText::deserialize(d)? {
        NumOrText::Num(n) if n >= 0 => Ok(Duration::from_secs(n as u64)),
        NumOrText::Num(n) => Err(serde::de::Error::custom(format!(
            "{n} is negative; expected seconds or text like \"30s\""
        ))),
        NumOrText::Text(t) => parse_duration(&t).map_err(serde::de::Error::custom),
    }
}

/// A duration as text in its largest whole unit (`"5m"`, `"1500ms"`).
pub(super) fn ser_duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    let ms = d.as_millis();
    let text = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1000, "s"),
    ]
    .iter()
    .find(|(unit, _)| ms > 0 && ms.is_multiple_of(*unit))
    .map_or_else(
        || format!("{ms}ms"),
        |(unit, name)| format!("{}{name}", ms / unit),
    );
    s.serialize_str(&text)
}

/// Parses `"500ms"`, `"30s"`, `"5m"`, `"1h"` or a bare number of seconds.
pub fn parse_duration(t: &str) -> Result<Duration, String> {
    let t = t.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{t:?} is not a duration like \"30s\", \"5m\" or \"500ms\""))?;
    let ms = match unit.trim() {
        "ms" => Some(n),
        "" | "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => None,
    }
    .ok_or_else(|| format!("{t:?} is not a duration like \"30s\", \"5m\" or \"500ms\""))?;
    Ok(Duration::from_millis(ms))
}

/// A size: bytes (`26214400`) or text with a unit (`"25MiB"`, `"64KiB"`, `"1GiB"`, `"10MB"`).
pub(super) fn de_size<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    match NumOrText::deserialize(d)? {
        NumOrText::Num(n) if n >= 0 => Ok(n as usize),
        NumOrText::Num(n) => Err(serde::de::Error::custom(format!(
            "{n} is negative; expected bytes or text like \"25MiB\""
        ))),
        NumOrText::Text(t) => parse_size(&t).map_err(serde::de::Error::custom),
    }
}

/// A size as text in its largest whole binary unit (`"25MiB"`), or bytes.
pub(super) fn ser_size<S: Serializer>(n: &usize, s: S) -> Result<S::Ok, S::Error> {
    let text = [(1usize << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        .iter()
        .find(|(unit, _)| *n > 0 && n.is_multiple_of(*unit))
        .map_or_else(
            || n.to_string(),
            |(unit, name)| format!("{}{name}", n / unit),
        );
    s.serialize_str(&text)
}

/// Parses `"25MiB"`, `"64KiB"`, `"10MB"`, `"1GiB"` or a bare number of bytes.
pub fn parse_size(t: &str) -> Result<usize, String> {
    let t = t.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || format!("{t:?} is not a size like \"25MiB\", \"64KiB\" or 1048576");
    let n: usize = num.parse().map_err(|_| bad())?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1024,
        "m" | "mb" => 1_000_000,
        "mib" => 1024 * 1024,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1024 * 1024 * 1024,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}
