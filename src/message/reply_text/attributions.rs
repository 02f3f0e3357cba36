//! Attribution lines: "On Mon, 1 Mar 2021, John <john@example.com> wrote:" and its
//! forms in other languages and clients, also wrapped over up to three lines.
//!
//! An attribution is what ties a quoted block to its author, and one that is not
//! followed by `>` lines starts unquoted history. No single feature is enough (customers
//! end sentences with colons and write dates), so a line is scored from several — a verb
//! at the end or in the middle, a typical first word, a date, an address — into a
//! [`Strength`]. The words come from the lexicon.

use super::lexicon::lexicon;
use super::lines::{continues_a_sentence, make_key, Kind, LineInfo};

/// Words of the name before the verb of a "Name verb <date>:" attribution, at most.
const MAX_NAME_WORDS_BEFORE_VERB: usize = 4;
/// Words after the verb of a "Name verb <date>:" attribution, at most.
const MAX_AFTER_VERB_WORDS: usize = 5;

/// Words of a name before its address, at most ("Maria de la Cruz Pérez <…>").
const MAX_NAME_WORDS: usize = 5;

/// How sure a line (or group of lines) is to be an attribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Strength {
    None,
    /// Good enough right above a `>` block.
    Weak,
    /// An attribution anywhere.
    Strong,
}

pub(super) fn ends_with_colon(key: &str) -> bool {
    key.ends_with(':') || key.ends_with('：')
}

fn starts_like_attribution(key: &str) -> bool {
    // Skip a leading "- " or similar decoration (Zimbra puts "- Le … a écrit :").
    let key = key.trim_start_matches(|c: char| !c.is_alphanumeric() && c != '"' && c != '“');
    let Some(c) = key.chars().next() else {
        return false;
    };
    if c.is_ascii_digit() || matches!(c, '在' | '于' | '"' | '“' | '«') {
        return true;
    }
    let word: String = key.chars().take_while(|c| c.is_alphabetic()).collect();
    lexicon().is_attribution_start_word(&word)
}

pub(super) fn has_email(s: &str) -> bool {
    let b = s.as_bytes();
    memchr::memchr_iter(b'@', b).any(|i| {
        i > 0
            && i + 1 < b.len()
            && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] >= 0x80 || b".-_+".contains(&b[i - 1]))
            && (b[i + 1].is_ascii_alphanumeric() || b[i + 1] >= 0x80)
    })
}

/// The words before the verb of a "Name verb <date>:" attribution: a few words, no
/// digits, no punctuation.
fn name_is_plain(name: &str) -> bool {
    !name.is_empty()
        && name.ends_with(' ')
        && name.matches(' ').count() <= MAX_NAME_WORDS_BEFORE_VERB
        && !name.contains(|c: char| {
            c.is_ascii_digit() || matches!(c, ',' | '.' | ':' | ';' | '!' | '?')
        })
}

/// What follows the verb of a "Name verb <date>:" attribution: a calendar date among its
/// first four words, then only times and short words ("um", "klo", "at", "pm").
fn date_and_time_only(rest: &str) -> bool {
    let words: Vec<&str> = rest.split_whitespace().collect();
    let Some(d) = words.iter().take(4).position(|w| has_calendar_date(w)) else {
        return false;
    };
    words.len() <= MAX_AFTER_VERB_WORDS
        && words[d + 1..]
            .iter()
            .all(|w| has_time(w) || w.chars().count() <= 3)
}

/// A day, not just a time: `3/3/2016`, `03.03.16`, `2016-03-03`, or a year (`2016`).
fn has_calendar_date(s: &str) -> bool {
    s.split([' ', ',']).any(|w| {
        let w = w.trim_end_matches([':', '.']);
        let parts: Vec<&str> = w.split(['.', '/', '-']).collect();
        let numeric =
            |p: &&str| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit());
        (parts.len() == 3 && parts.iter().all(numeric))
            || (w.len() == 4 && (w.starts_with("19") || w.starts_with("20")) && numeric(&w))
    })
}

/// A time: `17:21` or `17.21` (hours, a separator, two digits, not part of a date).
fn has_time(s: &str) -> bool {
    s.split([' ', ',']).any(|w| {
        let w = w.trim_end_matches(':');
        let mut parts = w.split([':', '.']);
        matches!((parts.next(), parts.next(), parts.next()), (Some(h), Some(m), None)
            if (1..=2).contains(&h.len())
                && m.len() == 2
                && h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()))
    })
}

fn has_date(s: &str) -> bool {
    let b = s.as_bytes();
    let n = b.len();
    let mut i = 0;
    while i < n {
        if !b[i].is_ascii_digit() {
            i = next_digit(b, i + 1);
            continue;
        }
        let start = i;
        while i < n && b[i].is_ascii_digit() {
            i += 1;
        }
        let len = i - start;
        // A year (19xx / 20xx), not an order number like "#1234".
        let year = len == 4
            && matches!((b[start], b[start + 1]), (b'1', b'9') | (b'2', b'0'))
            && (start == 0 || b[start - 1] != b'#');
        if year {
            return true;
        }
        // A time "12:34" or a date "1.3.2011" / "01/03/11".
        if len <= 2 && i < n && matches!(b[i], b':' | b'.' | b'/' | b'-') {
            let sep = b[i];
            let mut j = i + 1;
            let s2 = j;
            while j < n && b[j].is_ascii_digit() {
                j += 1;
            }
            let len2 = j - s2;
            if sep == b':' && len2 == 2 {
                return true;
            }
            if (1..=2).contains(&len2) && j < n && b[j] == sep {
                return true;
            }
        }
    }
    !s.is_ascii() && s.contains(['年', '月', '日', '년'])
}

/// The index of the first ASCII digit in `b` at or after `from` (`b.len()` if none),
/// eight bytes at a time: `has_date` runs on every text line that starts with a digit,
/// and most of such a line is letters.
fn next_digit(b: &[u8], mut from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = b.get(from..from + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        // Per byte below 0x80: bit 7 of x + (0x80 - lo) is set when the byte is >= lo (no
        // carry reaches the next byte). Bytes of 0x80 and up are never digits.
        let ascii = !x & HIGH;
        let low7 = x & !HIGH;
        let ge_0 = low7.wrapping_add((0x80 - 0x30) * ONES) & HIGH;
        let ge_colon = low7.wrapping_add((0x80 - 0x3A) * ONES) & HIGH;
        if ascii & ge_0 & !ge_colon != 0 {
            break;
        }
        from += 8;
    }
    from + b.get(from..).map_or(0, |rest| {
        rest.iter()
            .position(u8::is_ascii_digit)
            .unwrap_or(rest.len())
    })
}

/// A numeric date (`2016-03-03`, `2013/7/20`, `03.03.2016`), then a time (`17:21`),
/// then at most a zone and a short name.
fn starts_with_numeric_date_and_time(s: &str) -> bool {
    let mut words = s.split(' ');
    let is_date = |w: &str| {
        let numeric =
            |p: &str| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit());
        w.split(['-', '/', '.']).count() == 3
            && w.split(['-', '/', '.']).all(numeric)
            && w.split(['-', '/', '.'])
                .any(|p| p.len() == 4 || p.len() == 2)
    };
    let is_time = |w: &str| {
        let mut p = w.split(':');
        matches!((p.next(), p.next()), (Some(h), Some(m))
            if (1..=2).contains(&h.len()) && m.len() == 2
                && h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()))
    };
    let (Some(d), Some(t)) = (words.next(), words.next()) else {
        return false;
    };
    is_date(d) && is_time(t) && {
        let rest: Vec<&str> = words.collect();
        rest.len() <= 7 && !rest.iter().any(|w| w.ends_with(['.', '?', '!', ',']))
    }
}

/// `s` ends with the word `w` (not with the end of a longer word; CJK verbs attach).
fn ends_with_word(s: &str, w: &str) -> bool {
    let Some(prefix) = s.strip_suffix(w) else {
        return false;
    };
    let cjk = w.chars().next().is_some_and(|c| c as u32 >= 0x2E80);
    cjk || !prefix
        .chars()
        .next_back()
        .is_some_and(|c| c.is_alphabetic())
}

/// Cheap check: could this line be the last line of an attribution?
pub(super) fn may_end_attribution(key: &str) -> bool {
    ends_with_colon(key)
        || key.ends_with('>')
        // "2016-03-03 17:21 GMT+01:00 Name" (a line that merely starts with a digit, as in
        // a table or a numbered list, is not worth the whole check)
        || (key.as_bytes().first().is_some_and(u8::is_ascii_digit) && has_date(key))
        // Without a colon only "… <address> wrote" qualifies.
        || (memchr::memchr(b'@', key.as_bytes()).is_some()
            && lexicon()
                .attribution_end_verbs
                .iter()
                .any(|v| ends_with_word(key, v)))
}

pub(super) fn attribution_strength(text: &str) -> Strength {
    if text.chars().count() > 400 {
        return Strength::None;
    }
    let colon = ends_with_colon(text);
    let body = text
        .trim_end_matches([':', '：'])
        .trim_end_matches([' ', '*']);
    // The cheap facts first; the lexicon scans below run only when the verdict depends on
    // them (a body of lines that start with a digit would otherwise scan every verb of
    // every language three times per line).
    let email = has_email(body);
    if !colon && !email {
        // "2016-03-03 17:21 GMT+01:00 Name": old Gmail, a date, a time and a name only.
        return if starts_with_numeric_date_and_time(body) {
            Strength::Weak
        } else {
            Strength::None
        };
    }
    let date = has_date(body);
    let start_like = starts_like_attribution(text);
    let verb_end = || attribution_verb_ends(body);
    if !colon {
        // "On Wed, 14 Nov 2018 08:14:43 -0200 John Doe <john@doe.com> wrote"
        if date && email && start_like && verb_end() {
            return Strength::Strong;
        }
        // "2011/4/7 Nathan <support@example.com>" right above a quote.
        if date && email && body.ends_with('>') {
            return Strength::Weak;
        }
        // "2016-03-03 17:21 GMT+01:00 Name": old Gmail, a date, a time and a name only.
        if starts_with_numeric_date_and_time(body) {
            return Strength::Weak;
        }
        return Strength::None;
    }
    let verb_mid = || has_mid_verb(body);
    // The verb right after a name and its address: "John Doe <doe@example.com> verb …".
    let verb_after_address = || has_verb_after_address(body);
    // "Bob Smith wrote on 3/3/2016 17:21:", "Anna schrieb am 03.03.2016 um 17:21:",
    // "Example Support kirjoitti 3.3.2016 klo 17.21:": a name, the verb, a date and a
    // time — nothing else.
    let name_verb_date = || has_name_verb_date(body);
    // "Quoting John <john@example.com>:" ("quoting" followed by a space).
    let quoting = || {
        lexicon().quoting_prefixes.iter().any(|q| {
            text.strip_prefix(q)
                .is_some_and(|rest| rest.starts_with(' '))
        })
    };
    // Name and address last, as Gmail writes it in languages without a verb:
    // "ср, 30 апр. 2025 г. в 15:19, John Doe <doe@example.com>:".
    let address_last = body.ends_with('>') || body.ends_with(">)");
    // Mutt's "* Name <addr> [2016-03-03 17:21]:": the name and address, then the date in
    // square brackets.
    let address_then_date = body.ends_with(']')
        && body
            .rfind('[')
            .is_some_and(|o| has_date(&body[o..]) && has_angle_address(&body[..o]));
    if ((date || email || start_like) && verb_end())
        || (start_like && (date || email) && verb_mid())
        // "John Doe <doe@example.com> ezt írta (időpont: 2025. ápr. 30., Sze, 15:19):"
        || (date && verb_after_address())
        || name_verb_date()
        || (email && quoting())
        || (start_like && date && email && address_last)
        || address_then_date
    {
        return Strength::Strong;
    }
    // Right above a quote, less is enough; but a verb inside or an address alone is also
    // how a customer's own sentence introduces a quote ("I wrote this:", "I got this
    // from bob@example.com:"), so they need company.
    if (email && address_last)
        || (date && start_like)
        || verb_end()
        || ((start_like || verb_after_address()) && verb_mid())
    {
        return Strength::Weak;
    }
    Strength::None
}

/// The body ends with an attribution verb ("… wrote", "… a écrit").
fn attribution_verb_ends(body: &str) -> bool {
    lexicon()
        .attribution_end_verbs
        .iter()
        .any(|v| ends_with_word(body, v))
}

/// An attribution verb stands as a word inside the body ("… wrote on …").
fn has_mid_verb(body: &str) -> bool {
    lexicon().attribution_mid_verbs.iter().any(|v| {
        body.match_indices(v).any(|(i, _)| {
            let before_ok = i == 0 || body[..i].ends_with([' ', '>', ')']);
            let after = &body[i + v.len()..];
            before_ok && (after.is_empty() || after.starts_with(' '))
        })
    })
}

/// A verb right after a name and its address: "John Doe <doe@example.com> verb …".
fn has_verb_after_address(body: &str) -> bool {
    lexicon().attribution_mid_verbs.iter().any(|v| {
        body.match_indices(v).any(|(i, _)| {
            let before = body[..i].trim_end();
            let open = if before.ends_with('>') || before.ends_with(">)") {
                before.rfind('<')
            } else {
                None
            };
            open.is_some_and(|o| {
                has_email(&before[o..]) && before[..o].matches(' ').count() <= MAX_NAME_WORDS
            })
        })
    })
}

/// A plain name, the verb, then a date and a time only.
fn has_name_verb_date(body: &str) -> bool {
    lexicon().attribution_mid_verbs.iter().any(|v| {
        body.match_indices(v).any(|(i, _)| {
            let name = &body[..i];
            let rest = &body[i + v.len()..];
            name_is_plain(name) && date_and_time_only(rest) && has_time(rest)
        })
    })
}

/// A quoted line (`> On … wrote:`, `>> Am … schrieb …:`) that is an attribution on its own.
pub(super) fn is_quoted_attribution(raw: &str) -> bool {
    let content = raw.trim_start_matches(|c: char| c == '>' || c.is_whitespace());
    if content.len() > 1000 {
        return false;
    }
    let key = make_key(content).0;
    may_end_attribution(&key) && attribution_strength(&key) == Strength::Strong
}

/// An attribution made of 1–3 lines ending at line `end`; returns its first line.
pub(super) fn attribution_group(
    infos: &[LineInfo],
    end: usize,
    removed: &[bool],
    min: Strength,
) -> Option<usize> {
    if !infos[end].text() || !may_end_attribution(&infos[end].key) {
        return None;
    }
    let mut candidates: Vec<(usize, Strength)> = Vec::new();
    let mut joined = String::new();
    for k in 0..3 {
        if k > end {
            break;
        }
        let idx = end - k;
        let info = &infos[idx];
        if !info.text() || removed[idx] {
            break;
        }
        joined = if joined.is_empty() {
            info.key.to_string()
        } else {
            format!("{} {}", info.key, joined)
        };
        // A group that does not start like one must start its paragraph: else its first
        // line is the end of the customer's paragraph above.
        let para_start = idx == 0 || infos[idx - 1].kind != Kind::Text;
        let strength = attribution_strength(&joined);
        // A strong one with a name and its bracketed address is one wherever it stands,
        // also right under the customer's last line and starting in lower case ("Matti" /
        // "to 3. maalisk. 2016 klo 17.21 Name (<addr>) kirjoitti:"): no sentence of
        // theirs looks like that, and the line above stays theirs.
        // (One line only, with the address in angle brackets — customers write "(addr)"
        // in sentences — and not starting with the bracket: its name is on the line above.)
        let addressed = k == 0
            && strength == Strength::Strong
            && has_angle_address(&joined)
            && !joined.starts_with(['<', '(']);
        if strength >= min
            && (addressed || !continues_a_sentence(infos, idx))
            && (para_start || addressed || starts_like_attribution(&infos[idx].key))
        {
            candidates.push((idx, strength));
        }
    }
    // The longest group that is a whole paragraph and whose first line carries attribution
    // material itself (an address, a date or a verb).
    let whole_paragraph = candidates.iter().rev().copied().find(|&(idx, _)| {
        let key = &infos[idx].key;
        let para_start = idx == 0 || infos[idx - 1].kind != Kind::Text;
        para_start
            && (has_email(key)
                || has_date(key)
                || lexicon()
                    .attribution_mid_verbs
                    .iter()
                    .any(|v| key.contains(v)))
    });
    // Prefer the longest group that starts like an attribution ("On …", a date …), unless
    // that is only the wrapped tail of a stronger one that is a whole paragraph ("Name
    // <addr> ezt írta (időpont: 2025. ápr. 30., Sze," then "15:19):": the tail starts
    // with a digit, but alone it is only weak), or of one as strong that opens with the
    // name and address and breaks mid-phrase ("Name <addr>, 3 Mar" then "2016 Per, 17:21
    // tarihinde şunu yazdı:", "Name <addr>" then "于2016年3月3日周四 下午5:21写道：").
    if let Some((idx, strength)) = candidates
        .iter()
        .rev()
        .copied()
        .find(|&(idx, _)| starts_like_attribution(&infos[idx].key))
    {
        return Some(match whole_paragraph {
            Some((longer, stronger))
                if longer < idx
                    && (stronger > strength
                        || (stronger == strength && wrapped_after_address(infos, longer, idx))) =>
            {
                longer
            }
            _ => idx,
        });
    }
    whole_paragraph
        .or_else(|| candidates.first().copied())
        .map(|(idx, _)| idx)
}

/// Lines `first..tail` open with a name and its bracketed address and break mid-phrase
/// (no sentence end), and line `tail` goes on with a number or a CJK character: the
/// wrapped rest of one attribution, not a customer's line above an attribution.
fn wrapped_after_address(infos: &[LineInfo], first: usize, tail: usize) -> bool {
    let bracketed = has_bracketed_address(&infos[first].key);
    let open_end = !infos[tail - 1]
        .key
        .ends_with(['.', '!', '?', ':', ';', '：', '。']);
    let goes_on = infos[tail]
        .key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c as u32 >= 0x2E80);
    bracketed && open_end && goes_on
}

/// An address in angle brackets or parentheses ("Name <addr>", "Name (<addr>)", "Name
/// (addr)"), as attributions write it.
fn has_bracketed_address(key: &str) -> bool {
    key.find(['<', '('])
        .is_some_and(|o| has_email(&key[o..]) && key[o..].contains(['>', ')']))
}

/// An address in angle brackets ("Name <addr>", "Name (<addr>)"), as attributions write it
/// and sentences do not.
fn has_angle_address(key: &str) -> bool {
    key.find('<')
        .is_some_and(|o| has_email(&key[o..]) && key[o..].contains('>'))
}
