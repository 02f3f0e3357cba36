//! Webhook benchmark: the SMTP load of `examples/load.rs` against a server with no webhook
//! endpoint and against one with two (both on a local receiver answering `204`), in one run,
//! alternating; and the webhook deliveries per second the two endpoints reach.
//!
//! ```text
//! cargo run --release --example webhook_load -- [--sessions 10] [--messages 5000] [--size 1024] [--rounds 2]
//! ```
//! Deliveries per second are counted from the start of the SMTP load to the last delivery
//! (the receiver's count), over both endpoints; and over the backlog left when the SMTP
//! load ends (the workers run at a lower CPU priority, so under load they fall behind and
//! catch up after).

#[allow(dead_code)]
#[path = "load.rs"]
mod smtp_load;

use http_body_util::Full;
use hyper::body::Bytes;
use replyd::config::WebhookConfig;
use replyd::store::NewConversation;
use replyd::{Config, Server};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Opts {
    sessions: usize,
    messages: usize,
    size: usize,
    rounds: usize,
}

fn opts() -> Opts {
    let mut o = Opts {
        sessions: 10,
        messages: 5000,
        size: 1024,
        rounds: 2,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let (Some(k), Some(v)) = (pair.first(), pair.get(1)) else {
            break;
        };
        match k.as_str() {
            "--sessions" => o.sessions = v.parse().unwrap_or(o.sessions),
            "--messages" => o.messages = v.parse().unwrap_or(o.messages),
            "--size" => o.size = v.parse().unwrap_or(o.size),
            "--rounds" => o.rounds = v.parse().unwrap_or(o.rounds),
            other => eprintln!("ignoring unknown option {other}"),
        }
    }
    o
}

/// A receiver that answers 204 and counts.
async fn receiver(count: Arc<AtomicUsize>) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: hyper::Request<_>| {
                    let count = count.clone();
                    async move {
                        let _ = http_body_util::BodyExt::collect(req.into_body()).await;
                        count.fetch_add(1, Ordering::Relaxed);
                        let mut r = hyper::Response::new(Full::new(Bytes::new()));
                        *r.status_mut() = hyper::StatusCode::NO_CONTENT;
                        Ok::<_, std::convert::Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

struct Run {
    smtp_per_second: f64,
    p50: Duration,
    p99: Duration,
    /// Webhook deliveries per second, start of load to the last delivery.
    deliveries_per_second: Option<f64>,
    backlog_after_smtp: usize,
    /// Deliveries per second once the SMTP load is over (the backlog draining alone).
    drain_per_second: Option<f64>,
}

async fn run(
    o: &Opts,
    hooks: Option<SocketAddr>,
    count: &AtomicUsize,
    tag: &str,
) -> Result<Run, Box<dyn std::error::Error>> {
    let dir =
        std::env::temp_dir().join(format!("replyd-webhook-load-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let mut config = Config::default();
    config.server.domains = vec!["support.example.com".into()];
    config.server.listen = vec!["127.0.0.1:0".parse()?];
    config.store.path = dir.join("replyd.sqlite3");
    config.limits.max_connections = 2000;
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    if let Some(addr) = hooks {
        let mut a = WebhookConfig::new(&format!("http://{addr}/a"), SECRET);
        a.name = Some("a".into());
        let mut b = WebhookConfig::new(&format!("http://{addr}/b"), SECRET);
        b.name = Some("b".into());
        config.webhooks = vec![a, b];
    }
    let server = Server::bind(config).await?;
    let smtp = server.local_addrs()[0];
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
    let before = count.load(Ordering::Relaxed);
    let per_session = o.messages.div_ceil(o.sessions);
    let started = Instant::now();
    let tasks: Vec<_> = (0..o.sessions)
        .map(|n| {
            tokio::spawn(smtp_load::session(
                smtp,
                conv.reply_address.clone(),
                n,
                per_session,
                smtp_load::body(o.size, n),
            ))
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        if let Ok(Ok((l, _))) = t.await {
            latencies.extend(l);
        }
    }
    let smtp_elapsed = started.elapsed();
    let accepted = latencies.len();
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * p).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    let (p50, p99) = (pct(0.5), pct(0.99));
    let mut deliveries_per_second = None;
    let mut backlog_after_smtp = 0;
    let mut drain_per_second = None;
    if hooks.is_some() {
        let want = 2 * accepted;
        backlog_after_smtp = want.saturating_sub(count.load(Ordering::Relaxed) - before);
        let drain_start = Instant::now();
        let deadline = Instant::now() + Duration::from_secs(300);
        while count.load(Ordering::Relaxed) - before < want && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let delivered = count.load(Ordering::Relaxed) - before;
        deliveries_per_second = Some(delivered as f64 / started.elapsed().as_secs_f64());
        if backlog_after_smtp > 100 {
            drain_per_second =
                Some(backlog_after_smtp as f64 / drain_start.elapsed().as_secs_f64());
        }
    }
    stop.shutdown();
    task.await??;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Run {
        smtp_per_second: accepted as f64 / smtp_elapsed.as_secs_f64(),
        p50,
        p99,
        deliveries_per_second,
        backlog_after_smtp,
        drain_per_second,
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = opts();
    let count = Arc::new(AtomicUsize::new(0));
    let receiver = receiver(count.clone()).await?;
    println!(
        "{} messages of {} B over {} SMTP sessions per run",
        o.messages, o.size, o.sessions
    );
    println!("| endpoints | SMTP msgs/s | p50 ms | p99 ms | webhook deliveries/s (whole run) | backlog at end of SMTP | deliveries/s draining it |");
    println!("|---|---|---|---|---|---|---|");
    for round in 0..o.rounds {
        for (name, hooks) in [("none", None), ("two", Some(receiver))] {
            let r = run(&o, hooks, &count, &format!("{round}-{name}")).await?;
            println!(
                "| {name} | {:.0} | {:.2} | {:.2} | {} | {} | {} |",
                r.smtp_per_second,
                r.p50.as_secs_f64() * 1000.0,
                r.p99.as_secs_f64() * 1000.0,
                r.deliveries_per_second
                    .map_or("-".to_string(), |d| format!("{d:.0}")),
                if hooks.is_some() {
                    r.backlog_after_smtp.to_string()
                } else {
                    "-".into()
                },
                r.drain_per_second
                    .map_or("-".to_string(), |d| format!("{d:.0}")),
            );
        }
    }
    Ok(())
}
