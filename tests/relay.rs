//! Mail from a trusted relay: the original client comes from the relay's topmost
//! `Received:`, the relay's `Authentication-Results` (with our authserv-id) are recorded,
//! and neither is believed from anyone else.

mod common;

use common::*;
use std::time::Duration;

const RELAYED: &str = "Authentication-Results: mx.example.com;\r\n\tspf=pass smtp.mailfrom=example.org;\r\n\tdkim=pass (2048-bit key) header.d=example.org;\r\n\tdmarc=pass header.from=example.org\r\n\
Authentication-Results: evil.example; spf=fail\r\n\
Received: from mail.example.org (mail.example.org [192.0.2.9])\r\n\tby mx.example.com (Postfix) with ESMTPS id 4Xk2;\r\n\tWed, 25 Nov 2026 10:00:00 +0000 (UTC)\r\n";

struct Row {
    remote_ip: Option<String>,
    helo: Option<String>,
    relay_ip: Option<String>,
    relay_helo: Option<String>,
    spf: Option<String>,
    dkim: Option<String>,
    dmarc: Option<String>,
}

fn row(srv: &TestServer) -> Row {
    let m = srv.incoming().pop().unwrap();
    Row {
        remote_ip: m.remote_ip,
        helo: m.helo,
        relay_ip: m.relay_ip,
        relay_helo: m.relay_helo,
        spf: m.spf,
        dkim: m.dkim,
        dmarc: m.dmarc,
    }
}

fn send(srv: &TestServer) {
    let conv = srv.conversation("bob@example.org");
    let mut c = Raw::greeted(srv.addr);
    let body = format!(
        "{RELAYED}{}",
        reply_message(&conv.reply_address, "relayed@example.org", "Relayed")
    );
    let (code, text) = c.send_mail("bob@example.org", &[&conv.reply_address], &body);
    assert_eq!(code, 250, "{text}");
}

#[test]
fn trusted_relay_records_original_client_and_verdicts() {
    let srv = TestServer::start_with(|c| c.server.authserv_id = Some("mx.example.com".into()));
    send(&srv);
    let r = row(&srv);
    assert_eq!(r.remote_ip.as_deref(), Some("192.0.2.9"));
    assert_eq!(r.helo.as_deref(), Some("mail.example.org"));
    assert_eq!(r.relay_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(r.relay_helo.as_deref(), Some("client.test"));
    assert_eq!(r.spf.as_deref(), Some("pass"));
    assert_eq!(r.dkim.as_deref(), Some("pass"));
    assert_eq!(r.dmarc.as_deref(), Some("pass"));
}

#[test]
fn without_authserv_id_verdicts_are_not_recorded() {
    let srv = TestServer::start();
    send(&srv);
    let r = row(&srv);
    assert_eq!(r.remote_ip.as_deref(), Some("192.0.2.9"));
    assert_eq!((r.spf, r.dkim, r.dmarc), (None, None, None));
}

#[test]
fn untrusted_client_headers_are_ignored() {
    let srv = TestServer::start_with(|c| {
        c.server.authserv_id = Some("mx.example.com".into());
        c.server.trusted_relays = vec!["10.0.0.0/8".parse().unwrap()];
        c.limits.greeting_delay = Duration::from_millis(50);
    });
    send(&srv);
    let r = row(&srv);
    assert_eq!(r.remote_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(r.helo.as_deref(), Some("client.test"));
    assert_eq!((r.relay_ip, r.relay_helo), (None, None));
    assert_eq!((r.spf, r.dkim, r.dmarc), (None, None, None));
}
