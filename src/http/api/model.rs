//! What the API answers with: the store's records as JSON, with the URLs a client follows.
//! These types, not the store's, are what the OpenAPI document describes, so the store
//! keeps no HTTP or schema concern.

use crate::message::safe_filename;
use crate::store::{AttachmentInfo, Conversation, InboxEntry, StoredMessage};
use serde::Serialize;
use utoipa::ToSchema;

/// A conversation and its reply address.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationBody {
    /// The conversation's id.
    pub uuid: String,
    /// The helpdesk's own id for it, when it gave one.
    pub external_id: Option<String>,
    /// Where the customer's replies go: put it in `Reply-To` (stamping does).
    pub reply_address: String,
    /// `open` (replies accepted) or `closed`.
    pub status: String,
    pub contact: Option<String>,
    pub channel: String,
    pub subject: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// When the reply address stops being accepted (Unix seconds), if ever.
    pub expires_at: Option<i64>,
    /// Messages stored in it, both directions.
    pub message_count: i64,
    /// This conversation's messages, oldest first.
    pub messages_url: String,
}

impl From<Conversation> for ConversationBody {
    fn from(c: Conversation) -> Self {
        ConversationBody {
            messages_url: format!("/api/v1/conversations/{}/messages", c.uuid),
            uuid: c.uuid,
            external_id: c.external_id,
            reply_address: c.reply_address,
            status: c.status.as_str().to_string(),
            contact: c.contact_email,
            channel: c.channel,
            subject: c.subject,
            created_at: c.created_at,
            expires_at: c.expires_at,
            message_count: c.message_count,
        }
    }
}

/// Conversations found.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationList {
    pub conversations: Vec<ConversationBody>,
}

/// How a message reached replyd.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnvelopeBody {
    /// `MAIL FROM` (empty for the null sender).
    pub sender: Option<String>,
    /// The accepted recipients.
    pub recipients: Option<String>,
    /// The client (behind a trusted relay: the relay's client).
    pub remote_ip: Option<String>,
    pub helo: Option<String>,
    /// The trusted relay that handed it over, if one did.
    pub relay_ip: Option<String>,
    pub relay_helo: Option<String>,
    /// The HTTP ingress it came through (`mailgun`, `relay`…); null for SMTP and LMTP.
    pub ingress: Option<String>,
    /// The provider's own id for it.
    pub provider_id: Option<String>,
}

/// The SPF, DKIM and DMARC verdicts: ours when replyd verified the sender itself
/// (`[security] verify_senders`), else those of the relay we trust, as it wrote them.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerdictsBody {
    pub spf: Option<String>,
    pub dkim: Option<String>,
    pub dmarc: Option<String>,
    /// The ARC chain's verdict (ours only).
    pub arc: Option<String>,
    /// Whether the From domain is authenticated (DMARC pass, or for a domain without DMARC
    /// an aligned DKIM pass or an SPF pass of the From domain); null when replyd did not
    /// verify the sender.
    pub sender_verified: Option<bool>,
    /// Whether the sender may write into the conversation (the contact, an address an agent
    /// wrote to, or one the helpdesk allowed); null when replyd did not verify the sender.
    pub sender_allowed: Option<bool>,
}

/// An attachment's description.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentBody {
    pub id: i64,
    /// The name the sender gave (never use it as a file name: see `safe_filename`).
    pub filename: Option<String>,
    /// A name it can be saved under.
    pub safe_filename: String,
    pub content_type: String,
    pub size: i64,
    pub content_id: Option<String>,
    pub inline: bool,
    /// Whether its bytes were kept (`url` downloads them).
    pub kept: bool,
    /// Why they were not.
    pub skipped_reason: Option<String>,
    /// Where its bytes are, when kept.
    pub url: Option<String>,
}

impl From<AttachmentInfo> for AttachmentBody {
    fn from(a: AttachmentInfo) -> Self {
        let kept = a.skipped_reason.is_none();
        AttachmentBody {
            safe_filename: safe_filename(a.filename.as_deref(), &a.content_type),
            url: kept.then(|| format!("/api/v1/attachments/{}", a.id)),
            id: a.id,
            filename: a.filename,
            content_type: a.content_type,
            size: a.size,
            content_id: a.content_id,
            inline: a.inline,
            kept,
            skipped_reason: a.skipped_reason,
        }
    }
}

/// A message, with everything the store knows of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageBody {
    pub id: i64,
    /// The conversation's UUID.
    pub conversation: String,
    /// `incoming` (from the customer) or `outgoing` (an agent's, stamped).
    pub direction: String,
    /// Its Message-ID, without angle brackets.
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Option<String>,
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub to: Option<String>,
    pub cc: Option<String>,
    pub subject: Option<String>,
    /// The `Date:` header as written.
    pub date: Option<String>,
    /// When replyd stored it (RFC 3339).
    pub received_at: String,
    /// The new text of a reply, without the quoted history and signature.
    pub reply_text: Option<String>,
    /// What was cut from the reply: the quoted history.
    pub quoted_text: Option<String>,
    pub text_body: Option<String>,
    pub html_body: Option<String>,
    /// Why it looks sent by a machine (`auto_reply`, `bounce`…), if it does.
    pub automated: Option<String>,
    /// For a delivery report: the outgoing message it is about.
    pub related_message: Option<i64>,
    /// Whether the sender is the conversation's contact.
    pub sender_is_contact: Option<bool>,
    pub envelope: EnvelopeBody,
    pub verdicts: VerdictsBody,
    /// What extraction noticed (`html_only`, `truncated`…).
    pub flags: Vec<String>,
    pub notes: String,
    pub attachments: Vec<AttachmentBody>,
    /// Attachments not described in `attachments`, and their size.
    pub omitted_attachments: i64,
    pub omitted_attachment_bytes: i64,
    /// Where this message is.
    pub url: String,
    /// Its bytes as received (`message/rfc822`).
    pub raw_url: String,
}

impl From<StoredMessage> for MessageBody {
    fn from(m: StoredMessage) -> Self {
        MessageBody {
            url: format!("/api/v1/messages/{}", m.id),
            raw_url: format!("/api/v1/messages/{}/raw", m.id),
            id: m.id,
            conversation: m.conversation,
            direction: m.direction.as_str().to_string(),
            message_id: m.message_id,
            in_reply_to: m.in_reply_to,
            references: m.references,
            from: m.from,
            from_name: m.from_name,
            to: m.to,
            cc: m.cc,
            subject: m.subject,
            date: m.date,
            received_at: m.received_at,
            reply_text: m.reply_text,
            quoted_text: m.quoted_text,
            text_body: m.text_body,
            html_body: m.html_body,
            automated: m.automated.map(|a| a.as_str().to_string()),
            related_message: m.related_message,
            sender_is_contact: m.sender_is_contact,
            envelope: EnvelopeBody {
                sender: m.envelope_sender,
                recipients: m.envelope_recipients,
                remote_ip: m.remote_ip,
                helo: m.helo,
                relay_ip: m.relay_ip,
                relay_helo: m.relay_helo,
                ingress: m.ingress,
                provider_id: m.provider_id,
            },
            verdicts: VerdictsBody {
                spf: m.spf,
                dkim: m.dkim,
                dmarc: m.dmarc,
                arc: m.sender.as_ref().and_then(|v| v.arc.clone()),
                sender_verified: m.sender.as_ref().map(|v| v.verified),
                sender_allowed: m.sender.as_ref().map(|v| v.allowed),
            },
            flags: m.flags.iter().map(|f| f.as_str().to_string()).collect(),
            notes: m.notes,
            attachments: m.attachments.into_iter().map(Into::into).collect(),
            omitted_attachments: m.omitted_attachments,
            omitted_attachment_bytes: m.omitted_attachment_bytes,
        }
    }
}

/// A page of messages, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    pub messages: Vec<MessageBody>,
    /// The `after` of the next page; null when this page was the last one so far (keep
    /// the last id to ask again for newer messages).
    pub next: Option<i64>,
}

/// A row of the operator inbox: mail that reached replyd but no conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboxEntryBody {
    pub id: i64,
    /// Why it is here (`postmaster`, `unknown_token`, `closed`…).
    pub reason: String,
    /// The conversation it was meant for, when known.
    pub conversation: Option<String>,
    pub from: Option<String>,
    pub subject: Option<String>,
    pub envelope_sender: Option<String>,
    pub envelope_recipients: Option<String>,
    pub remote_ip: Option<String>,
    pub received_at: String,
    pub note: String,
}

impl From<InboxEntry> for InboxEntryBody {
    fn from(e: InboxEntry) -> Self {
        InboxEntryBody {
            id: e.id,
            reason: e.reason.as_str().to_string(),
            conversation: e.conversation,
            from: e.from,
            subject: e.subject,
            envelope_sender: e.envelope_sender,
            envelope_recipients: e.envelope_recipients,
            remote_ip: e.remote_ip,
            received_at: e.received_at,
            note: e.note,
        }
    }
}

/// A page of the operator inbox, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboxPage {
    pub entries: Vec<InboxEntryBody>,
    /// The `before` of the next (older) page; null when this was the last.
    pub next: Option<i64>,
}

/// Something that happened: a message arrived.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventBody {
    /// `message.received` (a message in a conversation) or `message.bounced` (a delivery
    /// report about an outgoing message).
    #[serde(rename = "type")]
    pub kind: String,
    /// This event's place in the stream: pass the last one seen as `after`.
    pub cursor: i64,
    /// The conversation's UUID.
    pub conversation: String,
    pub message: MessageBody,
}

impl From<StoredMessage> for EventBody {
    fn from(m: StoredMessage) -> Self {
        let kind = if m.related_message.is_some() {
            "message.bounced"
        } else {
            "message.received"
        };
        EventBody {
            kind: kind.to_string(),
            cursor: m.id,
            conversation: m.conversation.clone(),
            message: m.into(),
        }
    }
}

/// Events after a cursor, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<EventBody>,
    /// The cursor to pass as `after` next time (the last event's, or the one given).
    pub next: i64,
}
