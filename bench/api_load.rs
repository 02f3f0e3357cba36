//! API read load: N concurrent HTTP/1.1 clients (keep-alive) against a running replyd,
//! alternating `GET /api/v1/messages/{id}` (a random stored id) and a page of a
//! conversation's messages (`GET /api/v1/conversations/{uuid}/messages?after=…&limit=50`)
//! for a fixed time; prints each kind's reads per second and p50/p99 latency. Every answer
//! must be `200` (anything else is counted and printed as an error).
//!
//! ```text
//! cargo run --release --example api_load -- --addr 127.0.0.1:8025 --key rk_… \
//!     --conversation UUID --max-id 5000 [--clients 10] [--seconds 20]
//! ```
//! `bench/api.sh` runs it beside the SMTP load (`examples/load.rs`) and reports both.

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

struct Opts {
    addr: SocketAddr,
    key: String,
    conversation: String,
    max_id: u64,
    clients: usize,
    seconds: u64,
}

fn opts() -> Result<Opts, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let need = |name: &str| get(name).ok_or(format!("{name} is needed"));
    Ok(Opts {
        addr: need("--addr")?
            .parse()
            .map_err(|e| format!("--addr: {e}"))?,
        key: need("--key")?,
        conversation: need("--conversation")?,
        max_id: need("--max-id")?
            .parse()
            .map_err(|e| format!("--max-id: {e}"))?,
        clients: get("--clients").and_then(|v| v.parse().ok()).unwrap_or(10),
        seconds: get("--seconds").and_then(|v| v.parse().ok()).unwrap_or(20),
    })
}

#[derive(Default)]
struct Tally {
    by_id: Vec<Duration>,
    pages: Vec<Duration>,
    errors: usize,
}

async fn client(o: std::sync::Arc<Opts>, n: usize, until: Instant) -> Result<Tally, String> {
    let stream = tokio::net::TcpStream::connect(o.addr)
        .await
        .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut tally = Tally::default();
    // A small xorshift: a different id each request, no dependency.
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ (n as u64 + 1).wrapping_mul(0x1000_0001);
    let auth = format!("Bearer {}", o.key);
    let mut i = 0u64;
    while Instant::now() < until {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let id = state % o.max_id.max(1) + 1;
        let page = i % 2 == 1;
        i += 1;
        let path = if page {
            format!(
                "/api/v1/conversations/{}/messages?after={}&limit=50",
                o.conversation,
                id.saturating_sub(50)
            )
        } else {
            format!("/api/v1/messages/{id}")
        };
        let request = hyper::Request::get(path)
            .header("host", "bench")
            .header("authorization", &auth)
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let start = Instant::now();
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        let took = start.elapsed();
        if status != 200 {
            if tally.errors == 0 {
                eprintln!("client {n}: {status} for request {i}");
            }
            tally.errors += 1;
        } else if page {
            tally.pages.push(took);
        } else {
            tally.by_id.push(took);
        }
    }
    Ok(tally)
}

fn summary(kind: &str, mut lat: Vec<Duration>, seconds: f64) {
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len().max(1) - 1) as f64 * p).round() as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{kind}: {} reads, {:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
        lat.len(),
        lat.len() as f64 / seconds,
        pct(0.5),
        pct(0.99)
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = std::sync::Arc::new(opts()?);
    let started = Instant::now();
    let until = started + Duration::from_secs(o.seconds);
    let tasks: Vec<_> = (0..o.clients)
        .map(|n| tokio::spawn(client(o.clone(), n, until)))
        .collect();
    let mut all = Tally::default();
    for t in tasks {
        match t.await? {
            Ok(t) => {
                all.by_id.extend(t.by_id);
                all.pages.extend(t.pages);
                all.errors += t.errors;
            }
            Err(e) => {
                eprintln!("client failed: {e}");
                all.errors += 1;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("api clients: {}, {:.1} s", o.clients, seconds);
    summary("message by id", all.by_id, seconds);
    summary("message pages (50)", all.pages, seconds);
    println!("errors: {}", all.errors);
    Ok(())
}
