//! `[http]` and `[ingress]`: the HTTP listener and the provider webhooks behind it.
//!
//! Secrets can sit in the file or beside it (`<key>_file = "/path"`, read at start and on
//! SIGHUP), so a config file can be shared without its secrets. An ingress with no secret is
//! off: its paths answer `404`, as an unconfigured Action Mailbox ingress does.

use super::{de_duration, de_size, ser_duration, ser_size};
use crate::time::Clock;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `[http]`: the listener the webhooks (and later the helpdesk API) are served on.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Addresses to serve HTTP on; empty (the default in code, so an embedding program
    /// opens no port it did not ask for) turns the listener off. `smtpd.toml` sets
    /// `127.0.0.1:8025`.
    pub listen: Vec<SocketAddr>,
    /// Serve HTTPS with the `[tls]` certificate (re-read on SIGHUP, as for STARTTLS).
    pub tls: bool,
    /// Largest request body; past it, `413`. Unset: sized from `limits.max_message_size`
    /// ([`HttpConfig::request_limit`]).
    #[serde(deserialize_with = "de_opt_size", serialize_with = "ser_opt_size")]
    pub max_request_size: Option<usize>,
    /// Time for a client to send its request line and headers.
    #[serde(deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub header_timeout: Duration,
    /// Time for a client to send a whole request, body included (a client that trickles
    /// its body is cut off with `408`).
    #[serde(deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub request_timeout: Duration,
    /// Requests handled at once; past it, `503` with `Retry-After` (every provider retries
    /// a 5xx). Each may hold up to `max_request_size` in memory.
    pub max_concurrent_requests: usize,
    /// Open connections; past it, new ones wait in the kernel's backlog.
    pub max_connections: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: vec![],
            tls: false,
            max_request_size: None,
            header_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(300),
            max_concurrent_requests: 64,
            max_connections: 1024,
        }
    }
}

impl HttpConfig {
    /// The body limit in force. By default twice `max_message_size` plus 1 MiB: a message
    /// fits after base64 (4/3) or after url-encoding (a text message grows by a few per
    /// cent; only mostly-binary 8-bit content could triple), with room for the other fields.
    pub fn request_limit(&self, max_message_size: usize) -> usize {
        self.max_request_size
            .unwrap_or_else(|| max_message_size.saturating_mul(2).saturating_add(1 << 20))
    }
}

/// What an ingress does with mail for a recipient that is not (or no longer) ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownRecipient {
    /// A copy goes to the operator inbox, with the reason.
    Inbox,
    /// Only a log line.
    Drop,
}

/// `[ingress]`: the provider webhooks and the relay ingress.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngressConfig {
    /// How far a Mailgun signature's timestamp may be from now. Mailgun retries for 8 hours
    /// with the original signature, so anything shorter turns an outage into lost mail.
    #[serde(deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub max_age: Duration,
    /// Mail over HTTP for an unknown, closed or foreign recipient: the provider already
    /// accepted it and nobody can tell the sender any more.
    pub unknown_recipient: UnknownRecipient,
    pub mailgun: MailgunConfig,
    pub sendgrid: PasswordConfig,
    pub mandrill: MandrillConfig,
    pub postmark: PasswordConfig,
    pub relay: PasswordConfig,
    /// The clock the signature freshness is judged by (tests move it).
    #[serde(skip)]
    pub clock: Clock,
}

impl Default for IngressConfig {
    fn default() -> Self {
        IngressConfig {
            max_age: Duration::from_secs(24 * 3600),
            unknown_recipient: UnknownRecipient::Inbox,
            mailgun: MailgunConfig::default(),
            sendgrid: PasswordConfig::default(),
            mandrill: MandrillConfig::default(),
            postmark: PasswordConfig::default(),
            relay: PasswordConfig::default(),
            clock: Clock::default(),
        }
    }
}

/// `[ingress.mailgun]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailgunConfig {
    /// The HTTP webhook signing key (not the account's API key).
    pub signing_key: Option<String>,
    pub signing_key_file: Option<PathBuf>,
}

/// `[ingress.mandrill]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MandrillConfig {
    /// The inbound route's webhook authentication key (not the API key).
    pub webhook_key: Option<String>,
    pub webhook_key_file: Option<PathBuf>,
    /// The webhook URL exactly as entered at Mandrill: it is what Mandrill signs, whatever
    /// a proxy forwards.
    pub public_url: Option<String>,
}

/// `[ingress.sendgrid]`, `[ingress.postmark]`, `[ingress.relay]`: basic auth, user
/// `actionmailbox`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordConfig {
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
}

/// A secret given inline or in a file. The file's content loses its final line end.
pub fn read_secret(
    inline: &Option<String>,
    file: &Option<PathBuf>,
) -> Result<Option<String>, String> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let text = text.trim_end_matches(['\r', '\n']).to_string();
        return Ok(Some(text).filter(|t| !t.is_empty()));
    }
    Ok(inline.clone().filter(|s| !s.is_empty()))
}

impl IngressConfig {
    /// Checks what parses but cannot work.
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        let both =
            |inline: &Option<String>, file: &Option<PathBuf>| inline.is_some() && file.is_some();
        let pairs: [(&'static str, bool); 5] = [
            (
                "ingress.mailgun.signing_key_file",
                both(&self.mailgun.signing_key, &self.mailgun.signing_key_file),
            ),
            (
                "ingress.sendgrid.password_file",
                both(&self.sendgrid.password, &self.sendgrid.password_file),
            ),
            (
                "ingress.mandrill.webhook_key_file",
                both(&self.mandrill.webhook_key, &self.mandrill.webhook_key_file),
            ),
            (
                "ingress.postmark.password_file",
                both(&self.postmark.password, &self.postmark.password_file),
            ),
            (
                "ingress.relay.password_file",
                both(&self.relay.password, &self.relay.password_file),
            ),
        ];
        for (key, conflict) in pairs {
            if conflict {
                return Err((key, "give the secret inline or in a file, not both".into()));
            }
        }
        let mandrill_on =
            self.mandrill.webhook_key.is_some() || self.mandrill.webhook_key_file.is_some();
        match &self.mandrill.public_url {
            None if mandrill_on => {
                return Err((
                    "ingress.mandrill.public_url",
                    "is needed with a webhook key: Mandrill signs the URL as entered there".into(),
                ))
            }
            Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) => {
                return Err((
                    "ingress.mandrill.public_url",
                    format!("{u:?} is not an http(s) URL"),
                ))
            }
            _ => {}
        }
        if self.max_age.is_zero() {
            return Err(("ingress.max_age", "must be greater than 0".into()));
        }
        Ok(())
    }
}

impl HttpConfig {
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.max_concurrent_requests == 0 {
            return Err((
                "http.max_concurrent_requests",
                "must be greater than 0".into(),
            ));
        }
        if self.max_connections == 0 {
            return Err(("http.max_connections", "must be greater than 0".into()));
        }
        if self.header_timeout.is_zero() || self.request_timeout.is_zero() {
            return Err((
                "http.request_timeout",
                "timeouts must be greater than 0".into(),
            ));
        }
        if self.max_request_size == Some(0) {
            return Err(("http.max_request_size", "must be greater than 0".into()));
        }
        Ok(())
    }
}

fn de_opt_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    de_size(d).map(Some)
}

fn ser_opt_size<S: serde::Serializer>(v: &Option<usize>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(n) => ser_size(n, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, UnknownRecipient};
    use std::time::Duration;

    const MINIMAL: &str = "[server]\ndomains = [\"support.example.com\"]\n";

    #[test]
    fn http_and_ingress_keys() {
        let c = Config::from_toml(
            &format!(
                "{MINIMAL}[http]\nlisten = [\"127.0.0.1:8025\"]\nmax_request_size = \"10MiB\"\n\
                 request_timeout = \"1m\"\n[ingress]\nmax_age = \"9h\"\nunknown_recipient = \"drop\"\n\
                 [ingress.mailgun]\nsigning_key = \"k\"\n[ingress.relay]\npassword_file = \"/p\"\n\
                 [ingress.mandrill]\nwebhook_key = \"w\"\npublic_url = \"https://x/y\"\n"
            ),
            "x",
        )
        .unwrap();
        assert_eq!(c.http.listen.len(), 1);
        assert_eq!(c.http.request_limit(1), 10 * 1024 * 1024);
        assert_eq!(c.http.request_timeout, Duration::from_secs(60));
        assert_eq!(c.ingress.max_age, Duration::from_secs(9 * 3600));
        assert_eq!(c.ingress.unknown_recipient, UnknownRecipient::Drop);
        assert_eq!(c.ingress.mailgun.signing_key.as_deref(), Some("k"));
        let d = Config::from_toml(MINIMAL, "x").unwrap();
        assert!(d.http.listen.is_empty(), "off unless asked for, in code");
        assert_eq!(d.http.request_limit(25 << 20), (50 << 20) + (1 << 20));
        assert_eq!(d.ingress.max_age, Duration::from_secs(24 * 3600));
        assert_eq!(d.ingress.unknown_recipient, UnknownRecipient::Inbox);
    }

    #[test]
    fn ingress_mistakes_are_named() {
        let err = |extra: &str| {
            Config::from_toml(&format!("{MINIMAL}{extra}"), "x")
                .unwrap_err()
                .key
                .unwrap_or_default()
        };
        assert_eq!(
            err("[ingress.mandrill]\nwebhook_key = \"w\"\n"),
            "ingress.mandrill.public_url"
        );
        assert_eq!(
            err("[ingress.relay]\npassword = \"a\"\npassword_file = \"/p\"\n"),
            "ingress.relay.password_file"
        );
        assert_eq!(
            err("[ingress]\nunknown_recipient = \"bounce\"\n"),
            "ingress.unknown_recipient"
        );
        assert_eq!(
            err("[ingress.sendgrid]\npasword = \"a\"\n"),
            "ingress.sendgrid.pasword"
        );
        assert_eq!(
            err("[http]\nmax_concurrent_requests = 0\n"),
            "http.max_concurrent_requests"
        );
    }

    #[test]
    fn secrets_from_files_lose_their_line_end() {
        let dir = std::env::temp_dir().join(format!("replyd-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key");
        std::fs::write(&path, "s3cret\n").unwrap();
        let read = super::read_secret(&None, &Some(path.clone())).unwrap();
        assert_eq!(read.as_deref(), Some("s3cret"));
        std::fs::write(&path, "\n").unwrap();
        assert_eq!(
            super::read_secret(&None, &Some(path.clone())).unwrap(),
            None
        );
        assert!(super::read_secret(&None, &Some(dir.join("missing"))).is_err());
        assert_eq!(
            super::read_secret(&Some(String::new()), &None).unwrap(),
            None
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
