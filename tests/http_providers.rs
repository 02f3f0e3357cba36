//! SendGrid, Mandrill, Postmark and the relay ingress against a running server: each
//! provider's payload in its documented shape lands in the right conversation, and each row
//! of the outcome table gets that provider's status code (issue 17, point 5).

mod common;

use common::http::*;
use common::*;

fn sendgrid(addr: std::net::SocketAddr, fields: &[(&str, &[u8])], auth: Option<&str>) -> Reply {
    let (content_type, body) = multipart(fields);
    post(addr, SENDGRID, &content_type, auth, body)
}

#[test]
fn sendgrid_multipart_lands_with_envelope_and_verdicts() {
    let srv = http_server(|_| {});
    let addr = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@example.org");
    // Bcc'd: only the envelope names the conversation.
    let raw = reply_to(
        "someone-else@example.net",
        "sg1@example.org",
        "Via SendGrid.",
    );
    let envelope = format!(
        "{{\"to\":[\"{}\"],\"from\":\"bob@example.org\"}}",
        conv.reply_address
    );
    let reply = sendgrid(
        addr,
        &[
            ("headers", b"From: Bob <bob@example.org>"),
            ("email", &raw),
            ("envelope", envelope.as_bytes()),
            ("SPF", b"pass"),
            ("dkim", b"{@example.org : pass}"),
            ("spam_score", b"0.1"),
        ],
        Some(PASSWORD),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let m = srv.messages(&conv.uuid);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].reply_text.as_deref(), Some("Via SendGrid."));
    assert_eq!(m[0].ingress.as_deref(), Some("sendgrid"));
    assert_eq!(m[0].spf.as_deref(), Some("sendgrid: pass"));
    assert_eq!(
        m[0].dkim.as_deref(),
        Some("sendgrid: {@example.org : pass}")
    );
    assert_eq!(m[0].envelope_sender.as_deref(), Some("bob@example.org"));
    assert_eq!(srv.client_bytes(&m[0]), raw);

    // A retry of the same post: 200, stored once.
    let again = sendgrid(
        addr,
        &[("email", &raw), ("envelope", envelope.as_bytes())],
        Some(PASSWORD),
    );
    assert_eq!(again.status, 200);
    assert_eq!(srv.messages(&conv.uuid).len(), 1);
}

#[test]
fn sendgrid_outcomes() {
    let srv = http_server(|_| {});
    let addr = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@example.org");
    let raw = reply_to(&conv.reply_address, "sg2@example.org", "x");
    // A wrong password must not lose mail: SendGrid retries only 5xx.
    assert_eq!(sendgrid(addr, &[("email", &raw)], None).status, 503);
    assert_eq!(
        sendgrid(addr, &[("email", &raw)], Some("wrong")).status,
        503
    );
    // The URL check, or the raw option unticked: no `email`.
    let probe = sendgrid(addr, &[("text", b"hello")], Some(PASSWORD));
    assert_eq!(probe.status, 400);
    assert!(probe.body.contains("raw, full MIME"), "{}", probe.body);
    let bad_json = sendgrid(
        addr,
        &[("email", &raw), ("envelope", b"{to:")],
        Some(PASSWORD),
    );
    assert_eq!(bad_json.status, 400);
    let wrong_shape = [("email", raw.as_slice()), ("envelope", b"{\"to\":\"a@b\"}")];
    assert_eq!(sendgrid(addr, &wrong_shape, Some(PASSWORD)).status, 400);
    // An unknown recipient: 200 (SendGrid would drop it anyway), a copy for the operator.
    let unknown = unknown_reply_address();
    let lost = reply_to(&unknown, "sg-lost@example.org", "x");
    let envelope = format!("{{\"to\":[\"{unknown}\"],\"from\":\"bob@example.org\"}}");
    let reply = sendgrid(
        addr,
        &[("email", &lost), ("envelope", envelope.as_bytes())],
        Some(PASSWORD),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(srv.inbox().len(), 1);
    assert!(srv.messages(&conv.uuid).is_empty());
}

#[test]
fn mandrill_head_url_check_and_signed_batch() {
    let srv = http_server(|_| {});
    let addr = srv.http_addr.unwrap();
    assert_eq!(request(addr, "HEAD", MANDRILL, &[], vec![]).status, 200);
    assert_eq!(
        request(addr, "GET", "/ingress/mandrill", &[], vec![]).status,
        200
    );
    // The fallback check: `[]` signed with the public test key; nothing stored.
    assert_eq!(post_mandrill(addr, "[]", "test-webhook").status, 200);
    // The test key signs nothing else.
    let a = srv.conversation("bob@example.org");
    let b = srv.conversation("carol@example.org");
    let raw_a =
        String::from_utf8(reply_to(&a.reply_address, "md-a@example.org", "First.")).unwrap();
    let raw_b =
        String::from_utf8(reply_to(&b.reply_address, "md-b@example.org", "Second.")).unwrap();
    let one = serde_json::json!([mandrill_event(&raw_a, &a.reply_address, "ev-a")]).to_string();
    assert_eq!(post_mandrill(addr, &one, "test-webhook").status, 401);

    // A batch: two inbound events, a non-inbound one, and a bad one (CR/LF recipient)
    // refused on its own.
    let events = serde_json::json!([
        mandrill_event(&raw_a, &a.reply_address, "ev-a"),
        {"event": "send", "msg": {}},
        mandrill_event(&raw_b, &format!("{}\r\nX: y", b.reply_address), "ev-bad"),
        mandrill_event(&raw_b, &b.reply_address, "ev-b"),
    ])
    .to_string();
    let reply = post_mandrill(addr, &events, MANDRILL_KEY);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let ma = srv.messages(&a.uuid);
    let mb = srv.messages(&b.uuid);
    assert_eq!((ma.len(), mb.len()), (1, 1));
    assert_eq!(ma[0].provider_id.as_deref(), Some("ev-a"));
    assert_eq!(mb[0].provider_id.as_deref(), Some("ev-b"));
    assert_eq!(ma[0].ingress.as_deref(), Some("mandrill"));
    assert_eq!(ma[0].spf.as_deref(), Some("mandrill: pass"));
    assert_eq!(ma[0].dkim.as_deref(), Some("mandrill: pass"));
    assert_eq!(ma[0].envelope_sender.as_deref(), Some("bob@example.org"));
    // The retried batch is deduplicated.
    assert_eq!(post_mandrill(addr, &events, MANDRILL_KEY).status, 200);
    assert_eq!(srv.messages(&a.uuid).len(), 1);
    assert_eq!(srv.messages(&b.uuid).len(), 1);
}

#[test]
fn mandrill_outcomes() {
    let srv = http_server(|_| {});
    let addr = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@example.org");
    let raw = String::from_utf8(reply_to(&conv.reply_address, "md@example.org", "x")).unwrap();
    let events = serde_json::json!([mandrill_event(&raw, &conv.reply_address, "e1")]).to_string();
    assert_eq!(post_mandrill(addr, &events, "another-key").status, 401);
    let unsigned = post(
        addr,
        MANDRILL,
        "application/x-www-form-urlencoded",
        None,
        urlencoded(&[("mandrill_events", events.as_bytes())]),
    );
    assert_eq!(unsigned.status, 401);
    assert_eq!(post_mandrill(addr, "[{not json", MANDRILL_KEY).status, 422);
    // Signed, but no mandrill_events.
    let fields: [(&str, &[u8]); 1] = [("other", b"x")];
    let signature = mandrill_signature(MANDRILL_KEY, MANDRILL_URL, &fields);
    let missing = request(
        addr,
        "POST",
        MANDRILL,
        &[
            ("content-type", "application/x-www-form-urlencoded".into()),
            ("x-mandrill-signature", signature),
        ],
        urlencoded(&fields),
    );
    assert_eq!(missing.status, 400);
    // An unknown recipient: that event gets 200, a copy goes to the operator.
    let unknown = unknown_reply_address();
    let lost = String::from_utf8(reply_to(&unknown, "md-lost@example.org", "x")).unwrap();
    let events = serde_json::json!([mandrill_event(&lost, &unknown, "e2")]).to_string();
    assert_eq!(post_mandrill(addr, &events, MANDRILL_KEY).status, 200);
    assert_eq!(srv.inbox().len(), 1);
    assert!(srv.messages(&conv.uuid).is_empty());
}

fn postmark_json(raw: &str, original_recipient: Option<&str>) -> Vec<u8> {
    let mut v = serde_json::json!({
        "From": "bob@example.org",
        "FromFull": {"Email": "bob@example.org", "Name": "Bob", "MailboxHash": ""},
        "To": "someone@example.net",
        "Subject": "Re: Order 42",
        "MessageID": "22c74902-a0c1-4511-804f-341342852c90",
        "MailboxHash": "",
        "TextBody": "Via Postmark.",
        "Headers": [{"Name": "X-Spam-Status", "Value": "No"}],
        "Attachments": [],
        "RawEmail": raw,
    });
    if let Some(r) = original_recipient {
        v["OriginalRecipient"] = r.into();
    }
    v.to_string().into_bytes()
}

#[test]
fn postmark_json_lands_by_original_recipient() {
    let srv = http_server(|_| {});
    let addr = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@example.org");
    let raw = String::from_utf8(reply_to(
        "someone@example.net",
        "pm1@example.org",
        "Via Postmark.",
    ))
    .unwrap();
    let body = postmark_json(&raw, Some(&conv.reply_address));
    let reply = post(addr, POSTMARK, "application/json", Some(PASSWORD), body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let m = srv.messages(&conv.uuid);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].reply_text.as_deref(), Some("Via Postmark."));
    assert_eq!(
        m[0].provider_id.as_deref(),
        Some("22c74902-a0c1-4511-804f-341342852c90")
    );
    assert_eq!(m[0].ingress.as_deref(), Some("postmark"));
    assert_eq!(m[0].envelope_sender.as_deref(), Some("bob@example.org"));
}

#[test]
fn postmark_outcomes() {
    let srv = http_server(|_| {});
    let addr = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@example.org");
    let raw = String::from_utf8(reply_to(&conv.reply_address, "pm2@example.org", "x")).unwrap();
    let body = postmark_json(&raw, None);
    let no_auth = post(addr, POSTMARK, "application/json", None, body.clone());
    assert_eq!(no_auth.status, 401);
    assert!(no_auth.header("www-authenticate").is_some());
    assert_eq!(
        post(addr, POSTMARK, "application/json", Some("x"), body).status,
        401
    );
    // The checkbox unticked: no RawEmail.
    let reply = post(
        addr,
        "/ingress/postmark",
        "application/json",
        Some(PASSWORD),
        br#"{"From":"someone@example.com"}"#.to_vec(),
    );
    assert_eq!(reply.status, 422);
    assert!(
        reply.body.contains("Include raw email content"),
        "{}",
        reply.body
    );
    assert_eq!(
        post(
            addr,
            POSTMARK,
            "application/json",
            Some(PASSWORD),
            b"{".to_vec()
        )
        .status,
        422
    );
    // Unknown recipient: 403 stops Postmark's retries; the operator gets a copy.
    let unknown = unknown_reply_address();
    let lost = String::from_utf8(reply_to(&unknown, "pm-lost@example.org", "x")).unwrap();
    let body = postmark_json(&lost, Some(&unknown));
    assert_eq!(
        post(addr, POSTMARK, "application/json", Some(PASSWORD), body).status,
        403
    );
    assert_eq!(srv.inbox().len(), 1);
    assert!(srv.messages(&conv.uuid).is_empty());
}

#[test]
fn relay_rfc822_with_recipient_parameter_or_topmost_header() {
    let srv = http_server(|_| {});
    let addr = srv.http_addr.unwrap();
    let a = srv.conversation("bob@example.org");
    let b = srv.conversation("carol@example.org");
    let raw = reply_to("list@example.net", "r1@example.org", "By parameter.");
    let path = format!(
        "{RELAY}?recipient={}&sender=",
        a.reply_address.replace('+', "%2B")
    );
    let reply = post(addr, &path, "message/rfc822", Some(PASSWORD), raw.clone());
    assert_eq!(reply.status, 200, "{}", reply.body);
    let m = srv.messages(&a.uuid);
    assert_eq!(m.len(), 1);
    // `sender=` empty: a bounce's null sender survives.
    assert_eq!(m[0].envelope_sender.as_deref(), Some(""));
    assert_eq!(m[0].ingress.as_deref(), Some("relay"));

    // Postfix's `O`/`D` flags: the topmost header wins over a forged lower one.
    let mut raw = format!(
        "X-Original-To: {}\r\nDelivered-To: {}\r\n",
        b.reply_address, a.reply_address
    )
    .into_bytes();
    raw.extend(reply_to("list@example.net", "r2@example.org", "By header."));
    let reply = post(
        addr,
        "/ingress/relay",
        "Message/RFC822; charset=binary",
        Some(PASSWORD),
        raw,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(srv.messages(&b.uuid).len(), 1);
    assert_eq!(srv.messages(&a.uuid).len(), 1);
}

#[test]
fn relay_outcomes() {
    let srv = http_server(|_| {});
    let addr = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@example.org");
    let raw = reply_to(&conv.reply_address, "r3@example.org", "x");
    let no_auth = post(addr, RELAY, "message/rfc822", None, raw.clone());
    assert_eq!(no_auth.status, 401);
    assert_eq!(
        no_auth.header("www-authenticate"),
        Some("Basic realm=\"Action Mailbox\"")
    );
    assert_eq!(
        post(addr, RELAY, "text/plain", Some(PASSWORD), raw.clone()).status,
        415
    );
    // Checked after auth, as Rails does.
    assert_eq!(
        post(addr, RELAY, "text/plain", None, raw.clone()).status,
        401
    );
    assert_eq!(
        post(addr, RELAY, "message/rfc822", Some(PASSWORD), vec![]).status,
        400
    );
    let bad = format!("{RELAY}?recipient=a%40b%0D%0AX-Evil%3A%201");
    assert_eq!(
        post(addr, &bad, "message/rfc822", Some(PASSWORD), raw.clone()).status,
        400
    );
    let unknown = format!(
        "{RELAY}?recipient={}",
        unknown_reply_address().replace('+', "%2B")
    );
    assert_eq!(
        post(addr, &unknown, "message/rfc822", Some(PASSWORD), raw).status,
        422
    );
    assert_eq!(srv.inbox().len(), 1);
    assert!(srv.messages(&conv.uuid).is_empty());
}

#[test]
fn postmaster_over_http_reaches_the_operator_and_is_200() {
    let srv = http_server(|_| {});
    let raw = reply_to(
        &format!("postmaster@{DOMAIN}"),
        "pmaster@example.org",
        "Hello postmaster",
    );
    let path = format!("{RELAY}?recipient=postmaster%40{DOMAIN}");
    let reply = post(
        srv.http_addr.unwrap(),
        &path,
        "message/rfc822",
        Some(PASSWORD),
        raw,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let inbox = srv.inbox();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].reason, InboxReason::Postmaster);
}

#[test]
fn mandrill_batch_of_a_thousand_events() {
    let srv = http_server(|_| {});
    let conv = srv.conversation("bob@example.org");
    let events: Vec<_> = (0..1000)
        .map(|i| {
            let raw = reply_to(&conv.reply_address, &format!("batch{i}@example.org"), "x");
            let raw = String::from_utf8(raw).unwrap();
            mandrill_event(&raw, &conv.reply_address, &format!("ev{i}"))
        })
        .collect();
    let events = serde_json::Value::Array(events).to_string();
    let reply = post_mandrill(srv.http_addr.unwrap(), &events, MANDRILL_KEY);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(srv.messages(&conv.uuid).len(), 1000);
}
