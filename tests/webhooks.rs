//! Signed webhooks (issue 19), against a real server and a real HTTP receiver: the event for
//! an SMTP reply, its Standard Webhooks signature checked by an implementation written in the
//! tests (with two secrets during a rotation), bounces and inbox entries, retries until the
//! receiver takes it, `410`, a slow receiver that delays nothing else, HTTPS.

mod common;

use common::http::{scrape, value};
use common::receiver::{free_addr, url_of, Answer, Receiver};
use common::webhooks::*;
use common::*;
use replyd::store::DeliveryState;
use std::collections::HashSet;
use std::time::Instant;

#[test]
fn an_smtp_reply_is_posted_signed_with_its_reply_text() {
    let rx = Receiver::start();
    let srv = TestServer::start_with(|c| c.webhooks = vec![endpoint(&rx.url(), SECRET)]);
    // The helpdesk's own id for the conversation travels with each event.
    let conv = srv
        .block(srv.store.create_conversation(&NewConversation {
            contact_email: Some("bob@example.org"),
            channel: "web_widget",
            subject: Some("Order 42"),
            domain: DOMAIN,
            ttl_seconds: None,
            external_id: Some("hd-ticket-1234"),
        }))
        .unwrap();
    let (code, text) = smtp_deliver(
        srv.addr,
        &conv.reply_address,
        &reply_with_history(&conv.reply_address, "first@example.org"),
    );
    assert_eq!(code, 250, "{text}");
    let id = stored_id(&text);
    let r = rx.wait_for(1, Duration::from_secs(10)).remove(0);
    assert!(verifies(SECRET, &r), "signature: {:?}", r.headers);
    assert!(!verifies(OTHER_SECRET, &r));
    let mut tampered = r.clone();
    tampered.body.push(b' ');
    assert!(!verifies(SECRET, &tampered));
    assert_eq!(r.path, "/hooks/replyd");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    assert_eq!(v["type"], "message.received");
    assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
    let data = &v["data"];
    assert_eq!(data["sequence"], 1);
    assert_eq!(data["conversation"]["uuid"], conv.uuid.as_str());
    assert_eq!(data["conversation"]["external_id"], "hd-ticket-1234");
    let m = &data["message"];
    assert_eq!(m["id"], id);
    assert_eq!(m["url"], format!("/api/v1/messages/{id}"));
    assert_eq!(m["from"], "bob@example.org");
    assert_eq!(m["subject"], "Re: Order 42");
    assert_eq!(m["reply_text"], "Thanks, it arrived.");
    assert!(m["automated"].is_null());
    assert_eq!(m["sender"]["is_contact"], true);
    let body = String::from_utf8_lossy(&r.body);
    assert!(
        !body.contains("parcel"),
        "quoted history in the webhook: {body}"
    );
    let stored = srv.message(id);
    let a = &m["attachments"][0];
    assert_eq!(a["id"], stored.attachments[0].id);
    assert_eq!(a["filename"], "invoice.pdf");
    assert_eq!(a["content_type"], "application/pdf");
    assert_eq!(a["size"], 5);
    assert_eq!(
        a["url"],
        format!("/api/v1/attachments/{}", stored.attachments[0].id)
    );
    // The store knows the event by the same id, delivered.
    let started = Instant::now();
    loop {
        let (webhook_id, states) = event_of(&srv, id);
        assert_eq!(webhook_id, r.webhook_id());
        if states == [(rx.url(), DeliveryState::Delivered)] {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{states:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The conversation's next event is number 2.
    let (code, _) = smtp_deliver(
        srv.addr,
        &conv.reply_address,
        reply_message(
            &conv.reply_address,
            "second@example.org",
            "And thanks again.",
        )
        .as_bytes(),
    );
    assert_eq!(code, 250);
    let second = rx.wait_for(2, Duration::from_secs(10)).remove(1);
    assert_eq!(second.json()["data"]["sequence"], 2);
    assert_eq!(
        second.json()["data"]["message"]["reply_text"],
        "And thanks again."
    );
    assert_ne!(second.webhook_id(), r.webhook_id());
}

#[test]
fn during_a_rotation_both_secrets_verify() {
    let rx = Receiver::start();
    let srv = TestServer::start_with(|c| {
        let mut w = endpoint(&rx.url(), NEW_SECRET);
        w.previous_secret = Some(SECRET.into());
        c.webhooks = vec![w];
    });
    let conv = srv.conversation("bob@example.org");
    let (code, _) = smtp_deliver(
        srv.addr,
        &conv.reply_address,
        reply_message(&conv.reply_address, "rot@example.org", "Rotated.").as_bytes(),
    );
    assert_eq!(code, 250);
    let r = rx.wait_for(1, Duration::from_secs(10)).remove(0);
    let signatures = r.header("webhook-signature").unwrap();
    assert_eq!(signatures.split(' ').count(), 2, "{signatures}");
    assert!(verifies(NEW_SECRET, &r), "the new secret");
    assert!(verifies(SECRET, &r), "the old secret");
    assert!(!verifies(OTHER_SECRET, &r));
}

#[test]
fn bounces_and_inbox_entries_have_their_own_events() {
    let rx = Receiver::start();
    let srv = TestServer::start_with(|c| c.webhooks = vec![endpoint(&rx.url(), SECRET)]);
    let conv = srv.conversation("gone@example.org");
    let stamped = srv
        .block(replyd::outbound::stamp_and_record(
            &srv.store,
            &conv.uuid,
            b"From: Alice <alice@support.example.com>\r\nTo: gone@example.org\r\nSubject: Hi\r\n\r\nHello\r\n",
            None,
        ))
        .unwrap();
    let dsn = bounce_of(&conv.reply_address, &stamped.message_id);
    let mut c = Raw::greeted(srv.addr);
    let (code, text) = c.send_mail("", &[&conv.reply_address], &dsn);
    assert_eq!(code, 250, "{text}");
    let bounce = rx.wait_for(1, Duration::from_secs(10)).remove(0);
    assert!(verifies(SECRET, &bounce));
    let v = bounce.json();
    assert_eq!(v["type"], "message.bounced");
    assert_eq!(v["data"]["message"]["automated"], "bounce");
    assert_eq!(v["data"]["bounced_message"]["id"], stamped.stored_id);
    assert_eq!(
        v["data"]["bounced_message"]["url"],
        format!("/api/v1/messages/{}", stamped.stored_id)
    );
    // Postmaster mail goes to the operator inbox: `inbox.received`, no conversation.
    let mut c = Raw::greeted(srv.addr);
    let (code, _) = c.send_mail(
        "bob@example.org",
        &[&format!("postmaster@{DOMAIN}")],
        &reply_message("postmaster", "pm@example.org", "Hello postmaster"),
    );
    assert_eq!(code, 250);
    let inbox = rx.wait_for(2, Duration::from_secs(10)).remove(1);
    let v = inbox.json();
    assert_eq!(v["type"], "inbox.received");
    assert_eq!(v["data"]["inbox_entry"]["reason"], "postmaster");
    assert_eq!(v["data"]["inbox_entry"]["from"], "bob@example.org");
    assert!(v["data"]["conversation"].is_null());
}

#[test]
fn receiver_down_then_500_twice_then_200_is_delivered_with_every_attempt_recorded() {
    let addr = free_addr();
    let srv = TestServer::start_with(|c| c.webhooks = vec![endpoint(&url_of(addr), SECRET)]);
    let conv = srv.conversation("bob@example.org");
    let (code, text) = smtp_deliver(
        srv.addr,
        &conv.reply_address,
        reply_message(&conv.reply_address, "retry@example.org", "Try again.").as_bytes(),
    );
    assert_eq!(code, 250);
    let (webhook_id, _) = event_of(&srv, stored_id(&text));
    // Down: the connection is refused, and that attempt is recorded.
    let refused = attempts_until(&srv, &webhook_id, |a| !a.is_empty());
    assert_eq!(refused[0].status, None);
    assert!(
        refused[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("connect"),
        "{refused:?}"
    );
    let rx = Receiver::start_scripted(addr, &[Answer::Status(500), Answer::Status(500)]);
    let got = rx.wait_for(3, Duration::from_secs(10));
    assert!(
        got.iter().all(|r| r.webhook_id() == webhook_id),
        "one webhook-id for every attempt"
    );
    assert!(got.iter().all(|r| verifies(SECRET, r)));
    // The retry schedule (300 ms here, ±10 % jitter) is kept between answers.
    for pair in got.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_millis(250), "retried after {gap:?}");
    }
    let attempts = attempts_until(&srv, &webhook_id, |a| {
        a.last().and_then(|l| l.status) == Some(200)
    });
    let answered: Vec<_> = attempts.iter().filter_map(|a| a.status).collect();
    assert_eq!(answered, [500, 500, 200], "{attempts:#?}");
    assert!(
        attempts.len() >= 4,
        "the refused connection counts: {attempts:#?}"
    );
    for a in &attempts {
        assert!(a.latency_ms >= 0 && a.time.ends_with('Z'));
        assert_eq!(a.status == Some(200), a.error.is_none(), "{a:?}");
    }
    let (_, states) = event_of(&srv, stored_id(&text));
    assert_eq!(states, [(url_of(addr), DeliveryState::Delivered)]);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(rx.requests().len(), 3, "nothing is sent after the 200");
}

#[test]
fn gone_disables_the_endpoint_until_it_is_enabled() {
    let rx = Receiver::start();
    rx.answer(Answer::Status(410));
    let srv = TestServer::start_with(|c| c.webhooks = vec![endpoint(&rx.url(), SECRET)]);
    let conv = srv.conversation("bob@example.org");
    let send = |id: &str| {
        let (code, _) = smtp_deliver(
            srv.addr,
            &conv.reply_address,
            reply_message(&conv.reply_address, id, "Hello").as_bytes(),
        );
        assert_eq!(code, 250);
    };
    send("gone-1@example.org");
    rx.wait_for(1, Duration::from_secs(10));
    let started = Instant::now();
    let endpoint = loop {
        let e = srv.block(srv.store.webhook_endpoints(5)).unwrap().remove(0);
        if !e.enabled {
            break e;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "still enabled");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(endpoint.disabled_reason.unwrap().contains("410"));
    send("gone-2@example.org");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(rx.requests().len(), 1, "a disabled endpoint is not sent to");
    assert_eq!(
        srv.block(srv.store.webhook_endpoints(5)).unwrap()[0].backlog,
        2,
        "both events wait"
    );
    rx.answer(Answer::Status(204));
    srv.block(srv.store.webhook_set_enabled(&rx.url(), true))
        .unwrap();
    let got = rx.wait_for(3, Duration::from_secs(10));
    let texts: HashSet<String> = got[1..]
        .iter()
        .map(|r| {
            r.json()["data"]["message"]["message_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(texts.len(), 2, "both waiting events are sent once enabled");
    assert_eq!(
        got[1..]
            .iter()
            .filter(|r| r.webhook_id() == got[0].webhook_id())
            .count(),
        1
    );
}

#[test]
fn a_slow_receiver_delays_neither_smtp_nor_another_endpoint() {
    let slow = Receiver::start();
    slow.answer(Answer::Slow(Duration::from_secs(5), 200));
    let fast = Receiver::start();
    let srv = TestServer::start_with(|c| {
        let mut s = endpoint(&slow.url(), SECRET);
        s.name = Some("slow".into());
        s.timeout = Duration::from_millis(500);
        s.connect_timeout = Duration::from_millis(500);
        s.concurrency = 2;
        let mut f = endpoint(&fast.url(), SECRET);
        f.name = Some("fast".into());
        c.webhooks = vec![s, f];
    });
    let conv = srv.conversation("bob@example.org");
    let mut slowest = Duration::ZERO;
    for i in 0..20 {
        let started = Instant::now();
        let (code, _) = smtp_deliver(
            srv.addr,
            &conv.reply_address,
            reply_message(&conv.reply_address, &format!("slow-{i}@example.org"), "Hi").as_bytes(),
        );
        assert_eq!(code, 250);
        slowest = slowest.max(started.elapsed());
    }
    let sent = Instant::now();
    assert!(
        slowest < Duration::from_millis(1500),
        "an SMTP delivery took {slowest:?}"
    );
    fast.wait_for(20, Duration::from_secs(5));
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "the fast endpoint waited {:?}",
        sent.elapsed()
    );
    // The slow one was tried, and its attempts time out.
    let started = Instant::now();
    loop {
        let e = srv.block(srv.store.webhook_endpoints(50)).unwrap();
        let slow_state = e.iter().find(|e| e.name == "slow").unwrap();
        let timed_out = slow_state
            .last_attempts
            .iter()
            .filter(|a| {
                a.error
                    .as_deref()
                    .unwrap_or("")
                    .contains("no answer within 500 ms")
            })
            .count();
        let fast_state = e.iter().find(|e| e.name == "fast").unwrap();
        if timed_out >= 2 && fast_state.delivered == 20 {
            assert_eq!(slow_state.delivered, 0);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{slow_state:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn https_endpoints_are_verified_against_the_trust_anchors() {
    if !needs(OPENSSL) {
        return;
    }
    let dir = TempDir::new("wh-tls");
    let (ca, cert, key) = private_ca(dir.path());
    let rx = Receiver::start_tls(&cert, &key);
    let url = format!("https://127.0.0.1:{}/hooks/replyd", rx.addr.port());
    let srv = TestServer::start_with(|c| {
        let mut trusted = endpoint(&url, SECRET);
        trusted.name = Some("private-ca".into());
        trusted.ca_file = Some(ca.clone());
        // The same receiver, judged by the system's trust anchors: refused.
        let mut untrusted = endpoint(&url, SECRET);
        untrusted.name = Some("system-roots".into());
        c.webhooks = vec![trusted, untrusted];
    });
    let conv = srv.conversation("bob@example.org");
    let (code, _) = smtp_deliver(
        srv.addr,
        &conv.reply_address,
        reply_message(&conv.reply_address, "tls@example.org", "Over TLS.").as_bytes(),
    );
    assert_eq!(code, 250);
    let r = rx.wait_for(1, Duration::from_secs(10)).remove(0);
    assert!(verifies(SECRET, &r));
    assert_eq!(r.json()["data"]["message"]["reply_text"], "Over TLS.");
    let started = Instant::now();
    loop {
        let list = srv.block(srv.store.webhook_endpoints(5)).unwrap();
        let system = list.iter().find(|e| e.name == "system-roots").unwrap();
        if let Some(a) = system.last_attempts.first() {
            let error = a.error.as_deref().unwrap_or("");
            assert!(error.contains("TLS"), "{a:?}");
            assert_eq!(system.delivered, 0);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{list:#?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        rx.requests().len(),
        1,
        "only the endpoint trusting the CA got through"
    );
}

#[test]
fn the_backlog_and_its_age_are_in_the_metrics() {
    let addr = free_addr();
    let srv = TestServer::start_with(|c| {
        c.http.listen = vec!["127.0.0.1:0".parse().unwrap()];
        let mut hook = endpoint(&url_of(addr), SECRET);
        hook.name = Some("helpdesk".into());
        c.webhooks = vec![hook];
    });
    let http = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@example.org");
    for i in 0..3 {
        let id = format!("backlog{i}@example.org");
        let raw = reply_message(&conv.reply_address, &id, "Waiting.");
        let (code, text) = smtp_deliver(srv.addr, &conv.reply_address, raw.as_bytes());
        assert_eq!(code, 250, "{text}");
    }
    // The endpoint is down: the three events wait.
    std::thread::sleep(Duration::from_millis(1200));
    let text = scrape(http);
    assert_eq!(
        value(&text, "replyd_webhook_backlog{endpoint=\"helpdesk\"}"),
        3.0,
        "{text}"
    );
    let age = value(
        &text,
        "replyd_webhook_oldest_age_seconds{endpoint=\"helpdesk\"}",
    );
    assert!((1.0..60.0).contains(&age), "oldest age {age}\n{text}");
    // Up: delivered, and the gauges go back to 0.
    let rx = Receiver::start_on(addr);
    rx.wait_for(3, Duration::from_secs(15));
    let started = std::time::Instant::now();
    loop {
        let text = scrape(http);
        let backlog = value(&text, "replyd_webhook_backlog{endpoint=\"helpdesk\"}");
        if backlog == 0.0 {
            assert_eq!(
                value(
                    &text,
                    "replyd_webhook_oldest_age_seconds{endpoint=\"helpdesk\"}"
                ),
                0.0
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "backlog {backlog}\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
