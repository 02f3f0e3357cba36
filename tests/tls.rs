//! STARTTLS (RFC 3207): advertised only with a certificate, pipelined bytes after the
//! command discarded (CVE-2011-0411), the EHLO state forgotten, `ESMTPS` in our Received,
//! `require_tls`, and the certificate re-read on SIGHUP.

mod common;

use common::*;
use std::path::PathBuf;
use std::time::Duration;

fn tls_server(dir: &TempDir, require: bool) -> TestServer {
    let (cert, key) = self_signed_cert(dir.path(), "mx");
    TestServer::start_with(move |c| {
        c.tls.cert = Some(cert);
        c.tls.key = Some(key);
        c.tls.require_tls = require;
    })
}

#[test]
fn starttls_is_advertised_only_when_a_certificate_is_configured() {
    if !needs(OPENSSL) {
        return;
    }
    let plain = TestServer::start();
    let mut c = Raw::greeted(plain.addr);
    let ehlo = c.expect("EHLO client.test", 250, "");
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    c.expect("STARTTLS", 502, "5.5.1");

    let dir = TempDir::new("tls");
    let srv = tls_server(&dir, false);
    let mut c = Raw::greeted(srv.addr);
    c.expect("STARTTLS", 503, "5.5.1"); // EHLO first
    let ehlo = c.expect("EHLO client.test", 250, "");
    assert!(ehlo.lines().any(|l| l == "STARTTLS"), "{ehlo}");
}

#[test]
fn mail_over_tls_is_stored_with_esmtps() {
    if !needs(OPENSSL) {
        return;
    }
    let dir = TempDir::new("tls");
    let srv = tls_server(&dir, false);
    let conv = srv.conversation("bob@example.org");
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO client.test", 250, "");
    c.expect("STARTTLS", 220, "2.0.0");
    let cert = c.start_tls();
    assert!(!cert.is_empty());
    let ehlo = c.expect("EHLO client.test", 250, "");
    assert!(
        !ehlo.contains("STARTTLS"),
        "not offered again over TLS: {ehlo}"
    );
    c.expect("STARTTLS", 503, "5.5.1");
    let body = reply_message(&conv.reply_address, "tls@example.org", "Sent over TLS");
    c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    c.expect(&format!("RCPT TO:<{}>", conv.reply_address), 250, "2.1.5");
    c.expect("DATA", 354, "");
    c.send(body.as_bytes());
    let text = c.expect(".", 250, "2.0.0");
    assert!(text.contains("stored as m"), "{text}");
    assert_eq!(srv.received_with("ESMTPS"), 1);
}

#[test]
fn bytes_pipelined_after_starttls_are_discarded_and_ehlo_is_forgotten() {
    if !needs(OPENSSL) {
        return;
    }
    let dir = TempDir::new("tls");
    let srv = tls_server(&dir, false);
    let conv = srv.conversation("bob@example.org");
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO client.test", 250, "");
    // A man in the middle appends commands to the plaintext STARTTLS (CVE-2011-0411).
    c.send(
        format!(
            "STARTTLS\r\nMAIL FROM:<evil@example.net>\r\nRCPT TO:<{}>\r\n",
            conv.reply_address
        )
        .as_bytes(),
    );
    let (code, text) = c.reply();
    assert_eq!((code, text.as_str()), (220, "2.0.0 Ready to start TLS"));
    c.start_tls();
    // Nothing of the injected commands is answered over TLS: the first reply is NOOP's.
    c.expect("NOOP", 250, "2.0.0");
    // And the session starts over: no EHLO yet, no transaction.
    c.expect("RCPT TO:<postmaster>", 503, "5.5.1");
    c.expect("MAIL FROM:<bob@example.org>", 503, "5.5.1");
    c.expect("EHLO client.test", 250, "");
    c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
}

#[test]
fn require_tls_refuses_mail_before_starttls() {
    if !needs(OPENSSL) {
        return;
    }
    let dir = TempDir::new("tls");
    let srv = tls_server(&dir, true);
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO client.test", 250, "");
    c.expect("MAIL FROM:<bob@example.org>", 530, "5.7.0");
    c.expect("STARTTLS", 220, "2.0.0");
    c.start_tls();
    c.expect("EHLO client.test", 250, "");
    c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
}

#[test]
fn a_failed_handshake_closes_only_that_session() {
    if !needs(OPENSSL) {
        return;
    }
    let dir = TempDir::new("tls");
    let srv = tls_server(&dir, false);
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO client.test", 250, "");
    c.expect("STARTTLS", 220, "2.0.0");
    c.send(b"this is not a TLS ClientHello\r\n");
    // At most a TLS alert (content type 21), then the end: no SMTP reply.
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut c.reader, &mut rest);
    assert!(rest.is_empty() || rest[0] == 21, "{rest:?}");
    let mut d = Raw::greeted(srv.addr);
    d.expect("EHLO client.test", 250, "");
}

#[test]
fn unusable_certificate_stops_start_up() {
    let dir = TempDir::new("tls");
    let bad = dir.path().join("bad.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    let mut config = test_config(dir.path());
    config.tls.cert = Some(bad.clone());
    config.tls.key = Some(bad);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = match rt.block_on(replyd::Server::bind(config)) {
        Ok(_) => panic!("a server started with a broken certificate"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("tls.cert") && err.contains("bad.pem"), "{err}");
}

fn cert_of(addr: std::net::SocketAddr) -> Vec<u8> {
    let mut c = Raw::greeted(addr);
    c.expect("EHLO client.test", 250, "");
    c.expect("STARTTLS", 220, "2.0.0");
    c.start_tls()
}

#[test]
fn sighup_rereads_the_certificate_and_a_broken_one_keeps_the_old() {
    if !needs(OPENSSL) {
        return;
    }
    let dir = TempDir::new("hup");
    let (cert, key) = self_signed_cert(dir.path(), "first");
    let live_cert: PathBuf = dir.path().join("cert.pem");
    let live_key: PathBuf = dir.path().join("key.pem");
    std::fs::copy(&cert, &live_cert).unwrap();
    std::fs::copy(&key, &live_key).unwrap();
    let config = write_config(
        dir.path(),
        0,
        &format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            live_cert.display(),
            live_key.display()
        ),
    );
    let server = ServeProcess::start(&config);
    let first = cert_of(server.addr);

    let (cert2, key2) = self_signed_cert(dir.path(), "second");
    std::fs::copy(&cert2, &live_cert).unwrap();
    std::fs::copy(&key2, &live_key).unwrap();
    server.signal("HUP");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let second = loop {
        let now = cert_of(server.addr);
        if now != first || std::time::Instant::now() > deadline {
            break now;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_ne!(first, second, "SIGHUP did not load the new certificate");
    use rustls::pki_types::pem::PemObject;
    let expected = rustls::pki_types::CertificateDer::from_pem_file(&cert2).unwrap();
    assert_eq!(second, expected.to_vec());

    // A broken file on the next SIGHUP: the server keeps serving the second certificate.
    std::fs::write(&live_cert, "garbage").unwrap();
    server.signal("HUP");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cert_of(server.addr), second);
    let mut s = server;
    assert!(
        s.child.try_wait().unwrap().is_none(),
        "SIGHUP must not stop the server"
    );
}
