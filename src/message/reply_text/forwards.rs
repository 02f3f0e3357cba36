//! Forwarded messages with no note above them.
//!
//! When a customer forwards a message to us and writes nothing, the forwarded message
//! *is* what they send: the reply is its body, and only the forward marker and the header
//! block of the forwarded message are history. A marker is a forward (rather than a
//! reply's "Original Message") when it says so in its own words, or when the header block
//! under it has a subject with a forward prefix (`Fwd:`, `WG:`, `TR:` …: Outlook writes
//! only a separator line or nothing above a forwarded header block). The words come
//! from the lexicon.

use super::header_blocks::{header_label, H_SUBJECT};
use super::lexicon::lexicon;
use super::lines::{make_key, Kind, LineInfo};
use super::markers::is_original_marker;

/// Lines of a forward header block looked at, at most.
const MAX_HEADER_LINES: usize = 24;
/// Lines without a field name a header field may wrap onto.
const MAX_CONTINUATION: usize = 2;

/// "---------- Forwarded message ---------", "Begin forwarded message:",
/// "-------- Message transféré --------" …: a history marker whose words say "forward".
pub(super) fn is_forward_marker(key: &str) -> bool {
    is_original_marker(key) && lexicon().forward_words.iter().any(|w| key.contains(w))
}

/// A `Subject:` line whose value starts with a forward prefix (`Fwd:`, `WG:` …).
fn has_forward_subject(key: &str) -> bool {
    let Some(pos) = key.find([':', '：']) else {
        return false;
    };
    let sep = if key[pos..].starts_with(':') {
        1
    } else {
        '：'.len_utf8()
    };
    let value = key[pos + sep..].trim_start_matches(['*', '_', ' ']);
    lexicon().forward_subject_prefixes.iter().any(|p| {
        value
            .strip_prefix(p)
            .is_some_and(|rest| rest.trim_start().starts_with([':', '：']))
    })
}

/// Where the body of a forwarded message lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ForwardBody {
    /// From this line on, as written.
    Plain(usize),
    /// These lines (`start..end`), quoted one level deeper than the mail (Apple Mail and
    /// iOS quote what they forward: "Begin forwarded message:" / "> From: …").
    Quoted(usize, usize),
}

/// A quoted line without its first quote level (`> text` → `text`).
pub(crate) fn strip_one_quote(raw: &str) -> &str {
    let s = raw.trim_start();
    match s.strip_prefix('>') {
        Some(rest) => rest.strip_prefix(' ').unwrap_or(rest),
        None => raw,
    }
}

/// When the history starting at line `i` is a forwarded message, where its body lies
/// (past the marker and the forwarded header block); `None` when it is not a forward.
pub(super) fn forwarded_body(infos: &[LineInfo], i: usize) -> Option<ForwardBody> {
    let marker = infos[i].label.is_none();
    let mut forward = marker && infos[i].text() && is_forward_marker(&infos[i].key);
    let mut j = if marker { i + 1 } else { i };
    let mut fields = 0usize;
    let mut continuation = 0usize;
    let end = infos.len().min(j + MAX_HEADER_LINES);
    while j < end {
        let info = &infos[j];
        match info.kind {
            Kind::Blank if fields > 0 => break,
            Kind::Blank => {}
            Kind::Quoted if fields == 0 && forward => return quoted_body(infos, j),
            Kind::Quoted => break,
            Kind::Text => {
                if let Some(kind) = info.label {
                    fields += 1;
                    continuation = 0;
                    forward |= kind == H_SUBJECT && has_forward_subject(&info.key);
                } else {
                    if fields == 0 || info.long {
                        break;
                    }
                    continuation += 1;
                    if continuation > MAX_CONTINUATION {
                        return None;
                    }
                }
            }
        }
        j += 1;
    }
    forward.then_some(ForwardBody::Plain(j))
}

/// A mail that starts with a quoted forward (`> Begin forwarded message:` / `> From: …`:
/// Apple Mail's HTML quotes the marker too): where the forwarded body lies.
pub(super) fn quoted_forward(infos: &[LineInfo]) -> Option<ForwardBody> {
    let first = infos.iter().position(|l| l.kind != Kind::Blank)?;
    let line = &infos[first];
    if line.kind != Kind::Quoted || line.long {
        return None;
    }
    if !is_forward_marker(&make_key(strip_one_quote(line.raw)).0) {
        return None;
    }
    // The header block, past blank lines and bare `>` lines.
    let mut j = first + 1;
    while j < infos.len()
        && j < first + MAX_HEADER_LINES
        && (infos[j].kind == Kind::Blank || strip_one_quote(infos[j].raw).trim().is_empty())
    {
        j += 1;
    }
    match infos.get(j) {
        Some(l) if l.kind == Kind::Quoted => quoted_body(infos, j),
        _ => None,
    }
}

/// The body of a forwarded message quoted from line `from` on: past its quoted header
/// block (`> From: …`, at any quote depth, blank lines between), to the end of the quote.
fn quoted_body(infos: &[LineInfo], from: usize) -> Option<ForwardBody> {
    let mut j = from;
    let mut fields = 0usize;
    let header_end = infos.len().min(from + MAX_HEADER_LINES);
    while j < header_end {
        let line = &infos[j];
        if line.kind == Kind::Text {
            break;
        }
        let content = line
            .raw
            .trim_start_matches(|c: char| c == '>' || c.is_whitespace());
        if line.kind == Kind::Blank || content.is_empty() {
            j += 1;
            continue;
        }
        if header_label(&make_key(content).0).is_none() {
            break;
        }
        fields += 1;
        j += 1;
    }
    if fields == 0 {
        return None;
    }
    let start = j;
    let mut end = j;
    while j < infos.len() && infos[j].kind != Kind::Text {
        if infos[j].kind == Kind::Quoted {
            end = j + 1;
        }
        j += 1;
    }
    Some(ForwardBody::Quoted(start, end))
}
