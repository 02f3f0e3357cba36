//! Webhook test helpers: the secrets, the Standard Webhooks check written from the
//! specification (independent of replyd's signing code), endpoints with quick retries, a
//! config file with one endpoint for the binary, and a private CA for HTTPS receivers.

use super::receiver::{url_of, Received};
use super::*;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use replyd::config::WebhookConfig;
use replyd::store::{DeliveryState, WebhookAttempt};
use std::process::Command;
use std::time::Instant;

/// The Standard Webhooks specification's example secret (24 bytes).
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// Another (32 bytes of 7).
pub const NEW_SECRET: &str = "whsec_BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
/// A third, nobody's.
pub const OTHER_SECRET: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The Standard Webhooks check, written from the specification: the key is the base64 after
/// `whsec_`; the signed content is `id.timestamp.body`; the header holds space-separated
/// `v1,<base64>` entries, one of which must match; the timestamp is within 5 minutes.
pub fn verifies(secret: &str, r: &Received) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let (Some(id), Some(ts), Some(signatures)) = (
        r.header("webhook-id"),
        r.header("webhook-timestamp"),
        r.header("webhook-signature"),
    ) else {
        return false;
    };
    let Ok(ts_num) = ts.parse::<i64>() else {
        return false;
    };
    if (super::http::unix_now() - ts_num).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&r.body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    signatures
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|s| s == expected)
}

/// An endpoint to `url` with `secret` and quick retries (for tests).
pub fn endpoint(url: &str, secret: &str) -> WebhookConfig {
    let mut w = WebhookConfig::new(url, secret);
    w.retry = vec![Duration::from_millis(300); 3];
    w.retry_every = Duration::from_millis(300);
    w
}

/// A reply with quoted history and an attachment.
pub fn reply_with_history(to: &str, id: &str) -> Vec<u8> {
    format!(
        "From: Bob Customer <bob@example.org>\r\nTo: {to}\r\nSubject: Re: Order 42\r\n\
         Message-ID: <{id}>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Thanks, it arrived.\r\n\r\n\
         On Tue, 24 Nov 2026 at 10:00, Alice <alice@support.example.com> wrote:\r\n\
         > Your parcel left today.\r\n\r\n\
         --b\r\nContent-Type: application/pdf\r\n\
         Content-Disposition: attachment; filename=\"invoice.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nSGVsbG8=\r\n--b--\r\n"
    )
    .into_bytes()
}

/// The attempts recorded for an event, once `done` holds (panics after 20 s).
pub fn attempts_until(
    srv: &TestServer,
    webhook_id: &str,
    done: impl Fn(&[WebhookAttempt]) -> bool,
) -> Vec<WebhookAttempt> {
    let started = Instant::now();
    loop {
        let got = srv.block(srv.store.webhook_attempts(webhook_id)).unwrap();
        if done(&got) {
            return got;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "attempts of {webhook_id}: {got:#?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The webhook-id of a stored message's event, and its state with each endpoint.
pub fn event_of(srv: &TestServer, message: i64) -> (String, Vec<(String, DeliveryState)>) {
    let (id, deliveries) = srv
        .block(srv.store.webhook_event_of_message(message))
        .unwrap()
        .expect("an event for the message");
    (
        id,
        deliveries
            .into_iter()
            .map(|d| (d.endpoint, d.state))
            .collect(),
    )
}

pub fn stored_id(reply: &str) -> i64 {
    reply.rsplit('m').next().unwrap().trim().parse().unwrap()
}

/// A config for the binary with one endpoint called `helpdesk` (with
/// `REPLYD_TEST_STORE=postgres`, on a fresh PostgreSQL database standing for the folder's
/// file). A short request timeout: on PostgreSQL a node killed mid-attempt holds its event
/// for the lease (the timeout + 5 s), and the tests wait for the resend.
pub fn config_with_hook(dir: &std::path::Path, hook: std::net::SocketAddr) -> std::path::PathBuf {
    if super::postgres::enabled() {
        super::postgres::database_for(&dir.join("replyd.sqlite3"));
    }
    write_config(
        dir,
        0,
        &format!(
            "[[webhooks]]\nname = \"helpdesk\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n\
             retry = [\"200ms\"]\nretry_every = \"300ms\"\ntimeout = \"2s\"\n",
            url_of(hook)
        ),
    )
}

/// A private CA and a certificate it issued for 127.0.0.1 (made with the openssl CLI):
/// (ca.pem, leaf cert, leaf key).
pub fn private_ca(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let openssl = super::needs::program("openssl");
    let run = |args: &[&str]| {
        let out = Command::new(&openssl)
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-subj",
            "/CN=replyd test CA",
            "-days",
            "2",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
        "-out",
        "leaf.pem",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("leaf.pem"),
        dir.join("leaf.key"),
    )
}
