//! Sender verification on direct delivery (issue 22): SPF, DKIM, DMARC and ARC against a
//! real DNS server (NSD on loopback serving a test zone), our Authentication-Results on the
//! stored rows, and what each `[security] sender_policy` does with a forged From.

mod common;

use common::dns::{
    message, need_dns, send, server, server_with, stored, DkimKey, SilentDns, TestDns,
};
use common::http::{api_get, create_api_key};
use common::receiver::Receiver;
use common::webhooks::{endpoint, SECRET};
use common::*;
use replyd::config::SenderPolicy;
use replyd::store::{Conversation, SenderVerdict};
use std::sync::OnceLock;
use std::time::Instant;

/// The keys of every test: made once per test binary (RSA generation is slow).
struct Keys {
    rsa: DkimKey,
    ed: DkimKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = TempDir::new("keys");
        Keys {
            rsa: DkimKey::rsa(dir.path(), "rsa"),
            ed: DkimKey::ed25519(),
        }
    })
}

/// The test zone: one domain per case (names relative to `test.`).
fn zone() -> String {
    let k = keys();
    let mut z = String::from(
        "spf-pass IN TXT \"v=spf1 ip4:127.0.0.1 -all\"\n\
         spf-fail IN TXT \"v=spf1 ip4:192.0.2.1 -all\"\n\
         spf-soft IN TXT \"v=spf1 ip4:192.0.2.1 ~all\"\n\
         spf-neutral IN TXT \"v=spf1 ?all\"\n\
         spf-none IN A 192.0.2.7\n\
         spf-perm IN TXT \"v=spf1 include:spf-none.test -all\"\n\
         rsa IN TXT \"v=spf1 ip4:192.0.2.1 -all\"\n\
         _dmarc.rsa IN TXT \"v=DMARC1; p=reject; adkim=s; aspf=s\"\n\
         ed IN TXT \"v=spf1 ip4:192.0.2.1 -all\"\n\
         _dmarc.ed IN TXT \"v=DMARC1; p=quarantine\"\n\
         monitor IN TXT \"v=spf1 ip4:192.0.2.1 -all\"\n\
         _dmarc.monitor IN TXT \"v=DMARC1; p=none\"\n\
         rel IN TXT \"v=spf1 ip4:192.0.2.1 -all\"\n\
         _dmarc.rel IN TXT \"v=DMARC1; p=reject; adkim=r; aspf=r\"\n\
         mail.rel IN A 192.0.2.9\n\
         strict IN TXT \"v=spf1 ip4:192.0.2.1 -all\"\n\
         _dmarc.strict IN TXT \"v=DMARC1; p=reject; adkim=s; aspf=s\"\n\
         mail.strict IN A 192.0.2.9\n\
         origin IN TXT \"v=spf1 ip4:192.0.2.1 -all\"\n\
         _dmarc.origin IN TXT \"v=DMARC1; p=reject\"\n\
         lists IN TXT \"v=spf1 ip4:192.0.2.1 -all\"\n\
         plain IN TXT \"v=spf1 ip4:127.0.0.1 -all\"\n",
    );
    for domain in [
        "rsa.test",
        "rel.test",
        "strict.test",
        "origin.test",
        "lists.test",
    ] {
        z.push_str(&k.rsa.record("sel", domain));
    }
    z.push_str(&k.ed.record("sel", "ed.test"));
    z
}

fn verdict(srv: &TestServer, conv: &Conversation, id: i64) -> SenderVerdict {
    srv.block(srv.store.sender_verdicts(&conv.uuid))
        .unwrap()
        .into_iter()
        .find(|(m, _)| *m == id)
        .map(|(_, v)| v)
        .expect("a sender verdict")
}

#[test]
fn spf_results_for_each_kind_of_record() {
    if !need_dns() {
        return;
    }
    let dns = TestDns::start(&zone());
    let srv = server(dns.addr, SenderPolicy::Record, &[]);
    let conv = srv.conversation("alice@example.org");
    for (domain, word) in [
        ("spf-pass", "pass"),
        ("spf-fail", "fail"),
        ("spf-soft", "softfail"),
        ("spf-neutral", "neutral"),
        ("spf-none", "none"),
        ("spf-perm", "permerror"),
    ] {
        let from = format!("bob@{domain}.test");
        let (code, text) = send(
            &srv,
            &from,
            &conv.reply_address,
            &message(&from, &conv.reply_address, domain),
        );
        assert_eq!(code, 250, "{domain}: {text}");
        let m = stored(&srv, &conv, domain);
        assert_eq!(
            m.spf.as_deref(),
            Some(format!("{word} smtp.mailfrom={domain}.test").as_str()),
            "{domain}"
        );
        let header = m.trace_header.clone().unwrap_or_default();
        assert!(
            header.starts_with("Authentication-Results: mx.test;\r\n"),
            "{header}"
        );
        assert!(
            header.contains(&format!("spf={word} smtp.mailfrom={domain}.test")),
            "{header}"
        );
        // Our header sits on top of the delivered form; the client's bytes are unchanged.
        let raw = srv.raw(m.id);
        assert!(raw.starts_with(header.as_bytes()));
        assert!(srv.client_bytes(&m).starts_with(b"From: bob@"));
        // SPF alone verifies only a domain without DMARC whose MAIL FROM is the From.
        assert!(!verdict(&srv, &conv, m.id).verified || domain == "spf-pass");
    }
}

#[test]
fn a_name_server_that_never_answers_is_temperror_within_the_time_limit() {
    let silent = SilentDns::start();
    let srv = server(silent.addr, SenderPolicy::Strict, &[]);
    let conv = srv.conversation("alice@example.org");
    let started = Instant::now();
    let (code, text) = send(
        &srv,
        "bob@spf-pass.test",
        &conv.reply_address,
        &message("bob@spf-pass.test", &conv.reply_address, "silent"),
    );
    let took = started.elapsed();
    assert_eq!(code, 250, "never refused for DNS: {text}");
    assert!(took < Duration::from_secs(4), "took {took:?}");
    let m = stored(&srv, &conv, "silent");
    assert!(
        m.spf.as_deref().unwrap().starts_with("temperror"),
        "{:?}",
        m.spf
    );
    assert!(m.trace_header.unwrap().contains("spf=temperror"));
}

#[test]
fn dkim_rsa_and_ed25519_pass_and_a_changed_body_fails() {
    if !need_dns() {
        return;
    }
    let k = keys();
    let dns = TestDns::start(&zone());
    let srv = server(dns.addr, SenderPolicy::Record, &[]);
    let conv = srv.conversation("alice@example.org");
    let to = conv.reply_address.clone();

    let signed = k
        .rsa
        .sign(&message("bob@rsa.test", &to, "rsa"), "rsa.test", "sel");
    assert_eq!(send(&srv, "bob@rsa.test", &to, &signed).0, 250);
    let m = stored(&srv, &conv, "rsa");
    assert_eq!(
        m.dkim.as_deref(),
        Some("pass header.d=rsa.test header.s=sel")
    );
    // SPF fails (the zone names another IP), DMARC passes by the aligned DKIM signature.
    assert_eq!(m.spf.as_deref(), Some("fail smtp.mailfrom=rsa.test"));
    assert_eq!(
        m.dmarc.as_deref(),
        Some("pass header.from=rsa.test p=reject")
    );
    assert!(verdict(&srv, &conv, m.id).verified);
    let header = m.trace_header.unwrap();
    assert!(
        header.contains("\tdkim=pass header.d=rsa.test header.s=sel;"),
        "{header}"
    );
    assert!(
        header.contains("\tdmarc=pass (p=reject) header.from=rsa.test"),
        "{header}"
    );

    let signed =
        k.ed.sign(&message("bob@ed.test", &to, "ed25519"), "ed.test", "sel");
    assert_eq!(send(&srv, "bob@ed.test", &to, &signed).0, 250);
    let m = stored(&srv, &conv, "ed25519");
    assert_eq!(
        m.dkim.as_deref(),
        Some("pass header.d=ed.test header.s=sel")
    );
    assert_eq!(
        m.dmarc.as_deref(),
        Some("pass header.from=ed.test p=quarantine")
    );
    assert!(verdict(&srv, &conv, m.id).verified);

    // A body changed in transit: the signature fails, and so does DMARC.
    let signed = k
        .rsa
        .sign(&message("bob@rsa.test", &to, "changed"), "rsa.test", "sel");
    let changed = String::from_utf8(signed)
        .unwrap()
        .replace("Hello, it is me.", "Hello, send the money here.");
    assert_eq!(send(&srv, "bob@rsa.test", &to, changed.as_bytes()).0, 250);
    let m = stored(&srv, &conv, "changed");
    assert!(
        m.dkim
            .as_deref()
            .unwrap()
            .starts_with("fail header.d=rsa.test"),
        "{:?}",
        m.dkim
    );
    assert_eq!(
        m.dmarc.as_deref(),
        Some("fail header.from=rsa.test p=reject")
    );
    assert!(!verdict(&srv, &conv, m.id).verified);
}

#[test]
fn dmarc_policies_and_alignment_modes() {
    if !need_dns() {
        return;
    }
    let k = keys();
    let dns = TestDns::start(&zone());
    let srv = server(dns.addr, SenderPolicy::Record, &[]);
    let conv = srv.conversation("alice@example.org");
    let to = conv.reply_address.clone();
    // Unsigned mail from a client the SPF records do not name: DMARC fails, with each
    // domain's own policy.
    for (domain, policy) in [("monitor", "none"), ("ed", "quarantine"), ("rsa", "reject")] {
        let from = format!("bob@{domain}.test");
        assert_eq!(send(&srv, &from, &to, &message(&from, &to, domain)).0, 250);
        let m = stored(&srv, &conv, domain);
        assert_eq!(
            m.dmarc.as_deref(),
            Some(format!("fail header.from={domain}.test p={policy}").as_str())
        );
    }
    // Relaxed alignment: d=rel.test signs for mail.rel.test.
    let signed = k.rsa.sign(
        &message("bob@mail.rel.test", &to, "relaxed"),
        "rel.test",
        "sel",
    );
    assert_eq!(send(&srv, "bob@mail.rel.test", &to, &signed).0, 250);
    let m = stored(&srv, &conv, "relaxed");
    assert_eq!(
        m.dmarc.as_deref(),
        Some("pass header.from=mail.rel.test p=reject")
    );
    // Strict alignment: d=strict.test does not align with mail.strict.test.
    let signed = k.rsa.sign(
        &message("bob@mail.strict.test", &to, "strict"),
        "strict.test",
        "sel",
    );
    assert_eq!(send(&srv, "bob@mail.strict.test", &to, &signed).0, 250);
    let m = stored(&srv, &conv, "strict");
    assert_eq!(
        m.dkim.as_deref(),
        Some("pass header.d=strict.test header.s=sel")
    );
    assert_eq!(
        m.dmarc.as_deref(),
        Some("fail header.from=mail.strict.test p=reject")
    );
    assert!(!verdict(&srv, &conv, m.id).verified);
    // No DMARC record: an SPF pass for the From domain itself verifies it.
    let from = "bob@plain.test";
    assert_eq!(send(&srv, from, &to, &message(from, &to, "plain")).0, 250);
    let m = stored(&srv, &conv, "plain");
    assert_eq!(m.dmarc.as_deref(), Some("none"));
    assert!(verdict(&srv, &conv, m.id).verified);
    // …but not for another From domain.
    let (_, _) = (
        send(&srv, from, &to, &message("ceo@spf-none.test", &to, "other")),
        (),
    );
    let m = stored(&srv, &conv, "other");
    assert!(!verdict(&srv, &conv, m.id).verified);
}

/// A forged From (`alice@rsa.test`, whose domain publishes `p=reject`) with a live token.
fn forged(srv: &TestServer, conv: &Conversation, subject: &str) -> (u16, String) {
    let to = &conv.reply_address;
    send(
        srv,
        "alice@rsa.test",
        to,
        &message("alice@rsa.test", to, subject),
    )
}

#[test]
fn a_forged_from_under_each_policy() {
    if !need_dns() {
        return;
    }
    let dns = TestDns::start(&zone());

    // record: stored, nothing flagged, the verdicts say what happened.
    let srv = server(dns.addr, SenderPolicy::Record, &[]);
    let conv = srv.conversation("alice@rsa.test");
    assert_eq!(forged(&srv, &conv, "forged").0, 250);
    let m = stored(&srv, &conv, "forged");
    assert!(!m.flags.contains(&Flag::UnverifiedSender));
    assert_eq!(
        m.dmarc.as_deref(),
        Some("fail header.from=rsa.test p=reject")
    );
    let v = verdict(&srv, &conv, m.id);
    assert!(!v.verified && v.allowed, "{v:?}");
    // Ours is the topmost Authentication-Results of the delivered form.
    let raw = String::from_utf8(srv.raw(m.id)).unwrap();
    assert!(
        raw.starts_with("Authentication-Results: mx.test;\r\n\tspf=none smtp.helo=client.test;"),
        "{raw}"
    );
    drop(srv);

    // flag: stored with the flag, which the API and the webhook event show.
    let rx = Receiver::start();
    let srv = server_with(dns.addr, SenderPolicy::Flag, &[], |c| {
        c.http.listen = vec!["127.0.0.1:0".parse().unwrap()];
        c.webhooks = vec![endpoint(&rx.url(), SECRET)];
    });
    let conv = srv.conversation("alice@rsa.test");
    assert_eq!(forged(&srv, &conv, "forged").0, 250);
    let m = stored(&srv, &conv, "forged");
    assert!(m.flags.contains(&Flag::UnverifiedSender), "{:?}", m.flags);
    let key = create_api_key(&srv, "helpdesk");
    let api = api_get(&srv, Some(&key), &format!("/api/v1/messages/{}", m.id)).json();
    assert_eq!(api["verdicts"]["sender_verified"], false, "{api}");
    assert_eq!(api["verdicts"]["sender_allowed"], true, "{api}");
    assert!(api["flags"]
        .as_array()
        .unwrap()
        .contains(&"unverified_sender".into()));
    let event = rx.wait_for(1, Duration::from_secs(10)).remove(0).json();
    let sender = &event["data"]["message"]["sender"];
    assert_eq!(sender["verified"], false, "{event}");
    assert_eq!(sender["allowed"], true, "{event}");
    assert!(event["data"]["message"]["flags"]
        .as_array()
        .unwrap()
        .contains(&"unverified_sender".into()));
    drop(srv);

    // strict: refused at the end of DATA, nothing stored, the refusal recorded.
    let srv = server(dns.addr, SenderPolicy::Strict, &[]);
    let conv = srv.conversation("alice@rsa.test");
    let (code, text) = forged(&srv, &conv, "forged");
    assert_eq!((code, &text[..5]), (550, "5.7.1"), "{text}");
    assert!(srv.messages(&conv.uuid).is_empty());
    let rows = srv.activity(1);
    assert!(rows.iter().any(|r| r.code == 550), "{rows:#?}");
    // A p=quarantine domain under strict: stored, flagged.
    let conv = srv.conversation("carol@ed.test");
    let to = &conv.reply_address;
    assert_eq!(
        send(
            &srv,
            "carol@ed.test",
            to,
            &message("carol@ed.test", to, "q")
        )
        .0,
        250
    );
    let m = stored(&srv, &conv, "q");
    assert!(m.flags.contains(&Flag::UnverifiedSender), "{:?}", m.flags);
}

#[test]
fn allowed_senders_and_conversation_show() {
    if !need_dns() {
        return;
    }
    let k = keys();
    let dns = TestDns::start(&zone());
    let srv = server(dns.addr, SenderPolicy::Flag, &[]);
    let conv = srv.conversation("alice@example.org");
    let to = conv.reply_address.clone();
    // Verified (DKIM + DMARC pass) but not the contact: flagged.
    let signed = k.rsa.sign(
        &message("bob@rsa.test", &to, "colleague"),
        "rsa.test",
        "sel",
    );
    assert_eq!(send(&srv, "bob@rsa.test", &to, &signed).0, 250);
    let m = stored(&srv, &conv, "colleague");
    assert!(m.flags.contains(&Flag::UnverifiedSender));
    let v = verdict(&srv, &conv, m.id);
    assert!(v.verified && !v.allowed, "{v:?}");
    // Allowed by the helpdesk: no flag.
    let config = write_config(srv.dir.path(), 0, "");
    let out = replyd_ok(
        &config,
        &["conversation", "allow", &conv.uuid, "Bob@rsa.test"],
    );
    assert!(out.contains("allowed"), "{out}");
    let signed = k
        .rsa
        .sign(&message("bob@rsa.test", &to, "allowed"), "rsa.test", "sel");
    assert_eq!(send(&srv, "bob@rsa.test", &to, &signed).0, 250);
    let m = stored(&srv, &conv, "allowed");
    assert!(!m.flags.contains(&Flag::UnverifiedSender), "{:?}", m.flags);
    let show = replyd_ok(&config, &["conversation", "show", &conv.uuid]);
    assert!(show.contains("[unverified_sender]"), "{show}");
    assert!(
        show.contains("Sender: verified, does NOT match the conversation"),
        "{show}"
    );
    assert!(
        show.contains("Sender: verified, matches the conversation"),
        "{show}"
    );
    assert!(
        show.contains("DMARC: pass header.from=rsa.test p=reject"),
        "{show}"
    );
}

#[test]
fn an_arc_sealed_list_message_passes_by_a_trusted_sealer_only() {
    if !need_dns() {
        return;
    }
    use mail_auth::common::headers::HeaderWriter;
    let k = keys();
    let dns = TestDns::start(&zone());
    let DkimKey::Rsa(der, _) = &k.rsa else {
        unreachable!()
    };
    // origin.test signs; the list adds a footer (breaking DKIM), verifies what it got
    // (dkim=pass) and seals it as lists.test.
    let sealed = |to: &str, subject: &str| -> Vec<u8> {
        let signed = k.rsa.sign(
            &message("dave@origin.test", to, subject),
            "origin.test",
            "sel",
        );
        let mut listed = signed.clone();
        listed.extend_from_slice(b"--\r\nThe list footer\r\n");
        let parsed = mail_auth::AuthenticatedMessage::parse(&listed).unwrap();
        let results = mail_auth::AuthenticationResults::new("lists.test")
            .with_dkim_results(&[mail_auth::DkimOutput::pass()], "origin.test");
        let set = mail_auth::arc::ArcSealer::from_key(common::dns::rsa_key(der))
            .domain("lists.test")
            .selector("sel")
            .headers(["From", "To", "Subject", "DKIM-Signature"])
            .seal(&parsed, &results, &mail_auth::ArcOutput::default())
            .unwrap();
        [set.to_header().as_bytes(), &listed].concat()
    };
    // Trusted: SPF fails (MAIL FROM kept by the list), DKIM fails, ARC vouches.
    let srv = server(dns.addr, SenderPolicy::Strict, &["lists.test"]);
    let conv = srv.conversation("dave@origin.test");
    let to = conv.reply_address.clone();
    let (code, text) = send(&srv, "dave@origin.test", &to, &sealed(&to, "trusted"));
    assert_eq!(code, 250, "{text}");
    let m = stored(&srv, &conv, "trusted");
    assert_eq!(m.spf.as_deref(), Some("fail smtp.mailfrom=origin.test"));
    assert!(
        m.dkim.as_deref().unwrap().starts_with("fail"),
        "{:?}",
        m.dkim
    );
    let v = verdict(&srv, &conv, m.id);
    assert_eq!(v.arc.as_deref(), Some("pass (sealer lists.test, trusted)"));
    assert!(v.verified);
    assert!(!m.flags.contains(&Flag::UnverifiedSender));
    drop(srv);
    // The same chain from a sealer we do not trust: recorded, not trusted; refused.
    let srv = server(dns.addr, SenderPolicy::Strict, &[]);
    let conv = srv.conversation("dave@origin.test");
    let to = conv.reply_address.clone();
    let (code, text) = send(&srv, "dave@origin.test", &to, &sealed(&to, "untrusted"));
    assert_eq!((code, &text[..5]), (550, "5.7.1"), "{text}");
}

#[test]
fn a_dns_server_that_stops_answering_mid_load() {
    if !need_dns() {
        return;
    }
    let dns = TestDns::start(&zone());
    let srv = server(dns.addr, SenderPolicy::Strict, &[]);
    let conv = srv.conversation("alice@example.org");
    let to = conv.reply_address.clone();
    let from = "bob@spf-pass.test";
    assert_eq!(send(&srv, from, &to, &message(from, &to, "before")).0, 250);
    dns.pause(true);
    let sessions: Vec<_> = (0..10)
        .map(|i| {
            let to = to.clone();
            let srv_addr = srv.addr;
            std::thread::spawn(move || {
                let from = format!("bob@uncached{i}.test");
                let started = Instant::now();
                let mut c = Raw::greeted(srv_addr);
                c.expect("EHLO client.test", 250, "");
                c.expect(&format!("MAIL FROM:<{from}>"), 250, "2.1.0");
                c.expect(&format!("RCPT TO:<{to}>"), 250, "2.1.5");
                c.expect("DATA", 354, "");
                c.send(&message(&from, &to, &format!("during {i}")));
                let reply = c.cmd(".");
                (reply, started.elapsed())
            })
        })
        .collect();
    for s in sessions {
        let ((code, text), took) = s.join().unwrap();
        assert_eq!(code, 250, "{text}");
        assert!(took < Duration::from_secs(5), "took {took:?}");
    }
    dns.pause(false);
    for i in 0..10 {
        let m = stored(&srv, &conv, &format!("during {i}"));
        assert!(
            m.spf.as_deref().unwrap().starts_with("temperror"),
            "{:?}",
            m.spf
        );
    }
}

#[test]
fn http_ingress_dkim_and_dmarc_on_the_raw_message_spf_from_the_provider() {
    if !need_dns() {
        return;
    }
    use common::http::*;
    let k = keys();
    let dns = TestDns::start(&zone());
    let srv = http_server(|c| {
        c.security.verify_senders = true;
        c.security.sender_policy = SenderPolicy::Strict;
        c.dns.servers = vec![dns.addr.to_string()];
        c.dns.lookup_timeout = Duration::from_secs(1);
        c.dns.message_timeout = Duration::from_secs(2);
    });
    let addr = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@rsa.test");
    let to = conv.reply_address.clone();
    let envelope = format!("{{\"to\":[\"{to}\"],\"from\":\"bob@rsa.test\"}}");
    let post_sendgrid = |raw: &[u8]| {
        let (content_type, body) = multipart(&[
            ("email", raw),
            ("envelope", envelope.as_bytes()),
            ("SPF", b"softfail"),
        ]);
        post(addr, SENDGRID, &content_type, Some(PASSWORD), body)
    };
    // DKIM survives the provider: verified by DKIM and DMARC; SPF is SendGrid's word.
    let signed = k.rsa.sign(
        &message("bob@rsa.test", &to, "via sendgrid"),
        "rsa.test",
        "sel",
    );
    let reply = post_sendgrid(&signed);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let m = stored(&srv, &conv, "via sendgrid");
    assert_eq!(m.spf.as_deref(), Some("sendgrid: softfail"));
    assert_eq!(
        m.dkim.as_deref(),
        Some("pass header.d=rsa.test header.s=sel")
    );
    assert_eq!(
        m.dmarc.as_deref(),
        Some("pass header.from=rsa.test p=reject")
    );
    assert!(verdict(&srv, &conv, m.id).verified);
    assert_eq!(srv.client_bytes(&m), signed);
    // Forged, unsigned, with a forged Authentication-Results carrying our id (ignored):
    // refused under strict. SendGrid's outcome table answers a permanent refusal with 200
    // (so it does not retry) and says why in the body.
    let forged = [
        b"Authentication-Results: mx.test; dkim=pass header.d=rsa.test; dmarc=pass\r\n".as_slice(),
        &message("bob@rsa.test", &to, "forged"),
    ]
    .concat();
    let reply = post_sendgrid(&forged);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains("550 5.7.1"), "{}", reply.body);
    assert_eq!(srv.messages(&conv.uuid).len(), 1);
}
