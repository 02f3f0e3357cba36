//! replyd: conversation continuity by email.
//!
//! A helpdesk agent's email carries `Reply-To: reply+<token>@<support domain>`. When the
//! customer answers, their mail server delivers to replyd, which refuses anything that is not
//! a live reply address during the SMTP dialogue, parses the message, separates the new reply
//! text from quoted history, and appends it to the conversation in SQLite — committed before
//! the client hears `250`.
//!
//! The crate is both the `replyd` daemon and a library: build a [`Server`] from a
//! [`Config`] value, run it on your tokio runtime, and use the [`Store`] to manage
//! conversations.
//!
//! Data flows one way: socket → SMTP session (or an HTTP ingress: a provider's webhook, or
//! an MTA posting `message/rfc822`) → intake → [`message`] extraction → [`store`]. Set
//! `config.http.listen` and an `[ingress.*]` secret and [`Server::bind`] serves the HTTP
//! ingresses too ([`Server::http_addrs`]), with `/metrics`, `/healthz` and `/readyz` beside
//! them, or on `config.operator.listen` alone ([`Server::operator_addrs`]), and the helpdesk
//! API (`/api/v1`, keys from `replyd api-key create`; on `config.api.listen` when set:
//! [`Server::api_addrs`]). With `config.console.enabled`, the operator's web console
//! (`/console/`) is served beside the operator endpoints.
//!
//! Everything in a stored message was written by its sender: show it to a person through
//! [`display::escape`] (one-line fields) or [`display::escape_lines`] (reply text), and save
//! an attachment under [`message::safe_filename`], never its own name.
//!
//! # Embedding
//!
//! ```no_run
//! use replyd::{Config, Server, store::NewConversation};
//!
//! # async fn helpdesk() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = Config::default();
//! config.server.domains = vec!["support.example.com".into()];
//! config.server.listen = vec!["127.0.0.1:0".parse()?];
//! config.store.path = "helpdesk/replyd.sqlite3".into();
//!
//! let server = Server::bind(config).await?;
//! println!("SMTP on {:?}", server.local_addrs());
//! let store = server.store();
//! // Learn of every new reply, without polling; resume from a stored cursor after a restart.
//! let mut replies = store.subscribe(store.last_message_id().await?);
//! let stop = server.shutdown_handle();
//! let running = tokio::spawn(server.run());
//!
//! let conversation = store.create_conversation(&NewConversation {
//!     contact_email: Some("bob@example.org"),
//!     channel: "web_widget",
//!     subject: Some("Order 42"),
//!     domain: "support.example.com",
//!     ttl_seconds: None,
//!     external_id: None,
//! }).await?;
//! // Stamp the agent's email before sending it with MAIL FROM:<envelope_sender>.
//! let agent_mail = b"From: Alice <alice@support.example.com>\r\nTo: bob@example.org\r\n\
//!                    Subject: Order 42\r\n\r\nHello Bob\r\n";
//! let stamped = replyd::outbound::stamp_and_record(&store, &conversation.uuid, agent_mail, Some("Example Support")).await?;
//! # let _ = stamped;
//!
//! let reply = replies.next().await?;
//! println!("{} wrote: {}", reply.from.unwrap_or_default(), reply.reply_text.unwrap_or_default());
//!
//! stop.shutdown();
//! running.await??;
//! # Ok(()) }
//! ```
//!
//! `examples/embed.rs` is the same, runnable: `cargo run --example embed`.

pub mod config;
pub mod display;
pub mod message;
pub mod outbound;
pub mod store;

mod activity;
mod address;
mod auth;
mod http;
mod http_client;
mod intake;
mod message_ids;
mod metrics;
mod relay;
mod shutdown;
mod smtp;
mod time;
mod webhooks;

/// The `replyd` command line (the binary is `main` calling [`cli::main`]).
#[doc(hidden)]
pub mod cli;

pub use config::Config;
pub use shutdown::ShutdownHandle;
pub use smtp::{Server, ServerError, TlsError};
pub use store::{Conversation, NewConversation, Store, StoreError, StoredMessage, Subscription};
pub use time::Clock;

/// The session fuzz target's entry points (not an API).
#[doc(hidden)]
pub use smtp::fuzzing;
