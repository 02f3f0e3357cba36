//! Taking in a message: who may receive it, and how it is stored.
//!
//! The SMTP session, LMTP and `replyd ingest` (a pipe from Postfix or Exim) all accept mail
//! by the same rules, so those rules live here once: [`Intake::check_recipient`] decides a
//! recipient (with the SMTP reply a refusal gets), and [`Intake::deliver`] adds our trace
//! header, extracts the message off the async threads and hands it to the store.
//! From a trusted relay it also records the original client and the relay's verdicts
//! ([`crate::relay`]).
//!
//! This file holds what every way in shares: the types a way in hands over and gets back,
//! and the [`Intake`] handle. The rules are in one file per concern, each in the order it
//! is applied: deciding recipients (`intake/recipients.rs`), storing a delivery
//! (`intake/storing.rs`), sender verification and the token limits (`intake/senders.rs`),
//! and our trace header (`intake/trace.rs`).

mod recipients;
mod senders;
mod storing;
mod trace;

use crate::activity::ActivityLog;
use crate::auth::SenderVerifier;
pub use crate::auth::SpfCheck;
use crate::config::Config;
pub use crate::http::Ingress;
use crate::metrics::Metrics;
use crate::store::{Reason, ReplayToken, Store, StoreError};
use std::net::IpAddr;
use std::sync::Arc;

/// A refusal: the SMTP reply to give (`5xx` permanent, `4xx` try again later), and its
/// reason in the activity log's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: u16,
    pub esc: &'static str,
    pub text: String,
    pub reason: Reason,
}

impl Refusal {
    pub(crate) fn new(
        code: u16,
        esc: &'static str,
        text: impl Into<String>,
        reason: Reason,
    ) -> Refusal {
        Refusal {
            code,
            esc,
            text: text.into(),
            reason,
        }
    }

    /// Whether retrying later could succeed.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.code, self.esc, self.text)
    }
}

/// The way a message came in. Every way in goes through [`Intake::deliver`], so each is held
/// to the same rules; this says only how to name it (the `Received:` header) and whether a
/// client address came from the connection or from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WayIn {
    /// SMTP: `esmtp` after EHLO, `tls` after STARTTLS.
    Smtp { esmtp: bool, tls: bool },
    /// LMTP from a front MTA (RFC 2033).
    Lmtp,
    /// `replyd ingest`, run by a front MTA's pipe transport.
    Pipe,
    /// An HTTP ingress: a provider's inbound webhook, or the relay ingress; `tls` over HTTPS.
    Http { ingress: Ingress, tls: bool },
}

impl WayIn {
    /// Its name in the activity log and the logs.
    pub fn name(self) -> &'static str {
        match self {
            WayIn::Smtp { esmtp: false, .. } => "smtp",
            WayIn::Smtp {
                esmtp: true,
                tls: false,
            } => "esmtp",
            WayIn::Smtp {
                esmtp: true,
                tls: true,
            } => "esmtps",
            WayIn::Lmtp => "lmtp",
            WayIn::Pipe => "pipe",
            WayIn::Http { ingress, .. } => ingress.name(),
        }
    }

    /// The `with` word of our `Received:` header (RFC 3848 names).
    pub fn trace_name(self) -> &'static str {
        match self {
            WayIn::Smtp { esmtp: false, .. } => "SMTP",
            WayIn::Smtp {
                esmtp: true,
                tls: false,
            } => "ESMTP",
            WayIn::Smtp {
                esmtp: true,
                tls: true,
            } => "ESMTPS",
            WayIn::Lmtp => "LMTP",
            WayIn::Pipe => "local",
            WayIn::Http { tls: false, .. } => "HTTP",
            WayIn::Http { tls: true, .. } => "HTTPS",
        }
    }
}

/// Why a message was not stored: refused by the rules (the reply says whether for good), or
/// the store failed (always worth a retry: a storage fault is never a permanent refusal).
#[derive(Debug)]
pub enum DeliveryError {
    Refused(Refusal),
    Store(StoreError),
}

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeliveryError::Refused(r) => write!(f, "refused: {r}"),
            DeliveryError::Store(e) => write!(f, "not stored: {e}"),
        }
    }
}

impl std::error::Error for DeliveryError {}

/// How a message reached us, for the `Received:` header.
#[derive(Debug, Clone)]
pub struct Arrival<'a> {
    /// HELO/EHLO/LHLO name, if any.
    pub helo: Option<&'a str>,
    pub remote_ip: Option<IpAddr>,
    pub way_in: WayIn,
    /// The client is a front MTA on `trusted_relays` (or local: a Unix socket, a pipe): its
    /// topmost `Received:` names the original client, and its `Authentication-Results`
    /// count.
    pub trusted_relay: bool,
}

/// A message's bytes as a way in received them, with their SHA-256 when the way in
/// computed it already (the SMTP DATA framer hashes the bytes as they arrive; the other
/// ways in hand over bytes only, and the hash is computed with the parse).
#[derive(Debug, Clone, Default)]
pub struct RawMessage {
    pub bytes: Vec<u8>,
    /// [`crate::store::content_hash`] of `bytes`.
    pub sha256: Option<[u8; 32]>,
}

impl From<Vec<u8>> for RawMessage {
    fn from(bytes: Vec<u8>) -> Self {
        RawMessage {
            bytes,
            sha256: None,
        }
    }
}

/// What an HTTP provider tells about a message beyond the envelope, recorded with it.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// The provider's own id for the message or event.
    pub provider_id: Option<String>,
    /// The provider's SPF and DKIM verdicts, as it words them.
    pub spf: Option<String>,
    pub dkim: Option<String>,
    /// A signature token to record as used, in the message's own transaction.
    pub replay: Option<ReplayToken>,
}

/// The shared rules, the way to the store, and the record of every attempt (the activity
/// log, and the metrics' counts).
pub struct Intake {
    pub config: Config,
    pub store: Store,
    activity: ActivityLog,
    pub(crate) metrics: Arc<Metrics>,
    /// Sender verification on direct delivery (`[security] verify_senders`).
    verifier: Option<SenderVerifier>,
}

impl Intake {
    pub fn new(config: Config, store: Store) -> Intake {
        if !config.webhooks.is_empty() {
            // Every way in writes the webhooks' events with the message (the outbox).
            store.enable_outbox();
        }
        let activity = ActivityLog::new(store.clone(), config.activity.clone());
        let verifier = SenderVerifier::from_config(&config).unwrap_or_else(|e| {
            tracing::error!(error = %e, "sender verification is off: no DNS resolver");
            None
        });
        Intake {
            config,
            store,
            activity,
            metrics: Arc::new(Metrics::new()),
            verifier,
        }
    }

    /// The activity log (for its upkeep task and the final flush).
    pub(crate) fn activity(&self) -> &ActivityLog {
        &self.activity
    }
}
