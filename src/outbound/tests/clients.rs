//! Messages shaped like real clients' (Gmail, Outlook, Thunderbird, the fixtures), bytes that
//! are not a message, and arbitrary bytes.

use super::*;

#[test]
fn gmail_shaped_crlf_exact_header_block() {
    let raw = crlf(GMAIL);
    let prev = strings(&["root@support.example.com", CUSTOMER_ID]);
    let p = params(Some(CUSTOMER_ID), &prev);
    let out = stamp(&raw, &p).unwrap().bytes;
    let expected = crlf(&format!(
        "Message-ID: <{OUR_ID}>
In-Reply-To: <{CUSTOMER_ID}>
References: <root@support.example.com> <{CUSTOMER_ID}>
Reply-To: Agent Smith
 <{REPLY}>
X-Replyd-Conversation: {}
MIME-Version: 1.0
Date: Tue, 14 May 2024 10:21:07 +0200
Subject: Re: Order #1234 arrived damaged
From: Agent Smith <agent.smith@example.com>
To: Customer <customer@example.net>
Content-Type: multipart/mixed; boundary=\"000000000000a1b2c3d4e5f6\"
",
        MARKER.1
    ));
    assert_eq!(
        String::from_utf8_lossy(header_block(&out)),
        String::from_utf8_lossy(&expected)
    );
    check(&raw, &out, &p, &["root@support.example.com", CUSTOMER_ID]);

    let msg = MessageParser::default().parse(&out).unwrap();
    assert_eq!(msg.subject(), Some("Re: Order #1234 arrived damaged"));
    assert_eq!(
        msg.reply_to().unwrap().first().unwrap().name(),
        Some("Agent Smith")
    );
    assert_eq!(msg.attachment_count(), 1);
    let original = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(
        msg.attachment(0).unwrap().contents(),
        original.attachment(0).unwrap().contents()
    );
    assert_eq!(msg.body_text(0), original.body_text(0));
}

#[test]
fn outlook_shaped_crlf() {
    let raw = crlf(OUTLOOK);
    let p = params(Some(CUSTOMER_ID), &[]);
    let out = stamp(&raw, &p).unwrap().bytes;
    check(&raw, &out, &p, &[CUSTOMER_ID]);
    let text = String::from_utf8_lossy(header_block(&out)).into_owned();
    // The lower-case, folded Reply-To and the folded Message-ID are gone, continuation too.
    assert!(!text.contains("jane.doe@contoso.com>\r\nSubject"));
    assert!(!text.contains("AM0PR07MB1234ABCD5678EF90@"));
    assert!(!text.contains("reply-to:"));
    // "RE:" is already one reply prefix; the folded Received/Content-Type stay byte for byte.
    assert!(text.contains("\r\nSubject: RE: Invoice question\r\n"));
    assert!(text.contains("Received: from AM0PR07MB1234.eurprd07.prod.outlook.com (2603:10a6:208:1::1) by\r\n AM0PR07MB5678"));
    assert!(text.contains("Content-Type: multipart/mixed;\r\n\tboundary="));
    assert!(text.contains("Reply-To: \"Doe, Jane\"\r\n <reply+"));

    let msg = MessageParser::default().parse(&out).unwrap();
    assert_eq!(
        msg.reply_to().unwrap().first().unwrap().name(),
        Some("Doe, Jane")
    );
    assert_eq!(msg.subject(), Some("RE: Invoice question"));
    assert_eq!(msg.attachment_count(), 1);
}

#[test]
fn thunderbird_shaped_lf() {
    let raw = THUNDERBIRD.as_bytes();
    let prev = strings(&["first@support.example.com"]);
    let p = params(Some(CUSTOMER_ID), &prev);
    let out = stamp(raw, &p).unwrap().bytes;
    check(raw, &out, &p, &["first@support.example.com", CUSTOMER_ID]);
    assert!(!header_block(&out).contains(&b'\r'));
    let text = String::from_utf8_lossy(header_block(&out)).into_owned();
    assert!(text.contains("\nSubject: Re: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_Berlin?=\n"));
    assert!(text.contains("Reply-To: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=\n <reply+0123456789abcdef"));
    assert!(text.contains("Content-Type: multipart/mixed;\n boundary="));

    let msg = MessageParser::default().parse(&out).unwrap();
    assert_eq!(msg.subject(), Some("Re: Grüße aus Berlin"));
    assert_eq!(
        msg.reply_to().unwrap().first().unwrap().name(),
        Some("Jörg Müller")
    );
    assert_eq!(msg.attachment_count(), 2);
    // The attached message keeps its own Reply-To and Message-ID.
    assert!(body(&out)
        .windows(27)
        .any(|w| w == b"Reply-To: inner@example.net"));
}

#[test]
fn every_fixture_in_both_line_endings() {
    for fixture in [GMAIL, OUTLOOK, THUNDERBIRD] {
        for raw in [fixture.as_bytes().to_vec(), crlf(fixture)] {
            let prev = strings(&["a@x", "b@x"]);
            let p = params(Some("c@x"), &prev);
            let out = stamp(&raw, &p).unwrap().bytes;
            // The fixtures' own References/In-Reply-To ids come after the previous ones.
            let own = header_values(&raw, "References")
                .iter()
                .flat_map(|v| parse_msg_ids(v))
                .collect::<Vec<_>>();
            let mut expected = vec!["a@x", "b@x"];
            expected.extend(own.iter().map(String::as_str));
            expected.push("c@x");
            check(&raw, &out, &p, &expected);
            assert_eq!(
                stamp(&out, &p).unwrap().bytes,
                out,
                "stamping twice changes nothing"
            );

            let not_answering = params(None, &prev);
            let out = stamp(&raw, &not_answering).unwrap().bytes;
            expected.pop();
            check(&raw, &out, &not_answering, &expected);
            assert_eq!(
                header_values(&out, "Subject"),
                header_values(&raw, "Subject")
            );
        }
    }
}

#[test]
fn other_headers_keep_order_case_and_bytes() {
    let raw = b"X-B: 2\r\nreply-TO: a@b,\r\n\tc@d\r\nx-a:   1  \r\nMESSAGE-id: <old@x>\r\nX-Replyd-Conversation: old\r\nX-C: \x80\xff\r\n\r\nbody";
    let out = stamp(raw, &params(None, &[])).unwrap().bytes;
    let tail = b"X-B: 2\r\nx-a:   1  \r\nX-C: \x80\xff\r\n\r\nbody";
    assert!(out.ends_with(tail));
    let head = &out[..out.len() - tail.len()];
    assert_eq!(
        String::from_utf8_lossy(head),
        format!(
            "Message-ID: <{OUR_ID}>\r\nReply-To: {REPLY}\r\nX-Replyd-Conversation: {}\r\n",
            MARKER.1
        )
    );
}

#[test]
fn existing_reply_to_replaced_in_any_case_and_folding() {
    for raw in [
        &b"From: a@x\nReply-To: old@x\nreply-to: other@x\nREPLY-TO:\n  third@x,\n  fourth@x\nReply-To : obs@x\nMail-Reply-To: agent@x\nMail-Followup-To: agent@x\n\nbody\n"[..],
        b"From: a@x\r\nreply-to:\r\n\t\"Agent\"\r\n\t<agent@x>\r\nSubject: s\r\n\r\n",
    ] {
        let p = params(None, &[]);
        let out = stamp(raw, &p).unwrap().bytes;
        check(raw, &out, &p, &[]);
        let text = String::from_utf8_lossy(&out).into_owned();
        for gone in ["old@x", "other@x", "third@x", "fourth@x", "obs@x", "agent@x", "Agent"] {
            assert!(!text.contains(gone), "{gone} in {text}");
        }
        assert_eq!(header_values(&out, "Reply-To"), vec![REPLY]);
    }
}

#[test]
fn non_utf8_header_bytes() {
    let raw = b"From: J\xf6rg <j@x>\r\nSubject: \xff\xfe caf\xe9\r\nX-\xc3(: odd name\r\nX-Raw: \x80\x81\r\n\r\n\xff body \x00";
    let p = params(Some("p@x"), &[]);
    let out = stamp(raw, &p).unwrap().bytes;
    check(raw, &out, &p, &["p@x"]);
    assert!(out.ends_with(b"Subject: Re: \xff\xfe caf\xe9\r\nX-\xc3(: odd name\r\nX-Raw: \x80\x81\r\n\r\n\xff body \x00"));
    // Latin-1 fallback for a display name that is not UTF-8.
    assert!(header_values(&out, "Reply-To")[0].starts_with("=?UTF-8?B?SsO2cmc=?= <"));
    assert_eq!(header_values(raw, "X-Raw"), vec!["\u{fffd}\u{fffd}"]);
}

#[test]
fn not_a_message() {
    for raw in [
        &b""[..],
        b"\r\n\r\nbody",
        b"\n",
        b"hello world\r\nSubject: x\r\n\r\n",
        b" continuation: first\r\n\r\n",
        b": no name\n\n",
        b"From someone@example.com Tue May 14 10:21:07 2024\n",
        b"From someone@example.com Tue May 14 10:21:07 2024\n\nbody",
        b"\xff\xfe: x\n\n",
    ] {
        match stamp(raw, &params(None, &[])) {
            Err(e @ StampError::NotAMessage(_)) => {
                assert!(e.to_string().starts_with("not an email message"))
            }
            other => panic!("{raw:?}: {other:?}"),
        }
        assert!(header_values(raw, "Subject").is_empty());
    }
}

#[test]
fn mbox_from_line_dropped_and_odd_blocks_pass() {
    let raw = b"From agent@example.com Tue May 14 10:21:07 2024\nFrom: a@x\nSubject: s\n\nbody\n";
    let out = stamp(raw, &params(None, &[])).unwrap().bytes;
    assert!(!out.starts_with(b"From "));
    assert!(out.ends_with(b"\nFrom: a@x\nSubject: s\n\nbody\n"));
    // "From :" (obsolete syntax) is a header field, not an mbox line.
    assert!(stamp(b"From : a@x\n\n", &params(None, &[])).is_ok());
    // Headers only, no line ending at the end: new headers use CRLF, the rest is kept.
    let out = stamp(b"Subject: s", &params(None, &[])).unwrap().bytes;
    assert!(out.starts_with(b"Message-ID: <") && out.ends_with(b"\r\nSubject: s"));
    // A stray line inside the header block is kept; the fields after it still count.
    let out = stamp(
        b"Subject: s\nnot a field\nReply-To: x@y\n\nb",
        &params(None, &[]),
    )
    .unwrap()
    .bytes;
    assert!(out.ends_with(b"\nSubject: s\nnot a field\n\nb"));
}

#[test]
fn invalid_params() {
    let bad: [fn(&mut StampParams<'static>); 9] = [
        |p| p.message_id = "<already@bracketed>",
        |p| p.message_id = "",
        |p| p.message_id = "with space@x",
        |p| p.reply_address = "no-at-sign",
        |p| p.reply_address = "a@x\r\nBcc: b@y",
        |p| p.marker = ("Bad Name", "v"),
        |p| p.marker = ("Reply-To", "v"),
        |p| p.marker = ("X-M", "line\r\nBcc: x"),
        |p| p.marker = ("X-M", " "),
    ];
    for change in bad {
        let mut p = params(None, &[]);
        change(&mut p);
        assert!(
            matches!(
                stamp(b"Subject: s\n\n", &p),
                Err(StampError::InvalidParam(_))
            ),
            "{p:?}"
        );
    }
}

/// Random bytes and mutated fixtures: no panic, and every accepted message comes out with
/// exactly one Reply-To and Message-ID, its body intact, and stable under a second stamp.
#[test]
fn never_panics_on_arbitrary_bytes() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = b"\r\n \t:<>\"()\\,@=?Re_BQ\x80\xff\x00aF";
    let seeds = [
        GMAIL.as_bytes().to_vec(),
        crlf(OUTLOOK),
        THUNDERBIRD.as_bytes().to_vec(),
    ];
    let refs = strings(&["r@x"]);
    let mut accepted = 0;
    for round in 0..3000 {
        let mut raw = if round % 4 == 0 {
            (0..next() % 200).map(|_| next() as u8).collect()
        } else {
            seeds[round % 3].clone()
        };
        for _ in 0..next() % 12 {
            if raw.is_empty() {
                break;
            }
            let at = (next() as usize) % raw.len();
            let byte = alphabet[(next() as usize) % alphabet.len()];
            match next() % 3 {
                0 => raw[at] = byte,
                1 => raw.insert(at, byte),
                _ => raw.truncate(at.max(1)),
            }
        }
        let head = String::from_utf8_lossy(&raw[..raw.len().min(400)]).into_owned();
        let _ = parse_msg_ids(&head);
        let _ = header_values(&raw, "From");
        let p = params(Some("p@x"), &refs);
        if let Ok(stamped) = stamp(&raw, &p) {
            let out = stamped.bytes;
            let block = HeaderBlock::read(&raw);
            assert!(out.ends_with(&raw[block.end..]));
            assert_eq!(header_values(&out, "Reply-To").len(), 1, "{raw:?}");
            assert_eq!(header_values(&out, "Message-ID").len(), 1, "{raw:?}");
            assert_eq!(stamp(&out, &p).unwrap().bytes, out, "{raw:?}");
            accepted += 1;
        }
    }
    assert!(accepted > 1500, "only {accepted} inputs were accepted");
}
