//! `[[webhooks]]`: the helpdesk endpoints told of each stored reply, bounce and inbox entry.
//!
//! Webhook URLs come from this file only: nothing a client or an API caller sends can make
//! replyd post somewhere else (no SSRF). Each endpoint signs with a Standard Webhooks secret
//! (`whsec_<base64>`); during a rotation it lists the outgoing one too (`previous_secret`),
//! and every request then carries both signatures, so the helpdesk can switch keys at its
//! own pace. Secrets can sit beside the file (`secret_file`, `previous_secret_file`).

use super::{de_duration, ser_duration};
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::path::PathBuf;
use std::time::Duration;

/// The events an endpoint can ask for.
pub const EVENT_TYPES: &[&str] = &["message.received", "message.bounced", "inbox.received"];

/// The default retry schedule: the delay before the 2nd, 3rd… attempt; after the last,
/// [`DEFAULT_RETRY_EVERY`] until [`DEFAULT_GIVE_UP_AFTER`].
pub const DEFAULT_RETRY: &[Duration] = &[
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
    Duration::from_secs(1800),
    Duration::from_secs(3600),
];
pub const DEFAULT_RETRY_EVERY: Duration = Duration::from_secs(2 * 3600);
pub const DEFAULT_GIVE_UP_AFTER: Duration = Duration::from_secs(3 * 86_400);

/// One `[[webhooks]]` endpoint.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// What the CLI and the log call it, and what its delivery state is kept under in the
    /// store; default: the URL.
    #[serde(default)]
    pub name: Option<String>,
    /// Where events are POSTed (`http://` or `https://`).
    pub url: String,
    /// The signing secret, `whsec_<base64>` (as the Standard Webhooks libraries take it).
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// The secret being rotated out: while set, each request carries a signature with each.
    #[serde(default)]
    pub previous_secret: Option<String>,
    #[serde(default)]
    pub previous_secret_file: Option<PathBuf>,
    /// Which events to send (default: all of [`EVENT_TYPES`]).
    #[serde(default = "all_events")]
    pub events: Vec<String>,
    /// Delays before the 2nd, 3rd… attempts (default 5s, 30s, 2m, 10m, 30m, 1h).
    #[serde(
        default = "default_retry",
        deserialize_with = "de_durations",
        serialize_with = "ser_durations"
    )]
    pub retry: Vec<Duration>,
    /// Delay between attempts once `retry` is used up.
    #[serde(
        default = "default_retry_every",
        deserialize_with = "de_duration",
        serialize_with = "ser_duration"
    )]
    pub retry_every: Duration,
    /// An event not delivered this long after its first attempt is given up (`failed`;
    /// `replyd webhooks retry` sends it again).
    #[serde(
        default = "default_give_up",
        deserialize_with = "de_duration",
        serialize_with = "ser_duration"
    )]
    pub give_up_after: Duration,
    /// Time to open the connection (and the TLS handshake).
    #[serde(
        default = "default_connect_timeout",
        deserialize_with = "de_duration",
        serialize_with = "ser_duration"
    )]
    pub connect_timeout: Duration,
    /// Time for the whole request, answer included.
    #[serde(
        default = "default_timeout",
        deserialize_with = "de_duration",
        serialize_with = "ser_duration"
    )]
    pub timeout: Duration,
    /// Requests in flight to this endpoint at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// For an `https` URL: trust the certificates in this PEM file (a private CA) instead
    /// of the system's trust anchors.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// A list of durations as `check-config` prints them (`["5s", "30s"]`).
fn ser_durations<S: Serializer>(ds: &[Duration], s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct One(#[serde(serialize_with = "ser_duration")] Duration);
    s.collect_seq(ds.iter().map(|d| One(*d)))
}

fn all_events() -> Vec<String> {
    EVENT_TYPES.iter().map(|s| s.to_string()).collect()
}
fn default_retry() -> Vec<Duration> {
    DEFAULT_RETRY.to_vec()
}
fn default_retry_every() -> Duration {
    DEFAULT_RETRY_EVERY
}
fn default_give_up() -> Duration {
    DEFAULT_GIVE_UP_AFTER
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_timeout() -> Duration {
    Duration::from_secs(15)
}
fn default_concurrency() -> usize {
    8
}

fn de_durations<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    #[derive(Deserialize)]
    struct One(#[serde(deserialize_with = "de_duration")] Duration);
    Ok(Vec::<One>::deserialize(d)?
        .into_iter()
        .map(|o| o.0)
        .collect())
}

impl WebhookConfig {
    /// An endpoint with the defaults (for code that builds a [`super::Config`] itself).
    pub fn new(url: &str, secret: &str) -> WebhookConfig {
        WebhookConfig {
            name: None,
            url: url.to_string(),
            secret: Some(secret.to_string()),
            secret_file: None,
            previous_secret: None,
            previous_secret_file: None,
            events: all_events(),
            retry: default_retry(),
            retry_every: DEFAULT_RETRY_EVERY,
            give_up_after: DEFAULT_GIVE_UP_AFTER,
            connect_timeout: default_connect_timeout(),
            timeout: default_timeout(),
            concurrency: default_concurrency(),
            ca_file: None,
        }
    }

    /// Its name: `name`, else the URL.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.url)
    }

    /// Whether it asked for `event`.
    pub fn wants(&self, event: &str) -> bool {
        self.events.iter().any(|e| e == event)
    }

    /// The HMAC keys to sign with, current first (reads the secret files).
    pub fn keys(&self) -> Result<Vec<Vec<u8>>, String> {
        let current = super::read_secret(&self.secret, &self.secret_file)?
            .ok_or_else(|| format!("webhook {:?}: no secret", self.name()))?;
        let mut keys = vec![decode_secret(&current)
            .map_err(|e| format!("webhook {:?}: secret: {e}", self.name()))?];
        if let Some(previous) =
            super::read_secret(&self.previous_secret, &self.previous_secret_file)?
        {
            keys.push(
                decode_secret(&previous)
                    .map_err(|e| format!("webhook {:?}: previous_secret: {e}", self.name()))?,
            );
        }
        Ok(keys)
    }

    /// The delay before attempt `done + 1`, `done` attempts having failed (no jitter).
    pub fn delay_after(&self, done: u32) -> Duration {
        let i = done.saturating_sub(1) as usize;
        self.retry.get(i).copied().unwrap_or(self.retry_every)
    }
}

/// The HMAC key of a `whsec_<base64>` secret.
pub fn decode_secret(secret: &str) -> Result<Vec<u8>, String> {
    let b64 = secret
        .strip_prefix("whsec_")
        .ok_or("must be written whsec_<base64> (a Standard Webhooks secret)")?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("the part after whsec_ is not base64: {e}"))?;
    if !(24..=64).contains(&key.len()) {
        return Err(format!(
            "the key is {} bytes; Standard Webhooks keys are 24 to 64 bytes \
             (e.g. `openssl rand -base64 32`)",
            key.len()
        ));
    }
    Ok(key)
}

/// Checks every endpoint: a bad one names its key and what is wrong.
pub(super) fn validate(endpoints: &[WebhookConfig]) -> Result<(), (&'static str, String)> {
    let mut names = std::collections::HashSet::new();
    for (i, w) in endpoints.iter().enumerate() {
        // The URL is not repeated here: it may hold what must not be printed.
        let at = match &w.name {
            Some(name) => format!("endpoint {} ({name:?})", i + 1),
            None => format!("endpoint {}", i + 1),
        };
        let url = &w.url;
        let valid_url = match url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
        {
            Some(rest) => {
                let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
                !host.is_empty()
                    && !host.contains('@')
                    && !url.contains(char::is_whitespace)
                    && url.parse::<hyper::Uri>().is_ok()
            }
            None => false,
        };
        if url
            .split(['/', '?', '#'])
            .nth(2)
            .is_some_and(|h| h.contains('@'))
        {
            // Not echoed: what precedes the `@` is a password.
            return Err((
                "webhooks.url",
                format!(
                    "{at}: credentials in the URL (user:password@) are not supported; \
                     the signature authenticates each request"
                ),
            ));
        }
        if !valid_url {
            return Err((
                "webhooks.url",
                format!("{at}: {url:?} is not an http:// or https:// URL with a host"),
            ));
        }
        if !names.insert(w.name().to_string()) {
            return Err((
                "webhooks.name",
                format!("{at}: two endpoints are called {:?}", w.name()),
            ));
        }
        match (&w.secret, &w.secret_file) {
            (Some(_), Some(_)) => {
                return Err((
                    "webhooks.secret_file",
                    format!("{at}: give the secret inline or in a file, not both"),
                ))
            }
            (None, None) => {
                return Err((
                    "webhooks.secret",
                    format!("{at}: needs a secret (or secret_file): whsec_<base64>"),
                ))
            }
            (Some(s), None) => {
                decode_secret(s).map_err(|e| ("webhooks.secret", format!("{at}: {e}")))?;
            }
            (None, Some(_)) => {}
        }
        match (&w.previous_secret, &w.previous_secret_file) {
            (Some(_), Some(_)) => {
                return Err((
                    "webhooks.previous_secret_file",
                    format!("{at}: give the secret inline or in a file, not both"),
                ))
            }
            (Some(s), None) => {
                decode_secret(s).map_err(|e| ("webhooks.previous_secret", format!("{at}: {e}")))?;
            }
            _ => {}
        }
        if w.events.is_empty() {
            return Err((
                "webhooks.events",
                format!("{at}: lists no event; known: {}", EVENT_TYPES.join(", ")),
            ));
        }
        for e in &w.events {
            if !EVENT_TYPES.contains(&e.as_str()) {
                return Err((
                    "webhooks.events",
                    format!(
                        "{at}: unknown event {e:?}; known: {}",
                        EVENT_TYPES.join(", ")
                    ),
                ));
            }
        }
        if w.retry.iter().any(Duration::is_zero) || w.retry_every.is_zero() {
            return Err((
                "webhooks.retry",
                format!("{at}: retry delays must be greater than 0"),
            ));
        }
        if w.connect_timeout.is_zero() || w.timeout.is_zero() {
            return Err((
                "webhooks.timeout",
                format!("{at}: timeouts must be greater than 0"),
            ));
        }
        if w.concurrency == 0 || w.concurrency > 256 {
            return Err((
                "webhooks.concurrency",
                format!("{at}: must be between 1 and 256"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::time::Duration;

    const MINIMAL: &str = "[server]\ndomains = [\"support.example.com\"]\n";
    /// 32 bytes of zeros, base64.
    const SECRET: &str = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    fn err(extra: &str) -> (String, String) {
        let e = Config::from_toml(&format!("{MINIMAL}{extra}"), "smtpd.toml").unwrap_err();
        (e.key.clone().unwrap_or_default(), e.to_string())
    }

    #[test]
    fn endpoints_parse_with_defaults() {
        let c = Config::from_toml(
            &format!(
                "{MINIMAL}[[webhooks]]\nurl = \"https://helpdesk.example/hook\"\nsecret = \"{SECRET}\"\n\
                 [[webhooks]]\nname = \"audit\"\nurl = \"http://10.0.0.5:8080/x\"\nsecret = \"{SECRET}\"\n\
                 previous_secret = \"{SECRET}\"\nevents = [\"inbox.received\"]\n\
                 retry = [\"100ms\", \"1s\"]\nretry_every = \"5s\"\ntimeout = \"2s\"\n"
            ),
            "x",
        )
        .unwrap();
        assert_eq!(c.webhooks.len(), 2);
        let a = &c.webhooks[0];
        assert_eq!(a.name(), "https://helpdesk.example/hook");
        assert_eq!(a.events.len(), 3);
        assert_eq!(a.delay_after(1), Duration::from_secs(5));
        assert_eq!(a.delay_after(6), Duration::from_secs(3600));
        assert_eq!(a.delay_after(7), Duration::from_secs(7200));
        assert_eq!(a.timeout, Duration::from_secs(15));
        assert_eq!(a.connect_timeout, Duration::from_secs(5));
        assert_eq!(a.keys().unwrap(), vec![vec![0u8; 32]]);
        let b = &c.webhooks[1];
        assert_eq!(b.name(), "audit");
        assert!(b.wants("inbox.received") && !b.wants("message.received"));
        assert_eq!(b.delay_after(2), Duration::from_secs(1));
        assert_eq!(b.delay_after(3), Duration::from_secs(5));
        assert_eq!(b.keys().unwrap().len(), 2);
        assert!(Config::from_toml(MINIMAL, "x").unwrap().webhooks.is_empty());
    }

    #[test]
    fn mistakes_name_the_key_and_why() {
        let hook = |body: &str| format!("[[webhooks]]\n{body}\n");
        let (key, text) = err(&hook(&format!(
            "url = \"ftp://x/y\"\nsecret = \"{SECRET}\""
        )));
        assert_eq!(key, "webhooks.url");
        assert!(
            text.contains("smtpd.toml") && text.contains("ftp://x/y"),
            "{text}"
        );
        let (key, text) = err(&hook("url = \"https://x/y\"\nsecret = \"hunter2\""));
        assert_eq!(key, "webhooks.secret");
        assert!(text.contains("whsec_"), "{text}");
        let (key, text) = err(&hook("url = \"https://x/y\"\nsecret = \"whsec_AAAA\""));
        assert_eq!(key, "webhooks.secret");
        assert!(text.contains("3 bytes"), "{text}");
        let (key, _) = err(&hook("url = \"https://x/y\""));
        assert_eq!(key, "webhooks.secret");
        let (key, text) = err(&hook(&format!(
            "url = \"https://x/y\"\nsecret = \"{SECRET}\"\nevents = [\"message.recieved\"]"
        )));
        assert_eq!(key, "webhooks.events");
        assert!(
            text.contains("message.recieved") && text.contains("message.received"),
            "{text}"
        );
        let (key, _) = err(&hook(&format!(
            "url = \"https://x/y\"\nsecret = \"{SECRET}\"\nsecret_file = \"/s\""
        )));
        assert_eq!(key, "webhooks.secret_file");
        let (key, _) = err(&hook(&format!(
            "url = \"https://x/y\"\nsecret = \"{SECRET}\"\nretry = [\"0s\"]"
        )));
        assert_eq!(key, "webhooks.retry");
        let (key, _) = err(&hook(&format!(
            "url = \"https://x/y\"\nsecret = \"{SECRET}\"\nretry = [\"soon\"]"
        )));
        assert_eq!(key, "webhooks.retry");
        let (key, _) = err(&hook(&format!(
            "url = \"https://x/y\"\nsecret = \"{SECRET}\"\nsecert = 1"
        )));
        assert_eq!(key, "webhooks.secert");
        let twice = format!(
            "{}{}",
            hook(&format!("url = \"https://x/y\"\nsecret = \"{SECRET}\"")),
            hook(&format!("url = \"https://x/y\"\nsecret = \"{SECRET}\""))
        );
        assert_eq!(err(&twice).0, "webhooks.name");
    }
}
