//! The SMTP endpoint: a listener that limits connections (`server`), a session state
//! machine per connection (`session`), and our own framing of lines and message data
//! (`connection`).

mod connection;
mod server;
mod session;

pub use server::{Server, ServerError};
