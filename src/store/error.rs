//! Why a store operation failed, in words that do not depend on the backend.

use std::fmt;

/// Why a store operation failed.
#[derive(Debug)]
pub enum StoreError {
    /// The database said no: locked, disk full, read-only, corrupt… (its words). A string,
    /// so that no backend's types leak into the API.
    Database(String),
    /// The commit was sent but its result never came back (a connection lost in the middle
    /// of it): the data may or may not be stored. Answer as for any storage fault (`451`,
    /// `503`): the retry is recognised as a duplicate if the first attempt did commit.
    OutcomeUnknown(String),
    /// The database file or its folder could not be created.
    Io(std::io::Error),
    /// The database was written by a newer replyd.
    NewerSchema { found: i64, supported: i64 },
    /// No such conversation.
    NotFound(String),
    /// The request makes no sense (e.g. an empty contact address).
    Invalid(String),
    /// The store no longer takes deliveries (the server is shutting down).
    WriterGone,
    /// A provider's signature token (Mailgun's) was used before with other content: a
    /// replayed signature, found inside the delivery's transaction (two requests racing
    /// with the same token). Refused for good, like the check made before the transaction.
    TokenReused(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Database(e) => write!(f, "database error: {e}"),
            StoreError::OutcomeUnknown(e) => write!(
                f,
                "the commit's outcome is unknown ({e}); a retry will be recognised if it was stored"
            ),
            StoreError::Io(e) => write!(f, "cannot create the database or its folder: {e}"),
            StoreError::NewerSchema { found, supported } => write!(
                f,
                "the database has schema version {found}, newer than the {supported} this \
                 replyd understands; run a newer replyd on it"
            ),
            StoreError::NotFound(what) => write!(f, "no conversation {what}"),
            StoreError::Invalid(why) => f.write_str(why),
            StoreError::WriterGone => f.write_str("the store has stopped taking deliveries"),
            StoreError::TokenReused(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for StoreError {}
