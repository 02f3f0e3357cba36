//! A real DNS server on loopback for the sender verification tests: NSD (Debian's `nsd`)
//! serving one test zone from a temporary directory, and DKIM/ARC keys the tests generate
//! and publish in it. Also a "server" that never answers (a bound UDP socket nobody reads),
//! for `temperror`.

use super::needs::{needs, Need};
use super::{unique_id, Raw, TempDir, TestServer};
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use replyd::config::SenderPolicy;
use replyd::store::{Conversation, StoredMessage};
use replyd::Config;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running NSD serving the zone `test.`; stopped (killed) on drop.
pub struct TestDns {
    pub addr: SocketAddr,
    child: Child,
    pub dir: TempDir,
}

impl TestDns {
    /// Starts NSD with the zone `test.` holding `records` (zone-file lines, names relative
    /// to `test.`).
    pub fn start(records: &str) -> TestDns {
        // The port is free when chosen, but another test may take it (UDP or TCP) before
        // NSD binds it: then NSD says so, and it starts again on another.
        let mut last = String::new();
        for _ in 0..5 {
            match Self::start_on(records, free_udp_port()) {
                Ok(dns) => return dns,
                Err(log) => last = log,
            }
        }
        panic!("nsd did not start: {last}\nzone:\n{records}");
    }

    fn start_on(records: &str, port: u16) -> Result<TestDns, String> {
        let dir = TempDir::new("nsd");
        let d = dir.path().display().to_string();
        std::fs::write(
            dir.path().join("test.zone"),
            format!(
                "$ORIGIN test.\n$TTL 300\n\
                 @ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n\
                 @ IN NS ns.test.\nns IN A 127.0.0.1\n{records}\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("nsd.conf"),
            format!(
                "server:\n  ip-address: 127.0.0.1@{port}\n  port: {port}\n  username: \"\"\n\
                 \x20 chroot: \"\"\n  zonesdir: \"{d}\"\n  database: \"\"\n\
                 \x20 pidfile: \"{d}/nsd.pid\"\n  xfrdfile: \"{d}/xfrd.state\"\n\
                 \x20 zonelistfile: \"{d}/zone.list\"\n  logfile: \"{d}/nsd.log\"\n\
                 \x20 server-count: 1\n  verbosity: 1\n  do-ip6: no\n\
                 remote-control:\n  control-enable: no\n\
                 zone:\n  name: \"test\"\n  zonefile: \"test.zone\"\n"
            ),
        )
        .unwrap();
        let child = Command::new(nsd_bin())
            .arg("-d")
            .arg("-c")
            .arg(dir.path().join("nsd.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nsd");
        let dns = TestDns {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = std::fs::read_to_string(dns.dir.path().join("nsd.log")).unwrap_or_default();
            if log.contains("nsd started") {
                break;
            }
            if log.contains("could not be started") || Instant::now() >= deadline {
                return Err(log);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(dns)
    }

    /// Stops answering (SIGSTOP) or answers again (SIGCONT): a DNS server that hangs.
    pub fn pause(&self, paused: bool) {
        let sig = if paused { libc::SIGSTOP } else { libc::SIGCONT };
        // NSD forks its server processes: signal each by its pid.
        for pid in std::iter::once(self.child.id()).chain(children(self.child.id())) {
            unsafe { libc::kill(pid as i32, sig) };
        }
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        let kids = children(self.child.id());
        self.pause(false);
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in kids {
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

/// The processes `pid` forked (NSD runs its server and xfrd as children), and theirs.
fn children(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        let parent = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|p| p.trim().parse::<u32>().ok());
        if parent == Some(pid) {
            found.push(child);
            found.extend(children(child));
        }
    }
    found
}

fn nsd_bin() -> &'static str {
    if std::path::Path::new("/usr/sbin/nsd").exists() {
        "/usr/sbin/nsd"
    } else {
        "nsd"
    }
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A name server that never answers: queries to it time out.
pub struct SilentDns {
    pub addr: SocketAddr,
    _socket: UdpSocket,
    _tcp: std::net::TcpListener,
}

impl SilentDns {
    pub fn start() -> SilentDns {
        // TCP too, on the same port, accepted by the kernel and never read. The UDP port is
        // free, not necessarily the TCP one (another test's connection may hold it, as the
        // PostgreSQL runs' many connections often do): another UDP port then.
        for _ in 0..100 {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            let addr = socket.local_addr().unwrap();
            if let Ok(tcp) = std::net::TcpListener::bind(addr) {
                return SilentDns {
                    addr,
                    _socket: socket,
                    _tcp: tcp,
                };
            }
        }
        panic!("no port free for both UDP and TCP");
    }
}

/// A DKIM key pair made for a test: signs, and its record for the zone.
pub enum DkimKey {
    /// PKCS#1 DER of the private key (what `openssl genpkey -outform DER` writes for RSA),
    /// SubjectPublicKeyInfo DER of the public one.
    Rsa(Vec<u8>, Vec<u8>),
    /// PKCS#8 DER.
    Ed(Vec<u8>),
}

impl DkimKey {
    /// A 2048-bit RSA key, made by `openssl`.
    pub fn rsa(dir: &std::path::Path, tag: &str) -> DkimKey {
        let der = dir.join(format!("{tag}.der"));
        let ok = Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ])
            .args(["-outform", "DER", "-out"])
            .arg(&der)
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "openssl genpkey");
        let pub_der = dir.join(format!("{tag}.pub.der"));
        let ok = Command::new("openssl")
            .args(["pkey", "-inform", "DER", "-in"])
            .arg(&der)
            .args(["-pubout", "-outform", "DER", "-out"])
            .arg(&pub_der)
            .status()
            .unwrap()
            .success();
        assert!(ok, "openssl pkey -pubout");
        DkimKey::Rsa(
            std::fs::read(&der).unwrap(),
            std::fs::read(&pub_der).unwrap(),
        )
    }

    /// An Ed25519 key made by mail-auth.
    pub fn ed25519() -> DkimKey {
        DkimKey::Ed(Ed25519Key::generate_pkcs8().unwrap())
    }

    /// The TXT record of `selector._domainkey.domain`, as zone-file lines.
    pub fn record(&self, selector: &str, domain: &str) -> String {
        use base64::Engine;
        let (k, p) = match self {
            DkimKey::Rsa(_, public) => ("rsa", public.clone()),
            DkimKey::Ed(pkcs8) => (
                "ed25519",
                Ed25519Key::from_pkcs8_der(pkcs8).unwrap().public_key(),
            ),
        };
        let value = format!(
            "v=DKIM1; k={k}; p={}",
            base64::engine::general_purpose::STANDARD.encode(p)
        );
        // TXT strings are at most 255 bytes: split.
        let strings: Vec<String> = value
            .as_bytes()
            .chunks(200)
            .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
            .collect();
        format!(
            "{selector}._domainkey.{} IN TXT ( {} )\n",
            domain.trim_end_matches(".test"),
            strings.join(" ")
        )
    }

    /// `message` with a `DKIM-Signature` of `domain`/`selector` on top.
    pub fn sign(&self, message: &[u8], domain: &str, selector: &str) -> Vec<u8> {
        use mail_auth::common::headers::HeaderWriter;
        use mail_auth::dkim::DkimSigner;
        let headers = ["From", "To", "Subject", "Message-ID", "Date"];
        let header = match self {
            DkimKey::Rsa(der, _) => DkimSigner::from_key(rsa_key(der))
                .domain(domain)
                .selector(selector)
                .headers(headers)
                .sign(message)
                .unwrap()
                .to_header(),
            DkimKey::Ed(pkcs8) => DkimSigner::from_key(Ed25519Key::from_pkcs8_der(pkcs8).unwrap())
                .domain(domain)
                .selector(selector)
                .headers(headers)
                .sign(message)
                .unwrap()
                .to_header(),
        };
        [header.as_bytes(), message].concat()
    }
}

/// The RSA signing key of PKCS#8 DER bytes.
pub fn rsa_key(der: &[u8]) -> RsaKey<Sha256> {
    RsaKey::<Sha256>::from_key_der(rustls::pki_types::PrivateKeyDer::Pkcs1(der.to_vec().into()))
        .unwrap()
}

// The sender verification tests' server and client.

/// NSD and openssl are there (else the test says so and is skipped).
pub fn need_dns() -> bool {
    needs(&[Need::Program("nsd"), Need::Program("openssl")])
}

/// A server that verifies senders (loopback is not a trusted relay here), asking `dns`.
pub fn server(dns: SocketAddr, policy: SenderPolicy, sealers: &[&str]) -> TestServer {
    server_with(dns, policy, sealers, |_| {})
}

pub fn server_with(
    dns: SocketAddr,
    policy: SenderPolicy,
    sealers: &[&str],
    tweak: impl FnOnce(&mut Config),
) -> TestServer {
    let sealers: Vec<String> = sealers.iter().map(|s| s.to_string()).collect();
    TestServer::start_with(move |c| {
        c.server.trusted_relays = vec![];
        c.security.verify_senders = true;
        c.security.sender_policy = policy;
        c.security.trusted_arc_sealers = sealers;
        c.dns.servers = vec![dns.to_string()];
        c.dns.lookup_timeout = Duration::from_secs(1);
        c.dns.message_timeout = Duration::from_secs(2);
        c.limits.max_connection_rate_per_ip = 0;
        c.limits.max_message_rate_per_ip = 0;
        tweak(c);
    })
}

pub fn message(from: &str, to: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{}@client.test>\r\n\
         Date: Thu, 03 Dec 2026 07:00:00 +0000\r\n\r\nHello, it is me.\r\n",
        unique_id()
    )
    .into_bytes()
}

/// One SMTP transaction from 127.0.0.1: the reply to the end of DATA.
pub fn send(srv: &TestServer, mail_from: &str, rcpt: &str, raw: &[u8]) -> (u16, String) {
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO client.test", 250, "");
    c.expect(&format!("MAIL FROM:<{mail_from}>"), 250, "2.1.0");
    c.expect(&format!("RCPT TO:<{rcpt}>"), 250, "2.1.5");
    c.expect("DATA", 354, "");
    c.send(raw);
    c.cmd(".")
}

pub fn stored(srv: &TestServer, conv: &Conversation, subject: &str) -> StoredMessage {
    let found: Vec<StoredMessage> = srv
        .messages(&conv.uuid)
        .into_iter()
        .filter(|m| m.subject.as_deref() == Some(subject))
        .collect();
    assert_eq!(found.len(), 1, "one message {subject:?}");
    found.into_iter().next().unwrap()
}
