//! HTTP ingress benchmark beside the SMTP one: 1 KiB messages through the relay and Mailgun
//! ingresses from N concurrent keep-alive clients, and through SMTP (pipelined sessions,
//! `examples/load.rs`) at the same concurrency, against one in-process server in one run.
//! Prints messages per second and p50/p99 from the request (SMTP: the end of DATA) to the
//! answer, which includes the durable commit in every case.
//!
//! ```text
//! cargo run --release --example http_load -- [--clients 10,50] [--messages 5000] [--size 1024]
//! ```
//! An HTTP request is one round trip where an SMTP transaction is several (five, or two
//! with PIPELINING), so each ingress should at least match SMTP at the same concurrency.

#[allow(dead_code)]
#[path = "load.rs"]
mod smtp_load;

use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use replyd::store::NewConversation;
use replyd::{Config, Server};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const PASSWORD: &str = "bench-password";

struct Opts {
    clients: Vec<usize>,
    messages: usize,
    size: usize,
}

fn opts() -> Opts {
    let mut o = Opts {
        clients: vec![10, 50],
        messages: 5000,
        size: 1024,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let (Some(k), Some(v)) = (pair.first(), pair.get(1)) else {
            break;
        };
        match k.as_str() {
            "--clients" => o.clients = v.split(',').filter_map(|c| c.parse().ok()).collect(),
            "--messages" => o.messages = v.parse().unwrap_or(o.messages),
            "--size" => o.size = v.parse().unwrap_or(o.size),
            other => eprintln!("ignoring unknown option {other}"),
        }
    }
    o
}

#[derive(Clone, Copy)]
enum Way {
    Relay,
    Mailgun,
}

/// One keep-alive client: `n` requests, one after the other; their latencies.
async fn http_client(
    addr: SocketAddr,
    way: Way,
    to: String,
    client: usize,
    n: usize,
    size: usize,
) -> Result<Vec<Duration>, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let auth = {
        use base64::Engine as _;
        let plain = format!("actionmailbox:{PASSWORD}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(plain)
        )
    };
    let mut latencies = Vec::with_capacity(n);
    let body = smtp_load::body(size, client);
    for i in 0..n {
        let mut raw = format!(
            "Message-ID: <http-{client}-{i}-{}>\r\nTo: {to}\r\n",
            std::process::id()
        )
        .into_bytes();
        raw.extend_from_slice(&body);
        let request = match way {
            Way::Relay => hyper::Request::post("/ingress/relay")
                .header("host", "bench")
                .header("content-type", "message/rfc822")
                .header("authorization", auth.as_str())
                .body(Full::new(Bytes::from(raw))),
            Way::Mailgun => {
                let timestamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
                    .to_string();
                let token = format!("{:0>50}", format!("{client}x{i}x{}", std::process::id()));
                let mut mac = Hmac::<sha2::Sha256>::new_from_slice(PASSWORD.as_bytes())
                    .map_err(|e| e.to_string())?;
                mac.update(timestamp.as_bytes());
                mac.update(token.as_bytes());
                let signature = hex::encode(mac.finalize().into_bytes());
                let mut form = format!(
                    "timestamp={timestamp}&token={token}&signature={signature}\
                     &recipient={}&sender=load%40example.org&body-mime=",
                    to.replace('+', "%2B").replace('@', "%40")
                )
                .into_bytes();
                url_encode(&mut form, &raw);
                hyper::Request::post("/ingress/mailgun/mime")
                    .header("host", "bench")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Full::new(Bytes::from(form)))
            }
        }
        .map_err(|e| e.to_string())?;
        sender.ready().await.map_err(|e| e.to_string())?;
        let start = Instant::now();
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let _ = response.into_body().collect().await;
        if status.as_u16() != 200 {
            return Err(format!("answered {status}"));
        }
        latencies.push(start.elapsed());
    }
    Ok(latencies)
}

/// Appends `bytes` url-encoded (a table look-up per byte: the client shares the machine with
/// the server, so it must not cost more than a provider's would).
fn url_encode(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(bytes.len() * 3 / 2);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        }
    }
}

struct Figures {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    failed: usize,
}

fn figures(mut latencies: Vec<Duration>, elapsed: Duration, failed: usize) -> Figures {
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * p).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    Figures {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: pct(0.5),
        p99: pct(0.99),
        failed,
    }
}

async fn run_http(addr: SocketAddr, way: Way, to: &str, clients: usize, o: &Opts) -> Figures {
    let per_client = o.messages.div_ceil(clients);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            tokio::spawn(http_client(
                addr,
                way,
                to.to_string(),
                c,
                per_client,
                o.size,
            ))
        })
        .collect();
    let (mut all, mut failed) = (Vec::new(), 0);
    for t in tasks {
        match t.await {
            Ok(Ok(l)) => all.extend(l),
            Ok(Err(e)) => {
                eprintln!("client failed: {e}");
                failed += 1;
            }
            Err(e) => {
                eprintln!("client panicked: {e}");
                failed += 1;
            }
        }
    }
    figures(all, started.elapsed(), failed)
}

async fn run_smtp(addr: SocketAddr, to: &str, clients: usize, o: &Opts) -> Figures {
    let per_client = o.messages.div_ceil(clients);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let body = smtp_load::body(o.size, c);
            tokio::spawn(smtp_load::session(
                addr,
                to.to_string(),
                c,
                per_client,
                body,
            ))
        })
        .collect();
    let (mut all, mut failed) = (Vec::new(), 0);
    for t in tasks {
        match t.await {
            Ok(Ok((l, _))) => all.extend(l),
            _ => failed += 1,
        }
    }
    figures(all, started.elapsed(), failed)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = opts();
    let dir = std::env::temp_dir().join(format!("replyd-http-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut config = Config::default();
    config.server.domains = vec!["support.example.com".into()];
    config.server.listen = vec!["127.0.0.1:0".parse()?];
    config.http.listen = vec!["127.0.0.1:0".parse()?];
    config.http.max_concurrent_requests = 1024;
    config.store.path = dir.join("replyd.sqlite3");
    config.limits.max_connections = 2000;
    config.ingress.relay.password = Some(PASSWORD.into());
    config.ingress.mailgun.signing_key = Some(PASSWORD.into());
    // The ingresses themselves, like for like with SMTP from loopback (a trusted relay):
    // sender verification has its own bench (bench/verify-compare.sh) and would ask DNS.
    config.security.verify_senders = false;
    let server = Server::bind(config).await?;
    let smtp = server.local_addrs()[0];
    let http = server.http_addrs()[0];
    let conv = server
        .store()
        .create_conversation(&NewConversation {
            contact_email: Some("load@example.org"),
            channel: "email",
            subject: None,
            domain: "support.example.com",
            ttl_seconds: None,
            external_id: None,
        })
        .await?;
    let stop = server.shutdown_handle();
    let task = tokio::spawn(server.run());
    let to = conv.reply_address;
    println!(
        "{} messages of {} B per run; latency from request (SMTP: end of DATA) to answer",
        o.messages, o.size
    );
    println!("| way in | clients | msgs/s | p50 ms | p99 ms | failed clients |");
    println!("|---|---|---|---|---|---|");
    for &clients in &o.clients {
        let runs = [
            ("SMTP (pipelined)", run_smtp(smtp, &to, clients, &o).await),
            (
                "HTTP relay",
                run_http(http, Way::Relay, &to, clients, &o).await,
            ),
            (
                "HTTP Mailgun",
                run_http(http, Way::Mailgun, &to, clients, &o).await,
            ),
        ];
        for (name, f) in runs {
            println!(
                "| {name} | {clients} | {:.0} | {:.2} | {:.2} | {} |",
                f.per_second,
                f.p50.as_secs_f64() * 1000.0,
                f.p99.as_secs_f64() * 1000.0,
                f.failed
            );
        }
    }
    stop.shutdown();
    task.await??;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
