//! A webhook receiver for tests: a real HTTP/1.1 server (hyper) on a loopback port, on a
//! runtime of its own, that records every request (headers, body, when) and answers as the
//! test scripts it: a status, or a status after a pause (a slow helpdesk). "Down" is a port
//! nobody listens on ([`free_addr`]); [`Receiver::start_on`] brings it up there later.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Status(u16),
    /// Sleeps, then answers.
    Slow(Duration, u16),
    /// A status with this body (a helpdesk's error page), instead of `ok`.
    Body(u16, &'static str),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        super::http::header_in(&self.headers, name)
    }

    /// The body as JSON (panics if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn webhook_id(&self) -> String {
        self.header("webhook-id").unwrap_or_default().to_string()
    }
}

#[derive(Default)]
struct State {
    requests: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Answer>>,
    default: Mutex<Option<Answer>>,
}

impl State {
    fn next_answer(&self) -> Answer {
        if let Some(a) = self.script.lock().unwrap().pop_front() {
            return a;
        }
        self.default.lock().unwrap().unwrap_or(Answer::Status(200))
    }
}

/// A running receiver; stops (closing its connections) on drop.
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<State>,
    runtime: Option<tokio::runtime::Runtime>,
}

/// A loopback address nobody listens on (yet).
pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

impl Receiver {
    /// On a port of its own, answering 200.
    pub fn start() -> Receiver {
        Self::start_on("127.0.0.1:0".parse().unwrap())
    }

    /// On `addr` (a receiver coming up where replyd was failing to connect).
    pub fn start_on(addr: SocketAddr) -> Receiver {
        Self::start_scripted(addr, &[])
    }

    /// On `addr`, answering the first requests with `answers` (then 200).
    pub fn start_scripted(addr: SocketAddr, answers: &[Answer]) -> Receiver {
        Self::start_with(addr, answers, None)
    }

    /// Over HTTPS with this PEM certificate chain and key, on a port of its own.
    pub fn start_tls(cert: &std::path::Path, key: &std::path::Path) -> Receiver {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_file_iter(cert)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(key).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        Self::start_with("127.0.0.1:0".parse().unwrap(), &[], Some(acceptor))
    }

    fn start_with(
        addr: SocketAddr,
        answers: &[Answer],
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Receiver {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let state: Arc<State> = Arc::default();
        state.script.lock().unwrap().extend(answers.iter().copied());
        let listener = runtime.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.set_reuseaddr(true).unwrap();
            socket.bind(addr).unwrap();
            socket.listen(1024).unwrap()
        });
        let addr = listener.local_addr().unwrap();
        let shared = state.clone();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        None => serve(stream, state).await,
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                serve(stream, state).await;
                            }
                        }
                    }
                });
            }
        });
        Receiver {
            addr,
            state,
            runtime: Some(runtime),
        }
    }

    /// The URL to configure.
    pub fn url(&self) -> String {
        url_of(self.addr)
    }

    /// Answers the next requests with these, in order; then the default.
    pub fn script(&self, answers: &[Answer]) {
        self.state
            .script
            .lock()
            .unwrap()
            .extend(answers.iter().copied());
    }

    /// What every unscripted request gets (200 unless set).
    pub fn answer(&self, answer: Answer) {
        *self.state.default.lock().unwrap() = Some(answer);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Received> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Waits until `n` requests came (panics after `timeout`); all of them.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        self.wait_until(timeout, |r| r.len() >= n)
    }

    /// Waits until the requests satisfy `done` (panics after `timeout`).
    pub fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let got = self.requests();
            if done(&got) {
                return got;
            }
            assert!(
                started.elapsed() < timeout,
                "the receiver got {} requests in {timeout:?}",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn serve<S>(stream: S, state: Arc<State>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let state = state.clone();
        async move { handle(state, req).await }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
        .await;
}

/// `http://ADDR/hooks/replyd`.
pub fn url_of(addr: SocketAddr) -> String {
    format!("http://{addr}/hooks/replyd")
}

async fn handle(
    state: Arc<State>,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let at = Instant::now();
    let path = req.uri().path().to_string();
    let headers = req
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let answer = state.next_answer();
    state.requests.lock().unwrap().push(Received {
        at,
        path,
        headers,
        body,
    });
    let (status, body) = match answer {
        Answer::Status(s) => (s, "ok"),
        Answer::Slow(pause, s) => {
            tokio::time::sleep(pause).await;
            (s, "ok")
        }
        Answer::Body(s, body) => (s, body),
    };
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    Ok(response)
}
