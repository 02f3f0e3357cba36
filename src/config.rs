//! Configuration: `smtpd.toml`, grouped in tables, every key optional but validated.
//!
//! A mail server that starts with a typo in its config silently does the wrong thing for
//! hours, so unknown keys are refused and every error names the file, the key and what is
//! wrong with it.
//!
//! This file holds the top-level `Config`, the small tables and the loading; the checks
//! across tables are in `validate.rs`. Each larger table has its own file under `config/`
//! (`http.rs`, `api.rs`, `operator.rs`, `security.rs`, `webhooks.rs`, `console.rs`), as do
//! the value types (`values.rs`).

mod api;
mod console;
mod operator;
mod security;
mod validate;
mod values;

pub use api::ApiConfig;
pub use console::{hash_password, password_matches, ConsoleConfig};
pub use operator::{ActivityConfig, LogConfig, LogFormat, OperatorConfig};
pub use security::{parse_dns_server, DnsConfig, SecurityConfig, SenderPolicy};
use values::{de_duration, de_size, ser_duration, ser_size};
pub use values::{parse_duration, parse_size, Network};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

mod http;
mod webhooks;
pub use http::{
    read_secret, HttpConfig, IngressConfig, MailgunConfig, MandrillConfig, PasswordConfig,
    UnknownRecipient,
};
pub use webhooks::{decode_secret, WebhookConfig, EVENT_TYPES};

/// The whole configuration. Build it from a file with [`Config::load`], from TOML text with
/// [`Config::from_toml`], or in code from [`Config::default`].
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub limits: Limits,
    pub conversations: ConversationConfig,
    pub message: MessageConfig,
    pub outbound: OutboundConfig,
    pub lmtp: LmtpConfig,
    pub tls: TlsConfig,
    pub activity: ActivityConfig,
    pub log: LogConfig,
    pub http: HttpConfig,
    pub ingress: IngressConfig,
    pub operator: OperatorConfig,
    pub api: ApiConfig,
    /// `[[webhooks]]`: endpoints told of each stored reply ([`WebhookConfig`]).
    pub webhooks: Vec<WebhookConfig>,
    pub security: SecurityConfig,
    pub dns: DnsConfig,
    pub console: ConsoleConfig,
}

/// `[outbound]`: stamping agent mail.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundConfig {
    /// Display name of the `Reply-To` (e.g. "Example Support"); unset keeps the agent's name.
    pub display_name: Option<String>,
}

/// `[server]`: where we listen and who we are.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Addresses to accept SMTP on. Port 0 picks a free port (logged at start).
    pub listen: Vec<SocketAddr>,
    /// Our name in the banner, the EHLO reply and the `Received:` header.
    pub hostname: String,
    /// Reply domains: `reply+<token>@<domain>` is accepted for each of them.
    pub domains: Vec<String>,
    /// How long in-flight transactions may take to finish on SIGINT/SIGTERM.
    #[serde(deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub shutdown_grace: Duration,
    /// Networks whose clients are exempt from per-IP limits (a front MTA must not be throttled).
    /// Their topmost `Received:` header names the original client, and their
    /// `Authentication-Results` (with our `authserv_id`) are believed.
    pub trusted_relays: Vec<Network>,
    /// Connections from `trusted_relays` to the SMTP listeners start with a PROXY protocol
    /// (v1 or v2) header naming the real client.
    pub proxy_protocol: bool,
    /// The authserv-id our front MTA writes in `Authentication-Results`; unset = ignore them.
    pub authserv_id: Option<String>,
}

/// `[lmtp]`: LMTP listeners for a front MTA on this machine (RFC 2033); off by default.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LmtpConfig {
    /// TCP addresses to accept LMTP on.
    pub listen: Vec<SocketAddr>,
    /// A Unix socket to accept LMTP on (a stale socket file is replaced).
    pub socket: Option<PathBuf>,
    /// Permissions of the Unix socket (the front MTA's delivery agent must be able to write).
    pub socket_mode: u32,
}

/// `[tls]`: STARTTLS on the SMTP listeners; off unless `cert` and `key` are set.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first; re-read on SIGHUP.
    pub cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1); re-read on SIGHUP.
    pub key: Option<PathBuf>,
    /// Refuse `MAIL` with `530 5.7.0` until the client has done STARTTLS (SMTP only).
    pub require_tls: bool,
}

/// `[store]`: the SQLite database (`path`), or a PostgreSQL database shared by several
/// nodes (`url`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Path of the SQLite file; its folder is created if missing.
    pub path: PathBuf,
    /// `postgres://user:password@host:port/database?sslmode=…`: the store is that PostgreSQL
    /// database instead of the file (then `path` is not set).
    pub url: Option<String>,
    /// How long a write waits for another process's lock before answering `451`.
    #[serde(deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub busy_timeout: Duration,
    /// WAL size past which the log says, at error level, that it is not being emptied.
    #[serde(deserialize_with = "de_size", serialize_with = "ser_size")]
    pub wal_alarm_size: usize,
}

/// `[limits]`: everything a client controls has a bound.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    #[serde(deserialize_with = "de_size", serialize_with = "ser_size")]
    pub max_message_size: usize,
    pub max_recipients: usize,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    #[serde(deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub command_timeout: Duration,
    #[serde(deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub data_timeout: Duration,
    pub hard_error_limit: u32,
    pub max_line_length: usize,
    /// Pause before the banner for untrusted clients; a client that talks first is refused.
    #[serde(deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub greeting_delay: Duration,
    /// Slowest accepted DATA transfer, in bytes per second, once the first `data_timeout`
    /// is used up (a slowloris client that trickles bytes is cut off); 0 = only the timeout.
    pub min_data_rate: u64,
    /// Commands that do no work (NOOP, RSET, VRFY, HELP) per session without a MAIL.
    pub junk_command_limit: u32,
    /// More `Received:` headers than this is a mail loop: `554 5.4.0`.
    pub max_received_headers: usize,
    /// Largest header block accepted: `552 5.3.4` beyond.
    #[serde(deserialize_with = "de_size", serialize_with = "ser_size")]
    pub max_header_size: usize,
    /// What a bare LF (not CRLF) in message data does: `normalize` (stored as CRLF) or
    /// `reject` (`550 5.5.2`).
    pub bare_lf: BareLf,
    /// New connections per client IP per minute ([`DEFAULT_CONNECTION_RATE_PER_IP`]);
    /// 0 = unlimited. Not for `trusted_relays`.
    pub max_connection_rate_per_ip: u32,
    /// Messages (MAIL commands) per client IP per minute ([`DEFAULT_MESSAGE_RATE_PER_IP`]);
    /// 0 = unlimited. Not for `trusted_relays`.
    pub max_message_rate_per_ip: u32,
}

/// What a bare LF in message data does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BareLf {
    /// A bare LF ends a line and is stored as CRLF (never part of the end of data).
    Normalize,
    /// The message is refused with `550 5.5.2` after its real end.
    Reject,
}

/// `[conversations]`: reply tokens.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConversationConfig {
    /// Days after creation a reply token stops being accepted; 0 = never.
    pub token_ttl_days: u32,
    /// Text of the `550 5.1.1` answer for a closed or expired conversation.
    pub closed_reply_text: String,
}

/// `[message]`: what is kept of a message.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MessageConfig {
    #[serde(deserialize_with = "de_size", serialize_with = "ser_size")]
    pub max_attachment_size: usize,
    pub max_attachments: usize,
    /// Deepest MIME nesting looked into; deeper parts are kept in the raw bytes only.
    pub max_mime_depth: usize,
    /// Places where a MIME part may start that are parsed; the rest is kept, not parsed.
    pub max_mime_parts: usize,
}

impl MessageConfig {
    /// The extraction limits these settings give.
    pub fn extract_options(&self) -> crate::message::ExtractOptions {
        crate::message::ExtractOptions {
            max_attachment_size: self.max_attachment_size,
            max_attachments: self.max_attachments,
            max_mime_depth: self.max_mime_depth,
            max_mime_parts: self.max_mime_parts,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 2525))],
            hostname: "localhost".into(),
            domains: vec![],
            shutdown_grace: Duration::from_secs(30),
            trusted_relays: vec![
                Network::from_str("127.0.0.0/8").unwrap_or(Network::any()),
                Network::from_str("::1/128").unwrap_or(Network::any()),
            ],
            proxy_protocol: false,
            authserv_id: None,
        }
    }
}

impl Default for LmtpConfig {
    fn default() -> Self {
        LmtpConfig {
            listen: vec![],
            socket: None,
            socket_mode: 0o660,
        }
    }
}

/// `[store] path` when none is given.
pub const DEFAULT_STORE_PATH: &str = "data/replyd.sqlite3";

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from(DEFAULT_STORE_PATH),
            url: None,
            busy_timeout: Duration::from_secs(5),
            wal_alarm_size: 256 * 1024 * 1024,
        }
    }
}

/// Default of `limits.max_connection_rate_per_ip`. A customer's own mail server opens a
/// connection or two per reply, and a big provider's shared outbound address (Gmail,
/// Microsoft 365), carrying many customers' replies to one helpdesk, stays well below this;
/// a flood from one address is thousands a minute. Past it the client hears `421 4.7.0`, a
/// temporary refusal: a real mail server retries minutes later, so a legitimate sender
/// caught by it is delayed, not lost.
pub const DEFAULT_CONNECTION_RATE_PER_IP: u32 = 100;

/// Default of `limits.max_message_rate_per_ip`: twice the connection rate, since a mail
/// server sends several messages down one connection; past it, `MAIL` gets `450 4.7.1`
/// (temporary, retried).
pub const DEFAULT_MESSAGE_RATE_PER_IP: u32 = 200;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 25 * 1024 * 1024,
            max_recipients: 100,
            max_connections: 16_000,
            max_connections_per_ip: 50,
            command_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(300),
            hard_error_limit: 20,
            max_line_length: 2048,
            greeting_delay: Duration::from_secs(1),
            min_data_rate: 500,
            junk_command_limit: 100,
            max_received_headers: 50,
            max_header_size: 1024 * 1024,
            bare_lf: BareLf::Normalize,
            max_connection_rate_per_ip: DEFAULT_CONNECTION_RATE_PER_IP,
            max_message_rate_per_ip: DEFAULT_MESSAGE_RATE_PER_IP,
        }
    }
}

impl Default for ConversationConfig {
    fn default() -> Self {
        ConversationConfig {
            token_ttl_days: 0,
            closed_reply_text: "This conversation is closed; please write to us again".into(),
        }
    }
}

impl Default for MessageConfig {
    fn default() -> Self {
        let defaults = crate::message::ExtractOptions::default();
        MessageConfig {
            max_attachment_size: defaults.max_attachment_size,
            max_attachments: defaults.max_attachments,
            max_mime_depth: defaults.max_mime_depth,
            max_mime_parts: defaults.max_mime_parts,
        }
    }
}

/// A configuration that cannot be used, with the place it comes from.
#[derive(Debug)]
pub struct ConfigError {
    pub file: String,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "{}: `{}`: {}", self.file, key, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads and validates a TOML file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let (text, file) = read(path)?;
        Config::from_toml(&text, &file)
    }

    /// Reads a TOML file without [`Config::validate`]: `replyd check-config` validates it,
    /// then goes on to check what the values name (files, addresses, the database).
    pub fn load_unvalidated(path: &Path) -> Result<Config, ConfigError> {
        let (text, file) = read(path)?;
        Config::parse(&text, &file)
    }

    /// Parses and validates TOML text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let config = Config::parse(text, origin)?;
        config.validate().map_err(|(key, message)| ConfigError {
            file: origin.to_string(),
            key: Some(key.to_string()),
            message,
        })?;
        Ok(config)
    }

    fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError {
            file: origin.to_string(),
            key: e.span().and_then(|span| key_at(text, span.start)),
            message: e.message().trim().to_string(),
        })
    }

    /// Checks values that parse but make no sense: the first problem found.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        match self.problems().into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }

    /// The first problem of each group of keys (`[server]` and `[store]`, the limits, the
    /// MTA keys, `[http]`, `[ingress]`, `[conversations]`), so that `replyd check-config`
    /// names them all at once.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        [
            self.validate_server(),
            self.validate_limits(),
            self.validate_mta(),
            self.http.validate(),
            self.api.validate(self.http.request_timeout),
            self.console.validate(),
            self.ingress.validate(),
            webhooks::validate(&self.webhooks),
            self.dns.validate(),
            self.validate_conversations(),
        ]
        .into_iter()
        .filter_map(Result::err)
        .collect()
    }

    /// The first configured reply domain (where new conversations get their address).
    pub fn default_domain(&self) -> &str {
        self.server
            .domains
            .first()
            .map(String::as_str)
            .unwrap_or("localhost")
    }
}

/// A configuration file's text and its name for errors.
fn read(path: &Path) -> Result<(String, String), ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        key: None,
        message: format!("cannot read the configuration file: {e}"),
    })?;
    Ok((text, file))
}

/// Names the `table.key` whose text contains byte offset `at`.
fn key_at(text: &str, at: usize) -> Option<String> {
    let at = at.min(text.len());
    let before = text.get(..at)?;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = text[line_start..]
        .find('\n')
        .map(|i| line_start + i)
        .unwrap_or(text.len());
    let line = text[line_start..line_end].trim();
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    if line.starts_with('[') {
        return Some(
            line.trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string(),
        );
    }
    let key = line.split('=').next()?.trim().trim_matches('"');
    if key.is_empty() {
        return table;
    }
    Some(match table {
        Some(t) => format!("{t}.{key}"),
        None => key.to_string(),
    })
}

#[cfg(test)]
mod tests;
