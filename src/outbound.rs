//! Stamping an agent's outgoing email so that the customer's answer comes back to replyd.
//!
//! # Why
//!
//! replyd gives a helpdesk conversation continuity by email: when an agent answers a customer,
//! the customer's next reply has to land in the same conversation, not in the agent's personal
//! mailbox and not in a new ticket. Before the agent's message is sent, [`stamp`] rewrites its
//! headers so that both routes back work:
//!
//! * `Reply-To: Agent Name <reply+token@domain>`: the customer's "Reply" is addressed to
//!   replyd's own address, whose token names the conversation.
//! * `Message-ID: <ours>`, plus `In-Reply-To`/`References` naming the conversation's earlier
//!   mail: the customer's client copies our Message-ID into the `In-Reply-To`/`References` of
//!   its answer, so replyd still finds the conversation when the reply address was lost
//!   (forwarded, retyped, a "Reply All" to the agent), and both sides' clients thread the mails.
//! * A marker header (e.g. `X-Replyd-Conversation: <uuid>`) labels the mail as replyd's own.
//! * `Subject: Re: …` when the mail answers something (some clients, Gmail for one, also use the
//!   subject to thread).
//!
//! # What changes and what does not
//!
//! The header fields `Message-ID`, `In-Reply-To`, `References`, `Reply-To`, `Mail-Reply-To`,
//! `Mail-Followup-To` and the marker's are removed wherever they are in the header block (names
//! are case-insensitive; a field's folded continuation lines go with it), and the new fields are
//! written at the top of the block in this order: `Message-ID`, `In-Reply-To`, `References`,
//! `Reply-To`, marker, with the message's own line ending (that of the first header line; CRLF
//! if it has none). They are folded between words at 78 columns; a word (a msg-id, say) is never
//! split, so a longer one makes a longer line, and every line stays under RFC 5322's 998. `Subject` is edited in place. Every other byte (the
//! other fields with their order, case and folding, the blank line, the MIME body, every line
//! ending) is copied unchanged.
//!
//! # Decisions
//!
//! * `Mail-Reply-To` and `Mail-Followup-To` (RFC draft fields honoured by mutt and others) are
//!   removed as well: a client that honours them would send the customer's reply to the agent's
//!   own address and skip `Reply-To`.
//! * `in_reply_to: None` means the mail answers nothing: an `In-Reply-To` already in the message
//!   (e.g. the agent pressed "Reply" on some other mail) is removed because it would point
//!   elsewhere, the Subject is left as it is, but the ids it named are kept in `References`.
//! * `References` = `previous_references`, then the ids of the message's own `References` and
//!   `In-Reply-To`, then `in_reply_to` last (it is the parent, RFC 5322 §3.6.4), without
//!   duplicates (first occurrence kept, except the parent which always comes last) and without our
//!   own `message_id`. More than [`MAX_REFERENCES`] ids are cut to the first one and the most
//!   recent ones. It is omitted when there is no id at all.
//! * Ids from outside (`in_reply_to`, `previous_references`, the message's own headers) that
//!   cannot be written safely (empty, whitespace, control or non-ASCII bytes, `<` or `>`, over
//!   900 bytes) are left out instead of failing the send; `in_reply_to` still counts as
//!   "answering" for the Subject. replyd's own values (`message_id`, `reply_address`, `marker`)
//!   are checked strictly and give [`StampError::InvalidParam`].
//! * Subject, when answering: no leading reply prefix gets `Re: ` inserted before the text
//!   (outside any RFC 2047 encoded-word); exactly one prefix (`Re:`, `RE:`, `re :`, `AW:`, `SV:`,
//!   `Antw:`, `VS:`, `Odp:`, `YNT:`, also `Re[2]:`, or an encoded-word whose text starts with
//!   one) is left untouched, byte for byte; several are collapsed into one `Re: `. `Fwd:` is not
//!   a reply prefix (`Re: Fwd: x`). An empty Subject becomes `Re:`. A message without Subject
//!   gets none: replyd does not know the conversation's subject here, and a bare `Re:` says
//!   nothing.
//! * Display name for `Reply-To`: the configured one, or else the display name of the first
//!   mailbox of `From:` (or its comment, for the old `addr (Name)` form). Encoded-words from
//!   `From:` are reused as they are; other text is decoded (UTF-8, or Latin-1 for bytes that are
//!   not UTF-8), control characters become spaces, whitespace is collapsed, and it is written as
//!   atoms if it only has atom characters, as a quoted-string if it is other ASCII, and as
//!   `=?UTF-8?B?…?=` encoded-words (at most 68 characters each) if it is not ASCII. A configured
//!   name that is empty after that gives no display name (it does not fall back to `From:`).
//! * A first line starting with `From ` that is not a header field (an mbox separator) is
//!   dropped: it is not part of the message and must not be sent.
//! * The header block ends at the first empty line (or the end of the input). A line inside it
//!   that is neither a field nor a continuation is copied as it is, and fields after it are still
//!   treated as fields.

mod display_name;
mod lexical;
mod record;
mod subject;
pub use record::{stamp_and_record, StampedMessage};

use display_name::*;
use lexical::*;
use subject::*;

use crate::message::header_block::{is_ftext, unfold, HeaderBlock};
use base64::prelude::{Engine as _, BASE64_STANDARD};
use std::collections::HashSet;
use std::fmt;

/// At most this many msg-ids are written to `References:` (the first one and the most recent).
pub const MAX_REFERENCES: usize = 20;

/// Column at which the fields we write are folded (RFC 5322 §2.1.1 "SHOULD" limit).
const FOLD_COLUMN: usize = 78;
/// Longest msg-id, address or word we write: every line we write stays under the 998 limit.
const MAX_TOKEN_LEN: usize = 900;
/// Longest display name we write, in characters.
const MAX_DISPLAY_NAME_CHARS: usize = 256;
/// RFC 5322 §2.1.1 hard limit on a line, without its line ending.
const MAX_LINE_LEN: usize = 998;
/// Bytes of UTF-8 text per `=?UTF-8?B?…?=` word: 42 bytes are 56 base64 characters, 68 in all,
/// so that even the first word fits after `Reply-To: ` within 78 columns.
const ENCODED_WORD_CHUNK: usize = 42;

/// Header fields that [`stamp`] removes and (the first four) writes anew.
const REPLACED_FIELDS: [&str; 6] = [
    "Message-ID",
    "In-Reply-To",
    "References",
    "Reply-To",
    "Mail-Reply-To",
    "Mail-Followup-To",
];

/// What to stamp; the caller (the store) computes these from the conversation.
#[derive(Debug, Clone, Copy)]
pub struct StampParams<'a> {
    /// The conversation's reply address, e.g. `reply+0123…ef@support.example.com`.
    pub reply_address: &'a str,
    /// Display name for `Reply-To`; if `None`, the display name of the message's `From:`.
    /// `Some` of an empty or blank name means no display name.
    pub display_name: Option<&'a str>,
    /// Our Message-ID, without angle brackets, e.g.
    /// `conversation/<uuid>/messages/3@support.example.com`.
    pub message_id: &'a str,
    /// The latest incoming Message-ID of the conversation, without `<>`; `None` when the mail
    /// answers nothing.
    pub in_reply_to: Option<&'a str>,
    /// Msg-ids (without `<>`) of the conversation so far, oldest first.
    pub previous_references: &'a [String],
    /// A header field that marks the mail as ours, e.g. `("X-Replyd-Conversation", "<uuid>")`.
    pub marker: (&'a str, &'a str),
}

/// The stamped message, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamped {
    /// The complete message: new header fields, then the rest of the input.
    pub bytes: Vec<u8>,
}

/// Why a message could not be stamped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StampError {
    /// The input has no header block: it is empty, or its first line (after an mbox `From `
    /// line) is not a header field `Name: value`.
    NotAMessage(String),
    /// One of replyd's own values in [`StampParams`] (`message_id`, `reply_address`, `marker`)
    /// cannot be written into a header safely.
    InvalidParam(String),
}

impl fmt::Display for StampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StampError::NotAMessage(why) => write!(f, "not an email message: {why}"),
            StampError::InvalidParam(why) => write!(f, "invalid stamp parameter: {why}"),
        }
    }
}

impl std::error::Error for StampError {}

/// Rewrites the headers of `raw` (an RFC 5322 message, CRLF or LF) as described in the module
/// documentation, copying everything else unchanged.
///
/// Stamping an already stamped message again with the same parameters returns it unchanged.
///
/// # Errors
///
/// [`StampError::NotAMessage`] if `raw` has no header block, [`StampError::InvalidParam`] if
/// `message_id`, `reply_address` or `marker` cannot be written safely.
pub fn stamp(raw: &[u8], params: &StampParams<'_>) -> Result<Stamped, StampError> {
    validate(params)?;
    let block = header_block(raw)?;
    let eol = block.eol;
    let (marker_name, marker_value) = params.marker;

    let mut existing_ids = Vec::new();
    for name in ["References", "In-Reply-To"] {
        for field in block.fields_named(raw, name) {
            let value = String::from_utf8_lossy(&unfold(field.value(raw))).into_owned();
            existing_ids.extend(parse_msg_ids(&value));
        }
    }
    let in_reply_to = params.in_reply_to.filter(|id| valid_id(id));
    let references = references(params, in_reply_to, &existing_ids);

    let mut reply_to = match params.display_name {
        Some(name) => encode_display_name(name),
        None => block
            .fields_named(raw, "From")
            .next()
            .map(|from| from_display_name(&unfold(from.value(raw))))
            .unwrap_or_default(),
    };
    reply_to.push(if reply_to.is_empty() {
        params.reply_address.as_bytes().to_vec()
    } else {
        format!("<{}>", params.reply_address).into_bytes()
    });

    let mut out = Vec::with_capacity(raw.len() + 1024);
    write_field(&mut out, "Message-ID", [angle(params.message_id)], eol);
    if let Some(id) = in_reply_to {
        write_field(&mut out, "In-Reply-To", [angle(id)], eol);
    }
    if !references.is_empty() {
        let ids = references.iter().map(|id| angle(id));
        write_field(&mut out, "References", ids, eol);
    }
    write_field(&mut out, "Reply-To", &reply_to, eol);
    write_field(&mut out, marker_name, [marker_value], eol);

    let answering = params.in_reply_to.is_some();
    for field in &block.fields {
        if field.is(raw, marker_name) || REPLACED_FIELDS.iter().any(|name| field.is(raw, name)) {
            continue;
        }
        let new_subject = if answering && field.is(raw, "Subject") {
            reply_subject(field.value(raw))
        } else {
            None
        };
        match new_subject {
            Some(value) => {
                out.extend_from_slice(&raw[field.start..field.value_start]);
                out.extend_from_slice(&value);
                out.extend_from_slice(&raw[field.value_start + field.value(raw).len()..field.end]);
            }
            None => out.extend_from_slice(&raw[field.start..field.end]),
        }
    }
    out.extend_from_slice(&raw[block.end..]);
    Ok(Stamped { bytes: out })
}

/// The unfolded values (CRLF/LF of folding removed, surrounding whitespace trimmed) of every
/// top-level header field called `name` (case-insensitive), in message order.
///
/// Values are raw: encoded-words are not decoded; bytes that are not UTF-8 become U+FFFD.
/// Returns nothing if `raw` has no header block.
pub fn header_values(raw: &[u8], name: &str) -> Vec<String> {
    let Ok(block) = header_block(raw) else {
        return Vec::new();
    };
    block
        .fields_named(raw, name)
        .map(|field| String::from_utf8_lossy(trim_ws(&unfold(field.value(raw)))).into_owned())
        .collect()
}

/// The msg-ids in a `Message-ID`/`In-Reply-To`/`References` value, without `<>`, in order.
///
/// Tolerant: comments `(…)`, quoted phrases (old `In-Reply-To` style) and whitespace between or
/// inside the brackets are skipped, an unclosed `<id` ends at whitespace, and if the value has
/// no `<` at all its words containing `@` are taken as ids. Duplicates are kept.
pub fn parse_msg_ids(value: &str) -> Vec<String> {
    let b = value.as_bytes();
    let bracketed = b.contains(&b'<');
    let mut ids = Vec::new();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'(' => i = skip_comment(b, i).1,
            b'"' => i = skip_quoted(b, i).1,
            b'<' => {
                let rest = &b[i + 1..];
                let (len, next) = match rest.iter().position(|&c| c == b'>') {
                    Some(close) => (close, close + 1),
                    None => {
                        let len = rest.iter().take_while(|c| !c.is_ascii_whitespace()).count();
                        (len, len)
                    }
                };
                let id = strip_id_whitespace(&rest[..len]);
                if !id.is_empty() {
                    ids.push(String::from_utf8_lossy(&id).into_owned());
                }
                i += 1 + next;
            }
            c if !bracketed && !c.is_ascii_whitespace() && c != b',' => {
                let word_len = b[i..]
                    .iter()
                    .take_while(|&&c| !c.is_ascii_whitespace() && !matches!(c, b',' | b'(' | b'"'))
                    .count();
                let word = &b[i..i + word_len];
                if word.contains(&b'@') {
                    ids.push(String::from_utf8_lossy(word).into_owned());
                }
                i += word_len;
            }
            _ => i += 1,
        }
    }
    ids
}

// ---------------------------------------------------------------------------------------------
// Header block

/// The header block of `raw`, or why `raw` is not a message to stamp.
fn header_block(raw: &[u8]) -> Result<HeaderBlock, StampError> {
    if raw.is_empty() {
        return Err(StampError::NotAMessage("empty input".into()));
    }
    let block = HeaderBlock::read(raw);
    if !block.starts_with_field() {
        let why = if block.fields.is_empty() {
            "no header fields"
        } else {
            "the first line is not a header field"
        };
        return Err(StampError::NotAMessage(why.into()));
    }
    Ok(block)
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Whitespace inside a (possibly folded) header value.
fn is_fws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn trim_ws(b: &[u8]) -> &[u8] {
    let start = b.iter().take_while(|&&c| is_fws(c)).count();
    let end = b.len() - b[start..].iter().rev().take_while(|&&c| is_fws(c)).count();
    &b[start..end]
}

// ---------------------------------------------------------------------------------------------
// Fields we write

/// Checks replyd's own values, which go into header fields as they are.
fn validate(params: &StampParams<'_>) -> Result<(), StampError> {
    let invalid = |why: &str| Err(StampError::InvalidParam(why.into()));
    if !valid_id(params.message_id) {
        return invalid(
            "message_id must be 1 to 900 bytes of visible ASCII without '<' or '>' (no brackets)",
        );
    }
    if !valid_address(params.reply_address) {
        return invalid("reply_address must be a plain ASCII addr-spec local@domain");
    }
    let (name, value) = params.marker;
    if name.is_empty() || !name.bytes().all(is_ftext) {
        return invalid("marker name must be printable ASCII without ':'");
    }
    if REPLACED_FIELDS
        .iter()
        .chain(&["Subject", "From"])
        .any(|managed| managed.eq_ignore_ascii_case(name))
    {
        return invalid("marker name must not be a field that stamp() manages");
    }
    let printable = value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b));
    if value.trim().is_empty() || !printable || name.len() + 2 + value.len() > MAX_LINE_LEN {
        return invalid("marker value must be non-empty printable ASCII on one line");
    }
    Ok(())
}

/// A msg-id (without `<>`) that can be written as it is.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_TOKEN_LEN
        && id
            .bytes()
            .all(|b| (0x21..0x7f).contains(&b) && b != b'<' && b != b'>')
}

fn valid_address(address: &str) -> bool {
    let plain = address.len() <= MAX_TOKEN_LEN
        && address
            .bytes()
            .all(|b| (0x21..0x7f).contains(&b) && !b"<>()\",;:\\".contains(&b));
    plain
        && address
            .rsplit_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
}

fn angle(id: &str) -> String {
    format!("<{id}>")
}

/// Ids for `References:` (see the module documentation), without `<>`.
fn references(params: &StampParams<'_>, parent: Option<&str>, existing: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut ids: Vec<String> = params
        .previous_references
        .iter()
        .chain(existing)
        .map(String::as_str)
        .filter(|id| valid_id(id) && *id != params.message_id && Some(*id) != parent)
        .filter(|id| seen.insert(*id))
        .map(str::to_owned)
        .collect();
    ids.extend(parent.map(str::to_owned));
    if ids.len() > MAX_REFERENCES {
        // Keep the root of the thread and the most recent ids.
        ids.drain(1..ids.len() - (MAX_REFERENCES - 1));
    }
    ids
}

/// Writes `Name: tok tok …` + `eol`, folding between tokens before column 78 (a token longer
/// than a line gets a line of its own).
fn write_field<T: AsRef<[u8]>>(
    out: &mut Vec<u8>,
    name: &str,
    tokens: impl IntoIterator<Item = T>,
    eol: &[u8],
) {
    out.extend_from_slice(name.as_bytes());
    out.push(b':');
    let mut column = name.len() + 1;
    let mut on_line = 0;
    for token in tokens {
        let token = token.as_ref();
        if on_line > 0 && column + 1 + token.len() > FOLD_COLUMN {
            out.extend_from_slice(eol);
            column = 0;
            on_line = 0;
        }
        out.push(b' ');
        out.extend_from_slice(token);
        column += 1 + token.len();
        on_line += 1;
    }
    out.extend_from_slice(eol);
}

#[cfg(test)]
mod tests;
