//! `replyd api-key create|list|revoke`: the helpdesk API's keys. `create` prints the key
//! and nothing else on stdout, so a script can capture it; it is shown once, since only
//! its hash is kept.

use super::block_on;
use crate::display::escape;
use crate::http::api::keys;
use crate::store::Store;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum ApiKeyCommand {
    /// Creates a key and prints it (only it) on stdout; it is not shown again.
    Create {
        /// What the key is for (e.g. the helpdesk's name).
        #[arg(long)]
        name: String,
    },
    /// Lists the keys: id, name, created, and revoked when they are.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Revokes a key at once (by its id, as `list` shows it, or the key itself).
    Revoke {
        /// The key id (12 hex digits) or the whole key.
        key: String,
    },
}

pub fn run(command: ApiKeyCommand, store: &Store) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        ApiKeyCommand::Create { name } => {
            let (key, record) = block_on(keys::create(store, &name))?;
            println!("{key}");
            eprintln!(
                "replyd: created API key {} ({}); store it now, it is not shown again",
                record.key_id,
                escape(&record.name)
            );
        }
        ApiKeyCommand::List { json } => {
            let list = block_on(store.api_keys())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("No API keys.");
            } else {
                for k in list {
                    let state = match &k.revoked_at {
                        Some(at) => format!("revoked {at}"),
                        None => "active".to_string(),
                    };
                    println!(
                        "{}\t{}\t{}\t{state}",
                        k.key_id,
                        escape(&k.name),
                        k.created_at
                    );
                }
            }
        }
        ApiKeyCommand::Revoke { key } => {
            let Some(key_id) = keys::key_id_of(key.trim()) else {
                return Err(
                    format!("{} is not a key id (12 hex digits) or key", escape(&key)).into(),
                );
            };
            if !block_on(store.revoke_api_key(key_id))? {
                return Err(format!("no API key {key_id}").into());
            }
            println!("revoked {key_id}");
        }
    }
    Ok(())
}
