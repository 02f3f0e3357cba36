//! PROXY protocol v1/v2 from a trusted load balancer: the real client replaces the peer for
//! limits and records; an untrusted peer cannot use it; a trusted one must.

mod common;

use common::*;
use std::net::Ipv6Addr;
use std::time::Duration;

fn proxy_server(tweak: impl FnOnce(&mut replyd::Config)) -> TestServer {
    TestServer::start_with(|c| {
        c.server.proxy_protocol = true;
        c.limits.greeting_delay = Duration::from_millis(100);
        tweak(c);
    })
}

fn v2_tcp6(src: &str, port: u16) -> Vec<u8> {
    let mut v = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    v.extend_from_slice(&[0x21, 0x21, 0, 36]);
    v.extend_from_slice(&src.parse::<Ipv6Addr>().unwrap().octets());
    v.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
    v.extend_from_slice(&port.to_be_bytes());
    v.extend_from_slice(&25u16.to_be_bytes());
    v
}

fn proxied(srv: &TestServer, header: &[u8]) -> Raw {
    let mut c = Raw::connect(srv.addr);
    c.send(header);
    c
}

fn recorded(srv: &TestServer) -> (Option<String>, Option<String>, String) {
    let m = srv.incoming().pop().unwrap();
    (m.remote_ip, m.relay_ip, m.trace_header.unwrap_or_default())
}

#[test]
fn v1_header_names_the_client_of_record() {
    let srv = proxy_server(|_| {});
    let conv = srv.conversation("bob@example.org");
    let mut c = proxied(&srv, b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 25\r\n");
    let (code, text) = c.reply();
    assert_eq!(code, 220, "{text}");
    let (code, text) = c.send_mail(
        "bob@example.org",
        &[&conv.reply_address],
        &reply_message(&conv.reply_address, "p1@example.org", "via haproxy"),
    );
    assert_eq!(code, 250, "{text}");
    let (ip, relay, trace) = recorded(&srv);
    assert_eq!(ip.as_deref(), Some("192.0.2.7"));
    // The real client is not a trusted relay: nothing relayed to record.
    assert_eq!(relay, None);
    assert!(trace.contains("[192.0.2.7]"), "{trace}");
}

#[test]
fn v2_ipv6_client_is_held_to_the_per_ip_limit() {
    let srv = proxy_server(|c| c.limits.max_connections_per_ip = 1);
    let conv = srv.conversation("bob@example.org");
    let mut first = proxied(&srv, &v2_tcp6("2001:db8::7", 4000));
    assert_eq!(first.reply().0, 220);
    let mut second = proxied(&srv, &v2_tcp6("2001:db8::7", 4001));
    let (code, text) = second.reply();
    assert_eq!(code, 421, "{text}");
    assert!(text.starts_with("4.7.0"), "{text}");
    // Another real client through the same proxy is let in.
    let mut other = proxied(&srv, &v2_tcp6("2001:db8::8", 4002));
    assert_eq!(other.reply().0, 220);
    let (code, text) = first.send_mail(
        "bob@example.org",
        &[&conv.reply_address],
        &reply_message(&conv.reply_address, "p2@example.org", "v6"),
    );
    assert_eq!(code, 250, "{text}");
    let (ip, _, trace) = recorded(&srv);
    assert_eq!(ip.as_deref(), Some("2001:db8::7"));
    assert!(trace.contains("[IPv6:2001:db8::7]"), "{trace}");
}

#[test]
fn v2_local_keeps_the_proxy_as_peer() {
    let srv = proxy_server(|_| {});
    let conv = srv.conversation("bob@example.org");
    let mut c = proxied(&srv, b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00");
    assert_eq!(c.reply().0, 220);
    let (code, text) = c.send_mail(
        "bob@example.org",
        &[&conv.reply_address],
        &reply_message(&conv.reply_address, "p3@example.org", "health check"),
    );
    assert_eq!(code, 250, "{text}");
    assert_eq!(recorded(&srv).0.as_deref(), Some("127.0.0.1"));
}

#[test]
fn a_trusted_peer_without_a_valid_header_is_closed_without_a_greeting() {
    let srv = proxy_server(|_| {});
    for bad in [&b"EHLO client.test\r\n"[..], b"PROXY TCP4 nonsense\r\n"] {
        let mut c = proxied(&srv, bad);
        assert_eq!(c.reply().0, 0, "closed without a reply to {bad:?}");
    }
}

#[test]
fn an_untrusted_peer_cannot_send_a_header() {
    let srv = proxy_server(|c| c.server.trusted_relays = vec!["10.0.0.0/8".parse().unwrap()]);
    let mut c = proxied(&srv, b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 25\r\n");
    let (code, text) = c.reply();
    assert_eq!(code, 554, "talking before the greeting: {text}");
    assert!(text.starts_with("5.5.0"), "{text}");
}

#[test]
fn without_proxy_protocol_the_header_is_just_a_bad_command() {
    let srv = TestServer::start();
    let mut c = Raw::greeted(srv.addr);
    c.expect("PROXY TCP4 192.0.2.7 127.0.0.1 40000 25", 500, "5.5.1");
}
