//! One endpoint's HTTP client: hyper's HTTP/1.1 client connection over tokio (and
//! tokio-rustls for `https`), with a small pool of kept-alive connections, a connect timeout
//! and a timeout on the whole request.
//!
//! A connection kept from an earlier request may have been closed by the receiver meanwhile;
//! a request that fails on such a connection before any answer is sent again once on a new
//! one, so an idle timeout on the receiver's side does not count as a failed attempt.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::http::uri::{Scheme, Uri};
use hyper_util::rt::TokioIo;
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinHandle;

/// How much of an answer's body is read (for the attempt's record); a longer one is cut
/// and its connection not kept.
const MAX_ANSWER: usize = 64 * 1024;

/// Where an endpoint is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path and query.
    pub path: String,
}

impl Target {
    pub(super) fn parse(url: &str) -> Result<Target, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        let tls = match uri.scheme() {
            Some(s) if *s == Scheme::HTTPS => true,
            Some(s) if *s == Scheme::HTTP => false,
            _ => return Err(format!("{url:?} is not http(s)")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{url:?} names no host"))?;
        let host = authority.host().trim_matches(|c| c == '[' || c == ']');
        Ok(Target {
            tls,
            host: host.to_string(),
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            path: uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into()),
        })
    }

    fn host_header(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// A kept-alive connection: the request side, and the task driving it.
struct Pooled {
    sender: SendRequest<Full<Bytes>>,
    driver: JoinHandle<()>,
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// The answer to a request.
#[derive(Debug)]
pub(super) struct Answer {
    pub status: u16,
    /// The start of the body (for the record of a failed attempt).
    pub body: String,
}

pub(super) struct Client {
    target: Target,
    connector: Option<tokio_rustls::TlsConnector>,
    connect_timeout: Duration,
    timeout: Duration,
    idle: Mutex<Vec<Pooled>>,
    max_idle: usize,
}

impl Client {
    pub(super) fn new(config: &crate::config::WebhookConfig) -> Result<Client, String> {
        let target = Target::parse(&config.url)?;
        let connector = if target.tls {
            Some(crate::http_client::tls_connector_trusting(
                config.ca_file.as_deref(),
            )?)
        } else {
            None
        };
        let (connect_timeout, timeout, max_idle) =
            (config.connect_timeout, config.timeout, config.concurrency);
        Ok(Client {
            target,
            connector,
            connect_timeout,
            timeout,
            idle: Mutex::new(Vec::new()),
            max_idle,
        })
    }

    /// POSTs `body` with `headers`; the answer, or why there was none. The whole exchange
    /// takes at most the request timeout.
    pub(super) async fn post(
        &self,
        headers: &[(&str, String)],
        body: Bytes,
    ) -> Result<Answer, String> {
        match tokio::time::timeout(self.timeout, self.exchange(headers, body)).await {
            Ok(answer) => answer,
            Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
        }
    }

    async fn exchange(&self, headers: &[(&str, String)], body: Bytes) -> Result<Answer, String> {
        if let Some(pooled) = self.checkout().await {
            match self.send(pooled, headers, body.clone()).await {
                Ok(answer) => return Ok(answer),
                // Closed by the receiver while idle: once more, on a new connection.
                Err((e, false)) => {
                    tracing::debug!(error = %e, "kept connection failed; reconnecting")
                }
                Err((e, true)) => return Err(e),
            }
        }
        let pooled = self.connect().await?;
        self.send(pooled, headers, body).await.map_err(|(e, _)| e)
    }

    /// A kept connection ready for a request, if there is one.
    async fn checkout(&self) -> Option<Pooled> {
        loop {
            let mut pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()?;
            if !pooled.sender.is_closed() && pooled.sender.ready().await.is_ok() {
                return Some(pooled);
            }
        }
    }

    fn checkin(&self, pooled: Pooled) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.max_idle {
            idle.push(pooled);
        }
    }

    async fn connect(&self) -> Result<Pooled, String> {
        let t = &self.target;
        let opened = tokio::time::timeout(self.connect_timeout, async {
            let tcp = tokio::net::TcpStream::connect((t.host.as_str(), t.port))
                .await
                .map_err(|e| format!("cannot connect to {}:{}: {e}", t.host, t.port))?;
            let _ = tcp.set_nodelay(true);
            match &self.connector {
                None => handshake(tcp).await,
                Some(connector) => {
                    let name = rustls::pki_types::ServerName::try_from(t.host.clone())
                        .map_err(|e| format!("{:?} is not a TLS server name: {e}", t.host))?;
                    let tls = connector
                        .connect(name, tcp)
                        .await
                        .map_err(|e| format!("TLS with {}: {e}", t.host))?;
                    handshake(tls).await
                }
            }
        })
        .await;
        opened.unwrap_or_else(|_| {
            Err(format!(
                "no connection to {}:{} within {} ms",
                t.host,
                t.port,
                self.connect_timeout.as_millis()
            ))
        })
    }

    /// One request on `pooled`. An error says whether the receiver may have seen the
    /// request (`true`), or the connection failed before it was sent (`false`).
    async fn send(
        &self,
        mut pooled: Pooled,
        headers: &[(&str, String)],
        body: Bytes,
    ) -> Result<Answer, (String, bool)> {
        let mut request = hyper::Request::post(self.target.path.as_str())
            .header(hyper::header::HOST, self.target.host_header())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("replyd-webhooks/", env!("CARGO_PKG_VERSION")),
            );
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| (e.to_string(), true))?;
        let response = match pooled.sender.send_request(request).await {
            Ok(r) => r,
            Err(e) => {
                let unsent = e.is_canceled() || e.is_closed() || e.is_incomplete_message();
                return Err((format!("request failed: {e}"), !unsent));
            }
        };
        let status = response.status().as_u16();
        let keep = !response
            .headers()
            .get(hyper::header::CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let body = match Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
        {
            Ok(b) => {
                if keep {
                    self.checkin(pooled);
                }
                b.to_bytes()
            }
            Err(_) => Bytes::new(),
        };
        let text: String = String::from_utf8_lossy(&body).chars().take(200).collect();
        Ok(Answer { status, body: text })
    }
}

async fn handshake<S>(stream: S) -> Result<Pooled, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(Pooled { sender, driver })
}

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn targets() {
        let t = Target::parse("https://helpdesk.example/hooks/replyd?x=1").unwrap();
        assert_eq!(
            (t.tls, t.host.as_str(), t.port, t.path.as_str()),
            (true, "helpdesk.example", 443, "/hooks/replyd?x=1")
        );
        assert_eq!(t.host_header(), "helpdesk.example");
        let t = Target::parse("http://[::1]:8080").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("::1", 8080, "/")
        );
        assert_eq!(t.host_header(), "[::1]:8080");
        assert!(Target::parse("ftp://x/").is_err());
    }
}
