//! The stores side by side: 1 KiB messages over SMTP (pipelined sessions, as
//! `examples/load.rs`) into one node on SQLite, one node on PostgreSQL, and two nodes on the
//! same PostgreSQL database (sessions split between them), at each session count; prints
//! messages/s, p50/p99 from end-of-DATA to `250` (commit included), CPU per message (this
//! process: the nodes and the load generator; and the PostgreSQL server's processes), and
//! whether the rows stored equal the `250`s.
//!
//! ```text
//! cargo run --release --example store_load -- --pg-url postgres://…/db [--sessions 10,50,200]
//!                                            [--messages 5000] [--size 1024] [--rounds 1]
//!                                            [--pg-postmaster PID]
//! ```
//! With `--pg-postmaster`, the PostgreSQL CPU counted is that server's (the postmaster and
//! its children) only, not another cluster's on the same machine (a test run's).
//! `bench/store.sh` makes a private PostgreSQL cluster and runs it.

#[path = "../examples/load.rs"]
#[allow(dead_code)]
mod smtp_load;

use replyd::store::NewConversation;
use replyd::{Config, Server, Store};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

struct Opts {
    pg_url: Option<String>,
    sessions: Vec<usize>,
    messages: usize,
    size: usize,
    rounds: usize,
    pg_postmaster: Option<String>,
}

fn opts() -> Opts {
    let mut o = Opts {
        pg_url: None,
        sessions: vec![10, 50, 200],
        messages: 5000,
        size: 1024,
        rounds: 1,
        pg_postmaster: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let [key, v] = pair else { break };
        match key.as_str() {
            "--pg-url" => o.pg_url = Some(v.clone()),
            "--sessions" => o.sessions = v.split(',').filter_map(|s| s.parse().ok()).collect(),
            "--messages" => o.messages = v.parse().unwrap_or(o.messages),
            "--size" => o.size = v.parse().unwrap_or(o.size),
            "--rounds" => o.rounds = v.parse().unwrap_or(o.rounds),
            "--pg-postmaster" => o.pg_postmaster = Some(v.clone()),
            other => eprintln!("ignoring unknown option {other}"),
        }
    }
    o
}

/// CPU seconds (user + system) of the processes whose `/proc/<pid>/stat` satisfies `keep`
/// (pid, command, parent pid).
fn cpu_seconds(keep: impl Fn(&str, &str, &str) -> bool) -> f64 {
    let ticks = 100.0; // USER_HZ on Linux
    let mut total = 0.0;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    for e in entries.flatten() {
        let pid = e.file_name().to_string_lossy().to_string();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // pid (comm) state … utime stime: fields 14 and 15, counted after the `)`.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let rest: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        if !keep(&pid, comm, rest.get(1).copied().unwrap_or_default()) {
            continue;
        }
        let field = |i: usize| {
            rest.get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        total += (field(11) + field(12)) / ticks;
    }
    total
}

fn own_cpu() -> f64 {
    let me = std::process::id().to_string();
    cpu_seconds(|pid, _, _| pid == me)
}

/// The PostgreSQL server's CPU: `postmaster` and its children, or every `postgres` process.
fn postgres_cpu(postmaster: Option<&str>) -> f64 {
    match postmaster {
        Some(p) => cpu_seconds(|pid, _, parent| pid == p || parent == p),
        None => cpu_seconds(|_, comm, _| comm == "postgres"),
    }
}

struct Node {
    addr: SocketAddr,
    stop: replyd::ShutdownHandle,
    task: tokio::task::JoinHandle<Result<(), replyd::ServerError>>,
    store: Store,
}

async fn node(store: &replyd::config::StoreConfig, sessions: usize) -> Node {
    let mut config = Config::default();
    config.server.domains = vec!["support.example.com".into()];
    config.server.listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.store = store.clone();
    config.limits.max_connections = sessions.max(1000) + 10;
    config.limits.max_connections_per_ip = sessions.max(1000) + 10;
    config.limits.max_connection_rate_per_ip = u32::MAX;
    config.limits.max_message_rate_per_ip = u32::MAX;
    let server = Server::bind(config).await.expect("the node starts");
    let addr = server.local_addrs()[0];
    let stop = server.shutdown_handle();
    let store = server.store();
    let task = tokio::spawn(server.run());
    Node {
        addr,
        stop,
        task,
        store,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = opts();
    let dir = std::env::temp_dir().join(format!("replyd-store-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let sqlite = replyd::config::StoreConfig {
        path: dir.join("replyd.sqlite3"),
        ..Default::default()
    };
    let mut cases: Vec<(&str, replyd::config::StoreConfig, usize)> =
        vec![("SQLite, one node", sqlite, 1)];
    if let Some(url) = &o.pg_url {
        let pg = replyd::config::StoreConfig {
            url: Some(url.clone()),
            ..Default::default()
        };
        cases.push(("PostgreSQL, one node", pg.clone(), 1));
        cases.push(("PostgreSQL, two nodes", pg, 2));
    }
    println!("| store | sessions | msgs/s | p50 ms | p99 ms | CPU ms/msg (replyd + load) | CPU ms/msg (postgres) | stored = 250s |");
    println!("|---|---|---|---|---|---|---|---|");
    for round in 0..o.rounds {
        for &sessions in &o.sessions {
            for (name, store, nodes) in &cases {
                let mut running = Vec::new();
                for _ in 0..*nodes {
                    running.push(node(store, sessions).await);
                }
                let conv = running[0]
                    .store
                    .create_conversation(&NewConversation {
                        contact_email: Some("load@example.org"),
                        channel: "email",
                        subject: None,
                        domain: "support.example.com",
                        ttl_seconds: None,
                        external_id: None,
                    })
                    .await?;
                let before = running[0].store.stats().await?.incoming_messages;
                let per_session = o.messages.div_ceil(sessions);
                let postmaster = o.pg_postmaster.as_deref();
                let (cpu0, pg0) = (own_cpu(), postgres_cpu(postmaster));
                let started = Instant::now();
                let mut tasks = Vec::new();
                for s in 0..sessions {
                    let addr = running[s % running.len()].addr;
                    // Distinct Message-IDs in every round and case: `session` numbers them
                    // by its `n`, which is unique here.
                    let n = ((round * 1000 + sessions) * 10 + *nodes) * 1000 + s;
                    tasks.push(tokio::spawn(smtp_load::session(
                        addr,
                        conv.reply_address.clone(),
                        n,
                        per_session,
                        smtp_load::body(o.size, s),
                    )));
                }
                let mut latencies: Vec<Duration> = Vec::new();
                for t in tasks {
                    match t.await? {
                        Ok((l, _refused)) => latencies.extend(l),
                        Err(e) => eprintln!("session failed: {e}"),
                    }
                }
                let elapsed = started.elapsed();
                let (cpu, pg) = (own_cpu() - cpu0, postgres_cpu(postmaster) - pg0);
                latencies.sort();
                let pct = |p: f64| -> f64 {
                    if latencies.is_empty() {
                        return 0.0;
                    }
                    let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
                    latencies[i].as_secs_f64() * 1000.0
                };
                let accepted = latencies.len() as i64;
                let stored = running[0].store.stats().await?.incoming_messages - before;
                let per_msg = |s: f64| s * 1000.0 / accepted.max(1) as f64;
                println!(
                    "| {name} | {sessions} | {:.0} | {:.2} | {:.2} | {:.3} | {} | {} |",
                    accepted as f64 / elapsed.as_secs_f64(),
                    pct(0.5),
                    pct(0.99),
                    per_msg(cpu),
                    if store.url.is_some() {
                        format!("{:.3}", per_msg(pg))
                    } else {
                        "-".into()
                    },
                    if stored == accepted {
                        format!("yes ({stored})")
                    } else {
                        format!("NO: {stored} stored, {accepted} answered 250")
                    }
                );
                for n in running {
                    n.stop.shutdown();
                    let _ = n.task.await;
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
