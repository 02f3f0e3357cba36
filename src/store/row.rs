//! The message row a backend inserts: one type for both, so the writers and the outgoing
//! record describe a row the same way whichever database takes it, and a column added to
//! the schema is added here once.

use super::{Direction, Envelope, Flag, MessageContent};

/// A message row to insert (the writer's incoming mail and the outgoing record).
#[derive(Clone)]
pub(super) struct MessageRow<'a> {
    pub conversation: i64,
    pub direction: Direction,
    pub content: &'a MessageContent,
    pub envelope: &'a Envelope,
    /// Our `Received:` header (incoming mail only).
    pub trace_header: Option<&'a str>,
    pub raw_id: i64,
    pub content_hash: &'a [u8],
    pub received_at: &'a str,
    pub sender_is_contact: Option<bool>,
    /// The content's flags and notes, with what the store itself found.
    pub flags: &'a [Flag],
    pub notes: &'a [String],
    /// For a delivery report: the outgoing message it is about.
    pub related: Option<i64>,
    /// Our sender verification's verdict (direct delivery): ARC, verified, allowed.
    pub verdict: Option<(&'a str, bool, bool)>,
}

impl<'a> MessageRow<'a> {
    /// `text_body` as stored: NULL when it is the reply text itself (nothing stored twice).
    pub fn stored_text_body(&self) -> Option<&'a str> {
        let c = self.content;
        c.text_body
            .as_deref()
            .filter(|t| t.trim_end() != c.reply_text.trim_end())
    }

    /// `reply_text` as stored: NULL when the reply is a range of the raw bytes
    /// (`reply_start`/`reply_len`).
    pub fn stored_reply_text(&self) -> Option<&'a str> {
        let c = self.content;
        c.reply_range.is_none().then_some(c.reply_text.as_str())
    }
}
