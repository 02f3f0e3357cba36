//! `[operator]`, `[activity]` and `[log]`: where the operator's endpoints listen, what the
//! operator keeps of each delivery attempt, and how the log is written.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// `[operator]`: the operator's HTTP endpoints (`/metrics`, `/healthz`, `/readyz`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OperatorConfig {
    /// Addresses of their own (put them on a private network): then they are served only
    /// there. Empty (the default): they are served on `[http] listen`, without
    /// authentication, like the ingresses.
    pub listen: Vec<SocketAddr>,
}

/// `[activity]`: the activity log, one row per delivery attempt and recipient.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActivityConfig {
    /// Record attempts in the store (the log line is written either way).
    pub enabled: bool,
    /// Days rows are kept; older ones are pruned.
    pub keep_days: u32,
    /// Refusals recorded one row each per second; past it, the second's refusals are
    /// aggregated into one row per kind and client (with their count), so a flood cannot
    /// grow the table without bound.
    pub max_rows_per_second: u32,
}

impl Default for ActivityConfig {
    fn default() -> Self {
        ActivityConfig {
            enabled: true,
            keep_days: 14,
            max_rows_per_second: 100,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}

/// `[log]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
}
