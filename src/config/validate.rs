//! Cross-table validation: values that parse but make no sense together or alone (`[server]`
//! and `[store]`, the limits, the MTA keys, `[conversations]`). The larger tables validate
//! themselves in their own files; [`Config::problems`] collects the first problem of each.

use super::{Config, DEFAULT_STORE_PATH};
use std::path::Path;

impl Config {
    /// `[server]` and `[store]`.
    pub(super) fn validate_server(&self) -> Result<(), (&'static str, String)> {
        if self.server.listen.is_empty() {
            return Err(("server.listen", "needs at least one address".into()));
        }
        if self.server.domains.is_empty() {
            return Err((
                "server.domains",
                "needs at least one reply domain, e.g. [\"support.example.com\"]".into(),
            ));
        }
        for d in &self.server.domains {
            if !is_domain(d) {
                return Err(("server.domains", format!("{d:?} is not a domain name")));
            }
        }
        if !is_domain(&self.server.hostname) {
            return Err((
                "server.hostname",
                format!("{:?} is not a host name", self.server.hostname),
            ));
        }
        match &self.store.url {
            Some(_) if self.store.path != Path::new(DEFAULT_STORE_PATH) => {
                return Err((
                    "store.url",
                    "set either store.path (SQLite) or store.url (PostgreSQL), not both".into(),
                ));
            }
            Some(url) if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) => {
                return Err((
                    "store.url",
                    "must be a postgres:// (or postgresql://) URL".into(),
                ));
            }
            Some(_) => {}
            None if self.store.path.as_os_str().is_empty() => {
                return Err((
                    "store.path",
                    "must not be empty (or set store.url for PostgreSQL)".into(),
                ));
            }
            None => {}
        }
        Ok(())
    }

    /// `[limits]` and `[message]`.
    pub(super) fn validate_limits(&self) -> Result<(), (&'static str, String)> {
        let positive = |key: &'static str, v: usize| {
            if v == 0 {
                Err((key, "must be greater than 0".to_string()))
            } else {
                Ok(())
            }
        };
        positive("limits.max_message_size", self.limits.max_message_size)?;
        positive("message.max_mime_depth", self.message.max_mime_depth)?;
        positive("message.max_mime_parts", self.message.max_mime_parts)?;
        positive("limits.max_recipients", self.limits.max_recipients)?;
        positive(
            "limits.max_received_headers",
            self.limits.max_received_headers,
        )?;
        positive("limits.max_header_size", self.limits.max_header_size)?;
        positive(
            "limits.junk_command_limit",
            self.limits.junk_command_limit as usize,
        )?;
        positive("limits.max_connections", self.limits.max_connections)?;
        positive(
            "limits.max_connections_per_ip",
            self.limits.max_connections_per_ip,
        )?;
        positive(
            "limits.hard_error_limit",
            self.limits.hard_error_limit as usize,
        )?;
        if self.limits.max_line_length < 512 {
            return Err((
                "limits.max_line_length",
                "must be at least 512 (RFC 5321 §4.5.3.1.4)".into(),
            ));
        }
        if self.limits.command_timeout.is_zero() {
            return Err(("limits.command_timeout", "must be greater than 0".into()));
        }
        if self.limits.data_timeout.is_zero() {
            return Err(("limits.data_timeout", "must be greater than 0".into()));
        }
        Ok(())
    }

    /// `[conversations]`.
    pub(super) fn validate_conversations(&self) -> Result<(), (&'static str, String)> {
        if self.conversations.closed_reply_text.contains(['\r', '\n']) {
            return Err((
                "conversations.closed_reply_text",
                "must be a single line".into(),
            ));
        }
        Ok(())
    }

    /// `[lmtp]`, `[tls]`, `proxy_protocol` and `authserv_id`.
    pub(super) fn validate_mta(&self) -> Result<(), (&'static str, String)> {
        match (&self.tls.cert, &self.tls.key) {
            (Some(_), None) => return Err(("tls.key", "is needed when tls.cert is set".into())),
            (None, Some(_)) => return Err(("tls.cert", "is needed when tls.key is set".into())),
            _ => {}
        }
        if self.http.tls && self.tls.cert.is_none() {
            return Err((
                "http.tls",
                "needs tls.cert and tls.key (the certificate HTTPS is served with)".into(),
            ));
        }
        if self.tls.require_tls && self.tls.cert.is_none() {
            return Err((
                "tls.require_tls",
                "needs tls.cert and tls.key (nothing to offer STARTTLS with)".into(),
            ));
        }
        if self.lmtp.socket_mode > 0o777 {
            return Err((
                "lmtp.socket_mode",
                format!(
                    "{:#o} is not a file mode; write it like 0o660",
                    self.lmtp.socket_mode
                ),
            ));
        }
        if let Some(p) = &self.lmtp.socket {
            if p.as_os_str().is_empty() {
                return Err(("lmtp.socket", "must not be empty".into()));
            }
        }
        if let Some(id) = &self.server.authserv_id {
            if id.is_empty() || id.contains(|c: char| c.is_whitespace() || c == ';' || c == '(') {
                return Err((
                    "server.authserv_id",
                    format!("{id:?} is not an authserv-id like \"mx.example.com\""),
                ));
            }
        }
        if self.server.proxy_protocol && self.server.trusted_relays.is_empty() {
            return Err((
                "server.proxy_protocol",
                "is only accepted from trusted_relays, and that list is empty".into(),
            ));
        }
        Ok(())
    }
}

fn is_domain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}
