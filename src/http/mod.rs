//! Mail that arrives over HTTP: the Mailgun, SendGrid, Mandrill and Postmark inbound
//! webhooks and the relay ingress (any MTA posting `message/rfc822`).
//!
//! Each ingress sits on its Rails Action Mailbox path (so a team moving from Chatwoot
//! changes only the host name) and a short alias, authenticates the way its provider signs,
//! and hands the message to the same [`crate::intake::Intake`] as SMTP: same recipient
//! rules, same extraction, same store and dedupe, and the same promise, an answer of `200`
//! only after the commit. What differs per provider is only where the fields are and which
//! status codes make it retry (`outcome.rs`): a storage fault must be retried, a refusal
//! for good must not be, and neither may lose the mail.
//!
//! The helpdesk API (`api/`) and the operator's endpoints (`operator/`) are served by the
//! same listener code, on `[http] listen` or on addresses of their own ([`Face`]).
//!
//! Layout: `serve.rs` the listeners and their shutdown, `router.rs` the faces, paths and
//! limits, `operator/` the operator's endpoints (metrics, health), `console/` the operator's web
//! console, `api/` the helpdesk API,
//! `auth.rs` the signatures, `form.rs` the bodies (urlencoded and multipart, as bytes),
//! `envelope.rs` where recipients come from, `outcome.rs` the delivery and the status
//! codes, then one file per ingress.

pub(crate) mod api;
mod auth;
mod console;
mod envelope;
mod form;
mod mailgun;
mod mandrill;
mod operator;
mod outcome;
mod postmark;
mod relay;
mod router;
mod sendgrid;
mod serve;

pub(crate) use router::{app, HttpState, Secrets};
pub(crate) use serve::{bind, serve, Acceptor, Group};

/// A group of routes a listener serves. The ingresses are always on `[http] listen`; a face
/// with addresses of its own (`[api] listen`, `[operator] listen`) is served only there,
/// else on `[http] listen` too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Face {
    /// The provider webhooks and the relay ingress.
    Ingress,
    /// The helpdesk API, `/api/v1`.
    Api,
    /// `/metrics`, `/healthz`, `/readyz`, and the web console (`/console/`) when enabled.
    Operator,
}

/// An HTTP way in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ingress {
    Mailgun,
    Sendgrid,
    Mandrill,
    Postmark,
    Relay,
}

impl Ingress {
    /// The name in config keys, logs and the stored `ingress` column.
    pub fn name(self) -> &'static str {
        match self {
            Ingress::Mailgun => "mailgun",
            Ingress::Sendgrid => "sendgrid",
            Ingress::Mandrill => "mandrill",
            Ingress::Postmark => "postmark",
            Ingress::Relay => "relay",
        }
    }
}

impl std::fmt::Display for Ingress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
