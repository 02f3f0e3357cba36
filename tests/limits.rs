//! Limits on what a client controls, each over raw TCP with its exact reply code: timeouts,
//! slow senders, junk commands, rates, loops, header size, bare LF.

mod common;

use common::*;
use std::time::{Duration, Instant};

#[test]
fn idle_client_gets_421_4_4_2() {
    let srv = TestServer::start_with(|c| c.limits.command_timeout = Duration::from_millis(500));
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO client.test", 250, "");
    let (code, text) = c.reply();
    assert_eq!((code, &text[..5]), (421, "4.4.2"), "{text}");
    assert!(c.is_closed());
}

#[test]
fn slow_data_sender_is_cut_off() {
    let srv = TestServer::start_with(|c| {
        c.limits.data_timeout = Duration::from_millis(800);
        c.limits.min_data_rate = 1000;
    });
    let conv = srv.conversation("bob@example.org");
    let mut c = Raw::greeted(srv.addr);
    c.start_data(&conv.reply_address);
    drop(c);
    // Redo it on a plain socket we can write from another thread while we wait for a reply.
    let stream = std::net::TcpStream::connect(srv.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut c = Raw::over(Box::new(stream));
    assert_eq!(c.reply().0, 220);
    c.start_data(&conv.reply_address);
    // 10 bytes every 200 ms (50 B/s), never going quiet for the whole timeout.
    let started = Instant::now();
    let trickle = std::thread::spawn(move || {
        for _ in 0..25 {
            if std::io::Write::write_all(&mut writer, b"slowloris\n").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let (code, text) = c.reply();
    let elapsed = started.elapsed();
    assert_eq!((code, &text[..5]), (421, "4.4.2"), "{text}");
    assert!(
        elapsed < Duration::from_secs(3),
        "cut off after {elapsed:?}"
    );
    assert!(
        elapsed > Duration::from_millis(700),
        "not before the data timeout: {elapsed:?}"
    );
    trickle.join().unwrap();
    assert_eq!(srv.stored(), 0);

    // A client that sends at a normal pace is not affected by the rate.
    let mut c = Raw::greeted(srv.addr);
    c.start_data(&conv.reply_address);
    c.send(
        reply_message(
            &conv.reply_address,
            "fast@example.org",
            &"fast ".repeat(2000),
        )
        .as_bytes(),
    );
    c.expect(".", 250, "2.0.0");
}

#[test]
fn junk_commands_are_limited() {
    let srv = TestServer::start_with(|c| c.limits.junk_command_limit = 5);
    let mut c = Raw::greeted(srv.addr);
    for _ in 0..5 {
        c.expect("NOOP", 250, "2.0.0");
    }
    c.send(b"NOOP\r\n");
    assert_eq!(c.reply().0, 250);
    let (code, text) = c.reply();
    assert_eq!((code, &text[..5]), (421, "4.7.0"), "{text}");
    assert!(c.is_closed());
}

#[test]
fn connection_and_message_rates_per_ip_spare_trusted_relays() {
    let srv = TestServer::start_with(|c| {
        c.server.trusted_relays = vec![];
        c.limits.greeting_delay = Duration::ZERO;
        c.limits.max_connection_rate_per_ip = 3;
        c.limits.max_message_rate_per_ip = 2;
    });
    let conv = srv.conversation("bob@example.org");
    let mut first = Raw::greeted(srv.addr);
    first.expect("EHLO client.test", 250, "");
    first.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    first.expect("RSET", 250, "2.0.0");
    first.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    first.expect("RSET", 250, "2.0.0");
    first.expect("MAIL FROM:<bob@example.org>", 450, "4.7.1");
    let _second = Raw::greeted(srv.addr);
    let _third = Raw::greeted(srv.addr);
    let mut fourth = Raw::connect(srv.addr);
    let (code, text) = fourth.reply();
    assert_eq!((code, &text[..5]), (421, "4.7.0"), "{text}");
    drop(conv);

    // The same limits do not apply to a trusted relay (loopback by default).
    let srv = TestServer::start_with(|c| {
        c.limits.max_connection_rate_per_ip = 1;
        c.limits.max_message_rate_per_ip = 1;
    });
    for _ in 0..3 {
        let mut c = Raw::greeted(srv.addr);
        c.expect("EHLO relay.test", 250, "");
        c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
        c.expect("RSET", 250, "2.0.0");
        c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    }
}

#[test]
fn mail_loop_is_554_5_4_0() {
    let srv = TestServer::start_with(|c| c.limits.max_received_headers = 5);
    let conv = srv.conversation("bob@example.org");
    let mut c = Raw::greeted(srv.addr);
    c.start_data(&conv.reply_address);
    let hops: String = (0..6)
        .map(|i| format!("Received: from hop{i}.example by hop{}.example; Wed, 25 Nov 2026 10:00:00 +0000\r\n", i + 1))
        .collect();
    c.send(format!("{hops}Subject: loop\r\n\r\nround and round\r\n").as_bytes());
    c.expect(".", 554, "5.4.0");
    // Five hops are fine; the session goes on.
    c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    c.expect(&format!("RCPT TO:<{}>", conv.reply_address), 250, "2.1.5");
    c.expect("DATA", 354, "");
    let hops: String = (0..5)
        .map(|i| format!("received: from h{i} by x; now\r\n"))
        .collect();
    c.send(format!("{hops}Subject: ok\r\n\r\nfine\r\n").as_bytes());
    c.expect(".", 250, "2.0.0");
    assert_eq!(srv.stored(), 1);
}

#[test]
fn header_block_over_the_limit_is_552() {
    let srv = TestServer::start_with(|c| c.limits.max_header_size = 1000);
    let conv = srv.conversation("bob@example.org");
    let mut c = Raw::greeted(srv.addr);
    c.start_data(&conv.reply_address);
    let fat: String = (0..30)
        .map(|i| format!("X-Padding-{i}: {}\r\n", "p".repeat(40)))
        .collect();
    c.send(format!("{fat}Subject: fat\r\n\r\nbody\r\n").as_bytes());
    c.expect(".", 552, "5.3.4");
    assert_eq!(srv.stored(), 0);
}

#[test]
fn bare_lf_reject_policy_gives_one_550_after_the_real_end() {
    let srv = TestServer::start_with(|c| c.limits.bare_lf = replyd::config::BareLf::Reject);
    let conv = srv.conversation("bob@example.org");
    let mut c = Raw::greeted(srv.addr);
    c.start_data(&conv.reply_address);
    c.send(b"Subject: lf\r\n\r\nline\n.\nMAIL FROM:<evil@example.net>\r\n.\r\n");
    let (code, text) = c.reply();
    assert_eq!((code, &text[..5]), (550, "5.5.2"), "{text}");
    // Exactly one reply: the next one answers NOOP.
    c.expect("NOOP", 250, "2.0.0");
    assert_eq!(srv.stored(), 0);
    // CRLF-clean mail still passes.
    c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    c.expect(&format!("RCPT TO:<{}>", conv.reply_address), 250, "2.1.5");
    c.expect("DATA", 354, "");
    c.send(b"Subject: crlf\r\n\r\nclean\r\n");
    c.expect(".", 250, "2.0.0");
}

/// The default rates are on: an untrusted client past them is refused with the documented
/// codes; a trusted relay (loopback, by default) is not counted.
#[test]
fn default_rates_refuse_an_untrusted_flood_but_not_a_trusted_relay() {
    let defaults = replyd::Config::default().limits;
    let connections = defaults.max_connection_rate_per_ip;
    let messages = defaults.max_message_rate_per_ip;
    assert_eq!(
        (connections, messages),
        (100, 200),
        "README and smtpd.toml say so"
    );
    let shipped =
        replyd::Config::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("smtpd.toml"))
            .unwrap()
            .limits;
    assert_eq!(
        (
            shipped.max_connection_rate_per_ip,
            shipped.max_message_rate_per_ip
        ),
        (connections, messages)
    );
    let untrusted = |c: &mut replyd::Config| {
        c.server.trusted_relays = vec![];
        c.limits.greeting_delay = Duration::ZERO;
        // Only the rate is under test, not how many connections are open at once.
        c.limits.max_connections_per_ip = 1000;
    };

    let srv = TestServer::start_with(untrusted);
    for _ in 0..connections {
        let mut c = Raw::greeted(srv.addr);
        c.expect("QUIT", 221, "");
    }
    let mut c = Raw::connect(srv.addr);
    let (code, text) = c.reply();
    assert_eq!((code, &text[..5]), (421, "4.7.0"), "{text}");

    let srv = TestServer::start_with(untrusted);
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO client.test", 250, "");
    for _ in 0..messages {
        c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
        c.expect("RSET", 250, "2.0.0");
    }
    c.expect("MAIL FROM:<bob@example.org>", 450, "4.7.1");

    // The same defaults, from a trusted relay: well past both.
    let srv = TestServer::start_with(|c| c.limits.greeting_delay = Duration::ZERO);
    for _ in 0..connections + 20 {
        let mut c = Raw::greeted(srv.addr);
        c.expect("QUIT", 221, "");
    }
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO relay.test", 250, "");
    for _ in 0..messages + 20 {
        c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
        c.expect("RSET", 250, "2.0.0");
    }
}
