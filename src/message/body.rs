//! A message's text, split: what the customer wrote now ([`Body::reply`]) and the history
//! below it, and where the reply stands in the raw bytes when it is there verbatim (so the
//! store keeps a range, not a copy).

use super::{header_block, html, reply_text, Texts};

/// A body, split into what the customer wrote now and what was trimmed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Body {
    /// The whole text (converted from HTML when there is no text part), LF line endings.
    pub text: Option<String>,
    pub reply: String,
    pub quoted: String,
    /// Nothing but quoted history: `reply` is empty, everything is in `quoted` (flag
    /// `no_new_text`).
    pub no_new_text: bool,
}

/// Splits a message body: the text part when there is one (what the customer's client
/// wrote as plain text is the most faithful), else the HTML, whose quote containers are
/// removed before it is converted to text.
pub fn split_body(plain: Option<&str>, html: Option<&str>) -> Body {
    if let Some(text) = plain {
        let split = reply_text::split_plain(text);
        return Body {
            text: Some(normalize_newlines(text)),
            reply: split.reply,
            quoted: split.quoted,
            no_new_text: split.no_new_text,
        };
    }
    let Some(html) = html else {
        return Body::default();
    };
    let (kept, removed) = html::strip_quotes(html);
    let split = reply_text::split_plain(&html::html_to_text_quoted(&kept));
    let mut quoted = html::html_to_text_quoted(&removed);
    if !split.quoted.is_empty() {
        if !quoted.is_empty() {
            quoted.insert_str(0, "\n\n");
        }
        quoted.insert_str(0, &split.quoted);
    }
    Body {
        text: Some(html::html_to_text(html)),
        no_new_text: split.reply.is_empty() && !quoted.is_empty(),
        reply: split.reply,
        quoted,
    }
}

/// [`split_body`] of a plain part `text` that lies in `raw`, with where the reply lies in
/// `raw` when it is verbatim ([`verbatim_range`]). With [`Texts::BeyondRange`] and such a
/// range, neither the reply nor the text body is built: the reply is left empty, and the
/// text body is `None` when it is the reply with trailing white space at most (the store's
/// test for writing it: with the reply at the very start of the text, verbatim, and only
/// white space after it, the text with its line ends turned into LF trims to the reply).
pub(super) fn split_plain_body(
    raw: &[u8],
    text: &str,
    texts: Texts,
) -> (Body, Option<(usize, usize)>) {
    let split = reply_text::split_plain_lines(text);
    let range = verbatim_lines_range(raw, text, &split.reply);
    let body = match range {
        Some((start, len)) if texts == Texts::BeyondRange => {
            let at_text_start = text.as_ptr() as usize == raw.as_ptr() as usize + start;
            let only_reply = at_text_start
                && text
                    .get(len..)
                    .is_some_and(|after| after.trim_end().is_empty());
            Body {
                text: (!only_reply).then(|| normalize_newlines(text)),
                reply: String::new(),
                quoted: split.quoted,
                no_new_text: split.no_new_text,
            }
        }
        _ => {
            let split = split.into_split();
            Body {
                text: Some(normalize_newlines(text)),
                reply: split.reply,
                quoted: split.quoted,
                no_new_text: split.no_new_text,
            }
        }
    };
    (body, range)
}

/// Whether the bytes start with a header field (`Name: value`), after an mbox `From ` line.
pub fn has_header_block(raw: &[u8]) -> bool {
    header_block::HeaderBlock::read(raw).starts_with_field()
}

/// Where `reply` lies in `raw`, when `text` is a slice of `raw` (a part mail-parser did not
/// have to decode: 7bit/8bit UTF-8) and `reply` is a stretch of it whose line ends are CRLF
/// or LF (read back as `replace(substr(raw, start + 1, len), CRLF, LF)`). Anything else —
/// a decoded part, trimmed trailing spaces, a lone CR, a NUL — gives `None`, and the reply
/// text is stored as it is.
pub fn verbatim_range(raw: &[u8], text: &str, reply: &str) -> Option<(usize, usize)> {
    verbatim_lines_range(raw, text, &reply.split('\n').collect::<Vec<_>>())
}

/// [`verbatim_range`] of the reply that is `lines` joined with LF (no line holds an LF),
/// without joining them.
fn verbatim_lines_range(raw: &[u8], text: &str, lines: &[&str]) -> Option<(usize, usize)> {
    let base = raw.as_ptr() as usize;
    let start = text.as_ptr() as usize;
    let joined_len = lines.iter().map(|l| l.len()).sum::<usize>() + lines.len().saturating_sub(1);
    if joined_len == 0
        || lines
            .iter()
            .any(|l| memchr::memchr(0, l.as_bytes()).is_some())
        || start < base
        || start + text.len() > base + raw.len()
    {
        return None;
    }
    let offset = start - base;
    let t = text.as_bytes();
    let first_line = lines.first().map_or(&b""[..], |l| l.as_bytes());
    // The reply starts at the start of a line; try the first few lines that begin like it.
    let line_starts = std::iter::once(0).chain(memchr::memchr_iter(b'\n', t).map(|i| i + 1));
    line_starts
        .filter(|&s| t[s..].starts_with(first_line))
        .take(4)
        .find_map(|s| {
            // Line by line: the text has the reply's line, then CRLF or LF where the reply
            // has LF.
            let mut i = s;
            let mut rest = lines.iter().peekable();
            while let Some(line) = rest.next() {
                if !t[i..].starts_with(line.as_bytes()) {
                    return None;
                }
                i += line.len();
                if rest.peek().is_none() {
                    break;
                }
                if t[i..].starts_with(b"\r\n") {
                    i += 2;
                } else if t[i..].starts_with(b"\n") {
                    i += 1;
                } else {
                    return None;
                }
            }
            Some((offset + s, i - s))
        })
}

/// CRLF and lone CR become LF, in one pass.
pub(super) fn normalize_newlines(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut start = 0;
    for i in memchr::memchr_iter(b'\r', bytes) {
        out.push_str(&s[start..i]);
        out.push('\n');
        start = if bytes.get(i + 1) == Some(&b'\n') {
            i + 2
        } else {
            i + 1
        };
    }
    out.push_str(&s[start..]);
    out
}
