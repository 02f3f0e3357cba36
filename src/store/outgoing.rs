//! Outgoing agent mail: stamp it with the conversation's reply headers and record it.
//!
//! The stamp and the record happen in one transaction, so the message number in our
//! Message-ID is never handed out twice and every Message-ID we send is in the store: a
//! customer's reply that names it, or a delivery report about it, can be linked to it.

use super::{Store, StoreError};
use crate::message::{self, ExtractOptions};
use crate::outbound::{self, StampParams};
use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::message_ids::{self, MARKER_HEADER};

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

impl Store {
    /// Stamps `raw` (an RFC 5322 message written by an agent) for conversation `uuid` and
    /// records it as outgoing. `display_name` is used for `Reply-To`; without it, the
    /// display name of the message's `From:` is kept.
    ///
    /// ```no_run
    /// # fn demo(store: &replyd::Store, uuid: &str) -> Result<(), replyd::StoreError> {
    /// let agent_mail = std::fs::read("reply.eml").map_err(replyd::StoreError::Io)?;
    /// let stamped = store.stamp_outgoing(uuid, &agent_mail, Some("Example Support"))?;
    /// // Send `stamped.bytes` with MAIL FROM:<stamped.envelope_sender>, so bounces come back.
    /// # let _ = stamped;
    /// # Ok(()) }
    /// ```
    pub fn stamp_outgoing(
        &self,
        uuid: &str,
        raw: &[u8],
        display_name: Option<&str>,
    ) -> Result<StampedMessage, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let (conv_id, token, domain, status, contact): (i64, String, String, String, Option<String>) = tx
            .query_row(
                "SELECT id, token, domain, status, contact_email FROM conversations WHERE uuid = ?1",
                [uuid],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(uuid.to_string()))?;
        if status != "open" {
            return Err(StoreError::Invalid(format!(
                "conversation {uuid} is closed: its reply address is refused, so mail stamped \
                 with it could not be answered"
            )));
        }
        if contact.as_deref().is_none_or(str::is_empty) {
            return Err(StoreError::Invalid(format!(
                "conversation {uuid} has no contact email to send to"
            )));
        }
        let n: i64 = tx.query_row(
            "SELECT COUNT(*) + 1 FROM messages WHERE conversation_id = ?1 AND direction = 'outgoing'",
            [conv_id],
            |r| r.get(0),
        )?;
        let message_id = message_ids::outgoing(uuid, n, &domain);
        let in_reply_to: Option<String> = tx
            .query_row(
                "SELECT message_id FROM messages WHERE conversation_id = ?1 \
                 AND direction = 'incoming' AND message_id IS NOT NULL ORDER BY id DESC LIMIT 1",
                [conv_id],
                |r| r.get(0),
            )
            .optional()?;
        // The chain so far: the newest message's References, then its own Message-ID.
        let previous: Vec<String> = tx
            .query_row(
                "SELECT refs, message_id FROM messages WHERE conversation_id = ?1 \
                 AND message_id IS NOT NULL ORDER BY id DESC LIMIT 1",
                [conv_id],
                |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?
            .map(|(refs, last)| {
                let mut v: Vec<String> = refs
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                v.push(last);
                v
            })
            .unwrap_or_default();
        let reply_address = crate::address::reply_address(&token, &domain);
        let stamped = outbound::stamp(
            raw,
            &StampParams {
                reply_address: &reply_address,
                display_name,
                message_id: &message_id,
                in_reply_to: in_reply_to.as_deref(),
                previous_references: &previous,
                marker: (MARKER_HEADER, uuid),
            },
        )
        .map_err(|e| StoreError::Invalid(format!("cannot stamp this message: {e}")))?;
        let parsed = message::extract(&stamped.bytes, &ExtractOptions::default());
        let hash = Sha256::digest(&stamped.bytes).to_vec();
        tx.execute(
            "INSERT INTO raw_messages (sha256, size, data) VALUES (?1, ?2, ?3)",
            params![hash, stamped.bytes.len() as i64, stamped.bytes],
        )?;
        let raw_id = tx.last_insert_rowid();
        let join = |list: &[message::Mailbox]| {
            (!list.is_empty()).then(|| {
                list.iter()
                    .map(|m| m.address.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
        };
        tx.execute(
            "INSERT INTO messages (conversation_id, direction, message_id, in_reply_to, refs, \
             from_addr, from_name, to_addrs, cc_addrs, subject, date, text_body, html_body, \
             reply_text, quoted_text, envelope_sender, received_at, raw_id, dedupe_key, \
             content_hash) VALUES (?1, 'outgoing', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
             ?12, ?13, ?14, ?15, ?16, ?17, ?2, ?18)",
            params![
                conv_id,
                message_id,
                in_reply_to,
                (!parsed.references.is_empty()).then(|| parsed.references.join(" ")),
                parsed.from.as_ref().map(|f| f.address.as_str()),
                parsed.from.as_ref().and_then(|f| f.name.as_deref()),
                join(&parsed.to),
                join(&parsed.cc),
                parsed.subject,
                parsed.date,
                super::writer::text_body_unless_reply(&parsed),
                parsed.html_body,
                parsed.reply_text,
                parsed.quoted_text,
                reply_address,
                crate::time::rfc3339(crate::time::unix_now()),
                raw_id,
                hash,
            ],
        )?;
        let stored_id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(StampedMessage {
            bytes: stamped.bytes,
            envelope_sender: reply_address,
            message_id,
            stored_id,
        })
    }
}
