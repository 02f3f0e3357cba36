//! What an operator's monitoring sees: `/metrics` scraped before and after a known load
//! moves by exactly that load and parses with Prometheus' own Python parser; `/healthz`;
//! `/readyz` turns `503` while the database takes no writes and `200` after; and with
//! `[operator] listen` the three are served only there.

mod common;

use common::faults::*;
use common::http::*;
use common::*;
use std::net::SocketAddr;

/// What the Python check needs.
const PYTHON_PARSER: &[Need] = &[Need::PythonModule("prometheus_client")];

fn get(addr: SocketAddr, path: &str) -> Reply {
    request(addr, "GET", path, &[], Vec::new())
}

/// How much `series` moved between two scrapes.
fn moved(before: &str, after: &str, series: &str) -> f64 {
    value(after, series) - value(before, series)
}

/// Polls `check` every 100 ms for up to 15 s.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !check() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "not within 15 s: {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn counters_move_by_exactly_the_load() {
    let srv = http_server(|_| {});
    let http = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@example.org");
    let before = scrape(http);

    // N = 3 messages stored over SMTP (after EHLO: esmtp), one over the relay ingress.
    let mut bytes = 0;
    for i in 0..3 {
        let raw = reply_message(&conv.reply_address, &unique_id(), &format!("Reply {i}."));
        bytes += raw.len();
        let (code, text) = smtp_deliver(srv.addr, &conv.reply_address, raw.as_bytes());
        assert_eq!(code, 250, "{text}");
    }
    let relayed = reply_to(&conv.reply_address, &unique_id(), "Over HTTP.");
    let path = format!(
        "{RELAY}?recipient={}",
        conv.reply_address.replace('+', "%2B")
    );
    let reply = post(
        http,
        &path,
        "message/rfc822",
        Some(PASSWORD),
        relayed.clone(),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    // The same message again: acknowledged, not stored twice.
    let again = post(
        http,
        &path,
        "message/rfc822",
        Some(PASSWORD),
        relayed.clone(),
    );
    assert_eq!(again.status, 200, "{}", again.body);

    // M = 3 refusals: two at RCPT, one too large at the end of DATA.
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO client.test", 250, "");
    c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    c.expect(
        &format!("RCPT TO:<reply+{}@{DOMAIN}>", "0".repeat(32)),
        550,
        "5.1.1",
    );
    c.expect("RCPT TO:<someone@elsewhere.example>", 550, "5.7.1");
    c.expect("QUIT", 221, "");
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO client.test", 250, "");
    c.expect("MAIL FROM:<bob@example.org> SIZE=999999999", 552, "5.3.4");
    c.expect("QUIT", 221, "");

    // K = 4 HTTP requests besides the ingress posts: two health checks, two unknown paths.
    assert_eq!(get(http, "/healthz").status, 200);
    assert_eq!(get(http, "/healthz").status, 200);
    assert_eq!(get(http, "/no/such/path").status, 404);
    assert_eq!(get(http, "/another/unknown/path").status, 404);

    let after = scrape(http);
    let m = |series: &str| moved(&before, &after, series);
    assert_eq!(m("replyd_messages_stored_total{way_in=\"esmtp\"}"), 3.0);
    assert_eq!(
        m("replyd_stored_bytes_total{way_in=\"esmtp\"}"),
        bytes as f64
    );
    assert_eq!(m("replyd_messages_stored_total{way_in=\"relay\"}"), 1.0);
    assert_eq!(
        m("replyd_stored_bytes_total{way_in=\"relay\"}"),
        relayed.len() as f64
    );
    assert_eq!(m("replyd_messages_duplicate_total{way_in=\"relay\"}"), 1.0);
    assert_eq!(m("replyd_refusals_total{reason=\"unknown_token\"}"), 1.0);
    assert_eq!(m("replyd_refusals_total{reason=\"foreign_domain\"}"), 1.0);
    assert_eq!(m("replyd_refusals_total{reason=\"too_large\"}"), 1.0);
    let refusals: f64 = after
        .lines()
        .filter(|l| l.starts_with("replyd_refusals_total{"))
        .map(|l| {
            let series = l.rsplit_once(' ').unwrap().0;
            moved(&before, &after, series)
        })
        .sum();
    assert_eq!(refusals, 3.0, "no other refusal was counted");
    // SMTP's three answers were timed; every delivery went through a commit.
    assert_eq!(m("replyd_end_of_data_to_250_seconds_count"), 3.0);
    assert_eq!(m("replyd_commit_batch_size_sum"), 5.0, "3 SMTP + 2 relay");
    assert!(m("replyd_commit_duration_seconds_count") >= 1.0);
    assert!(m("replyd_commit_duration_seconds_sum") > 0.0);
    assert_eq!(m("replyd_commit_failures_total"), 0.0);
    // HTTP by matched route (the template, not the path) and status.
    assert_eq!(
        m("replyd_http_requests_total{route=\"/healthz\",status=\"200\"}"),
        2.0
    );
    assert_eq!(
        m("replyd_http_requests_total{route=\"unmatched\",status=\"404\"}"),
        2.0
    );
    assert_eq!(
        m(&format!(
            "replyd_http_requests_total{{route=\"{RELAY}\",status=\"200\"}}"
        )),
        2.0
    );
    // The first scrape is counted once it was answered.
    assert_eq!(
        m("replyd_http_requests_total{route=\"/metrics\",status=\"200\"}"),
        1.0
    );
    assert!(
        !after.contains("/no/such/path"),
        "raw paths never become labels"
    );
    // This scrape's own connection is open; the WAL holds the commits.
    assert!(value(&after, "replyd_connections_open{listener=\"http\"}") >= 1.0);
    assert!(value(&after, "replyd_wal_size_bytes") > 0.0);
    // The SMTP sessions ended: no SMTP connection stays counted as open.
    eventually("SMTP connections counted closed", || {
        value(&scrape(http), "replyd_connections_open{listener=\"smtp\"}") == 0.0
    });
}

#[test]
fn refused_connections_are_counted_by_reason() {
    let srv = http_server(|c| {
        c.limits.max_connection_rate_per_ip = 1;
        c.limits.greeting_delay = Duration::ZERO;
        // The test client is on loopback: make it an ordinary client.
        c.server.trusted_relays = vec![];
    });
    let http = srv.http_addr.unwrap();
    let before = scrape(http);
    let first = Raw::greeted(srv.addr);
    let mut second = Raw::connect(srv.addr);
    let (code, text) = second.reply();
    assert_eq!(code, 421, "{text}");
    drop(first);
    let after = scrape(http);
    assert_eq!(
        moved(
            &before,
            &after,
            "replyd_connections_refused_total{reason=\"connection_rate\"}"
        ),
        1.0
    );
}

#[test]
fn the_scrape_parses_with_prometheus_python_parser() {
    if !needs(PYTHON_PARSER) {
        return;
    }
    let srv = http_server(|_| {});
    let http = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@example.org");
    let raw = reply_message(&conv.reply_address, &unique_id(), "Parsed.");
    assert_eq!(
        smtp_deliver(srv.addr, &conv.reply_address, raw.as_bytes()).0,
        250
    );
    assert_eq!(get(http, "/healthz").status, 200);
    let text = scrape(http);
    // Each family as `name type`, then the stored counter's sample as the parser read it.
    let script = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
stored = None
for family in text_string_to_metric_families(sys.stdin.read()):
    print(family.name, family.type)
    for s in family.samples:
        if s.name == "replyd_messages_stored_total" and s.labels == {"way_in": "esmtp"}:
            stored = s.value
print("stored", None if stored is None else float(stored))
"#;
    let mut command = std::process::Command::new(needs::program("python3"));
    command.args(["-c", script]);
    let out = run_with_stdin(command, text.as_bytes());
    let parsed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the parser refused the scrape: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    for family in [
        "replyd_connections_open gauge",
        "replyd_connections_refused counter",
        "replyd_messages_stored counter",
        "replyd_stored_bytes counter",
        "replyd_messages_duplicate counter",
        "replyd_refusals counter",
        "replyd_end_of_data_to_250_seconds histogram",
        "replyd_commit_duration_seconds histogram",
        "replyd_commit_batch_size histogram",
        "replyd_commit_failures counter",
        "replyd_wal_size_bytes gauge",
        "replyd_http_requests counter",
    ] {
        assert!(
            parsed.lines().any(|l| l == family),
            "{family} missing:\n{parsed}"
        );
    }
    assert!(parsed.lines().any(|l| l == "stored 1.0"), "{parsed}");
}

#[test]
fn healthz_answers_while_the_process_is_up() {
    let srv = http_server(|_| {});
    let reply = get(srv.http_addr.unwrap(), "/healthz");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "ok\n");
}

/// Clears the immutable attribute even when the test fails half-way.
struct Unfreeze(Vec<std::path::PathBuf>);

impl Drop for Unfreeze {
    fn drop(&mut self) {
        immutable(&self.0, false);
    }
}

#[test]
fn readyz_is_503_while_the_database_is_read_only_and_200_after() {
    if !needs(READ_ONLY) {
        return;
    }
    let srv = http_server(|_| {});
    let addr = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@example.org");
    assert_eq!(get(addr, "/readyz").status, 200);
    let files: Vec<_> = ["", "-wal"]
        .iter()
        .map(|s| std::path::PathBuf::from(format!("{}{s}", srv.db.display())))
        .collect();
    let frozen = Unfreeze(files.clone());
    immutable(&files, true);
    eventually("/readyz answers 503", || get(addr, "/readyz").status == 503);
    // Alive all the same, and mail is deferred, not refused for good.
    assert_eq!(get(addr, "/healthz").status, 200);
    let raw = reply_message(&conv.reply_address, &unique_id(), "During the fault.");
    let (code, text) = smtp_deliver(srv.addr, &conv.reply_address, raw.as_bytes());
    assert_eq!(code, 451, "{text}");
    drop(frozen);
    eventually("/readyz answers 200 again", || {
        get(addr, "/readyz").status == 200
    });
    let (code, text) = smtp_deliver(srv.addr, &conv.reply_address, raw.as_bytes());
    assert_eq!(code, 250, "{text}");
}

#[test]
fn readyz_is_503_while_another_process_holds_the_write_lock() {
    let srv = http_server(|c| c.store.busy_timeout = Duration::from_millis(200));
    let addr = srv.http_addr.unwrap();
    assert_eq!(get(addr, "/readyz").status, 200);
    let lock = srv.lock_database();
    eventually("/readyz answers 503", || get(addr, "/readyz").status == 503);
    lock.release().unwrap();
    eventually("/readyz answers 200 again", || {
        get(addr, "/readyz").status == 200
    });
}

#[test]
fn operator_listen_serves_the_endpoints_only_there() {
    let srv = http_server(|c| c.operator.listen = vec!["127.0.0.1:0".parse().unwrap()]);
    let http = srv.http_addr.unwrap();
    let operator = srv.operator_addr.unwrap();
    assert_ne!(http, operator);
    for path in ["/metrics", "/healthz", "/readyz"] {
        assert_eq!(
            get(operator, path).status,
            200,
            "{path} on [operator] listen"
        );
        assert_eq!(get(http, path).status, 404, "{path} on [http] listen");
    }
    // The ingresses stay on [http] listen only.
    let conv = srv.conversation("bob@example.org");
    let path = format!(
        "{RELAY}?recipient={}",
        conv.reply_address.replace('+', "%2B")
    );
    let raw = || reply_to(&conv.reply_address, "op@example.org", "Hello.");
    let there = post(operator, &path, "message/rfc822", Some(PASSWORD), raw());
    assert_eq!(there.status, 404, "{}", there.body);
    let here = post(http, &path, "message/rfc822", Some(PASSWORD), raw());
    assert_eq!(here.status, 200, "{}", here.body);
    // Requests on either address are counted.
    let text = scrape(operator);
    assert!(value(&text, "replyd_messages_stored_total{way_in=\"relay\"}") == 1.0);
    assert!(
        value(
            &text,
            "replyd_http_requests_total{route=\"unmatched\",status=\"404\"}"
        ) >= 4.0,
        "{text}"
    );
}

#[test]
fn the_endpoints_are_on_http_listen_by_default() {
    let srv = http_server(|_| {});
    assert_eq!(srv.operator_addr, srv.http_addr);
    let http = srv.http_addr.unwrap();
    for path in ["/metrics", "/healthz", "/readyz"] {
        assert_eq!(get(http, path).status, 200, "{path}");
    }
}
