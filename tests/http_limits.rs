//! Limits of the HTTP listener: big messages are stored whole (no 4 MiB cap), a body past
//! `max_request_size` gets `413` and the server keeps serving, a client trickling its
//! request is cut off, requests past the concurrency cap get `503`, raw bytes are stored
//! byte-identical whatever their encoding, and a shutdown lets requests in flight finish.

mod common;

use common::http::*;
use common::*;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A message with Latin-1 and invalid UTF-8 bytes in its headers and body.
fn non_utf8_message(to: &str, id: &str) -> Vec<u8> {
    let mut m = format!("From: Ren\u{e9} <rene@example.org>\r\nTo: {to}\r\n").into_bytes();
    m.extend_from_slice(b"Subject: Caf\xe9 \xff\xfe\r\n");
    m.extend_from_slice(format!("Message-ID: <{id}>\r\n").as_bytes());
    m.extend_from_slice(b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\n");
    m.extend_from_slice(b"Merci beaucoup, \xe7a marche \x80\x81\xfe\xff.\r\n");
    m
}

/// Asserts the stored message is our trace header followed by exactly `raw`.
fn assert_stored_whole(srv: &TestServer, uuid: &str, raw: &[u8]) {
    let messages = srv.messages(uuid);
    assert_eq!(messages.len(), 1);
    let stored = srv.raw(messages[0].id);
    assert!(stored.starts_with(b"Received: "));
    assert!(
        stored.ends_with(raw),
        "stored {} bytes, sent {}",
        stored.len(),
        raw.len()
    );
    let trace = &stored[..stored.len() - raw.len()];
    assert!(trace.ends_with(b"\r\n") && trace.len() < 300, "{trace:?}");
}

#[test]
fn twenty_mib_through_mailgun_urlencoded_and_sendgrid_multipart_are_stored_whole() {
    let srv = http_server(|_| {});
    let addr = srv.http_addr.unwrap();
    let a = srv.conversation("bob@example.org");
    let b = srv.conversation("bob@example.org");
    let size = 20 * 1024 * 1024;

    let raw = message_with(&a.reply_address, "", size);
    let now = unix_now();
    let fields = mailgun_fields(now, &"m".repeat(50), Some(&a.reply_address), &raw);
    let reply = post_mailgun(addr, &fields);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_stored_whole(&srv, &a.uuid, &raw);

    let raw = message_with(&b.reply_address, "", size);
    let (content_type, body) = multipart(&[("email", &raw)]);
    let reply = post(addr, SENDGRID, &content_type, Some(PASSWORD), body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_stored_whole(&srv, &b.uuid, &raw);
}

#[test]
fn non_utf8_raw_bytes_are_stored_byte_identical() {
    let srv = http_server(|_| {});
    let addr = srv.http_addr.unwrap();
    let now = unix_now();

    let c = srv.conversation("rene@example.org");
    let raw = non_utf8_message(&c.reply_address, "nu-mg@example.org");
    let fields = mailgun_fields(now, &"n".repeat(50), Some(&c.reply_address), &raw);
    assert_eq!(post_mailgun(addr, &fields).status, 200);
    assert_stored_whole(&srv, &c.uuid, &raw);

    let c = srv.conversation("rene@example.org");
    let raw = non_utf8_message(&c.reply_address, "nu-sg@example.org");
    let (content_type, body) = multipart(&[("email", &raw)]);
    assert_eq!(
        post(addr, SENDGRID, &content_type, Some(PASSWORD), body).status,
        200
    );
    assert_stored_whole(&srv, &c.uuid, &raw);

    // Postmark as a form (JSON cannot carry these bytes).
    let c = srv.conversation("rene@example.org");
    let raw = non_utf8_message(&c.reply_address, "nu-pm@example.org");
    let body = urlencoded(&[("RawEmail", &raw)]);
    let reply = post(
        addr,
        POSTMARK,
        "application/x-www-form-urlencoded",
        Some(PASSWORD),
        body,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_stored_whole(&srv, &c.uuid, &raw);

    let c = srv.conversation("rene@example.org");
    let raw = non_utf8_message(&c.reply_address, "nu-relay@example.org");
    assert_eq!(
        post(addr, RELAY, "message/rfc822", Some(PASSWORD), raw.clone()).status,
        200
    );
    assert_stored_whole(&srv, &c.uuid, &raw);
}

#[test]
fn a_body_past_the_limit_gets_413_and_the_server_keeps_serving() {
    let srv = http_server(|c| {
        c.http.max_request_size = Some(64 * 1024);
        c.limits.max_message_size = 32 * 1024;
    });
    let addr = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@example.org");
    let auth = basic(PASSWORD);

    // Announced too large: refused before the body is read.
    let head = format!(
        "POST {RELAY} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\
         Content-Type: message/rfc822\r\nContent-Length: {}\r\n\r\n",
        10 * 1024 * 1024
    );
    assert_eq!(raw_exchange(addr, &head, &[b'x'; 1024]), 413);

    // Chunked, no length announced: cut off once it passes the limit.
    let head = format!(
        "POST {RELAY} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\
         Content-Type: message/rfc822\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let mut chunks = Vec::new();
    for _ in 0..40 {
        chunks.extend_from_slice(format!("{:x}\r\n", 4096).as_bytes());
        chunks.extend_from_slice(&[b'x'; 4096]);
        chunks.extend_from_slice(b"\r\n");
    }
    chunks.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(raw_exchange(addr, &head, &chunks), 413);

    // Within the request limit but over max_message_size: 413 too.
    let big = message_with(&conv.reply_address, "", 40 * 1024);
    let reply = post(addr, RELAY, "message/rfc822", Some(PASSWORD), big);
    assert_eq!(reply.status, 413, "{}", reply.body);

    // Still serving.
    let raw = reply_to(&conv.reply_address, "after413@example.org", "Still here.");
    assert_eq!(
        post(addr, RELAY, "message/rfc822", Some(PASSWORD), raw).status,
        200
    );
    assert_eq!(srv.messages(&conv.uuid).len(), 1);
}

#[test]
fn a_client_sending_one_byte_per_second_is_cut_off() {
    let srv = http_server(|c| {
        c.http.request_timeout = Duration::from_secs(2);
        c.http.header_timeout = Duration::from_secs(1);
    });
    let addr = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@example.org");

    // A body trickled at 1 byte per second.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let head = format!(
        "POST {RELAY} HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\
         Content-Type: message/rfc822\r\nContent-Length: 1000\r\n\r\n",
        basic(PASSWORD)
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut writer = s.try_clone().unwrap();
    let started = Instant::now();
    std::thread::spawn(move || {
        for _ in 0..30 {
            if writer.write_all(b"x").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let status = read_status(&mut s);
    assert_eq!(status, 408);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );

    // Headers trickled: the connection is closed.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let started = Instant::now();
    s.write_all(b"POST /ingress/relay HTTP/1.1\r\nHo").unwrap();
    let mut writer = s.try_clone().unwrap();
    std::thread::spawn(move || {
        for _ in 0..30 {
            if writer.write_all(b"s").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let status = read_status(&mut s);
    assert!(status == 0 || status == 408, "{status}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );

    // Others are served meanwhile and after.
    let raw = reply_to(&conv.reply_address, "fast@example.org", "Quick.");
    assert_eq!(
        post(addr, RELAY, "message/rfc822", Some(PASSWORD), raw).status,
        200
    );
}

#[test]
fn requests_past_the_concurrency_cap_get_503() {
    let srv = http_server(|c| c.http.max_concurrent_requests = 1);
    let addr = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@example.org");
    let raw = reply_to(&conv.reply_address, "cap@example.org", "Capped.");
    // One request holds the only slot while its body is still coming.
    let mut held = TcpStream::connect(addr).unwrap();
    held.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let head = format!(
        "POST {RELAY} HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\
         Content-Type: message/rfc822\r\nContent-Length: {}\r\n\r\n",
        basic(PASSWORD),
        raw.len()
    );
    held.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let busy = post(addr, RELAY, "message/rfc822", Some(PASSWORD), raw.clone());
    assert_eq!(busy.status, 503);
    assert!(busy.header("retry-after").is_some());
    // The helpdesk API shares the cap, and says so in its own JSON shape.
    let api = api_request(addr, None, "GET", "/api/v1/inbox", None, vec![]);
    api.assert_api_error(503, "busy");
    assert!(api.header("retry-after").is_some());
    // The held request finishes and is stored; the slot is free again.
    held.write_all(&raw).unwrap();
    assert_eq!(read_status(&mut held), 200);
    assert_eq!(srv.messages(&conv.uuid).len(), 1);
    let again = post(addr, RELAY, "message/rfc822", Some(PASSWORD), raw);
    assert_eq!(again.status, 200);
}

#[test]
fn a_request_in_flight_at_shutdown_finishes_and_is_stored() {
    let mut srv = http_server(|_| {});
    let addr = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@example.org");
    let raw = reply_to(&conv.reply_address, "inflight@example.org", "Just in time.");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let head = format!(
        "POST {RELAY} HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\
         Content-Type: message/rfc822\r\nContent-Length: {}\r\n\r\n",
        basic(PASSWORD),
        raw.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&raw[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    srv.stop.shutdown();
    std::thread::sleep(Duration::from_millis(200));
    // No new connections once draining.
    assert!(
        TcpStream::connect(addr).is_err() || {
            let fresh = post_or_closed(addr);
            fresh.is_none()
        }
    );
    s.write_all(&raw[10..]).unwrap();
    assert_eq!(read_status(&mut s), 200);
    srv.shutdown();
    assert_eq!(srv.messages(&conv.uuid).len(), 1);
}

/// Whether a fresh connection still gets an answer (it must not once draining).
fn post_or_closed(addr: std::net::SocketAddr) -> Option<u16> {
    let head = "GET /ingress/mandrill HTTP/1.1\r\nHost: x\r\n\r\n";
    let status = raw_exchange(addr, head, b"");
    (status != 0).then_some(status)
}
