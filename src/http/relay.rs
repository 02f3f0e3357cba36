//! The relay ingress: any MTA (Postfix, Exim, Qmail through `replyd relay`, or curl from a
//! serverless function) posts the message as `message/rfc822` with basic auth, as Rails'
//! `action_mailbox:ingress:*` commands do.
//!
//! The envelope: a `recipient` query parameter wins (`replyd relay --recipient`, from the
//! MTA's own variables, so no pipe flag is needed), else the topmost `X-Original-To` or
//! `Delivered-To` the MTA added; a `sender` parameter (empty for a bounce's null sender)
//! wins over the headers. Checks come in Rails' order: off (`404`), credentials (`401`),
//! media type (`415`).

use super::auth;
use super::envelope;
use super::form::{media_type, urlencoded};
use super::outcome::{deliver, Inbound, Outcome};
use super::router::{read_body, Client, HttpState};
use super::Ingress;
use crate::intake::Provenance;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use std::sync::Arc;

pub async fn inbound(
    State(state): State<Arc<HttpState>>,
    Extension(client): Extension<Client>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(&state, client, &uri, &headers, body)
        .await
        .respond(Ingress::Relay, client.peer.ip())
}

async fn handle(
    state: &HttpState,
    client: Client,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Outcome {
    let Some(password) = state.secrets().relay.clone() else {
        return Outcome::Disabled;
    };
    if !auth::basic_auth_ok(headers, &password) {
        return Outcome::Unauthorized("basic auth missing or wrong".into());
    }
    match media_type(headers) {
        Some(t) if t == "message/rfc822" => {}
        other => {
            return Outcome::WrongMediaType(format!(
                "Content-Type {:?} is not message/rfc822",
                other.unwrap_or_default()
            ))
        }
    }
    let query = urlencoded(uri.query().unwrap_or_default().as_bytes());
    let param = |name: &str| {
        query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    let (recipient, sender) = (param("recipient"), param("sender"));
    let raw = match read_body(body).await {
        Ok(b) => b.to_vec(),
        Err(outcome) => return outcome,
    };
    let recipients = match recipient {
        Some(v) => envelope::addresses(&v),
        None => match envelope::topmost(&raw, &["X-Original-To", "Delivered-To"]) {
            Some(found) => found.map(|a| vec![a]),
            None => Ok(vec![]),
        },
    };
    let recipients = match recipients {
        Ok(r) => r,
        Err(e) => return Outcome::BadRecipient(e),
    };
    let sender = sender.map(|s| s.trim().trim_matches(|c| c == '<' || c == '>').to_string());
    if raw.is_empty() {
        return Outcome::MissingRaw("the request has no message".into());
    }
    deliver(
        state,
        Inbound {
            ingress: Ingress::Relay,
            client,
            sender,
            recipients,
            raw,
            provenance: Provenance::default(),
        },
    )
    .await
}
