//! SPF's own rules in sender verification (issue 22), against a real DNS server (NSD): the
//! RFC 7208 §4.6.4 limits (10 DNS mechanisms, 2 void look-ups) and the check that starts at
//! the transaction's first accepted recipient, before the data.

mod common;

use common::dns::{message, need_dns, send, server, stored, TestDns};
use common::*;
use replyd::config::SenderPolicy;
use std::time::Instant;

/// Ten `a:` mechanisms, or eleven; all of a name that exists but does not match.
fn mechanisms(n: usize) -> String {
    let mut record = String::from("v=spf1");
    for _ in 0..n {
        record.push_str(" a:other.test");
    }
    record.push_str(" ip4:127.0.0.1 -all");
    record
}

fn zone() -> String {
    format!(
        "other IN A 192.0.2.1\n\
         mxhost IN MX 10 other.test.\n\
         has-txt IN TXT \"not an address\"\n\
         ten IN TXT \"{}\"\n\
         eleven IN TXT \"{}\"\n\
         void-two IN TXT \"v=spf1 a:nx1.test mx:nx2.test ip4:127.0.0.1 -all\"\n\
         void-three IN TXT \"v=spf1 a:nx1.test mx:nx2.test a:has-txt.test ip4:127.0.0.1 -all\"\n\
         void-exists IN TXT \"v=spf1 exists:nx1.test a:nx2.test a:nx3.test ip4:127.0.0.1 -all\"\n\
         void-repeated IN TXT \"v=spf1 a:nx1.test a:nx1.test a:nx1.test ip4:127.0.0.1 -all\"\n\
         found IN TXT \"v=spf1 a:nx1.test a:other.test mx:mxhost.test exists:other.test -all\"\n\
         early IN TXT \"v=spf1 ip4:127.0.0.1 -all\"\n\
         _dmarc.early IN TXT \"v=DMARC1; p=none\"\n",
        mechanisms(10),
        mechanisms(11)
    )
}

/// Sends a message with MAIL FROM and From at `domain`.test; its stored SPF verdict.
fn spf_of(srv: &TestServer, conv: &replyd::store::Conversation, domain: &str) -> String {
    let from = format!("bob@{domain}.test");
    let (code, text) = send(
        srv,
        &from,
        &conv.reply_address,
        &message(&from, &conv.reply_address, domain),
    );
    assert_eq!(code, 250, "{domain}: {text}");
    stored(srv, conv, domain).spf.unwrap_or_default()
}

#[test]
fn ten_dns_mechanisms_are_evaluated_and_the_eleventh_is_permerror() {
    if !need_dns() {
        return;
    }
    let dns = TestDns::start(&zone());
    let srv = server(dns.addr, SenderPolicy::Record, &[]);
    let conv = srv.conversation("alice@example.org");
    assert_eq!(spf_of(&srv, &conv, "ten"), "pass smtp.mailfrom=ten.test");
    assert_eq!(
        spf_of(&srv, &conv, "eleven"),
        "permerror smtp.mailfrom=eleven.test"
    );
}

#[test]
fn more_than_two_void_lookups_are_permerror() {
    if !need_dns() {
        return;
    }
    let dns = TestDns::start(&zone());
    let srv = server(dns.addr, SenderPolicy::Record, &[]);
    let conv = srv.conversation("alice@example.org");
    for (domain, word) in [
        // NXDOMAIN for an A and for an MX look-up: two voids, still evaluated.
        ("void-two", "pass"),
        // A third: a name that exists with no address (NODATA) is void too.
        ("void-three", "permerror"),
        // `exists` without an address, then two more.
        ("void-exists", "permerror"),
        // The same void name asked three times is three void look-ups.
        ("void-repeated", "permerror"),
        // Look-ups with answers (A, MX, exists) are not void; one void is allowed.
        ("found", "pass"),
    ] {
        assert_eq!(
            spf_of(&srv, &conv, domain),
            format!("{word} smtp.mailfrom={domain}.test"),
            "{domain}"
        );
    }
    // A second round reads the answers from the caches: the same verdicts.
    let conv = srv.conversation("carol@example.org");
    assert_eq!(
        spf_of(&srv, &conv, "void-three"),
        "permerror smtp.mailfrom=void-three.test"
    );
    assert_eq!(
        spf_of(&srv, &conv, "found"),
        "pass smtp.mailfrom=found.test"
    );
}

/// SPF is checked while the data is still on its way: a name server that answers the
/// transaction's SPF look-ups and then stops answering before the end of the data gives
/// an SPF `pass` (checked before) beside a DMARC `temperror` (asked after); the session
/// still answers within the time limit per message.
#[test]
fn spf_is_checked_before_the_data_ends() {
    if !need_dns() {
        return;
    }
    let dns = TestDns::start(&zone());
    let srv = server(dns.addr, SenderPolicy::Record, &[]);
    let conv = srv.conversation("alice@example.org");
    let from = "bob@early.test";
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO client.test", 250, "");
    c.expect(&format!("MAIL FROM:<{from}>"), 250, "2.1.0");
    c.expect(&format!("RCPT TO:<{}>", conv.reply_address), 250, "2.1.5");
    // The check runs now: give NSD time to answer it, then stop NSD.
    std::thread::sleep(Duration::from_millis(1500));
    dns.pause(true);
    c.expect("DATA", 354, "");
    c.send(&message(from, &conv.reply_address, "early"));
    let started = Instant::now();
    let (code, text) = c.cmd(".");
    let waited = started.elapsed();
    dns.pause(false);
    assert_eq!(code, 250, "{text}");
    // The message's time limit is 2 s (common::dns::server_with).
    assert!(waited < Duration::from_secs(4), "answered after {waited:?}");
    let m = stored(&srv, &conv, "early");
    assert_eq!(m.spf.as_deref(), Some("pass smtp.mailfrom=early.test"));
    assert!(
        m.dmarc
            .as_deref()
            .is_some_and(|d| d.starts_with("temperror")),
        "{:?}",
        m.dmarc
    );
}
