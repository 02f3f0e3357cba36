//! Quoted header blocks: the `From:` / `Sent:` / `To:` / `Subject:` lines (in many
//! languages, bold, flattened onto one line …) that Outlook and others put above the
//! message they quote instead of an "On … wrote:" line.
//!
//! A single `From:` line is common in a customer's own text; a block is only history when
//! enough different fields come together (or it sits under a separator), which is what
//! this module weighs. The field names come from the lexicon.

use super::attributions::has_email;
use super::lexicon::lexicon;
use super::lines::{next_nonblank, Kind, LineInfo};
use super::markers::{is_decoration, is_original_marker, is_underscore_rule};

// Header field kinds, as bits: a block is judged by the set of fields it names.
pub(super) const H_FROM: u8 = 1;
pub(super) const H_DATE: u8 = 2;
pub(super) const H_TO: u8 = 4;
pub(super) const H_CC: u8 = 8;
pub(super) const H_SUBJECT: u8 = 16;

/// The header field kind a field name stands for (`from`, `von`, `发件人` …).
fn lookup_label(label: &str) -> Option<u8> {
    lexicon().header_kind(label)
}

/// The header field kind a line starts with (`From:`, `*Sent:*`, `De :`, `发件人：` …).
pub(super) fn header_label(key: &str) -> Option<u8> {
    // Runs on every text line; most have no colon at all (`：` is EF BC 9A in UTF-8).
    memchr::memchr2(b':', 0x9A, key.as_bytes())?;
    let s = key.trim_start_matches(['*', '_', ' ', '\u{3000}']);
    let mut end = None;
    for (count, (i, c)) in s.char_indices().enumerate() {
        if c == ':' || c == '：' {
            end = Some(i);
            break;
        }
        if count > 24 {
            return None;
        }
    }
    let label = s[..end?].trim_matches(['*', '_', ' ']);
    if label.is_empty() {
        return None;
    }
    lookup_label(label)
}

/// Header kinds named later in the same line ("From: x Sent: y To: z" flattened headers).
fn inline_labels(key: &str) -> u8 {
    let mut kinds = 0;
    for (pos, c) in key.char_indices() {
        if pos == 0 || (c != ':' && c != '：') {
            continue;
        }
        let before = key[..pos].trim_end_matches(['*', ' ']);
        // The label is the last one or two words before the colon.
        let mut words = before.rsplitn(3, ' ');
        let last = words.next().unwrap_or("");
        if let Some(k) = lookup_label(last.trim_start_matches('*')) {
            if last.chars().count() >= 3 {
                kinds |= k;
                continue;
            }
        }
        if let Some(prev) = words.next() {
            let two_start = before.len().saturating_sub(last.len() + prev.len() + 1);
            if let Some(k) = before
                .get(two_start..)
                .and_then(|l| lookup_label(l.trim_start_matches('*')))
            {
                kinds |= k;
            }
        }
    }
    kinds
}

/// An Outlook/Gmail style header block starting at line `i`.
pub(super) fn is_header_block(infos: &[LineInfo], i: usize) -> bool {
    let Some(first) = infos[i].label else {
        return false;
    };
    // A block is judged whole, from its first field: the rest of one that was not a
    // block is not one either.
    if i > 0 && infos[i - 1].kind == Kind::Text && infos[i - 1].label.is_some() {
        return false;
    }
    let mut kinds = first;
    if first == H_FROM {
        kinds |= inline_labels(&infos[i].key);
    }
    // Who sent the quoted message: an address in its From line. A block without one and
    // without a Subject is a customer's list ("From: Berlin" / "To: Munich" / "Date: …").
    let mut from_address = first == H_FROM && has_email(&infos[i].key);
    let mut j = i + 1;
    let mut continuation = 0;
    let mut blanks = 0;
    let mut scanned = 0;
    while j < infos.len() && scanned < 16 {
        let info = &infos[j];
        match info.kind {
            Kind::Blank => {
                blanks += 1;
                if blanks > 1 {
                    break;
                }
            }
            Kind::Quoted => break,
            Kind::Text => {
                if info.long {
                    break;
                }
                if let Some(k) = info.label {
                    kinds |= k;
                    from_address |= k == H_FROM && has_email(&info.key);
                    continuation = 0;
                    blanks = 0;
                } else {
                    if blanks > 0 {
                        break;
                    }
                    continuation += 1;
                    if continuation > 2 {
                        break;
                    }
                }
            }
        }
        j += 1;
        scanned += 1;
    }
    let count = kinds.count_ones();
    if kinds & H_SUBJECT == 0 && !from_address && count >= 3 {
        return false;
    }
    if kinds & H_FROM != 0 && count >= 3 {
        return true;
    }
    // Two fields, one of them a date, and nothing after the block.
    if count >= 2 && kinds & H_DATE != 0 && next_nonblank(infos, j).is_none() {
        return true;
    }
    if count >= 4 {
        return true;
    }
    // "From:" + one more field right under a separator line.
    if kinds & H_FROM != 0 && count >= 2 {
        let mut p = i;
        while p > 0 && infos[p - 1].kind == Kind::Blank {
            p -= 1;
        }
        if p > 0 {
            let prev = &infos[p - 1];
            return prev.text()
                && (is_decoration(&prev.key)
                    || is_underscore_rule(&prev.key)
                    || is_original_marker(&prev.key));
        }
    }
    false
}
