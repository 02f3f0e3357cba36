//! The SMTP and LMTP endpoint: listeners that limit connections (`server`), a session
//! state machine per connection (`session`), our own framing of lines and message data
//! (`connection`), the stream under it (`stream`: TCP, Unix socket, TLS after STARTTLS),
//! the certificate (`tls`) and the PROXY protocol header of a load balancer (`proxy`).

mod connection;
mod proxy;
mod rate;
mod server;
mod session;
mod stream;
mod tls;

pub(crate) use server::bind_unix;
pub use server::{Server, ServerError};
pub(crate) use tls::Tls;
pub use tls::TlsError;

#[doc(hidden)]
pub mod fuzzing;
