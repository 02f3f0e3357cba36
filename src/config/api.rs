//! `[api]`: where the helpdesk API (`/api/v1`) is served and how long its long polls wait.
//!
//! By default the API shares `[http] listen` with the provider ingresses; its own `listen`
//! serves it only there, so an operator can keep it on a private network while the
//! ingresses face the internet.

use super::{de_duration, ser_duration};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;

/// `[api]`: the helpdesk API.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Addresses to serve the API on, and only there; empty (the default): on
    /// `[http] listen`, beside the ingresses. `[http] tls` and its limits apply to both.
    pub listen: Vec<SocketAddr>,
    /// Longest `wait` of `GET /api/v1/events` (a longer one is cut to this).
    #[serde(deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub max_wait: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: vec![],
            max_wait: Duration::from_secs(30),
        }
    }
}

impl ApiConfig {
    /// A long poll must end before the request timeout cuts it off with `408`.
    pub fn validate(&self, request_timeout: Duration) -> Result<(), (&'static str, String)> {
        if self.max_wait.is_zero() || self.max_wait >= request_timeout {
            return Err((
                "api.max_wait",
                format!(
                    "must be greater than 0 and shorter than http.request_timeout ({} s)",
                    request_timeout.as_secs()
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;

    const MINIMAL: &str = "[server]\ndomains = [\"support.example.com\"]\n";

    #[test]
    fn api_settings_parse_and_are_checked() {
        let c = Config::from_toml(
            &format!("{MINIMAL}[api]\nlisten = [\"10.0.0.5:8026\"]\nmax_wait = \"10s\"\n"),
            "x",
        )
        .unwrap();
        assert_eq!(c.api.listen, vec!["10.0.0.5:8026".parse().unwrap()]);
        assert_eq!(c.api.max_wait.as_secs(), 10);
        let d = Config::from_toml(MINIMAL, "x").unwrap();
        assert!(d.api.listen.is_empty());
        assert_eq!(d.api.max_wait.as_secs(), 30);
        for bad in ["max_wait = \"0s\"", "max_wait = \"300s\"", "colour = 1"] {
            let err = Config::from_toml(&format!("{MINIMAL}[api]\n{bad}\n"), "x").unwrap_err();
            assert!(
                err.key.as_deref().unwrap_or("").starts_with("api."),
                "{err}"
            );
        }
    }
}
