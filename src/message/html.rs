//! HTML side of reply trimming: removing quote containers from an HTML body and
//! converting HTML to readable plain text.
//!
//! Both work on a small tolerant tokenizer (tags, attributes in any quoting, comments,
//! raw-text elements, unclosed tags, case-insensitive names). Every step is linear in
//! the input size and nothing panics on malformed input.
//!
//! `strip_quotes` works in two passes:
//! 1. structural: known quote containers (`<blockquote type="cite">`, Gmail's
//!    `gmail_quote`, Thunderbird's `moz-cite-prefix` + blockquote, Yahoo's
//!    `yahoo_quoted`, Outlook's `divRplyFwdMsg` / top-border separator / Zimbra's
//!    `<hr id="zwchr">` and everything after them …) are removed;
//! 2. textual: the rest is rendered to text (plain `<blockquote>`s as `>` lines) and
//!    classified with the plain-text rules of [`super::reply_text`]; a trailing run of
//!    history (Outlook header blocks written as paragraphs, "… wrote:" lines above a
//!    blockquote, signatures) is cut from the HTML, and attribution lines above removed
//!    quotes are dropped.

use super::reply_text::{is_header_field_line, line_roles, LineRole};

/// Remove quote containers from an HTML body; returns (html without quotes, removed html fragments joined).
pub fn strip_quotes(html: &str) -> (String, String) {
    let toks = tokenize(html);
    let n = toks.len();
    if n == 0 {
        return (String::new(), String::new());
    }
    let ends = element_ends(&toks);
    let mut removed = vec![false; n];

    // 1. Structural pass.
    let mut i = 0;
    while i < n {
        if toks[i].kind != TokKind::Start {
            i += 1;
            continue;
        }
        match container_kind(&toks, i, &ends, html) {
            Container::No => i += 1,
            Container::ToEnd => {
                for r in removed.iter_mut().skip(i) {
                    *r = true;
                }
                break;
            }
            Container::Whole { with_next_quote } => {
                let e = ends[i].max(i);
                for r in removed.iter_mut().take(e + 1).skip(i) {
                    *r = true;
                }
                i = e + 1;
                if with_next_quote {
                    // Thunderbird: the blockquote that follows the cite prefix.
                    let mut j = i;
                    while j < n && is_filler(&toks[j], html) {
                        j += 1;
                    }
                    if j < n && toks[j].kind == TokKind::Start && toks[j].name == "blockquote" {
                        let e2 = ends[j].max(j);
                        for r in removed.iter_mut().take(e2 + 1).skip(j) {
                            *r = true;
                        }
                        i = e2 + 1;
                    }
                }
            }
        }
    }

    // 2. Text pass.
    let rendered = render(html, &toks, &removed, true);
    let lines: Vec<&str> = rendered.text.split('\n').collect();
    let roles = line_roles(&lines);
    let Some(last_reply) = roles.iter().rposition(|r| *r == LineRole::Reply) else {
        // Nothing the customer wrote would be left: keep everything.
        return (html.to_string(), String::new());
    };
    {
        let line_range = |l: usize| rendered.line_toks.get(l).copied().flatten();
        // Tokens that show reply text must stay.
        let mut keep = vec![false; n];
        for (l, role) in roles.iter().enumerate() {
            if *role == LineRole::Reply {
                if let Some((a, b)) = line_range(l) {
                    for k in keep.iter_mut().take(b + 1).skip(a) {
                        *k = true;
                    }
                }
            }
        }
        // Trailing history: cut from its first token to the end.
        let cut_line = (last_reply + 1..roles.len()).find(|&l| roles[l] == LineRole::Removed);
        let mut cut_tok = n;
        if let Some((a, _)) = cut_line.and_then(line_range) {
            if !keep[a] {
                let mut c = a;
                while c > 0 && !keep[c - 1] && is_cut_extendable(&toks[c - 1], html) {
                    c -= 1;
                }
                cut_tok = c;
            }
        }
        // Attribution / quote lines in the middle: drop their text.
        for (l, role) in roles.iter().enumerate().take(last_reply) {
            if *role != LineRole::Removed {
                continue;
            }
            if let Some((a, b)) = line_range(l) {
                for k in a..=b.min(n - 1) {
                    let t = &toks[k];
                    let droppable =
                        t.kind == TokKind::Text || (t.kind == TokKind::Start && t.name == "br");
                    if droppable && !keep[k] {
                        removed[k] = true;
                    }
                }
            }
        }
        for r in removed.iter_mut().skip(cut_tok) {
            *r = true;
        }
    }

    // Output.
    let mut out = String::with_capacity(html.len());
    let mut quoted_parts: Vec<String> = Vec::new();
    let mut cur_quoted = String::new();
    for (t, &r) in toks.iter().zip(removed.iter()) {
        let src = html.get(t.start..t.end).unwrap_or("");
        if r {
            cur_quoted.push_str(src);
        } else {
            if !cur_quoted.trim().is_empty() {
                quoted_parts.push(std::mem::take(&mut cur_quoted));
            }
            cur_quoted.clear();
            out.push_str(src);
        }
    }
    if !cur_quoted.trim().is_empty() {
        quoted_parts.push(cur_quoted);
    }
    // Close elements whose end tag was removed with the tail.
    if removed.last().copied().unwrap_or(false) {
        for (s, t) in toks.iter().enumerate().rev() {
            if removed[s] || t.kind != TokKind::Start || t.is_void() {
                continue;
            }
            let e = ends[s];
            if e < n
                && e != s
                && removed[e]
                && toks[e].kind == TokKind::End
                && toks[e].name == t.name
            {
                out.push_str("</");
                out.push_str(&t.name);
                out.push('>');
            }
        }
    }
    (out, quoted_parts.join("\n"))
}

/// Convert HTML to readable plain text: paragraphs and <br> as line breaks, lists as "- item" / "1. item", links as "text (url)" (just "url" when text == url), entities decoded (named common ones + numeric), `<script>`/`<style>`/`<head>` dropped, whitespace collapsed like a browser, no more than one blank line in a row.
pub fn html_to_text(html: &str) -> String {
    let toks = tokenize(html);
    let removed = vec![false; toks.len()];
    let rendered = render(html, &toks, &removed, false);
    let lines: Vec<&str> = rendered.text.split('\n').map(|l| l.trim_end()).collect();
    let mut out: Vec<&str> = Vec::with_capacity(lines.len());
    for l in lines {
        if l.is_empty() && out.last().is_none_or(|p: &&str| p.is_empty()) {
            continue;
        }
        out.push(l);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

// ---------------------------------------------------------------------------------------
// Tokenizer
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokKind {
    Text,
    /// Content of <script>, <style>, <title>, <textarea>, <xmp>.
    RawText,
    Start,
    End,
    /// Comments, doctype, processing instructions, CDATA.
    Other,
}

#[derive(Debug, Clone)]
struct Tok {
    kind: TokKind,
    start: usize,
    end: usize,
    /// Lowercased tag name (Start/End only).
    name: String,
    attrs: Vec<(String, String)>,
    self_closing: bool,
}

impl Tok {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn is_void(&self) -> bool {
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

fn is_raw_text_element(name: &str) -> bool {
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

fn tokenize(s: &str) -> Vec<Tok> {
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
fn element_ends(toks: &[Tok]) -> Vec<usize> {
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

// ---------------------------------------------------------------------------------------
// Quote containers
// ---------------------------------------------------------------------------------------

enum Container {
    No,
    /// Remove the element (and, for Thunderbird's cite prefix, the blockquote after it).
    Whole {
        with_next_quote: bool,
    },
    /// Remove the element and everything after it.
    ToEnd,
}

/// Class test; prefixes that webmail rewriters add ("x_" by Exchange/Outlook.com,
/// "ecx" by old Hotmail) are ignored.
fn has_class(t: &Tok, pred: impl Fn(&str) -> bool) -> bool {
    t.attr("class").is_some_and(|c| {
        c.split_ascii_whitespace().any(|cls| {
            let mut cls = cls.to_ascii_lowercase();
            loop {
                if let Some(rest) = cls.strip_prefix("x_") {
                    cls = rest.to_string();
                } else if let Some(rest) = cls.strip_prefix("ecx") {
                    cls = rest.to_string();
                } else {
                    break;
                }
            }
            pred(&cls)
        })
    })
}

fn compact_style(t: &Tok) -> String {
    t.attr("style")
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(|c| c.to_lowercase())
        .collect()
}

fn container_kind(toks: &[Tok], i: usize, ends: &[usize], html: &str) -> Container {
    let t = &toks[i];
    let id = t.attr("id").unwrap_or("").to_ascii_lowercase();

    if t.name == "blockquote"
        && t.attr("type")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("cite"))
    {
        return Container::Whole {
            with_next_quote: false,
        };
    }
    if has_class(t, |c| c == "moz-cite-prefix") {
        return Container::Whole {
            with_next_quote: true,
        };
    }
    if has_class(t, |c| {
        matches!(
            c,
            "gmail_quote" | "gmail_quote_container" | "gmail_attr" | "protonmail_quote"
        ) || c.contains("yahoo_quoted")
    }) || id.starts_with("yahoo_quoted")
    {
        return Container::Whole {
            with_next_quote: false,
        };
    }
    if has_class(t, |c| c == "outlookmessageheader")
        || id.ends_with("divrplyfwdmsg")
        || id == "appendonsend"
        || id == "mail-editor-reference-message-container"
        || (t.name == "hr" && (id == "zwchr" || id == "stopspelling"))
    {
        return Container::ToEnd;
    }
    if t.name == "div" {
        let style = compact_style(t);
        let top_border = style.contains("border-top-style:solid")
            || style
                .split(';')
                .any(|decl| decl.starts_with("border-top:") && decl.contains("solid"));
        if top_border {
            if style.contains("border:none") {
                return Container::ToEnd;
            }
            // Confirm with the text inside: a header field ("From:", "От:" …).
            let end = ends[i].min(i + 200).min(toks.len().saturating_sub(1));
            let slice = &toks[i..=end];
            let removed = vec![false; slice.len()];
            let r = render(html, slice, &removed, false);
            let first = r.text.lines().map(str::trim).find(|l| !l.is_empty());
            if first.is_some_and(is_header_field_line) {
                return Container::ToEnd;
            }
        }
    }
    Container::No
}

/// Whitespace text, comments and <br> between a container and what follows it.
fn is_filler(t: &Tok, html: &str) -> bool {
    match t.kind {
        TokKind::Text => html.get(t.start..t.end).unwrap_or("").trim().is_empty(),
        TokKind::Other => true,
        TokKind::Start => t.name == "br",
        _ => false,
    }
}

/// Tokens right before a tail cut that may go with it (opening tags, whitespace, <br>).
fn is_cut_extendable(t: &Tok, html: &str) -> bool {
    match t.kind {
        TokKind::Start => !is_raw_text_element(&t.name),
        TokKind::Other => true,
        TokKind::Text => html
            .get(t.start..t.end)
            .unwrap_or("")
            .chars()
            .all(|c| c.is_whitespace()),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------
// Entities
// ---------------------------------------------------------------------------------------

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

fn decode_entities(s: &str) -> String {
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

// ---------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------

struct Rendered {
    text: String,
    /// For each output line, the first and last token that produced content on it.
    line_toks: Vec<Option<(usize, usize)>>,
}

struct Link {
    out_pos: usize,
    href: String,
}

struct Renderer {
    internal: bool,
    out: String,
    nl_run: usize,
    line_has_content: bool,
    pending_break: usize,
    pending_space: bool,
    pending_prefix: Option<String>,
    pre_depth: usize,
    /// (ordered, next number)
    lists: Vec<(bool, u64)>,
    links: Vec<Link>,
    /// Blockquote stack: true when it counts as a quote (internal mode prefix).
    quotes: Vec<bool>,
    quote_depth: usize,
    /// Break level of the current paragraph: 1 for Outlook's margin-less `MsoNormal`
    /// paragraphs, 2 otherwise.
    p_level: usize,
    cur_tok: usize,
    line_first: Option<usize>,
    line_last: Option<usize>,
    line_toks: Vec<Option<(usize, usize)>>,
}

impl Renderer {
    fn end_line(&mut self) {
        let entry = match (self.line_first, self.line_last) {
            (Some(a), Some(b)) => Some((a, b)),
            _ => None,
        };
        self.line_toks.push(entry);
        self.line_first = None;
        self.line_last = None;
        self.out.push('\n');
        self.nl_run += 1;
        self.line_has_content = false;
        self.pending_space = false;
    }

    fn request_break(&mut self, level: usize) {
        self.pending_break = self.pending_break.max(level);
        self.pending_space = false;
    }

    fn flush_break(&mut self) {
        if self.pending_break > 0 {
            if !self.out.is_empty() {
                let want = self.pending_break.min(2);
                if self.line_has_content {
                    self.end_line();
                }
                while self.nl_run < want {
                    self.end_line();
                }
            }
            self.pending_break = 0;
        }
    }

    fn line_break(&mut self) {
        self.flush_break();
        if self.out.is_empty() {
            return;
        }
        if self.line_has_content || self.nl_run < 2 {
            self.end_line();
        }
    }

    fn mark(&mut self) {
        if self.line_first.is_none() {
            self.line_first = Some(self.cur_tok);
        }
        self.line_last = Some(self.cur_tok);
    }

    /// Emit one visible character (not collapsible whitespace).
    fn emit_char(&mut self, c: char) {
        self.flush_break();
        if !self.line_has_content {
            if self.internal && self.quote_depth > 0 {
                // The classifier only needs to see that the line is quoted.
                for _ in 0..self.quote_depth.min(3) {
                    self.out.push('>');
                }
                self.out.push(' ');
            }
            if let Some(p) = self.pending_prefix.take() {
                self.out.push_str(&p);
            }
        } else if self.pending_space && !self.out.ends_with(' ') {
            self.out.push(' ');
        } else if let Some(p) = self.pending_prefix.take() {
            self.out.push_str(&p);
        }
        self.pending_space = false;
        self.out.push(c);
        self.line_has_content = true;
        self.nl_run = 0;
        self.mark();
    }

    fn space(&mut self) {
        if self.line_has_content {
            self.pending_space = true;
        }
    }

    fn text(&mut self, raw: &str) {
        let decoded = decode_entities(raw);
        if self.pre_depth > 0 {
            for c in decoded.chars() {
                match c {
                    '\n' => {
                        self.flush_break();
                        if self.out.is_empty() {
                            continue;
                        }
                        if self.line_has_content || self.nl_run < 2 {
                            self.end_line();
                        }
                    }
                    '\r' => {}
                    '\u{a0}' => self.emit_char(' '),
                    c => self.emit_char(c),
                }
            }
            return;
        }
        for c in decoded.chars() {
            match c {
                ' ' | '\t' | '\n' | '\r' | '\x0c' => self.space(),
                '\u{a0}' => self.emit_char(' '),
                '\u{ad}' => {}
                c => self.emit_char(c),
            }
        }
    }

    fn open_link(&mut self, href: &str) {
        self.close_link();
        self.links.push(Link {
            out_pos: self.out.len(),
            href: href.trim().to_string(),
        });
    }

    fn close_link(&mut self) {
        let Some(link) = self.links.pop() else {
            return;
        };
        let href = link.href;
        if href.is_empty()
            || href.starts_with('#')
            || href.to_ascii_lowercase().starts_with("javascript:")
        {
            return;
        }
        let shown = self
            .out
            .get(link.out_pos..)
            .unwrap_or("")
            .trim()
            .to_string();
        if shown.is_empty() {
            return;
        }
        if same_target(&shown, &href) {
            return;
        }
        self.space();
        self.emit_char('(');
        for c in href.chars() {
            if !c.is_whitespace() {
                self.emit_char(c);
            }
        }
        self.emit_char(')');
    }
}

/// Link text and target are "the same" (ignoring scheme, mailto: and a trailing slash).
fn same_target(text: &str, href: &str) -> bool {
    fn norm(s: &str) -> String {
        let l = s.trim().to_lowercase();
        let l = l
            .strip_prefix("mailto:")
            .or_else(|| l.strip_prefix("https://"))
            .or_else(|| l.strip_prefix("http://"))
            .unwrap_or(&l)
            .to_string();
        l.trim_end_matches('/').to_string()
    }
    text == href || norm(text) == norm(href)
}

fn block_level(name: &str) -> Option<usize> {
    match name {
        "p" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "blockquote" | "pre" | "hr" | "dl" => {
            Some(2)
        }
        "div" | "tr" | "li" | "dt" | "dd" | "table" | "tbody" | "thead" | "tfoot" | "center"
        | "section" | "article" | "header" | "footer" | "nav" | "aside" | "main" | "figure"
        | "figcaption" | "form" | "fieldset" | "address" | "details" | "summary" | "caption"
        | "legend" | "body" | "html" | "option" | "ul" | "ol" => Some(1),
        _ => None,
    }
}

fn is_skipped_element(name: &str) -> bool {
    matches!(
        name,
        "script" | "style" | "title" | "template" | "xml" | "head" | "noscript" | "svg" | "object"
    )
}

/// Elements that may appear in <head>; any other start tag ends an unclosed head.
fn is_head_element(name: &str) -> bool {
    matches!(
        name,
        "title" | "meta" | "link" | "style" | "script" | "base" | "noscript" | "template" | "xml"
    ) || name.contains(':')
}

fn render(html: &str, toks: &[Tok], removed: &[bool], internal: bool) -> Rendered {
    let mut r = Renderer {
        internal,
        out: String::with_capacity(html.len() / 2),
        nl_run: 0,
        line_has_content: false,
        pending_break: 0,
        pending_space: false,
        pending_prefix: None,
        pre_depth: 0,
        lists: Vec::new(),
        links: Vec::new(),
        quotes: Vec::new(),
        quote_depth: 0,
        p_level: 2,
        cur_tok: 0,
        line_first: None,
        line_last: None,
        line_toks: Vec::new(),
    };
    // Skipped elements: name and nesting depth.
    let mut skip: Option<(String, usize)> = None;
    let mut in_head = false;
    let mut i = 0;
    let n = toks.len();
    while i < n {
        let t = &toks[i];
        r.cur_tok = i;
        if removed.get(i).copied().unwrap_or(false) {
            // A removed range: in internal mode it shows as one quote marker line.
            let mut j = i;
            while j < n && removed.get(j).copied().unwrap_or(false) {
                j += 1;
            }
            if internal {
                r.request_break(2);
                let saved_prefix = r.pending_prefix.take();
                r.emit_char('>');
                r.pending_prefix = saved_prefix;
                r.request_break(2);
            }
            i = j;
            continue;
        }
        i += 1;
        if let Some((name, depth)) = skip.as_mut() {
            if t.kind == TokKind::Start && t.name == *name && !t.is_void() {
                *depth += 1;
            } else if t.kind == TokKind::End && t.name == *name {
                *depth -= 1;
                if *depth == 0 {
                    skip = None;
                }
            }
            continue;
        }
        match t.kind {
            TokKind::Other | TokKind::RawText => {}
            TokKind::Text => {
                if in_head {
                    continue;
                }
                let raw = html.get(t.start..t.end).unwrap_or("");
                r.text(raw);
            }
            TokKind::Start => {
                let name = t.name.as_str();
                if in_head {
                    if name == "body" || !is_head_element(name) {
                        in_head = false;
                    } else if is_skipped_element(name) && !t.is_void() {
                        skip = Some((name.to_string(), 1));
                        continue;
                    } else {
                        continue;
                    }
                }
                if name == "head" && !t.is_void() {
                    in_head = true;
                    continue;
                }
                if is_skipped_element(name) {
                    if !t.is_void() {
                        skip = Some((name.to_string(), 1));
                    }
                    continue;
                }
                start_tag(&mut r, t);
            }
            TokKind::End => {
                let name = t.name.as_str();
                if name == "head" {
                    in_head = false;
                    continue;
                }
                if in_head {
                    continue;
                }
                end_tag(&mut r, name);
            }
        }
    }
    while !r.links.is_empty() {
        r.close_link();
    }
    // Finish the last line.
    let entry = match (r.line_first, r.line_last) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    };
    r.line_toks.push(entry);
    Rendered {
        text: r.out,
        line_toks: r.line_toks,
    }
}

fn start_tag(r: &mut Renderer, t: &Tok) {
    let name = t.name.as_str();
    match name {
        "br" => {
            r.line_break();
            return;
        }
        "a" => {
            r.open_link(t.attr("href").unwrap_or(""));
            return;
        }
        "td" | "th" => {
            r.space();
            return;
        }
        "ul" | "ol" => {
            let level = if r.lists.is_empty() { 2 } else { 1 };
            r.request_break(level);
            let start = t
                .attr("start")
                .and_then(|s| s.trim().parse::<u64>().ok())
                .unwrap_or(1);
            r.lists.push((name == "ol", start));
            return;
        }
        "li" => {
            r.request_break(1);
            let depth = r.lists.len().clamp(1, 8);
            let indent = "  ".repeat(depth - 1);
            let marker = match r.lists.last_mut() {
                Some((true, num)) => {
                    let m = format!("{num}. ");
                    *num = num.saturating_add(1);
                    m
                }
                _ => "- ".to_string(),
            };
            r.pending_prefix = Some(format!("{indent}{marker}"));
            return;
        }
        "pre" => r.pre_depth += 1,
        "p" => {
            let style = compact_style(t);
            let tight = has_class(t, |c| c.starts_with("msonormal"))
                || style.contains("margin:0;")
                || style.ends_with("margin:0")
                || style.contains("margin:0px")
                || style.contains("margin:0cm")
                || style.contains("margin:0in")
                || style.contains("margin:0pt");
            r.p_level = if tight { 1 } else { 2 };
            r.request_break(r.p_level);
            return;
        }
        "hr" if r.internal => {
            // Visible to the line classifier as a separator line.
            r.request_break(1);
            for _ in 0..5 {
                r.emit_char('-');
            }
            r.request_break(1);
            return;
        }
        "blockquote" => {
            let style = compact_style(t);
            let is_quote = !(style.contains("border:none") || style.contains("border:0"));
            r.quotes.push(is_quote);
            if is_quote {
                r.quote_depth += 1;
            }
        }
        "img" | "input" | "select" | "button" => {}
        _ => {}
    }
    if let Some(level) = block_level(name) {
        r.request_break(level);
    }
}

fn end_tag(r: &mut Renderer, name: &str) {
    match name {
        "a" => {
            r.close_link();
            return;
        }
        "td" | "th" => {
            r.space();
            return;
        }
        "ul" | "ol" => {
            r.lists.pop();
            let level = if r.lists.is_empty() { 2 } else { 1 };
            r.request_break(level);
            r.pending_prefix = None;
            return;
        }
        "li" => {
            r.request_break(1);
            r.pending_prefix = None;
            return;
        }
        "pre" => r.pre_depth = r.pre_depth.saturating_sub(1),
        "blockquote" => {
            let was_quote = usize::from(r.quotes.pop() == Some(true));
            r.quote_depth = r.quote_depth.saturating_sub(was_quote);
        }
        "br" => {
            // "</br>" is treated as <br> by browsers.
            r.line_break();
            return;
        }
        "p" => {
            r.request_break(r.p_level);
            return;
        }
        _ => {}
    }
    if let Some(level) = block_level(name) {
        r.request_break(level);
    }
}

#[cfg(test)]
mod tests;
