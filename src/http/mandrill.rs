//! Mandrill (Mailchimp Transactional) inbound: a urlencoded `mandrill_events`, a JSON array
//! of up to 1,000 events; each `inbound` event carries the raw message in `msg.raw_msg` and
//! the address Mandrill received it for in `msg.email`.
//!
//! The signature (`X-Mandrill-Signature`) is HMAC-SHA1, base64, over the webhook URL *as
//! entered at Mandrill* (`[ingress.mandrill] public_url`, not what a proxy forwards) then
//! every POST field, name then decoded value, sorted by name. When a URL is saved, Mandrill
//! checks it with a `HEAD` (answered `200`), else with a POST of `mandrill_events=[]`
//! signed with the public key `test-webhook`, accepted for that empty list only.
//!
//! Every event is its own delivery: a bad event is refused and logged on its own without
//! failing the others; the answer is `200` once each is stored or refused for good, `503`
//! if any met a storage fault (Mandrill retries the batch, whose stored events are then
//! recognised as duplicates).

use super::auth;
use super::envelope;
use super::form::{self, Form};
use super::outcome::{deliver, Inbound, Outcome};
use super::router::{read_body, Client, HttpState};
use super::Ingress;
use crate::intake::Provenance;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::sync::Arc;

/// The key Mandrill signs its URL check with when the `HEAD` failed.
const TEST_KEY: &str = "test-webhook";

/// `GET` and `HEAD`: Mandrill's URL check.
pub async fn check(State(state): State<Arc<HttpState>>) -> Response {
    if state.secrets().mandrill.is_none() {
        return (StatusCode::NOT_FOUND, "this ingress is not configured\n").into_response();
    }
    (StatusCode::OK, "ok\n").into_response()
}

pub async fn inbound(
    State(state): State<Arc<HttpState>>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(&state, client, &headers, body)
        .await
        .respond(Ingress::Mandrill, client.peer.ip())
}

/// The string Mandrill signs: the URL, then each field's name and value, sorted by name.
fn signed_data(url: &str, form: &Form) -> Vec<u8> {
    let mut fields: Vec<&(String, Vec<u8>)> = form.fields().iter().collect();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    let mut signed = url.as_bytes().to_vec();
    for (name, value) in fields {
        signed.extend_from_slice(name.as_bytes());
        signed.extend_from_slice(value);
    }
    signed
}

async fn handle(state: &HttpState, client: Client, headers: &HeaderMap, body: Body) -> Outcome {
    let Some(key) = state.secrets().mandrill.clone() else {
        return Outcome::Disabled;
    };
    let url = state
        .intake
        .config
        .ingress
        .mandrill
        .public_url
        .clone()
        .unwrap_or_default();
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(outcome) => return outcome,
    };
    let form = match form::parse(headers, body).await {
        Ok(f) => f,
        Err(e) => return Outcome::Malformed(e),
    };
    let Some(signature) = headers
        .get("x-mandrill-signature")
        .and_then(|v| v.to_str().ok())
    else {
        return Outcome::Unauthorized("no X-Mandrill-Signature header".into());
    };
    let signed = signed_data(&url, &form);
    let events = form.get("mandrill_events");
    if !auth::mandrill_signature_ok(&key, &signed, signature) {
        let url_check = events.is_some_and(|e| e.trim_ascii() == b"[]");
        if url_check && auth::mandrill_signature_ok(TEST_KEY, &signed, signature) {
            return Outcome::Stored {
                what: "Mandrill's URL check (test-webhook key, no events): nothing to store".into(),
            };
        }
        return Outcome::Unauthorized(format!(
            "the signature does not match: is [ingress.mandrill] webhook_key the route's \
             webhook key, and public_url ({url:?}) the URL exactly as entered at Mandrill?"
        ));
    }
    let Some(events) = events else {
        return Outcome::Malformed("no mandrill_events field".into());
    };
    let events: Vec<Value> = match serde_json::from_slice(events) {
        Ok(Value::Array(events)) => events,
        Ok(_) => return Outcome::BadJson("mandrill_events is not a JSON array".into()),
        Err(e) => return Outcome::BadJson(format!("mandrill_events is not JSON: {e}")),
    };
    let deliveries = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.get("event").and_then(Value::as_str) == Some("inbound"))
        .map(|(i, event)| deliver_event(state, client, i, event));
    let outcomes = futures_util::future::join_all(deliveries).await;
    let total = outcomes.len();
    let mut stored = 0;
    let mut faults = Vec::new();
    for (i, outcome) in outcomes {
        match outcome {
            Outcome::Stored { .. } => stored += 1,
            Outcome::StorageFault(e) => faults.push(format!("event {i}: {e}")),
            other => {
                tracing::warn!(ingress = "mandrill", peer = %client.peer, event = i, "event refused: {other:?}")
            }
        }
    }
    if !faults.is_empty() {
        return Outcome::StorageFault(format!(
            "{} of {total} inbound events not stored: {}",
            faults.len(),
            faults.join("; ")
        ));
    }
    Outcome::Stored {
        what: format!("{stored} of {total} inbound events stored, the rest refused for good"),
    }
}

async fn deliver_event(
    state: &HttpState,
    client: Client,
    index: usize,
    event: &Value,
) -> (usize, Outcome) {
    let msg = event.get("msg");
    let text = |name: &str| msg.and_then(|m| m.get(name)).and_then(Value::as_str);
    let Some(raw) = text("raw_msg").filter(|r| !r.is_empty()) else {
        return (
            index,
            Outcome::MissingRaw("event without msg.raw_msg".into()),
        );
    };
    let recipients = match text("email") {
        None => vec![],
        Some(v) => match envelope::address(v) {
            Ok(a) => vec![a],
            Err(e) => return (index, Outcome::BadRecipient(e)),
        },
    };
    let spf = msg
        .and_then(|m| m.pointer("/spf/result"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let dkim = msg.and_then(|m| m.get("dkim")).map(|d| {
        let flag = |name: &str| d.get(name).and_then(Value::as_bool).unwrap_or(false);
        match (flag("signed"), flag("valid")) {
            (_, true) => "pass",
            (true, false) => "fail",
            (false, false) => "none",
        }
        .to_string()
    });
    let provider_id = event
        .get("_id")
        .or_else(|| msg.and_then(|m| m.get("_id")))
        .and_then(Value::as_str)
        .map(str::to_string);
    let outcome = deliver(
        state,
        Inbound {
            ingress: Ingress::Mandrill,
            client,
            sender: text("from_email").map(str::to_string),
            recipients,
            raw: raw.as_bytes().to_vec(),
            provenance: Provenance {
                provider_id,
                spf,
                dkim,
                replay: None,
            },
        },
    )
    .await;
    (index, outcome)
}
