//! `replyd check-config`: a good configuration passes and lists its non-default settings
//! without a secret's text; each kind of problem `serve` would stop at is named (file, key,
//! why) with a non-zero exit, all of them when there are several; nothing is created.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What `replyd check-config` said.
struct Checked {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Checked {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

fn check(config: &Path) -> Checked {
    let out = Command::new(replyd_bin())
        .arg("--config")
        .arg(config)
        .arg("check-config")
        .output()
        .unwrap();
    Checked {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// A config file in `dir` with the database at `dir/db/replyd.sqlite3` (not created) and
/// `server` keys, then `extra`.
fn config_file(dir: &Path, server: &str, extra: &str) -> PathBuf {
    let path = dir.join("smtpd.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n{server}\n[store]\npath = \"{}\"\n{extra}",
            dir.join("db/replyd.sqlite3").display()
        ),
    )
    .unwrap();
    path
}

const DOMAINS: &str = "domains = [\"support.example.com\"]\nhostname = \"mx.test\"";

/// Asserts a failed check that names `key` in a line saying `why`.
fn assert_problem(checked: &Checked, file: &Path, key: &str, why: &str) {
    assert_eq!(checked.code, 78, "{}", checked.all());
    let line = checked
        .stderr
        .lines()
        .find(|l| l.contains(&format!("`{key}`")))
        .unwrap_or_else(|| panic!("no problem names `{key}`:\n{}", checked.all()));
    assert!(line.contains(&file.display().to_string()), "{line}");
    assert!(line.contains(why), "{line}\nexpected: {why}");
}

#[test]
fn a_good_config_passes_and_lists_its_settings_without_secrets() {
    if !needs(OPENSSL) {
        return;
    }
    let dir = TempDir::new("check-good");
    let (cert, key) = self_signed_cert(dir.path(), "mx");
    let secret_file = dir.path().join("relay-password");
    std::fs::write(&secret_file, "file-secret-7f3a9c\n").unwrap();
    let console_hash = replyd::config::hash_password("console-secret").unwrap();
    let config = config_file(
        dir.path(),
        DOMAINS,
        &format!(
            "[limits]\nmax_message_size = \"10MiB\"\n\
             [tls]\ncert = \"{}\"\nkey = \"{}\"\n\
             [http]\nlisten = [\"127.0.0.1:0\"]\n\
             [operator]\nlisten = [\"127.0.0.1:0\"]\n\
             [ingress.mailgun]\nsigning_key = \"inline-secret-51d2e8\"\n\
             [ingress.mandrill]\nwebhook_key = \"inline-secret-mandrill\"\n\
             public_url = \"https://hook:url-secret-0a1b@mx.example.com/mandrill\"\n\
             [ingress.relay]\npassword_file = \"{}\"\n\
             [[webhooks]]\nname = \"helpdesk\"\n\
             url = \"https://helpdesk.example.com/replyd\"\n\
             secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n\
             previous_secret = \"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"\n\
             [console]\nenabled = true\npassword_hash = \"{console_hash}\"\n",
            cert.display(),
            key.display(),
            secret_file.display()
        ),
    );
    let checked = check(&config);
    assert_eq!(checked.code, 0, "{}", checked.all());
    assert!(
        checked.stderr.contains("no problem found"),
        "{}",
        checked.all()
    );
    for line in [
        "server.domains = [\"support.example.com\"]".to_string(),
        "server.hostname = \"mx.test\"".to_string(),
        "limits.max_message_size = \"10MiB\"".to_string(),
        format!("tls.cert = \"{}\"", cert.display()),
        format!("tls.key = \"{}\"", key.display()),
        "http.listen = [\"127.0.0.1:0\"]".to_string(),
        "operator.listen = [\"127.0.0.1:0\"]".to_string(),
        "ingress.mailgun.signing_key = \"<redacted>\"".to_string(),
        "console.enabled = true".to_string(),
        "console.password_hash = \"<redacted>\"".to_string(),
        "ingress.mandrill.webhook_key = \"<redacted>\"".to_string(),
        "ingress.mandrill.public_url = \"https://<redacted>@mx.example.com/mandrill\"".to_string(),
        format!(
            "ingress.relay.password_file = \"{}\"",
            secret_file.display()
        ),
        "webhooks[0].name = \"helpdesk\"".to_string(),
        "webhooks[0].url = \"https://helpdesk.example.com/replyd\"".to_string(),
        "webhooks[0].secret = \"<redacted>\"".to_string(),
        "webhooks[0].previous_secret = \"<redacted>\"".to_string(),
    ] {
        assert!(
            checked.stdout.lines().any(|l| l == line),
            "missing {line}:\n{}",
            checked.stdout
        );
    }
    // Only what differs from the defaults.
    assert!(
        !checked.stdout.contains("max_recipients"),
        "{}",
        checked.stdout
    );
    assert!(
        !checked.stdout.contains("shutdown_grace"),
        "{}",
        checked.stdout
    );
    for secret in [
        "inline-secret-51d2e8",
        "inline-secret-mandrill",
        "url-secret-0a1b",
        "file-secret-7f3a9c",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$",
    ] {
        assert!(!checked.all().contains(secret), "{secret} printed");
    }
    // Checked, not created.
    assert!(!dir.path().join("db").exists());
}

#[test]
fn an_existing_database_is_checked_by_writing_to_it() {
    let dir = TempDir::new("check-db");
    let config = config_file(dir.path(), DOMAINS, "");
    let db = dir.path().join("db/replyd.sqlite3");
    open_store(&db);
    let checked = check(&config);
    assert_eq!(checked.code, 0, "{}", checked.all());
    // A database written by a newer replyd is named.
    replyd::store::sqlite::mark_schema_version(&db, replyd::store::sqlite::SCHEMA_VERSION + 1)
        .unwrap();
    let checked = check(&config);
    assert_problem(&checked, &config, "store.path", "newer than");
}

#[test]
fn a_bad_domain_is_named() {
    let dir = TempDir::new("check-domain");
    let config = config_file(dir.path(), "domains = [\"support example.com\"]", "");
    let checked = check(&config);
    assert_problem(&checked, &config, "server.domains", "is not a domain name");
}

#[test]
fn a_webhook_url_with_a_password_is_named_without_the_password() {
    let dir = TempDir::new("check-webhook-url");
    let config = config_file(
        dir.path(),
        DOMAINS,
        "[[webhooks]]\nurl = \"https://hooks:pw-1e2f@helpdesk.example.com/replyd\"\n\
         secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n",
    );
    let checked = check(&config);
    assert_problem(&checked, &config, "webhooks.url", "credentials in the URL");
    assert!(!checked.all().contains("pw-1e2f"), "{}", checked.all());
}

#[test]
fn an_unreadable_certificate_is_named() {
    let dir = TempDir::new("check-cert");
    let missing = dir.path().join("no-such-cert.pem");
    let config = config_file(
        dir.path(),
        DOMAINS,
        &format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            missing.display(),
            dir.path().join("no-such-key.pem").display()
        ),
    );
    let checked = check(&config);
    assert_problem(
        &checked,
        &config,
        "tls.cert",
        &missing.display().to_string(),
    );
}

#[test]
fn a_key_that_does_not_go_with_the_certificate_is_named() {
    if !needs(OPENSSL) {
        return;
    }
    let dir = TempDir::new("check-mismatch");
    let (cert, _) = self_signed_cert(dir.path(), "one");
    let (_, other_key) = self_signed_cert(dir.path(), "two");
    let config = config_file(
        dir.path(),
        DOMAINS,
        &format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            cert.display(),
            other_key.display()
        ),
    );
    let checked = check(&config);
    assert_problem(&checked, &config, "tls.cert", "does not go with tls.key");
}

#[test]
fn a_database_folder_that_cannot_be_written_is_named() {
    // A file where the folder should be: no one, root included, can create the database.
    let dir = TempDir::new("check-dbdir");
    std::fs::write(dir.path().join("db"), "not a folder").unwrap();
    let config = config_file(dir.path(), DOMAINS, "");
    let checked = check(&config);
    assert_problem(&checked, &config, "store.path", "not a folder");
}

#[test]
fn an_immutable_database_folder_is_named() {
    if !needs(common::faults::READ_ONLY) {
        return;
    }
    let dir = TempDir::new("check-immutable");
    let folder = dir.path().join("db");
    std::fs::create_dir(&folder).unwrap();
    let config = config_file(dir.path(), DOMAINS, "");
    common::faults::immutable(std::slice::from_ref(&folder), true);
    let checked = check(&config);
    common::faults::immutable(std::slice::from_ref(&folder), false);
    assert_problem(
        &checked,
        &config,
        "store.path",
        &folder.display().to_string(),
    );
}

#[test]
fn an_address_in_use_is_named() {
    let dir = TempDir::new("check-inuse");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let config = config_file(
        dir.path(),
        DOMAINS,
        &format!("[http]\nlisten = [\"{addr}\"]\n"),
    );
    let checked = check(&config);
    assert_problem(
        &checked,
        &config,
        "http.listen",
        &format!("{addr}: cannot listen"),
    );
    assert!(checked.stderr.contains("in use"), "{}", checked.stderr);
}

#[test]
fn an_unreadable_secret_file_is_named() {
    let dir = TempDir::new("check-secret");
    let missing = dir.path().join("no-such-password");
    let config = config_file(
        dir.path(),
        DOMAINS,
        &format!(
            "[ingress.relay]\npassword_file = \"{}\"\n",
            missing.display()
        ),
    );
    let checked = check(&config);
    assert_problem(
        &checked,
        &config,
        "ingress.relay.password_file",
        &missing.display().to_string(),
    );
}

#[test]
fn every_problem_is_named_not_only_the_first() {
    let dir = TempDir::new("check-many");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let path = dir.path().join("smtpd.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = [\"{addr}\"]\ndomains = [\"bad domain\"]\n\
             [store]\npath = \"{}\"\n\
             [tls]\ncert = \"/nonexistent/cert.pem\"\nkey = \"/nonexistent/key.pem\"\n",
            dir.path().join("replyd.sqlite3").display()
        ),
    )
    .unwrap();
    let checked = check(&path);
    assert_problem(&checked, &path, "server.domains", "is not a domain name");
    assert_problem(&checked, &path, "tls.cert", "/nonexistent/cert.pem");
    assert_problem(
        &checked,
        &path,
        "server.listen",
        &format!("{addr}: cannot listen"),
    );
    assert!(checked.stderr.contains("3 problems"), "{}", checked.stderr);
}

#[test]
fn a_file_that_does_not_parse_is_named() {
    let dir = TempDir::new("check-parse");
    let config = config_file(dir.path(), DOMAINS, "[limits]\nmax_mesage_size = 10\n");
    let checked = check(&config);
    assert_problem(&checked, &config, "limits.max_mesage_size", "unknown field");
}
