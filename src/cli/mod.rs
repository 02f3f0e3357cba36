//! Command line: `serve`, `conversation …`, `inbox`, `activity`, `api-key …`, `webhooks …`,
//! `backup`, `ingest`, `relay`, `check-config`, `migrate`, `copy-store`; this file parses the
//! command line and dispatches, each command family in a file of its own.
//!
//! Every command reads the same config file (`--config`, default `smtpd.toml`) so the
//! database path and domains are the server's; `--database` overrides the path.
//!
//! Whatever a sender wrote (subjects, addresses, names, attachment names, reply text) is
//! printed through [`crate::display`], one field per line, multi-line text indented: a
//! message cannot send escape sequences to the operator's terminal or forge output lines.
//!
//! The commands that open the database say, in one line on stderr (`serve`: in its log),
//! when it, its `-wal`/`-shm` or its folder is open to group or others: customer mail is
//! private. `ingest` does not: a pipe transport puts its stderr in bounces to the sender.

mod activity;
mod api_key;
mod check_config;
mod console;
mod conversation;
mod copy_store;
mod ingest;
mod parse;
mod relay;
mod show;
mod webhooks;

use crate::config::{Limits, LogFormat, MessageConfig};
use crate::store::{Store, StoreError};
use crate::{Config, Server};
use clap::{Args, Parser, Subcommand};
use conversation::{conversation, ConversationCommand};
use parse::parse;
use show::print_inbox_entry;
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
    /// Lists delivery attempts, newest first: stored, refused (and why), deferred.
    Activity(activity::ActivityArgs),
    /// Creates, lists and revokes the helpdesk API's keys.
    #[command(subcommand)]
    ApiKey(api_key::ApiKeyCommand),
    /// Webhook endpoints: their state and backlog; send events again; enable or disable.
    #[command(subcommand)]
    Webhooks(webhooks::WebhooksCommand),
    /// The operator's web console: `hash-password` makes `[console] password_hash`.
    #[command(subcommand)]
    Console(console::ConsoleCommand),
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
        /// The relay ingress, e.g. `https://mx.example.com/rails/action_mailbox/relay/inbound_emails`
        #[arg(long)]
        url: String,
        /// A file holding the ingress password (else the URL's, else $INGRESS_PASSWORD).
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// The envelope recipient (Postfix ${recipient}); with `--mta exim` or `qmail`, by
        /// default the `RECIPIENT` those MTAs put in the command's environment.
        #[arg(long)]
        recipient: Option<String>,
        /// The envelope sender, empty for a bounce (Postfix ${sender}); with `--mta exim` or
        /// `qmail`, by default their `SENDER`.
        #[arg(long)]
        sender: Option<String>,
        /// Whose exit codes to speak.
        #[arg(long, value_enum, default_value = "postfix")]
        mta: relay::Mta,
    },
    /// Applies the store's pending schema migrations alone (`serve` applies them too) and
    /// prints the schema version; on PostgreSQL, also its compatibility version.
    Migrate,
    /// Copies a SQLite store into an empty PostgreSQL one and checks the counts.
    CopyStore {
        /// The source: `sqlite:PATH`.
        #[arg(long)]
        from: String,
        /// The destination: `postgres://…`.
        #[arg(long)]
        to: String,
    },
    /// Checks the configuration as `serve` would (files, keys, addresses, the database) and
    /// prints the settings that differ from the defaults, secrets redacted.
    CheckConfig,
    /// Shows what replyd extracts from a message file (or - for stdin), without storing it.
    Parse {
        /// The .eml file, or - for stdin.
        file: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
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
        return relay::main(relay::Args {
            url,
            password_file,
            recipient: recipient.or_else(|| mta.envelope_from_env("RECIPIENT")),
            sender: sender.or_else(|| mta.envelope_from_env("SENDER")),
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
        let args = ingest::Args {
            recipient,
            sender,
            client_ip,
        };
        return ingest::main(config_path, cli.database, args);
    }
    if let Command::Console(command) = &cli.command {
        // Needs no configuration: it only hashes a password.
        return finish(console::main(command));
    }
    if let Command::CopyStore { from, to } = &cli.command {
        // Both stores are named on the command line: no configuration is read.
        init_logging(LogFormat::Text);
        return finish(copy_store::main(
            from,
            to,
            &crate::config::StoreConfig::default(),
        ));
    }
    if let Command::CheckConfig = cli.command {
        return check_config::main(&config_path, cli.database);
    }
    if let Command::Parse { file, json } = &cli.command {
        if !named && !config_path.exists() {
            init_logging(LogFormat::Text);
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
        // A file named on the command line is the store, whatever `[store] url` says.
        config.store.path = db.clone();
        config.store.url = None;
    }
    init_logging(config.log.format);
    finish(run(cli.command, config))
}

/// Log lines on stderr: text (coloured only on a terminal, not in journald or a file), or
/// one JSON object per line for a collector (`[log] format`); `RUST_LOG` filters.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
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
        Command::Migrate => migrate(&config),
        Command::Inbox(args) => {
            let store = open_store(&config)?;
            let entries = block_on(store.inbox())?;
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
        Command::Activity(args) => {
            let store = open_store(&config)?;
            activity::run(&store, &args)
        }
        Command::ApiKey(command) => {
            let store = open_store(&config)?;
            api_key::run(command, &store)
        }
        Command::Webhooks(command) => {
            let store = open_store(&config)?;
            webhooks::run(&store, &config, command)
        }
        Command::Console(command) => console::main(&command),
        Command::Stamp {
            conversation,
            print_sender,
            display_name,
        } => {
            let store = open_store(&config)?;
            if print_sender {
                println!(
                    "{}",
                    block_on(store.conversation(&conversation))?.reply_address
                );
                return Ok(());
            }
            let raw = read_capped(
                std::io::stdin().lock(),
                config.limits.max_message_size,
                "the message on standard input",
            )?;
            let name = display_name.or(config.outbound.display_name.clone());
            let stamped = block_on(crate::outbound::stamp_and_record(
                &store,
                &conversation,
                &raw,
                name.as_deref(),
            ))?;
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
        Command::Ingest { .. }
        | Command::Relay { .. }
        | Command::CheckConfig
        | Command::CopyStore { .. } => Ok(()),
        Command::Backup { path } => {
            let store = open_store(&config)?;
            block_on(store.backup(&path))?;
            println!("wrote {}", path.display());
            Ok(())
        }
    }
}

/// `replyd migrate`.
fn migrate(config: &Config) -> Result<(), Box<dyn std::error::Error>> {
    match &config.store.url {
        Some(_) => {
            let (version, compatible) = crate::store::postgres::migrate(&config.store)?;
            println!("PostgreSQL schema version {version} (compatibility version {compatible})");
        }
        None => {
            drop(open_store(config)?);
            let version = crate::store::sqlite::schema_version(&config.store.path)?;
            println!(
                "SQLite schema version {version}: {}",
                config.store.path.display()
            );
        }
    }
    Ok(())
}

fn open_store(config: &Config) -> Result<Store, StoreError> {
    // Before opening: what exists then is the operator's (what replyd creates is private).
    if config.store.url.is_none() {
        if let Some(warning) = crate::store::permission_warning(&config.store.path) {
            eprintln!("replyd: warning: {warning}");
        }
    }
    Store::open(&config.store)
}

/// Runs one store call to completion (the commands other than `serve` are one call each).
fn block_on<T, E: Into<Box<dyn std::error::Error>>>(
    future: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, Box<dyn std::error::Error>> {
    // I/O and timers: the PostgreSQL store's client needs both.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(future).map_err(Into::into)
}

/// Lets the C allocator keep the memory of one large message for the next, rather than
/// give it back to the kernel after each and fault it in again (issue 24: at 1 MiB per
/// message, ~250 page faults each, about a fifth of its CPU).
///
/// glibc serves a large allocation with its own `mmap` (unmapped when freed) up to a
/// threshold, and gives free memory at the top of a heap back past a trim threshold. Both
/// start at 128 KiB and rise when a block it mapped is freed: the threshold to that
/// block's size (at most 32 MiB), the trim threshold to twice it (mallopt(3), "dynamic
/// mmap threshold"). Allocating and freeing one 31 MiB block at start does what
/// `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=...:trim_threshold=...` would, without
/// `unsafe` and without asking each deployment: every per-message buffer (the message's
/// bytes, the reply analysis's per-line vectors, SQLite's) is then reused from the heap.
/// The cost is memory the process keeps after a burst of large messages (measured in
/// bench/README.md). The library leaves its embedder's allocator alone; only the `serve`
/// command does this. Elsewhere than glibc it is one allocation and one free.
fn keep_freed_message_memory() {
    // Under glibc's 32 MiB cap with its header and rounding, or the threshold stays put.
    const BLOCK: usize = 31 * 1024 * 1024;
    let block: Vec<u8> = Vec::with_capacity(BLOCK);
    // Not optimised away: the allocator has to see the block, and see it freed.
    drop(std::hint::black_box(block));
}

/// Raises the soft open-files limit toward the hard one, so `max_connections` sessions
/// (plus the database and listeners) fit; warns when they cannot. (rustix's safe calls: no
/// `unsafe` for a struct the kernel fills in.)
fn raise_open_files_limit(wanted: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    // `None` is "unlimited".
    let hard = lim.maximum.unwrap_or(u64::MAX);
    let current = lim.current.unwrap_or(u64::MAX);
    let target = wanted.min(hard);
    let mut open_files = current;
    if target > current {
        lim.current = Some(target);
        if setrlimit(Resource::Nofile, lim).is_ok() {
            open_files = target;
        }
    }
    if open_files < wanted {
        tracing::warn!(
            open_files,
            wanted,
            "the open-files limit is below max_connections; raise it (LimitNOFILE=) or lower limits.max_connections"
        );
    }
}

fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    raise_open_files_limit(config.limits.max_connections as u64 + 64);
    keep_freed_message_memory();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        if config.store.url.is_none() {
            if let Some(warning) = crate::store::permission_warning(&config.store.path) {
                tracing::warn!("{warning}");
            }
        }
        let server = Server::bind(config).await?;
        let stop = server.shutdown_handle();
        tokio::spawn(async move {
            crate::shutdown::signal().await;
            tracing::info!("signal received");
            stop.shutdown();
        });
        server.run().await?;
        Ok(())
    })
}

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
