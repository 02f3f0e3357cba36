//! The display name of `Reply-To`: taken from the configuration or from the message's own
//! `From:`, decoded where it must be read and encoded (RFC 2047) where it must be written.

use super::lexical::*;
use super::*;

/// Reply-To tokens for the display name of the first mailbox in an (unfolded) `From:` value.
pub(super) fn from_display_name(from: &[u8]) -> Vec<Vec<u8>> {
    let name = first_mailbox_name(from);
    if name.len() > MAX_TOKEN_LEN {
        return Vec::new();
    }
    let mut tokens = Vec::new();
    let mut text: Vec<String> = Vec::new();
    for word in phrase_words(name) {
        match word {
            Word::Text(t) => text.push(t),
            Word::Encoded(encoded) => {
                tokens.extend(encode_display_name(&text.join(" ")));
                text.clear();
                tokens.push(encoded);
            }
        }
    }
    tokens.extend(encode_display_name(&text.join(" ")));
    tokens
}

/// The raw display name of the first mailbox of an address list: the phrase before its `<`,
/// or the comment of an `addr (Name)` mailbox. A comma not preceded by an address belongs to
/// the name (`Doe, Jane <j@x>`, as sloppy clients write it).
pub(super) fn first_mailbox_name(v: &[u8]) -> &[u8] {
    let mut start = 0;
    let mut saw_at = false;
    let mut comment: &[u8] = &[];
    let mut i = 0;
    while let Some(&c) = v.get(i) {
        match c {
            b'"' => i = skip_quoted(v, i).1,
            b'(' => {
                let (inner_end, next) = skip_comment(v, i);
                comment = &v[i + 1..inner_end];
                i = next;
            }
            b'<' => return &v[start..i],
            b',' if saw_at => break,
            b':' => {
                // A group: `Team: Jane <j@x>;` names Jane.
                start = i + 1;
                saw_at = false;
                comment = &[];
                i += 1;
            }
            _ => {
                saw_at |= c == b'@';
                i += 1;
            }
        }
    }
    comment
}

pub(super) enum Word {
    /// An atom or quoted-string, decoded.
    Text(String),
    /// An RFC 2047 encoded-word, as it was.
    Encoded(Vec<u8>),
}

pub(super) fn phrase_words(b: &[u8]) -> Vec<Word> {
    let mut words = Vec::new();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'(' => i = skip_comment(b, i).1,
            b'"' => {
                let (inner_end, next) = skip_quoted(b, i);
                words.push(Word::Text(decode_text(&unescape(&b[i + 1..inner_end]))));
                i = next;
            }
            _ => {
                let len = b[i..]
                    .iter()
                    .take_while(|&&c| !is_fws(c) && c != b'(' && c != b'"')
                    .count();
                let token = &b[i..i + len];
                words.push(match decode_encoded_word(token) {
                    Some(_) => Word::Encoded(token.to_vec()),
                    None => Word::Text(decode_text(token)),
                });
                i += len;
            }
        }
    }
    words
}

/// Reply-To tokens for a display name given as text: atoms, one quoted-string, or encoded-words.
pub(super) fn encode_display_name(name: &str) -> Vec<Vec<u8>> {
    let spaced: String = name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean: String = spaced
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(MAX_DISPLAY_NAME_CHARS)
        .collect();
    let clean = clean.trim_end();
    if clean.is_empty() {
        return Vec::new();
    }
    if !clean.is_ascii() {
        return encoded_words(clean);
    }
    let atoms = clean.split(' ').all(|w| w.bytes().all(is_atext));
    if atoms && !clean.contains("=?") {
        return clean.split(' ').map(|w| w.as_bytes().to_vec()).collect();
    }
    let mut quoted = Vec::with_capacity(clean.len() + 2);
    quoted.push(b'"');
    for b in clean.bytes() {
        if b == b'"' || b == b'\\' {
            quoted.push(b'\\');
        }
        quoted.push(b);
    }
    quoted.push(b'"');
    vec![quoted]
}

/// `=?UTF-8?B?…?=` words of at most 68 characters, split between characters.
pub(super) fn encoded_words(text: &str) -> Vec<Vec<u8>> {
    let mut words = Vec::new();
    let mut chunk_start = 0;
    for (i, c) in text.char_indices() {
        if i + c.len_utf8() - chunk_start > ENCODED_WORD_CHUNK {
            words.push(&text[chunk_start..i]);
            chunk_start = i;
        }
    }
    words.push(&text[chunk_start..]);
    words
        .into_iter()
        .map(|chunk| {
            format!("=?UTF-8?B?{}?=", BASE64_STANDARD.encode(chunk.as_bytes())).into_bytes()
        })
        .collect()
}

/// RFC 5322 atext.
pub(super) fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// Text from header bytes: UTF-8 if they are, else Latin-1 (every byte is a character).
pub(super) fn decode_text(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => b.iter().map(|&b| char::from(b)).collect(),
    }
}

pub(super) fn unescape(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut escaped = false;
    for &c in b {
        if c == b'\\' && !escaped {
            escaped = true;
        } else {
            out.push(c);
            escaped = false;
        }
    }
    out
}
