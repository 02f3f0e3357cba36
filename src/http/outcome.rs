//! One delivery over HTTP, and the status code each provider must get for its outcome.
//!
//! Providers differ in what makes them retry: Mailgun stops on `200` and `406` only,
//! SendGrid retries only a `5xx`, Postmark stops on `200` and `403`. So the outcome is
//! decided once, in the intake's terms, and only then turned into each provider's code
//! ([`Outcome::status`]): a storage fault is always a `503` (retried: a 4xx for it would
//! lose mail), a refusal for good is whatever stops that provider, and a wrong SendGrid
//! password is a `503` too, logged as an error, since SendGrid would drop mail on a `401`.
//!
//! Over SMTP an unknown recipient is refused at `RCPT` and the sender learns of it. Over
//! HTTP the provider has already accepted the mail and nobody can tell the sender any
//! more, so a copy goes to the operator inbox with the reason (`[ingress]
//! unknown_recipient = "inbox"`, the default) while the provider still gets its
//! do-not-retry answer.

use super::envelope;
use super::router::{Client, HttpState};
use super::Ingress;
use crate::config::UnknownRecipient;
use crate::intake::{Arrival, DeliveryError, Provenance, Refusal, WayIn};
use crate::store::{Destination, InboxReason, StoreError, Stored};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::IpAddr;

/// What became of a request, in terms common to every ingress.
#[derive(Debug)]
pub enum Outcome {
    /// Committed (or already stored: a retry), or nothing to store (a check, no events).
    Stored { what: String },
    /// The ingress has no secret configured: off.
    Disabled,
    /// Missing or wrong credentials or signature.
    Unauthorized(String),
    /// The payload is not what the provider sends (a field missing, a broken form).
    Malformed(String),
    /// The raw message field is missing (Postmark's checkbox, SendGrid's option).
    MissingRaw(String),
    /// JSON that does not parse where JSON is expected.
    BadJson(String),
    /// An envelope address (recipient or sender) with CR/LF, or not an address.
    BadRecipient(String),
    /// Not `message/rfc822` (relay).
    WrongMediaType(String),
    /// Refused for good: an unknown, closed or foreign recipient, or content the rules
    /// refuse (a mail loop, a huge header block).
    Rejected(String),
    /// Past `max_request_size` or `max_message_size`.
    TooLarge(String),
    /// The store failed; a retry will succeed once it recovers.
    StorageFault(String),
}

impl Outcome {
    /// The status code `ingress`'s provider must get (issue 17, point 5).
    pub fn status(&self, ingress: Ingress) -> StatusCode {
        use Ingress::*;
        match (self, ingress) {
            (Outcome::Stored { .. }, _) => StatusCode::OK,
            (Outcome::Disabled, _) => StatusCode::NOT_FOUND,
            (Outcome::Unauthorized(_), Sendgrid) => StatusCode::SERVICE_UNAVAILABLE,
            (Outcome::Unauthorized(_), _) => StatusCode::UNAUTHORIZED,
            (Outcome::BadJson(_), Mandrill) => StatusCode::UNPROCESSABLE_ENTITY,
            (Outcome::WrongMediaType(_), Relay) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            (Outcome::BadRecipient(_), _) => StatusCode::BAD_REQUEST,
            (
                Outcome::Malformed(_)
                | Outcome::MissingRaw(_)
                | Outcome::BadJson(_)
                | Outcome::WrongMediaType(_),
                Postmark,
            ) => StatusCode::UNPROCESSABLE_ENTITY,
            (
                Outcome::Malformed(_)
                | Outcome::MissingRaw(_)
                | Outcome::BadJson(_)
                | Outcome::WrongMediaType(_),
                _,
            ) => StatusCode::BAD_REQUEST,
            (Outcome::Rejected(_), Mailgun) => StatusCode::NOT_ACCEPTABLE,
            (Outcome::Rejected(_), Sendgrid | Mandrill) => StatusCode::OK,
            (Outcome::Rejected(_), Postmark) => StatusCode::FORBIDDEN,
            (Outcome::Rejected(_), Relay) => StatusCode::UNPROCESSABLE_ENTITY,
            (Outcome::TooLarge(_), _) => StatusCode::PAYLOAD_TOO_LARGE,
            (Outcome::StorageFault(_), _) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// What the answer's body and the log say.
    fn text(&self) -> &str {
        match self {
            Outcome::Stored { what } => what,
            Outcome::Disabled => "this ingress is not configured",
            Outcome::Unauthorized(t)
            | Outcome::Malformed(t)
            | Outcome::MissingRaw(t)
            | Outcome::BadJson(t)
            | Outcome::BadRecipient(t)
            | Outcome::WrongMediaType(t)
            | Outcome::Rejected(t)
            | Outcome::TooLarge(t)
            | Outcome::StorageFault(t) => t,
        }
    }

    /// Logs the outcome at the level it deserves and answers with the provider's code.
    /// The texts carry client values only `{:?}`-escaped.
    pub fn respond(self, ingress: Ingress, peer: IpAddr) -> Response {
        let status = self.status(ingress);
        let text = self.text();
        let code = status.as_u16();
        match &self {
            Outcome::Stored { .. } => tracing::info!(%ingress, %peer, code, "{text}"),
            Outcome::StorageFault(_) => {
                tracing::error!(%ingress, %peer, code, "not stored, the provider will retry: {text}")
            }
            Outcome::Unauthorized(_) if ingress == Ingress::Sendgrid => tracing::error!(
                %ingress, %peer, code,
                "SendGrid credentials refused (answered 503 so SendGrid retries; check the \
                 password in the Parse URL): {text}"
            ),
            Outcome::MissingRaw(_) => tracing::error!(%ingress, %peer, code, "{text}"),
            Outcome::Disabled => tracing::info!(%ingress, %peer, code, "{text}"),
            _ => tracing::warn!(%ingress, %peer, code, "refused: {text}"),
        }
        let mut response = (status, format!("{text}\n")).into_response();
        let basic = matches!(ingress, Ingress::Postmark | Ingress::Relay);
        if basic && matches!(self, Outcome::Unauthorized(_)) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Action Mailbox\""),
            );
        }
        if matches!(self, Outcome::StorageFault(_)) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        }
        response
    }
}

/// One message taken off a request, with its envelope.
pub struct Inbound {
    pub ingress: Ingress,
    pub client: Client,
    /// `None`: the provider gave none; taken from the headers.
    pub sender: Option<String>,
    /// The envelope recipients the provider gave (checked addresses); empty: the reply
    /// addresses in To and Cc.
    pub recipients: Vec<String>,
    pub raw: Vec<u8>,
    pub provenance: Provenance,
}

/// Resolves the recipients by the rules SMTP uses and stores the message through the
/// intake; resolves once committed.
pub async fn deliver(state: &HttpState, inbound: Inbound) -> Outcome {
    let intake = &state.intake;
    let config = &intake.config;
    if inbound.raw.len() > config.limits.max_message_size {
        return Outcome::TooLarge(format!(
            "the message is {} bytes, over the limit of {}",
            inbound.raw.len(),
            config.limits.max_message_size
        ));
    }
    if let Some(sender) = inbound
        .sender
        .as_deref()
        .filter(|s| s.contains(['\r', '\n', '\0']))
    {
        return Outcome::BadRecipient(format!("sender {sender:?} contains CR, LF or NUL"));
    }
    let candidates = if inbound.recipients.is_empty() {
        envelope::reply_addresses(&inbound.raw, &config.server.domains)
    } else {
        inbound.recipients.clone()
    };
    let sender = inbound
        .sender
        .unwrap_or_else(|| envelope::sender_from_headers(&inbound.raw));
    let arrival = Arrival {
        helo: None,
        remote_ip: Some(inbound.client.peer.ip()),
        way_in: WayIn::Http {
            ingress: inbound.ingress,
            tls: inbound.client.tls,
        },
        trusted_relay: false,
    };
    let mut accepted: Vec<(String, Destination)> = Vec::new();
    let mut refused: Vec<(String, Refusal)> = Vec::new();
    for address in candidates {
        match intake.check_recipient(&arrival, &sender, &address).await {
            Ok(destination) => accepted.push((address, destination)),
            Err(refusal) if refusal.is_transient() => {
                return Outcome::StorageFault(format!(
                    "recipient {address:?} could not be looked up: {refusal}"
                ))
            }
            Err(refusal) => refused.push((address, refusal)),
        }
    }
    for (address, refusal) in &refused {
        tracing::info!(ingress = %inbound.ingress, recipient = ?address, reply = %refusal, "recipient refused");
    }
    let rejected = accepted.is_empty();
    let why = match refused.first() {
        Some((address, refusal)) => format!("recipient {address:?}: {refusal}"),
        None => "no envelope recipient, and no reply address in To or Cc".to_string(),
    };
    if rejected {
        if config.ingress.unknown_recipient == UnknownRecipient::Drop {
            return Outcome::Rejected(format!("{why}; dropped ([ingress] unknown_recipient)"));
        }
        let address = refused.first().map(|(a, _)| a.clone()).unwrap_or_default();
        accepted.push((
            address,
            Destination::Operator(InboxReason::UnknownRecipient),
        ));
    }
    let result = intake
        .deliver_with(
            &arrival,
            sender,
            accepted,
            inbound.raw.into(),
            false,
            inbound.provenance,
        )
        .await;
    match result {
        Ok(stored) if rejected => Outcome::Rejected(format!(
            "{why}; copied to the operator inbox as {}",
            ids(&stored)
        )),
        Ok(stored) => {
            let duplicate = stored.iter().all(|s| {
                matches!(
                    s,
                    Stored::Message {
                        duplicate: true,
                        ..
                    }
                )
            });
            let verb = if duplicate {
                "already stored"
            } else {
                "stored"
            };
            Outcome::Stored {
                what: format!("{verb} as {}", ids(&stored)),
            }
        }
        Err(DeliveryError::Refused(refusal)) if refusal.is_transient() => {
            Outcome::StorageFault(refusal.to_string())
        }
        Err(DeliveryError::Refused(refusal)) => {
            Outcome::Rejected(format!("message refused: {refusal}"))
        }
        Err(DeliveryError::Store(StoreError::TokenReused(why))) => Outcome::Unauthorized(why),
        Err(DeliveryError::Store(e)) => Outcome::StorageFault(e.to_string()),
    }
}

fn ids(stored: &[Stored]) -> String {
    let ids: Vec<String> = stored.iter().map(ToString::to_string).collect();
    ids.join(" ")
}
