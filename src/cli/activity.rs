//! `replyd activity`: the delivery attempts, newest first, filtered the way an operator asks
//! ("what happened to mail from bob@ since this morning?").

use super::block_on;
use crate::display::escape;
use crate::store::{Activity, ActivityFilter, Outcome, Store};

#[derive(clap::Args)]
pub(super) struct ActivityArgs {
    /// Only attempts since T: an RFC 3339 time or date (`2026-12-03T08:00:00Z`,
    /// `2026-12-03`), or a duration ago (`30m`, `2h`, `7d`).
    #[arg(long)]
    since: Option<String>,
    /// Only attempts for this recipient.
    #[arg(long)]
    recipient: Option<String>,
    /// Only attempts from this envelope sender.
    #[arg(long)]
    sender: Option<String>,
    /// Only this outcome: stored, refused or deferred.
    #[arg(long)]
    outcome: Option<String>,
    /// At most this many rows.
    #[arg(long, default_value_t = 1000)]
    limit: usize,
    /// Print one JSON array.
    #[arg(long, conflicts_with = "json_lines")]
    json: bool,
    /// Print one JSON object per line.
    #[arg(long)]
    json_lines: bool,
}

pub(super) fn run(store: &Store, args: &ActivityArgs) -> Result<(), Box<dyn std::error::Error>> {
    let outcome = match &args.outcome {
        None => None,
        Some(o) => Some(Outcome::parse(o).ok_or_else(|| {
            format!(
                "--outcome {o:?}: expected one of {}",
                Outcome::KNOWN.join(", ")
            )
        })?),
    };
    let filter = ActivityFilter {
        since_ms: args
            .since
            .as_deref()
            .map(|t| crate::activity::since_ms(t).map_err(|e| format!("--since {e}")))
            .transpose()?,
        recipient: args.recipient.clone(),
        sender: args.sender.clone(),
        outcome,
        limit: args.limit,
    };
    let rows = block_on(store.activity(&filter))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else if args.json_lines {
        for r in &rows {
            println!("{}", serde_json::to_string(r)?);
        }
    } else if rows.is_empty() {
        println!("No delivery attempts match.");
    } else {
        for r in &rows {
            print_row(r);
        }
    }
    Ok(())
}

/// One line per attempt; every field the sender controls is escaped.
fn print_row(r: &Activity) {
    let message = r.message_id.map(|id| format!(" m{id}")).unwrap_or_default();
    let count = if r.count > 1 {
        format!(" (x{})", r.count)
    } else {
        String::new()
    };
    println!(
        "{}  {}  {}  <{}> -> <{}>  {} {} {}{}{}  {}",
        r.time,
        r.way_in,
        escape(r.client_ip.as_deref().unwrap_or("-")),
        escape(r.sender.as_deref().unwrap_or("")),
        escape(r.recipient.as_deref().unwrap_or("")),
        r.outcome,
        r.code,
        r.reason,
        message,
        count,
        escape(&r.detail)
    );
}
