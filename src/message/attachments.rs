//! Attachments: every part with a filename or `Content-Disposition: attachment`, and nested
//! messages. Limits apply per attachment and per message; what is over a limit is not kept
//! but recorded, so the agent knows the customer sent it.

use super::ExtractOptions;
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

/// The kept and the skipped attachments of `msg`; `html` is its HTML body, whose `cid:`
/// references make an image inline.
pub(super) fn collect(
    msg: &Message<'_>,
    opts: &ExtractOptions,
    html: Option<&str>,
) -> (Vec<Attachment>, Vec<SkippedAttachment>) {
    let mut kept: Vec<Attachment> = Vec::new();
    let mut skipped = Vec::new();
    for part in msg.attachments() {
        let (data, nested) = match &part.body {
            PartType::Message(inner) => (inner.raw_message().to_vec(), true),
            _ => (part.contents().to_vec(), false),
        };
        let content_type = content_type(part, nested);
        let filename = part.attachment_name().map(str::to_string);
        let size = data.len();
        let reason = if kept.len() >= opts.max_attachments {
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
            skipped.push(SkippedAttachment {
                filename,
                content_type,
                size,
                reason,
            });
            continue;
        }
        let content_id = part
            .content_id()
            .map(|c| c.trim().trim_matches(|c| c == '<' || c == '>').to_string());
        // An image the HTML shows with `cid:` is inline whatever its disposition says.
        let referenced = content_id
            .as_deref()
            .zip(html)
            .is_some_and(|(cid, html)| !cid.is_empty() && html.contains(&format!("cid:{cid}")));
        kept.push(Attachment {
            filename,
            content_type,
            size,
            inline: referenced
                || (part
                    .content_disposition()
                    .is_some_and(|d| d.ctype().eq_ignore_ascii_case("inline"))
                    && !nested),
            content_id,
            data,
        });
    }
    (kept, skipped)
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
