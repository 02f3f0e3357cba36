//! Attachments: every part with a filename or `Content-Disposition: attachment`, and nested
//! messages. Limits apply per attachment and per message; what is over a limit is not kept
//! but recorded, so the agent knows the customer sent it.

use super::{ExtractOptions, ParsedMessage};
use mail_parser::{Message, MessagePart, MimeHeaders, PartType};
use serde::Serialize;

/// A kept attachment.
#[derive(Debug, Clone, Serialize)]
pub struct Attachment {
    pub filename: Option<String>,
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: usize,
    pub content_id: Option<String>,
    pub inline: bool,
    #[serde(skip)]
    pub data: Vec<u8>,
}

/// An attachment that was not kept, and why.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedAttachment {
    pub filename: Option<String>,
    pub content_type: String,
    pub size: usize,
    pub reason: String,
}

pub(super) fn collect(msg: &Message<'_>, opts: &ExtractOptions, out: &mut ParsedMessage) {
    for part in msg.attachments() {
        let (data, nested) = match &part.body {
            PartType::Message(inner) => (inner.raw_message().to_vec(), true),
            _ => (part.contents().to_vec(), false),
        };
        let content_type = content_type(part, nested);
        let filename = part.attachment_name().map(str::to_string);
        let size = data.len();
        let reason = if out.attachments.len() >= opts.max_attachments {
            Some(format!(
                "more than max_attachments ({}) in one message",
                opts.max_attachments
            ))
        } else if size > opts.max_attachment_size {
            Some(format!(
                "{size} bytes is over max_attachment_size ({})",
                opts.max_attachment_size
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            out.skipped_attachments.push(SkippedAttachment {
                filename,
                content_type,
                size,
                reason,
            });
            continue;
        }
        out.attachments.push(Attachment {
            filename,
            content_type,
            size,
            content_id: part
                .content_id()
                .map(|c| c.trim_matches(|c| c == '<' || c == '>').to_string()),
            inline: part
                .content_disposition()
                .is_some_and(|d| d.ctype().eq_ignore_ascii_case("inline")),
            data,
        });
    }
}

fn content_type(part: &MessagePart<'_>, nested: bool) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None if nested => "message/rfc822".into(),
        None => "application/octet-stream".into(),
    }
}
