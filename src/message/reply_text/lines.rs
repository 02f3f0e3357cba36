//! The line model: splitting a body into lines, and what the classifier knows of each
//! line before any rule looks at it.
//!
//! Every rule compares line *keys* (lowercased, invisible characters dropped, whitespace
//! collapsed) rather than raw text, so that case, a doubled space or a zero-width
//! character changes nothing. Keys are built once per line here, within the analysis
//! budget that keeps a huge body as cheap as a 64 KiB one.

use super::header_blocks::header_label;
use std::borrow::Cow;

/// Lines longer than this (in bytes) are never matched against patterns.
const MAX_ANALYZE: usize = 1000;
/// The key keeps at most this many characters.
pub(super) const MAX_KEY_CHARS: usize = 400;
/// Bytes of unquoted text lines, from the top, that are matched against patterns.
pub(super) const ANALYZE_BUDGET: usize = 64 * 1024;
/// Lines at the very end that are always analysed (a trailing "Sent from my iPhone").
pub(super) const SIGNATURE_LINES: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Blank,
    Quoted,
    Text,
}

pub(super) struct LineInfo<'a> {
    pub(super) raw: &'a str,
    pub(super) kind: Kind,
    /// Header field kind the line starts with (`From:` …), if any.
    pub(super) label: Option<u8>,
    /// Lowercased, invisible characters removed, whitespace collapsed, trimmed. Borrowed
    /// from one buffer that holds the keys of all lines (one allocation per body, not
    /// one per line: with short lines, malloc and free cost more than the key itself).
    pub(super) key: Cow<'a, str>,
    /// The line is too long, or beyond the analysis budget; no pattern matches it.
    pub(super) long: bool,
}

/// A line read, its key appended to the shared buffer: a [`LineInfo`] once every key is
/// in. Small on purpose (no copy of the line's slice, which `with_key` takes again): a
/// 1 MiB body has some 13,000 lines, and this is kept for each until the keys are done.
pub(super) struct ReadLine {
    kind: Kind,
    label: Option<u8>,
    long: bool,
    /// Where the key lies in the buffer. u32: the buffer holds the keys of the analysed
    /// lines only, far below 4 GiB.
    key: (u32, u32),
}

impl ReadLine {
    pub(super) fn new(line: &str, analyze: bool, keys: &mut String) -> Self {
        let raw = line.trim_end();
        let first = raw
            .chars()
            .find(|c| !c.is_whitespace() && !is_invisible(*c));
        let kind = match first {
            None => Kind::Blank,
            Some('>') => Kind::Quoted,
            Some(_) => Kind::Text,
        };
        let long = !analyze || raw.len() > MAX_ANALYZE;
        let start = keys.len();
        if kind == Kind::Text && !long {
            push_key(raw, keys);
        }
        let key = &keys[start..];
        let label = if key.is_empty() {
            None
        } else {
            header_label(key)
        };
        ReadLine {
            kind,
            label,
            long,
            key: (start as u32, keys.len() as u32),
        }
    }

    pub(super) fn kind(&self) -> Kind {
        self.kind
    }

    /// The line `line` (the one given to [`ReadLine::new`]), its key in `keys` (the
    /// buffer it was appended to).
    pub(super) fn with_key<'k>(&self, line: &'k str, keys: &'k str) -> LineInfo<'k> {
        let (start, end) = (self.key.0 as usize, self.key.1 as usize);
        LineInfo {
            raw: line.trim_end(),
            kind: self.kind,
            label: self.label,
            key: Cow::Borrowed(keys.get(start..end).unwrap_or_default()),
            long: self.long,
        }
    }
}

impl<'a> LineInfo<'a> {
    /// A `>:` line under a text line that ends inside an unclosed `<address` is not a
    /// quote but the end of an attribution whose address the client wrapped
    /// (`… Name <name@example.com` / `>:`): it becomes a text line.
    pub(super) fn rejoin_wrapped_address(&mut self, prev: &LineInfo) {
        if self.kind != Kind::Quoted || !prev.text() || self.long {
            return;
        }
        let Some(rest) = self.raw.trim().strip_prefix('>') else {
            return;
        };
        let rest = rest.trim();
        let open = prev.raw.rfind('<');
        if open.is_some_and(|o| !prev.raw[o..].contains('>'))
            && rest.chars().count() <= 30
            && (rest.ends_with(':') || rest.ends_with('：'))
        {
            self.kind = Kind::Text;
            self.key = Cow::Owned(make_key(self.raw).0);
        }
    }

    pub(super) fn text(&self) -> bool {
        self.kind == Kind::Text && !self.long
    }
}

/// Characters that show nothing (zero-width spaces and joiners, direction marks, U+FEFF,
/// soft hyphens) or that a tracking extension adds as its mark (U+1427 "ᐧ", Mailtrack's):
/// a line made of them and whitespace is blank, not a reply and not a signature.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{FEFF}'
            | '\u{00AD}'
            | '\u{034F}'
            | '\u{180E}'
            | '\u{1427}'
    )
}

/// Lowercase, drop invisible characters, collapse whitespace, trim (and write other digits
/// as ASCII ones: [`push_key_char`]). Returns the key and
/// whether it was truncated (at [`MAX_KEY_CHARS`] characters, counting the spaces kept).
///
/// Runs once per text line of every message, so a run of ASCII that is not whitespace
/// (most of any line) is found eight bytes at a time, copied and lowercased in one go;
/// other characters go through `char`'s Unicode rules one at a time. The key is built as a
/// `String` throughout: no validation pass at the end.
pub(super) fn make_key(s: &str) -> (String, bool) {
    let mut out = String::with_capacity(s.len().min(MAX_KEY_CHARS * 2));
    let truncated = push_key(s, &mut out);
    (out, truncated)
}

/// [`make_key`], appended to `out`; returns whether the key was truncated.
fn push_key(s: &str, out: &mut String) -> bool {
    let bytes = s.as_bytes();
    let base = out.len();
    let mut count = 0usize;
    let mut space = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if is_ascii_space(b) {
            space = out.len() > base;
            i += 1;
            continue;
        }
        let c = if b.is_ascii() {
            b as char
        } else {
            let Some(c) = s[i..].chars().next() else {
                break;
            };
            if is_invisible(c) {
                i += c.len_utf8();
                continue;
            }
            if c.is_whitespace() {
                space = out.len() > base;
                i += c.len_utf8();
                continue;
            }
            c
        };
        if count >= MAX_KEY_CHARS {
            return true;
        }
        if space {
            out.push(' ');
            count += 1;
            space = false;
        }
        if c.is_ascii() {
            // This byte and the ASCII non-space bytes after it, as far as the limit allows
            // (the first one is always kept: the limit was checked before its space).
            let run = ascii_word_len(&bytes[i..]);
            let take = run.min(1 + MAX_KEY_CHARS.saturating_sub(count + 1));
            // ASCII from `i` to `i + take`: both are character boundaries.
            let from = out.len();
            out.push_str(&s[i..i + take]);
            out[from..].make_ascii_lowercase();
            count += take;
            if take < run {
                return true;
            }
            i += run;
        } else {
            push_key_char(c, out);
            count += 1;
            i += c.len_utf8();
        }
    }
    false
}

/// A non-ASCII character as a key writes it: lowercased, except that the Turkish dotted
/// capital I is "i" (not "i" and a combining dot: "İletilen ileti" reads "iletilen
/// ileti"), and Arabic-Indic and full-width digits are ASCII digits (Gmail writes an
/// Arabic attribution's date "٣ مارس ٢٠١٦"; the rules look for dates in ASCII).
fn push_key_char(c: char, out: &mut String) {
    let digit = match c {
        '\u{0660}'..='\u{0669}' => Some(c as u32 - 0x0660),
        '\u{06F0}'..='\u{06F9}' => Some(c as u32 - 0x06F0),
        '\u{FF10}'..='\u{FF19}' => Some(c as u32 - 0xFF10),
        _ => None,
    };
    match digit.and_then(|d| char::from_digit(d, 10)) {
        Some(d) => out.push(d),
        None if c == 'İ' => out.push('i'),
        None => out.extend(c.to_lowercase()),
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Eight bytes as one word, the first byte lowest.
fn word(chunk: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(chunk);
    u64::from_le_bytes(w)
}

/// Per byte of `x` below 0x80, its bit 7 in the result is set when the byte is `>= lo`
/// (the sum never carries into the next byte).
fn at_least(x: u64, lo: u8) -> u64 {
    x.wrapping_add(u64::from(0x80 - lo) * ONES) & HIGH
}

/// How many bytes from the start of `bytes` are ASCII and not whitespace: eight at a time
/// while they are all printable (the bulk of any line), then one by one.
fn ascii_word_len(bytes: &[u8]) -> usize {
    let mut n = 0;
    while let Some(chunk) = bytes.get(n..n + 8) {
        let x = word(chunk);
        if x & HIGH != 0 || at_least(x, 0x21) != HIGH {
            break;
        }
        n += 8;
    }
    n + bytes[n..]
        .iter()
        .position(|&b| !b.is_ascii() || is_ascii_space(b))
        .unwrap_or(bytes.len() - n)
}

/// What `char::is_whitespace` says of an ASCII byte (note the vertical tab).
fn is_ascii_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0B' | b'\x0C' | b'\r')
}

/// Split on CRLF, CR or LF.
pub(super) fn split_lines(body: &str) -> Vec<&str> {
    let bytes = body.as_bytes();
    let mut lines = Vec::with_capacity(bytes.len() / 40 + 1);
    let mut start = 0;
    for i in memchr::memchr2_iter(b'\r', b'\n', bytes) {
        if i < start {
            continue; // the LF of a CRLF
        }
        lines.push(&body[start..i]);
        start = i + 1;
        if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            start += 1;
        }
    }
    if start < bytes.len() {
        lines.push(&body[start..]);
    }
    lines
}

pub(super) fn next_nonblank(infos: &[LineInfo], from: usize) -> Option<usize> {
    (from..infos.len()).find(|&j| infos[j].kind != Kind::Blank)
}

/// Line `idx` starts in lower case right under a text line: the wrapped rest of the
/// customer's sentence ("… I called you" / "on 2016-03-03 and wrote again:", "… the app"
/// / "sent from my phone crashed."), never the start of an attribution or a signature
/// (the attributions that start in lower case, "tir. 18. apr. 2017 kl. 13:09 skrev …",
/// start a paragraph).
pub(super) fn continues_a_sentence(infos: &[LineInfo], idx: usize) -> bool {
    idx > 0
        && infos[idx - 1].kind == Kind::Text
        && infos[idx]
            .raw
            .trim_start()
            .chars()
            .next()
            .is_some_and(char::is_lowercase)
}
