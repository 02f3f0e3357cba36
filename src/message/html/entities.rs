//! Character references: the named entities mail bodies use, numeric references, and
//! the browser quirks around them (no trailing `;` on legacy names, `&#150;` meaning a
//! Windows-1252 dash).
//!
//! The table is a hand-picked subset of HTML's 2,000+ names: the ones e-mail clients
//! actually write. An unknown name is left as written, as browsers do.

const ENTITIES: &[(&str, &str)] = &[
    ("amp", "&"),
    ("lt", "<"),
    ("gt", ">"),
    ("quot", "\""),
    ("apos", "'"),
    ("nbsp", "\u{a0}"),
    ("copy", "©"),
    ("reg", "®"),
    ("trade", "™"),
    ("hellip", "…"),
    ("mdash", "—"),
    ("ndash", "–"),
    ("lsquo", "‘"),
    ("rsquo", "’"),
    ("sbquo", "‚"),
    ("ldquo", "“"),
    ("rdquo", "”"),
    ("bdquo", "„"),
    ("laquo", "«"),
    ("raquo", "»"),
    ("lsaquo", "‹"),
    ("rsaquo", "›"),
    ("bull", "•"),
    ("middot", "·"),
    ("euro", "€"),
    ("pound", "£"),
    ("yen", "¥"),
    ("cent", "¢"),
    ("sect", "§"),
    ("para", "¶"),
    ("deg", "°"),
    ("plusmn", "±"),
    ("times", "×"),
    ("divide", "÷"),
    ("frac12", "½"),
    ("frac14", "¼"),
    ("frac34", "¾"),
    ("iexcl", "¡"),
    ("iquest", "¿"),
    ("shy", "\u{ad}"),
    ("zwnj", "\u{200c}"),
    ("zwj", "\u{200d}"),
    ("lrm", "\u{200e}"),
    ("rlm", "\u{200f}"),
    ("ensp", "\u{2002}"),
    ("emsp", "\u{2003}"),
    ("thinsp", "\u{2009}"),
    ("dagger", "†"),
    ("larr", "←"),
    ("rarr", "→"),
    ("uarr", "↑"),
    ("darr", "↓"),
    ("hearts", "♥"),
    ("auml", "ä"),
    ("ouml", "ö"),
    ("uuml", "ü"),
    ("Auml", "Ä"),
    ("Ouml", "Ö"),
    ("Uuml", "Ü"),
    ("szlig", "ß"),
    ("aacute", "á"),
    ("agrave", "à"),
    ("acirc", "â"),
    ("atilde", "ã"),
    ("aring", "å"),
    ("aelig", "æ"),
    ("ccedil", "ç"),
    ("eacute", "é"),
    ("egrave", "è"),
    ("ecirc", "ê"),
    ("euml", "ë"),
    ("iacute", "í"),
    ("igrave", "ì"),
    ("icirc", "î"),
    ("iuml", "ï"),
    ("ntilde", "ñ"),
    ("oacute", "ó"),
    ("ograve", "ò"),
    ("ocirc", "ô"),
    ("otilde", "õ"),
    ("oslash", "ø"),
    ("uacute", "ú"),
    ("ugrave", "ù"),
    ("ucirc", "û"),
    ("yacute", "ý"),
    ("yuml", "ÿ"),
    ("Aacute", "Á"),
    ("Agrave", "À"),
    ("Acirc", "Â"),
    ("Atilde", "Ã"),
    ("Aring", "Å"),
    ("AElig", "Æ"),
    ("Ccedil", "Ç"),
    ("Eacute", "É"),
    ("Egrave", "È"),
    ("Ecirc", "Ê"),
    ("Iacute", "Í"),
    ("Ntilde", "Ñ"),
    ("Oacute", "Ó"),
    ("Ograve", "Ò"),
    ("Ocirc", "Ô"),
    ("Oslash", "Ø"),
    ("Uacute", "Ú"),
];

/// Entities browsers also accept without the trailing ';'.
const LEGACY_NO_SEMICOLON: &[&str] = &["amp", "lt", "gt", "quot", "nbsp", "copy", "reg"];

pub(super) fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        let after = &rest[p + 1..];
        match decode_one(after) {
            Some((text, used)) => {
                out.push_str(&text);
                rest = &after[used..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Decode the entity at the start of `s` (just after '&'); returns text and bytes used.
fn decode_one(s: &str) -> Option<(String, usize)> {
    let b = s.as_bytes();
    if b.first() == Some(&b'#') {
        let (hex, start) = match b.get(1) {
            Some(b'x') | Some(b'X') => (true, 2),
            _ => (false, 1),
        };
        let radix = if hex { 16 } else { 10 };
        let mut j = start;
        let mut code: u32 = 0;
        while j < b.len() {
            let Some(d) = (b[j] as char).to_digit(radix) else {
                break;
            };
            code = code.saturating_mul(radix).saturating_add(d);
            j += 1;
        }
        if j == start {
            return None;
        }
        let c = match code {
            0 => '\u{FFFD}',
            0x80..=0x9F => cp1252(code),
            _ => char::from_u32(code).unwrap_or('\u{FFFD}'),
        };
        let used = if b.get(j) == Some(&b';') { j + 1 } else { j };
        return Some((c.to_string(), used));
    }
    let mut j = 0;
    while j < b.len() && j < 10 && b[j].is_ascii_alphanumeric() {
        j += 1;
    }
    if j == 0 {
        return None;
    }
    let name = s.get(..j)?;
    let value = ENTITIES
        .iter()
        .find(|(n, _)| *n == name)
        .or_else(|| {
            // Case variants not in the table ("&AMP;", "&NBSP;").
            ENTITIES.iter().find(|(n, _)| {
                n.eq_ignore_ascii_case(name)
                    && n.chars().all(|c| c.is_lowercase() || c.is_ascii_digit())
            })
        })
        .map(|(_, v)| *v)?;
    if b.get(j) == Some(&b';') {
        Some((value.to_string(), j + 1))
    } else if LEGACY_NO_SEMICOLON.contains(&name.to_ascii_lowercase().as_str()) {
        Some((value.to_string(), j))
    } else {
        None
    }
}

/// Numeric references 0x80–0x9F mean Windows-1252 characters, as in browsers.
fn cp1252(code: u32) -> char {
    const TABLE: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    TABLE
        .get((code as usize).wrapping_sub(0x80))
        .copied()
        .unwrap_or('\u{FFFD}')
}
