//! Tests of stamping: the invariants every stamped message keeps ([`check`]), then real
//! clients' messages and hostile input (`clients.rs`), then each header rule (`fields.rs`).

mod clients;
mod fields;

use super::*;
use mail_parser::{HeaderName, MessageParser};

pub(super) const OUR_ID: &str =
    "conversation/6f1c2d3e-0000-4000-8000-00000000abcd/messages/3@support.example.com";
pub(super) const REPLY: &str = "reply+0123456789abcdef0123456789abcdef@support.example.com";
pub(super) const CUSTOMER_ID: &str = "CAF=abc123+customer@mail.gmail.com";
pub(super) const MARKER: (&str, &str) = (
    "X-Replyd-Conversation",
    "6f1c2d3e-0000-4000-8000-00000000abcd",
);

pub(super) fn params<'a>(in_reply_to: Option<&'a str>, refs: &'a [String]) -> StampParams<'a> {
    StampParams {
        reply_address: REPLY,
        display_name: None,
        message_id: OUR_ID,
        in_reply_to,
        previous_references: refs,
        marker: MARKER,
    }
}

pub(super) fn crlf(lf: &str) -> Vec<u8> {
    lf.replace('\n', "\r\n").into_bytes()
}

/// Offset of the first empty line (the body, blank line included), or the length.
pub(super) fn body_offset(raw: &[u8]) -> usize {
    HeaderBlock::read(raw).end
}

pub(super) fn body(raw: &[u8]) -> &[u8] {
    &raw[body_offset(raw)..]
}

pub(super) fn header_block(raw: &[u8]) -> &[u8] {
    &raw[..body_offset(raw)]
}

pub(super) fn lines(b: &[u8]) -> Vec<&[u8]> {
    b.split_inclusive(|&c| c == b'\n').collect()
}

pub(super) fn strings(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// What every stamped message must satisfy, checked with our parser and with mail-parser.
pub(super) fn check(raw: &[u8], out: &[u8], p: &StampParams<'_>, expected_refs: &[&str]) {
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

pub(super) const GMAIL: &str = "\
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

pub(super) const OUTLOOK: &str = "\
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

pub(super) const THUNDERBIRD: &str = "\
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
