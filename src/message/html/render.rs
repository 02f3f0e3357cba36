//! Rendering HTML as text, the way a browser lays it out: blocks and `<br>` as line
//! breaks, whitespace collapsed, lists as "- item" / "1. item", links as "text (url)".
//!
//! It renders for two readers ([`Rendering`]): people (the text the store keeps) and the
//! plain-text line classifier, which must see quotes and separators as the `>` lines and
//! dashed lines it knows. For the latter, it also records which tokens produced each
//! output line, so that a line classified as history can be cut from the HTML.

use super::entities::decode_entities;
use super::quotes::{compact_style, has_class};
use super::tokenizer::{Tok, TokKind};

/// Who the rendered text is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rendering {
    /// Readable text for people: `html_to_text`.
    Readable,
    /// Text for the plain-text line classifier (the text pass of `strip_quotes`): lines
    /// inside a quoting `<blockquote>` start with `>`, `<hr>` is a line of dashes, and
    /// each run of removed tokens shows as one `>` line.
    ForClassifier,
    /// Readable text whose lines inside a quoting `<blockquote>` start with `> ` per
    /// level: the reply text, where a quote kept as context must read as one.
    Quoted,
}

pub(super) struct Rendered {
    pub(super) text: String,
    /// For each output line, the first and last token that produced content on it.
    pub(super) line_toks: Vec<Option<(usize, usize)>>,
}

struct Link {
    out_pos: usize,
    href: String,
}

struct Renderer {
    rendering: Rendering,
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
    /// Blockquote stack: true when it counts as a quote (a `>` prefix when rendering for the classifier).
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
            if self.rendering == Rendering::ForClassifier && self.quote_depth > 0 {
                // The classifier only needs to see that the line is quoted.
                for _ in 0..self.quote_depth.min(3) {
                    self.out.push('>');
                }
                self.out.push(' ');
            } else if self.rendering == Rendering::Quoted && self.quote_depth > 0 {
                for _ in 0..self.quote_depth.min(8) {
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

pub(super) fn render(html: &str, toks: &[Tok], removed: &[bool], rendering: Rendering) -> Rendered {
    let mut r = Renderer {
        rendering,
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
            // A removed range: for the classifier it shows as one quote marker line.
            let mut j = i;
            while j < n && removed.get(j).copied().unwrap_or(false) {
                j += 1;
            }
            if rendering == Rendering::ForClassifier {
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
        "hr" if r.rendering == Rendering::ForClassifier => {
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
