//! Forwarded messages with no note above them.
//!
//! When a customer forwards a message to us and writes nothing, the forwarded message
//! *is* what they send: the reply is its body, and only the forward marker and the header
//! block of the forwarded message are history. A marker is a forward (rather than a
//! reply's "Original Message") when it says so in its own words, or when the header block
//! under it has a subject with a forward prefix (`Fwd:`, `WG:`, `TR:` …: Outlook writes
//! only a separator line or nothing above a forwarded header block). The words come
//! from the lexicon.

use super::header_blocks::H_SUBJECT;
use super::lexicon::lexicon;
use super::lines::{Kind, LineInfo};
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

/// When the history starting at line `i` is a forwarded message, the first line of its
/// body (past the marker and the forwarded header block); `None` when it is not a forward.
pub(super) fn forwarded_body_start(infos: &[LineInfo], i: usize) -> Option<usize> {
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
    forward.then_some(j)
}
