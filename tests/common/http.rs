//! HTTP test helpers: a server with every ingress on, a real HTTP/1.1 client (hyper) for
//! well-formed requests, a raw socket for the edge cases a client library will not produce,
//! and the providers' payloads and signatures built the way each provider documents them.

use super::{TempDir, TestServer, DOMAIN};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use replyd::Config;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The secret every basic-auth ingress and Mailgun's signing key use in tests (the Rails
/// test password).
pub const PASSWORD: &str = "tbsy84uSV1Kt3ZJZELY2TmShPRs91E3yL4tzf96297vBCkDWgL";
/// Mandrill's webhook key (from the Rails tests).
pub const MANDRILL_KEY: &str = "1l9Qf7lutEf7h73VXfBwhw";
/// What Mandrill signs: the URL as entered at Mandrill, not the loopback address.
pub const MANDRILL_URL: &str = "https://example.com/rails/action_mailbox/mandrill/inbound_emails";

/// Action Mailbox paths.
pub const MAILGUN: &str = "/rails/action_mailbox/mailgun/inbound_emails/mime";
pub const SENDGRID: &str = "/rails/action_mailbox/sendgrid/inbound_emails";
pub const MANDRILL: &str = "/rails/action_mailbox/mandrill/inbound_emails";
pub const POSTMARK: &str = "/rails/action_mailbox/postmark/inbound_emails";
pub const RELAY: &str = "/rails/action_mailbox/relay/inbound_emails";

/// Turns the HTTP listener (loopback, port 0) and every ingress on.
pub fn all_ingresses(c: &mut Config) {
    c.http.listen = vec!["127.0.0.1:0".parse().unwrap()];
    c.ingress.mailgun.signing_key = Some(PASSWORD.into());
    c.ingress.sendgrid.password = Some(PASSWORD.into());
    c.ingress.postmark.password = Some(PASSWORD.into());
    c.ingress.relay.password = Some(PASSWORD.into());
    c.ingress.mandrill.webhook_key = Some(MANDRILL_KEY.into());
    c.ingress.mandrill.public_url = Some(MANDRILL_URL.into());
}

/// A server with every ingress on, then `tweak`.
pub fn http_server(tweak: impl FnOnce(&mut Config)) -> TestServer {
    TestServer::start_with(|c| {
        all_ingresses(c);
        tweak(c);
    })
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body, as text (lossy).
    pub body: String,
    /// The body's bytes.
    pub bytes: Vec<u8>,
}

/// The value of the header `name` (any case) among `headers`, the first if repeated.
pub fn header_in<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }

    /// The body as JSON (fails the test, showing it, when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    /// Asserts an API error answer: this status, `{"error": {"code": code, "message": …}}`
    /// with a non-empty message, as JSON.
    pub fn assert_api_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{}",
            self.body
        );
        let v = self.json();
        assert_eq!(v["error"]["code"], code, "{}", self.body);
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{}",
            self.body
        );
    }
}

/// Sends one request with hyper's HTTP/1.1 client and reads the whole answer.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Reply {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "example.com");
        for (name, value) in headers {
            req = req.header(*name, value.as_str());
        }
        let req = req
            .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))
            .unwrap();
        let response = tokio::time::timeout(Duration::from_secs(60), sender.send_request(req))
            .await
            .expect("no answer within 60 s")
            .unwrap();
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            bytes: body.to_vec(),
        }
    })
}

/// A POST with a body of `content_type`.
pub fn post(
    addr: SocketAddr,
    path: &str,
    content_type: &str,
    auth: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let mut headers = vec![("content-type", content_type.to_string())];
    if let Some(password) = auth {
        headers.push(("authorization", basic(password)));
    }
    request(addr, "POST", path, &headers, body)
}

/// `Basic base64(actionmailbox:password)`.
pub fn basic(password: &str) -> String {
    let plain = format!("actionmailbox:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(plain)
    )
}

/// `application/x-www-form-urlencoded` of `fields`, every byte that is not unreserved
/// written `%XX` (as browsers and providers do).
pub fn urlencoded(fields: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        encode_into(&mut out, name.as_bytes());
        out.push(b'=');
        encode_into(&mut out, value);
    }
    out
}

fn encode_into(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b);
        } else if b == b' ' {
            out.push(b'+');
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
}

/// `multipart/form-data` of `fields`: (content type with boundary, body).
pub fn multipart(fields: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "xYzZY-replyd-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Mailgun's signature: HMAC-SHA256 with the signing key over timestamp then token, hex.
pub fn mailgun_signature(key: &str, timestamp: i64, token: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(timestamp.to_string().as_bytes());
    mac.update(token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The fields of a signed Mailgun `forward()` to a `/mime` URL.
pub fn mailgun_fields(
    timestamp: i64,
    token: &str,
    recipient: Option<&str>,
    raw: &[u8],
) -> Vec<(String, Vec<u8>)> {
    let mut f = vec![
        ("timestamp".to_string(), timestamp.to_string().into_bytes()),
        ("token".to_string(), token.as_bytes().to_vec()),
        (
            "signature".to_string(),
            mailgun_signature(PASSWORD, timestamp, token).into_bytes(),
        ),
        ("sender".to_string(), b"bob@example.org".to_vec()),
        ("subject".to_string(), b"Re: Order 42".to_vec()),
        ("body-mime".to_string(), raw.to_vec()),
    ];
    if let Some(r) = recipient {
        f.push(("recipient".to_string(), r.as_bytes().to_vec()));
    }
    f
}

/// Borrows owned fields for [`urlencoded`] and [`multipart`].
pub fn borrowed(fields: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
    fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect()
}

/// Posts a Mailgun delivery, urlencoded.
pub fn post_mailgun(addr: SocketAddr, fields: &[(String, Vec<u8>)]) -> Reply {
    post(
        addr,
        MAILGUN,
        "application/x-www-form-urlencoded",
        None,
        urlencoded(&borrowed(fields)),
    )
}

/// Mandrill's signature: HMAC-SHA1 with the webhook key over the URL, then each field's
/// name and value sorted by name, base64.
pub fn mandrill_signature(key: &str, url: &str, fields: &[(&str, &[u8])]) -> String {
    let mut sorted = fields.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value);
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// One Mandrill inbound event for `raw` received for `email`.
pub fn mandrill_event(raw: &str, email: &str, id: &str) -> serde_json::Value {
    serde_json::json!({
        "event": "inbound",
        "ts": 1767225600,
        "_id": id,
        "msg": {
            "raw_msg": raw,
            "email": email,
            "from_email": "bob@example.org",
            "to": [[email, null]],
            "spf": {"result": "pass", "detail": "sender SPF authorized"},
            "dkim": {"signed": true, "valid": true},
        }
    })
}

/// Posts `mandrill_events` = `events`, signed with `key`.
pub fn post_mandrill(addr: SocketAddr, events: &str, key: &str) -> Reply {
    let fields: [(&str, &[u8]); 1] = [("mandrill_events", events.as_bytes())];
    let signature = mandrill_signature(key, MANDRILL_URL, &fields);
    request(
        addr,
        "POST",
        MANDRILL,
        &[
            (
                "content-type",
                "application/x-www-form-urlencoded".to_string(),
            ),
            ("x-mandrill-signature", signature),
        ],
        urlencoded(&fields),
    )
}

/// A raw HTTP/1.1 exchange over a socket: sends `head` then `body`, returns the answer's
/// status (0 when the connection closed without one).
pub fn raw_exchange(addr: SocketAddr, head: &str, body: &[u8]) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    // The server may answer (and close) before the whole body is sent.
    let _ = s.write_all(body);
    read_status(&mut s)
}

/// Reads an answer's status line from `s` (0 if none).
pub fn read_status(s: &mut TcpStream) -> u16 {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return 0,
        }
    }
    let line = String::from_utf8_lossy(&buf);
    line.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Seconds since the Unix epoch, now (what a provider signs its timestamp with).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A message to a conversation at our domain, with its own Message-ID.
pub fn reply_to(to: &str, id: &str, text: &str) -> Vec<u8> {
    super::reply_message(to, id, text).into_bytes()
}

/// `reply+<token>@DOMAIN` of an unknown token.
pub fn unknown_reply_address() -> String {
    format!("reply+{}@{DOMAIN}", "0".repeat(32))
}

/// The HTTP address a `replyd serve` child logged (`listening for HTTP addr=…`).
pub fn http_addr_of(server: &super::ServeProcess) -> SocketAddr {
    wait_for_log(server, "listening for HTTP");
    let log = server.log();
    let line = log
        .lines()
        .find(|l| l.contains("listening for HTTP"))
        .unwrap();
    let at = line.find("addr=").expect("the line names its address") + 5;
    line[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Waits (up to 20 s) until the child's log contains `text`.
pub fn wait_for_log(server: &super::ServeProcess, text: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !server.log().contains(text) {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not log {text:?}:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `replyd relay ARGS…` (no config file) with `input` on stdin.
pub fn replyd_relay(args: &[&str], input: &[u8]) -> std::process::Output {
    let mut command = std::process::Command::new(super::replyd_bin());
    command.arg("relay").args(args);
    super::run_with_stdin(command, input)
}

/// A replyd that a test can stop and start again on the same database and the same HTTP
/// port, where an MTA's pipe into `replyd relay` expects it.
pub struct RestartableRelay {
    pub data: TempDir,
    db: std::path::PathBuf,
    pub http_port: u16,
}

impl RestartableRelay {
    pub fn new(tag: &str) -> RestartableRelay {
        let data = TempDir::new(tag);
        let db = data.path().join("replyd.sqlite3");
        RestartableRelay {
            data,
            db,
            http_port: super::free_port(),
        }
    }

    /// Starts replyd (every ingress on) on the database and port.
    pub fn start(&self) -> TestServer {
        let (db, port) = (self.db.clone(), self.http_port);
        http_server(move |c| {
            c.store.path = db;
            c.http.listen = vec![format!("127.0.0.1:{port}").parse().unwrap()];
        })
    }

    /// The relay ingress's URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}{RELAY}", self.http_port)
    }
}

/// A server with the HTTP listener on (the helpdesk API on it unless `tweak` gives the API
/// its own `[api] listen`) and an API key made with `replyd api-key create`.
pub fn api_server(tweak: impl FnOnce(&mut Config)) -> (TestServer, String) {
    let srv = TestServer::start_with(|c| {
        c.http.listen = vec!["127.0.0.1:0".parse().unwrap()];
        tweak(c);
    });
    let key = create_api_key(&srv, "helpdesk");
    (srv, key)
}

/// Runs `replyd api-key ARGS…` on the server's database (as an operator would, while it
/// runs) and returns its output.
pub fn api_key_command(srv: &TestServer, args: &[&str]) -> std::process::Output {
    let config = super::write_config(srv.dir.path(), 0, "");
    let mut command = std::process::Command::new(super::replyd_bin());
    command.arg("--config").arg(&config);
    if super::postgres::url_for(&srv.db).is_none() {
        command.arg("--database").arg(&srv.db);
    }
    command.arg("api-key").args(args).output().unwrap()
}

/// Creates an API key with `replyd api-key create --name NAME`; returns the key (the one
/// line of stdout).
pub fn create_api_key(srv: &TestServer, name: &str) -> String {
    let out = api_key_command(srv, &["create", "--name", name]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    stdout.trim_end().to_string()
}

/// The API's address: `[api] listen`'s when set, else `[http] listen`'s.
pub fn api_addr(srv: &TestServer) -> SocketAddr {
    srv.api_addr.expect("the API is served")
}

/// `GET path` with the key (none: no Authorization header).
pub fn api_get(srv: &TestServer, key: Option<&str>, path: &str) -> Reply {
    api_request(api_addr(srv), key, "GET", path, None, vec![])
}

/// `POST path` with a JSON body.
pub fn api_post_json(
    srv: &TestServer,
    key: Option<&str>,
    path: &str,
    body: &serde_json::Value,
) -> Reply {
    api_request(
        api_addr(srv),
        key,
        "POST",
        path,
        Some("application/json"),
        body.to_string().into_bytes(),
    )
}

/// One API request to `addr`.
pub fn api_request(
    addr: SocketAddr,
    key: Option<&str>,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let mut headers = Vec::new();
    if let Some(key) = key {
        headers.push(("authorization", format!("Bearer {key}")));
    }
    if let Some(t) = content_type {
        headers.push(("content-type", t.to_string()));
    }
    request(addr, method, path, &headers, body)
}

/// Creates a conversation through the API for `contact` (`external_id` when given);
/// returns the answer.
pub fn api_create_conversation(
    srv: &TestServer,
    key: &str,
    contact: &str,
    external_id: Option<&str>,
) -> Reply {
    let mut body = serde_json::json!({
        "contact": contact,
        "channel": "web_widget",
        "subject": "Order 42",
    });
    if let Some(id) = external_id {
        body["external_id"] = serde_json::Value::String(id.to_string());
    }
    api_post_json(srv, Some(key), "/api/v1/conversations", &body)
}

/// Creates a conversation for bob@example.org through the API; returns its JSON.
pub fn api_conversation(srv: &TestServer, key: &str) -> serde_json::Value {
    let r = api_create_conversation(srv, key, "bob@example.org", None);
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()
}

/// Delivers a plain reply to `to` over SMTP; asserts `250`.
pub fn deliver_reply(srv: &TestServer, to: &str, text: &str) {
    let id = super::unique_id();
    let (code, text) = super::smtp_deliver(
        srv.addr,
        to,
        &reply_to(to, &format!("{id}@example.org"), text),
    );
    assert_eq!(code, 250, "{text}");
}

/// One scrape: its text, after checking the answer is Prometheus text.
pub fn scrape(addr: SocketAddr) -> String {
    let reply = request(addr, "GET", "/metrics", &[], Vec::new());
    assert_eq!(reply.status, 200, "{}", reply.body);
    let kind = reply.header("content-type").unwrap_or_default();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    reply.body
}

/// The value of one series (`name{labels}` exactly as exposed); 0 when absent.
pub fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0.0)
}
