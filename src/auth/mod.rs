//! Who really sent it: SPF, DKIM, DMARC and ARC on direct delivery.
//!
//! A reply address is a bearer secret and a From line costs nothing to forge, so when
//! replyd is the MX itself it checks the sender the way the large mailbox providers do, and
//! records what it found: our own `Authentication-Results` (stored beside the raw bytes,
//! like the trace header), the verdicts with their identities, and whether the sender is
//! **verified** — the From domain is authenticated: DMARC pass; or, for a domain without a
//! DMARC record, a DKIM pass aligned with From or an SPF pass for a MAIL FROM in the From
//! domain; or a chain sealed by a trusted ARC sealer. Mail through a trusted relay keeps
//! the relay's verdicts ([`crate::relay`]) and is not checked again.
//!
//! - [`dns`]: the resolver (`[dns]`), its time limit per look-up and its TTL caches;
//! - [`spf`]: SPF, started before the data arrives ([`SpfCheck`]);
//! - [`void`]: the SPF void-lookup limit mail-auth does not enforce;
//! - [`verify`]: the checks for one message, within the time limit per message;
//! - [`results`]: the `Authentication-Results` field and the result words.

pub mod dns;
pub mod results;
pub mod spf;
pub mod verify;
pub mod void;

use crate::config::{Config, SenderPolicy};
use dns::DnsCaches;
use mail_auth::MessageAuthenticator;
pub use spf::{SpfCheck, SpfRequest};
use std::sync::Arc;
pub use verify::{SpfSource, Subject, Verdict};

/// Sender verification as configured (`[security]`, `[dns]`); one for the process.
pub struct SenderVerifier {
    auth: Arc<MessageAuthenticator>,
    caches: Arc<DnsCaches>,
    authserv_id: String,
    host: String,
    trusted_arc_sealers: Vec<String>,
    message_timeout: std::time::Duration,
    pub policy: SenderPolicy,
}

impl SenderVerifier {
    /// `None` when `[security] verify_senders` is off.
    pub fn from_config(config: &Config) -> Result<Option<SenderVerifier>, String> {
        if !config.security.verify_senders {
            return Ok(None);
        }
        Ok(Some(SenderVerifier {
            auth: Arc::new(dns::authenticator(&config.dns)?),
            caches: Arc::new(DnsCaches::new(config.dns.cache_entries)),
            authserv_id: config
                .security
                .authserv_id
                .clone()
                .unwrap_or_else(|| config.server.hostname.clone()),
            host: config.server.hostname.clone(),
            trusted_arc_sealers: config.security.trusted_arc_sealers.clone(),
            message_timeout: config.dns.message_timeout,
            policy: config.security.sender_policy,
        }))
    }

    /// Starts the SPF check of a transaction (HELO and MAIL FROM identities), to be
    /// handed to [`SenderVerifier::verify`] at the end of its data.
    pub fn start_spf(&self, request: SpfRequest) -> SpfCheck {
        SpfCheck::start(
            self.auth.clone(),
            self.caches.clone(),
            self.host.clone(),
            self.message_timeout,
            request,
        )
    }

    /// Checks one message, within the time limit per message from now.
    pub async fn verify(&self, subject: &Subject<'_>, spf: SpfSource<'_>) -> Verdict {
        verify::Checks {
            verifier: self,
            auth: &self.auth,
            caches: &self.caches,
            authserv_id: &self.authserv_id,
            trusted_arc_sealers: &self.trusted_arc_sealers,
            message_timeout: self.message_timeout,
        }
        .run(subject, spf)
        .await
    }
}

impl From<&Subject<'_>> for SpfRequest {
    fn from(s: &Subject<'_>) -> SpfRequest {
        SpfRequest {
            ip: s.ip,
            helo: s.helo.to_string(),
            mail_from: s.mail_from.to_string(),
        }
    }
}
