//! `replyd webhooks`: the endpoints' state and backlog, and the operator's levers — send an
//! event again, replay a period, turn an endpoint off and on (after a `410`, or for a
//! maintenance window on the helpdesk's side). They work on the store, from any process;
//! a running server's workers pick the change up within a second.

use super::block_on;
use crate::activity::since_ms;
use crate::config::Config;
use crate::display::escape;
use crate::store::{Store, WebhookEndpoint};

#[derive(clap::Subcommand)]
pub(super) enum WebhooksCommand {
    /// Lists the endpoints: enabled or not, backlog, delivered, given up, latest attempts.
    List {
        /// Latest attempts shown per endpoint.
        #[arg(long, default_value_t = 5)]
        attempts: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Sends an event again (its webhook-id, `evt_…`) to every endpoint it was sent to.
    Retry {
        /// The event's webhook-id.
        event: String,
    },
    /// Sends again every event since T (to one endpoint, or all).
    Replay {
        /// An RFC 3339 time or date (`2026-12-03T08:00:00Z`), or a duration ago (`2h`, `1d`).
        #[arg(long)]
        since: String,
        /// Only this endpoint (its name or URL).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Turns an endpoint (name or URL) on again, after a 410 or `disable`; its backlog is sent.
    Enable { endpoint: String },
    /// Turns an endpoint (name or URL) off: its events wait until it is enabled.
    Disable { endpoint: String },
}

pub(super) fn run(
    store: &Store,
    config: &Config,
    command: WebhooksCommand,
) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        WebhooksCommand::List { attempts, json } => {
            let list = block_on(store.webhook_endpoints(attempts))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            for w in &config.webhooks {
                if !list.iter().any(|e| e.name == w.name()) {
                    println!(
                        "{}  {}  not started yet (registered when `replyd serve` starts)",
                        escape(w.name()),
                        escape(&w.url)
                    );
                }
            }
            if list.is_empty() && config.webhooks.is_empty() {
                println!("No webhook endpoints: add [[webhooks]] to the configuration.");
            }
            for (i, e) in list.iter().enumerate() {
                if i > 0 {
                    println!();
                }
                print_endpoint(e, config);
            }
            Ok(())
        }
        WebhooksCommand::Retry { event } => {
            let n = block_on(store.webhook_retry(&event))?;
            println!("{} queued again for {n} endpoint(s)", escape(&event));
            Ok(())
        }
        WebhooksCommand::Replay { since, endpoint } => {
            let since = since_ms(&since).map_err(|e| format!("--since {e}"))?;
            let n = block_on(store.webhook_replay(since, endpoint.as_deref()))?;
            println!("{n} deliveries queued");
            Ok(())
        }
        WebhooksCommand::Enable { endpoint } => {
            let name = block_on(store.webhook_set_enabled(&endpoint, true))?;
            println!("enabled {}", escape(&name));
            Ok(())
        }
        WebhooksCommand::Disable { endpoint } => {
            let name = block_on(store.webhook_set_enabled(&endpoint, false))?;
            println!("disabled {}", escape(&name));
            Ok(())
        }
    }
}

fn print_endpoint(e: &WebhookEndpoint, config: &Config) {
    let configured = config.webhooks.iter().any(|w| w.name() == e.name);
    let state = match (&e.disabled_at, &e.disabled_reason) {
        (Some(at), why) => format!(
            "disabled since {at} ({})",
            escape(why.as_deref().unwrap_or("no reason recorded"))
        ),
        (None, _) => "enabled".to_string(),
    };
    println!("{}  {}", escape(&e.name), escape(&e.url));
    if !configured {
        println!("  no longer in the configuration");
    }
    println!("  state: {state}");
    println!(
        "  backlog: {}{}  delivered: {}  given up: {}",
        e.backlog,
        e.oldest_pending
            .as_deref()
            .map(|t| format!(" (oldest {t})"))
            .unwrap_or_default(),
        e.delivered,
        e.failed
    );
    for a in &e.last_attempts {
        let status = a.status.map_or("-".to_string(), |s| s.to_string());
        println!(
            "  {}  {}  {}  {} {} ms  {}",
            a.time,
            a.webhook_id,
            a.event_type,
            status,
            a.latency_ms,
            escape(a.error.as_deref().unwrap_or(""))
        );
    }
}
