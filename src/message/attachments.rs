//! Attachments: every part with a filename or `Content-Disposition: attachment`, and nested
//! messages. Limits apply per attachment and per message; what is over a limit is not kept
//! but recorded, so the agent knows the customer sent it: one by one up to
//! `max_attachments`, as a count and a total size past it.

use super::structure::ALTERED_SUBTYPES;
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

/// Attachments past `max_attachments`: counted, not described one by one, so that a
/// message of a hundred thousand tiny parts costs a counter rather than a row each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OmittedAttachments {
    pub count: usize,
    /// Their decoded size, added up.
    pub bytes: u64,
}

/// What [`collect`] found.
pub(super) struct Found {
    pub kept: Vec<Attachment>,
    pub skipped: Vec<SkippedAttachment>,
    pub omitted: OmittedAttachments,
}

/// The attachments of `msg`: at most `max_attachments` described (kept, or not kept with
/// why), the rest counted; `html` is its HTML body, whose `cid:` references make an image
/// inline. Bytes are copied only for what is kept.
pub(super) fn collect(msg: &Message<'_>, opts: &ExtractOptions, html: Option<&str>) -> Found {
    let mut found = Found {
        kept: Vec::new(),
        skipped: Vec::new(),
        omitted: OmittedAttachments::default(),
    };
    for part in msg.attachments() {
        let (data, nested): (&[u8], bool) = match &part.body {
            PartType::Message(inner) => (inner.raw_message(), true),
            _ => (part.contents(), is_attached_message(part)),
        };
        let size = data.len();
        if found.kept.len() + found.skipped.len() >= opts.max_attachments {
            found.omitted.count += 1;
            found.omitted.bytes += size as u64;
            continue;
        }
        let content_type = content_type(part, nested);
        let filename = part.attachment_name().map(str::to_string);
        if size > opts.max_attachment_size {
            found.skipped.push(SkippedAttachment {
                filename,
                content_type,
                size,
                reason: format!(
                    "{size} bytes is over max_attachment_size ({})",
                    opts.max_attachment_size
                ),
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
        found.kept.push(Attachment {
            filename,
            content_type,
            size,
            inline: referenced
                || (part
                    .content_disposition()
                    .is_some_and(|d| d.ctype().eq_ignore_ascii_case("inline"))
                    && !nested),
            content_id,
            data: data.to_vec(),
        });
    }
    found
}

fn content_type(part: &MessagePart<'_>, nested: bool) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            // An attached message the parser was kept from nesting (`structure`).
            Some(sub) if is_attached_message(part) => {
                let original = ALTERED_SUBTYPES
                    .iter()
                    .find(|(altered, _)| sub.eq_ignore_ascii_case(altered))
                    .map_or(sub, |(_, original)| original);
                format!("message/{original}").to_ascii_lowercase()
            }
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None if nested => "message/rfc822".into(),
        None => "application/octet-stream".into(),
    }
}

/// A `message/rfc822` or `message/global` part kept as a leaf (its subtype altered).
fn is_attached_message(part: &MessagePart<'_>) -> bool {
    part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("message")
            && ct.subtype().is_some_and(|s| {
                ALTERED_SUBTYPES
                    .iter()
                    .any(|(altered, _)| s.eq_ignore_ascii_case(altered))
            })
    })
}
