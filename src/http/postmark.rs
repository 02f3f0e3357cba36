//! Postmark inbound: JSON with the raw message in `RawEmail` (only when "Include raw email
//! content in JSON payload" is ticked), the envelope recipient in `OriginalRecipient` and
//! Postmark's id in `MessageID`. A form with the same fields is taken too (Rails' tests
//! post one, and a form keeps non-UTF-8 bytes that JSON cannot carry).
//!
//! Postmark retries anything but `200` and `403` for about ten hours, so a refusal for
//! good is a `403`, and bad credentials a `401` (retried: a password fixed within hours
//! loses nothing).

use super::auth;
use super::envelope;
use super::form::{self, media_type};
use super::outcome::{deliver, Inbound, Outcome};
use super::router::{read_body, Client, HttpState};
use super::Ingress;
use crate::intake::Provenance;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;

pub async fn inbound(
    State(state): State<Arc<HttpState>>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(&state, client, &headers, body)
        .await
        .respond(Ingress::Postmark, client.peer.ip())
}

/// The fields used, from JSON or a form.
#[derive(Deserialize, Default)]
struct Payload {
    #[serde(rename = "RawEmail")]
    raw_email: Option<String>,
    #[serde(rename = "OriginalRecipient")]
    original_recipient: Option<String>,
    #[serde(rename = "MessageID")]
    message_id: Option<String>,
}

const NO_RAW: &str = "no RawEmail: tick \"Include raw email content in JSON payload\" in the \
                      Postmark inbound webhook settings";

async fn handle(state: &HttpState, client: Client, headers: &HeaderMap, body: Body) -> Outcome {
    let Some(password) = state.secrets().postmark.clone() else {
        return Outcome::Disabled;
    };
    if !auth::basic_auth_ok(headers, &password) {
        return Outcome::Unauthorized("basic auth missing or wrong".into());
    }
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(outcome) => return outcome,
    };
    let (raw, original_recipient, message_id) =
        if media_type(headers).as_deref() == Some("application/json") {
            match serde_json::from_slice::<Payload>(&body) {
                Ok(p) => (
                    p.raw_email.map(String::into_bytes),
                    p.original_recipient,
                    p.message_id,
                ),
                Err(e) => return Outcome::BadJson(format!("the body is not Postmark's JSON: {e}")),
            }
        } else {
            let mut form = match form::parse(headers, body).await {
                Ok(f) => f,
                Err(e) => return Outcome::Malformed(e),
            };
            let text = |name: &str| form.text(name).ok().flatten().map(str::to_string);
            let (recipient, id) = (text("OriginalRecipient"), text("MessageID"));
            (form.take("RawEmail"), recipient, id)
        };
    let recipients = match original_recipient {
        None => vec![],
        Some(v) => match envelope::address(&v) {
            Ok(a) => vec![a],
            Err(e) => return Outcome::BadRecipient(e),
        },
    };
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Outcome::MissingRaw(NO_RAW.into());
    };
    deliver(
        state,
        Inbound {
            ingress: Ingress::Postmark,
            client,
            sender: None,
            recipients,
            raw,
            provenance: Provenance {
                provider_id: message_id,
                ..Provenance::default()
            },
        },
    )
    .await
}
