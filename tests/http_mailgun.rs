//! The Mailgun ingress against a running server: a signed `forward()` post lands in its
//! conversation with the rows SMTP makes; bad, missing and stale signatures are refused; a
//! retry hours later (Mailgun's 8 hours, with the original signature) is accepted once; a
//! token replayed with other content is refused; an unknown recipient gets `406` with a copy
//! in the operator inbox.

mod common;

use common::http::*;
use common::*;
use replyd::Clock;

const TOKEN: &str = "7VwW7k6Ak7zcTwoSoNm7aTtbk1g67MKAnsYLfUB7PdszbgR5Xi";

#[test]
fn mailgun_post_lands_in_its_conversation_like_smtp() {
    let srv = http_server(|_| {});
    let addr = srv.http_addr.unwrap();
    let over_http = srv.conversation("bob@example.org");
    let over_smtp = srv.conversation("bob@example.org");

    let raw = reply_to(
        &over_http.reply_address,
        "mg1@example.org",
        "Thanks, it works.",
    );
    let fields = mailgun_fields(unix_now(), TOKEN, Some(&over_http.reply_address), &raw);
    let reply = post_mailgun(addr, &fields);
    assert_eq!(reply.status, 200, "{}", reply.body);

    let smtp_raw = reply_message(
        &over_smtp.reply_address,
        "mg1@example.org",
        "Thanks, it works.",
    );
    let (code, text) =
        Raw::greeted(srv.addr).send_mail("bob@example.org", &[&over_smtp.reply_address], &smtp_raw);
    assert_eq!(code, 250, "{text}");

    let http = srv.messages(&over_http.uuid);
    let smtp = srv.messages(&over_smtp.uuid);
    assert_eq!(http.len(), 1);
    let (h, s) = (&http[0], &smtp[0]);
    assert_eq!(h.message_id, s.message_id);
    assert_eq!(h.from, s.from);
    assert_eq!(h.subject, s.subject);
    assert_eq!(h.reply_text, s.reply_text);
    assert_eq!(h.flags, s.flags);
    assert_eq!(h.automated, s.automated);
    assert_eq!(h.envelope_sender.as_deref(), Some("bob@example.org"));
    assert_eq!(
        h.envelope_recipients.as_deref(),
        Some(over_http.reply_address.as_str())
    );
    assert_eq!(h.ingress.as_deref(), Some("mailgun"));
    assert_eq!(s.ingress, None);
    let stored = srv.raw(h.id);
    assert!(stored.starts_with(
        b"Received: from unknown ([127.0.0.1])\r\n\tby mx.test (replyd) with HTTP id "
    ));
    assert!(
        stored.ends_with(&raw),
        "the client's bytes are stored as sent"
    );
}

#[test]
fn mailgun_short_alias_and_to_header_without_recipient() {
    let srv = http_server(|_| {});
    let conv = srv.conversation("bob@example.org");
    let raw = reply_to(&conv.reply_address, "alias@example.org", "By the alias.");
    let fields = mailgun_fields(unix_now(), "a".repeat(50).as_str(), None, &raw);
    let reply = post(
        srv.http_addr.unwrap(),
        "/ingress/mailgun/mime",
        "application/x-www-form-urlencoded",
        None,
        urlencoded(&borrowed(&fields)),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let m = srv.messages(&conv.uuid);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].reply_text.as_deref(), Some("By the alias."));
}

#[test]
fn mailgun_multipart_is_accepted_too() {
    let srv = http_server(|_| {});
    let conv = srv.conversation("bob@example.org");
    let raw = reply_to(&conv.reply_address, "mp@example.org", "Multipart.");
    let fields = mailgun_fields(unix_now(), TOKEN, Some(&conv.reply_address), &raw);
    let (content_type, body) = multipart(&borrowed(&fields));
    let reply = post(srv.http_addr.unwrap(), MAILGUN, &content_type, None, body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(srv.messages(&conv.uuid).len(), 1);
}

#[test]
fn mailgun_bad_missing_and_stale_signatures_are_refused() {
    let srv = http_server(|_| {});
    let addr = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@example.org");
    let raw = reply_to(&conv.reply_address, "bad@example.org", "x");

    // Signed with another key (the API key instead of the signing key).
    let mut forged = mailgun_fields(unix_now(), TOKEN, Some(&conv.reply_address), &raw);
    forged[2].1 = mailgun_signature("key-0123456789", unix_now(), TOKEN).into_bytes();
    assert_eq!(post_mailgun(addr, &forged).status, 401);

    // Another token under the first one's signature.
    let mut swapped = mailgun_fields(unix_now(), TOKEN, Some(&conv.reply_address), &raw);
    swapped[1].1 = b"Zx8mJBiGmiiyyfWnho3zKyjCg2pxLARoCuBM7X9AKCioShGiMX".to_vec();
    assert_eq!(post_mailgun(addr, &swapped).status, 401);

    // No signature at all.
    let mut unsigned = mailgun_fields(unix_now(), TOKEN, Some(&conv.reply_address), &raw);
    unsigned.remove(2);
    assert_eq!(post_mailgun(addr, &unsigned).status, 400);

    // Older than max_age (24 h), and as far in the future.
    let day = 24 * 3600;
    let stale = mailgun_fields(
        unix_now() - day - 60,
        TOKEN,
        Some(&conv.reply_address),
        &raw,
    );
    assert_eq!(post_mailgun(addr, &stale).status, 401);
    let future = mailgun_fields(
        unix_now() + day + 60,
        TOKEN,
        Some(&conv.reply_address),
        &raw,
    );
    assert_eq!(post_mailgun(addr, &future).status, 401);

    // A store() route or a URL without /mime: parsed fields, no body-mime.
    let mut parsed = mailgun_fields(unix_now(), TOKEN, Some(&conv.reply_address), &raw);
    parsed.retain(|(n, _)| n != "body-mime");
    parsed.push(("body-plain".into(), b"x".to_vec()));
    assert_eq!(post_mailgun(addr, &parsed).status, 400);

    assert!(srv.messages(&conv.uuid).is_empty());
    assert!(srv.inbox().is_empty());
}

#[test]
fn mailgun_retry_six_hours_later_is_accepted_once_and_a_replayed_token_is_refused() {
    let signed_at = unix_now();
    let clock = Clock::manual(signed_at + 6 * 3600);
    let srv = http_server(|c| c.ingress.clock = clock.clone());
    let addr = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@example.org");
    let raw = reply_to(
        &conv.reply_address,
        "retry@example.org",
        "Sent during the outage.",
    );
    let fields = mailgun_fields(signed_at, TOKEN, Some(&conv.reply_address), &raw);

    // Mailgun's retry 6 hours after the first attempt, with the original signature.
    let first = post_mailgun(addr, &fields);
    assert_eq!(first.status, 200, "{}", first.body);
    clock.set(signed_at + 7 * 3600);
    let again = post_mailgun(addr, &fields);
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(again.body.contains("already stored"), "{}", again.body);
    assert_eq!(srv.messages(&conv.uuid).len(), 1);

    // The same signature (timestamp and token) with other mail: a replay.
    let other = reply_to(&conv.reply_address, "forged@example.org", "Wire the money.");
    let replayed = mailgun_fields(signed_at, TOKEN, Some(&conv.reply_address), &other);
    let reply = post_mailgun(addr, &replayed);
    assert_eq!(reply.status, 401, "{}", reply.body);
    let messages = srv.messages(&conv.uuid);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].message_id.as_deref(), Some("retry@example.org"));

    // Past max_age, even the genuine retry is stale.
    clock.set(signed_at + 25 * 3600);
    assert_eq!(post_mailgun(addr, &fields).status, 401);
}

#[test]
fn mailgun_replay_record_outlives_a_restart() {
    let dir = TempDir::new("mg-restart");
    let db = dir.path().join("replyd.sqlite3");
    let signed_at = unix_now();
    let conv;
    let raw;
    {
        let srv = http_server(|c| c.store.path = db.clone());
        conv = srv.conversation("bob@example.org");
        raw = reply_to(&conv.reply_address, "first@example.org", "First.");
        let fields = mailgun_fields(signed_at, TOKEN, Some(&conv.reply_address), &raw);
        assert_eq!(post_mailgun(srv.http_addr.unwrap(), &fields).status, 200);
    }
    let srv = http_server(|c| c.store.path = db.clone());
    let other = reply_to(&conv.reply_address, "second@example.org", "Second.");
    let replayed = mailgun_fields(signed_at, TOKEN, Some(&conv.reply_address), &other);
    assert_eq!(post_mailgun(srv.http_addr.unwrap(), &replayed).status, 401);
    let genuine = mailgun_fields(signed_at, TOKEN, Some(&conv.reply_address), &raw);
    assert_eq!(post_mailgun(srv.http_addr.unwrap(), &genuine).status, 200);
    assert_eq!(srv.messages(&conv.uuid).len(), 1);
}

#[test]
fn mailgun_unknown_recipient_is_406_with_a_copy_for_the_operator() {
    let srv = http_server(|_| {});
    let addr = srv.http_addr.unwrap();
    let unknown = unknown_reply_address();
    let raw = reply_to(&unknown, "lost@example.org", "Is anyone there?");
    let reply = post_mailgun(
        addr,
        &mailgun_fields(unix_now(), TOKEN, Some(&unknown), &raw),
    );
    assert_eq!(reply.status, 406, "{}", reply.body);
    let inbox = srv.inbox();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].reason, InboxReason::UnknownRecipient);
    assert_eq!(
        inbox[0].envelope_recipients.as_deref(),
        Some(unknown.as_str())
    );

    // A closed conversation and a foreign domain: the same answer.
    let conv = srv.conversation("bob@example.org");
    srv.block(srv.store.close_conversation(&conv.uuid)).unwrap();
    let raw = reply_to(&conv.reply_address, "late@example.org", "One more thing");
    let token = "b".repeat(50);
    let reply = post_mailgun(
        addr,
        &mailgun_fields(unix_now(), &token, Some(&conv.reply_address), &raw),
    );
    assert_eq!(reply.status, 406, "{}", reply.body);
    let token = "c".repeat(50);
    let foreign = mailgun_fields(unix_now(), &token, Some("someone@elsewhere.example"), &raw);
    assert_eq!(post_mailgun(addr, &foreign).status, 406);
    assert_eq!(srv.inbox().len(), 3);
    assert!(srv.messages(&conv.uuid).is_empty());
}

#[test]
fn unknown_recipient_drop_keeps_only_the_log_line() {
    let srv = http_server(|c| c.ingress.unknown_recipient = replyd::config::UnknownRecipient::Drop);
    let unknown = unknown_reply_address();
    let raw = reply_to(&unknown, "dropped@example.org", "x");
    let reply = post_mailgun(
        srv.http_addr.unwrap(),
        &mailgun_fields(unix_now(), TOKEN, Some(&unknown), &raw),
    );
    assert_eq!(reply.status, 406);
    assert!(srv.inbox().is_empty());
}

#[test]
fn recipient_with_cr_lf_or_not_an_address_is_400() {
    let srv = http_server(|_| {});
    let addr = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@example.org");
    let raw = reply_to(&conv.reply_address, "crlf@example.org", "x");
    for bad in [
        format!("{}\r\nX-Injected: yes", conv.reply_address),
        format!("{}\nBcc: a@b", conv.reply_address),
        "not an address".to_string(),
    ] {
        let reply = post_mailgun(addr, &mailgun_fields(unix_now(), TOKEN, Some(&bad), &raw));
        assert_eq!(reply.status, 400, "{bad:?}: {}", reply.body);
    }
    // The sender is checked alike.
    let mut fields = mailgun_fields(unix_now(), TOKEN, Some(&conv.reply_address), &raw);
    fields[3].1 = b"bob@example.org\r\nX-Injected: yes".to_vec();
    assert_eq!(post_mailgun(addr, &fields).status, 400);
    assert!(srv.messages(&conv.uuid).is_empty());
}

#[test]
fn a_message_over_max_message_size_is_413() {
    let srv = http_server(|c| c.limits.max_message_size = 16 * 1024);
    let conv = srv.conversation("bob@example.org");
    let raw = message_with(&conv.reply_address, "", 20 * 1024);
    let fields = mailgun_fields(unix_now(), TOKEN, Some(&conv.reply_address), &raw);
    assert_eq!(post_mailgun(srv.http_addr.unwrap(), &fields).status, 413);
    assert!(srv.messages(&conv.uuid).is_empty());
}

#[test]
fn an_ingress_without_a_secret_is_off() {
    let srv = TestServer::start_with(|c| {
        c.http.listen = vec!["127.0.0.1:0".parse().unwrap()];
        c.ingress.relay.password = Some(PASSWORD.into());
    });
    let addr = srv.http_addr.unwrap();
    let raw = reply_to(&unknown_reply_address(), "off@example.org", "x");
    let fields = mailgun_fields(unix_now(), TOKEN, None, &raw);
    assert_eq!(post_mailgun(addr, &fields).status, 404);
    for path in [SENDGRID, POSTMARK, MANDRILL] {
        let reply = post(
            addr,
            path,
            "application/json",
            Some(PASSWORD),
            b"{}".to_vec(),
        );
        assert_eq!(reply.status, 404, "{path}");
    }
    assert_eq!(request(addr, "HEAD", MANDRILL, &[], vec![]).status, 404);
    assert_eq!(
        request(addr, "GET", "/nothing/here", &[], vec![]).status,
        404
    );
}

#[test]
fn two_requests_racing_with_one_token_store_one_and_refuse_the_other_for_good() {
    let srv = http_server(|c| c.store.busy_timeout = Duration::from_secs(30));
    let addr = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@example.org");
    let signed_at = unix_now();
    // Both pass the check made before the transaction while the writer waits for the lock;
    // the second to commit finds the token taken inside its transaction.
    let lock = srv.lock_database();
    let posts: Vec<_> = ["first@example.org", "second@example.org"]
        .into_iter()
        .map(|id| {
            let raw = reply_to(&conv.reply_address, id, "Racing.");
            let fields = mailgun_fields(signed_at, TOKEN, Some(&conv.reply_address), &raw);
            std::thread::spawn(move || post_mailgun(addr, &fields))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    lock.release().unwrap();
    let mut replies: Vec<Reply> = posts.into_iter().map(|p| p.join().unwrap()).collect();
    replies.sort_by_key(|r| r.status);
    assert_eq!(replies[0].status, 200, "{}", replies[0].body);
    // 401, not a 503 that Mailgun would retry for 8 hours.
    assert_eq!(replies[1].status, 401, "{}", replies[1].body);
    assert!(
        replies[1].body.contains("used before with other content"),
        "{}",
        replies[1].body
    );
    assert_eq!(srv.messages(&conv.uuid).len(), 1);
}
