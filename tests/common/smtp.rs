//! A raw SMTP/LMTP client for protocol edge cases (exact bytes out, exact replies in, over
//! TCP, a Unix socket or TLS), a self-signed certificate for the TLS tests, and one plain
//! SMTP delivery.
#![allow(dead_code)]

use super::*;

/// What a [`Raw`] client talks over: TCP, a Unix socket, TLS.
pub trait Duplex: Read + Write + Send {}
impl<T: Read + Write + Send> Duplex for T {}

/// A raw SMTP/LMTP client: send exact bytes, read exact replies.
pub struct Raw {
    pub reader: BufReader<Box<dyn Duplex>>,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Raw::over(Box::new(s))
    }

    /// A client on a Unix socket (LMTP).
    pub fn unix(path: &Path) -> Raw {
        let s = std::os::unix::net::UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Raw::over(Box::new(s))
    }

    pub fn over(stream: Box<dyn Duplex>) -> Raw {
        Raw {
            reader: BufReader::new(stream),
        }
    }

    /// Runs a TLS handshake on the connection (after `220` to STARTTLS) and returns the
    /// server's certificate. The certificate is not verified: tests use self-signed ones.
    pub fn start_tls(&mut self) -> Vec<u8> {
        assert!(
            self.reader.buffer().is_empty(),
            "the server sent bytes after its 220 to STARTTLS"
        );
        let plain = std::mem::replace(&mut self.reader, BufReader::new(Box::new(std::io::empty())));
        let mut sock = plain.into_inner();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from("mx.test").unwrap();
        let mut tls = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        while tls.is_handshaking() {
            tls.complete_io(&mut sock).unwrap();
        }
        let cert = tls.peer_certificates().unwrap()[0].to_vec();
        self.reader = BufReader::new(Box::new(rustls::StreamOwned::new(tls, sock)));
        cert
    }

    /// Connects and reads the greeting, asserting it is 220.
    pub fn greeted(addr: SocketAddr) -> Raw {
        let mut r = Raw::connect(addr);
        let (code, text) = r.reply();
        assert_eq!(code, 220, "{text}");
        r
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).unwrap();
    }

    /// Reads one (possibly multi-line) reply: its code and all its text lines joined by '\n'.
    pub fn reply(&mut self) -> (u16, String) {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).unwrap_or(0);
            if n == 0 {
                return (0, text);
            }
            assert!(line.ends_with("\r\n"), "reply line without CRLF: {line:?}");
            let code: u16 = line[..3].parse().unwrap();
            let last = line.as_bytes().get(3) == Some(&b' ');
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(line[4..].trim_end());
            if last {
                return (code, text);
            }
        }
    }

    /// Sends a command line (CRLF added) and returns the reply.
    pub fn cmd(&mut self, line: &str) -> (u16, String) {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// Asserts the reply to `line` has `code` and its text starts with `esc`.
    pub fn expect(&mut self, line: &str, code: u16, esc: &str) -> String {
        let (c, text) = self.cmd(line);
        assert_eq!(c, code, "{line} -> {c} {text}");
        assert!(
            text.starts_with(esc),
            "{line} -> {c} {text}, expected {esc}"
        );
        text
    }

    /// EHLO, MAIL from bob@example.org, RCPT to `to`, DATA: ready for the message bytes.
    pub fn start_data(&mut self, to: &str) {
        self.expect("EHLO client.test", 250, "");
        self.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
        self.expect(&format!("RCPT TO:<{to}>"), 250, "2.1.5");
        self.expect("DATA", 354, "");
    }

    /// EHLO, MAIL, RCPT…, DATA, body, dot: returns the final reply.
    pub fn send_mail(&mut self, from: &str, rcpts: &[&str], body: &str) -> (u16, String) {
        self.expect("EHLO client.test", 250, "");
        self.expect(&format!("MAIL FROM:<{from}>"), 250, "2.1.0");
        for r in rcpts {
            self.expect(&format!("RCPT TO:<{r}>"), 250, "2.1.5");
        }
        self.expect("DATA", 354, "");
        let mut data = body.replace("\r\n", "\n").replace('\n', "\r\n");
        if !data.ends_with("\r\n") {
            data.push_str("\r\n");
        }
        self.send(data.as_bytes());
        self.cmd(".")
    }

    /// True when the server closed the connection.
    pub fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.reader.read(&mut buf), Ok(0) | Err(_))
    }
}

/// Accepts any server certificate (tests use self-signed ones) but checks signatures.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// What [`self_signed_cert`] needs: the openssl CLI.
pub const OPENSSL: &[Need] = &[Need::Program("openssl")];

/// A self-signed certificate for `mx.test` (and its key), made with the openssl CLI into
/// `dir`: (cert.pem, key.pem). A test that calls it checks [`OPENSSL`] first.
pub fn self_signed_cert(dir: &Path, tag: &str) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{tag}-cert.pem"));
    let key = dir.join(format!("{tag}-key.pem"));
    let status = Command::new(needs::program("openssl"))
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-subj", "/CN=mx.test", "-days", "2"])
        .args(["-addext", "subjectAltName=DNS:mx.test", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run openssl: {e}"));
    assert!(status.success(), "openssl req failed");
    (cert, key)
}

/// Delivers each `(recipient, message)` in a session of its own, so that the ends of data
/// arrive together and the writer takes them in one batch: every session goes up to its
/// data, then `before_dots` runs, then all the dots leave at once. Each session's answer,
/// in `mail`'s order.
pub fn burst(
    addr: SocketAddr,
    mail: &[(&str, &[u8])],
    before_dots: impl FnOnce(),
) -> Vec<(u16, String)> {
    let mut sessions: Vec<Raw> = mail
        .iter()
        .map(|(to, body)| {
            let mut c = Raw::greeted(addr);
            c.start_data(to);
            c.send(body);
            c
        })
        .collect();
    before_dots();
    let start = std::sync::Barrier::new(sessions.len());
    std::thread::scope(|s| {
        let ends: Vec<_> = sessions
            .iter_mut()
            .map(|c| {
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    c.cmd(".")
                })
            })
            .collect();
        ends.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Delivers `raw` (CRLF lines, no line starting with a dot) over SMTP from
/// bob@example.org to `to` and returns the reply to the final dot.
pub fn smtp_deliver(addr: SocketAddr, to: &str, raw: &[u8]) -> (u16, String) {
    let mut c = Raw::greeted(addr);
    c.start_data(to);
    c.send(raw);
    c.cmd(".")
}

/// How long `addr` took to answer `RCPT TO:<to>` with `code`, asking again (after `RSET`) on
/// one session until it does; panics past `limit` with the last answer. For a change made
/// elsewhere (another node, plain SQL) that a node must see within a time.
pub fn rcpt_answers_within(
    addr: SocketAddr,
    to: &str,
    code: u16,
    limit: std::time::Duration,
) -> std::time::Duration {
    let started = std::time::Instant::now();
    let mut c = Raw::greeted(addr);
    c.expect("EHLO client.test", 250, "");
    loop {
        c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
        let answer = c.cmd(&format!("RCPT TO:<{to}>"));
        if answer.0 == code {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "RCPT TO:<{to}> still answered {answer:?} after {limit:?} (expected {code})"
        );
        c.expect("RSET", 250, "");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
