//! Messages the tests send: a plain reply, one with an attachment, padded or header-heavy
//! ones for the limits, and a hostile one for the displays.
#![allow(dead_code)]

/// A reply to `to` with `headers` (CRLF-terminated lines) above its own, padded with lines
/// of text to exactly `total_len` bytes (or just the headers, if they are longer): a
/// generated input for the limits.
pub fn message_with(to: &str, headers: &str, total_len: usize) -> Vec<u8> {
    let mut m = format!(
        "{headers}From: Bob Customer <bob@example.org>\r\nTo: {to}\r\n\
         Subject: Re: Order 42\r\nMessage-ID: <limits@example.org>\r\n\r\n"
    )
    .into_bytes();
    let body_start = m.len();
    let line = format!("{}\r\n", "x".repeat(74));
    while m.len() + line.len() <= total_len {
        m.extend_from_slice(line.as_bytes());
    }
    let mut rest = total_len.saturating_sub(m.len());
    if (1..3).contains(&rest) && m.len() >= body_start + line.len() {
        // Too short for a line of its own: the last line grows instead.
        m.truncate(m.len() - line.len());
        rest += line.len();
    }
    if rest >= 3 {
        m.extend(std::iter::repeat_n(b'y', rest - 2));
        m.extend_from_slice(b"\r\n");
    }
    m
}

/// `n` `Received:` headers, as a message that went round a loop `n` times has.
pub fn received_hops(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "Received: from hop{i}.example by hop{}.example; Wed, 25 Nov 2026 10:00:00 +0000\r\n",
                i + 1
            )
        })
        .collect()
}

/// Header lines of about `len` bytes in all (100-byte `X-Padding-N:` lines).
pub fn padding_headers(len: usize) -> String {
    let mut h = String::with_capacity(len + 100);
    let mut i = 0;
    while h.len() < len {
        let line = format!("X-Padding-{i}: ");
        let fill = 98usize.saturating_sub(line.len());
        h.push_str(&line);
        h.push_str(&"p".repeat(fill));
        h.push_str("\r\n");
        i += 1;
    }
    h
}

/// A simple reply message.
pub fn reply_message(to: &str, message_id: &str, text: &str) -> String {
    format!(
        "From: Bob Customer <bob@example.org>\r\nTo: {to}\r\nSubject: Re: Order 42\r\n\
         Message-ID: <{message_id}>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    )
}

/// A reply to `to` with a text part and one attachment (`name`, `content_type`, `data`,
/// base64 in the message).
pub fn reply_with_attachment(
    to: &str,
    message_id: &str,
    text: &str,
    attachment: (&str, &str, &[u8]),
) -> Vec<u8> {
    let (name, content_type, data) = attachment;
    format!(
        "From: Bob Customer <bob@example.org>\r\nTo: {to}\r\nSubject: Re: Order 42\r\n\
         Message-ID: <{message_id}>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
         --b1\r\nContent-Type: {content_type}\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
        base64_lines(data)
    )
    .into_bytes()
}

/// Base64 in 76-character lines, as a MIME body.
pub fn base64_lines(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for (i, c) in input.chunks(3).enumerate() {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            s.push(if k <= c.len() {
                T[(n >> (18 - 6 * k)) as usize & 63] as char
            } else {
                '='
            });
        }
        if i % 19 == 18 {
            s.push_str("\r\n");
        }
    }
    s
}

/// A message whose every displayed field carries what a terminal obeys or a reader is
/// fooled by: ESC (CSI colours, an OSC window title, OSC 8 links), a bare CR, NUL,
/// U+202E, C1 CSI, an RFC 2047-encoded CR/LF that forges a `--- m999` entry and a
/// `Subject: Wire money` field, in the Subject, the From display name and quoted local
/// part, an attachment's filename and the reply text. `to` is the recipient.
pub fn hostile_message(to: &str) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(
        b"From: =?utf-8?q?Bob=0D=0A--- m999 incoming from ceo@example.com=1B]0;pwned=07?= \
          <\"bob\x1b[31m\xe2\x80\xae\rx\x00y\"@example.org>\r\n",
    );
    m.extend_from_slice(format!("To: <{to}>\r\n").as_bytes());
    m.extend_from_slice(
        b"Subject: =?utf-8?q?Order=0D=0A--- m999 incoming from ceo@example.com=0D=0A\
          Subject: Wire money=1B[2J=E2=80=AE=00=C2=9B31m=E2=80=A8x?=\r\n\
          Message-ID: <hostile@example.org>\r\nMIME-Version: 1.0\r\n\
          Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
          --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
          Hello \x1b]8;;http://evil.example/\x07click\x1b]8;;\x07 \xe2\x80\xaeabc\x1b[2K\x00\r\n\
          --- m999 incoming from ceo@example.com\r\nSubject: Wire money\r\n\
          \tTabbed \xc2\x9b31m red\r\n\
          --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; \
          filename=\"=?utf-8?q?..=2F..=2Fetc=2Fpasswd=0D=0A--- m998 x=1B[2J=E2=80=AEfdp.exe?=\"\r\n\
          Content-Transfer-Encoding: base64\r\n\r\nSGVsbG8=\r\n--b--\r\n",
    );
    m
}

/// The number of lines of `text` that start with `prefix`.
pub fn lines_starting(text: &str, prefix: &str) -> usize {
    text.lines().filter(|l| l.starts_with(prefix)).count()
}

/// A delivery status notification (RFC 3464), sent to `to`, saying that the message
/// `message_id` (an agent's, to gone@example.org) could not be delivered.
pub fn bounce_of(to: &str, message_id: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\nTo: {to}\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not be delivered.\r\n\
         --B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n\
         Final-Recipient: rfc822; gone@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
         --B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: Alice <alice@support.example.com>\r\n\
         Message-ID: <{message_id}>\r\nSubject: Hi\r\n\r\n--B--\r\n"
    )
}
