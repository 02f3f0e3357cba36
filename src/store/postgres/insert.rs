//! The rows a delivery writes: the raw bytes, a message (incoming or outgoing, with its
//! attachments), an operator inbox entry. The writer (incoming mail, a whole batch at once)
//! and the outgoing record (one row) both come here, so a column is added in one place (as
//! SQLite's `insert.rs`), and every text value passes [`text`] (no NUL in PostgreSQL's `TEXT`).
//!
//! Rows are inserted many per statement: `INSERT … SELECT * FROM unnest($1::bigint[], …)`,
//! one array per column. PostgreSQL's cost is mostly per statement (parse, bind, execute,
//! the executor's start-up, a round trip), so a batch of 100 messages costs about what 2 or 3
//! did one statement each. Statements are cut at [`CHUNK_BYTES`] of data so that a batch of
//! large messages does not become one giant protocol message.

use super::super::outbox::OutboxWrite;
pub(super) use super::super::row::MessageRow;
use super::super::{
    Activity, AttachmentRecord, Delivery, EventType, InboxReason, StoreError, Stored,
};
use super::outbox::record_event;
use super::records::{get, query, query_opt};
use crate::store::join_flags;
use deadpool_postgres::GenericClient;
use std::borrow::Cow;
use std::collections::HashMap;
use tokio_postgres::types::ToSql;

/// About this many bytes of data (raw bytes, bodies, attachments) per multi-row statement.
const CHUNK_BYTES: usize = 8 << 20;

/// An operator inbox entry, and its outbox event (`outbox.rs`) in the same transaction.
#[allow(clippy::too_many_arguments)]
pub(super) async fn write_inbox<C: GenericClient>(
    tx: &C,
    d: &Delivery,
    reason: &InboxReason,
    conv: Option<i64>,
    note: &str,
    raw_id: i64,
    received_at: &str,
    events: &OutboxWrite,
) -> Result<Stored, StoreError> {
    let (c, e) = (&d.content, &d.envelope);
    let row = query_opt(
        tx,
        "INSERT INTO inbox (reason, conversation_id, from_addr, subject, message_id, \
         envelope_sender, envelope_recipients, remote_ip, helo, received_at, trace_header, \
         raw_id, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         RETURNING id",
        &[
            &reason.as_str(),
            &conv,
            &text_opt(c.from.as_deref()),
            &text_opt(c.subject.as_deref()),
            &text_opt(c.message_id.as_deref()),
            &text(&e.sender),
            &text(&e.recipients.join(", ")),
            &text_opt(e.remote_ip.as_deref()),
            &text_opt(e.helo.as_deref()),
            &received_at,
            &text(&d.trace_header),
            &raw_id,
            &note,
        ],
    )
    .await?
    .ok_or_else(|| StoreError::Database("the inbox entry was not written".into()))?;
    let id = get(&row, 0)?;
    let kind = EventType::InboxReceived;
    record_event(events, tx, kind, conv, None, Some(id)).await?;
    Ok(Stored::Inbox { id })
}

impl MessageRow<'_> {
    /// The retry key: what makes two deliveries one message (the `messages_retry` index).
    pub fn retry_key(&self) -> (String, i64, Vec<u8>) {
        let key = text(self.content.message_id.as_deref().unwrap_or_default()).into_owned();
        (key, self.conversation, self.content_hash.to_vec())
    }

    /// What the row weighs in a statement, roughly.
    pub(super) fn bytes(&self) -> usize {
        let c = self.content;
        let body = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        1024 + body(&c.text_body) + body(&c.html_body) + c.reply_text.len() + c.quoted_text.len()
    }
}

pub(super) async fn insert_raw<C: GenericClient>(
    tx: &C,
    hash: &[u8],
    bytes: &[u8],
) -> Result<i64, StoreError> {
    insert_raws(tx, &[(hash, bytes)])
        .await?
        .pop()
        .ok_or_else(|| StoreError::Database("the raw message was not written".into()))
}

/// Raw messages (`(sha256, bytes)`), many per statement; their ids, in the same order.
///
/// The ids come from the identity column's sequence, taken row after row as the statement
/// reads `unnest`'s output in its order: within one statement they increase with the
/// input's order, whatever other sessions take meanwhile. So the returned ids, sorted, are
/// the input's in order (no need for `RETURNING` to keep the order).
pub(super) async fn insert_raws<C: GenericClient>(
    tx: &C,
    raws: &[(&[u8], &[u8])],
) -> Result<Vec<i64>, StoreError> {
    let mut ids = Vec::with_capacity(raws.len());
    for chunk in chunks(raws, |(_, bytes)| bytes.len()) {
        let hashes: Vec<&[u8]> = chunk.iter().map(|(h, _)| *h).collect();
        let sizes: Vec<i64> = chunk.iter().map(|(_, b)| b.len() as i64).collect();
        let data: Vec<&[u8]> = chunk.iter().map(|(_, b)| *b).collect();
        let rows = query(
            tx,
            "INSERT INTO raw_messages (sha256, size, data) \
             SELECT * FROM unnest($1::bytea[], $2::bigint[], $3::bytea[]) RETURNING id",
            &[&hashes, &sizes, &data],
        )
        .await?;
        let mut new = rows
            .iter()
            .map(|r| get::<i64>(r, 0))
            .collect::<Result<Vec<_>, _>>()?;
        if new.len() != chunk.len() {
            return Err(StoreError::Database(format!(
                "{} raw messages written of {}",
                new.len(),
                chunk.len()
            )));
        }
        new.sort_unstable();
        ids.extend(new);
    }
    Ok(ids)
}

/// `items` cut into runs of about [`CHUNK_BYTES`] (by `weight`), each at least one item.
pub(super) fn chunks<T>(items: &[T], weight: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, item) in items.iter().enumerate() {
        let w = weight(item);
        if i > start && bytes + w > CHUNK_BYTES {
            out.push(&items[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += w;
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}

fn join(list: &[String]) -> Option<String> {
    (!list.is_empty()).then(|| list.join(", "))
}

/// Text as PostgreSQL takes it: a `TEXT` value cannot hold NUL, which mail can (a
/// hostile body, an encoded word); it becomes U+FFFD, as an undecodable byte does. (SQLite
/// keeps it; the raw bytes keep it on both.) Without this the message would be refused with
/// `451` at every retry.
pub(super) fn text(s: &str) -> Cow<'_, str> {
    match s.contains('\0') {
        true => Cow::Owned(s.replace('\0', "\u{FFFD}")),
        false => Cow::Borrowed(s),
    }
}

pub(super) fn text_opt(s: Option<&str>) -> Option<Cow<'_, str>> {
    s.map(text)
}

/// Text owned (a joined list), as [`text`] makes it.
fn text_owned(s: Option<String>) -> Option<String> {
    s.map(|s| match s.contains('\0') {
        true => s.replace('\0', "\u{FFFD}"),
        false => s,
    })
}

/// Inserts a message and its attachments; `None` if the same message is already there.
pub(super) async fn insert_message<C: GenericClient>(
    tx: &C,
    row: &MessageRow<'_>,
) -> Result<Option<i64>, StoreError> {
    Ok(insert_messages(tx, std::slice::from_ref(row))
        .await?
        .pop()
        .flatten())
}

/// One column of the messages' insert: its name, its type, the values of every row.
pub(super) type Column<'a> = (
    &'static str,
    &'static str,
    Box<dyn ToSql + Sync + Send + 'a>,
);

fn column<'a, T: ToSql + Sync + Send + 'a>(
    name: &'static str,
    ty: &'static str,
    rows: &'a [MessageRow<'a>],
    value: impl Fn(&'a MessageRow<'a>) -> T,
) -> Column<'a> {
    (
        name,
        ty,
        Box::new(rows.iter().map(value).collect::<Vec<T>>()),
    )
}

/// Inserts messages and their attachments, many per statement (`ON CONFLICT DO NOTHING`
/// against the retry index); for each row its id, or `None` when the same message was
/// there already (or earlier in `rows`: the caller puts a message in once).
pub(super) async fn insert_messages<C: GenericClient>(
    tx: &C,
    rows: &[MessageRow<'_>],
) -> Result<Vec<Option<i64>>, StoreError> {
    let mut ids = Vec::with_capacity(rows.len());
    for chunk in chunks(rows, MessageRow::bytes) {
        let new = insert_message_rows(tx, chunk).await?;
        insert_attachments(tx, chunk, &new).await?;
        ids.extend(new);
    }
    Ok(ids)
}

/// The messages' columns: for each, its name, its type and every row's value (one array
/// per column, for `unnest`).
pub(super) fn message_columns<'a>(rows: &'a [MessageRow<'a>]) -> Vec<Column<'a>> {
    vec![
        column("conversation_id", "bigint", rows, |r| r.conversation),
        column("direction", "text", rows, |r| r.direction.as_str()),
        column("message_id", "text", rows, |r| {
            text_opt(r.content.message_id.as_deref())
        }),
        column("in_reply_to", "text", rows, |r| {
            text_opt(r.content.in_reply_to.first().map(String::as_str))
        }),
        column("refs", "text", rows, |r| {
            let refs = &r.content.references;
            text_owned((!refs.is_empty()).then(|| refs.join(" ")))
        }),
        column("from_addr", "text", rows, |r| {
            text_opt(r.content.from.as_deref())
        }),
        column("from_name", "text", rows, |r| {
            text_opt(r.content.from_name.as_deref())
        }),
        column("to_addrs", "text", rows, |r| {
            text_owned(join(&r.content.to))
        }),
        column("cc_addrs", "text", rows, |r| {
            text_owned(join(&r.content.cc))
        }),
        column("subject", "text", rows, |r| {
            text_opt(r.content.subject.as_deref())
        }),
        column("date", "text", rows, |r| {
            text_opt(r.content.date.as_deref())
        }),
        column("text_body", "text", rows, |r| {
            text_opt(r.stored_text_body())
        }),
        column("html_body", "text", rows, |r| {
            text_opt(r.content.html_body.as_deref())
        }),
        column("reply_text", "text", rows, |r| {
            text_opt(r.stored_reply_text())
        }),
        column("quoted_text", "text", rows, |r| {
            text(&r.content.quoted_text)
        }),
        column("envelope_sender", "text", rows, |r| {
            text(&r.envelope.sender)
        }),
        column("envelope_recipients", "text", rows, |r| {
            text_owned(join(&r.envelope.recipients))
        }),
        column("remote_ip", "text", rows, |r| {
            text_opt(r.envelope.remote_ip.as_deref())
        }),
        column("helo", "text", rows, |r| {
            text_opt(r.envelope.helo.as_deref())
        }),
        column("received_at", "text", rows, |r| r.received_at),
        column("trace_header", "text", rows, |r| text_opt(r.trace_header)),
        column("raw_id", "bigint", rows, |r| r.raw_id),
        column("dedupe_key", "text", rows, |r| {
            text(r.content.message_id.as_deref().unwrap_or_default())
        }),
        column("content_hash", "bytea", rows, |r| r.content_hash),
        column("automated", "text", rows, |r| {
            r.content.automated.as_ref().map(|a| a.as_str())
        }),
        column("sender_is_contact", "bigint", rows, |r| {
            r.sender_is_contact.map(i64::from)
        }),
        column("flags", "text", rows, |r| join_flags(r.flags)),
        column("notes", "text", rows, |r| {
            text_owned(Some(r.notes.join("\n"))).unwrap_or_default()
        }),
        column("related_message_id", "bigint", rows, |r| r.related),
        column("reply_start", "bigint", rows, |r| {
            r.content.reply_range.map(|(start, _)| start as i64)
        }),
        column("reply_len", "bigint", rows, |r| {
            r.content.reply_range.map(|(_, len)| len as i64)
        }),
        column("relay_ip", "text", rows, |r| {
            text_opt(r.envelope.relay_ip.as_deref())
        }),
        column("relay_helo", "text", rows, |r| {
            text_opt(r.envelope.relay_helo.as_deref())
        }),
        column("auth_spf", "text", rows, |r| {
            text_opt(r.envelope.spf.as_deref())
        }),
        column("auth_dkim", "text", rows, |r| {
            text_opt(r.envelope.dkim.as_deref())
        }),
        column("auth_dmarc", "text", rows, |r| {
            text_opt(r.envelope.dmarc.as_deref())
        }),
        column("omitted_attachments", "bigint", rows, |r| {
            r.content.omitted_attachments.0 as i64
        }),
        column("omitted_attachment_bytes", "bigint", rows, |r| {
            r.content.omitted_attachments.1 as i64
        }),
        column("ingress", "text", rows, |r| {
            text_opt(r.envelope.ingress.as_deref())
        }),
        column("provider_id", "text", rows, |r| {
            text_opt(r.envelope.provider_id.as_deref())
        }),
        column("auth_arc", "text", rows, |r| {
            r.verdict.map(|(arc, _, _)| text(arc))
        }),
        column("sender_verified", "bigint", rows, |r| {
            r.verdict.map(|(_, verified, _)| i64::from(verified))
        }),
        column("sender_allowed", "bigint", rows, |r| {
            r.verdict.map(|(_, _, allowed)| i64::from(allowed))
        }),
    ]
}

async fn insert_message_rows<'a, C: GenericClient>(
    tx: &C,
    rows: &'a [MessageRow<'a>],
) -> Result<Vec<Option<i64>>, StoreError> {
    let columns = message_columns(rows);
    let names: Vec<&str> = columns.iter().map(|(name, _, _)| *name).collect();
    let arrays: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, (_, ty, _))| format!("${}::{ty}[]", i + 1))
        .collect();
    let sql = format!(
        "INSERT INTO messages ({}) SELECT * FROM unnest({}) \
         ON CONFLICT DO NOTHING RETURNING id, dedupe_key, conversation_id, content_hash",
        names.join(", "),
        arrays.join(", ")
    );
    let params: Vec<&(dyn ToSql + Sync)> = columns
        .iter()
        .map(|(_, _, v)| &**v as &(dyn ToSql + Sync))
        .collect();
    let inserted = query(tx, &sql, &params).await?;
    let mut by_key: HashMap<(String, i64, Vec<u8>), i64> = HashMap::with_capacity(inserted.len());
    for r in &inserted {
        by_key.insert((get(r, 1)?, get(r, 2)?, get(r, 3)?), get(r, 0)?);
    }
    // Each inserted row answers the first row of its key; a later one with the same key
    // was not inserted (`None`).
    Ok(rows.iter().map(|r| by_key.remove(&r.retry_key())).collect())
}

/// The attachments of the rows that were inserted (`ids`), many per statement.
async fn insert_attachments<C: GenericClient>(
    tx: &C,
    rows: &[MessageRow<'_>],
    ids: &[Option<i64>],
) -> Result<(), StoreError> {
    let all: Vec<(i64, &AttachmentRecord)> = rows
        .iter()
        .zip(ids)
        .filter_map(|(r, id)| id.map(|id| (id, r)))
        .flat_map(|(id, r)| r.content.attachments.iter().map(move |a| (id, a)))
        .collect();
    for chunk in chunks(&all, |(_, a)| 256 + a.data.as_ref().map_or(0, Vec::len)) {
        let arrays = AttachmentArrays::new(chunk.iter().map(|(id, a)| (*id, *a)));
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&arrays.owner];
        params.extend(arrays.values());
        super::records::execute(
            tx,
            "INSERT INTO attachments (message_id, filename, content_type, size, content_id, \
             inline, data, skipped_reason) SELECT * FROM unnest($1::bigint[], $2::text[], \
             $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::bytea[], $8::text[])",
            &params,
        )
        .await?;
    }
    Ok(())
}

/// Attachments as one array per column (for `unnest`): `owner` says whose each is (a
/// message id, or whatever the statement joins on), the others are the columns after
/// `message_id`, in [`ATTACHMENT_COLUMNS`]' order.
pub(super) struct AttachmentArrays<'a> {
    pub owner: Vec<i64>,
    filename: Vec<Option<Cow<'a, str>>>,
    content_type: Vec<Cow<'a, str>>,
    size: Vec<i64>,
    content_id: Vec<Option<Cow<'a, str>>>,
    inline: Vec<i64>,
    data: Vec<Option<&'a [u8]>>,
    skipped: Vec<Option<Cow<'a, str>>>,
}

/// The attachments' columns after `message_id`, and their array types, as
/// [`AttachmentArrays::values`] gives them.
pub(super) const ATTACHMENT_COLUMNS: [(&str, &str); 7] = [
    ("filename", "text"),
    ("content_type", "text"),
    ("size", "bigint"),
    ("content_id", "text"),
    ("inline", "bigint"),
    ("data", "bytea"),
    ("skipped_reason", "text"),
];

impl<'a> AttachmentArrays<'a> {
    pub(super) fn new(all: impl Iterator<Item = (i64, &'a AttachmentRecord)>) -> Self {
        let mut out = AttachmentArrays {
            owner: Vec::new(),
            filename: Vec::new(),
            content_type: Vec::new(),
            size: Vec::new(),
            content_id: Vec::new(),
            inline: Vec::new(),
            data: Vec::new(),
            skipped: Vec::new(),
        };
        for (owner, a) in all {
            out.owner.push(owner);
            out.filename.push(text_opt(a.filename.as_deref()));
            out.content_type.push(text(&a.content_type));
            out.size.push(a.size as i64);
            out.content_id.push(text_opt(a.content_id.as_deref()));
            out.inline.push(i64::from(a.inline));
            out.data.push(a.data.as_deref());
            out.skipped.push(text_opt(a.skipped_reason.as_deref()));
        }
        out
    }

    /// The arrays after `owner`, in [`ATTACHMENT_COLUMNS`]' order.
    pub(super) fn values(&self) -> [&(dyn ToSql + Sync); 7] {
        [
            &self.filename,
            &self.content_type,
            &self.size,
            &self.content_id,
            &self.inline,
            &self.data,
            &self.skipped,
        ]
    }
}

/// Activity rows, many per statement.
pub(super) async fn insert_activity<C: GenericClient>(
    tx: &C,
    rows: &[Activity],
) -> Result<(), StoreError> {
    for chunk in rows.chunks(ACTIVITY_CHUNK) {
        let arrays = ActivityArrays::new(chunk);
        super::records::execute(
            tx,
            "INSERT INTO activity (at_ms, way_in, client_ip, helo, sender, recipient, outcome, \
             code, reason, detail, message_id, count) \
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::text[], $8::bigint[], $9::text[], $10::text[], $11::bigint[], \
             $12::bigint[])",
            &arrays.values(),
        )
        .await?;
    }
    Ok(())
}

/// Activity rows per statement, at most.
pub(super) const ACTIVITY_CHUNK: usize = 1000;

/// The activity table's columns, and their array types, as [`ActivityArrays::values`]
/// gives them.
pub(super) const ACTIVITY_COLUMNS: [(&str, &str); 12] = [
    ("at_ms", "bigint"),
    ("way_in", "text"),
    ("client_ip", "text"),
    ("helo", "text"),
    ("sender", "text"),
    ("recipient", "text"),
    ("outcome", "text"),
    ("code", "bigint"),
    ("reason", "text"),
    ("detail", "text"),
    ("message_id", "bigint"),
    ("count", "bigint"),
];

/// Activity rows as one array per column (for `unnest`).
pub(super) struct ActivityArrays<'a> {
    at_ms: Vec<i64>,
    way_in: Vec<Cow<'a, str>>,
    client_ip: Vec<Option<Cow<'a, str>>>,
    helo: Vec<Option<Cow<'a, str>>>,
    sender: Vec<Option<Cow<'a, str>>>,
    recipient: Vec<Option<Cow<'a, str>>>,
    outcome: Vec<&'a str>,
    code: Vec<i64>,
    reason: Vec<&'a str>,
    detail: Vec<Cow<'a, str>>,
    message_id: Vec<Option<i64>>,
    count: Vec<i64>,
}

impl<'a> ActivityArrays<'a> {
    pub(super) fn new(rows: &'a [Activity]) -> Self {
        ActivityArrays {
            at_ms: rows.iter().map(|a| a.at_ms).collect(),
            way_in: rows.iter().map(|a| text(&a.way_in)).collect(),
            client_ip: rows
                .iter()
                .map(|a| text_opt(a.client_ip.as_deref()))
                .collect(),
            helo: rows.iter().map(|a| text_opt(a.helo.as_deref())).collect(),
            sender: rows.iter().map(|a| text_opt(a.sender.as_deref())).collect(),
            recipient: rows
                .iter()
                .map(|a| text_opt(a.recipient.as_deref()))
                .collect(),
            outcome: rows.iter().map(|a| a.outcome.as_str()).collect(),
            code: rows.iter().map(|a| i64::from(a.code)).collect(),
            reason: rows.iter().map(|a| a.reason.as_str()).collect(),
            detail: rows.iter().map(|a| text(&a.detail)).collect(),
            message_id: rows.iter().map(|a| a.message_id).collect(),
            count: rows.iter().map(|a| a.count).collect(),
        }
    }

    /// The arrays, in [`ACTIVITY_COLUMNS`]' order.
    pub(super) fn values(&self) -> [&(dyn ToSql + Sync); 12] {
        [
            &self.at_ms,
            &self.way_in,
            &self.client_ip,
            &self.helo,
            &self.sender,
            &self.recipient,
            &self.outcome,
            &self.code,
            &self.reason,
            &self.detail,
            &self.message_id,
            &self.count,
        ]
    }
}
