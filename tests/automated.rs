//! Automated mail is stored but flagged with why; a person's reply never is. Attachments,
//! inline images, limits and nested messages, asserted on the stored rows.

mod common;

use common::*;

fn send(srv: &TestServer, to: &str, sender: &str, headers: &str, body: &str) -> i64 {
    let msg = format!(
        "From: Someone <someone@example.org>\r\nTo: {to}\r\nMessage-ID: <{}@example.org>\r\n{headers}\r\n{body}\r\n",
        unique_id()
    );
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO client.test", 250, "");
    c.expect(&format!("MAIL FROM:<{sender}>"), 250, "2.1.0");
    c.expect(&format!("RCPT TO:<{to}>"), 250, "2.1.5");
    c.expect("DATA", 354, "");
    c.send(msg.as_bytes());
    let text = c.expect(".", 250, "2.0.0");
    text.rsplit('m').next().unwrap().trim().parse().unwrap()
}

fn automated(srv: &TestServer, id: i64) -> Option<String> {
    srv.message(id).automated.map(|a| a.as_str().to_string())
}

#[test]
fn each_automated_rule_flags_and_people_are_not_flagged() {
    let srv = TestServer::start();
    let conv = srv.conversation("someone@example.org");
    let to = conv.reply_address.as_str();
    let person = "bob@example.org";
    let cases: &[(&str, &str, &str, Option<&str>)] = &[
        // (envelope sender, extra headers, subject, expected)
        (
            person,
            "Auto-Submitted: auto-replied\r\n",
            "Re: order",
            Some("auto_reply"),
        ),
        (
            person,
            "Auto-Submitted: auto-generated; owner-email=x@y\r\n",
            "Order",
            Some("auto_reply"),
        ),
        (person, "Auto-Submitted: no\r\n", "Re: order", None),
        (person, "X-Autoreply: yes\r\n", "Order", Some("auto_reply")),
        (
            person,
            "X-Autorespond: on vacation\r\n",
            "Order",
            Some("auto_reply"),
        ),
        (
            person,
            "X-MS-Exchange-Inbox-Rules-Loop: bob@example.org\r\n",
            "Order",
            Some("auto_reply"),
        ),
        (
            person,
            "X-Auto-Response-Suppress: All\r\n",
            "Re: order",
            None,
        ),
        (person, "Precedence: bulk\r\n", "Newsletter", Some("list")),
        (person, "Precedence: junk\r\n", "Offer", Some("list")),
        (person, "Precedence: list\r\n", "Digest", Some("list")),
        (
            person,
            "Precedence: auto_reply\r\n",
            "Away",
            Some("auto_reply"),
        ),
        (
            person,
            "List-Id: <users.lists.example.org>\r\n",
            "Re: thread",
            Some("list"),
        ),
        (
            person,
            "List-Unsubscribe: <mailto:leave@example.org>\r\n",
            "Hello",
            Some("list"),
        ),
        ("", "", "Delivery problem", Some("bounce")),
        (
            person,
            "",
            "Out of Office: back on Monday",
            Some("auto_reply"),
        ),
        (person, "", "Automatic reply: Order 42", Some("auto_reply")),
        (
            person,
            "",
            "Abwesenheitsnotiz: Bestellung",
            Some("auto_reply"),
        ),
        (person, "", "Re: your out of office message was odd", None),
        (person, "", "Re: Order 42", None),
        (person, "", "Thanks!", None),
    ];
    for (sender, headers, subject, expected) in cases {
        let id = send(
            &srv,
            to,
            sender,
            &format!("Subject: {subject}\r\n{headers}"),
            "Hello",
        );
        assert_eq!(
            automated(&srv, id).as_deref(),
            *expected,
            "sender {sender:?}, headers {headers:?}, subject {subject:?}"
        );
    }
    // mailer-daemon sender and multipart/report delivery and disposition reports.
    let id = send(&srv, to, "", "Subject: Undelivered Mail\r\n", "x");
    assert_eq!(automated(&srv, id).as_deref(), Some("bounce"));
    let daemon = "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: x\r\nSubject: failure\r\n\r\nsorry\r\n";
    let mut c = Raw::greeted(srv.addr);
    let (code, text) = c.send_mail(person, &[to], daemon);
    assert_eq!(code, 250);
    let id: i64 = text.rsplit('m').next().unwrap().trim().parse().unwrap();
    assert_eq!(automated(&srv, id).as_deref(), Some("bounce"));
    let mdn = "From: bob@example.org\r\nSubject: Read: Order\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/report; report-type=disposition-notification; boundary=\"r\"\r\n\r\n\
        --r\r\nContent-Type: text/plain\r\n\r\nYour message was read.\r\n\
        --r\r\nContent-Type: message/disposition-notification\r\n\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n--r--\r\n";
    let (code, text) = c.send_mail(person, &[to], mdn);
    assert_eq!(code, 250);
    let id: i64 = text.rsplit('m').next().unwrap().trim().parse().unwrap();
    assert_eq!(automated(&srv, id).as_deref(), Some("auto_reply"));
}

#[test]
fn bounce_is_linked_to_the_outgoing_message() {
    let srv = TestServer::start();
    let conv = srv.conversation("gone@example.org");
    let stamped = srv.block(replyd::outbound::stamp_and_record(&srv.store,
            &conv.uuid,
            b"From: Alice <alice@support.example.com>\r\nTo: gone@example.org\r\nSubject: Hi\r\n\r\nHello\r\n",
            None,
        ))
        .unwrap();
    let dsn = bounce_of(&conv.reply_address, &stamped.message_id);
    let mut c = Raw::greeted(srv.addr);
    let (code, text) = c.send_mail("", &[&conv.reply_address], &dsn);
    assert_eq!(code, 250, "{text}");
    let m = srv.only_incoming();
    assert_eq!(m.automated, Some(Automated::Bounce));
    assert_eq!(m.related_message, Some(stamped.stored_id));
}

#[test]
fn attachments_inline_images_limits_and_nested_messages() {
    let srv = TestServer::start_with(|c| {
        c.message.max_attachment_size = 1000;
        c.message.max_attachments = 4;
    });
    let conv = srv.conversation("bob@example.org");
    let big = "QUJD".repeat(400); // 1200 decoded bytes
    let msg = format!(
        "From: Bob <bob@example.org>\r\nTo: {to}\r\nSubject: Re: photos\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"mixed\"\r\n\r\n\
--mixed\r\nContent-Type: multipart/related; boundary=\"rel\"\r\n\r\n\
--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>See the picture:</p><img src=\"cid:img1@bob\">\r\n\
--rel\r\nContent-Type: image/png\r\nContent-ID: <img1@bob>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n\
--rel--\r\n\
--mixed\r\nContent-Type: application/pdf; name=\"invoice.pdf\"\r\nContent-Disposition: attachment; filename=\"invoice.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQ=\r\n\
--mixed\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"huge.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{big}\r\n\
--mixed\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"forwarded.eml\"\r\n\r\n\
From: Carol <carol@example.org>\r\nSubject: the original\r\n\r\nNESTED TEXT MUST NOT BE IN THE REPLY\r\n\
--mixed\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"a.txt\"\r\n\r\nA\r\n\
--mixed\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"b.txt\"\r\n\r\nB\r\n\
--mixed--\r\n",
        to = conv.reply_address
    );
    let mut c = Raw::greeted(srv.addr);
    let (code, text) = c.send_mail("bob@example.org", &[&conv.reply_address], &msg);
    assert_eq!(code, 250, "{text}");
    let m = &srv.block(srv.store.messages(&conv.uuid)).unwrap()[0];
    let rows = &m.attachments;
    // Described (4 = max_attachments), kept ones first: the inline image, the pdf, the nested
    // message, and huge.bin (not kept: size); a.txt and b.txt are past the limit: counted.
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(rows[0].content_type, "image/png");
    assert_eq!(rows[0].content_id.as_deref(), Some("img1@bob"));
    assert!(rows[0].inline, "cid-referenced image is inline");
    assert_eq!(rows[1].filename.as_deref(), Some("invoice.pdf"));
    assert_eq!(rows[1].size, 8);
    assert!(!rows[1].inline);
    let huge = &rows[3];
    assert_eq!(huge.filename.as_deref(), Some("huge.bin"));
    assert_eq!(huge.size, 1200);
    assert!(huge
        .skipped_reason
        .as_deref()
        .unwrap()
        .contains("max_attachment_size"));
    assert_eq!(rows[2].content_type, "message/rfc822");
    assert_eq!(rows[2].filename.as_deref(), Some("forwarded.eml"));
    assert!(!rows[2].inline);
    assert_eq!((m.omitted_attachments, m.omitted_attachment_bytes), (2, 2));
    assert!(m.flags.contains(&Flag::AttachmentsOmitted), "{:?}", m.flags);
    assert!(m.notes.contains("max_attachments (4)"), "{}", m.notes);
    // Kept bytes are there; skipped ones are not.
    let data: Vec<(String, Option<Vec<u8>>)> = rows
        .iter()
        .map(|a| {
            let bytes = srv.block(srv.store.attachment_data(a.id)).unwrap();
            (a.filename.clone().unwrap_or_default(), bytes)
        })
        .collect();
    assert_eq!(data[1].1.as_deref(), Some(&b"%PDF-1.4"[..]));
    assert!(data.iter().find(|d| d.0 == "huge.bin").unwrap().1.is_none());
    // The attached message's bytes, from its header block to the boundary.
    let nested = data.iter().find(|d| d.0 == "forwarded.eml").unwrap();
    let nested = String::from_utf8(nested.1.clone().unwrap()).unwrap();
    assert!(
        nested.starts_with("From: Carol <carol@example.org>\r\n"),
        "{nested:?}"
    );
    assert!(
        nested
            .trim_end()
            .ends_with("NESTED TEXT MUST NOT BE IN THE REPLY"),
        "{nested:?}"
    );
    // The nested message's text is not in the reply.
    let reply = m.reply_text.as_deref().unwrap();
    assert!(reply.contains("See the picture"), "{reply}");
    assert!(!reply.contains("NESTED TEXT"), "{reply}");
}

#[test]
fn who_wrote_it_customer_agent_or_colleague() {
    let srv = TestServer::start();
    let conv = srv.conversation("Bob@Example.org");
    let to = conv.reply_address.clone();
    let mut c = Raw::greeted(srv.addr);
    for (from, expected) in [
        ("Bob <bob@example.org>", true),
        ("Alice Agent <alice@support.example.com>", false),
        ("Carol Colleague <carol@example.org>", false),
    ] {
        let msg = format!(
            "From: {from}\r\nTo: {to}\r\nCc: carol@example.org\r\nSubject: Re: x\r\nMessage-ID: <{}@x>\r\n\r\nhello\r\n",
            unique_id()
        );
        assert_eq!(c.send_mail("bob@example.org", &[&to], &msg).0, 250);
        let m = srv
            .block(srv.store.messages(&conv.uuid))
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(m.sender_is_contact, Some(expected), "{from}");
        assert!(m.from.is_some());
        assert_eq!(m.cc.as_deref(), Some("carol@example.org"));
    }
}

#[test]
fn undecodable_text_is_noted_and_stored_as_valid_utf8() {
    let srv = TestServer::start();
    let conv = srv.conversation("bob@example.org");
    let mut c = Raw::greeted(srv.addr);
    c.start_data(&conv.reply_address);
    // Declared UTF-8, but the bytes are not.
    c.send(b"From: bob@example.org\r\nSubject: bytes\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nCaf\xe9 \xff\xfe ok\r\n.\r\n");
    assert_eq!(c.reply().0, 250);
    let m = srv
        .block(srv.store.messages(&conv.uuid))
        .unwrap()
        .pop()
        .unwrap();
    assert!(m.flags.contains(&Flag::UndecodablePart), "{:?}", m.flags);
    assert!(m.notes.contains("could not decode"), "{}", m.notes);
    assert!(m.reply_text.unwrap().ends_with(" ok"));
}
