//! Command line: `serve`, `conversation …`, `inbox`, `backup`, `ingest`, `relay`.
//!
//! Every command reads the same config file (`--config`, default `smtpd.toml`) so the
//! database path and domains are the server's; `--database` overrides the path.
//!
//! Whatever a sender wrote (subjects, addresses, names, attachment names, reply text) is
//! printed through [`replyd::display`], one field per line, multi-line text indented: a
//! message cannot send escape sequences to the operator's terminal or forge output lines.
//!
//! The commands that open the database say, in one line on stderr (`serve`: in its log),
//! when it, its `-wal`/`-shm` or its folder is open to group or others: customer mail is
//! private. `ingest` does not: a pipe transport puts its stderr in bounces to the sender.

use clap::{Args, Parser, Subcommand};
use replyd::config::{Limits, MessageConfig};
use replyd::display::{escape, escape_lines};
use replyd::store::{Conversation, InboxEntry, NewConversation, Store, StoreError, StoredMessage};
use replyd::{Config, Server};
use std::io::Read as _;
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
    /// Configuration file [default: smtpd.toml].
    #[arg(long, global = true)]
    config: Option<PathBuf>,
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
    /// Stamps an agent's reply (stdin → stdout) with the conversation's reply headers and records it.
    Stamp {
        /// The conversation's UUID.
        #[arg(long)]
        conversation: String,
        /// Only print the envelope sender (MAIL FROM) to send the conversation's mail with.
        #[arg(long)]
        print_sender: bool,
        /// Display name for Reply-To (default: `[outbound] display_name`, else the From name).
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Delivers one message from stdin, as Postfix/Exim pipe transports do (exit codes: sysexits).
    Ingest {
        /// The envelope recipient.
        #[arg(long)]
        recipient: String,
        /// The envelope sender (empty for the null sender).
        #[arg(long, default_value = "")]
        sender: String,
        /// The client IP the front MTA received the message from.
        #[arg(long)]
        client_ip: Option<std::net::IpAddr>,
    },
    /// Posts one message from stdin to a (remote) relay ingress, as an MTA's pipe transport
    /// runs it; exit codes and output in the MTA's convention. Reads no config file.
    Relay {
        /// The relay ingress, e.g. https://mx.example.com/rails/action_mailbox/relay/inbound_emails
        #[arg(long)]
        url: String,
        /// A file holding the ingress password (else the URL's, else $INGRESS_PASSWORD).
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// The envelope recipient (Postfix ${recipient}, Exim $local_part@$domain).
        #[arg(long)]
        recipient: Option<String>,
        /// The envelope sender, empty for a bounce (Postfix ${sender}, Exim $sender_address).
        #[arg(long)]
        sender: Option<String>,
        /// Whose exit codes to speak.
        #[arg(long, value_enum, default_value = "postfix")]
        mta: crate::relay_command::Mta,
    },
    /// Shows what replyd extracts from a message file (or - for stdin), without storing it.
    Parse {
        /// The .eml file, or - for stdin.
        file: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
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

/// The configuration file read when `--config` is not given.
const DEFAULT_CONFIG: &str = "smtpd.toml";

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let named = cli.config.is_some();
    let config_path = cli.config.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    if let Command::Relay {
        url,
        password_file,
        recipient,
        sender,
        mta,
    } = cli.command
    {
        // No config and no log: the MTA reads our output into its log and bounces.
        return crate::relay_command::main(crate::relay_command::Args {
            url,
            password_file,
            recipient,
            sender,
            mta,
        });
    }
    if let Command::Ingest {
        recipient,
        sender,
        client_ip,
    } = cli.command
    {
        // Before logging is set up: a pipe transport reads our stderr into its bounce text.
        let args = crate::ingest::Args {
            recipient,
            sender,
            client_ip,
        };
        return crate::ingest::main(config_path, cli.database, args);
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal, not in journald or a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    if let Command::Parse { file, json } = &cli.command {
        if !named && !config_path.exists() {
            // `parse` reads only the [message] limits: with no configuration file here and
            // none named, it uses their defaults, so it can be run on a file from anywhere.
            return finish(parse(
                file,
                *json,
                &MessageConfig::default(),
                Limits::default().max_message_size,
            ));
        }
    }
    let mut config = match Config::load(&config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("replyd: {e}");
            return ExitCode::from(78); // EX_CONFIG
        }
    };
    if let Some(db) = &cli.database {
        config.store.path = db.clone();
    }
    finish(run(cli.command, config))
}

fn finish(result: Result<(), Box<dyn std::error::Error>>) -> ExitCode {
    match result {
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
                for (i, e) in entries.iter().enumerate() {
                    if i > 0 {
                        println!();
                    }
                    print_inbox_entry(e);
                }
            }
            Ok(())
        }
        Command::Stamp {
            conversation,
            print_sender,
            display_name,
        } => {
            let store = open_store(&config)?;
            if print_sender {
                println!("{}", store.conversation(&conversation)?.reply_address);
                return Ok(());
            }
            let raw = read_capped(
                std::io::stdin().lock(),
                config.limits.max_message_size,
                "the message on standard input",
            )?;
            let name = display_name.or(config.outbound.display_name.clone());
            let stamped = store.stamp_outgoing(&conversation, &raw, name.as_deref())?;
            std::io::Write::write_all(&mut std::io::stdout(), &stamped.bytes)?;
            eprintln!(
                "replyd: recorded as m{}; send with MAIL FROM:<{}>",
                stamped.stored_id, stamped.envelope_sender
            );
            Ok(())
        }
        Command::Parse { file, json } => {
            parse(&file, json, &config.message, config.limits.max_message_size)
        }
        Command::Ingest { .. } | Command::Relay { .. } => Ok(()),
        Command::Backup { path } => {
            let store = open_store(&config)?;
            store.backup(&path)?;
            println!("wrote {}", path.display());
            Ok(())
        }
    }
}

fn open_store(config: &Config) -> Result<Store, StoreError> {
    // Before opening: what exists then is the operator's (what replyd creates is private).
    if let Some(warning) = replyd::store::permission_warning(&config.store.path) {
        eprintln!("replyd: warning: {warning}");
    }
    Store::open(&config.store.path, config.store.busy_timeout)
}

/// Raises the soft open-files limit toward the hard one, so `max_connections` sessions
/// (plus the database and listeners) fit; warns when they cannot.
// `rlim_t` is not `u64` on every platform.
#[allow(clippy::unnecessary_cast)]
fn raise_open_files_limit(wanted: u64) {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
            return;
        }
        let target = (wanted as libc::rlim_t).min(lim.rlim_max);
        if target > lim.rlim_cur {
            let raised = libc::rlimit {
                rlim_cur: target,
                rlim_max: lim.rlim_max,
            };
            // SAFETY: as above.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                lim.rlim_cur = target;
            }
        }
        if (lim.rlim_cur as u64) < wanted {
            tracing::warn!(
                open_files = lim.rlim_cur as u64,
                wanted,
                "the open-files limit is below max_connections; raise it (LimitNOFILE=) or lower limits.max_connections"
            );
        }
    }
}

fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    raise_open_files_limit(config.limits.max_connections as u64 + 64);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        if let Some(warning) = replyd::store::permission_warning(&config.store.path) {
            tracing::warn!("{warning}");
        }
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
                    print_message(&m);
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
    // One line per conversation: every field escaped, so none can hold a line break; the
    // subject, the one free text, comes last.
    println!(
        "{}  {}  {}  {}  {}  {} message(s)  {}",
        escape(&c.uuid),
        escape(&c.status),
        escape(&c.channel),
        escape(c.contact_email.as_deref().unwrap_or("-")),
        escape(&c.reply_address),
        c.message_count,
        escape(c.subject.as_deref().unwrap_or(""))
    );
}

/// Indent of the lines of a multi-line field (reply text, quoted text): no line of it can
/// start like an entry (`--- m…`) or a field (`Subject: …`).
const TEXT_INDENT: &str = "    ";

/// Longest original attachment name shown beside the safe one, in characters.
const MAX_SHOWN_ORIGINAL: usize = 256;

/// One message of `conversation show`: a `--- m<id>` line, then one field per line (every
/// one escaped: the sender wrote them), then the reply text, indented.
fn print_message(m: &StoredMessage) {
    println!();
    println!(
        "--- m{} {} at {}{}",
        m.id,
        escape(&m.direction),
        escape(m.date.as_deref().unwrap_or(&m.received_at)),
        if m.flags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", escape(&m.flags))
        }
    );
    println!("From: {}", escape(m.from.as_deref().unwrap_or("(unknown)")));
    if let Some(name) = m.from_name.as_deref().filter(|n| !n.is_empty()) {
        println!("From name: {}", escape(name));
    }
    if let Some(s) = &m.subject {
        println!("Subject: {}", escape(s));
    }
    for a in &m.attachments {
        let name = a.safe_filename();
        let sent = sent_name(&name, a.filename.as_deref());
        match &a.skipped_reason {
            None => println!(
                "Attachment: {name} ({}, {} bytes{}){sent}",
                escape(&a.content_type),
                a.size,
                if a.inline { ", inline" } else { "" }
            ),
            Some(why) => println!(
                "Attachment not kept: {name} ({} bytes): {}{sent}",
                a.size,
                escape(why)
            ),
        }
    }
    if m.omitted_attachments > 0 {
        println!(
            "Attachments not listed: {} more ({} bytes)",
            m.omitted_attachments, m.omitted_attachment_bytes
        );
    }
    println!("Reply text:");
    print!(
        "{}",
        escape_lines(m.reply_text.as_deref().unwrap_or(""), TEXT_INDENT)
    );
}

/// One entry of `inbox`: an `--- i<id>` line, then one field per line, escaped.
fn print_inbox_entry(e: &InboxEntry) {
    println!(
        "--- i{} at {}: {}",
        e.id,
        escape(&e.received_at),
        escape(&e.reason)
    );
    println!(
        "Envelope sender: {}",
        escape(
            e.envelope_sender
                .as_deref()
                .filter(|s| !s.is_empty())
                .unwrap_or("<>")
        )
    );
    println!(
        "Envelope recipients: {}",
        escape(e.envelope_recipients.as_deref().unwrap_or(""))
    );
    if let Some(ip) = &e.remote_ip {
        println!("Client: {}", escape(ip));
    }
    if let Some(from) = &e.from {
        println!("From: {}", escape(from));
    }
    println!(
        "Subject: {}",
        escape(e.subject.as_deref().unwrap_or("(no subject)"))
    );
    if let Some(c) = &e.conversation {
        println!("Conversation: {}", escape(c));
    }
    if !e.note.is_empty() {
        println!("Note: {}", escape(&e.note));
    }
}

/// After an attachment's line: the name the sender gave (escaped, cut to
/// [`MAX_SHOWN_ORIGINAL`] characters) when it is not the safe name shown.
fn sent_name(safe: &str, original: Option<&str>) -> String {
    match original {
        None => "  [sent without a name]".to_string(),
        Some(o) if o == safe => String::new(),
        Some(o) => {
            let escaped = escape(o);
            let mut shown: String = escaped.chars().take(MAX_SHOWN_ORIGINAL).collect();
            if shown.len() < escaped.len() {
                shown.push_str(&format!("… ({} bytes in all)", o.len()));
            }
            format!("  [sent as: {shown}]")
        }
    }
}

/// Reads at most `limit` bytes of a message: one byte more is an error naming the limit, and
/// nothing past it is read (a mistaken `stamp < /dev/zero` does not fill the memory).
fn read_capped(
    input: impl std::io::Read,
    limit: usize,
    what: &str,
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut raw = Vec::new();
    input
        .take(limit as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| format!("cannot read {what}: {e}"))?;
    if raw.len() > limit {
        return Err(format!(
            "{what} is larger than limits.max_message_size ({limit} bytes); not read further"
        )
        .into());
    }
    Ok(raw)
}

fn parse(
    file: &std::path::Path,
    json: bool,
    limits: &MessageConfig,
    max_message_size: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let raw = if file.as_os_str() == "-" {
        read_capped(
            std::io::stdin().lock(),
            max_message_size,
            "the message on standard input",
        )?
    } else {
        let name = file.display();
        let f = std::fs::File::open(file).map_err(|e| format!("cannot read {name}: {e}"))?;
        read_capped(f, max_message_size, &name.to_string())?
    };
    let p = replyd::message::extract(&raw, &limits.extract_options());
    if json {
        let attachments: Vec<_> = p
            .attachments
            .iter()
            .map(|a| {
                serde_json::json!({
                    "filename": a.filename, "content_type": a.content_type, "size": a.size,
                    "inline": a.inline, "content_id": a.content_id,
                })
            })
            .collect();
        let v = serde_json::json!({
            "subject": p.subject,
            "from": p.from.as_ref().map(|f| f.address.clone()),
            "from_name": p.from.as_ref().and_then(|f| f.name.clone()),
            "to": p.to.iter().map(|m| m.address.clone()).collect::<Vec<_>>(),
            "message_id": p.message_id,
            "in_reply_to": p.in_reply_to,
            "references": p.references,
            "date": p.date,
            "text": p.text_body,
            "html": p.html_body,
            "reply_text": p.reply_text,
            "quoted_text": p.quoted_text,
            "attachments": attachments,
            "skipped_attachments": p.skipped_attachments,
            "omitted_attachments": p.omitted_attachments,
            "automated": p.automated,
            "flags": p.flags,
            "notes": p.notes,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "From: {}",
            escape(
                p.from
                    .as_ref()
                    .map(|f| f.address.as_str())
                    .unwrap_or("(none)")
            )
        );
        if let Some(name) = p.from.as_ref().and_then(|f| f.name.as_deref()) {
            println!("From name: {}", escape(name));
        }
        println!(
            "Subject: {}",
            escape(p.subject.as_deref().unwrap_or("(none)"))
        );
        if let Some(a) = &p.automated {
            println!("Automated: {}", escape(a));
        }
        for a in &p.attachments {
            let name = a.safe_filename();
            println!(
                "Attachment: {name} ({}, {} bytes{}){}",
                escape(&a.content_type),
                a.size,
                if a.inline { ", inline" } else { "" },
                sent_name(&name, a.filename.as_deref())
            );
        }
        for a in &p.skipped_attachments {
            let name = a.safe_filename();
            println!(
                "Attachment not kept: {name} ({} bytes): {}{}",
                a.size,
                escape(&a.reason),
                sent_name(&name, a.filename.as_deref())
            );
        }
        if !p.flags.is_empty() {
            println!("Flags: {}", escape(&p.flags.join(" ")));
        }
        println!("\n--- reply text ---");
        print!("{}", escape_lines(&p.reply_text, TEXT_INDENT));
        if !p.quoted_text.is_empty() {
            println!("\n--- quoted (trimmed) ---");
            print!("{}", escape_lines(&p.quoted_text, TEXT_INDENT));
        }
    }
    Ok(())
}
