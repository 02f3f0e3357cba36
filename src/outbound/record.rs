//! Stamping an agent's message for its conversation, and recording it as outgoing.
//!
//! The store reads the thread (the next message number, what the message answers, the
//! References chain) and records the result in one transaction; what goes into the headers
//! is decided here, by [`super::stamp`]. So the store knows nothing of stamping, and the
//! message number in our Message-ID is never handed out twice.

use super::{stamp, StampParams};
use crate::message::{self, ExtractOptions};
use crate::message_ids::{self, MARKER_HEADER};
use crate::store::{ConversationStatus, OutgoingRecord, Store, StoreError};

/// An agent's message, stamped and recorded.
#[derive(Debug, Clone)]
pub struct StampedMessage {
    /// The message to send, byte for byte.
    pub bytes: Vec<u8>,
    /// The envelope sender (`MAIL FROM`) to send it with: the reply address, so delivery
    /// failures come back to replyd and are linked to this message.
    pub envelope_sender: String,
    /// Our Message-ID, without angle brackets.
    pub message_id: String,
    /// The id of the recorded outgoing message.
    pub stored_id: i64,
}

/// Stamps `raw` (an RFC 5322 message written by an agent) for conversation `uuid` and
/// records it as outgoing. `display_name` is used for `Reply-To`; without it, the display
/// name of the message's `From:` is kept.
///
/// ```no_run
/// # async fn demo(store: &replyd::Store, uuid: &str) -> Result<(), replyd::StoreError> {
/// let agent_mail = std::fs::read("reply.eml").map_err(replyd::StoreError::Io)?;
/// let stamped =
///     replyd::outbound::stamp_and_record(store, uuid, &agent_mail, Some("Example Support")).await?;
/// // Send `stamped.bytes` with MAIL FROM:<stamped.envelope_sender>, so bounces come back.
/// # let _ = stamped;
/// # Ok(()) }
/// ```
pub async fn stamp_and_record(
    store: &Store,
    uuid: &str,
    raw: &[u8],
    display_name: Option<&str>,
) -> Result<StampedMessage, StoreError> {
    let (stored_id, record) = store
        .record_outgoing(
            uuid,
            Box::new(move |thread| {
                let conv = &thread.conversation;
                if conv.status != ConversationStatus::Open {
                    return Err(StoreError::Invalid(format!(
                        "conversation {uuid} is closed: its reply address is refused, so mail \
                         stamped with it could not be answered"
                    )));
                }
                if conv.contact_email.as_deref().is_none_or(str::is_empty) {
                    return Err(StoreError::Invalid(format!(
                        "conversation {uuid} has no contact email to send to"
                    )));
                }
                let domain = conv.reply_address.rsplit_once('@').map_or("", |(_, d)| d);
                let message_id = message_ids::outgoing(uuid, thread.number, domain);
                let stamped = stamp(
                    raw,
                    &StampParams {
                        reply_address: &conv.reply_address,
                        display_name,
                        message_id: &message_id,
                        in_reply_to: thread.in_reply_to.as_deref(),
                        previous_references: &thread.references,
                        marker: (MARKER_HEADER, uuid),
                    },
                )
                .map_err(|e| StoreError::Invalid(format!("cannot stamp this message: {e}")))?;
                let content =
                    message::extract(&stamped.bytes, &ExtractOptions::default()).into_content();
                Ok(OutgoingRecord {
                    bytes: stamped.bytes,
                    message_id,
                    envelope_sender: conv.reply_address.clone(),
                    content,
                })
            }),
        )
        .await?;
    Ok(StampedMessage {
        bytes: record.bytes,
        envelope_sender: record.envelope_sender,
        message_id: record.message_id,
        stored_id,
    })
}
