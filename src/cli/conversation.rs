//! `replyd conversation …`: create, list, show, allow, rotate, close — what a helpdesk
//! without the HTTP API (or an operator at a shell) does with conversations.

use super::show::{print_conversation_line, print_message};
use super::{block_on, open_store, ListArgs};
use crate::store::{NewConversation, SenderVerdict};
use crate::Config;
use clap::Subcommand;

#[derive(Subcommand)]
pub(super) enum ConversationCommand {
    /// Creates a conversation and prints its UUID and reply address.
    Create {
        /// The customer's email address.
        #[arg(long)]
        contact: String,
        /// Where the conversation started (web_widget, facebook, whatsapp, email…).
        #[arg(long, default_value = "web_widget")]
        channel: String,
        /// Subject of the conversation.
        #[arg(long)]
        subject: Option<String>,
        /// Reply domain (default: the first of `[server] domains`).
        #[arg(long)]
        domain: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Lists conversations, newest first.
    List(ListArgs),
    /// Prints a conversation and its messages (direction, from, date, reply text).
    Show {
        /// The conversation's UUID.
        uuid: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Allows an address to write into a conversation (besides the contact and whoever an
    /// agent's outgoing mail was sent to): `[security] sender_policy` does not flag it.
    Allow {
        /// The conversation's UUID.
        uuid: String,
        /// The email address.
        address: String,
    },
    /// Gives a conversation a new reply address and prints it; the old one is accepted for
    /// `[security] rotation_grace` more, then refused.
    Rotate {
        /// The conversation's UUID.
        uuid: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Closes a conversation: replies to its address are refused from now on.
    Close {
        /// The conversation's UUID.
        uuid: String,
    },
}

pub(super) fn conversation(
    c: ConversationCommand,
    config: &Config,
) -> Result<(), Box<dyn std::error::Error>> {
    let store = open_store(config)?;
    match c {
        ConversationCommand::Create {
            contact,
            channel,
            subject,
            domain,
            json,
        } => {
            let domain = domain.unwrap_or_else(|| config.default_domain().to_string());
            if !config
                .server
                .domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(&domain))
            {
                return Err(format!(
                    "{domain} is not one of the configured reply domains ({})",
                    config.server.domains.join(", ")
                )
                .into());
            }
            let ttl = match config.conversations.token_ttl_days {
                0 => None,
                d => Some(i64::from(d) * 86_400),
            };
            let conv = block_on(store.create_conversation(&NewConversation {
                contact_email: Some(&contact),
                channel: &channel,
                subject: subject.as_deref(),
                domain: &domain,
                ttl_seconds: ttl,
                external_id: None,
            }))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&conv)?);
            } else {
                println!("{}\t{}", conv.uuid, conv.reply_address);
            }
        }
        ConversationCommand::List(args) => {
            let list = block_on(store.conversations())?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for c in list {
                    print_conversation_line(&c);
                }
            }
        }
        ConversationCommand::Show { uuid, json } => {
            let conv = block_on(store.conversation(&uuid))?;
            let messages = block_on(store.messages(&uuid))?;
            let senders: std::collections::HashMap<i64, SenderVerdict> =
                block_on(store.sender_verdicts(&uuid))?
                    .into_iter()
                    .collect();
            if json {
                let senders: std::collections::BTreeMap<String, &SenderVerdict> =
                    senders.iter().map(|(id, v)| (id.to_string(), v)).collect();
                let v = serde_json::json!({
                    "conversation": conv,
                    "messages": messages,
                    "senders": senders,
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print_conversation_line(&conv);
                for m in messages {
                    print_message(&m, senders.get(&m.id));
                }
            }
        }
        ConversationCommand::Rotate { uuid, json } => {
            let grace = config.security.rotation_grace.as_secs() as i64;
            let conv = block_on(store.rotate_token(&uuid, grace))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&conv)?);
            } else {
                println!("{}\t{}", conv.uuid, conv.reply_address);
            }
        }
        ConversationCommand::Allow { uuid, address } => {
            let plausible = address.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !domain.contains('@')
            }) && !address.chars().any(|c| c.is_whitespace() || c.is_control());
            if !plausible {
                return Err(format!("{address:?} is not an email address").into());
            }
            block_on(store.allow_sender(&uuid, &address))?;
            println!("allowed {address} in {uuid}");
        }
        ConversationCommand::Close { uuid } => {
            block_on(store.close_conversation(&uuid))?;
            println!("closed {uuid}");
        }
    }
    Ok(())
}
