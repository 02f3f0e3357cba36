//! Load benchmark: N concurrent SMTP sessions × M messages each against a replyd server;
//! prints accepted messages per second and the p50/p99 time from end-of-DATA to `250`
//! (which, in replyd, includes the durable commit).
//!
//! ```text
//! cargo run --release --example load -- [--sessions 10] [--messages 1000] [--size 1024]
//!                                        [--addr 127.0.0.1:2525 --to reply+…@domain]
//! ```
//! Without `--addr` it starts a server in-process on a temporary database (durable settings
//! unchanged: WAL, synchronous=FULL, group commit) and creates a live conversation.

use replyd::store::NewConversation;
use replyd::{Config, Server};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Opts {
    sessions: usize,
    messages: usize,
    size: usize,
    addr: Option<SocketAddr>,
    to: Option<String>,
}

fn opts() -> Opts {
    let mut o = Opts {
        sessions: 10,
        messages: 1000,
        size: 1024,
        addr: None,
        to: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i + 1 < args.len() {
        let v = &args[i + 1];
        match args[i].as_str() {
            "--sessions" => o.sessions = v.parse().unwrap_or(o.sessions),
            "--messages" => o.messages = v.parse().unwrap_or(o.messages),
            "--size" => o.size = v.parse().unwrap_or(o.size),
            "--addr" => o.addr = v.parse().ok(),
            "--to" => o.to = Some(v.clone()),
            other => eprintln!("ignoring unknown option {other}"),
        }
        i += 2;
    }
    o
}

pub(crate) async fn read_reply(
    r: &mut BufReader<TcpStream>,
    line: &mut String,
) -> std::io::Result<u16> {
    loop {
        line.clear();
        if r.read_line(line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0));
        }
    }
}

/// One session: returns the latency of each accepted message.
pub(crate) async fn session(
    addr: SocketAddr,
    to: String,
    n: usize,
    messages: usize,
    body: Vec<u8>,
) -> std::io::Result<(Vec<Duration>, usize)> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    read_reply(&mut r, &mut line).await?;
    r.get_mut().write_all(b"EHLO load.test\r\n").await?;
    read_reply(&mut r, &mut line).await?;
    let mut latencies = Vec::with_capacity(messages);
    let mut refused = 0;
    let envelope = format!("MAIL FROM:<load@example.org>\r\nRCPT TO:<{to}>\r\nDATA\r\n");
    let split = body.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0);
    for i in 0..messages {
        // PIPELINING: MAIL, RCPT and DATA in one write.
        r.get_mut().write_all(envelope.as_bytes()).await?;
        let mail = read_reply(&mut r, &mut line).await?;
        let rcpt = read_reply(&mut r, &mut line).await?;
        let data = read_reply(&mut r, &mut line).await?;
        if mail != 250 || rcpt != 250 || data != 354 {
            return Err(std::io::Error::other(format!(
                "refused: {mail} {rcpt} {data} {line}"
            )));
        }
        // A unique Message-ID each time: identical messages would be deduplicated.
        let id = format!("Message-ID: <load-{n}-{i}-{}>\r\n", std::process::id());
        r.get_mut().write_all(id.as_bytes()).await?;
        r.get_mut().write_all(&body[..split]).await?;
        r.get_mut().write_all(&body[split..]).await?;
        let start = Instant::now();
        r.get_mut().write_all(b".\r\n").await?;
        let code = read_reply(&mut r, &mut line).await?;
        if code == 250 {
            latencies.push(start.elapsed());
        } else {
            refused += 1;
        }
    }
    r.get_mut().write_all(b"QUIT\r\n").await?;
    Ok((latencies, refused))
}

pub(crate) fn body(size: usize, n: usize) -> Vec<u8> {
    let mut b =
        format!("From: Load <load@example.org>\r\nSubject: Re: load {n}\r\nX-Session: {n}\r\n\r\n")
            .into_bytes();
    let line = b"The quick brown fox jumps over the lazy dog, again and again and again.\r\n";
    while b.len() + line.len() <= size {
        b.extend_from_slice(line);
    }
    while b.len() + 2 < size {
        b.push(b'x');
        if b.len() % 76 == 0 {
            b.extend_from_slice(b"\r\n");
        }
    }
    b.extend_from_slice(b"\r\n");
    b
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = opts();
    let mut local = None;
    let (addr, to) = match (o.addr, o.to.clone()) {
        (Some(a), Some(t)) => (a, t),
        _ => {
            let dir = std::env::temp_dir().join(format!("replyd-load-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let mut config = Config::default();
            config.server.domains = vec!["support.example.com".into()];
            config.server.listen = vec!["127.0.0.1:0".parse()?];
            config.store.path = dir.join("replyd.sqlite3");
            config.limits.max_connections = o.sessions.max(1000) + 10;
            let server = Server::bind(config).await?;
            let addr = server.local_addrs()[0];
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
            local = Some((stop, task, dir));
            (addr, conv.reply_address)
        }
    };
    let per_session = o.messages.div_ceil(o.sessions);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..o.sessions {
        tasks.push(tokio::spawn(session(
            addr,
            to.clone(),
            s,
            per_session,
            body(o.size, s),
        )));
    }
    let mut latencies = Vec::new();
    let mut refused = 0;
    let mut failed = 0;
    for t in tasks {
        match t.await? {
            Ok((l, r)) => {
                latencies.extend(l);
                refused += r;
            }
            Err(e) => {
                failed += 1;
                eprintln!("session failed: {e}");
            }
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| -> Duration {
        if latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[i]
    };
    let accepted = latencies.len();
    println!(
        "sessions={} messages={} size={}B accepted={accepted} refused={refused} failed_sessions={failed}",
        o.sessions,
        per_session * o.sessions,
        o.size
    );
    println!(
        "throughput: {:.0} msgs/s ({:.2} MiB/s) over {:.2}s",
        accepted as f64 / elapsed.as_secs_f64(),
        (accepted * o.size) as f64 / elapsed.as_secs_f64() / 1048576.0,
        elapsed.as_secs_f64()
    );
    println!(
        "end-of-DATA to 250: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.5).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
        pct(1.0).as_secs_f64() * 1000.0
    );
    if let Some((stop, task, dir)) = local {
        stop.shutdown();
        task.await??;
        let config = replyd::config::StoreConfig {
            path: dir.join("replyd.sqlite3"),
            ..Default::default()
        };
        let stored = replyd::Store::open(&config)?
            .stats()
            .await?
            .incoming_messages;
        println!("stored rows: {stored} (accepted {accepted})");
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
