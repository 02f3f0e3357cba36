//! The `replyd` binary: configuration errors, the conversation commands, backup, and a
//! SIGTERM in the middle of a transaction.

mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

fn replyd(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(replyd_bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn broken_config_names_the_key_and_exits_non_zero() {
    let dir = TempDir::new("cfg");
    let cases = [
        (
            "[server]\ndomains = [\"a.example\"]\n[limits]\nmax_mesage_size = 5\n",
            "limits.max_mesage_size",
        ),
        (
            "[server]\ndomains = [\"a.example\"]\n[limits]\nmax_message_size = \"huge\"\n",
            "limits.max_message_size",
        ),
        ("[server]\nhostname = \"mx.example\"\n", "server.domains"),
        (
            "[server]\ndomains = [\"a.example\"]\nlisten = [\"nowhere\"]\n",
            "server.listen",
        ),
        (
            "[server]\ndomains = [\"a.example\"]\n[limits]\nhard_error_limit = 0\n",
            "limits.hard_error_limit",
        ),
    ];
    for (text, key) in cases {
        let path = dir.path().join("smtpd.toml");
        std::fs::write(&path, text).unwrap();
        let out = replyd(&path, &["serve"]);
        assert!(!out.status.success(), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("smtpd.toml"), "{err}");
        assert!(err.contains(key), "expected {key} in {err}");
    }
    let out = replyd(&dir.path().join("missing.toml"), &["serve"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
}

#[test]
fn default_config_file_is_valid() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("smtpd.toml");
    let config = replyd::Config::load(&path).unwrap();
    assert_eq!(config.limits.max_message_size, 25 * 1024 * 1024);
    assert_eq!(config.limits.max_recipients, 100);
    assert!(config.server.listen[0].ip().is_loopback());
    assert!(config.store.path.starts_with("data"));
}

#[test]
fn conversation_commands_and_backup() {
    let dir = TempDir::new("cli");
    let config = write_config(dir.path(), 0, "");
    let out = replyd(
        &config,
        &[
            "conversation",
            "create",
            "--contact",
            "bob@example.org",
            "--channel",
            "facebook",
            "--subject",
            "Hello",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    let (uuid, address) = line.trim().split_once('\t').unwrap();
    assert_eq!(uuid.len(), 36);
    assert!(
        address.starts_with("reply+") && address.ends_with("@support.example.com"),
        "{address}"
    );

    let out = replyd(&config, &["conversation", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["uuid"], uuid);
    assert_eq!(list[0]["channel"], "facebook");
    assert_eq!(list[0]["reply_address"], address);
    assert_eq!(list[0]["status"], "open");

    let out = replyd(
        &config,
        &[
            "conversation",
            "create",
            "--contact",
            "x@y",
            "--domain",
            "other.example",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("other.example"));

    let out = replyd(&config, &["conversation", "close", uuid]);
    assert!(out.status.success());
    let out = replyd(&config, &["conversation", "show", uuid, "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["conversation"]["status"], "closed");
    let out = replyd(&config, &["conversation", "show", "no-such-uuid"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no conversation no-such-uuid"));

    let out = replyd(&config, &["inbox", "--json"]);
    assert!(out.status.success());
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        serde_json::json!([])
    );

    let copy = dir.path().join("copy.sqlite3");
    let out = replyd(&config, &["backup", copy.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let n = block_on(open_store(&copy).conversations()).unwrap().len();
    assert_eq!(n, 1);

    for cmd in [
        &["serve", "--help"][..],
        &["conversation", "create", "--help"],
        &["inbox", "--help"],
        &["backup", "--help"],
    ] {
        let out = replyd(&config, cmd);
        assert!(out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap()
                .len()
                > 10
        );
    }
}

#[test]
fn sigterm_mid_data_completes_the_transaction_and_restart_keeps_everything() {
    let dir = TempDir::new("term");
    let config = write_config(dir.path(), 0, "");
    let (uuid, address) = create_conversation(&config);
    let (uuid, address) = (uuid.as_str(), address.as_str());
    let mut srv = ServeProcess::start(&config);
    let addr = srv.addr;

    // One message stored before the signal.
    let mut c = Raw::greeted(addr);
    let (code, _) = c.send_mail(
        "bob@example.org",
        &[address],
        &reply_message(address, "before@example.org", "before"),
    );
    assert_eq!(code, 250);

    // A second client is in the middle of DATA when SIGTERM arrives.
    let mut mid = Raw::greeted(addr);
    mid.start_data(address);
    let body = reply_message(address, "during@example.org", "sent during shutdown");
    let (head, tail) = body.split_at(body.len() / 2);
    mid.send(head.as_bytes());
    srv.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    // The listener is closed: a new client is refused (or, if the kernel still completed the
    // handshake, gets no greeting but an immediate close).
    if let Ok(stream) = std::net::TcpStream::connect(addr) {
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut buf = [0u8; 64];
        let n = std::io::Read::read(&mut &stream, &mut buf).unwrap_or(0);
        assert!(
            n == 0 || buf.starts_with(b"421"),
            "new client after SIGTERM got {:?}",
            String::from_utf8_lossy(&buf[..n])
        );
    }
    mid.send(tail.as_bytes());
    let (code, text) = mid.cmd(".");
    assert!(code == 250 || (400..500).contains(&code), "{code} {text}");
    let status = srv.child.wait().unwrap();
    assert!(status.success(), "{status}");

    // Restart on the same file: everything acknowledged is there, nothing half-written.
    let store = open_store(&dir.path().join("replyd.sqlite3"));
    let texts: Vec<String> = block_on(store.messages_after(0, 1000))
        .unwrap()
        .into_iter()
        .map(|m| m.reply_text.unwrap_or_default())
        .collect();
    let mut expected = vec!["before".to_string()];
    if code == 250 {
        expected.push("sent during shutdown".into());
    }
    assert_eq!(texts, expected);
    let mut srv = ServeProcess::start(&config);
    let addr = srv.addr;
    let mut c = Raw::greeted(addr);
    let (code, _) = c.send_mail(
        "bob@example.org",
        &[address],
        &reply_message(address, "after@example.org", "after"),
    );
    assert_eq!(code, 250);
    let out = replyd(&config, &["conversation", "show", uuid]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("before") && shown.contains("after"),
        "{shown}"
    );
    srv.signal("TERM");
    assert!(srv.child.wait().unwrap().success());
}

#[test]
fn sigterm_tells_idle_sessions_421() {
    let dir = TempDir::new("idle");
    let config = write_config(dir.path(), 0, "");
    let mut srv = ServeProcess::start(&config);
    let addr = srv.addr;
    let mut idle = Raw::greeted(addr);
    idle.expect("EHLO client.test", 250, "");
    srv.signal("TERM");
    let (code, text) = idle.reply();
    assert_eq!(code, 421, "{text}");
    assert!(text.starts_with("4.3.2"), "{text}");
    assert!(srv.child.wait().unwrap().success());
}

#[test]
fn a_database_from_a_newer_replyd_is_refused() {
    let dir = TempDir::new("newer");
    let config = write_config(dir.path(), 0, "");
    // Create the schema, then pretend a newer replyd migrated it.
    assert!(replyd(&config, &["conversation", "list"]).status.success());
    let db = dir.path().join("replyd.sqlite3");
    let current = replyd::store::sqlite::schema_version(&db).unwrap();
    assert_eq!(current, replyd::store::sqlite::SCHEMA_VERSION);
    replyd::store::sqlite::mark_schema_version(&db, current + 1).unwrap();
    for args in [&["serve"][..], &["conversation", "list"]] {
        let out = replyd(&config, args);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("newer"), "{err}");
        assert!(
            err.contains(&format!("schema version {}", current + 1)),
            "{err}"
        );
    }
}

#[test]
fn stamp_and_parse_refuse_input_over_max_message_size() {
    let dir = TempDir::new("cap");
    let config = write_config(dir.path(), 0, "[limits]\nmax_message_size = \"1KiB\"\n");
    let (uuid, _) = create_conversation(&config);
    let message = |size: usize| {
        let mut m = b"From: Alice <alice@support.example.com>\r\nTo: bob@example.org\r\n\
                      Subject: Order 42\r\n\r\n"
            .to_vec();
        m.resize(size - 2, b'x');
        m.extend_from_slice(b"\r\n");
        m
    };
    let over_cap = |out: &std::process::Output| {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.starts_with("replyd: ")
                && err.contains("max_message_size")
                && err.contains("1024 bytes"),
            "{err}"
        );
        assert!(out.stdout.is_empty());
    };

    // stamp: one byte over is refused and nothing is recorded; the limit itself passes.
    let out = replyd_with_stdin(&config, &["stamp", "--conversation", &uuid], &message(1025));
    over_cap(&out);
    let out = replyd(&config, &["conversation", "show", &uuid, "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["messages"], serde_json::json!([]));
    // Far more than the limit: refused without being read whole.
    let out = replyd_with_stdin(
        &config,
        &["stamp", "--conversation", &uuid],
        &message(8 << 20),
    );
    over_cap(&out);
    let out = replyd_with_stdin(&config, &["stamp", "--conversation", &uuid], &message(1024));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // parse: a file and standard input.
    let file = dir.path().join("big.eml");
    std::fs::write(&file, message(1025)).unwrap();
    over_cap(&replyd(&config, &["parse", file.to_str().unwrap()]));
    over_cap(&replyd_with_stdin(&config, &["parse", "-"], &message(1025)));
    std::fs::write(&file, message(1024)).unwrap();
    replyd_ok(&config, &["parse", file.to_str().unwrap()]);
}

/// Without a configuration file, `parse` is capped at the default 25 MiB.
#[test]
fn parse_without_a_configuration_file_is_capped_at_the_default_size() {
    let dir = TempDir::new("cap-default");
    let limit = replyd::config::Limits::default().max_message_size;
    assert_eq!(limit, 25 << 20);
    let mut message = b"Subject: big\r\n\r\n".to_vec();
    message.resize(limit + 1, b'x');
    let file = dir.path().join("big.eml");
    std::fs::write(&file, &message).unwrap();
    let out = Command::new(replyd_bin())
        .current_dir(dir.path())
        .args(["parse", "big.eml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("max_message_size ({limit} bytes)")),
        "{err}"
    );
}
