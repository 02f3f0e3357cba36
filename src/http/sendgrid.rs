//! SendGrid Inbound Parse with "POST the raw, full MIME message": multipart, the message in
//! `email`, the envelope as JSON in `envelope` (`{"to":[…],"from":"…"}`), the receiving
//! server's verdicts in `SPF` and `dkim`.
//!
//! SendGrid retries only a `5xx` (for three days) and drops the mail after any other
//! answer, so a wrong password is answered `503` and logged as an error: a misconfigured
//! Parse URL delays mail instead of losing it.

use super::auth;
use super::envelope;
use super::form;
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
        .respond(Ingress::Sendgrid, client.peer.ip())
}

/// The `envelope` field.
#[derive(Deserialize)]
struct Envelope {
    to: Option<Vec<String>>,
    from: Option<String>,
}

async fn handle(state: &HttpState, client: Client, headers: &HeaderMap, body: Body) -> Outcome {
    let Some(password) = state.secrets().sendgrid.clone() else {
        return Outcome::Disabled;
    };
    if !auth::basic_auth_ok(headers, &password) {
        return Outcome::Unauthorized("basic auth missing or wrong".into());
    }
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(outcome) => return outcome,
    };
    let mut form = match form::parse(headers, body).await {
        Ok(f) => f,
        Err(e) => return Outcome::Malformed(e),
    };
    let (recipients, sender) = match form.get("envelope") {
        None => (vec![], None),
        Some(json) => match serde_json::from_slice::<Envelope>(json) {
            Err(e) => {
                return Outcome::BadJson(format!(
                    "envelope is not {{\"to\":[…],\"from\":\"…\"}}: {e}"
                ))
            }
            Ok(env) => {
                let mut to = Vec::new();
                for value in env.to.unwrap_or_default() {
                    match envelope::address(&value) {
                        Ok(a) => to.push(a),
                        Err(e) => return Outcome::BadRecipient(e),
                    }
                }
                (to, env.from)
            }
        },
    };
    let text = |name: &str| form.text(name).ok().flatten().map(str::to_string);
    let provenance = Provenance {
        provider_id: None,
        spf: text("SPF"),
        dkim: text("dkim"),
        replay: None,
    };
    let Some(raw) = form.take("email").filter(|r| !r.is_empty()) else {
        return Outcome::MissingRaw(
            "no email field: tick \"POST the raw, full MIME message\" in the Inbound Parse \
             settings (a URL check without a message gets this answer too)"
                .into(),
        );
    };
    deliver(
        state,
        Inbound {
            ingress: Ingress::Sendgrid,
            client,
            sender,
            recipients,
            raw,
            provenance,
        },
    )
    .await
}
