//! Bytes in, lines and message data out; replies buffered and flushed when the client waits.
//!
//! We do our own framing rather than trusting a library with it, because framing is where
//! SMTP smuggling lives: only `<CRLF>.<CRLF>` ends DATA, where the first CRLF really is a
//! CRLF; a bare LF ends a content line (stored as CRLF) but never takes part in the end of
//! data, and dot-unstuffing applies only to lines that follow a CRLF. Every read is bounded:
//! command lines by the line limit, data by the message size limit. The DATA byte rules
//! themselves are the framer's (`data_framer.rs`).

use super::data_framer::DataFramer;
use super::proxy;
use super::stream::Stream;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

/// How much is read from the socket at a time between messages (commands are short).
const READ_CHUNK: usize = 8 * 1024;
/// How much is read at a time during DATA once a message has this much: a 1 MiB message
/// in 16 reads rather than 128 (each a system call, a wake-up and a framer call). Only
/// then, so a session's read buffer stays small beside its message (a client trickling a
/// short message holds 8 KiB, as between messages); given back at the next command.
const DATA_READ_CHUNK: usize = 64 * 1024;
/// An over-long command line is discarded up to its LF; past this many bytes with no LF the
/// client is not speaking SMTP and is disconnected.
const RUNAWAY_LINE: usize = 64 * 1024;

/// The outcome of reading a command line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A line is in the caller's buffer, with its LF (smtp-proto wants it).
    Complete,
    /// Longer than the limit: discarded up to its LF.
    TooLong,
    /// No LF in sight after [`RUNAWAY_LINE`] bytes.
    Runaway,
    /// The client closed the connection.
    Eof,
}

/// The outcome of reading message data after `354`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Data {
    /// Ended by `<CRLF>.<CRLF>`; `bare_lf` says a bare LF was seen (and normalized);
    /// `sha256` is the SHA-256 of the message's bytes, computed as they arrived.
    Complete { bare_lf: bool, sha256: [u8; 32] },
    /// Ended properly, but over the size limit: nothing was kept.
    TooBig,
    /// More than twice the size limit without an end: the client is disconnected.
    Runaway,
    /// The client closed the connection mid-message.
    Eof,
    /// The client went quiet for the data timeout, or sent slower than the minimum rate.
    Timeout,
}

pub(crate) struct Connection<S> {
    stream: S,
    buf: Vec<u8>,
    pos: usize,
    out: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    pub fn new(stream: S) -> Self {
        Connection {
            stream,
            buf: Vec::new(),
            pos: 0,
            out: Vec::new(),
        }
    }

    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// Reads a PROXY protocol header, and not one byte after it.
    pub async fn read_proxy(&mut self) -> io::Result<proxy::Header> {
        loop {
            match proxy::parse(&self.buf[self.pos..]) {
                Ok(Some((header, used))) => {
                    self.pos += used;
                    return Ok(header);
                }
                Ok(None) => {
                    if self.fill().await? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                }
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
        }
    }

    /// Whether the client sent bytes we have not read yet.
    pub fn has_buffered(&self) -> bool {
        self.pos < self.buf.len()
    }

    /// Queues a one-line reply; CR and LF in `text` are replaced so a client can never
    /// inject a reply line.
    pub fn reply(&mut self, code: u16, esc: &str, text: &str) {
        self.out.extend_from_slice(code.to_string().as_bytes());
        self.out.push(b' ');
        if !esc.is_empty() {
            self.out.extend_from_slice(esc.as_bytes());
            self.out.push(b' ');
        }
        push_sanitized(&mut self.out, text);
        self.out.extend_from_slice(b"\r\n");
    }

    /// Queues a multi-line reply (`250-a`, `250-b`, `250 c`).
    pub fn reply_lines(&mut self, code: u16, lines: &[&str]) {
        for (i, line) in lines.iter().enumerate() {
            self.out.extend_from_slice(code.to_string().as_bytes());
            self.out
                .push(if i + 1 == lines.len() { b' ' } else { b'-' });
            push_sanitized(&mut self.out, line);
            self.out.extend_from_slice(b"\r\n");
        }
    }

    /// Sends what is queued.
    pub async fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.out.clear();
            if self.out.capacity() > READ_CHUNK {
                self.out = Vec::new();
            }
        }
        self.stream.flush().await
    }

    /// Reads more bytes; flushes queued replies first, since the client may be waiting for
    /// them before it sends more (this is what makes pipelining work both ways).
    async fn fill(&mut self) -> io::Result<usize> {
        self.fill_by(READ_CHUNK).await
    }

    /// [`Self::fill`], reading up to `chunk` bytes at a time.
    async fn fill_by(&mut self, chunk: usize) -> io::Result<usize> {
        self.flush().await?;
        if self.pos == self.buf.len() {
            self.pos = 0;
            self.buf.clear();
            if self.buf.capacity() > 4 * chunk {
                // Give back what a large message needed; idle sessions stay small.
                self.buf = Vec::new();
            }
        } else if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.reserve(chunk);
        self.stream.read_buf(&mut self.buf).await
    }

    /// Waits until the client has sent something (or closed), without consuming it.
    pub async fn wait_readable(&mut self) -> io::Result<usize> {
        if self.has_buffered() {
            return Ok(self.buf.len() - self.pos);
        }
        self.fill().await
    }

    /// Reads one command line (with its LF) into `line`, at most `max` bytes before the CRLF.
    pub async fn read_line(&mut self, line: &mut Vec<u8>, max: usize) -> io::Result<Line> {
        line.clear();
        let mut too_long = false;
        let mut seen = 0usize;
        loop {
            let avail = &self.buf[self.pos..];
            if let Some(i) = avail.iter().position(|&b| b == b'\n') {
                let chunk = &avail[..=i];
                self.pos += i + 1;
                if too_long || line.len() + chunk.len() > max + 2 {
                    line.clear();
                    return Ok(Line::TooLong);
                }
                line.extend_from_slice(chunk);
                return Ok(Line::Complete);
            }
            seen += avail.len();
            if !too_long {
                if line.len() + avail.len() > max + 2 {
                    too_long = true;
                    line.clear();
                } else {
                    line.extend_from_slice(avail);
                }
            }
            self.pos = self.buf.len();
            if seen > RUNAWAY_LINE {
                return Ok(Line::Runaway);
            }
            if self.fill().await? == 0 {
                return Ok(Line::Eof);
            }
        }
    }

    /// Reads message data up to `<CRLF>.<CRLF>` into `out`, dot-unstuffed, bare LF stored as
    /// CRLF, keeping at most `max` bytes.
    ///
    /// Time: the client may be silent for at most `timeout`, and the whole transfer gets
    /// `timeout` plus one second per `min_rate` bytes received (0 = no rate), so a client
    /// that trickles bytes to hold the session open (slowloris) is cut off.
    pub async fn read_data(
        &mut self,
        out: &mut Vec<u8>,
        max: usize,
        timeout: Duration,
        min_rate: u64,
    ) -> io::Result<Data> {
        out.clear();
        let mut framer = DataFramer::new(max);
        let mut deadline = Instant::now() + timeout;
        loop {
            let avail = &self.buf[self.pos..];
            let (used, done) = framer.feed(avail, out);
            self.pos += used;
            if let Some(end) = done {
                return Ok(end);
            }
            let chunk = if out.len() >= DATA_READ_CHUNK {
                DATA_READ_CHUNK
            } else {
                READ_CHUNK
            };
            let n = match tokio::time::timeout_at(deadline, self.fill_by(chunk)).await {
                Err(_) => return Ok(Data::Timeout),
                Ok(r) => r?,
            };
            if n == 0 {
                return Ok(Data::Eof);
            }
            let idle_limit = Instant::now() + timeout;
            deadline = if min_rate == 0 {
                idle_limit
            } else {
                (deadline + Duration::from_secs_f64(n as f64 / min_rate as f64)).min(idle_limit)
            };
        }
    }
}

impl Connection<Stream> {
    /// Flushes, then closes our side. A TCP or Unix socket is closed when the session drops
    /// it (one system call, not two); TLS sends its close_notify here.
    pub async fn close(&mut self) {
        let _ = self.flush().await;
        if !matches!(self.stream, Stream::Tcp(_) | Stream::Unix(_)) {
            let _ = self.stream.shutdown().await;
        }
    }

    /// Sends what is queued (the `220` to STARTTLS), then runs the TLS handshake on the
    /// socket. Whatever the client sent after the command is discarded, never read as if it
    /// had come over TLS (CVE-2011-0411); returns how many bytes that was.
    pub async fn start_tls(&mut self, acceptor: TlsAcceptor) -> io::Result<usize> {
        self.flush().await?;
        let discarded = self.buf.len() - self.pos;
        self.buf = Vec::new();
        self.pos = 0;
        let Stream::Tcp(tcp) = std::mem::replace(&mut self.stream, Stream::Closed) else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "STARTTLS is only offered on TCP",
            ));
        };
        let tls = acceptor.accept(tcp).await?;
        self.stream = Stream::Tls(Box::new(tls));
        Ok(discarded)
    }
}

fn push_sanitized(out: &mut Vec<u8>, text: &str) {
    out.extend(text.bytes().map(|b| match b {
        b'\r' | b'\n' | 0 => b' ',
        b => b,
    }));
}
