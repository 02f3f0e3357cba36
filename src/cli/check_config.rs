//! `replyd check-config`: everything `serve` would refuse at start, found before a restart
//! does, and the settings in force that differ from the defaults (as `postconf -n` shows).
//!
//! The checks are the server's own: the configuration's parsing and validation, the TLS
//! loader (certificate and key readable and going together), the ingress secrets' reader,
//! the listeners' bind (while nothing listens there), and the store's write check, which
//! changes nothing (no database is created or migrated). Each problem is one line naming
//! the file, the key and why; every one found is listed, not only the first.
//!
//! The settings are printed for a person to read and paste: secrets (keys, passwords,
//! tokens, credentials in a URL) are printed as `"<redacted>"`, never their text.

use crate::config::{Config, ConfigError};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What `serve` does with a configuration it cannot use (`EX_CONFIG`).
const EX_CONFIG: u8 = 78;

/// Checks the configuration file at `path` (`database`: the `--database` override) and
/// prints what it finds.
pub(super) fn main(path: &Path, database: Option<PathBuf>) -> ExitCode {
    let mut config = match Config::load_unvalidated(path) {
        Ok(c) => c,
        Err(e) => {
            // Nothing else can be checked in a file that does not parse.
            eprintln!("replyd: {e}");
            eprintln!("replyd check-config: 1 problem");
            return ExitCode::from(EX_CONFIG);
        }
    };
    if let Some(db) = database {
        config.store.path = db;
        config.store.url = None;
    }
    let file = path.display().to_string();
    print_settings(&config);
    let problems = problems(&config, &file);
    for warning in warnings(&config) {
        eprintln!("replyd: warning: {warning}");
    }
    if problems.is_empty() {
        eprintln!("replyd check-config: {file}: no problem found");
        return ExitCode::SUCCESS;
    }
    for p in &problems {
        eprintln!("replyd: {p}");
    }
    let n = problems.len();
    eprintln!(
        "replyd check-config: {n} problem{}",
        if n == 1 { "" } else { "s" }
    );
    ExitCode::from(EX_CONFIG)
}

/// Every problem `serve` would stop at, as far as they can be found without running.
fn problems(config: &Config, file: &str) -> Vec<ConfigError> {
    let problem = |key: &str, message: String| ConfigError {
        file: file.to_string(),
        key: Some(key.to_string()),
        message,
    };
    let mut found = Vec::new();
    for (key, message) in config.problems() {
        found.push(problem(key, message));
    }
    if let Err(e) = crate::smtp::Tls::load(&config.tls) {
        let key = if e.0.starts_with("tls.key") {
            "tls.key"
        } else {
            "tls.cert"
        };
        found.push(problem(key, e.0));
    }
    if let Err(e) = crate::http::Secrets::load(&config.ingress) {
        // `ingress.<name>.<key>: why`.
        let (key, why) = e.split_once(": ").unwrap_or(("ingress", e.as_str()));
        found.push(problem(key, why.to_string()));
    }
    if config.store.url.is_some() {
        if let Err(e) = crate::store::postgres::check_database(&config.store) {
            found.push(problem("store.url", e.to_string()));
        }
    } else if let Err(e) = crate::store::sqlite::check_database(&config.store) {
        found.push(problem(
            "store.path",
            format!("{}: {e}", config.store.path.display()),
        ));
    }
    found.extend(
        listener_problems(config)
            .into_iter()
            .map(|(key, why)| problem(key, why)),
    );
    found
}

/// The listen addresses that cannot be bound now, and the LMTP socket that cannot be made.
/// Every address is held until all are tried, so one given twice (in two sections, say)
/// is found too.
fn listener_problems(config: &Config) -> Vec<(&'static str, String)> {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    {
        Ok(r) => r,
        Err(e) => return vec![("server.listen", format!("cannot check the addresses: {e}"))],
    };
    let _entered = runtime.enter();
    let sections: [(&'static str, &[SocketAddr]); 4] = [
        ("server.listen", &config.server.listen),
        ("lmtp.listen", &config.lmtp.listen),
        ("http.listen", &config.http.listen),
        ("operator.listen", &config.operator.listen),
    ];
    let mut held = Vec::new();
    let mut found = Vec::new();
    for (key, addrs) in sections {
        for addr in addrs {
            match crate::http::bind(std::slice::from_ref(addr)) {
                Ok(listeners) => held.extend(listeners),
                Err((_, e)) if e.kind() == std::io::ErrorKind::AddrInUse => found.push((
                    key,
                    format!(
                        "{addr}: cannot listen: {e} (another program holds it: a replyd \
                         already running there, or an address given twice)"
                    ),
                )),
                Err((_, e)) => found.push((key, format!("{addr}: cannot listen: {e}"))),
            }
        }
    }
    if let Some(path) = &config.lmtp.socket {
        match crate::smtp::bind_unix(path, config.lmtp.socket_mode) {
            Ok(listener) => {
                drop(listener);
                let _ = std::fs::remove_file(path);
            }
            Err(e) => found.push(("lmtp.socket", format!("{}: {e}", path.display()))),
        }
    }
    found
}

/// What `serve` would start with but say is unwise.
fn warnings(config: &Config) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(w) = crate::store::permission_warning(&config.store.path) {
        found.push(w);
    }
    let public = |a: &SocketAddr| !a.ip().is_loopback();
    if config.operator.listen.is_empty() && config.http.listen.iter().any(public) {
        found.push(
            "/metrics, /healthz and /readyz are served without authentication on [http] \
             listen, which is not loopback-only: set [operator] listen to a private address"
                .into(),
        );
    }
    found
}

/// Prints `table.key = value` for every setting that differs from the defaults, sorted.
fn print_settings(config: &Config) {
    let (Ok(actual), Ok(defaults)) = (
        serde_json::to_value(config),
        serde_json::to_value(Config::default()),
    ) else {
        eprintln!("replyd: the settings cannot be listed (a bug)");
        return;
    };
    let mut lines = Vec::new();
    differences("", &actual, &defaults, &mut lines);
    if lines.is_empty() {
        println!("# every setting has its default");
    }
    for line in lines {
        println!("{line}");
    }
}

/// The `key = value` lines where `actual` differs from `defaults`, secrets redacted.
fn differences(prefix: &str, actual: &Value, defaults: &Value, out: &mut Vec<String>) {
    let Value::Object(fields) = actual else {
        return;
    };
    for (name, value) in fields {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let default = defaults.get(name).unwrap_or(&Value::Null);
        if value == default {
            continue;
        }
        if value.is_object() {
            differences(&key, value, default, out);
            continue;
        }
        // An array of tables (`[[webhooks]]`): each table's keys, secrets redacted.
        if let Value::Array(items) = value {
            if items.iter().all(Value::is_object) && !items.is_empty() {
                for (i, item) in items.iter().enumerate() {
                    differences(&format!("{key}[{i}]"), item, &Value::Null, out);
                }
                continue;
            }
        }
        out.push(match value {
            Value::Null => format!("# {key} is unset"),
            _ if is_secret(name) => format!("{key} = \"<redacted>\""),
            Value::Number(n) if key == "lmtp.socket_mode" => {
                format!("{key} = 0o{:o}", n.as_u64().unwrap_or(0))
            }
            _ => format!("{key} = {}", redact_urls(value)),
        });
    }
}

/// Whether a key holds a secret's text (not a path to one: `<name>_file`).
fn is_secret(name: &str) -> bool {
    !name.ends_with("_file")
        && (name.ends_with("_key")
            || name.contains("password")
            || name.contains("secret")
            || name == "token"
            || name == "tokens"
            || name.ends_with("_token"))
}

/// A value as TOML, with the credentials of any URL in it (`https://user:pass@host/`)
/// replaced.
fn redact_urls(value: &Value) -> String {
    match value {
        Value::String(s) => Value::String(redact_url(s)).to_string(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(redact_urls).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

fn redact_url(s: &str) -> String {
    let Some(scheme_end) = s.find("://") else {
        return s.to_string();
    };
    let rest = &s[scheme_end + 3..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    match authority.rfind('@') {
        Some(at) => format!("{}://<redacted>{}", &s[..scheme_end], &rest[at..]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_credentials_are_redacted() {
        assert!(is_secret("signing_key") && is_secret("webhook_key") && is_secret("password"));
        assert!(!is_secret("signing_key_file") && !is_secret("password_file"));
        assert!(!is_secret("token_ttl_days") && !is_secret("key"));
        assert_eq!(
            redact_url("https://user:pw@mx.example.com/x@y"),
            "https://<redacted>@mx.example.com/x@y"
        );
        assert_eq!(
            redact_url("https://mx.example.com/a@b"),
            "https://mx.example.com/a@b"
        );
    }

    #[test]
    fn only_what_differs_is_listed() {
        let mut c = Config::default();
        c.server.domains = vec!["support.example.com".into()];
        c.limits.max_message_size = 10 << 20;
        c.ingress.relay.password = Some("hunter2".into());
        c.lmtp.socket_mode = 0o600;
        let mut lines = Vec::new();
        differences(
            "",
            &serde_json::to_value(&c).unwrap(),
            &serde_json::to_value(Config::default()).unwrap(),
            &mut lines,
        );
        assert_eq!(
            lines,
            [
                "ingress.relay.password = \"<redacted>\"",
                "limits.max_message_size = \"10MiB\"",
                "lmtp.socket_mode = 0o600",
                "server.domains = [\"support.example.com\"]",
            ]
        );
    }
}
