//! What a trusted front MTA tells us about the message it relays.
//!
//! Behind Postfix or Exim, the client we talk to is the relay; the customer's mail server is
//! one hop further. The relay writes that hop into the `Received:` header it prepends
//! (Postfix `from HELO (HOST [IP])`, Exim `from HOST ([IP] helo=HELO)`), and, with an SPF/
//! DKIM/DMARC milter or ACL, its verdicts into `Authentication-Results` under its
//! authserv-id. Both are only believed from a `trusted_relays` client: anyone else could
//! write anything there. The relay must remove client-supplied `Authentication-Results`
//! with its own authserv-id (RFC 8601 §5), as OpenDMARC, rspamd and Exim's `authresults`
//! setups do.
//!
//! The headers are those the MIME parser read at extraction
//! ([`crate::message::TraceHeaders`]): the message is parsed anyway.

use crate::message::TraceHeaders;
use std::net::IpAddr;

/// The original client and the relay's verdicts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayFacts {
    /// From the topmost `Received:` header.
    pub client_ip: Option<IpAddr>,
    pub client_helo: Option<String>,
    /// From `Authentication-Results` with our authserv-id: each method's results in header
    /// order, space-separated (several DKIM signatures give several).
    pub spf: Option<String>,
    pub dkim: Option<String>,
    pub dmarc: Option<String>,
}

/// Reads the facts a trusted relay added to a message, from its trace headers.
pub fn inspect(trace: &TraceHeaders, authserv_id: Option<&str>) -> RelayFacts {
    let mut facts = RelayFacts::default();
    if let Some((ip, helo)) = trace.received.as_deref().and_then(received_from) {
        facts.client_ip = Some(ip);
        facts.client_helo = helo;
    }
    if let Some(id) = authserv_id {
        for value in &trace.authentication_results {
            auth_results(value, id, &mut facts);
        }
    }
    facts
}

/// The client in a `Received:` value: its IP address and the HELO name it gave.
///
/// Postfix: `from HELO (HOST [IP])`, `from HELO (unknown [IPv6:ADDR])`.
/// Exim: `from HOST ([IP]:PORT helo=HELO)`, `from [IP] (port=PORT helo=HELO)`,
/// `from HOST ([IP])` (the HELO was the host name), `from [IP]` (it was the address).
pub fn received_from(value: &str) -> Option<(IpAddr, Option<String>)> {
    let rest = value.trim_start();
    if rest.len() < 5 || !rest[..5].eq_ignore_ascii_case("from ") {
        return None;
    }
    let rest = rest[5..].trim_start();
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '(')
        .unwrap_or(rest.len());
    let first = &rest[..end];
    let rest = rest[end..].trim_start();
    let comment = rest
        .strip_prefix('(')
        .and_then(|c| c.find(')').map(|i| &c[..i]))
        .unwrap_or("");
    let ip = ip_literal(first).or_else(|| {
        comment
            .split_whitespace()
            .find_map(|w| w.starts_with('[').then(|| ip_literal(w)).flatten())
    })?;
    let helo = comment
        .split_whitespace()
        .find_map(|w| w.strip_prefix("helo="))
        .unwrap_or(first);
    let helo = (!helo.is_empty()).then(|| helo.to_string());
    Some((ip, helo))
}

/// `[192.0.2.1]`, `[IPv6:2001:db8::1]`, `[2001:db8::1]`, with an optional `:port` after.
fn ip_literal(word: &str) -> Option<IpAddr> {
    let inner = word.strip_prefix('[')?;
    let inner = &inner[..inner.find(']')?];
    let inner = match inner.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("IPv6:") => &inner[5..],
        _ => inner,
    };
    inner.parse().ok()
}

/// Adds the spf/dkim/dmarc results of one `Authentication-Results` value if it is ours.
fn auth_results(value: &str, authserv_id: &str, facts: &mut RelayFacts) {
    let text = strip_comments(value);
    let mut parts = text.split(';');
    let Some(id) = parts.next().and_then(|p| p.split_whitespace().next()) else {
        return;
    };
    if !id.eq_ignore_ascii_case(authserv_id) {
        return;
    }
    for resinfo in parts {
        let Some(first) = resinfo.split_whitespace().next() else {
            continue;
        };
        let Some((method, result)) = first.split_once('=') else {
            continue;
        };
        // `method/version=result`
        let method = method.split('/').next().unwrap_or(method).trim();
        let result = result.trim().to_ascii_lowercase();
        if result.is_empty() || !result.bytes().all(|b| b.is_ascii_alphanumeric()) {
            continue;
        }
        let slot = match method.to_ascii_lowercase().as_str() {
            "spf" => &mut facts.spf,
            "dkim" => &mut facts.dkim,
            "dmarc" => &mut facts.dmarc,
            _ => continue,
        };
        match slot {
            Some(s) => {
                s.push(' ');
                s.push_str(&result);
            }
            None => *slot = Some(result),
        }
    }
}

/// Removes RFC 5322 comments (nested parentheses, quoted pairs).
fn strip_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn postfix_forms() {
        assert_eq!(
            received_from("from mail.example.org (mail.example.org [192.0.2.1]) by mx.test (Postfix) with ESMTPS id 4Xk; Wed, 25 Nov 2026 10:00:00 +0000"),
            Some((ip("192.0.2.1"), Some("mail.example.org".into())))
        );
        assert_eq!(
            received_from("from client.test (unknown [IPv6:2001:db8::7]) by mx.test (Postfix) with ESMTP id 1"),
            Some((ip("2001:db8::7"), Some("client.test".into())))
        );
        assert_eq!(
            received_from("from client.test (localhost [127.0.0.1]:41234) by mx.test"),
            Some((ip("127.0.0.1"), Some("client.test".into())))
        );
        // Local submission: no client.
        assert_eq!(
            received_from("by mx.test (Postfix, from userid 0) id 7; Wed, 25 Nov 2026"),
            None
        );
    }

    #[test]
    fn exim_forms() {
        assert_eq!(
            received_from("from [127.0.0.1] (helo=client.test) by mx.test with esmtp (Exim 4.96)"),
            Some((ip("127.0.0.1"), Some("client.test".into())))
        );
        assert_eq!(
            received_from("from [192.0.2.1] (port=4123 helo=client.test) by mx.test with esmtp"),
            Some((ip("192.0.2.1"), Some("client.test".into())))
        );
        assert_eq!(
            received_from("from mail.example.org ([192.0.2.1]:4123 helo=other.example) by mx.test"),
            Some((ip("192.0.2.1"), Some("other.example".into())))
        );
        assert_eq!(
            received_from("from mail.example.org ([2001:db8::1]) by mx.test"),
            Some((ip("2001:db8::1"), Some("mail.example.org".into())))
        );
        assert_eq!(
            received_from("from [192.0.2.1] by mx.test with smtp"),
            Some((ip("192.0.2.1"), Some("[192.0.2.1]".into())))
        );
    }

    #[test]
    fn no_address_no_client() {
        assert_eq!(received_from("from client.test (unknown) by mx.test"), None);
        assert_eq!(received_from("from client.test ([not-an-ip]) by x"), None);
        assert_eq!(received_from(""), None);
    }

    #[test]
    fn topmost_received_and_our_auth_results() {
        let raw = b"Authentication-Results: mx.example.com;\r\n\tspf=pass (sender SPF authorized) smtp.mailfrom=example.org;\r\n\tdkim=pass header.d=example.org;\r\n\tdkim=fail header.d=other.example\r\n\
Authentication-Results: mx.example.com 1; dmarc=PASS (p=none) header.from=example.org\r\n\
Authentication-Results: forged.example; spf=fail; dmarc=fail\r\n\
Received: from client.test (unknown [192.0.2.9])\r\n\tby mx.example.com (Postfix) with ESMTP id 1\r\n\
Received: from inner.test (inner [10.0.0.1]) by client.test\r\n\
Authentication-Results: mx.example.com; dmarc=fail\r\n\
Subject: x\r\n\r\nReceived: from body.test (b [192.0.2.77])\r\n";
        let trace = crate::message::extract(raw, &Default::default()).trace;
        let f = inspect(&trace, Some("MX.example.com"));
        assert_eq!(f.client_ip, Some(ip("192.0.2.9")));
        assert_eq!(f.client_helo.as_deref(), Some("client.test"));
        assert_eq!(f.spf.as_deref(), Some("pass"));
        assert_eq!(f.dkim.as_deref(), Some("pass fail"));
        // Every A-R with our id counts (a forged one is the relay's job to remove).
        assert_eq!(f.dmarc.as_deref(), Some("pass fail"));
        let f = inspect(&trace, None);
        assert_eq!((f.spf, f.dkim, f.dmarc), (None, None, None));
        assert_eq!(f.client_ip, Some(ip("192.0.2.9")));
    }

    #[test]
    fn no_headers() {
        let facts = |raw: &[u8]| {
            inspect(
                &crate::message::extract(raw, &Default::default()).trace,
                Some("x"),
            )
        };
        assert_eq!(facts(b""), RelayFacts::default());
        assert_eq!(
            facts(b"\r\nReceived: from a ([1.2.3.4])\r\n"),
            RelayFacts::default()
        );
    }
}
