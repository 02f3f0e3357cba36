//! The configuration's parsing and validation.

use super::*;

const MINIMAL: &str = "[server]\ndomains = [\"support.example.com\"]\n";

#[test]
fn unknown_key_is_named() {
    let err = Config::from_toml(
        "[server]\ndomains = [\"a.example\"]\n[limits]\nmax_mesage_size = 10\n",
        "smtpd.toml",
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("smtpd.toml"), "{text}");
    assert!(text.contains("limits.max_mesage_size"), "{text}");
    assert!(text.contains("unknown field"), "{text}");
}

#[test]
fn bad_value_is_named() {
    let err = Config::from_toml(
        "[server]\ndomains = [\"a.example\"]\n[limits]\nmax_message_size = \"lots\"\n",
        "x.toml",
    )
    .unwrap_err();
    assert_eq!(err.key.as_deref(), Some("limits.max_message_size"));
    let err = Config::from_toml(
        "[server]\ndomains = [\"a.example\"]\n[limits]\nmax_recipients = 0\n",
        "x.toml",
    )
    .unwrap_err();
    assert_eq!(err.key.as_deref(), Some("limits.max_recipients"));
}

#[test]
fn missing_domains_is_named() {
    let err = Config::from_toml("[server]\nhostname = \"mx.example\"\n", "x.toml").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("server.domains"));
}

#[test]
fn units_parse() {
    let c = Config::from_toml(
        &format!("{MINIMAL}[limits]\nmax_message_size = \"1MiB\"\ncommand_timeout = \"5m\"\n"),
        "x",
    )
    .unwrap();
    assert_eq!(c.limits.max_message_size, 1 << 20);
    assert_eq!(c.limits.command_timeout, Duration::from_secs(300));
    assert_eq!(c.limits.max_recipients, 100);
}

#[test]
fn mta_keys() {
    let c = Config::from_toml(
        &format!(
            "{MINIMAL}proxy_protocol = true\nauthserv_id = \"mx.example.com\"\n\
             [lmtp]\nlisten = [\"127.0.0.1:2424\"]\nsocket = \"/run/replyd/lmtp.sock\"\n\
             socket_mode = 0o666\n[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\nrequire_tls = true\n"
        ),
        "x",
    )
    .unwrap();
    assert!(c.server.proxy_protocol);
    assert_eq!(c.lmtp.socket_mode, 0o666);
    assert_eq!(c.lmtp.listen.len(), 1);
    assert!(c.tls.require_tls);
    let d = Config::from_toml(MINIMAL, "x").unwrap();
    assert!(d.lmtp.listen.is_empty() && d.lmtp.socket.is_none() && d.tls.cert.is_none());
    assert!(!d.server.proxy_protocol);
    let err = Config::from_toml(&format!("{MINIMAL}[tls]\ncert = \"c.pem\"\n"), "x").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("tls.key"));
    let err = Config::from_toml(&format!("{MINIMAL}[tls]\nrequire_tls = true\n"), "x").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("tls.require_tls"));
    let err =
        Config::from_toml(&format!("{MINIMAL}[lmtp]\nsocket_mode = 4096\n"), "x").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("lmtp.socket_mode"));
    let err = Config::from_toml(&format!("{MINIMAL}authserv_id = \"a b\"\n"), "x").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("server.authserv_id"));
}

#[test]
fn networks() {
    let n: Network = "127.0.0.0/8".parse().unwrap();
    assert!(n.contains("127.1.2.3".parse().unwrap()));
    assert!(n.contains("::ffff:127.0.0.1".parse().unwrap()));
    assert!(!n.contains("10.0.0.1".parse().unwrap()));
    assert!("10.0.0.0/33".parse::<Network>().is_err());
}

#[test]
fn every_group_names_its_problem() {
    let c: Config = toml::from_str(
        "[server]\ndomains = [\"bad domain\"]\n[limits]\nmax_recipients = 0\n\
         [conversations]\nclosed_reply_text = \"two\\nlines\"\n",
    )
    .unwrap();
    let keys: Vec<&str> = c.problems().iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys,
        [
            "server.domains",
            "limits.max_recipients",
            "conversations.closed_reply_text"
        ]
    );
    assert_eq!(c.validate().unwrap_err().0, "server.domains");
}

#[test]
fn durations_and_sizes_are_written_back_as_they_are_read() {
    let c = Config::from_toml(
        &format!(
            "{MINIMAL}shutdown_grace = \"1500ms\"\n[limits]\nmax_message_size = \"10MiB\"\n\
             command_timeout = \"5m\"\nmax_header_size = 1000\n"
        ),
        "x",
    )
    .unwrap();
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(v["server"]["shutdown_grace"], "1500ms");
    assert_eq!(v["limits"]["max_message_size"], "10MiB");
    assert_eq!(v["limits"]["command_timeout"], "5m");
    assert_eq!(v["limits"]["max_header_size"], "1000");
    assert_eq!(v["server"]["trusted_relays"][0], "127.0.0.0/8");
    let back = Config::from_toml(
        "[server]\ndomains = [\"a.example\"]\nshutdown_grace = \"1500ms\"\n",
        "x",
    )
    .unwrap();
    assert_eq!(back.server.shutdown_grace, c.server.shutdown_grace);
}

#[test]
fn store_is_a_file_or_a_postgres_url_not_both() {
    let url = "[store]\nurl = \"postgres://replyd@db.internal/replyd\"\n";
    let c = Config::from_toml(&format!("{MINIMAL}{url}"), "x.toml").unwrap();
    assert_eq!(
        c.store.url.as_deref(),
        Some("postgres://replyd@db.internal/replyd")
    );
    let both = "[store]\nurl = \"postgres://db/replyd\"\npath = \"/var/lib/replyd/r.sqlite3\"\n";
    let err = Config::from_toml(&format!("{MINIMAL}{both}"), "x.toml").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("store.url"));
    assert!(err.to_string().contains("not both"), "{err}");
    let neither = "[store]\npath = \"\"\n";
    let err = Config::from_toml(&format!("{MINIMAL}{neither}"), "x.toml").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("store.path"));
    let mysql = "[store]\nurl = \"mysql://db/replyd\"\n";
    let err = Config::from_toml(&format!("{MINIMAL}{mysql}"), "x.toml").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("store.url"));
    let hooks = "[[webhooks]]\nurl = \"https://helpdesk.example/hook\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n";
    // Webhooks on PostgreSQL: every node sends, each attempt made by one (a lease).
    let c = Config::from_toml(&format!("{MINIMAL}{url}{hooks}"), "x.toml").unwrap();
    assert_eq!(c.webhooks.len(), 1);
}
