//! Command line: `serve`, `conversation …`, `inbox`, `backup`.
//!
//! Every command reads the same config file (`--config`, default `smtpd.toml`) so the
//! database path and domains are the server's; `--database` overrides the path.

use clap::{Args, Parser, Subcommand};
use replyd::store::{Conversation, NewConversation, Store, StoreError};
use replyd::{Config, Server};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "replyd",
    version,
    about = "Threads customers' email replies into helpdesk conversations stored in SQLite."
)]
struct Cli {
    /// Configuration file.
    #[arg(long, global = true, default_value = "smtpd.toml")]
    config: PathBuf,
    /// Database file (overrides `[store] path` of the config).
    #[arg(long, global = true)]
    database: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the SMTP server until SIGINT/SIGTERM.
    Serve {
        /// Address to listen on, instead of `[server] listen` (repeatable; port 0 picks one).
        #[arg(long)]
        listen: Vec<SocketAddr>,
    },
    /// Creates, lists, shows and closes conversations.
    #[command(subcommand)]
    Conversation(ConversationCommand),
    /// Lists what reached the operator: postmaster mail and mail accepted but not threaded.
    Inbox(ListArgs),
    /// Writes a consistent copy of the database to PATH while the server runs.
    Backup {
        /// Where to write the copy (must not exist).
        path: PathBuf,
    },
}

#[derive(Subcommand)]
enum ConversationCommand {
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
    /// Closes a conversation: replies to its address are refused from now on.
    Close {
        /// The conversation's UUID.
        uuid: String,
    },
}

#[derive(Args)]
struct ListArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let mut config = match Config::load(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("replyd: {e}");
            return ExitCode::from(78); // EX_CONFIG
        }
    };
    if let Some(db) = &cli.database {
        config.store.path = db.clone();
    }
    match run(cli.command, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("replyd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, mut config: Config) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Serve { listen } => {
            if !listen.is_empty() {
                config.server.listen = listen;
            }
            serve(config)
        }
        Command::Conversation(c) => conversation(c, &config),
        Command::Inbox(args) => {
            let store = open_store(&config)?;
            let entries = store.inbox()?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
            } else if entries.is_empty() {
                println!("The operator inbox is empty.");
            } else {
                for e in entries {
                    println!(
                        "i{}  {}  {}  from {}  to {}  {}{}",
                        e.id,
                        e.received_at,
                        e.reason,
                        e.envelope_sender
                            .as_deref()
                            .filter(|s| !s.is_empty())
                            .unwrap_or("<>"),
                        e.envelope_recipients.as_deref().unwrap_or(""),
                        e.subject.as_deref().unwrap_or("(no subject)"),
                        if e.note.is_empty() {
                            String::new()
                        } else {
                            format!("  [{}]", e.note)
                        }
                    );
                }
            }
            Ok(())
        }
        Command::Backup { path } => {
            let store = open_store(&config)?;
            store.backup(&path)?;
            println!("wrote {}", path.display());
            Ok(())
        }
    }
}

fn open_store(config: &Config) -> Result<Store, StoreError> {
    Store::open(&config.store.path, config.store.busy_timeout)
}

fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let server = Server::bind(config).await?;
        let stop = server.shutdown_handle();
        tokio::spawn(async move {
            replyd::shutdown::signal().await;
            tracing::info!("signal received");
            stop.shutdown();
        });
        server.run().await?;
        Ok(())
    })
}

fn conversation(c: ConversationCommand, config: &Config) -> Result<(), Box<dyn std::error::Error>> {
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
            let conv = store.create_conversation(&NewConversation {
                contact_email: Some(&contact),
                channel: &channel,
                subject: subject.as_deref(),
                domain: &domain,
                ttl_seconds: ttl,
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&conv)?);
            } else {
                println!("{}\t{}", conv.uuid, conv.reply_address);
            }
        }
        ConversationCommand::List(args) => {
            let list = store.conversations()?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for c in list {
                    print_conversation_line(&c);
                }
            }
        }
        ConversationCommand::Show { uuid, json } => {
            let conv = store.conversation(&uuid)?;
            let messages = store.messages(&uuid)?;
            if json {
                let v = serde_json::json!({ "conversation": conv, "messages": messages });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print_conversation_line(&conv);
                for m in messages {
                    println!();
                    println!(
                        "--- m{} {} from {} at {}{}",
                        m.id,
                        m.direction,
                        m.from.as_deref().unwrap_or("(unknown)"),
                        m.date.as_deref().unwrap_or(&m.received_at),
                        if m.flags.is_empty() {
                            String::new()
                        } else {
                            format!(" [{}]", m.flags)
                        }
                    );
                    if let Some(s) = &m.subject {
                        println!("Subject: {s}");
                    }
                    for a in &m.attachments {
                        match &a.skipped_reason {
                            None => println!(
                                "Attachment: {} ({}, {} bytes{})",
                                a.filename.as_deref().unwrap_or("(unnamed)"),
                                a.content_type,
                                a.size,
                                if a.inline { ", inline" } else { "" }
                            ),
                            Some(why) => println!(
                                "Attachment not kept: {} ({} bytes): {why}",
                                a.filename.as_deref().unwrap_or("(unnamed)"),
                                a.size
                            ),
                        }
                    }
                    println!();
                    println!("{}", m.reply_text.as_deref().unwrap_or(""));
                }
            }
        }
        ConversationCommand::Close { uuid } => {
            store.close_conversation(&uuid)?;
            println!("closed {uuid}");
        }
    }
    Ok(())
}

fn print_conversation_line(c: &Conversation) {
    println!(
        "{}  {}  {}  {}  {}  {} message(s)  {}",
        c.uuid,
        c.status,
        c.channel,
        c.contact_email.as_deref().unwrap_or("-"),
        c.reply_address,
        c.message_count,
        c.subject.as_deref().unwrap_or("")
    );
}
