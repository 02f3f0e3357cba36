//! `Subject: Re: …` for a message that answers: one reply prefix, whatever the language or
//! the client wrote before.

use super::*;

/// The Subject value (bytes after the colon) to write when answering, or `None` to keep it.
pub(super) fn reply_subject(value: &[u8]) -> Option<Vec<u8>> {
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
pub(super) fn reply_prefix_len(s: &[u8]) -> Option<usize> {
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
