//! One SMTP or LMTP session: the state machine from greeting to QUIT.
//!
//! Commands are framed by our length-capped line reader and parsed by `smtp-proto`. Every
//! refusal happens in the dialogue with the right code (no silent drops, no bounces of our
//! own), every accepted message is committed before `250`, and a storage fault answers
//! `451` with the session still usable.
//!
//! LMTP (RFC 2033) is the same machine with a [`Protocol`] flag: `LHLO` instead of
//! `EHLO`/`HELO`, and after the data one reply per accepted recipient, in `RCPT` order, so
//! the front MTA knows each recipient's fate. STARTTLS (RFC 3207) swaps the stream under
//! the session; bytes the client pipelined after the command are discarded, never read as
//! if they had come over TLS (CVE-2011-0411), and the session starts over from `EHLO`.
//!
//! At about 600 lines this file is one concern on purpose: the states and every transition
//! between them read together (what `RSET`, `STARTTLS` or a refusal resets is visible in one
//! place). The DATA stage, which talks to the intake, is `session/data.rs`.

mod data;

use super::connection::{Connection, Data, Line};
use super::rate::RateLimiter;
use super::stream::Stream;
use super::tls::Tls;
use crate::config::Config;
use crate::intake::{Arrival, DeliveryError, Intake, Refusal, SpfCheck, WayIn};
use crate::metrics::ConnectionRefusal;
use crate::shutdown::{Phase, Signal};
use crate::store::{Destination, Reason, Store, StoreError, Stored};
use smtp_proto::{Error as ProtoError, Request};
use std::net::SocketAddr;
use std::sync::Arc;

/// Which dialect a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Smtp,
    Lmtp,
}

/// What every session shares.
pub(crate) struct Context {
    /// Shared with the HTTP ingresses, which deliver by the same rules.
    pub intake: Arc<Intake>,
    pub ehlo_lines: Vec<String>,
    /// The STARTTLS certificate, when `[tls]` is configured.
    pub tls: Option<Tls>,
    /// New connections per client IP per minute.
    pub connection_rate: RateLimiter,
    /// Messages per client IP per minute.
    pub message_rate: RateLimiter,
}

impl Context {
    pub fn new(config: Config, store: Store, tls: Option<Tls>) -> Context {
        let ehlo_lines = vec![
            config.server.hostname.clone(),
            "PIPELINING".into(),
            format!("SIZE {}", config.limits.max_message_size),
            "8BITMIME".into(),
            "SMTPUTF8".into(),
            "ENHANCEDSTATUSCODES".into(),
        ];
        Context {
            connection_rate: RateLimiter::new(config.limits.max_connection_rate_per_ip),
            message_rate: RateLimiter::new(config.limits.max_message_rate_per_ip),
            intake: Arc::new(Intake::new(config, store)),
            ehlo_lines,
            tls,
        }
    }
}

struct Transaction {
    sender: String,
    smtputf8: bool,
    recipients: Vec<(String, Destination)>,
    /// Sender verification's SPF check, started at the first accepted recipient (its
    /// look-ups overlap the data); dropped with the transaction, which stops it.
    spf: Option<SpfCheck>,
}

pub(crate) struct Session {
    conn: Connection<Stream>,
    ctx: Arc<Context>,
    /// The client (after a PROXY header, the real one); `None` on a Unix socket.
    peer: Option<SocketAddr>,
    /// The client is on a `trusted_relays` network (a front MTA), or on our Unix socket.
    trusted: bool,
    protocol: Protocol,
    shutdown: Signal,
    helo: Option<String>,
    esmtp: bool,
    tx: Option<Transaction>,
    errors: u32,
    junk: u32,
}

enum Flow {
    Continue,
    Close,
}

/// How a session's client shows in the log.
struct PeerName(Option<SocketAddr>);

impl std::fmt::Display for PeerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(a) => write!(f, "{a}"),
            None => f.write_str("unix"),
        }
    }
}

impl Session {
    pub fn new(
        conn: Connection<Stream>,
        ctx: Arc<Context>,
        peer: Option<SocketAddr>,
        trusted: bool,
        protocol: Protocol,
        shutdown: Signal,
    ) -> Self {
        Session {
            conn,
            ctx,
            peer,
            trusted,
            protocol,
            shutdown,
            helo: None,
            esmtp: false,
            tx: None,
            errors: 0,
            junk: 0,
        }
    }

    /// Runs the session to its end.
    pub async fn run(mut self) {
        let host = self.ctx.intake.config.server.hostname.clone();
        let delay = self.ctx.intake.config.limits.greeting_delay;
        if !self.trusted && !delay.is_zero() {
            // A client that talks before the banner is a spammer's ratware or a desynchronised
            // pipeline: RFC 5321 §4.3.1 has the client wait for the greeting.
            match tokio::time::timeout(delay, self.conn.wait_readable()).await {
                Err(_) => {}
                Ok(Ok(n)) if n > 0 => {
                    tracing::info!(peer = %PeerName(self.peer), "client talked before the greeting; refused");
                    self.ctx
                        .intake
                        .metrics
                        .connection_refused(ConnectionRefusal::EarlyTalker);
                    self.conn.reply(
                        554,
                        "5.5.0",
                        "Protocol error: you talked before the greeting",
                    );
                    self.conn.close().await;
                    return;
                }
                Ok(_) => return,
            }
        }
        let dialect = match self.protocol {
            Protocol::Smtp => "ESMTP",
            Protocol::Lmtp => "LMTP",
        };
        self.conn
            .reply(220, "", &format!("{host} {dialect} replyd ready"));
        let mut line = Vec::with_capacity(128);
        loop {
            if self.shutdown.phase() >= Phase::Draining {
                self.conn.reply(
                    421,
                    "4.3.2",
                    &format!("{host} Service shutting down, try again later"),
                );
                break;
            }
            let max = self.ctx.intake.config.limits.max_line_length;
            let timeout = self.ctx.intake.config.limits.command_timeout;
            let mut shutdown = self.shutdown.clone();
            let read = tokio::select! {
                r = tokio::time::timeout(timeout, self.conn.read_line(&mut line, max)) => r,
                _ = shutdown.reached(Phase::Draining) => continue,
            };
            let flow = match read {
                Err(_) => {
                    self.conn
                        .reply(421, "4.4.2", &format!("{host} Timeout exceeded, closing"));
                    Flow::Close
                }
                Ok(Err(_)) | Ok(Ok(Line::Eof)) => return,
                Ok(Ok(Line::Runaway)) => {
                    self.conn
                        .reply(421, "4.7.0", &format!("{host} Line too long, closing"));
                    Flow::Close
                }
                Ok(Ok(Line::TooLong)) => self.error(500, "5.5.2", "Line too long"),
                Ok(Ok(Line::Complete)) => self.command(&line).await,
            };
            if let Flow::Close = flow {
                break;
            }
        }
        self.conn.close().await;
    }

    /// How this session's mail arrives, for the intake.
    fn arrival(&self) -> Arrival<'_> {
        let way_in = match self.protocol {
            Protocol::Lmtp => WayIn::Lmtp,
            Protocol::Smtp => WayIn::Smtp {
                esmtp: self.esmtp,
                tls: self.conn.stream().is_tls(),
            },
        };
        Arrival {
            helo: self.helo.as_deref(),
            remote_ip: self.peer.map(|p| p.ip()),
            way_in,
            trusted_relay: self.trusted,
        }
    }

    /// Refuses a delivery attempt (recorded in the activity log) with an error reply.
    fn refuse_attempt(
        &mut self,
        sender: Option<&str>,
        recipient: Option<&str>,
        refusal: Refusal,
    ) -> Flow {
        let sender = sender
            .map(str::to_string)
            .or_else(|| self.tx.as_ref().map(|tx| tx.sender.clone()));
        self.ctx
            .intake
            .refused(&self.arrival(), sender.as_deref(), recipient, &refusal);
        self.error(refusal.code, refusal.esc, &refusal.text)
    }

    /// Queues an error reply and counts it; too many errors end the session.
    fn error(&mut self, code: u16, esc: &str, text: &str) -> Flow {
        self.conn.reply(code, esc, text);
        self.errors += 1;
        if self.errors >= self.ctx.intake.config.limits.hard_error_limit {
            let host = &self.ctx.intake.config.server.hostname;
            self.conn
                .reply(421, "4.7.0", &format!("{host} Too many errors, closing"));
            return Flow::Close;
        }
        Flow::Continue
    }

    fn junk(&mut self) -> Flow {
        self.junk += 1;
        if self.junk > self.ctx.intake.config.limits.junk_command_limit {
            let host = &self.ctx.intake.config.server.hostname;
            self.conn.reply(
                421,
                "4.7.0",
                &format!("{host} Too many commands without mail, closing"),
            );
            return Flow::Close;
        }
        Flow::Continue
    }

    async fn command(&mut self, line: &[u8]) -> Flow {
        if line.contains(&0) {
            return self.error(500, "5.5.2", "NUL character in command");
        }
        let Ok(text) = std::str::from_utf8(line) else {
            return self.error(500, "5.5.2", "Invalid UTF-8 in command");
        };
        if is_forbidden(text) {
            self.conn
                .reply(221, "2.7.0", "Error: this is an SMTP server. Goodbye");
            tracing::info!(peer = %PeerName(self.peer), "forbidden command (HTTP or header line); closed");
            return Flow::Close;
        }
        let request = match Request::parse(&mut line.iter()) {
            Ok(r) => r,
            Err(e) => return self.protocol_error(e),
        };
        let lmtp = self.protocol == Protocol::Lmtp;
        match request {
            Request::Ehlo { .. } | Request::Helo { .. } if lmtp => {
                self.error(500, "5.5.1", "This is LMTP; use LHLO")
            }
            Request::Lhlo { .. } if !lmtp => self.error(500, "5.5.1", "LHLO is for LMTP; use EHLO"),
            Request::Ehlo { host } | Request::Lhlo { host } => {
                self.helo = Some(host.into_owned());
                self.esmtp = true;
                self.tx = None;
                let mut lines: Vec<&str> = self.ctx.ehlo_lines.iter().map(String::as_str).collect();
                if !lmtp && self.ctx.tls.is_some() && !self.conn.stream().is_tls() {
                    lines.insert(1, "STARTTLS");
                }
                self.conn.reply_lines(250, &lines);
                Flow::Continue
            }
            Request::Helo { host } => {
                self.helo = Some(host.into_owned());
                self.esmtp = false;
                self.tx = None;
                let host = self.ctx.intake.config.server.hostname.clone();
                self.conn.reply(250, "", &host);
                Flow::Continue
            }
            Request::StartTls => self.starttls().await,
            Request::Mail { from } => self.mail(text, from.address.as_ref(), from.flags),
            Request::Rcpt { to } => self.rcpt(text, to.address.as_ref()).await,
            Request::Data => self.data().await,
            Request::Rset => {
                self.tx = None;
                self.conn.reply(250, "2.0.0", "Ok");
                self.junk()
            }
            Request::Noop { .. } => {
                self.conn.reply(250, "2.0.0", "Ok");
                self.junk()
            }
            Request::Vrfy { .. } => {
                self.conn.reply(
                    252,
                    "2.5.0",
                    "Cannot VRFY user, but will accept message and attempt delivery",
                );
                self.junk()
            }
            Request::Help { .. } => {
                self.conn.reply(
                    214,
                    "2.0.0",
                    "replyd accepts replies to reply+<token>@<domain>; see RFC 5321",
                );
                self.junk()
            }
            Request::Quit => {
                let host = self.ctx.intake.config.server.hostname.clone();
                self.conn.reply(221, "2.0.0", &format!("{host} Bye"));
                Flow::Close
            }
            Request::Bdat { .. }
            | Request::Auth { .. }
            | Request::Expn { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. } => self.error(502, "5.5.1", "Command not implemented"),
        }
    }

    fn protocol_error(&mut self, e: ProtoError) -> Flow {
        match e {
            ProtoError::UnknownCommand => self.error(500, "5.5.1", "Unknown command"),
            ProtoError::InvalidSenderAddress => {
                self.error(501, "5.1.7", "Bad sender address syntax")
            }
            ProtoError::InvalidRecipientAddress => {
                self.error(501, "5.1.3", "Bad recipient address syntax")
            }
            ProtoError::SyntaxError { syntax } => {
                self.error(501, "5.5.4", &format!("Syntax: {syntax}"))
            }
            ProtoError::InvalidParameter { param } => self.error(
                501,
                "5.5.4",
                &format!("Invalid value for parameter {param}"),
            ),
            ProtoError::UnsupportedParameter { param } => {
                let param: String = param.chars().take(64).collect();
                self.error(555, "5.5.4", &format!("Unsupported parameter {param}"))
            }
            _ => self.error(500, "5.5.2", "Syntax error"),
        }
    }

    async fn starttls(&mut self) -> Flow {
        let tls = match &self.ctx.tls {
            Some(tls) if self.protocol == Protocol::Smtp => tls,
            _ => return self.error(502, "5.5.1", "Command not implemented"),
        };
        if self.conn.stream().is_tls() {
            return self.error(503, "5.5.1", "TLS already active");
        }
        if !self.esmtp {
            return self.error(503, "5.5.1", "Send EHLO first");
        }
        let acceptor = tls.acceptor();
        self.conn.reply(220, "2.0.0", "Ready to start TLS");
        // RFC 3207 §4.2: nothing learnt before the handshake carries over.
        self.helo = None;
        self.esmtp = false;
        self.tx = None;
        let timeout = self.ctx.intake.config.limits.command_timeout;
        let peer = PeerName(self.peer);
        match tokio::time::timeout(timeout, self.conn.start_tls(acceptor)).await {
            Ok(Ok(discarded)) => {
                if discarded > 0 {
                    tracing::warn!(%peer, discarded, "bytes pipelined after STARTTLS discarded");
                }
                Flow::Continue
            }
            Ok(Err(e)) => {
                tracing::info!(%peer, error = %e, "TLS handshake failed; closed");
                Flow::Close
            }
            Err(_) => {
                tracing::info!(%peer, "TLS handshake timed out; closed");
                Flow::Close
            }
        }
    }

    fn mail(&mut self, line: &str, address: &str, flags: u64) -> Flow {
        if self.helo.is_none() {
            return match self.protocol {
                Protocol::Smtp => self.error(503, "5.5.1", "Send HELO or EHLO first"),
                Protocol::Lmtp => self.error(503, "5.5.1", "Send LHLO first"),
            };
        }
        if self.protocol == Protocol::Smtp
            && self.ctx.intake.config.tls.require_tls
            && !self.conn.stream().is_tls()
        {
            return self.refuse_attempt(
                Some(address),
                None,
                Refusal::new(
                    530,
                    "5.7.0",
                    "Must issue a STARTTLS command first",
                    Reason::Policy,
                ),
            );
        }
        if self.tx.is_some() {
            return self.error(503, "5.5.1", "Nested MAIL command");
        }
        if let Some(peer) = self.peer.filter(|_| !self.trusted) {
            if !self.ctx.message_rate.allow(peer.ip()) {
                tracing::warn!(%peer, "max_message_rate_per_ip reached; MAIL refused with 450");
                return self.refuse_attempt(
                    Some(address),
                    None,
                    Refusal::new(
                        450,
                        "4.7.1",
                        "Too much mail from your address, try again later",
                        Reason::RateLimit,
                    ),
                );
            }
        }
        let smtputf8 = flags & smtp_proto::MAIL_SMTPUTF8 != 0;
        if !smtputf8 && !address.is_ascii() {
            return self.refuse_attempt(
                Some(address),
                None,
                Refusal::new(
                    553,
                    "5.6.7",
                    "Non-ASCII address requires SMTPUTF8",
                    Reason::Policy,
                ),
            );
        }
        match declared_size(line) {
            Err(()) => return self.error(501, "5.5.4", "Invalid SIZE value"),
            Ok(Some(size)) if size > self.ctx.intake.config.limits.max_message_size as u64 => {
                let text = format!(
                    "Message size exceeds the limit of {} bytes",
                    self.ctx.intake.config.limits.max_message_size
                );
                return self.refuse_attempt(
                    Some(address),
                    None,
                    Refusal::new(552, "5.3.4", text, Reason::TooLarge),
                );
            }
            Ok(_) => {}
        }
        // smtp-proto reports `<postmaster>` like `<>`: the raw line tells them apart.
        let sender = if address.is_empty() && path_is_postmaster(line) {
            "postmaster".to_string()
        } else {
            address.to_string()
        };
        self.tx = Some(Transaction {
            sender,
            smtputf8,
            recipients: Vec::new(),
            spf: None,
        });
        self.junk = 0;
        self.conn.reply(250, "2.1.0", "Sender OK");
        Flow::Continue
    }

    async fn rcpt(&mut self, line: &str, address: &str) -> Flow {
        let Some(tx) = &self.tx else {
            return self.error(503, "5.5.1", "Need MAIL before RCPT");
        };
        if !tx.smtputf8 && !address.is_ascii() {
            return self.refuse_attempt(
                None,
                Some(address),
                Refusal::new(
                    553,
                    "5.6.7",
                    "Non-ASCII address requires SMTPUTF8",
                    Reason::Policy,
                ),
            );
        }
        if tx.recipients.len() >= self.ctx.intake.config.limits.max_recipients {
            return self.refuse_attempt(
                None,
                Some(address),
                Refusal::new(
                    452,
                    "4.5.3",
                    "Too many recipients",
                    Reason::TooManyRecipients,
                ),
            );
        }
        let address = if address.is_empty() {
            if path_is_postmaster(line) {
                "postmaster"
            } else {
                return self.error(501, "5.1.3", "Empty recipient address");
            }
        } else {
            address
        };
        let sender = tx.sender.clone();
        let dest = match self
            .ctx
            .intake
            .check_recipient(&self.arrival(), &sender, address)
            .await
        {
            Ok(dest) => dest,
            Err(refusal) => return self.error(refusal.code, refusal.esc, &refusal.text),
        };
        let spf = match &self.tx {
            Some(tx) if tx.spf.is_none() => self.ctx.intake.start_spf(&self.arrival(), &sender),
            _ => None,
        };
        if let Some(tx) = &mut self.tx {
            tx.recipients.push((address.to_string(), dest));
            tx.spf = tx.spf.take().or(spf);
        }
        self.conn.reply(250, "2.1.5", "Recipient OK");
        Flow::Continue
    }
}

/// `GET`, `POST`, `CONNECT` and header-like lines: someone is not speaking SMTP to us, e.g.
/// a browser tricked into posting to port 25 (cross-protocol attacks).
fn is_forbidden(line: &str) -> bool {
    let word = line.split([' ', '\r', '\n']).next().unwrap_or_default();
    let upper = word.to_ascii_uppercase();
    matches!(upper.as_str(), "GET" | "POST" | "CONNECT" | "PUT" | "HEAD")
        || (word.len() > 1
            && word.ends_with(':')
            && word[..word.len() - 1]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// Whether the path in a MAIL/RCPT line is `<postmaster>` (case-insensitive).
fn path_is_postmaster(line: &str) -> bool {
    let Some(start) = line.find('<') else {
        return false;
    };
    let Some(len) = line[start + 1..].find('>') else {
        return false;
    };
    line[start + 1..start + 1 + len]
        .trim()
        .eq_ignore_ascii_case("postmaster")
}

/// The `SIZE=` parameter of a MAIL line, read by us: smtp-proto's number wraps on 21+
/// digits. `Err` for a value that is not a number or does not fit in 64 bits.
fn declared_size(line: &str) -> Result<Option<u64>, ()> {
    let params = match line.rfind('>') {
        Some(i) => &line[i + 1..],
        None => return Ok(None),
    };
    for param in params.split_ascii_whitespace() {
        if let Some((name, value)) = param.split_once('=') {
            if name.eq_ignore_ascii_case("SIZE") {
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(());
                }
                return value.parse::<u64>().map(Some).map_err(|_| ());
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_parameter() {
        assert_eq!(
            declared_size("MAIL FROM:<a@b> SIZE=1000\r\n"),
            Ok(Some(1000))
        );
        assert_eq!(declared_size("MAIL FROM:<a@b>\r\n"), Ok(None));
        assert_eq!(
            declared_size("MAIL FROM:<a@b> SIZE=184467440737095516160\r\n"),
            Err(())
        );
        assert_eq!(declared_size("MAIL FROM:<a@b> size=12x\r\n"), Err(()));
    }

    #[test]
    fn postmaster_paths() {
        assert!(path_is_postmaster("RCPT TO:<Postmaster>\r\n"));
        assert!(!path_is_postmaster("RCPT TO:<>\r\n"));
    }

    #[test]
    fn forbidden() {
        assert!(is_forbidden("GET / HTTP/1.1\r\n"));
        assert!(is_forbidden("Host: example.com\r\n"));
        assert!(!is_forbidden("MAIL FROM:<a@b>\r\n"));
        assert!(!is_forbidden("NOOP\r\n"));
    }
}
