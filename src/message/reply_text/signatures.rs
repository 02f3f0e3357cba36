//! Signatures: what closes a message rather than being part of what it says — the `-- `
//! delimiter, mobile and app lines ("Sent from my iPhone", "Von meinem iPhone gesendet",
//! "iPhoneから送信", "Get Outlook for iOS" …), dash sign-offs ("-John") and closings
//! ("Regards, Roman").
//!
//! The policy moves them out of the reply; the phrases and device names they are
//! recognised by come from the lexicon.

use super::lexicon::lexicon;

/// `-- ` / `--` alone on a line.
pub(super) fn is_sig_delimiter(raw: &str) -> bool {
    raw.trim_end() == "--"
}

/// "Sent from my iPhone", "Von meinem iPhone gesendet", "iPhoneから送信", "Get Outlook for iOS" …
/// `loose` (used only at the very end of the reply) also accepts any short
/// "Sent from <App>" line without a known device or app word.
pub(super) fn is_mobile_signature(key: &str, loose: bool) -> bool {
    let k = key.trim_end_matches(['.', '!', '。', ' ']);
    let lex = lexicon();
    // Runs on every text line: most lines start with a byte no prefix starts with and end
    // with one no suffix ends with, and skip the hundred comparisons (and the length
    // check, which walks the whole line).
    let prefix = k
        .as_bytes()
        .first()
        .filter(|b| lex.sent_prefix_first_bytes[usize::from(**b)])
        .and_then(|_| lex.sent_prefixes.iter().find(|p| k.starts_with(*p)));
    let suffix = k
        .as_bytes()
        .last()
        .is_some_and(|b| lex.sent_suffix_last_bytes[usize::from(*b)])
        && lex.sent_suffixes.iter().any(|s| k.ends_with(s));
    if prefix.is_none() && !suffix {
        return false;
    }
    if key.len() > 300 || key.chars().count() > 100 {
        return false;
    }
    // Drop <…> and (…) parts (links) before checking the shape.
    let mut plain = String::with_capacity(k.len());
    let mut depth = 0usize;
    for c in k.chars() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    let plain = plain.trim();
    let words: Vec<&str> = plain.split_whitespace().collect();
    if words.len() > 12 {
        return false;
    }
    if plain.contains(['?', '!', ';']) {
        return false;
    }
    // A sentence goes on after a comma or a period: only a device description may do so.
    if let Some(pos) = plain.find([',', '.']) {
        let before = &plain[..pos];
        let after = &plain[pos..];
        let link_like = after.starts_with('.') && !after[1..].starts_with(' ');
        if !link_like && !lex.device_words.iter().any(|d| before.contains(d)) {
            return false;
        }
    }
    if lex.device_words.iter().any(|d| plain.contains(d)) {
        return true;
    }
    // "Sent from my <anything short>"
    if lex.sent_my.iter().any(|m| {
        plain
            .strip_prefix(m)
            .is_some_and(|rest| rest.split_whitespace().count() <= 4)
    }) {
        return true;
    }
    loose
        && prefix.is_some_and(|p| {
            plain
                .strip_prefix(p)
                .is_some_and(|rest| (1..=3).contains(&rest.split_whitespace().count()))
        })
}

/// Most lines a closing has ("Best regards," / "John Smith" / "ACME Support").
const CLOSING_LINES: usize = 3;
/// Most words after the closing words on its first line (a name).
const CLOSING_NAME_WORDS: usize = 3;
/// Most words on each of its lines.
const CLOSING_WORDS: usize = 6;

/// The text lines `keys` (in order) are a closing only: a few short lines, the first
/// starting with a closing word ("Regards, Roman", "Mit freundlichen Grüßen" / "Anna").
pub(super) fn is_closing<'a>(mut keys: impl Iterator<Item = &'a str>) -> bool {
    let Some(first) = keys.next() else {
        return false;
    };
    let short = |k: &str| k.split(' ').count() <= CLOSING_WORDS && !k.ends_with('?');
    // The closing words, then at most a name: "Regards, Roman", not "Thanks, the
    // replacement arrived today."
    let starts_closing = lexicon().closings.iter().any(|c| {
        first.strip_prefix(c).is_some_and(|rest| {
            !rest.chars().next().is_some_and(|ch| ch.is_alphanumeric())
                && rest.split_whitespace().count() <= CLOSING_NAME_WORDS
        })
    });
    if !starts_closing || !short(first) {
        return false;
    }
    let mut count = 1;
    for k in keys {
        count += 1;
        if count > CLOSING_LINES || !short(k) {
            return false;
        }
    }
    true
}

/// A dash sign-off such as "-Abhishek Kona", "--John" or "-- Tim".
pub(super) fn is_signoff(raw: &str) -> bool {
    let s = raw.trim();
    let rest = if let Some(r) = s.strip_prefix("--") {
        r.trim_start()
    } else if let Some(r) = s.strip_prefix('-') {
        if r.starts_with(char::is_whitespace) {
            return false;
        }
        r
    } else {
        return false;
    };
    if rest.is_empty() || rest.chars().count() > 40 {
        return false;
    }
    let words: Vec<&str> = rest.split_whitespace().collect();
    if words.is_empty() || words.len() > 3 {
        return false;
    }
    words.iter().all(|w| {
        let mut cs = w.chars();
        cs.next().is_some_and(|c| c.is_alphabetic())
            && cs.all(|c| c.is_alphabetic() || matches!(c, '.' | '\'' | '-' | '’'))
    })
}
