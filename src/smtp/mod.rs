//! The SMTP and LMTP endpoint: listeners that limit connections (`server`), a session
//! state machine per connection (`session`), our own framing of lines and message data
//! (`connection`), the stream under it (`stream`: TCP, Unix socket, TLS after STARTTLS),
//! the certificate (`tls`), the PROXY protocol header of a load balancer (`proxy`) and the
//! LMTP Unix socket (`unix_socket`).

mod connection;
mod data_framer;
mod limits;
mod proxy;
mod rate;
mod server;
mod session;
mod stream;
mod tls;
mod unix_socket;

pub use server::{Server, ServerError};
pub(crate) use tls::Tls;
pub use tls::TlsError;
pub(crate) use unix_socket::bind_unix;

#[doc(hidden)]
pub mod fuzzing;
