//! Our `Received:` trace header (RFC 5321 §4.4): who handed us the message, how, and for
//! whom. Client-supplied words are cleaned, so a HELO cannot add header lines.

use super::Arrival;
use std::net::IpAddr;

/// Our trace header (RFC 5321 §4.4), with its CRLF. Written into one buffer: it is built
/// for every message.
pub(super) fn received_header(
    arrival: &Arrival<'_>,
    hostname: &str,
    id: &str,
    single_recipient: Option<&str>,
    now: i64,
) -> String {
    use std::fmt::Write as _;
    // Client-supplied text loses control characters and parentheses (comment syntax).
    let push_clean = |h: &mut String, s: &str| {
        h.extend(
            s.chars()
                .filter(|c| !c.is_control() && *c != '(' && *c != ')'),
        );
    };
    let mut h = String::with_capacity(160 + hostname.len());
    h.push_str("Received: ");
    if arrival.helo.is_some() || arrival.remote_ip.is_some() {
        h.push_str("from ");
        push_clean(&mut h, arrival.helo.unwrap_or("unknown"));
        if let Some(ip) = arrival.remote_ip {
            // Writing to a String cannot fail.
            let _ = match ip {
                IpAddr::V4(v4) => write!(h, " ([{v4}])"),
                IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                    Some(v4) => write!(h, " ([{v4}])"),
                    None => write!(h, " ([IPv6:{v6}])"),
                },
            };
        }
        h.push_str("\r\n\t");
    }
    let _ = write!(
        h,
        "by {hostname} (replyd) with {} id {id}",
        arrival.way_in.trace_name()
    );
    if let Some(rcpt) = single_recipient {
        h.push_str("\r\n\tfor <");
        push_clean(&mut h, rcpt);
        h.push('>');
    }
    let _ = write!(h, "; {}\r\n", crate::time::rfc5322(now));
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::WayIn;

    fn arrival<'a>(helo: Option<&'a str>, ip: Option<&str>) -> Arrival<'a> {
        Arrival {
            helo,
            remote_ip: ip.map(|s| s.parse().unwrap()),
            way_in: WayIn::Smtp {
                esmtp: true,
                tls: false,
            },
            trusted_relay: false,
        }
    }

    #[test]
    fn received_header_names_client_server_and_recipient() {
        let at = 951_782_400; // Tue, 29 Feb 2000 00:00:00 +0000
        let h = received_header(
            &arrival(Some("mail.(evil)\r\nX: y"), Some("192.0.2.7")),
            "mx.example.com",
            "abc123",
            Some("reply+ab@support.example.com"),
            at,
        );
        assert_eq!(
            h,
            "Received: from mail.evilX: y ([192.0.2.7])\r\n\tby mx.example.com (replyd) with \
             ESMTP id abc123\r\n\tfor <reply+ab@support.example.com>; Tue, 29 Feb 2000 \
             00:00:00 +0000\r\n"
        );
        let v6 = received_header(&arrival(None, Some("2001:db8::1")), "mx", "i", None, at);
        assert_eq!(
            v6,
            "Received: from unknown ([IPv6:2001:db8::1])\r\n\tby mx (replyd) with ESMTP id i; \
             Tue, 29 Feb 2000 00:00:00 +0000\r\n"
        );
        let mapped = received_header(
            &arrival(Some("h"), Some("::ffff:10.0.0.1")),
            "mx",
            "i",
            None,
            at,
        );
        assert!(
            mapped.starts_with("Received: from h ([10.0.0.1])\r\n"),
            "{mapped}"
        );
        let local = received_header(&arrival(None, None), "mx", "i", None, at);
        assert_eq!(
            local,
            "Received: by mx (replyd) with ESMTP id i; Tue, 29 Feb 2000 00:00:00 +0000\r\n"
        );
    }
}
