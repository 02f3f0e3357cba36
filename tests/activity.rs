//! The activity log: every delivery attempt leaves one row per recipient, with the exact
//! code and reason, refusals at RCPT included; a flood stays bounded and fully counted;
//! `replyd activity` reads it; `[log] format = "json"` writes one structured line each.

mod common;

use common::*;
use replyd::store::{Activity, Outcome, Reason};

fn find<'a>(rows: &'a [Activity], recipient: &str) -> &'a Activity {
    rows.iter()
        .find(|r| r.recipient.as_deref() == Some(recipient))
        .unwrap_or_else(|| panic!("no row for {recipient}: {rows:#?}"))
}

#[test]
fn each_outcome_leaves_one_row_with_its_code_and_reason() {
    let srv = TestServer::start_with(|c| {
        c.limits.max_message_size = 10_000;
        c.store.busy_timeout = Duration::from_millis(200);
    });
    let open = srv.conversation("bob@example.org");
    let closed = srv.conversation("carol@example.org");
    srv.block(srv.store.close_conversation(&closed.uuid))
        .unwrap();
    let unknown = format!("reply+{}@{DOMAIN}", "0".repeat(32));
    let foreign = "someone@elsewhere.example";

    let mut c = Raw::greeted(srv.addr);
    let (code, text) = c.send_mail(
        "bob@example.org",
        &[&open.reply_address],
        &reply_message(&open.reply_address, "a1@example.org", "Thanks"),
    );
    assert_eq!(code, 250, "{text}");
    c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    c.expect(&format!("RCPT TO:<{unknown}>"), 550, "5.1.1");
    c.expect(&format!("RCPT TO:<{}>", closed.reply_address), 550, "5.1.1");
    c.expect(&format!("RCPT TO:<{foreign}>"), 550, "5.7.1");
    c.expect("RSET", 250, "2.0.0");
    c.expect("MAIL FROM:<big@example.org> SIZE=20000", 552, "5.3.4");
    // A storage fault: the database is locked while the message is committed.
    let lock = srv.lock_database();
    c.expect("MAIL FROM:<dave@example.org>", 250, "2.1.0");
    c.expect(&format!("RCPT TO:<{}>", open.reply_address), 250, "2.1.5");
    c.expect("DATA", 354, "");
    c.send(reply_message(&open.reply_address, "a2@example.org", "Locked").as_bytes());
    c.expect(".", 451, "4.3.0");
    lock.release().unwrap();

    let rows = srv.activity(6);
    assert_eq!(rows.len(), 6, "{rows:#?}");
    let stored = rows.iter().find(|r| r.outcome == Outcome::Stored).unwrap();
    assert_eq!(
        (stored.code, &stored.reason, stored.way_in.as_str()),
        (250, &Reason::Stored, "esmtp")
    );
    assert_eq!(
        stored.recipient.as_deref(),
        Some(open.reply_address.as_str())
    );
    assert_eq!(stored.sender.as_deref(), Some("bob@example.org"));
    assert_eq!(stored.client_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(stored.helo.as_deref(), Some("client.test"));
    let m = srv.messages(&open.uuid).pop().unwrap();
    assert_eq!(stored.message_id, Some(m.id));

    let r = find(&rows, &unknown);
    assert_eq!(
        (r.outcome.clone(), r.code, r.reason.clone()),
        (Outcome::Refused, 550, Reason::UnknownToken)
    );
    let r = find(&rows, &closed.reply_address);
    assert_eq!(
        (r.code, r.reason.clone()),
        (550, Reason::ClosedConversation)
    );
    let r = find(&rows, foreign);
    assert_eq!((r.code, r.reason.clone()), (550, Reason::ForeignDomain));
    let big = rows
        .iter()
        .find(|r| r.sender.as_deref() == Some("big@example.org"))
        .unwrap();
    assert_eq!(
        (
            big.outcome.clone(),
            big.code,
            big.reason.clone(),
            big.recipient.clone()
        ),
        (Outcome::Refused, 552, Reason::TooLarge, None)
    );
    let fault = rows
        .iter()
        .find(|r| r.sender.as_deref() == Some("dave@example.org"))
        .unwrap();
    assert_eq!(
        (fault.outcome.clone(), fault.code, fault.reason.clone()),
        (Outcome::Deferred, 451, Reason::StorageFault)
    );
    assert!(rows.iter().all(|r| r.count == 1));
}

#[test]
fn content_refusals_and_lmtp_are_recorded_per_recipient() {
    let srv = TestServer::start_with(|c| {
        c.limits.max_received_headers = 3;
        c.lmtp.listen = vec!["127.0.0.1:0".parse().unwrap()];
    });
    let a = srv.conversation("bob@example.org");
    let b = srv.conversation("carol@example.org");
    let mut c = Raw::connect(srv.lmtp_addr.unwrap());
    c.reply();
    c.expect("LHLO relay.test", 250, "");
    c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    c.expect(&format!("RCPT TO:<{}>", a.reply_address), 250, "2.1.5");
    c.expect(&format!("RCPT TO:<{}>", b.reply_address), 250, "2.1.5");
    c.expect("DATA", 354, "");
    let looped = format!(
        "{}{}",
        received_hops(5),
        reply_message(&a.reply_address, "loop@example.org", "again")
    );
    c.send(looped.as_bytes());
    c.send(b".\r\n");
    assert_eq!(c.reply().0, 554);
    assert_eq!(c.reply().0, 554);
    let rows = srv.activity(2);
    for conv in [&a, &b] {
        let r = find(&rows, &conv.reply_address);
        assert_eq!(
            (r.way_in.as_str(), r.code, r.reason.clone()),
            ("lmtp", 554, Reason::MailLoop)
        );
    }
}

#[test]
fn a_flood_of_refusals_stays_bounded_and_every_attempt_is_counted() {
    const ATTEMPTS: usize = 100_000;
    let srv = TestServer::start_with(|c| {
        c.limits.hard_error_limit = u32::MAX;
        c.activity.max_rows_per_second = 100;
    });
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO flood.test", 250, "");
    c.expect("MAIL FROM:<spam@example.net>", 250, "2.1.0");
    // Pipelined in chunks: a dictionary attack on reply addresses.
    let chunk = 1000;
    for start in (0..ATTEMPTS).step_by(chunk) {
        let mut lines = String::new();
        for i in start..start + chunk {
            lines.push_str(&format!("RCPT TO:<reply+{i:032x}@{DOMAIN}>\r\n"));
        }
        c.send(lines.as_bytes());
        for _ in 0..chunk {
            assert_eq!(c.reply().0, 550);
        }
    }
    // The last second's aggregate is written once that second is over.
    std::thread::sleep(Duration::from_millis(1500));
    let filter = replyd::store::ActivityFilter {
        limit: 1_000_000,
        ..Default::default()
    };
    let rows = srv.block(srv.store.activity(&filter)).unwrap();
    let counted: i64 = rows.iter().map(|r| r.count).sum();
    assert_eq!(counted, ATTEMPTS as i64, "every attempt is counted");
    let aggregated: Vec<_> = rows.iter().filter(|r| r.count > 1).collect();
    assert!(!aggregated.is_empty());
    assert!(
        aggregated[0].detail.contains("aggregated"),
        "{:?}",
        aggregated[0]
    );
    assert_eq!(aggregated[0].reason, Reason::UnknownToken);
    println!(
        "{ATTEMPTS} refused RCPTs: {} rows ({} aggregated)",
        rows.len(),
        aggregated.len()
    );
    // At most max_rows_per_second one by one per second, plus one aggregate per second.
    assert!(rows.len() < 20_000, "{} rows", rows.len());
}

#[test]
fn the_activity_command_filters_and_prints_json() {
    let dir = TempDir::new("activity-cli");
    let config = write_config(dir.path(), 0, "");
    let (_, to) = create_conversation(&config);
    let srv = ServeProcess::start(&config);
    let mut c = Raw::greeted(srv.addr);
    let (code, text) = c.send_mail(
        "bob@example.org",
        &[&to],
        &reply_message(&to, "cli@example.org", "hello"),
    );
    assert_eq!(code, 250, "{text}");
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO client.test", 250, "");
    c.expect("MAIL FROM:<mallory@example.net>", 250, "2.1.0");
    c.expect("RCPT TO:<x@elsewhere.example>", 550, "5.7.1");
    std::thread::sleep(Duration::from_millis(1200));

    let out = replyd_ok(&config, &["activity", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{out}");
    for key in [
        "time",
        "way_in",
        "client_ip",
        "sender",
        "recipient",
        "outcome",
        "code",
        "reason",
        "message_id",
    ] {
        assert!(rows[0].get(key).is_some(), "{key} in {out}");
    }
    let out = replyd_ok(
        &config,
        &["activity", "--outcome", "refused", "--json-lines"],
    );
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert_eq!(lines[0]["reason"], "foreign_domain");
    assert_eq!(lines[0]["code"], 550);
    let out = replyd_ok(&config, &["activity", "--recipient", &to, "--since", "1h"]);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("stored 250 stored m1"), "{out}");
    // What the sender wrote is escaped in the terminal.
    let out = replyd_ok(&config, &["activity"]);
    assert!(!out.contains('\u{1b}'), "{out:?}");
    let out = replyd_ok(&config, &["activity", "--since", "2999-01-01"]);
    assert_eq!(out.trim(), "No delivery attempts match.");
}

#[test]
fn json_log_lines_carry_the_activity_fields() {
    let dir = TempDir::new("activity-json-log");
    let config = write_config(dir.path(), 0, "[log]\nformat = \"json\"\n");
    let (_, to) = create_conversation(&config);
    let srv = ServeProcess::start(&config);
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO client.test", 250, "");
    c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    c.expect("RCPT TO:<nobody@elsewhere.example>", 550, "5.7.1");
    assert!(mta::wait_for(5, || srv.log().contains("foreign_domain")));
    let line = srv
        .log()
        .lines()
        .find(|l| l.contains("foreign_domain"))
        .unwrap()
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let fields = &v["fields"];
    assert_eq!(fields["outcome"], "refused");
    assert_eq!(fields["code"], 550);
    assert_eq!(fields["recipient"], "nobody@elsewhere.example");
    assert_eq!(fields["way_in"], "esmtp");
    let _ = to;
}

#[test]
fn rows_past_keep_days_are_pruned_and_the_log_can_be_off() {
    let dir = TempDir::new("activity-prune");
    let config = write_config(dir.path(), 0, "");
    {
        let srv = ServeProcess::start(&config);
        let mut c = Raw::greeted(srv.addr);
        c.expect("EHLO client.test", 250, "");
        c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
        c.expect("RCPT TO:<nobody@elsewhere.example>", 550, "5.7.1");
        std::thread::sleep(Duration::from_millis(1200));
    }
    let db = dir.path().join("replyd.sqlite3");
    let all = replyd::store::ActivityFilter {
        limit: 100,
        ..Default::default()
    };
    assert_eq!(block_on(open_store(&db).activity(&all)).unwrap().len(), 1);
    std::thread::sleep(Duration::from_millis(50));
    // Kept for no day at all, and not recording: the old row goes at start, none comes.
    let config = write_config(
        dir.path(),
        0,
        "[activity]\nkeep_days = 0\nenabled = false\n",
    );
    let srv = ServeProcess::start(&config);
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO client.test", 250, "");
    c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    c.expect("RCPT TO:<nobody@elsewhere.example>", 550, "5.7.1");
    std::thread::sleep(Duration::from_millis(1200));
    assert!(block_on(open_store(&db).activity(&all)).unwrap().is_empty());
}
