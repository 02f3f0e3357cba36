//! The OpenAPI 3.1 document at `/api/v1/openapi.json`, generated from the handlers'
//! `#[utoipa::path]` annotations and the answer types: what a client generator or a
//! contract test reads. What only the running configuration knows (the reply domains a
//! conversation may use) and the bearer scheme are written into it at start.

use super::errors::{ErrorBody, ErrorDetail};
use super::{attachments, conversations, events, messages, model, outgoing, senders};
use crate::config::Config;
use serde_json::{json, Value};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "replyd helpdesk API",
        version = "1",
        description = "Conversations, their messages and attachments, outgoing mail stamping \
                       and new-message events. Every request needs `Authorization: Bearer \
                       <key>` (`replyd api-key create`). Errors are \
                       `{\"error\": {\"code\", \"message\"}}`."
    ),
    paths(
        conversations::create,
        conversations::find,
        conversations::show,
        conversations::close,
        senders::allow,
        senders::rotate,
        messages::page,
        messages::show,
        messages::raw,
        attachments::download,
        outgoing::stamp,
        events::inbox,
        events::poll,
    ),
    components(schemas(
        ErrorBody,
        ErrorDetail,
        conversations::NewConversationRequest,
        senders::AllowSenderRequest,
        senders::AllowedSenderBody,
        model::ConversationBody,
        model::ConversationList,
        model::MessageBody,
        model::MessagePage,
        model::AttachmentBody,
        model::EnvelopeBody,
        model::VerdictsBody,
        model::InboxEntryBody,
        model::InboxPage,
        model::EventBody,
        model::EventPage,
    )),
    tags(
        (name = "conversations", description = "Create, find and close conversations"),
        (name = "messages", description = "Read messages, their raw bytes and attachments"),
        (name = "outgoing", description = "Stamp an agent's mail before sending it"),
        (name = "events", description = "New messages as they arrive; the operator inbox"),
    )
)]
struct ApiDoc;

/// The document, as served.
pub fn document(config: &Config) -> Vec<u8> {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null);
    if let Some(root) = doc.as_object_mut() {
        root.insert("security".into(), json!([{ "bearer": [] }]));
        let components = root.entry("components").or_insert_with(|| json!({}));
        if let Some(components) = components.as_object_mut() {
            components.insert(
                "securitySchemes".into(),
                json!({ "bearer": { "type": "http", "scheme": "bearer",
                        "description": "A key from `replyd api-key create` (rk_…)" } }),
            );
        }
    }
    if let Some(domain) =
        doc.pointer_mut("/components/schemas/NewConversationRequest/properties/domain")
    {
        let domains: Vec<Value> = config
            .server
            .domains
            .iter()
            .map(|d| Value::String(d.clone()))
            .collect();
        if let Some(domain) = domain.as_object_mut() {
            domain.insert(
                "enum".into(),
                json!(domains
                    .into_iter()
                    .map(Some)
                    .chain([None])
                    .collect::<Vec<_>>()),
            );
        }
    }
    serde_json::to_vec_pretty(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_every_path_and_the_domains() {
        let mut config = Config::default();
        config.server.domains = vec!["support.example.com".into()];
        let doc: Value = serde_json::from_slice(&document(&config)).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        for path in [
            "/api/v1/conversations",
            "/api/v1/conversations/{uuid}",
            "/api/v1/conversations/{uuid}/close",
            "/api/v1/conversations/{uuid}/messages",
            "/api/v1/conversations/{uuid}/outgoing",
            "/api/v1/messages/{id}",
            "/api/v1/messages/{id}/raw",
            "/api/v1/attachments/{id}",
            "/api/v1/inbox",
            "/api/v1/events",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
        let domain =
            &doc["components"]["schemas"]["NewConversationRequest"]["properties"]["domain"];
        assert_eq!(domain["enum"], json!(["support.example.com", null]));
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
