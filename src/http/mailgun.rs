//! Mailgun: a route whose `forward()` action posts to a URL ending in `/mime`, which makes
//! Mailgun send the raw message in `body-mime` (urlencoded, or multipart).
//!
//! The signature is HMAC-SHA256 over `timestamp` then `token` with the webhook signing key.
//! Mailgun retries for 8 hours with the original signature, so the timestamp is accepted
//! within `[ingress] max_age` of now (24 hours by default), not Rails' 2 minutes that turn
//! every retry after an outage into a `401` and, 8 hours later, a lost mail. Since the
//! signature does not cover the message, used tokens are recorded with what they came with
//! (`store/replay.rs`): the same token with other content is refused.

use super::auth;
use super::envelope;
use super::form;
use super::outcome::{deliver, Inbound, Outcome};
use super::router::{read_body, Client, HttpState};
use super::Ingress;
use crate::intake::Provenance;
use crate::store::ReplayToken;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::Response;
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub async fn inbound(
    State(state): State<Arc<HttpState>>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(&state, client, &headers, body)
        .await
        .respond(Ingress::Mailgun, client.peer.ip())
}

async fn handle(state: &HttpState, client: Client, headers: &HeaderMap, body: Body) -> Outcome {
    let Some(key) = state.secrets().mailgun.clone() else {
        return Outcome::Disabled;
    };
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(outcome) => return outcome,
    };
    let mut form = match form::parse(headers, body).await {
        Ok(f) => f,
        Err(e) => return Outcome::Malformed(e),
    };
    let field = |name: &str| form.text(name).map(|v| v.map(str::to_string));
    let (timestamp, token, signature) =
        match (field("timestamp"), field("token"), field("signature")) {
            (Ok(Some(t)), Ok(Some(k)), Ok(Some(s))) => (t, k, s),
            _ => {
                return Outcome::Malformed(
                    "timestamp, token or signature is missing (or not text)".into(),
                )
            }
        };
    if !auth::mailgun_signature_ok(&key, &timestamp, &token, &signature) {
        return Outcome::Unauthorized(
            "the signature does not match: is [ingress.mailgun] signing_key the HTTP webhook \
             signing key (not the API key)?"
                .into(),
        );
    }
    let Ok(signed_at) = timestamp.trim().parse::<i64>() else {
        return Outcome::Malformed(format!("timestamp {timestamp:?} is not a number"));
    };
    let ingress = &state.intake.config.ingress;
    let max_age = ingress.max_age.as_secs() as i64;
    let now = ingress.clock.now();
    if (now - signed_at).abs() > max_age {
        return Outcome::Unauthorized(format!(
            "the signature's timestamp {signed_at} is more than [ingress] max_age \
             ({max_age} s) from now ({now})"
        ));
    }
    let recipients = match form.text("recipient") {
        Ok(None) => vec![],
        Ok(Some(v)) => match envelope::addresses(v) {
            Ok(a) => a,
            Err(e) => return Outcome::BadRecipient(e),
        },
        Err(e) => return Outcome::BadRecipient(e),
    };
    let sender = match form.text("sender") {
        Ok(s) => s.map(str::to_string),
        Err(e) => return Outcome::Malformed(e),
    };
    let provider_id = form.text("Message-Id").ok().flatten().map(str::to_string);
    let Some(raw) = form.take("body-mime").filter(|r| !r.is_empty()) else {
        return Outcome::MissingRaw(
            "no body-mime field: the Mailgun route must forward() to a URL ending in /mime".into(),
        );
    };
    let digest = content_digest(&recipients, sender.as_deref(), &raw);
    match state
        .intake
        .store
        .used_token(Ingress::Mailgun.name(), &token)
        .await
    {
        Ok(Some(used)) if used != digest => {
            return Outcome::Unauthorized(format!(
                "token {token:?} was used before with other content: a replayed signature"
            ))
        }
        Ok(_) => {}
        Err(e) => return Outcome::StorageFault(format!("the used-token record: {e}")),
    }
    let provenance = Provenance {
        provider_id,
        replay: Some(ReplayToken {
            ingress: Ingress::Mailgun.name().to_string(),
            token,
            digest,
            expires_at: signed_at.saturating_add(max_age),
        }),
        ..Provenance::default()
    };
    deliver(
        state,
        Inbound {
            ingress: Ingress::Mailgun,
            client,
            sender,
            recipients,
            raw,
            provenance,
        },
    )
    .await
}

/// What a token vouches for: the envelope and the message, each length-prefixed so no two
/// different requests hash alike.
fn content_digest(recipients: &[String], sender: Option<&str>, raw: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    let mut part = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    part(recipients.join(",").as_bytes());
    part(sender.unwrap_or("\u{0}none").as_bytes());
    part(raw);
    h.finalize().into()
}
