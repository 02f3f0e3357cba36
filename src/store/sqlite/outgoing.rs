//! Recording an agent's outgoing message, in the transaction that reads its thread.
//!
//! The thread is read, the caller's `compose` stamps the message, and the result is
//! recorded, all in one `IMMEDIATE` transaction: the message number in our Message-ID is
//! never handed out twice, and every Message-ID we send is in the store, so a customer's
//! reply that names it, or a delivery report about it, can be linked to it. What the stamp
//! says is `outbound`'s business, not the store's.

use super::super::{
    content_hash, Compose, Direction, Envelope, OutgoingRecord, OutgoingThread, StoreError,
};
use super::conversations;
use super::insert::{self, MessageRow};
use rusqlite::{Connection, OptionalExtension};

pub(super) fn record(
    conn: &mut Connection,
    uuid: &str,
    compose: Compose<'_>,
) -> Result<(i64, OutgoingRecord), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let conversation = conversations::by_uuid(&tx, uuid)?;
    let conv_id = conversation.id;
    let number: i64 = tx.query_row(
        "SELECT COUNT(*) + 1 FROM messages WHERE conversation_id = ?1 AND direction = 'outgoing'",
        rusqlite::params![conv_id],
        |r| r.get(0),
    )?;
    let in_reply_to: Option<String> = tx
        .query_row(
            "SELECT message_id FROM messages WHERE conversation_id = ?1 \
             AND direction = 'incoming' AND message_id IS NOT NULL ORDER BY id DESC LIMIT 1",
            rusqlite::params![conv_id],
            |r| r.get(0),
        )
        .optional()?;
    // The chain so far: the newest message's References, then its own Message-ID.
    let references: Vec<String> = tx
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
    let record = compose(&OutgoingThread {
        conversation,
        number,
        in_reply_to,
        references,
    })?;
    let hash = content_hash(&record.bytes);
    let raw_id = insert::raw(&tx, &hash, &record.bytes)?;
    let envelope = Envelope {
        sender: record.envelope_sender.clone(),
        ..Envelope::default()
    };
    let received_at = crate::time::rfc3339(crate::time::unix_now());
    let id = insert::message(
        &tx,
        &MessageRow {
            conversation: conv_id,
            direction: Direction::Outgoing,
            content: &record.content,
            envelope: &envelope,
            trace_header: None,
            raw_id,
            content_hash: &hash,
            received_at: &received_at,
            sender_is_contact: None,
            flags: &record.content.flags,
            notes: &record.content.notes,
            related: None,
            verdict: None,
        },
    )?
    .ok_or_else(|| {
        StoreError::Invalid(format!(
            "message <{}> is already recorded in this conversation",
            record.message_id
        ))
    })?;
    tx.commit()?;
    Ok((id, record))
}
