//! What a message says: headers, body, reply text and attachments, extracted once.
//!
//! The session hands the raw bytes here (on a blocking thread: MIME parsing is CPU work) and
//! gets back a [`ParsedMessage`] that the store writes as it is. `replyd parse` and
//! `replyd ingest` run the same [`extract`], so what an operator sees on the command line is
//! what the server would store.

mod attachments;
mod automated;
mod body;
mod filename;
pub(crate) mod header_block;
pub(crate) mod html;
pub(crate) mod reply_text;
mod structure;

use crate::store::{AttachmentRecord, Automated, Flag, MessageContent};
use mail_parser::{Address, HeaderName, HeaderValue, MessageParser};
use serde::Serialize;

pub use attachments::{Attachment, OmittedAttachments, SkippedAttachment};
pub use body::{has_header_block, split_body, verbatim_range, Body};
use body::{normalize_newlines, split_plain_body};
pub use filename::{safe_filename, MAX_FILENAME_BYTES};

/// A parsed mailbox: `Name <address>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: String,
}

/// What relays wrote at the top of a message, as the parser read it (unfolded raw values):
/// the topmost `Received:` and every `Authentication-Results`. The intake believes
/// them only from a trusted relay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceHeaders {
    pub received: Option<String>,
    pub authentication_results: Vec<String>,
}

/// Limits on what is kept of a message, and on how much of its structure is looked at.
#[derive(Debug, Clone, Copy)]
pub struct ExtractOptions {
    pub max_attachment_size: usize,
    /// Attachments described per message (kept, or listed as not kept with why); the rest
    /// are only counted ([`ParsedMessage::omitted_attachments`]).
    pub max_attachments: usize,
    /// Deepest MIME nesting (multiparts and nested messages) looked into.
    pub max_mime_depth: usize,
    /// Places where a part may start that the MIME parser is shown; the rest of the message
    /// is kept but not parsed.
    pub max_mime_parts: usize,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            max_attachment_size: 10 * 1024 * 1024,
            max_attachments: 50,
            max_mime_depth: 50,
            max_mime_parts: 10_000,
        }
    }
}

/// Everything the store keeps of one message.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ParsedMessage {
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub from: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub subject: Option<String>,
    /// The `Date:` header as RFC 3339, when it parses.
    pub date: Option<String>,
    pub text_body: Option<String>,
    pub html_body: Option<String>,
    /// What the customer wrote now; the `>` quotes they answer below stay as context, and
    /// a forward with no note is its forwarded body. Empty when the message is nothing but
    /// quoted history (flag `no_new_text`).
    pub reply_text: String,
    /// Where `reply_text` lies in the raw bytes (`start`, `len`), when it is a verbatim
    /// stretch of them with CRLF line ends turned into LF: the store then keeps it once, as
    /// this range of the raw message, instead of a second copy of a possibly large text.
    #[serde(skip)]
    pub reply_range: Option<(usize, usize)>,
    /// What was trimmed off: trailing quoted history, attributions, signatures, forward
    /// markers and headers.
    pub quoted_text: String,
    pub attachments: Vec<Attachment>,
    pub skipped_attachments: Vec<SkippedAttachment>,
    /// Attachments past `max_attachments`: only counted.
    pub omitted_attachments: OmittedAttachments,
    /// Why this looks like automated mail (`auto_reply`, `bounce`, `list`, `loop`), if it does.
    pub automated: Option<Automated>,
    /// Our own Message-IDs that a delivery report names (to link it to the outgoing mail).
    pub reported_message_ids: Vec<String>,
    /// Machine-readable problems found while parsing (`no_new_text`: nothing but quoted
    /// history; `no_header_block`, `undecodable_part`,
    /// `mime_too_deep`, `too_many_parts`, `encoded_message_part`, `attachments_omitted`…).
    pub flags: Vec<Flag>,
    /// Human-readable notes for the operator.
    pub notes: Vec<String>,
    /// The relays' trace headers.
    #[serde(skip)]
    pub trace: TraceHeaders,
}

/// Parses a raw RFC 5322 message. Never fails: whatever the bytes, the result is something
/// the store can keep, with `flags` saying what was wrong.
///
/// The MIME parser is a dependency fed hostile bytes. Should it (or the extraction after
/// it) panic, the message is kept unparsed, flagged `parser_failed`, rather than the panic
/// ending the session with no reply to the client, which would retry the same bytes for
/// days. (mail-parser 0.11's debug assertions fire on some malformed nesting: the fuzzer
/// found one, `tests/fuzz-regressions/extract/`.)
pub fn extract(raw: &[u8], opts: &ExtractOptions) -> ParsedMessage {
    extract_as(raw, opts, Texts::Whole)
}

/// [`extract`] for the store, which keeps a verbatim reply as its range of the raw bytes
/// (`reply_range`): when there is one, `reply_text` is left empty, and `text_body` is
/// `None` where it would be the reply itself (what the store would write as NULL), so a
/// large plain message is never copied into either (issue 24). Everything else is what
/// [`extract`] gives.
pub(crate) fn extract_for_store(raw: &[u8], opts: &ExtractOptions) -> ParsedMessage {
    extract_as(raw, opts, Texts::BeyondRange)
}

/// Which texts the extraction builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Texts {
    /// `reply_text` and `text_body` always, for a reader.
    Whole,
    /// Not what the raw bytes hold verbatim ([`extract_for_store`]).
    BeyondRange,
}

fn extract_as(raw: &[u8], opts: &ExtractOptions, texts: Texts) -> ParsedMessage {
    match std::panic::catch_unwind(|| extract_parsed(raw, opts, texts)) {
        Ok(parsed) => parsed,
        Err(_) => {
            tracing::error!(
                size = raw.len(),
                "parsing a message failed (a bug in the MIME parser or the extraction); it is kept unparsed (flag parser_failed)"
            );
            let mut out = unparsed(raw, Flag::ParserFailed);
            out.notes.push(
                "parsing this message failed (a bug in the MIME parser or the extraction): the text shown is its raw bytes"
                    .into(),
            );
            out
        }
    }
}

/// An empty result for `raw`, with the flag every path sets alike.
fn started(raw: &[u8]) -> ParsedMessage {
    let mut out = ParsedMessage::default();
    if !has_header_block(raw) {
        out.flags.push(Flag::NoHeaderBlock);
    }
    out
}

/// A message kept as its bytes: the text is the raw message, decoded as UTF-8 where it is.
fn unparsed(raw: &[u8], flag: Flag) -> ParsedMessage {
    let mut out = started(raw);
    out.flags.push(flag);
    let text = String::from_utf8_lossy(raw).into_owned();
    out.reply_text = normalize_newlines(&text);
    out.text_body = Some(text);
    out
}

fn extract_parsed(raw: &[u8], opts: &ExtractOptions, texts: Texts) -> ParsedMessage {
    let input = structure::prepare(raw, opts.max_mime_depth, opts.max_mime_parts);
    let bytes: &[u8] = &input.bytes;
    let max_depth = opts.max_mime_depth;
    let parse = move || {
        let (mut msg, plain) = match single_text_part(bytes) {
            Some((msg, text)) => (msg, Some(text)),
            None => (MessageParser::default().parse(bytes)?, None),
        };
        let deepest = structure::flatten(&mut msg, max_depth);
        Some((msg, deepest, plain))
    };
    // Bytes that can nest are parsed on a stack sized for them: a second wall should a
    // recursion in the parser escape the bounds above.
    let parsed = if input.may_nest {
        std::thread::scope(|s| {
            match std::thread::Builder::new()
                .name("replyd-parse".into())
                .stack_size(structure::parser_stack_size(bytes.len()))
                .spawn_scoped(s, parse)
            {
                Ok(thread) => thread.join(),
                Err(e) => {
                    // The bounds above hold without it: parse here rather than not at all.
                    tracing::warn!(error = %e, size = raw.len(), "no thread with a large stack to parse a message on; parsing it on this one");
                    Ok(parse())
                }
            }
        })
    } else {
        Ok(parse())
    };
    let (msg, deepest, plain) = match parsed {
        Ok(Some((msg, deepest, plain))) => (msg, deepest, plain),
        Ok(None) => return unparsed(raw, Flag::Unparseable),
        Err(panic) => std::panic::resume_unwind(panic),
    };
    let mut out = started(raw);
    out.trace = trace_headers(&msg, bytes);
    out.message_id = msg.message_id().map(str::to_string);
    out.in_reply_to = msg_ids(msg.in_reply_to());
    out.references = msg_ids(msg.references());
    out.from = msg.from().and_then(|a| mailboxes(a).into_iter().next());
    out.to = msg.to().map(mailboxes).unwrap_or_default();
    out.cc = msg.cc().map(mailboxes).unwrap_or_default();
    out.subject = msg.subject().map(str::to_string);
    out.date = msg.date().map(|d| d.to_rfc3339());

    let plain = plain.or_else(|| {
        msg.text_bodies()
            .find(|p| !p.is_text_html())
            .and_then(|p| p.text_contents())
    });
    out.html_body = msg
        .html_bodies()
        .find(|p| p.is_text_html())
        .and_then(|p| p.text_contents())
        .map(str::to_string);
    let body = match plain {
        Some(text) => {
            let (body, range) = split_plain_body(bytes, text, texts);
            out.reply_range = range;
            body
        }
        None => split_body(None, out.html_body.as_deref()),
    };
    out.text_body = body.text;
    out.reply_text = body.reply;
    out.quoted_text = body.quoted;
    if body.no_new_text {
        out.flags.push(Flag::NoNewText);
    }

    let found = attachments::collect(&msg, opts, out.html_body.as_deref());
    (
        out.attachments,
        out.skipped_attachments,
        out.omitted_attachments,
    ) = (found.kept, found.skipped, found.omitted);
    if found.omitted.count > 0 {
        out.flags.push(Flag::AttachmentsOmitted);
        out.notes.push(format!(
            "{} more attachments ({} bytes) past max_attachments ({}) were not kept",
            found.omitted.count, found.omitted.bytes, opts.max_attachments
        ));
    }
    if input.too_many_parts {
        out.flags.push(Flag::TooManyParts);
        out.notes.push(format!(
            "the message has more than max_mime_parts ({}) places where a part may start: \
             what follows them was kept but not parsed",
            opts.max_mime_parts
        ));
    }
    if input.too_deep || deepest > opts.max_mime_depth {
        out.flags.push(Flag::MimeTooDeep);
        out.notes.push(format!(
            "MIME parts nest deeper than max_mime_depth ({}): what lies deeper was kept but \
             not parsed",
            opts.max_mime_depth
        ));
    }
    if input.encoded_messages > 0 {
        out.flags.push(Flag::EncodedMessagePart);
        out.notes.push(format!(
            "{} attached message(s) sent base64 or quoted-printable (RFC 2046 forbids it) \
             kept as opaque attachments",
            input.encoded_messages
        ));
    }
    out.automated = automated::detect(&msg, crate::message_ids::MARKER_HEADER);
    if out.automated == Some(Automated::Bounce) {
        out.reported_message_ids = crate::message_ids::named_in(raw);
    }
    // The text body is the plain part with its line ends turned into LF (which may not
    // have been built), or the HTML's text.
    let text_body = plain.or(out.text_body.as_deref());
    for (what, text) in [("text", text_body), ("HTML", out.html_body.as_deref())] {
        if text.is_some_and(|t| t.contains('\u{FFFD}')) {
            out.flags.push(Flag::UndecodablePart);
            out.notes.push(format!(
                "the {what} body has bytes its charset could not decode (shown as U+FFFD)"
            ));
        }
    }
    out
}

/// A message that is one text part sent as it is — no MIME structure, no transfer
/// encoding, no attachment, a charset mail-parser reads as UTF-8 (none, `utf-8`) — parsed
/// as mail-parser would, without its walk of the body: its header block (with the empty
/// line that ends it, and an empty body) goes through mail-parser, its body is the rest of
/// the bytes, checked with `str::from_utf8`.
///
/// mail-parser finds the end of such a body byte by byte and decodes it with
/// `String::from_utf8_lossy`, another byte-at-a-time walk: together ~7 instructions per
/// byte, the largest single cost of a 1 MiB message (issue 24). `str::from_utf8` checks
/// ASCII a word at a time, and for valid UTF-8 both give the same text. Anything else —
/// invalid UTF-8, another charset, a header block mail-parser ends elsewhere — is `None`,
/// and the whole message goes through mail-parser.
fn single_text_part(bytes: &[u8]) -> Option<(mail_parser::Message<'_>, &str)> {
    use mail_parser::decoders::charsets::map::charset_decoder;
    use mail_parser::{Encoding, MimeHeaders, PartType};
    let end = header_block::HeaderBlock::read(bytes).end;
    let rest = bytes.get(end..)?;
    let body_start = end
        + if rest.starts_with(b"\r\n") {
            2
        } else if rest.starts_with(b"\n") {
            1
        } else {
            return None;
        };
    let msg = MessageParser::default().parse(&bytes[..body_start])?;
    let [part] = msg.parts.as_slice() else {
        return None;
    };
    let charset = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .and_then(|c| charset_decoder(c.as_bytes()));
    let single = part.offset_body as usize == body_start
        && matches!(part.body, PartType::Text(_))
        && part.encoding == Encoding::None
        && charset.is_none()
        && msg.text_body == [0]
        && msg.attachments.is_empty();
    if !single {
        return None;
    }
    let text = std::str::from_utf8(&bytes[body_start..]).ok()?;
    Some((msg, text))
}

/// The topmost `Received:` and every `Authentication-Results` of the top-level header, as
/// unfolded raw text (`bytes` is what the parser read).
fn trace_headers(msg: &mail_parser::Message<'_>, bytes: &[u8]) -> TraceHeaders {
    let mut trace = TraceHeaders::default();
    for h in msg.headers() {
        let raw = || {
            let value = bytes
                .get(h.offset_start as usize..h.offset_end as usize)
                .unwrap_or_default();
            String::from_utf8_lossy(&header_block::unfold(value))
                .trim()
                .to_string()
        };
        match h.name {
            HeaderName::Received if trace.received.is_none() => trace.received = Some(raw()),
            HeaderName::AuthenticationResults => trace.authentication_results.push(raw()),
            _ => {}
        }
    }
    trace
}

fn msg_ids(v: &HeaderValue<'_>) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => vec![],
    }
}

fn mailboxes(a: &Address<'_>) -> Vec<Mailbox> {
    a.iter()
        .filter_map(|addr| {
            Some(Mailbox {
                name: addr.name().map(str::to_string),
                address: addr.address()?.to_string(),
            })
        })
        .collect()
}

impl ParsedMessage {
    /// What the store records of this message (moved, not copied; the relays' trace
    /// headers, already read by the intake, are left behind).
    pub(crate) fn into_content(self) -> MessageContent {
        let addresses = |list: Vec<Mailbox>| list.into_iter().map(|m| m.address).collect();
        let (from, from_name) = match self.from {
            Some(m) => (Some(m.address), m.name),
            None => (None, None),
        };
        let mut attachments: Vec<AttachmentRecord> = self
            .attachments
            .into_iter()
            .map(|a| AttachmentRecord {
                filename: a.filename,
                content_type: a.content_type,
                size: a.size as u64,
                content_id: a.content_id,
                inline: a.inline,
                data: Some(a.data),
                skipped_reason: None,
            })
            .collect();
        attachments.extend(
            self.skipped_attachments
                .into_iter()
                .map(|s| AttachmentRecord {
                    filename: s.filename,
                    content_type: s.content_type,
                    size: s.size as u64,
                    content_id: None,
                    inline: false,
                    data: None,
                    skipped_reason: Some(s.reason),
                }),
        );
        MessageContent {
            message_id: self.message_id,
            in_reply_to: self.in_reply_to,
            references: self.references,
            from,
            from_name,
            to: addresses(self.to),
            cc: addresses(self.cc),
            subject: self.subject,
            date: self.date,
            text_body: self.text_body,
            html_body: self.html_body,
            reply_text: self.reply_text,
            reply_range: self.reply_range,
            quoted_text: self.quoted_text,
            attachments,
            omitted_attachments: (
                self.omitted_attachments.count as u64,
                self.omitted_attachments.bytes,
            ),
            automated: self.automated,
            reported_message_ids: self.reported_message_ids,
            flags: self.flags,
            notes: self.notes,
        }
    }
}

#[cfg(test)]
mod tests;
