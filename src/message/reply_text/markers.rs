//! History markers: the lines that say "what follows is an older message" without
//! being quoted with `>`: decoration and underscore separator lines, and "Original
//! Message" / "Forwarded message" lines in their decorated and undecorated forms.
//!
//! The words they look for ("original", "Nachricht", "转发" …) come from the lexicon.

use super::attributions::{attribution_strength, ends_with_colon, has_email, Strength};
use super::lexicon::lexicon;
use super::lines::{Kind, LineInfo};

/// A line of underscores, as Outlook puts before a header block and mailing lists put
/// before their footer (some list servers shorten it to `__`).
pub(super) fn is_underscore_rule(key: &str) -> bool {
    let mut count = 0;
    for c in key.chars() {
        match c {
            '_' => count += 1,
            ' ' => {}
            _ => return false,
        }
    }
    count >= 2
}

/// After an underscore line: a header block, or a short footer with an address or a
/// link (mailing lists). A long text after it is the customer's own section break.
pub(super) fn history_follows_rule(infos: &[LineInfo], i: usize) -> bool {
    let mut seen = 0;
    let mut footer_like = false;
    for info in infos.iter().skip(i + 1) {
        if info.kind == Kind::Blank {
            continue;
        }
        if seen == 0 && info.label.is_some() {
            return true;
        }
        seen += 1;
        if seen > 10 {
            return false;
        }
        footer_like |= info.kind == Kind::Quoted
            || has_email(&info.key)
            || info.key.contains("http")
            || info.key.contains("www.");
    }
    footer_like || seen == 0
}

fn is_decoration_char(c: char) -> bool {
    matches!(
        c,
        '-' | '_' | '=' | '*' | '~' | '‐' | '‑' | '–' | '—' | '─' | '━' | '#' | '+' | '.'
    )
}

/// A line made only of separator characters.
pub(super) fn is_decoration(key: &str) -> bool {
    let mut count = 0;
    for c in key.chars() {
        if is_decoration_char(c) {
            count += 1;
        } else if c != ' ' {
            return false;
        }
    }
    count >= 3
}

/// Words of a decorated title, at most ("-------- Оригінальне повідомлення --------").
const MAX_TITLE_WORDS: usize = 6;

/// A short title between separator characters, both sides ("-------- Thư gốc --------",
/// "------------------ 原始邮件 ------------------"): right above a header block, the
/// marker of the message under it, in any language.
pub(super) fn is_decorated_title(key: &str) -> bool {
    let lead = key.chars().take_while(|c| is_decoration_char(*c)).count();
    let trail = key
        .chars()
        .rev()
        .take_while(|c| is_decoration_char(*c))
        .count();
    if lead < 2 || trail < 2 || lead + trail >= key.chars().count() {
        return false;
    }
    let core = key.trim_matches(|c: char| is_decoration_char(c) || c == ' ');
    !core.is_empty() && core.split(' ').count() <= MAX_TITLE_WORDS
}

/// Words of a "reply above this line" line, at most.
const MAX_REPLY_ABOVE_WORDS: usize = 14;

/// "##- Please type your reply above this line -##", "-- Antworten Sie oberhalb dieser
/// Zeile --": the line a helpdesk puts at the top of its mail to say where a reply ends.
/// Under it is that mail, quoted or not. Such a line stands out, decorated or a paragraph
/// of its own, so only those lines are searched for the lexicon's phrases: a long body's
/// other lines cost two comparisons.
pub(super) fn is_reply_above_marker(infos: &[LineInfo], i: usize) -> bool {
    let key = &infos[i].key;
    let decorated = key.starts_with(is_decoration_char) || key.ends_with(is_decoration_char);
    let blank = |info: &LineInfo| info.kind == Kind::Blank;
    let alone = (i == 0 || blank(&infos[i - 1])) && infos.get(i + 1).is_none_or(blank);
    (decorated || alone)
        // "Should I reply above this line?" is the customer asking.
        && !key.contains('?')
        && key.split(' ').count() <= MAX_REPLY_ABOVE_WORDS
        && lexicon().reply_above.iter().any(|p| key.contains(p))
}

/// "-----Original Message-----", "---------- Forwarded message ---------",
/// "Begin forwarded message:", "-------- Message d'origine --------" …
pub(super) fn is_original_marker(key: &str) -> bool {
    let decorated_or_colon = key.starts_with(is_decoration_char)
        || key.ends_with(is_decoration_char)
        || ends_with_colon(key);
    if !decorated_or_colon {
        return false;
    }
    let lead = key
        .chars()
        .take_while(|c| is_decoration_char(*c) || *c == ' ')
        .filter(|c| is_decoration_char(*c))
        .count();
    let rev_trail = key
        .chars()
        .rev()
        .take_while(|c| is_decoration_char(*c) || *c == ' ')
        .filter(|c| is_decoration_char(*c))
        .count();
    let core = key
        .trim_matches(|c: char| is_decoration_char(c) || c == ' ')
        .trim_end_matches([':', '：'])
        .trim();
    if core.is_empty() || core.chars().count() > 80 {
        return false;
    }
    let words = core.split(' ').count();
    let decorated = (lead >= 2 && rev_trail >= 2) || lead >= 5 || rev_trail >= 5;
    if decorated && attribution_strength(&format!("{core}:")) == Strength::Strong {
        // "---- On Wed, 24 Feb 2021 … john@example.com wrote ----"
        return true;
    }
    let lex = lexicon();
    if decorated {
        let starts_forwarded_by = lex.forwarded_by.iter().any(|p| core.starts_with(p));
        return (words <= 6 && lex.message_stems.iter().any(|s| core.contains(s)))
            || starts_forwarded_by;
    }
    // Undecorated: "Begin forwarded message:" and its translations.
    let colon = key.ends_with(':') || key.ends_with('：');
    colon
        && words <= 7
        && lex.forward_stems.iter().any(|s| core.contains(s))
        && lex.message_nouns.iter().any(|m| core.contains(m))
}
