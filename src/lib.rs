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
//! Data flows one way: socket → [`smtp`] session → [`message`] extraction → [`store`].

pub mod address;
pub mod config;
pub mod intake;
pub mod message;
pub mod outbound;
pub mod shutdown;
pub mod smtp;
pub mod store;
pub mod time;

pub use config::Config;
pub use shutdown::ShutdownHandle;
pub use smtp::{Server, ServerError};
pub use store::{Conversation, NewConversation, Store, StoreError, StoredMessage};
