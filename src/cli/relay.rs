//! `replyd relay`: one message on stdin, posted to a (remote) relay ingress, so that
//! Postfix, Exim or Qmail on another host can pipe into replyd over HTTP(S).
//!
//! The envelope travels as query parameters (`--recipient`, `--sender` from the MTA's own
//! variables), so nothing depends on pipe flags adding headers, and a bounce's null sender
//! survives. What the MTA hears follows its own convention: Postfix reads sysexits and
//! lets a leading enhanced status code (`4.x.x`/`5.x.x`) in the output win, Exim retries
//! 75 and fails 69, Qmail retries 111 and bounces 100. Anything that may be fixed on our
//! side (a network error, a 5xx, a wrong password, a wrong URL, a missing password file)
//! is temporary, so misconfiguration keeps mail queued instead of bouncing it; only the
//! ingress's refusals for good (403, 406, 413, 422) are permanent. It needs no config
//! file: it runs where the MTA runs.

use crate::display::escape;
use crate::http_client::tls_connector;
use hyper::body::Bytes;
use hyper::http::uri::{Scheme, Uri};
use hyper_util::rt::TokioIo;
use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// Whose exit-code convention to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mta {
    Postfix,
    Exim,
    Qmail,
}

impl Mta {
    /// An envelope field from the environment the MTA runs its pipe in: Exim's `pipe`
    /// transport and Qmail's `qmail-local` set `RECIPIENT` and `SENDER` (empty for a bounce).
    /// Exim 4.94 and later refuse `$local_part`, `$domain` and `$sender_address` in a pipe
    /// command (they are tainted: the sender chose them), so this is how the envelope
    /// reaches us there. Postfix's pipe sets no such variables; its argv carries them.
    pub fn envelope_from_env(self, name: &str) -> Option<String> {
        match self {
            Mta::Postfix => None,
            Mta::Exim | Mta::Qmail => std::env::var(name).ok(),
        }
    }
}

/// The command line of `replyd relay`.
#[derive(Debug)]
pub struct Args {
    pub url: String,
    pub password_file: Option<PathBuf>,
    pub recipient: Option<String>,
    pub sender: Option<String>,
    pub mta: Mta,
}

/// What became of the message, in DSN terms.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Delivered,
    /// Retry later: an enhanced status code (`4.x.x`) and why.
    Temporary(&'static str, String),
    /// Refused for good: `5.x.x`, why, and the sysexits code for Postfix.
    Permanent(&'static str, String, u8),
}

const EX_NOUSER: u8 = 67;
const EX_UNAVAILABLE: u8 = 69;
const EX_TEMPFAIL: u8 = 75;

/// Time for the connection (and TLS handshake), and for the whole exchange.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(300);

pub fn main(args: Args) -> ExitCode {
    let mta = args.mta;
    let verdict = std::panic::catch_unwind(move || run(args))
        .unwrap_or_else(|_| Verdict::Temporary("4.0.0", "internal error in replyd relay".into()));
    ExitCode::from(report(mta, &verdict))
}

/// Prints the verdict and returns the exit code, as `mta` expects them.
fn report(mta: Mta, verdict: &Verdict) -> u8 {
    let (line, code) = match verdict {
        Verdict::Delivered => (
            "2.0.0 Successfully relayed message to ingress".to_string(),
            0,
        ),
        Verdict::Temporary(esc, text) => (
            format!("{esc} {text}"),
            if mta == Mta::Qmail { 111 } else { EX_TEMPFAIL },
        ),
        Verdict::Permanent(esc, text, sysexit) => (
            format!("{esc} {text}"),
            match mta {
                Mta::Postfix => *sysexit,
                Mta::Exim => EX_UNAVAILABLE,
                Mta::Qmail => 100,
            },
        ),
    };
    // Postfix's pipe(8) reads the leading enhanced code; Exim and Qmail put the text in
    // their logs and bounces.
    println!("{line}");
    code
}

fn run(args: Args) -> Verdict {
    let mut raw = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut raw) {
        return Verdict::Temporary("4.3.0", format!("cannot read the message: {e}"));
    }
    let target = match Target::parse(&args) {
        Ok(t) => t,
        Err(e) => return Verdict::Temporary("4.3.5", e),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return Verdict::Temporary("4.3.0", format!("cannot start: {e}")),
    };
    runtime.block_on(async {
        match tokio::time::timeout(EXCHANGE_TIMEOUT, target.post(raw)).await {
            Err(_) => Verdict::Temporary("4.4.2", "Timed out relaying to ingress".into()),
            Ok(Err(e)) => {
                Verdict::Temporary("4.4.2", format!("Network error relaying to ingress: {e}"))
            }
            Ok(Ok((status, body))) => verdict(status, &body),
        }
    })
}

/// The verdict for the ingress's answer (issue 17, point 8).
fn verdict(status: u16, body: &str) -> Verdict {
    let said = escape(body.lines().next().unwrap_or_default().trim());
    let said: String = said.chars().take(300).collect();
    match status {
        200..=299 => Verdict::Delivered,
        401 => Verdict::Temporary("4.7.0", "Invalid credentials for ingress".into()),
        403 => Verdict::Permanent("5.7.1", format!("HTTP 403: {said}"), EX_UNAVAILABLE),
        406 | 422 => Verdict::Permanent(
            "5.1.1",
            format!("HTTP {status}: recipient refused: {said}"),
            EX_NOUSER,
        ),
        413 => Verdict::Permanent(
            "5.3.4",
            format!("HTTP 413: message too large: {said}"),
            EX_UNAVAILABLE,
        ),
        500..=599 => Verdict::Temporary("4.3.0", format!("HTTP {status}: {said}")),
        _ => Verdict::Temporary("4.0.0", format!("HTTP {status}: {said}")),
    }
}

/// Where to post, and as whom.
struct Target {
    tls: bool,
    host: String,
    port: u16,
    /// Path and query, the envelope parameters added.
    path: String,
    authorization: String,
}

impl Target {
    fn parse(args: &Args) -> Result<Target, String> {
        let uri: Uri = args
            .url
            .parse()
            .map_err(|e| format!("--url {:?} is not a URL: {e}", args.url))?;
        let tls = match uri.scheme() {
            Some(s) if *s == Scheme::HTTPS => true,
            Some(s) if *s == Scheme::HTTP => false,
            _ => return Err(format!("--url {:?} is not http(s)", args.url)),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("--url {:?} names no host", args.url))?;
        let host = authority.host().trim_matches(|c| c == '[' || c == ']');
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let in_url = authority
            .as_str()
            .rsplit_once('@')
            .map(|(userinfo, _)| userinfo.split_once(':').map_or("", |(_, p)| p).to_string());
        let password = match (&args.password_file, in_url) {
            (Some(file), _) => std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read --password-file {}: {e}", file.display()))?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
            (None, Some(p)) if !p.is_empty() => percent_decoded(&p),
            _ => std::env::var("INGRESS_PASSWORD").map_err(|_| {
                "no password: give --password-file, put it in the URL, or set INGRESS_PASSWORD"
                    .to_string()
            })?,
        };
        let mut path = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        for (name, value) in [("recipient", &args.recipient), ("sender", &args.sender)] {
            if let Some(v) = value {
                path.push(if path.contains('?') { '&' } else { '?' });
                path.push_str(name);
                path.push('=');
                path.push_str(&percent_encoded(v.trim_matches(|c| c == '<' || c == '>')));
            }
        }
        use base64::Engine as _;
        let credentials = format!("actionmailbox:{password}");
        Ok(Target {
            tls,
            host: host.to_string(),
            port,
            path,
            authorization: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            ),
        })
    }

    /// Posts the message; the answer's status and body.
    async fn post(&self, raw: Vec<u8>) -> Result<(u16, String), String> {
        let connect = tokio::net::TcpStream::connect((self.host.as_str(), self.port));
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| format!("no connection to {}:{} in time", self.host, self.port))?
            .map_err(|e| format!("{}:{}: {e}", self.host, self.port))?;
        if !self.tls {
            return self.exchange(tcp, raw).await;
        }
        let connector = tls_connector()?;
        let name = rustls::pki_types::ServerName::try_from(self.host.clone())
            .map_err(|e| format!("{:?} is not a TLS server name: {e}", self.host))?;
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp))
            .await
            .map_err(|_| "TLS handshake timed out".to_string())?
            .map_err(|e| format!("TLS: {e}"))?;
        self.exchange(stream, raw).await
    }

    async fn exchange<S>(&self, stream: S, raw: Vec<u8>) -> Result<(u16, String), String>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        let connection = tokio::spawn(conn);
        let host = if self.port == 80 || self.port == 443 {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let request = hyper::Request::post(self.path.as_str())
            .header(hyper::header::HOST, host)
            .header(hyper::header::CONTENT_TYPE, "message/rfc822")
            .header(hyper::header::AUTHORIZATION, self.authorization.as_str())
            .header(
                hyper::header::USER_AGENT,
                concat!("replyd relay v", env!("CARGO_PKG_VERSION")),
            )
            .body(http_body_util::Full::new(Bytes::from(raw)))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        connection.abort();
        Ok((status, body))
    }
}

fn percent_encoded(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decoded(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_mta_conventions() {
        let temporary = |v: &Verdict| matches!(v, Verdict::Temporary(..));
        for status in [401, 404, 415, 500, 503, 504, 302] {
            assert!(temporary(&verdict(status, "")), "{status}");
        }
        assert_eq!(verdict(204, ""), Verdict::Delivered);
        assert!(matches!(
            verdict(422, "x"),
            Verdict::Permanent("5.1.1", _, 67)
        ));
        assert!(matches!(
            verdict(406, "x"),
            Verdict::Permanent("5.1.1", _, 67)
        ));
        assert!(matches!(
            verdict(403, "x"),
            Verdict::Permanent("5.7.1", _, 69)
        ));
        assert!(matches!(
            verdict(413, "x"),
            Verdict::Permanent("5.3.4", _, 69)
        ));
        let perm = Verdict::Permanent("5.1.1", "no".into(), 67);
        assert_eq!(report(Mta::Postfix, &perm), 67);
        assert_eq!(report(Mta::Exim, &perm), 69);
        assert_eq!(report(Mta::Qmail, &perm), 100);
        let temp = Verdict::Temporary("4.4.2", "down".into());
        assert_eq!(report(Mta::Postfix, &temp), 75);
        assert_eq!(report(Mta::Exim, &temp), 75);
        assert_eq!(report(Mta::Qmail, &temp), 111);
        // A hostile answer cannot put a line of its own in the MTA's log.
        match verdict(500, "boom\u{1b}[2J\r\n5.0.0 forged") {
            Verdict::Temporary(_, text) => {
                assert!(!text.contains(['\u{1b}', '\r', '\n']), "{text}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn envelope_and_credentials_from_the_command_line() {
        let args = Args {
            url: "https://actionmailbox:p%40ss@mx.example.com/ingress/relay".into(),
            password_file: None,
            recipient: Some("<reply+ab@support.example.com>".into()),
            sender: Some(String::new()),
            mta: Mta::Postfix,
        };
        let t = Target::parse(&args).unwrap();
        assert!(t.tls);
        assert_eq!((t.host.as_str(), t.port), ("mx.example.com", 443));
        assert_eq!(
            t.path,
            "/ingress/relay?recipient=reply%2Bab%40support.example.com&sender="
        );
        assert_eq!(t.authorization, "Basic YWN0aW9ubWFpbGJveDpwQHNz");
    }
}
