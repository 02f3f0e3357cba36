//! `[http] tls = true`: the ingresses over HTTPS with the `[tls]` certificate (the one
//! STARTTLS uses, re-read on SIGHUP), so no TLS proxy is needed in front.

mod common;

use common::http::*;
use common::*;
use std::io::{BufRead, Read};

#[test]
fn the_relay_ingress_over_https() {
    if !needs(OPENSSL) {
        return;
    }
    let certs = TempDir::new("http-tls");
    let (cert, key) = self_signed_cert(certs.path(), "http");
    let srv = http_server(|c| {
        c.http.tls = true;
        c.tls.cert = Some(cert.clone());
        c.tls.key = Some(key.clone());
    });
    let conv = srv.conversation("bob@example.org");
    let raw = reply_to(&conv.reply_address, "https@example.org", "Over HTTPS.");
    let mut client = Raw::connect(srv.http_addr.unwrap());
    let presented = client.start_tls();
    assert!(!presented.is_empty());
    let head = format!(
        "POST {RELAY} HTTP/1.1\r\nHost: mx.test\r\nAuthorization: {}\r\n\
         Content-Type: message/rfc822\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        basic(PASSWORD),
        raw.len()
    );
    client.send(head.as_bytes());
    client.send(&raw);
    let mut status = String::new();
    client.reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let mut rest = Vec::new();
    let _ = client.reader.read_to_end(&mut rest);
    let stored = srv.messages(&conv.uuid);
    assert_eq!(stored.len(), 1);
    let trace = stored[0].trace_header.clone().unwrap_or_default();
    assert!(trace.contains("with HTTPS id"), "{trace}");

    // Plain HTTP on the HTTPS port gets no HTTP answer.
    let head = "GET /ingress/mandrill HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(raw_exchange(srv.http_addr.unwrap(), head, b""), 0);
}

#[test]
fn https_needs_a_certificate() {
    let mut c = test_config(std::path::Path::new("/tmp"));
    c.http.tls = true;
    assert_eq!(c.validate().unwrap_err().0, "http.tls");
}
