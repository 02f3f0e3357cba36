//! A small tolerant HTML tokenizer: tags with attributes in any quoting, comments,
//! raw-text elements, unclosed tags, case-insensitive names.
//!
//! Quote stripping and rendering both need the same view of an e-mail's HTML, which is
//! often malformed; a browser-grade parser is far more than they need. Every step here is
//! linear in the input size and nothing panics on malformed input. Token positions are
//! byte ranges of the source, so removed tokens can be cut from it exactly.

use super::entities::decode_entities;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokKind {
    Text,
    /// Content of <script>, <style>, <title>, <textarea>, <xmp>.
    RawText,
    Start,
    End,
    /// Comments, doctype, processing instructions, CDATA.
    Other,
}

#[derive(Debug, Clone)]
pub(super) struct Tok {
    pub(super) kind: TokKind,
    pub(super) start: usize,
    pub(super) end: usize,
    /// Lowercased tag name (Start/End only).
    pub(super) name: String,
    pub(super) attrs: Vec<(String, String)>,
    pub(super) self_closing: bool,
}

impl Tok {
    pub(super) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn is_void(&self) -> bool {
        self.self_closing
            || matches!(
                self.name.as_str(),
                "br" | "hr"
                    | "img"
                    | "meta"
                    | "link"
                    | "input"
                    | "area"
                    | "base"
                    | "col"
                    | "embed"
                    | "param"
                    | "source"
                    | "track"
                    | "wbr"
                    | "keygen"
                    | "basefont"
                    | "frame"
            )
    }
}

pub(super) fn is_raw_text_element(name: &str) -> bool {
    matches!(name, "script" | "style" | "title" | "textarea" | "xmp")
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
}

fn find_byte(b: &[u8], from: usize, needle: u8) -> Option<usize> {
    b.get(from..)?
        .iter()
        .position(|&c| c == needle)
        .map(|p| p + from)
}

fn find_bytes(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || from >= b.len() {
        return None;
    }
    let first = needle[0];
    let mut i = from;
    while let Some(p) = find_byte(b, i, first) {
        if b.len() - p >= needle.len() && &b[p..p + needle.len()] == needle {
            return Some(p);
        }
        i = p + 1;
    }
    None
}

/// Position of `</name` (case-insensitive) followed by a non-name byte, from `from`.
fn find_close_tag(b: &[u8], from: usize, name: &str) -> Option<usize> {
    let nb = name.as_bytes();
    let mut i = from;
    while let Some(p) = find_byte(b, i, b'<') {
        let q = p + 2;
        if b.get(p + 1) == Some(&b'/')
            && b.len() >= q + nb.len()
            && b[q..q + nb.len()].eq_ignore_ascii_case(nb)
            && b.get(q + nb.len())
                .is_none_or(|c| !c.is_ascii_alphanumeric())
        {
            return Some(p);
        }
        i = p + 1;
    }
    None
}

struct Tokenizer<'a> {
    s: &'a str,
    b: &'a [u8],
    /// Last positions of `"`, `'` and `>`, to fail fast on unclosed quotes/tags.
    last_dq: Option<usize>,
    last_sq: Option<usize>,
}

pub(super) fn tokenize(s: &str) -> Vec<Tok> {
    let b = s.as_bytes();
    let tz = Tokenizer {
        s,
        b,
        last_dq: b.iter().rposition(|&c| c == b'"'),
        last_sq: b.iter().rposition(|&c| c == b'\''),
    };
    let n = b.len();
    let mut toks = Vec::new();
    let mut i = 0;
    let mut text_start = 0;
    while i < n {
        let Some(p) = find_byte(b, i, b'<') else {
            break;
        };
        i = p;
        match tz.markup(i) {
            Some(tok) => {
                if text_start < i {
                    toks.push(text_tok(TokKind::Text, text_start, i));
                }
                let end = tok.end;
                let raw = tok.kind == TokKind::Start
                    && !tok.self_closing
                    && is_raw_text_element(&tok.name);
                let name = tok.name.clone();
                toks.push(tok);
                i = end.max(i + 1);
                text_start = i;
                if raw {
                    let close = find_close_tag(b, i, &name).unwrap_or(n);
                    if close > i {
                        toks.push(text_tok(TokKind::RawText, i, close));
                    }
                    i = close;
                    text_start = i;
                }
            }
            None => i += 1,
        }
    }
    if text_start < n {
        toks.push(text_tok(TokKind::Text, text_start, n));
    }
    toks
}

fn text_tok(kind: TokKind, start: usize, end: usize) -> Tok {
    Tok {
        kind,
        start,
        end,
        name: String::new(),
        attrs: Vec::new(),
        self_closing: false,
    }
}

impl Tokenizer<'_> {
    fn skip_ws(&self, mut j: usize) -> usize {
        while j < self.b.len() && is_ws(self.b[j]) {
            j += 1;
        }
        j
    }

    /// Parse markup starting at `<` at position `i`; None if it is a literal `<`.
    fn markup(&self, i: usize) -> Option<Tok> {
        let b = self.b;
        let n = b.len();
        let next = *b.get(i + 1)?;
        if b[i + 1..].starts_with(b"!--") {
            let end = find_bytes(b, i + 4, b"-->").map_or(n, |p| p + 3);
            return Some(text_tok(TokKind::Other, i, end));
        }
        if next == b'!' || next == b'?' {
            let end = find_byte(b, i + 2, b'>').map_or(n, |p| p + 1);
            return Some(text_tok(TokKind::Other, i, end));
        }
        if next == b'/' {
            let c = *b.get(i + 2)?;
            if !c.is_ascii_alphabetic() {
                // "</>" is ignored and "</ x>" is a bogus comment, as in browsers.
                let end = find_byte(b, i + 2, b'>').map_or(n, |p| p + 1);
                return Some(text_tok(TokKind::Other, i, end));
            }
            let mut j = i + 2;
            while j < n && !is_ws(b[j]) && b[j] != b'>' && b[j] != b'/' {
                j += 1;
            }
            let name = self.s.get(i + 2..j).unwrap_or("").to_ascii_lowercase();
            let end = find_byte(b, j, b'>').map_or(n, |p| p + 1);
            return Some(Tok {
                name,
                ..text_tok(TokKind::End, i, end)
            });
        }
        if !next.is_ascii_alphabetic() {
            return None;
        }
        let mut j = i + 1;
        while j < n && !is_ws(b[j]) && b[j] != b'>' && b[j] != b'/' {
            j += 1;
        }
        let name = self.s.get(i + 1..j).unwrap_or("").to_ascii_lowercase();
        let mut attrs = Vec::new();
        let mut self_closing = false;
        loop {
            j = self.skip_ws(j);
            if j >= n {
                break;
            }
            match b[j] {
                b'>' => {
                    j += 1;
                    break;
                }
                b'/' => {
                    j += 1;
                    self_closing = b.get(j) == Some(&b'>');
                    continue;
                }
                _ => {}
            }
            self_closing = false;
            let name_start = j;
            while j < n && !is_ws(b[j]) && b[j] != b'>' && b[j] != b'/' && b[j] != b'=' {
                j += 1;
            }
            if j == name_start {
                j += 1; // a stray '=' or similar
            }
            let attr_name = self.s.get(name_start..j).unwrap_or("").to_ascii_lowercase();
            j = self.skip_ws(j);
            let mut value = String::new();
            if j < n && b[j] == b'=' {
                j = self.skip_ws(j + 1);
                if j < n && (b[j] == b'"' || b[j] == b'\'') {
                    let q = b[j];
                    let last = if q == b'"' {
                        self.last_dq
                    } else {
                        self.last_sq
                    };
                    let close = match last {
                        Some(l) if l > j => find_byte(b, j + 1, q),
                        _ => None,
                    };
                    match close {
                        Some(e) => {
                            value = decode_entities(self.s.get(j + 1..e).unwrap_or(""));
                            j = e + 1;
                        }
                        None => {
                            // Unclosed quote: take the value up to whitespace or '>'.
                            let mut e = j + 1;
                            while e < n && !is_ws(b[e]) && b[e] != b'>' {
                                e += 1;
                            }
                            value = decode_entities(self.s.get(j + 1..e).unwrap_or(""));
                            j = e;
                        }
                    }
                } else {
                    let vs = j;
                    while j < n && !is_ws(b[j]) && b[j] != b'>' {
                        j += 1;
                    }
                    value = decode_entities(self.s.get(vs..j).unwrap_or(""));
                }
            }
            if !attr_name.is_empty() && attr_name != "=" {
                attrs.push((attr_name, value));
            }
        }
        Some(Tok {
            kind: TokKind::Start,
            start: i,
            end: j.min(n),
            name,
            attrs,
            self_closing,
        })
    }
}

/// For each Start token, the index of the last token of the element (its end tag, or the
/// last token before an ancestor closes, or the last token of the document).
pub(super) fn element_ends(toks: &[Tok]) -> Vec<usize> {
    let n = toks.len();
    let mut ends: Vec<usize> = (0..n).collect();
    let mut stack: Vec<usize> = Vec::new();
    let mut open_count: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, t) in toks.iter().enumerate() {
        match t.kind {
            TokKind::Start if !t.is_void() => {
                // Implicitly closed elements.
                if matches!(
                    t.name.as_str(),
                    "p" | "li" | "option" | "dt" | "dd" | "tr" | "td" | "th"
                ) {
                    if let Some(&top) = stack.last() {
                        let top_name = toks[top].name.as_str();
                        let closes = top_name == t.name
                            || (t.name == "dd" && top_name == "dt")
                            || (t.name == "dt" && top_name == "dd")
                            || (t.name == "td" && top_name == "th")
                            || (t.name == "th" && top_name == "td");
                        if closes {
                            stack.pop();
                            ends[top] = i.saturating_sub(1);
                            if let Some(c) = open_count.get_mut(top_name) {
                                *c = c.saturating_sub(1);
                            }
                        }
                    }
                }
                stack.push(i);
                *open_count.entry(t.name.as_str()).or_insert(0) += 1;
            }
            TokKind::End => {
                if open_count.get(t.name.as_str()).copied().unwrap_or(0) == 0 {
                    continue;
                }
                while let Some(top) = stack.pop() {
                    let top_name = toks[top].name.as_str();
                    if let Some(c) = open_count.get_mut(top_name) {
                        *c = c.saturating_sub(1);
                    }
                    if top_name == t.name {
                        ends[top] = i;
                        break;
                    }
                    ends[top] = i.saturating_sub(1);
                }
            }
            _ => {}
        }
    }
    for s in stack {
        ends[s] = n.saturating_sub(1);
    }
    ends
}
