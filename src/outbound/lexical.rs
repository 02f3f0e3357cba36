//! Header syntax shared by the stamping steps: quoted strings, comments, msg-id whitespace,
//! encoded-words.

/// For a quoted-string opening at `open`: (end of its content, offset after the closing quote).
pub(super) fn skip_quoted(b: &[u8], open: usize) -> (usize, usize) {
    let mut i = open + 1;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => i += 2,
            b'"' => return (i, i + 1),
            _ => i += 1,
        }
    }
    (b.len(), b.len())
}

/// For a (nested) comment opening at `open`: (end of its content, offset after it).
pub(super) fn skip_comment(b: &[u8], open: usize) -> (usize, usize) {
    let mut depth = 0usize;
    let mut i = open;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => i += 1,
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return (i, i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    (b.len(), b.len())
}

/// A msg-id from between `<` and `>`: whitespace outside quoted parts removed (folding).
pub(super) fn strip_id_whitespace(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut quoted = false;
    for &c in b {
        if c == b'"' {
            quoted = !quoted;
        }
        if quoted || !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    out
}

/// The bytes an RFC 2047 encoded-word `=?charset?B|Q?text?=` stands for (charset not applied).
pub(super) fn decode_encoded_word(token: &[u8]) -> Option<Vec<u8>> {
    if !token.iter().all(|b| (0x21..0x7f).contains(b)) {
        return None;
    }
    let inner = token.strip_prefix(b"=?")?.strip_suffix(b"?=")?;
    let mut parts = inner.splitn(3, |&b| b == b'?');
    let (charset, encoding, text) = (parts.next()?, parts.next()?, parts.next()?);
    if charset.is_empty() || text.contains(&b'?') {
        return None;
    }
    match encoding {
        b"B" | b"b" => mail_parser::decoders::base64::base64_decode(text),
        b"Q" | b"q" => Some(q_decode(text)),
        _ => None,
    }
}

pub(super) fn q_decode(input: &[u8]) -> Vec<u8> {
    let hex = |b: Option<&u8>| b.and_then(|&b| char::from(b).to_digit(16));
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&c) = input.get(i) {
        match (c, hex(input.get(i + 1)), hex(input.get(i + 2))) {
            (b'=', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (b'_', _, _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}
