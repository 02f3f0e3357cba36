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
    let block = HeaderBlock::parse(raw)?;
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
    let Ok(block) = HeaderBlock::parse(raw) else {
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

const CRLF: &[u8] = b"\r\n";
const LF: &[u8] = b"\n";

/// The top-level header block of a message, as byte offsets into it.
struct HeaderBlock {
    fields: Vec<Field>,
    /// Offset of the empty line that ends the block (or the input's length): the rest is copied.
    end: usize,
    /// Line ending of the first header line, used for everything we write.
    eol: &'static [u8],
}

/// One header field with its continuation lines, or a line that is no field (`name: None`).
struct Field {
    start: usize,
    name: Option<(usize, usize)>,
    /// Offset just after the colon (`start` for a line that is no field).
    value_start: usize,
    /// Offset after the field's last line ending.
    end: usize,
}

impl HeaderBlock {
    fn parse(raw: &[u8]) -> Result<HeaderBlock, StampError> {
        if raw.is_empty() {
            return Err(StampError::NotAMessage("empty input".into()));
        }
        let mut pos = 0;
        let first = &raw[..line_end(raw, 0)];
        if first.starts_with(b"From ") && field_colon(first).is_none() {
            pos = first.len(); // mbox separator line
        }
        let first = &raw[pos..line_end(raw, pos)];
        if field_colon(first).is_none() {
            let why = if first.is_empty() || is_blank(first) {
                "no header fields"
            } else {
                "the first line is not a header field"
            };
            return Err(StampError::NotAMessage(why.into()));
        }
        let eol = if first.ends_with(CRLF) || !first.ends_with(LF) {
            CRLF
        } else {
            LF
        };

        let mut fields: Vec<Field> = Vec::new();
        while pos < raw.len() {
            let end = line_end(raw, pos);
            let line = &raw[pos..end];
            if is_blank(line) {
                break;
            }
            match (line.first(), fields.last_mut()) {
                (Some(b' ' | b'\t'), Some(last)) => last.end = end,
                _ => fields.push(match field_colon(line) {
                    Some((name_len, colon)) => Field {
                        start: pos,
                        name: Some((pos, pos + name_len)),
                        value_start: pos + colon + 1,
                        end,
                    },
                    None => Field {
                        start: pos,
                        name: None,
                        value_start: pos,
                        end,
                    },
                }),
            }
            pos = end;
        }
        Ok(HeaderBlock {
            fields,
            end: pos,
            eol,
        })
    }

    fn fields_named<'s>(&'s self, raw: &'s [u8], name: &'s str) -> impl Iterator<Item = &'s Field> {
        self.fields.iter().filter(move |field| field.is(raw, name))
    }
}

impl Field {
    fn is(&self, raw: &[u8], name: &str) -> bool {
        self.name
            .is_some_and(|(start, end)| raw[start..end].eq_ignore_ascii_case(name.as_bytes()))
    }

    /// The value after the colon, with folding, without the final line ending.
    fn value<'r>(&self, raw: &'r [u8]) -> &'r [u8] {
        let value = &raw[self.value_start..self.end];
        let value = value.strip_suffix(LF).unwrap_or(value);
        value.strip_suffix(b"\r").unwrap_or(value)
    }
}

/// Offset after the line that starts at `start` (after its LF, or the end of the input).
fn line_end(raw: &[u8], start: usize) -> usize {
    raw.get(start..)
        .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
        .map_or(raw.len(), |i| start + i + 1)
}

fn is_blank(line: &[u8]) -> bool {
    line == CRLF || line == LF
}

/// RFC 5322 ftext: printable ASCII except the colon.
fn is_ftext(b: u8) -> bool {
    matches!(b, 33..=57 | 59..=126)
}

/// If `line` starts a header field: the length of its name and the offset of its colon
/// (obsolete syntax allows whitespace between the two).
fn field_colon(line: &[u8]) -> Option<(usize, usize)> {
    let name_len = line.iter().take_while(|&&b| is_ftext(b)).count();
    let colon = name_len + line[name_len..].iter().take_while(|&&b| is_wsp(b)).count();
    (name_len > 0 && line.get(colon) == Some(&b':')).then_some((name_len, colon))
}

/// Removes the line breaks of folding (CRLF or LF); the whitespace after them stays.
fn unfold(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while let Some(&b) = value.get(i) {
        if b == b'\r' && value.get(i + 1) == Some(&b'\n') {
            i += 2;
        } else {
            if b != b'\n' {
                out.push(b);
            }
            i += 1;
        }
    }
    out
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

// ---------------------------------------------------------------------------------------------
// Subject

/// The Subject value (bytes after the colon) to write when answering, or `None` to keep it.
fn reply_subject(value: &[u8]) -> Option<Vec<u8>> {
    let lead = value.iter().take_while(|&&b| is_fws(b)).count();
    if lead == value.len() {
        return Some(b" Re:".to_vec());
    }
    let mut pos = lead;
    let mut prefixes = 0;
    while let Some(len) = reply_prefix_len(&value[pos..]) {
        pos += len;
        pos += value[pos..].iter().take_while(|&&b| is_fws(b)).count();
        prefixes += 1;
    }
    let rest = &value[pos..];
    let first_word = &rest[..rest.iter().take_while(|&&b| !is_fws(b)).count()];
    let encoded_prefix = decode_encoded_word(first_word).is_some_and(|text| {
        let start = text.iter().take_while(|&&b| is_fws(b)).count();
        reply_prefix_len(&text[start..]).is_some()
    });
    if prefixes + usize::from(encoded_prefix) == 1 {
        return None;
    }
    // No prefix: insert one. Several: replace them by one (or by none before an encoded-word
    // that has its own).
    let mut new = Vec::with_capacity(value.len() + 5);
    new.extend_from_slice(if lead == 0 { b" " } else { &value[..lead] });
    if !encoded_prefix {
        new.extend_from_slice(if rest.is_empty() { b"Re:" } else { b"Re: " });
    }
    new.extend_from_slice(rest);
    Some(new)
}

/// Length of a reply prefix (`Re:`, `AW :`, `Re[2]:`, …) at the start of `s`, colon included.
fn reply_prefix_len(s: &[u8]) -> Option<usize> {
    const PREFIXES: [&[u8]; 7] = [b"antw", b"odp", b"ynt", b"re", b"aw", b"sv", b"vs"];
    PREFIXES.iter().find_map(|prefix| {
        if !s.get(..prefix.len())?.eq_ignore_ascii_case(prefix) {
            return None;
        }
        let mut i = prefix.len();
        if let Some(&open @ (b'[' | b'(')) = s.get(i) {
            let close = if open == b'[' { b']' } else { b')' };
            let digits = s[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
            if digits > 0 && s.get(i + 1 + digits) == Some(&close) {
                i += digits + 2;
            }
        }
        i += s[i..].iter().take_while(|&&b| is_wsp(b)).count();
        (s.get(i) == Some(&b':')).then_some(i + 1)
    })
}

// ---------------------------------------------------------------------------------------------
// Display names

/// Reply-To tokens for the display name of the first mailbox in an (unfolded) `From:` value.
fn from_display_name(from: &[u8]) -> Vec<Vec<u8>> {
    let name = first_mailbox_name(from);
    if name.len() > MAX_TOKEN_LEN {
        return Vec::new();
    }
    let mut tokens = Vec::new();
    let mut text: Vec<String> = Vec::new();
    for word in phrase_words(name) {
        match word {
            Word::Text(t) => text.push(t),
            Word::Encoded(encoded) => {
                tokens.extend(encode_display_name(&text.join(" ")));
                text.clear();
                tokens.push(encoded);
            }
        }
    }
    tokens.extend(encode_display_name(&text.join(" ")));
    tokens
}

/// The raw display name of the first mailbox of an address list: the phrase before its `<`,
/// or the comment of an `addr (Name)` mailbox. A comma not preceded by an address belongs to
/// the name (`Doe, Jane <j@x>`, as sloppy clients write it).
fn first_mailbox_name(v: &[u8]) -> &[u8] {
    let mut start = 0;
    let mut saw_at = false;
    let mut comment: &[u8] = &[];
    let mut i = 0;
    while let Some(&c) = v.get(i) {
        match c {
            b'"' => i = skip_quoted(v, i).1,
            b'(' => {
                let (inner_end, next) = skip_comment(v, i);
                comment = &v[i + 1..inner_end];
                i = next;
            }
            b'<' => return &v[start..i],
            b',' if saw_at => break,
            b':' => {
                // A group: `Team: Jane <j@x>;` names Jane.
                start = i + 1;
                saw_at = false;
                comment = &[];
                i += 1;
            }
            _ => {
                saw_at |= c == b'@';
                i += 1;
            }
        }
    }
    comment
}

enum Word {
    /// An atom or quoted-string, decoded.
    Text(String),
    /// An RFC 2047 encoded-word, as it was.
    Encoded(Vec<u8>),
}

fn phrase_words(b: &[u8]) -> Vec<Word> {
    let mut words = Vec::new();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'(' => i = skip_comment(b, i).1,
            b'"' => {
                let (inner_end, next) = skip_quoted(b, i);
                words.push(Word::Text(decode_text(&unescape(&b[i + 1..inner_end]))));
                i = next;
            }
            _ => {
                let len = b[i..]
                    .iter()
                    .take_while(|&&c| !is_fws(c) && c != b'(' && c != b'"')
                    .count();
                let token = &b[i..i + len];
                words.push(match decode_encoded_word(token) {
                    Some(_) => Word::Encoded(token.to_vec()),
                    None => Word::Text(decode_text(token)),
                });
                i += len;
            }
        }
    }
    words
}

/// Reply-To tokens for a display name given as text: atoms, one quoted-string, or encoded-words.
fn encode_display_name(name: &str) -> Vec<Vec<u8>> {
    let spaced: String = name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean: String = spaced
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(MAX_DISPLAY_NAME_CHARS)
        .collect();
    let clean = clean.trim_end();
    if clean.is_empty() {
        return Vec::new();
    }
    if !clean.is_ascii() {
        return encoded_words(clean);
    }
    let atoms = clean.split(' ').all(|w| w.bytes().all(is_atext));
    if atoms && !clean.contains("=?") {
        return clean.split(' ').map(|w| w.as_bytes().to_vec()).collect();
    }
    let mut quoted = Vec::with_capacity(clean.len() + 2);
    quoted.push(b'"');
    for b in clean.bytes() {
        if b == b'"' || b == b'\\' {
            quoted.push(b'\\');
        }
        quoted.push(b);
    }
    quoted.push(b'"');
    vec![quoted]
}

/// `=?UTF-8?B?…?=` words of at most 68 characters, split between characters.
fn encoded_words(text: &str) -> Vec<Vec<u8>> {
    let mut words = Vec::new();
    let mut chunk_start = 0;
    for (i, c) in text.char_indices() {
        if i + c.len_utf8() - chunk_start > ENCODED_WORD_CHUNK {
            words.push(&text[chunk_start..i]);
            chunk_start = i;
        }
    }
    words.push(&text[chunk_start..]);
    words
        .into_iter()
        .map(|chunk| format!("=?UTF-8?B?{}?=", base64_encode(chunk.as_bytes())).into_bytes())
        .collect()
}

/// RFC 5322 atext.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// Text from header bytes: UTF-8 if they are, else Latin-1 (every byte is a character).
fn decode_text(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => b.iter().map(|&b| char::from(b)).collect(),
    }
}

fn unescape(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut escaped = false;
    for &c in b {
        if c == b'\\' && !escaped {
            escaped = true;
        } else {
            out.push(c);
            escaped = false;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Lexical helpers

/// For a quoted-string opening at `open`: (end of its content, offset after the closing quote).
fn skip_quoted(b: &[u8], open: usize) -> (usize, usize) {
    let mut i = open + 1;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => i += 2,
            b'"' => return (i, i + 1),
            _ => i += 1,
        }
    }
    (b.len(), b.len())
}

/// For a (nested) comment opening at `open`: (end of its content, offset after it).
fn skip_comment(b: &[u8], open: usize) -> (usize, usize) {
    let mut depth = 0usize;
    let mut i = open;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => i += 1,
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return (i, i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    (b.len(), b.len())
}

/// A msg-id from between `<` and `>`: whitespace outside quoted parts removed (folding).
fn strip_id_whitespace(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut quoted = false;
    for &c in b {
        if c == b'"' {
            quoted = !quoted;
        }
        if quoted || !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    out
}

/// The bytes an RFC 2047 encoded-word `=?charset?B|Q?text?=` stands for (charset not applied).
fn decode_encoded_word(token: &[u8]) -> Option<Vec<u8>> {
    if !token.iter().all(|b| (0x21..0x7f).contains(b)) {
        return None;
    }
    let inner = token.strip_prefix(b"=?")?.strip_suffix(b"?=")?;
    let mut parts = inner.splitn(3, |&b| b == b'?');
    let (charset, encoding, text) = (parts.next()?, parts.next()?, parts.next()?);
    if charset.is_empty() || text.contains(&b'?') {
        return None;
    }
    match encoding {
        b"B" | b"b" => base64_decode(text),
        b"Q" | b"q" => Some(q_decode(text)),
        _ => None,
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let byte = |k: usize| u32::from(chunk.get(k).copied().unwrap_or(0));
        let n = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(BASE64[(n >> (18 - 6 * k)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in input.iter().filter(|&&c| c != b'=') {
        let v = BASE64.iter().position(|&b| b == c)?;
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn q_decode(input: &[u8]) -> Vec<u8> {
    let hex = |b: Option<&u8>| b.and_then(|&b| char::from(b).to_digit(16));
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&c) = input.get(i) {
        match (c, hex(input.get(i + 1)), hex(input.get(i + 2))) {
            (b'=', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (b'_', _, _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::{HeaderName, MessageParser};

    const OUR_ID: &str =
        "conversation/6f1c2d3e-0000-4000-8000-00000000abcd/messages/3@support.example.com";
    const REPLY: &str = "reply+0123456789abcdef0123456789abcdef@support.example.com";
    const CUSTOMER_ID: &str = "CAF=abc123+customer@mail.gmail.com";
    const MARKER: (&str, &str) = (
        "X-Replyd-Conversation",
        "6f1c2d3e-0000-4000-8000-00000000abcd",
    );

    fn params<'a>(in_reply_to: Option<&'a str>, refs: &'a [String]) -> StampParams<'a> {
        StampParams {
            reply_address: REPLY,
            display_name: None,
            message_id: OUR_ID,
            in_reply_to,
            previous_references: refs,
            marker: MARKER,
        }
    }

    fn crlf(lf: &str) -> Vec<u8> {
        lf.replace('\n', "\r\n").into_bytes()
    }

    /// Offset of the first empty line (the body, blank line included), or the length.
    fn body_offset(raw: &[u8]) -> usize {
        let mut pos = 0;
        while pos < raw.len() {
            let end = line_end(raw, pos);
            if is_blank(&raw[pos..end]) {
                return pos;
            }
            pos = end;
        }
        raw.len()
    }

    fn body(raw: &[u8]) -> &[u8] {
        &raw[body_offset(raw)..]
    }

    fn header_block(raw: &[u8]) -> &[u8] {
        &raw[..body_offset(raw)]
    }

    fn lines(b: &[u8]) -> Vec<&[u8]> {
        b.split_inclusive(|&c| c == b'\n').collect()
    }

    fn strings(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    /// What every stamped message must satisfy, checked with our parser and with mail-parser.
    fn check(raw: &[u8], out: &[u8], p: &StampParams<'_>, expected_refs: &[&str]) {
        assert_eq!(body(raw), body(out), "body bytes changed");
        let crlf_input = lines(header_block(raw))[0].ends_with(b"\r\n");
        for line in lines(header_block(out)) {
            let content = line.strip_suffix(b"\n").unwrap_or(line);
            let content = content.strip_suffix(b"\r").unwrap_or(content);
            assert!(content.len() <= MAX_LINE_LEN);
            assert_eq!(
                line.ends_with(b"\r\n"),
                crlf_input,
                "line ending of {line:?}"
            );
        }
        for name in [
            "Reply-To",
            "reply-to",
            "Message-ID",
            "X-REPLYD-CONVERSATION",
        ] {
            assert_eq!(header_values(out, name).len(), 1, "{name}");
        }

        let msg = MessageParser::default()
            .parse(out)
            .expect("mail-parser parses the output");
        let reply_tos = msg
            .headers()
            .iter()
            .filter(|h| h.name == HeaderName::ReplyTo);
        assert_eq!(reply_tos.count(), 1);
        let reply_to = msg
            .reply_to()
            .and_then(|a| a.first())
            .expect("a Reply-To mailbox");
        assert_eq!(reply_to.address(), Some(REPLY));
        assert_eq!(msg.message_id(), Some(p.message_id));
        assert_eq!(msg.in_reply_to().as_text(), p.in_reply_to);
        let refs: Vec<&str> = msg
            .references()
            .as_text_list()
            .map(|l| l.iter().map(|s| s.as_ref()).collect())
            .unwrap_or_default();
        assert_eq!(refs, expected_refs);
        assert_eq!(
            msg.header(MARKER.0).and_then(|v| v.as_text()),
            Some(MARKER.1)
        );
    }

    const GMAIL: &str = "\
MIME-Version: 1.0
Date: Tue, 14 May 2024 10:21:07 +0200
References: <CAF=abc123+customer@mail.gmail.com>
In-Reply-To: <CAF=abc123+customer@mail.gmail.com>
Message-ID: <CAH+xyz789agent@mail.gmail.com>
Subject: Re: Order #1234 arrived damaged
From: Agent Smith <agent.smith@example.com>
To: Customer <customer@example.net>
Content-Type: multipart/mixed; boundary=\"000000000000a1b2c3d4e5f6\"

--000000000000a1b2c3d4e5f6
Content-Type: multipart/alternative; boundary=\"000000000000a1b2c3d4e5f5\"

--000000000000a1b2c3d4e5f5
Content-Type: text/plain; charset=\"UTF-8\"

Hi, sorry about that. A replacement is on its way.
Reply-To: this line is body text and stays
Message-ID: <so-is-this@example.com>

--000000000000a1b2c3d4e5f5
Content-Type: text/html; charset=\"UTF-8\"

<div dir=\"ltr\">Hi, sorry about that.</div>

--000000000000a1b2c3d4e5f5--
--000000000000a1b2c3d4e5f6
Content-Type: application/pdf; name=\"label.pdf\"
Content-Disposition: attachment; filename=\"label.pdf\"
Content-Transfer-Encoding: base64
Content-ID: <f_lw1abc0>
X-Attachment-Id: f_lw1abc0

JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoK
--000000000000a1b2c3d4e5f6--
";

    const OUTLOOK: &str = "\
Received: from AM0PR07MB1234.eurprd07.prod.outlook.com (2603:10a6:208:1::1) by
 AM0PR07MB5678.eurprd07.prod.outlook.com with HTTPS; Tue, 14 May 2024 08:21:07
 +0000
From: \"Doe, Jane\" <jane.doe@contoso.com>
To: \"customer@example.net\" <customer@example.net>
reply-to: Jane Doe
 <jane.doe@contoso.com>
Subject: RE: Invoice question
Thread-Topic: Invoice question
Thread-Index: AQHaZ3xkY2VhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5eg==
Date: Tue, 14 May 2024 08:21:07 +0000
Message-ID:
 <AM0PR07MB1234ABCD5678EF90@AM0PR07MB1234.eurprd07.prod.outlook.com>
References: <CAF=abc123+customer@mail.gmail.com>
In-Reply-To: <CAF=abc123+customer@mail.gmail.com>
Accept-Language: en-US
Content-Language: en-US
X-MS-Has-Attach: yes
Content-Type: multipart/mixed;
\tboundary=\"_004_AM0PR07MB1234ABCD5678EF90_\"
MIME-Version: 1.0

--_004_AM0PR07MB1234ABCD5678EF90_
Content-Type: multipart/alternative;
\tboundary=\"_000_AM0PR07MB1234ABCD5678EF90_\"

--_000_AM0PR07MB1234ABCD5678EF90_
Content-Type: text/plain; charset=\"us-ascii\"
Content-Transfer-Encoding: quoted-printable

Hello, the invoice is attached.=20

--_000_AM0PR07MB1234ABCD5678EF90_
Content-Type: text/html; charset=\"us-ascii\"
Content-Transfer-Encoding: quoted-printable

<html><body><p>Hello, the invoice is attached.</p></body></html>

--_000_AM0PR07MB1234ABCD5678EF90_--

--_004_AM0PR07MB1234ABCD5678EF90_
Content-Type: image/png; name=\"image001.png\"
Content-Description: image001.png
Content-Disposition: attachment; filename=\"image001.png\"; size=68;
\tcreation-date=\"Tue, 14 May 2024 08:21:06 GMT\"
Content-Transfer-Encoding: base64

iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA
60e6kgAAAABJRU5ErkJggg==

--_004_AM0PR07MB1234ABCD5678EF90_--
";

    const THUNDERBIRD: &str = "\
Message-ID: <4d9c1e2a-7b0f-4c1e-9a57-2f1f0e6b8c3d@example.org>
Date: Tue, 14 May 2024 10:21:07 +0200
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_Berlin?=
Content-Language: de-DE
To: kunde@example.net
From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.org>
Content-Type: multipart/mixed;
 boundary=\"------------nJ8t2hQz0yV1xW2aB3cD4eF\"

This is a multi-part message in MIME format.
--------------nJ8t2hQz0yV1xW2aB3cD4eF
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 8bit

Hallo, herzliche Grüße!

--------------nJ8t2hQz0yV1xW2aB3cD4eF
Content-Type: message/rfc822; name=\"original.eml\"
Content-Disposition: attachment; filename=\"original.eml\"

Message-ID: <inner@example.net>
Reply-To: inner@example.net
Subject: inner

inner body
--------------nJ8t2hQz0yV1xW2aB3cD4eF
Content-Type: text/csv; charset=UTF-8; name=\"orders.csv\"
Content-Disposition: attachment; filename=\"orders.csv\"
Content-Transfer-Encoding: base64

b3JkZXIsc3RhdHVzCjEyMzQsZGFtYWdlZAo=

--------------nJ8t2hQz0yV1xW2aB3cD4eF--
";

    #[test]
    fn gmail_shaped_crlf_exact_header_block() {
        let raw = crlf(GMAIL);
        let prev = strings(&["root@support.example.com", CUSTOMER_ID]);
        let p = params(Some(CUSTOMER_ID), &prev);
        let out = stamp(&raw, &p).unwrap().bytes;
        let expected = crlf(&format!(
            "Message-ID: <{OUR_ID}>
In-Reply-To: <{CUSTOMER_ID}>
References: <root@support.example.com> <{CUSTOMER_ID}>
Reply-To: Agent Smith
 <{REPLY}>
X-Replyd-Conversation: {}
MIME-Version: 1.0
Date: Tue, 14 May 2024 10:21:07 +0200
Subject: Re: Order #1234 arrived damaged
From: Agent Smith <agent.smith@example.com>
To: Customer <customer@example.net>
Content-Type: multipart/mixed; boundary=\"000000000000a1b2c3d4e5f6\"
",
            MARKER.1
        ));
        assert_eq!(
            String::from_utf8_lossy(header_block(&out)),
            String::from_utf8_lossy(&expected)
        );
        check(&raw, &out, &p, &["root@support.example.com", CUSTOMER_ID]);

        let msg = MessageParser::default().parse(&out).unwrap();
        assert_eq!(msg.subject(), Some("Re: Order #1234 arrived damaged"));
        assert_eq!(
            msg.reply_to().unwrap().first().unwrap().name(),
            Some("Agent Smith")
        );
        assert_eq!(msg.attachment_count(), 1);
        let original = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(
            msg.attachment(0).unwrap().contents(),
            original.attachment(0).unwrap().contents()
        );
        assert_eq!(msg.body_text(0), original.body_text(0));
    }

    #[test]
    fn outlook_shaped_crlf() {
        let raw = crlf(OUTLOOK);
        let p = params(Some(CUSTOMER_ID), &[]);
        let out = stamp(&raw, &p).unwrap().bytes;
        check(&raw, &out, &p, &[CUSTOMER_ID]);
        let text = String::from_utf8_lossy(header_block(&out)).into_owned();
        // The lower-case, folded Reply-To and the folded Message-ID are gone, continuation too.
        assert!(!text.contains("jane.doe@contoso.com>\r\nSubject"));
        assert!(!text.contains("AM0PR07MB1234ABCD5678EF90@"));
        assert!(!text.contains("reply-to:"));
        // "RE:" is already one reply prefix; the folded Received/Content-Type stay byte for byte.
        assert!(text.contains("\r\nSubject: RE: Invoice question\r\n"));
        assert!(text.contains("Received: from AM0PR07MB1234.eurprd07.prod.outlook.com (2603:10a6:208:1::1) by\r\n AM0PR07MB5678"));
        assert!(text.contains("Content-Type: multipart/mixed;\r\n\tboundary="));
        assert!(text.contains("Reply-To: \"Doe, Jane\"\r\n <reply+"));

        let msg = MessageParser::default().parse(&out).unwrap();
        assert_eq!(
            msg.reply_to().unwrap().first().unwrap().name(),
            Some("Doe, Jane")
        );
        assert_eq!(msg.subject(), Some("RE: Invoice question"));
        assert_eq!(msg.attachment_count(), 1);
    }

    #[test]
    fn thunderbird_shaped_lf() {
        let raw = THUNDERBIRD.as_bytes();
        let prev = strings(&["first@support.example.com"]);
        let p = params(Some(CUSTOMER_ID), &prev);
        let out = stamp(raw, &p).unwrap().bytes;
        check(raw, &out, &p, &["first@support.example.com", CUSTOMER_ID]);
        assert!(!header_block(&out).contains(&b'\r'));
        let text = String::from_utf8_lossy(header_block(&out)).into_owned();
        assert!(text.contains("\nSubject: Re: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_Berlin?=\n"));
        assert!(
            text.contains("Reply-To: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=\n <reply+0123456789abcdef")
        );
        assert!(text.contains("Content-Type: multipart/mixed;\n boundary="));

        let msg = MessageParser::default().parse(&out).unwrap();
        assert_eq!(msg.subject(), Some("Re: Grüße aus Berlin"));
        assert_eq!(
            msg.reply_to().unwrap().first().unwrap().name(),
            Some("Jörg Müller")
        );
        assert_eq!(msg.attachment_count(), 2);
        // The attached message keeps its own Reply-To and Message-ID.
        assert!(body(&out)
            .windows(27)
            .any(|w| w == b"Reply-To: inner@example.net"));
    }

    #[test]
    fn every_fixture_in_both_line_endings() {
        for fixture in [GMAIL, OUTLOOK, THUNDERBIRD] {
            for raw in [fixture.as_bytes().to_vec(), crlf(fixture)] {
                let prev = strings(&["a@x", "b@x"]);
                let p = params(Some("c@x"), &prev);
                let out = stamp(&raw, &p).unwrap().bytes;
                // The fixtures' own References/In-Reply-To ids come after the previous ones.
                let own = header_values(&raw, "References")
                    .iter()
                    .flat_map(|v| parse_msg_ids(v))
                    .collect::<Vec<_>>();
                let mut expected = vec!["a@x", "b@x"];
                expected.extend(own.iter().map(String::as_str));
                expected.push("c@x");
                check(&raw, &out, &p, &expected);
                assert_eq!(
                    stamp(&out, &p).unwrap().bytes,
                    out,
                    "stamping twice changes nothing"
                );

                let not_answering = params(None, &prev);
                let out = stamp(&raw, &not_answering).unwrap().bytes;
                expected.pop();
                check(&raw, &out, &not_answering, &expected);
                assert_eq!(
                    header_values(&out, "Subject"),
                    header_values(&raw, "Subject")
                );
            }
        }
    }

    #[test]
    fn other_headers_keep_order_case_and_bytes() {
        let raw = b"X-B: 2\r\nreply-TO: a@b,\r\n\tc@d\r\nx-a:   1  \r\nMESSAGE-id: <old@x>\r\nX-Replyd-Conversation: old\r\nX-C: \x80\xff\r\n\r\nbody";
        let out = stamp(raw, &params(None, &[])).unwrap().bytes;
        let tail = b"X-B: 2\r\nx-a:   1  \r\nX-C: \x80\xff\r\n\r\nbody";
        assert!(out.ends_with(tail));
        let head = &out[..out.len() - tail.len()];
        assert_eq!(
            String::from_utf8_lossy(head),
            format!(
                "Message-ID: <{OUR_ID}>\r\nReply-To: {REPLY}\r\nX-Replyd-Conversation: {}\r\n",
                MARKER.1
            )
        );
    }

    #[test]
    fn existing_reply_to_replaced_in_any_case_and_folding() {
        for raw in [
            &b"From: a@x\nReply-To: old@x\nreply-to: other@x\nREPLY-TO:\n  third@x,\n  fourth@x\nReply-To : obs@x\nMail-Reply-To: agent@x\nMail-Followup-To: agent@x\n\nbody\n"[..],
            b"From: a@x\r\nreply-to:\r\n\t\"Agent\"\r\n\t<agent@x>\r\nSubject: s\r\n\r\n",
        ] {
            let p = params(None, &[]);
            let out = stamp(raw, &p).unwrap().bytes;
            check(raw, &out, &p, &[]);
            let text = String::from_utf8_lossy(&out).into_owned();
            for gone in ["old@x", "other@x", "third@x", "fourth@x", "obs@x", "agent@x", "Agent"] {
                assert!(!text.contains(gone), "{gone} in {text}");
            }
            assert_eq!(header_values(&out, "Reply-To"), vec![REPLY]);
        }
    }

    #[test]
    fn re_prefix_rules() {
        let cases: &[(&str, &str)] = &[
            ("Subject: Hello", "Subject: Re: Hello"),
            ("Subject: Re: Hello", "Subject: Re: Hello"),
            ("Subject: RE: Hello", "Subject: RE: Hello"),
            ("Subject: re : Hello", "Subject: re : Hello"),
            ("Subject: AW: Hallo", "Subject: AW: Hallo"),
            ("Subject: SV: Hej", "Subject: SV: Hej"),
            ("Subject: Re[2]: Hello", "Subject: Re[2]: Hello"),
            ("Subject: Re: Re: Hello", "Subject: Re: Hello"),
            ("Subject: RE: AW: re:Hello", "Subject: Re: Hello"),
            ("Subject: Re: Re:", "Subject: Re:"),
            ("Subject: Fwd: Hello", "Subject: Re: Fwd: Hello"),
            ("Subject: Re: Fwd: Hello", "Subject: Re: Fwd: Hello"),
            ("Subject: Reply needed", "Subject: Re: Reply needed"),
            ("Subject: Regarding: x", "Subject: Re: Regarding: x"),
            ("Subject:Hello", "Subject: Re: Hello"),
            ("Subject:", "Subject: Re:"),
            ("Subject:   ", "Subject: Re:"),
            ("subject: hello", "subject: Re: hello"),
            (
                "Subject: =?UTF-8?B?R3LDvMOfZQ==?=",
                "Subject: Re: =?UTF-8?B?R3LDvMOfZQ==?=",
            ),
            (
                "Subject: =?UTF-8?Q?Re=3A_Gr=C3=BC=C3=9Fe?=",
                "Subject: =?UTF-8?Q?Re=3A_Gr=C3=BC=C3=9Fe?=",
            ),
            (
                "Subject: Re: =?UTF-8?Q?Re=3A_x?=",
                "Subject: =?UTF-8?Q?Re=3A_x?=",
            ),
            (
                "Subject: Re:\n Re: folded\n tail",
                "Subject: Re: folded\n tail",
            ),
            ("Subject:\n Hello", "Subject:\n Re: Hello"),
        ];
        for (subject, expected) in cases {
            let raw = format!("From: a@x\n{subject}\n\nbody");
            let out = stamp(raw.as_bytes(), &params(Some("p@x"), &[]))
                .unwrap()
                .bytes;
            let text = String::from_utf8(out).unwrap();
            let expected = format!("\nFrom: a@x\n{expected}\n\nbody");
            assert!(text.ends_with(&expected), "{subject:?}: got {text:?}");
            // Never two reply prefixes, whatever the input.
            let again = stamp(text.as_bytes(), &params(Some("p@x"), &[]))
                .unwrap()
                .bytes;
            assert_eq!(again, text.as_bytes());
        }
        // No Subject: none is invented. Not answering: Subject untouched.
        let out = stamp(b"From: a@x\n\nbody", &params(Some("p@x"), &[]))
            .unwrap()
            .bytes;
        assert!(header_values(&out, "Subject").is_empty());
        let out = stamp(b"Subject: Hello\n\n", &params(None, &[]))
            .unwrap()
            .bytes;
        assert_eq!(header_values(&out, "Subject"), vec!["Hello"]);
    }

    #[test]
    fn references_capped_deduplicated_and_folded() {
        let prev: Vec<String> = (0..30).map(|i| format!("m{i}@s.example")).collect();
        let raw = b"References: <m3@s.example> <own@x> <m1@s.example>\nIn-Reply-To: <own2@x>\n\n";
        let p = params(Some("m5@s.example"), &prev);
        let out = stamp(raw, &p).unwrap().bytes;
        let refs: Vec<String> = header_values(&out, "References")
            .iter()
            .flat_map(|v| parse_msg_ids(v))
            .collect();
        assert_eq!(refs.len(), MAX_REFERENCES);
        assert_eq!(refs[0], "m0@s.example");
        assert_eq!(refs.last().map(String::as_str), Some("m5@s.example"));
        // Most recent kept: the tail of prev (minus the parent), then the message's own ids.
        let mut expected: Vec<String> = (0..30)
            .filter(|i| *i != 5)
            .map(|i| format!("m{i}@s.example"))
            .chain(["own@x".to_string(), "own2@x".to_string()])
            .collect();
        expected.push("m5@s.example".into());
        let tail = &expected[expected.len() - (MAX_REFERENCES - 1)..];
        assert_eq!(&refs[1..], tail);
        let unique: HashSet<&String> = refs.iter().collect();
        assert_eq!(unique.len(), refs.len());

        // OUR_ID is longer than a line: Message-ID stays on one line (never folded inside).
        for line in lines(header_block(&out))
            .iter()
            .filter(|l| !l.starts_with(b"Message-ID:"))
        {
            assert!(line.len() - 1 <= FOLD_COLUMN, "{line:?}");
        }
        let block = String::from_utf8_lossy(header_block(&out)).into_owned();
        assert!(block.contains("References: <m0@s.example> <m"));
        assert!(block.contains("\n <m"));

        // Our own Message-ID, invalid ids and duplicates never appear.
        let prev = strings(&["a@x", OUR_ID, "bad id@x", "", "a@x", "<b@x>", "c@x"]);
        let out = stamp(b"Subject: s\n\n", &params(Some("c@x"), &prev))
            .unwrap()
            .bytes;
        assert_eq!(header_values(&out, "References"), vec!["<a@x> <c@x>"]);
    }

    #[test]
    fn in_reply_to_none_removes_existing_and_keeps_its_ids() {
        let raw = b"In-Reply-To: <elsewhere@x>\r\nSubject: Hello\r\n\r\nb";
        let p = params(None, &[]);
        let out = stamp(raw, &p).unwrap().bytes;
        check(raw, &out, &p, &["elsewhere@x"]);
        assert!(header_values(&out, "In-Reply-To").is_empty());
        assert_eq!(header_values(&out, "Subject"), vec!["Hello"]);
        // An in_reply_to that cannot be written is left out but still counts as answering.
        let out = stamp(raw, &params(Some("has space@x"), &[])).unwrap().bytes;
        assert!(header_values(&out, "In-Reply-To").is_empty());
        assert_eq!(header_values(&out, "Subject"), vec!["Re: Hello"]);
    }

    #[test]
    fn display_names_quoted_and_encoded() {
        let reply_to = |from: &str, configured: Option<&str>| {
            let raw = format!("From: {from}\r\n\r\n");
            let mut p = params(None, &[]);
            p.display_name = configured;
            let out = stamp(raw.as_bytes(), &p).unwrap().bytes;
            check(raw.as_bytes(), &out, &p, &[]);
            let name = MessageParser::default().parse(&out).and_then(|m| {
                m.reply_to()
                    .and_then(|a| a.first())
                    .and_then(|a| a.name().map(str::to_owned))
            });
            (header_values(&out, "Reply-To").remove(0), name)
        };
        let r = |s: &str| s.replace("R", REPLY);
        assert_eq!(reply_to("a@x", None), (r("R"), None));
        assert_eq!(
            reply_to("Agent <a@x>", Some("ACME Support")),
            (r("ACME Support <R>"), Some("ACME Support".into()))
        );
        assert_eq!(
            reply_to("a@x", Some("ACME, Inc. (EU)")),
            (r("\"ACME, Inc. (EU)\" <R>"), Some("ACME, Inc. (EU)".into()))
        );
        assert_eq!(
            reply_to("a@x", Some("Say \"hi\" \\o/")).0,
            r("\"Say \\\"hi\\\" \\\\o/\" <R>")
        );
        assert_eq!(reply_to("a@x", Some("=?x?q?y?=")).0, r("\"=?x?q?y?=\" <R>"));
        assert_eq!(
            reply_to("a@x", Some("Jörg")),
            (r("=?UTF-8?B?SsO2cmc=?= <R>"), Some("Jörg".into()))
        );
        assert_eq!(reply_to("a@x", Some("  \t ")), (r("R"), None));
        assert_eq!(
            reply_to("\"Doe, Jane\" <j@x>", None).1,
            Some("Doe, Jane".into())
        );
        assert_eq!(
            reply_to("Doe, Jane <j@x>", None).1,
            Some("Doe, Jane".into())
        );
        assert_eq!(reply_to("j@x (Jane Doe)", None).1, Some("Jane Doe".into()));
        assert_eq!(reply_to("j@x, Other <o@x>", None).1, None);
        assert_eq!(
            reply_to("Jane (Support) Doe <j@x>", None).1,
            Some("Jane Doe".into())
        );
        assert_eq!(
            reply_to("\"Jane\" =?UTF-8?Q?M=C3=BCller?= <j@x>", None).1,
            Some("Jane Müller".into())
        );

        // Header injection through the configured name becomes spaces.
        let (value, name) = reply_to("a@x", Some("Evil\r\nBcc: victim@x"));
        assert_eq!(value, r("\"Evil Bcc: victim@x\" <R>"));
        assert_eq!(name, Some("Evil Bcc: victim@x".into()));

        // A long non-ASCII name: several encoded-words (RFC 2047: at most 75 chars), lines folded.
        let long = "Ünïcödé Sûppört Tëäm ".repeat(5);
        let raw = b"From: a@x\r\n\r\n";
        let mut p = params(None, &[]);
        p.display_name = Some(&long);
        let out = stamp(raw, &p).unwrap().bytes;
        check(raw, &out, &p, &[]);
        let value = header_values(&out, "Reply-To").remove(0);
        let words: Vec<&str> = value.split(' ').filter(|w| w.starts_with("=?")).collect();
        assert!(words.len() > 2);
        assert!(words.iter().all(|w| w.len() <= 68));
        for line in lines(header_block(&out))
            .iter()
            .filter(|l| !l.starts_with(b"Message-ID:"))
        {
            assert!(line.len() - 2 <= FOLD_COLUMN, "{line:?}");
        }
        let msg = MessageParser::default().parse(&out).unwrap();
        assert_eq!(
            msg.reply_to().unwrap().first().unwrap().name(),
            Some(long.trim())
        );
    }

    #[test]
    fn non_utf8_header_bytes() {
        let raw = b"From: J\xf6rg <j@x>\r\nSubject: \xff\xfe caf\xe9\r\nX-\xc3(: odd name\r\nX-Raw: \x80\x81\r\n\r\n\xff body \x00";
        let p = params(Some("p@x"), &[]);
        let out = stamp(raw, &p).unwrap().bytes;
        check(raw, &out, &p, &["p@x"]);
        assert!(out.ends_with(b"Subject: Re: \xff\xfe caf\xe9\r\nX-\xc3(: odd name\r\nX-Raw: \x80\x81\r\n\r\n\xff body \x00"));
        // Latin-1 fallback for a display name that is not UTF-8.
        assert!(header_values(&out, "Reply-To")[0].starts_with("=?UTF-8?B?SsO2cmc=?= <"));
        assert_eq!(header_values(raw, "X-Raw"), vec!["\u{fffd}\u{fffd}"]);
    }

    #[test]
    fn not_a_message() {
        for raw in [
            &b""[..],
            b"\r\n\r\nbody",
            b"\n",
            b"hello world\r\nSubject: x\r\n\r\n",
            b" continuation: first\r\n\r\n",
            b": no name\n\n",
            b"From someone@example.com Tue May 14 10:21:07 2024\n",
            b"From someone@example.com Tue May 14 10:21:07 2024\n\nbody",
            b"\xff\xfe: x\n\n",
        ] {
            match stamp(raw, &params(None, &[])) {
                Err(e @ StampError::NotAMessage(_)) => {
                    assert!(e.to_string().starts_with("not an email message"))
                }
                other => panic!("{raw:?}: {other:?}"),
            }
            assert!(header_values(raw, "Subject").is_empty());
        }
    }

    #[test]
    fn mbox_from_line_dropped_and_odd_blocks_pass() {
        let raw =
            b"From agent@example.com Tue May 14 10:21:07 2024\nFrom: a@x\nSubject: s\n\nbody\n";
        let out = stamp(raw, &params(None, &[])).unwrap().bytes;
        assert!(!out.starts_with(b"From "));
        assert!(out.ends_with(b"\nFrom: a@x\nSubject: s\n\nbody\n"));
        // "From :" (obsolete syntax) is a header field, not an mbox line.
        assert!(stamp(b"From : a@x\n\n", &params(None, &[])).is_ok());
        // Headers only, no line ending at the end: new headers use CRLF, the rest is kept.
        let out = stamp(b"Subject: s", &params(None, &[])).unwrap().bytes;
        assert!(out.starts_with(b"Message-ID: <") && out.ends_with(b"\r\nSubject: s"));
        // A stray line inside the header block is kept; the fields after it still count.
        let out = stamp(
            b"Subject: s\nnot a field\nReply-To: x@y\n\nb",
            &params(None, &[]),
        )
        .unwrap()
        .bytes;
        assert!(out.ends_with(b"\nSubject: s\nnot a field\n\nb"));
    }

    #[test]
    fn invalid_params() {
        let bad: [fn(&mut StampParams<'static>); 9] = [
            |p| p.message_id = "<already@bracketed>",
            |p| p.message_id = "",
            |p| p.message_id = "with space@x",
            |p| p.reply_address = "no-at-sign",
            |p| p.reply_address = "a@x\r\nBcc: b@y",
            |p| p.marker = ("Bad Name", "v"),
            |p| p.marker = ("Reply-To", "v"),
            |p| p.marker = ("X-M", "line\r\nBcc: x"),
            |p| p.marker = ("X-M", " "),
        ];
        for change in bad {
            let mut p = params(None, &[]);
            change(&mut p);
            assert!(
                matches!(
                    stamp(b"Subject: s\n\n", &p),
                    Err(StampError::InvalidParam(_))
                ),
                "{p:?}"
            );
        }
    }

    #[test]
    fn header_values_unfold() {
        let raw = b"Subject: one\r\n two\r\n\tthree  \r\nX: a\r\nx:b\r\n\r\nX: body";
        assert_eq!(header_values(raw, "subject"), vec!["one two\tthree"]);
        assert_eq!(header_values(raw, "X"), vec!["a", "b"]);
        assert!(header_values(raw, "Missing").is_empty());
    }

    #[test]
    fn parse_msg_ids_is_tolerant() {
        let cases: &[(&str, &[&str])] = &[
            ("<a@x>", &["a@x"]),
            ("  <a@x>  <b@y>\t<c@z>", &["a@x", "b@y", "c@z"]),
            ("<a@x>(comment <not@this>) <b@y>", &["a@x", "b@y"]),
            ("\"Your message of <x@y>\" <real@x>", &["real@x"]),
            ("<a@x><b@y>", &["a@x", "b@y"]),
            ("< a@x >", &["a@x"]),
            ("<a\r\n @x>", &["a@x"]),
            ("<\"quoted local\"@x>", &["\"quoted local\"@x"]),
            ("<unclosed@x", &["unclosed@x"]),
            ("bare@x, other@y (comment@z)", &["bare@x", "other@y"]),
            ("<>", &[]),
            ("", &[]),
            ("no ids here", &[]),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_msg_ids(value), strings(expected), "{value:?}");
        }
    }

    #[test]
    fn encodings_round_trip() {
        for s in [&b""[..], b"f", b"fo", b"foo", b"foob", b"\xff\x00\x80 x"] {
            assert_eq!(
                base64_decode(base64_encode(s).as_bytes()).as_deref(),
                Some(s)
            );
        }
        assert_eq!(q_decode(b"a_b=C3=BC=zz="), b"a b\xc3\xbc=zz=");
        assert_eq!(
            decode_encoded_word(b"=?utf-8?q?Re=3A_x?="),
            Some(b"Re: x".to_vec())
        );
        assert_eq!(decode_encoded_word(b"=?utf-8?x?abc?="), None);
        assert_eq!(decode_encoded_word(b"=??="), None);
        assert_eq!(decode_encoded_word(b"=?utf-8?q?\xff?="), None);
    }

    /// Random bytes and mutated fixtures: no panic, and every accepted message comes out with
    /// exactly one Reply-To and Message-ID, its body intact, and stable under a second stamp.
    #[test]
    fn never_panics_on_arbitrary_bytes() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"\r\n \t:<>\"()\\,@=?Re_BQ\x80\xff\x00aF";
        let seeds = [
            GMAIL.as_bytes().to_vec(),
            crlf(OUTLOOK),
            THUNDERBIRD.as_bytes().to_vec(),
        ];
        let refs = strings(&["r@x"]);
        let mut accepted = 0;
        for round in 0..3000 {
            let mut raw = if round % 4 == 0 {
                (0..next() % 200).map(|_| next() as u8).collect()
            } else {
                seeds[round % 3].clone()
            };
            for _ in 0..next() % 12 {
                if raw.is_empty() {
                    break;
                }
                let at = (next() as usize) % raw.len();
                let byte = alphabet[(next() as usize) % alphabet.len()];
                match next() % 3 {
                    0 => raw[at] = byte,
                    1 => raw.insert(at, byte),
                    _ => raw.truncate(at.max(1)),
                }
            }
            let head = String::from_utf8_lossy(&raw[..raw.len().min(400)]).into_owned();
            let _ = parse_msg_ids(&head);
            let _ = header_values(&raw, "From");
            let p = params(Some("p@x"), &refs);
            if let Ok(stamped) = stamp(&raw, &p) {
                let out = stamped.bytes;
                let block = HeaderBlock::parse(&raw).unwrap();
                assert!(out.ends_with(&raw[block.end..]));
                assert_eq!(header_values(&out, "Reply-To").len(), 1, "{raw:?}");
                assert_eq!(header_values(&out, "Message-ID").len(), 1, "{raw:?}");
                assert_eq!(stamp(&out, &p).unwrap().bytes, out, "{raw:?}");
                accepted += 1;
            }
        }
        assert!(accepted > 1500, "only {accepted} inputs were accepted");
    }
}
