use super::*;
use mail_parser::{HeaderName, MessageParser};

const OUR_ID: &str =
    "conversation/6f1c2d3e-0000-4000-8000-00000000abcd/messages/3@support.example.com";
const REPLY: &str = "reply+0123456789abcdef0123456789abcdef@support.example.com";
const CUSTOMER_ID: &str = "CAF=abc123+customer@mail.gmail.com";
const MARKER: (&str, &str) = (
    "X-Replyd-Conversation",
    "6f1c2d3e-0000-4000-8000-00000000abcd",
);

fn params<'a>(in_reply_to: Option<&'a str>, refs: &'a [String]) -> StampParams<'a> {
    StampParams {
        reply_address: REPLY,
        display_name: None,
        message_id: OUR_ID,
        in_reply_to,
        previous_references: refs,
        marker: MARKER,
    }
}

fn crlf(lf: &str) -> Vec<u8> {
    lf.replace('\n', "\r\n").into_bytes()
}

/// Offset of the first empty line (the body, blank line included), or the length.
fn body_offset(raw: &[u8]) -> usize {
    HeaderBlock::read(raw).end
}

fn body(raw: &[u8]) -> &[u8] {
    &raw[body_offset(raw)..]
}

fn header_block(raw: &[u8]) -> &[u8] {
    &raw[..body_offset(raw)]
}

fn lines(b: &[u8]) -> Vec<&[u8]> {
    b.split_inclusive(|&c| c == b'\n').collect()
}

fn strings(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// What every stamped message must satisfy, checked with our parser and with mail-parser.
fn check(raw: &[u8], out: &[u8], p: &StampParams<'_>, expected_refs: &[&str]) {
    assert_eq!(body(raw), body(out), "body bytes changed");
    let crlf_input = lines(header_block(raw))[0].ends_with(b"\r\n");
    for line in lines(header_block(out)) {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        assert!(content.len() <= MAX_LINE_LEN);
        assert_eq!(
            line.ends_with(b"\r\n"),
            crlf_input,
            "line ending of {line:?}"
        );
    }
    for name in [
        "Reply-To",
        "reply-to",
        "Message-ID",
        "X-REPLYD-CONVERSATION",
    ] {
        assert_eq!(header_values(out, name).len(), 1, "{name}");
    }

    let msg = MessageParser::default()
        .parse(out)
        .expect("mail-parser parses the output");
    let reply_tos = msg
        .headers()
        .iter()
        .filter(|h| h.name == HeaderName::ReplyTo);
    assert_eq!(reply_tos.count(), 1);
    let reply_to = msg
        .reply_to()
        .and_then(|a| a.first())
        .expect("a Reply-To mailbox");
    assert_eq!(reply_to.address(), Some(REPLY));
    assert_eq!(msg.message_id(), Some(p.message_id));
    assert_eq!(msg.in_reply_to().as_text(), p.in_reply_to);
    let refs: Vec<&str> = msg
        .references()
        .as_text_list()
        .map(|l| l.iter().map(|s| s.as_ref()).collect())
        .unwrap_or_default();
    assert_eq!(refs, expected_refs);
    assert_eq!(
        msg.header(MARKER.0).and_then(|v| v.as_text()),
        Some(MARKER.1)
    );
}

const GMAIL: &str = "\
MIME-Version: 1.0
Date: Tue, 14 May 2024 10:21:07 +0200
References: <CAF=abc123+customer@mail.gmail.com>
In-Reply-To: <CAF=abc123+customer@mail.gmail.com>
Message-ID: <CAH+xyz789agent@mail.gmail.com>
Subject: Re: Order #1234 arrived damaged
From: Agent Smith <agent.smith@example.com>
To: Customer <customer@example.net>
Content-Type: multipart/mixed; boundary=\"000000000000a1b2c3d4e5f6\"

--000000000000a1b2c3d4e5f6
Content-Type: multipart/alternative; boundary=\"000000000000a1b2c3d4e5f5\"

--000000000000a1b2c3d4e5f5
Content-Type: text/plain; charset=\"UTF-8\"

Hi, sorry about that. A replacement is on its way.
Reply-To: this line is body text and stays
Message-ID: <so-is-this@example.com>

--000000000000a1b2c3d4e5f5
Content-Type: text/html; charset=\"UTF-8\"

<div dir=\"ltr\">Hi, sorry about that.</div>

--000000000000a1b2c3d4e5f5--
--000000000000a1b2c3d4e5f6
Content-Type: application/pdf; name=\"label.pdf\"
Content-Disposition: attachment; filename=\"label.pdf\"
Content-Transfer-Encoding: base64
Content-ID: <f_lw1abc0>
X-Attachment-Id: f_lw1abc0

JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoK
--000000000000a1b2c3d4e5f6--
";

const OUTLOOK: &str = "\
Received: from AM0PR07MB1234.eurprd07.prod.outlook.com (2603:10a6:208:1::1) by
 AM0PR07MB5678.eurprd07.prod.outlook.com with HTTPS; Tue, 14 May 2024 08:21:07
 +0000
From: \"Doe, Jane\" <jane.doe@contoso.com>
To: \"customer@example.net\" <customer@example.net>
reply-to: Jane Doe
 <jane.doe@contoso.com>
Subject: RE: Invoice question
Thread-Topic: Invoice question
Thread-Index: AQHaZ3xkY2VhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5eg==
Date: Tue, 14 May 2024 08:21:07 +0000
Message-ID:
 <AM0PR07MB1234ABCD5678EF90@AM0PR07MB1234.eurprd07.prod.outlook.com>
References: <CAF=abc123+customer@mail.gmail.com>
In-Reply-To: <CAF=abc123+customer@mail.gmail.com>
Accept-Language: en-US
Content-Language: en-US
X-MS-Has-Attach: yes
Content-Type: multipart/mixed;
\tboundary=\"_004_AM0PR07MB1234ABCD5678EF90_\"
MIME-Version: 1.0

--_004_AM0PR07MB1234ABCD5678EF90_
Content-Type: multipart/alternative;
\tboundary=\"_000_AM0PR07MB1234ABCD5678EF90_\"

--_000_AM0PR07MB1234ABCD5678EF90_
Content-Type: text/plain; charset=\"us-ascii\"
Content-Transfer-Encoding: quoted-printable

Hello, the invoice is attached.=20

--_000_AM0PR07MB1234ABCD5678EF90_
Content-Type: text/html; charset=\"us-ascii\"
Content-Transfer-Encoding: quoted-printable

<html><body><p>Hello, the invoice is attached.</p></body></html>

--_000_AM0PR07MB1234ABCD5678EF90_--

--_004_AM0PR07MB1234ABCD5678EF90_
Content-Type: image/png; name=\"image001.png\"
Content-Description: image001.png
Content-Disposition: attachment; filename=\"image001.png\"; size=68;
\tcreation-date=\"Tue, 14 May 2024 08:21:06 GMT\"
Content-Transfer-Encoding: base64

iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA
60e6kgAAAABJRU5ErkJggg==

--_004_AM0PR07MB1234ABCD5678EF90_--
";

const THUNDERBIRD: &str = "\
Message-ID: <4d9c1e2a-7b0f-4c1e-9a57-2f1f0e6b8c3d@example.org>
Date: Tue, 14 May 2024 10:21:07 +0200
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_Berlin?=
Content-Language: de-DE
To: kunde@example.net
From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.org>
Content-Type: multipart/mixed;
 boundary=\"------------nJ8t2hQz0yV1xW2aB3cD4eF\"

This is a multi-part message in MIME format.
--------------nJ8t2hQz0yV1xW2aB3cD4eF
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 8bit

Hallo, herzliche Grüße!

--------------nJ8t2hQz0yV1xW2aB3cD4eF
Content-Type: message/rfc822; name=\"original.eml\"
Content-Disposition: attachment; filename=\"original.eml\"

Message-ID: <inner@example.net>
Reply-To: inner@example.net
Subject: inner

inner body
--------------nJ8t2hQz0yV1xW2aB3cD4eF
Content-Type: text/csv; charset=UTF-8; name=\"orders.csv\"
Content-Disposition: attachment; filename=\"orders.csv\"
Content-Transfer-Encoding: base64

b3JkZXIsc3RhdHVzCjEyMzQsZGFtYWdlZAo=

--------------nJ8t2hQz0yV1xW2aB3cD4eF--
";

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
fn re_prefix_rules() {
    let cases: &[(&str, &str)] = &[
        ("Subject: Hello", "Subject: Re: Hello"),
        ("Subject: Re: Hello", "Subject: Re: Hello"),
        ("Subject: RE: Hello", "Subject: RE: Hello"),
        ("Subject: re : Hello", "Subject: re : Hello"),
        ("Subject: AW: Hallo", "Subject: AW: Hallo"),
        ("Subject: SV: Hej", "Subject: SV: Hej"),
        ("Subject: Re[2]: Hello", "Subject: Re[2]: Hello"),
        ("Subject: Re: Re: Hello", "Subject: Re: Hello"),
        ("Subject: RE: AW: re:Hello", "Subject: Re: Hello"),
        ("Subject: Re: Re:", "Subject: Re:"),
        ("Subject: Fwd: Hello", "Subject: Re: Fwd: Hello"),
        ("Subject: Re: Fwd: Hello", "Subject: Re: Fwd: Hello"),
        ("Subject: Reply needed", "Subject: Re: Reply needed"),
        ("Subject: Regarding: x", "Subject: Re: Regarding: x"),
        ("Subject:Hello", "Subject: Re: Hello"),
        ("Subject:", "Subject: Re:"),
        ("Subject:   ", "Subject: Re:"),
        ("subject: hello", "subject: Re: hello"),
        (
            "Subject: =?UTF-8?B?R3LDvMOfZQ==?=",
            "Subject: Re: =?UTF-8?B?R3LDvMOfZQ==?=",
        ),
        (
            "Subject: =?UTF-8?Q?Re=3A_Gr=C3=BC=C3=9Fe?=",
            "Subject: =?UTF-8?Q?Re=3A_Gr=C3=BC=C3=9Fe?=",
        ),
        (
            "Subject: Re: =?UTF-8?Q?Re=3A_x?=",
            "Subject: =?UTF-8?Q?Re=3A_x?=",
        ),
        (
            "Subject: Re:\n Re: folded\n tail",
            "Subject: Re: folded\n tail",
        ),
        ("Subject:\n Hello", "Subject:\n Re: Hello"),
    ];
    for (subject, expected) in cases {
        let raw = format!("From: a@x\n{subject}\n\nbody");
        let out = stamp(raw.as_bytes(), &params(Some("p@x"), &[]))
            .unwrap()
            .bytes;
        let text = String::from_utf8(out).unwrap();
        let expected = format!("\nFrom: a@x\n{expected}\n\nbody");
        assert!(text.ends_with(&expected), "{subject:?}: got {text:?}");
        // Never two reply prefixes, whatever the input.
        let again = stamp(text.as_bytes(), &params(Some("p@x"), &[]))
            .unwrap()
            .bytes;
        assert_eq!(again, text.as_bytes());
    }
    // No Subject: none is invented. Not answering: Subject untouched.
    let out = stamp(b"From: a@x\n\nbody", &params(Some("p@x"), &[]))
        .unwrap()
        .bytes;
    assert!(header_values(&out, "Subject").is_empty());
    let out = stamp(b"Subject: Hello\n\n", &params(None, &[]))
        .unwrap()
        .bytes;
    assert_eq!(header_values(&out, "Subject"), vec!["Hello"]);
}

#[test]
fn references_capped_deduplicated_and_folded() {
    let prev: Vec<String> = (0..30).map(|i| format!("m{i}@s.example")).collect();
    let raw = b"References: <m3@s.example> <own@x> <m1@s.example>\nIn-Reply-To: <own2@x>\n\n";
    let p = params(Some("m5@s.example"), &prev);
    let out = stamp(raw, &p).unwrap().bytes;
    let refs: Vec<String> = header_values(&out, "References")
        .iter()
        .flat_map(|v| parse_msg_ids(v))
        .collect();
    assert_eq!(refs.len(), MAX_REFERENCES);
    assert_eq!(refs[0], "m0@s.example");
    assert_eq!(refs.last().map(String::as_str), Some("m5@s.example"));
    // Most recent kept: the tail of prev (minus the parent), then the message's own ids.
    let mut expected: Vec<String> = (0..30)
        .filter(|i| *i != 5)
        .map(|i| format!("m{i}@s.example"))
        .chain(["own@x".to_string(), "own2@x".to_string()])
        .collect();
    expected.push("m5@s.example".into());
    let tail = &expected[expected.len() - (MAX_REFERENCES - 1)..];
    assert_eq!(&refs[1..], tail);
    let unique: HashSet<&String> = refs.iter().collect();
    assert_eq!(unique.len(), refs.len());

    // OUR_ID is longer than a line: Message-ID stays on one line (never folded inside).
    for line in lines(header_block(&out))
        .iter()
        .filter(|l| !l.starts_with(b"Message-ID:"))
    {
        assert!(line.len() - 1 <= FOLD_COLUMN, "{line:?}");
    }
    let block = String::from_utf8_lossy(header_block(&out)).into_owned();
    assert!(block.contains("References: <m0@s.example> <m"));
    assert!(block.contains("\n <m"));

    // Our own Message-ID, invalid ids and duplicates never appear.
    let prev = strings(&["a@x", OUR_ID, "bad id@x", "", "a@x", "<b@x>", "c@x"]);
    let out = stamp(b"Subject: s\n\n", &params(Some("c@x"), &prev))
        .unwrap()
        .bytes;
    assert_eq!(header_values(&out, "References"), vec!["<a@x> <c@x>"]);
}

#[test]
fn in_reply_to_none_removes_existing_and_keeps_its_ids() {
    let raw = b"In-Reply-To: <elsewhere@x>\r\nSubject: Hello\r\n\r\nb";
    let p = params(None, &[]);
    let out = stamp(raw, &p).unwrap().bytes;
    check(raw, &out, &p, &["elsewhere@x"]);
    assert!(header_values(&out, "In-Reply-To").is_empty());
    assert_eq!(header_values(&out, "Subject"), vec!["Hello"]);
    // An in_reply_to that cannot be written is left out but still counts as answering.
    let out = stamp(raw, &params(Some("has space@x"), &[])).unwrap().bytes;
    assert!(header_values(&out, "In-Reply-To").is_empty());
    assert_eq!(header_values(&out, "Subject"), vec!["Re: Hello"]);
}

#[test]
fn display_names_quoted_and_encoded() {
    let reply_to = |from: &str, configured: Option<&str>| {
        let raw = format!("From: {from}\r\n\r\n");
        let mut p = params(None, &[]);
        p.display_name = configured;
        let out = stamp(raw.as_bytes(), &p).unwrap().bytes;
        check(raw.as_bytes(), &out, &p, &[]);
        let name = MessageParser::default().parse(&out).and_then(|m| {
            m.reply_to()
                .and_then(|a| a.first())
                .and_then(|a| a.name().map(str::to_owned))
        });
        (header_values(&out, "Reply-To").remove(0), name)
    };
    let r = |s: &str| s.replace("R", REPLY);
    assert_eq!(reply_to("a@x", None), (r("R"), None));
    assert_eq!(
        reply_to("Agent <a@x>", Some("ACME Support")),
        (r("ACME Support <R>"), Some("ACME Support".into()))
    );
    assert_eq!(
        reply_to("a@x", Some("ACME, Inc. (EU)")),
        (r("\"ACME, Inc. (EU)\" <R>"), Some("ACME, Inc. (EU)".into()))
    );
    assert_eq!(
        reply_to("a@x", Some("Say \"hi\" \\o/")).0,
        r("\"Say \\\"hi\\\" \\\\o/\" <R>")
    );
    assert_eq!(reply_to("a@x", Some("=?x?q?y?=")).0, r("\"=?x?q?y?=\" <R>"));
    assert_eq!(
        reply_to("a@x", Some("Jörg")),
        (r("=?UTF-8?B?SsO2cmc=?= <R>"), Some("Jörg".into()))
    );
    assert_eq!(reply_to("a@x", Some("  \t ")), (r("R"), None));
    assert_eq!(
        reply_to("\"Doe, Jane\" <j@x>", None).1,
        Some("Doe, Jane".into())
    );
    assert_eq!(
        reply_to("Doe, Jane <j@x>", None).1,
        Some("Doe, Jane".into())
    );
    assert_eq!(reply_to("j@x (Jane Doe)", None).1, Some("Jane Doe".into()));
    assert_eq!(reply_to("j@x, Other <o@x>", None).1, None);
    assert_eq!(
        reply_to("Jane (Support) Doe <j@x>", None).1,
        Some("Jane Doe".into())
    );
    assert_eq!(
        reply_to("\"Jane\" =?UTF-8?Q?M=C3=BCller?= <j@x>", None).1,
        Some("Jane Müller".into())
    );

    // Header injection through the configured name becomes spaces.
    let (value, name) = reply_to("a@x", Some("Evil\r\nBcc: victim@x"));
    assert_eq!(value, r("\"Evil Bcc: victim@x\" <R>"));
    assert_eq!(name, Some("Evil Bcc: victim@x".into()));

    // A long non-ASCII name: several encoded-words (RFC 2047: at most 75 chars), lines folded.
    let long = "Ünïcödé Sûppört Tëäm ".repeat(5);
    let raw = b"From: a@x\r\n\r\n";
    let mut p = params(None, &[]);
    p.display_name = Some(&long);
    let out = stamp(raw, &p).unwrap().bytes;
    check(raw, &out, &p, &[]);
    let value = header_values(&out, "Reply-To").remove(0);
    let words: Vec<&str> = value.split(' ').filter(|w| w.starts_with("=?")).collect();
    assert!(words.len() > 2);
    assert!(words.iter().all(|w| w.len() <= 68));
    for line in lines(header_block(&out))
        .iter()
        .filter(|l| !l.starts_with(b"Message-ID:"))
    {
        assert!(line.len() - 2 <= FOLD_COLUMN, "{line:?}");
    }
    let msg = MessageParser::default().parse(&out).unwrap();
    assert_eq!(
        msg.reply_to().unwrap().first().unwrap().name(),
        Some(long.trim())
    );
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

#[test]
fn header_values_unfold() {
    let raw = b"Subject: one\r\n two\r\n\tthree  \r\nX: a\r\nx:b\r\n\r\nX: body";
    assert_eq!(header_values(raw, "subject"), vec!["one two\tthree"]);
    assert_eq!(header_values(raw, "X"), vec!["a", "b"]);
    assert!(header_values(raw, "Missing").is_empty());
}

#[test]
fn parse_msg_ids_is_tolerant() {
    let cases: &[(&str, &[&str])] = &[
        ("<a@x>", &["a@x"]),
        ("  <a@x>  <b@y>\t<c@z>", &["a@x", "b@y", "c@z"]),
        ("<a@x>(comment <not@this>) <b@y>", &["a@x", "b@y"]),
        ("\"Your message of <x@y>\" <real@x>", &["real@x"]),
        ("<a@x><b@y>", &["a@x", "b@y"]),
        ("< a@x >", &["a@x"]),
        ("<a\r\n @x>", &["a@x"]),
        ("<\"quoted local\"@x>", &["\"quoted local\"@x"]),
        ("<unclosed@x", &["unclosed@x"]),
        ("bare@x, other@y (comment@z)", &["bare@x", "other@y"]),
        ("<>", &[]),
        ("", &[]),
        ("no ids here", &[]),
    ];
    for (value, expected) in cases {
        assert_eq!(parse_msg_ids(value), strings(expected), "{value:?}");
    }
}

#[test]
fn encodings_round_trip() {
    for s in [&b"f"[..], b"fo", b"foo", b"foob", b"\xff\x00\x80 x"] {
        let word = format!("=?utf-8?b?{}?=", BASE64_STANDARD.encode(s));
        assert_eq!(decode_encoded_word(word.as_bytes()).as_deref(), Some(s));
    }
    assert_eq!(q_decode(b"a_b=C3=BC=zz="), b"a b\xc3\xbc=zz=");
    assert_eq!(
        decode_encoded_word(b"=?utf-8?q?Re=3A_x?="),
        Some(b"Re: x".to_vec())
    );
    assert_eq!(decode_encoded_word(b"=?utf-8?x?abc?="), None);
    assert_eq!(decode_encoded_word(b"=??="), None);
    assert_eq!(decode_encoded_word(b"=?utf-8?q?\xff?="), None);
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
