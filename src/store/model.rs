//! What the store keeps and hands back: conversations, messages, attachments, inbox entries,
//! and the deliveries the intake hands it. Plain data, the same whichever backend holds it.

use super::vocabulary::{
    Automated, ConversationStatus, Direction, Flag, InboxReason, Outcome, Reason,
};
use serde::Serialize;

/// A conversation and its reply address.
#[derive(Debug, Clone, Serialize)]
pub struct Conversation {
    #[serde(skip)]
    pub id: i64,
    pub uuid: String,
    #[serde(skip)]
    pub token: String,
    pub reply_address: String,
    pub contact_email: Option<String>,
    pub channel: String,
    pub subject: Option<String>,
    pub status: ConversationStatus,
    pub created_at: String,
    pub expires_at: Option<i64>,
    pub message_count: i64,
    /// The helpdesk's own id for the conversation, unique when set.
    pub external_id: Option<String>,
}

/// What a new conversation is.
#[derive(Debug, Clone)]
pub struct NewConversation<'a> {
    pub contact_email: Option<&'a str>,
    pub channel: &'a str,
    pub subject: Option<&'a str>,
    pub domain: &'a str,
    /// Seconds from now the token stops being accepted.
    pub ttl_seconds: Option<i64>,
    /// The helpdesk's own id for it: a conversation with this id already is the one
    /// [`super::Store::create_conversation`] returns (so a helpdesk may retry a create).
    pub external_id: Option<&'a str>,
}

/// A helpdesk API key, as stored: a name and a hash, never the key itself.
#[derive(Debug, Clone, Serialize)]
pub struct ApiKey {
    /// The key's public part (`rk_<key_id>_…`): what a request is looked up by.
    pub key_id: String,
    pub name: String,
    pub created_at: String,
    /// When it was revoked; a revoked key is refused.
    pub revoked_at: Option<String>,
    /// SHA-256 of the whole key.
    #[serde(skip)]
    pub sha256: Vec<u8>,
}

/// A stored message, as the CLI and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct StoredMessage {
    pub id: i64,
    pub conversation: String,
    pub direction: Direction,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Option<String>,
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub to: Option<String>,
    pub cc: Option<String>,
    pub subject: Option<String>,
    pub date: Option<String>,
    pub text_body: Option<String>,
    pub html_body: Option<String>,
    pub reply_text: Option<String>,
    pub quoted_text: Option<String>,
    pub envelope_sender: Option<String>,
    pub envelope_recipients: Option<String>,
    pub remote_ip: Option<String>,
    pub helo: Option<String>,
    /// The trusted relay that handed the message to us, if one did.
    pub relay_ip: Option<String>,
    pub relay_helo: Option<String>,
    /// The relay's SPF/DKIM/DMARC verdicts, as it wrote them.
    pub spf: Option<String>,
    pub dkim: Option<String>,
    pub dmarc: Option<String>,
    /// The HTTP ingress it came through (`mailgun`, `relay`…); `None` for SMTP, LMTP, pipe.
    pub ingress: Option<String>,
    /// The provider's own id for the message or event.
    pub provider_id: Option<String>,
    /// Our `Received:` header, as prepended to the raw message.
    pub trace_header: Option<String>,
    pub received_at: String,
    pub automated: Option<Automated>,
    /// For a delivery report: the outgoing message it is about.
    pub related_message: Option<i64>,
    pub sender_is_contact: Option<bool>,
    /// Our own verification of the sender, when it ran (`[security] verify_senders`, on
    /// direct delivery and the HTTP ingresses): whether the From domain is authenticated and
    /// whether the sender may write into the conversation.
    pub sender: Option<SenderVerdict>,
    pub flags: Vec<Flag>,
    pub notes: String,
    /// At most [`ATTACHMENTS_LISTED`] descriptions: the kept ones, then those not kept.
    pub attachments: Vec<AttachmentInfo>,
    /// Attachments not described in `attachments`: past `max_attachments` when the message
    /// arrived, or past [`ATTACHMENTS_LISTED`] here.
    pub omitted_attachments: i64,
    /// Their size, added up.
    pub omitted_attachment_bytes: i64,
}

/// Attachment descriptions read per message; the rest are counted (a database written
/// before `max_attachments` capped the rows can hold a hundred thousand for one message).
pub const ATTACHMENTS_LISTED: usize = 100;

/// An attachment's description (its bytes are read with [`super::Store::attachment_data`];
/// save it under [`crate::message::safe_filename`], never its own name).
#[derive(Debug, Clone, Serialize)]
pub struct AttachmentInfo {
    pub id: i64,
    pub filename: Option<String>,
    pub content_type: String,
    pub size: i64,
    pub content_id: Option<String>,
    pub inline: bool,
    pub skipped_reason: Option<String>,
}

/// An attachment's description and its bytes (`None` when they were not kept), to be read
/// a piece at a time.
#[derive(Debug)]
pub struct StoredAttachment {
    pub info: AttachmentInfo,
    pub data: Option<AttachmentReader>,
}

/// An attachment's bytes, read from the store as they are asked for: a download never holds
/// the whole attachment in memory. Reading blocks (it is storage I/O).
pub struct AttachmentReader {
    /// How many bytes there are.
    pub len: u64,
    pub(crate) source: Box<dyn std::io::Read + Send>,
}

impl std::io::Read for AttachmentReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.source.read(buf)
    }
}

impl std::fmt::Debug for AttachmentReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachmentReader")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// A row of the operator inbox.
#[derive(Debug, Clone, Serialize)]
pub struct InboxEntry {
    pub id: i64,
    pub reason: InboxReason,
    pub conversation: Option<String>,
    pub from: Option<String>,
    pub subject: Option<String>,
    pub envelope_sender: Option<String>,
    pub envelope_recipients: Option<String>,
    pub remote_ip: Option<String>,
    pub received_at: String,
    pub note: String,
}

/// How much the store holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    pub conversations: i64,
    pub incoming_messages: i64,
    pub outgoing_messages: i64,
    pub inbox_entries: i64,
    /// Raw message bodies kept: one per delivery, however many conversations it reached.
    pub raw_messages: i64,
    pub attachments: i64,
}

/// What a reply token is worth right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    Open { conversation_id: i64 },
    Closed,
    Expired,
    Unknown,
}

/// Who sent a message and how it reached us.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    /// `MAIL FROM`; empty for the null sender.
    pub sender: String,
    /// Every accepted `RCPT TO`.
    pub recipients: Vec<String>,
    /// The client: behind a trusted relay, the relay's client (from its `Received:`).
    pub remote_ip: Option<String>,
    pub helo: Option<String>,
    /// The trusted relay that handed the message to us, if one did.
    pub relay_ip: Option<String>,
    pub relay_helo: Option<String>,
    /// The relay's SPF/DKIM/DMARC verdicts (`Authentication-Results` with our authserv-id).
    pub spf: Option<String>,
    pub dkim: Option<String>,
    pub dmarc: Option<String>,
    /// The HTTP ingress it came through (`mailgun`, `relay`…).
    pub ingress: Option<String>,
    /// The provider's own id for the message or event.
    pub provider_id: Option<String>,
    /// A signature token to record as used in this delivery's transaction.
    pub replay: Option<ReplayToken>,
    /// Our own sender verification (direct delivery only; [`crate::auth`]).
    pub sender_check: Option<SenderCheck>,
}

/// What our sender verification found, for the store to record with the message.
#[derive(Debug, Clone, Default)]
pub struct SenderCheck {
    /// The From domain is authenticated (DMARC pass, or see [`crate::auth`]).
    pub verified: bool,
    /// The ARC verdict (`pass (sealer lists.example.net, trusted)`, `none`).
    pub arc: String,
    /// Flag the message `unverified_sender` when it is unverified or from outside the
    /// allowed senders (`[security] sender_policy` = `flag`/`strict`).
    pub flag_policy: bool,
    /// Flag it whatever the sender (a DMARC `p=quarantine` fail under `strict`).
    pub quarantine: bool,
}

impl SenderCheck {
    /// Why the message is flagged `unverified_sender`, if it is: `allowed` is whether the
    /// sender may write into the conversation (the same rule for both backends).
    pub(crate) fn flag_reason(&self, allowed: bool) -> Option<&'static str> {
        if self.quarantine {
            Some("DMARC fail under p=quarantine")
        } else if !self.flag_policy || (self.verified && allowed) {
            None
        } else if !self.verified {
            Some("the sender's From domain is not authenticated")
        } else {
            Some("the sender is not one allowed in this conversation")
        }
    }
}

/// A stored message's sender verdict, read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SenderVerdict {
    pub verified: bool,
    /// The sender is one who may write into the conversation.
    pub allowed: bool,
    pub arc: Option<String>,
}

/// A used signature token (Mailgun's), recorded with the message it came with. Mailgun
/// signs only a timestamp and a token, not the message, so the same token with other
/// content is a replay and is refused; with the same content it is a retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayToken {
    /// The ingress whose signatures the token belongs to (`mailgun`).
    pub ingress: String,
    pub token: String,
    /// What the token came with (the message and its envelope), hashed.
    pub digest: [u8; 32],
    /// When a signature with this token stops being accepted (Unix seconds).
    pub expires_at: i64,
}

/// Where one copy of a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Into a conversation (by its row id).
    Conversation(i64),
    /// Into the operator inbox, with the reason.
    Operator(InboxReason),
}

/// What a message says, as the store records it: the message module's extraction, handed
/// over by value (the bodies are moved, not copied).
#[derive(Debug, Clone, Default)]
pub struct MessageContent {
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: Option<String>,
    pub date: Option<String>,
    pub text_body: Option<String>,
    pub html_body: Option<String>,
    pub reply_text: String,
    /// Where `reply_text` lies in the raw bytes (`start`, `len`), when it is a verbatim
    /// stretch of them with CRLF turned into LF: kept as that range, not a second copy.
    pub reply_range: Option<(usize, usize)>,
    pub quoted_text: String,
    pub attachments: Vec<AttachmentRecord>,
    /// Attachments past `max_attachments`: how many and their size.
    pub omitted_attachments: (u64, u64),
    pub automated: Option<Automated>,
    /// Our own Message-IDs that a delivery report names.
    pub reported_message_ids: Vec<String>,
    pub flags: Vec<Flag>,
    pub notes: Vec<String>,
}

/// An attachment to record: kept (with its bytes) or described with why it was not.
#[derive(Debug, Clone, Default)]
pub struct AttachmentRecord {
    pub filename: Option<String>,
    pub content_type: String,
    pub size: u64,
    pub content_id: Option<String>,
    pub inline: bool,
    /// `None` when not kept; then `skipped_reason` says why.
    pub data: Option<Vec<u8>>,
    pub skipped_reason: Option<String>,
}

/// One accepted message, ready to be written.
#[derive(Debug)]
pub struct Delivery {
    pub envelope: Envelope,
    pub destinations: Vec<Destination>,
    /// Our `Received:` header (with its CRLF), prepended to `raw` when the message is read.
    pub trace_header: String,
    /// The client's bytes.
    pub raw: Vec<u8>,
    /// [`content_hash`] of `raw`: computed by whoever built the delivery (with the parse,
    /// in parallel), not where every delivery waits for the commit.
    pub content_hash: [u8; 32],
    pub content: MessageContent,
    pub received_at: i64,
}

/// The SHA-256 of a message's bytes: with the Message-ID and the conversation, what makes
/// a retried delivery recognisable.
pub fn content_hash(raw: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(raw).into()
}

/// Where a copy was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// A message row; `duplicate` when it was a retried delivery already stored.
    Message { id: i64, duplicate: bool },
    /// An operator inbox row.
    Inbox { id: i64 },
}

impl std::fmt::Display for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stored::Message { id, .. } => write!(f, "m{id}"),
            Stored::Inbox { id } => write!(f, "i{id}"),
        }
    }
}

/// A conversation's thread as an agent's new message continues it: what stamping needs,
/// read in the same transaction that records the result.
#[derive(Debug, Clone)]
pub struct OutgoingThread {
    pub conversation: Conversation,
    /// 1 for the conversation's first outgoing message, and so on.
    pub number: i64,
    /// The newest incoming Message-ID, which the new message answers.
    pub in_reply_to: Option<String>,
    /// The chain so far: the newest message's References, then its own Message-ID.
    pub references: Vec<String>,
}

/// An agent's message as stamped, to be recorded as outgoing.
#[derive(Debug, Clone)]
pub struct OutgoingRecord {
    /// The stamped bytes, as they will be sent.
    pub bytes: Vec<u8>,
    /// Our Message-ID, without angle brackets.
    pub message_id: String,
    /// The envelope sender it is sent with (the reply address).
    pub envelope_sender: String,
    pub content: MessageContent,
}

/// One delivery attempt for one recipient: what the operator looks up when a customer says
/// their reply bounced.
#[derive(Debug, Clone, Serialize)]
pub struct Activity {
    /// When, as RFC 3339 (UTC, milliseconds).
    pub time: String,
    /// Unix milliseconds (for ordering and filtering).
    #[serde(skip)]
    pub at_ms: i64,
    /// `smtp`, `esmtps`, `lmtp`, `pipe`, or an HTTP ingress's name.
    pub way_in: String,
    pub client_ip: Option<String>,
    pub helo: Option<String>,
    /// `MAIL FROM` (empty for the null sender; `None` before MAIL).
    pub sender: Option<String>,
    /// `None` when refused before any recipient was named.
    pub recipient: Option<String>,
    pub outcome: Outcome,
    /// The reply code of the rule that decided (`250`, `550`, `451`…). Over HTTP it is the
    /// same rule's SMTP code, so one filter finds a refusal whichever way it came in; the
    /// status each provider got (`406` for Mailgun, `403` for Postmark…) is in the log line.
    pub code: u16,
    pub reason: Reason,
    /// The reply's text, or what was aggregated.
    pub detail: String,
    /// The stored message (`m` id) when there is one.
    pub message_id: Option<i64>,
    /// Attempts this row stands for: 1, or more when a flood was aggregated.
    pub count: i64,
}

/// Which activity rows to read.
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    /// Unix milliseconds: rows at or after.
    pub since_ms: Option<i64>,
    pub recipient: Option<String>,
    pub sender: Option<String>,
    pub outcome: Option<Outcome>,
    /// At most this many, newest first.
    pub limit: usize,
}
