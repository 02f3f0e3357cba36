//! The PROXY protocol (HAProxy, v1 text and v2 binary): a load balancer in front of us tells
//! who the real client is, so limits, logs and records name the client and not the proxy.
//!
//! Our own small parser rather than a crate: the header is a few dozen bytes, it is read
//! before anything else a (trusted) peer says, and every length in it is bounded here. It
//! is a pure function over the bytes received so far, so it can be tested split at every
//! byte, and it never consumes a byte past the header.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The v2 signature.
const V2_SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// A v1 line is at most 107 bytes with its CRLF (the spec's limit).
const V1_MAX: usize = 107;
/// The largest v2 header we accept (16 + addresses + TLVs); HAProxy's are far smaller.
const V2_MAX: usize = 4096;

/// What the proxy said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Header {
    /// A proxied connection from `source` (the real client) to `destination`.
    Proxied {
        source: SocketAddr,
        destination: SocketAddr,
    },
    /// The proxy's own connection (health check), or a family we do not use (v1 `UNKNOWN`,
    /// v2 `LOCAL`, UNIX, unspecified): the peer address stays.
    Local,
}

/// A header that is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProxyError(pub &'static str);

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad PROXY protocol header: {}", self.0)
    }
}

impl std::error::Error for ProxyError {}

/// Parses a header at the start of `buf`: `Ok(None)` means "need more bytes", `Ok(Some)`
/// gives the header and its length.
pub(crate) fn parse(buf: &[u8]) -> Result<Option<(Header, usize)>, ProxyError> {
    if buf.is_empty() {
        return Ok(None);
    }
    let v1 = b"PROXY ";
    if buf[0] == b'P' {
        let n = buf.len().min(v1.len());
        if buf[..n] != v1[..n] {
            return Err(ProxyError("neither a v1 nor a v2 signature"));
        }
        return parse_v1(buf);
    }
    let n = buf.len().min(V2_SIG.len());
    if buf[..n] != V2_SIG[..n] {
        return Err(ProxyError("neither a v1 nor a v2 signature"));
    }
    parse_v2(buf)
}

fn parse_v1(buf: &[u8]) -> Result<Option<(Header, usize)>, ProxyError> {
    let window = &buf[..buf.len().min(V1_MAX)];
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        if buf.len() >= V1_MAX {
            return Err(ProxyError("v1 line longer than 107 bytes"));
        }
        return Ok(None);
    };
    if lf == 0 || buf[lf - 1] != b'\r' {
        return Err(ProxyError("v1 line not ended by CRLF"));
    }
    let line = std::str::from_utf8(&buf[..lf - 1]).map_err(|_| ProxyError("v1 line not ASCII"))?;
    let mut words = line.split(' ');
    let _proxy = words.next();
    let header = match words.next() {
        Some("UNKNOWN") => Header::Local,
        Some(family @ ("TCP4" | "TCP6")) => {
            let mut next = || words.next().ok_or(ProxyError("v1 line too short"));
            let src: IpAddr = next()?
                .parse()
                .map_err(|_| ProxyError("v1 source address"))?;
            let dst: IpAddr = next()?
                .parse()
                .map_err(|_| ProxyError("v1 destination address"))?;
            let sport = port(next()?)?;
            let dport = port(next()?)?;
            if words.next().is_some() {
                return Err(ProxyError("v1 line has extra words"));
            }
            let v4 = family == "TCP4";
            if src.is_ipv4() != v4 || dst.is_ipv4() != v4 {
                return Err(ProxyError("v1 address does not match its family"));
            }
            Header::Proxied {
                source: SocketAddr::new(src, sport),
                destination: SocketAddr::new(dst, dport),
            }
        }
        _ => return Err(ProxyError("v1 family is not TCP4, TCP6 or UNKNOWN")),
    };
    Ok(Some((header, lf + 1)))
}

/// A v1 port: decimal, no sign, no leading zero.
fn port(s: &str) -> Result<u16, ProxyError> {
    let ok = !s.is_empty()
        && s.len() <= 5
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if !ok {
        return Err(ProxyError("v1 port"));
    }
    s.parse().map_err(|_| ProxyError("v1 port"))
}

fn parse_v2(buf: &[u8]) -> Result<Option<(Header, usize)>, ProxyError> {
    if buf.len() < 16 {
        return Ok(None);
    }
    let ver_cmd = buf[12];
    if ver_cmd >> 4 != 2 {
        return Err(ProxyError("v2 version is not 2"));
    }
    let local = match ver_cmd & 0x0f {
        0 => true,
        1 => false,
        _ => return Err(ProxyError("v2 command is neither LOCAL nor PROXY")),
    };
    let family = buf[13];
    let len = u16::from_be_bytes([buf[14], buf[15]]) as usize;
    let total = 16 + len;
    if total > V2_MAX {
        return Err(ProxyError("v2 header too long"));
    }
    if buf.len() < total {
        return Ok(None);
    }
    let body = &buf[16..total];
    if local {
        return Ok(Some((Header::Local, total)));
    }
    let header = match family {
        // TCP over IPv4: source, destination, source port, destination port.
        0x11 => {
            if body.len() < 12 {
                return Err(ProxyError("v2 IPv4 addresses truncated"));
            }
            let ip = |at: usize| {
                IpAddr::V4(Ipv4Addr::new(
                    body[at],
                    body[at + 1],
                    body[at + 2],
                    body[at + 3],
                ))
            };
            let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
            Header::Proxied {
                source: SocketAddr::new(ip(0), port(8)),
                destination: SocketAddr::new(ip(4), port(10)),
            }
        }
        0x21 => {
            if body.len() < 36 {
                return Err(ProxyError("v2 IPv6 addresses truncated"));
            }
            let ip = |at: usize| {
                let mut o = [0u8; 16];
                o.copy_from_slice(&body[at..at + 16]);
                IpAddr::V6(Ipv6Addr::from(o))
            };
            let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
            Header::Proxied {
                source: SocketAddr::new(ip(0), port(32)),
                destination: SocketAddr::new(ip(16), port(34)),
            }
        }
        // UNSPEC, UDP, UNIX: nothing we could use as a client address (the spec lets a
        // receiver treat them as LOCAL).
        0x00 | 0x12 | 0x22 | 0x31 | 0x32 => Header::Local,
        _ => return Err(ProxyError("v2 unknown address family")),
    };
    Ok(Some((header, total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `input` fed one more byte at a time: every strict prefix needs more bytes (or
    /// already fails), and the whole gives the same result.
    fn parse_split(input: &[u8]) -> Result<Option<(Header, usize)>, ProxyError> {
        let whole = parse(input);
        for cut in 0..input.len() {
            match parse(&input[..cut]) {
                Ok(None) => {}
                Err(e) => {
                    assert_eq!(Err(e.clone()), whole, "prefix {cut} failed differently");
                    return whole;
                }
                Ok(Some(h)) => {
                    assert_eq!(Ok(Some(h)), whole, "prefix {cut} parsed differently");
                    return whole;
                }
            }
        }
        whole
    }

    fn v2(cmd: u8, family: u8, body: &[u8]) -> Vec<u8> {
        let mut v = V2_SIG.to_vec();
        v.push(0x20 | cmd);
        v.push(family);
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn v1_tcp4() {
        let input = b"PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\r\nEHLO x\r\n";
        let (h, used) = parse_split(input).unwrap().unwrap();
        assert_eq!(used, input.len() - 8, "stops at the end of the header");
        assert_eq!(
            h,
            Header::Proxied {
                source: "192.0.2.7:56324".parse().unwrap(),
                destination: "198.51.100.1:25".parse().unwrap()
            }
        );
    }

    #[test]
    fn v1_tcp6_and_unknown() {
        let (h, _) = parse_split(b"PROXY TCP6 2001:db8::7 2001:db8::1 4000 25\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            h,
            Header::Proxied {
                source: "[2001:db8::7]:4000".parse().unwrap(),
                destination: "[2001:db8::1]:25".parse().unwrap()
            }
        );
        let (h, used) = parse_split(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((h, used), (Header::Local, 35));
        assert_eq!(
            parse(b"PROXY UNKNOWN\r\n").unwrap().unwrap().0,
            Header::Local
        );
    }

    #[test]
    fn v1_refusals() {
        for bad in [
            &b"PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\n"[..],
            b"PROXY TCP4 2001:db8::7 198.51.100.1 1 25\r\n",
            b"PROXY TCP4 192.0.2.7 198.51.100.1 65536 25\r\n",
            b"PROXY TCP4 192.0.2.7 198.51.100.1 025 25\r\n",
            b"PROXY TCP4 192.0.2.7 198.51.100.1 -1 25\r\n",
            b"PROXY TCP4 192.0.2.7 198.51.100.1 1\r\n",
            b"PROXY TCP4 192.0.2.7 198.51.100.1 1 2 3\r\n",
            b"PROXY UDP4 192.0.2.7 198.51.100.1 1 2\r\n",
            b"PROXY  TCP4 192.0.2.7 198.51.100.1 1 2\r\n",
            b"PROXZ TCP4\r\n",
            b"EHLO client.test\r\n",
            b"\r\n\r\nX",
        ] {
            assert!(
                parse_split(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let mut long = b"PROXY UNKNOWN ".to_vec();
        long.resize(200, b'x');
        assert!(parse(&long).is_err(), "no CRLF within 107 bytes");
        assert_eq!(parse(&long[..106]), Ok(None));
    }

    #[test]
    fn v2_ipv4_with_tlv() {
        let mut body = vec![192, 0, 2, 7, 198, 51, 100, 1];
        body.extend_from_slice(&56324u16.to_be_bytes());
        body.extend_from_slice(&25u16.to_be_bytes());
        body.extend_from_slice(&[0x04, 0x00, 0x02, b'h', b'i']); // a NOOP TLV, skipped
        let mut input = v2(1, 0x11, &body);
        let header_len = input.len();
        input.extend_from_slice(b"EHLO x\r\n");
        let (h, used) = parse_split(&input).unwrap().unwrap();
        assert_eq!(used, header_len);
        assert_eq!(
            h,
            Header::Proxied {
                source: "192.0.2.7:56324".parse().unwrap(),
                destination: "198.51.100.1:25".parse().unwrap()
            }
        );
    }

    #[test]
    fn v2_ipv6() {
        let src: Ipv6Addr = "2001:db8::7".parse().unwrap();
        let dst: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let mut body = src.octets().to_vec();
        body.extend_from_slice(&dst.octets());
        body.extend_from_slice(&4000u16.to_be_bytes());
        body.extend_from_slice(&25u16.to_be_bytes());
        let (h, used) = parse_split(&v2(1, 0x21, &body)).unwrap().unwrap();
        assert_eq!(used, 16 + 36);
        assert_eq!(
            h,
            Header::Proxied {
                source: "[2001:db8::7]:4000".parse().unwrap(),
                destination: "[2001:db8::1]:25".parse().unwrap()
            }
        );
    }

    #[test]
    fn v2_local_and_unspec() {
        assert_eq!(
            parse_split(&v2(0, 0x00, &[])),
            Ok(Some((Header::Local, 16)))
        );
        // LOCAL ignores whatever addresses follow.
        assert_eq!(
            parse_split(&v2(0, 0x11, &[0; 12])),
            Ok(Some((Header::Local, 28)))
        );
        assert_eq!(
            parse_split(&v2(1, 0x31, &[0; 216])),
            Ok(Some((Header::Local, 232)))
        );
    }

    #[test]
    fn v2_refusals() {
        let mut bad_version = v2(1, 0x11, &[0; 12]);
        bad_version[12] = 0x11;
        assert!(parse_split(&bad_version).is_err());
        let mut bad_command = v2(1, 0x11, &[0; 12]);
        bad_command[12] = 0x22;
        assert!(parse_split(&bad_command).is_err());
        assert!(parse_split(&v2(1, 0x11, &[0; 11])).is_err(), "short IPv4");
        assert!(parse_split(&v2(1, 0x21, &[0; 35])).is_err(), "short IPv6");
        assert!(
            parse_split(&v2(1, 0x41, &[0; 12])).is_err(),
            "unknown family"
        );
        let mut huge = V2_SIG.to_vec();
        huge.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        assert!(
            parse(&huge).is_err(),
            "a length over the bound fails at once"
        );
        let mut wrong_sig = V2_SIG.to_vec();
        wrong_sig[5] = b'X';
        assert!(parse_split(&wrong_sig).is_err());
    }
}
