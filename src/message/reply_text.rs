//! Separating what a customer wrote *now* from quoted history, signatures and
//! forwarded messages in a plain-text email body.
//!
//! The algorithm works line by line with bounded look-around, so it runs in linear
//! time whatever the input (no backtracking patterns). Outline:
//!
//! 1. Lines are normalized (any line ending, trailing whitespace trimmed) and each gets a
//!    lowercased, whitespace-collapsed "key" for pattern checks. Very long lines are never
//!    analysed beyond the quote-marker check, nor is unquoted text beyond the first 64 KiB
//!    (except the last few lines): a pasted 1 MiB log costs what 64 KiB cost, and text past
//!    that budget stays in the reply as written.
//! 2. The first *tail marker* is searched: a `-- ` signature delimiter, a mobile
//!    signature ("Sent from my iPhone", "Von meinem iPhone gesendet", "iPhoneから送信" …),
//!    an underscore separator followed by a header block or a short footer, an
//!    "Original Message" / forward marker, an Outlook header block
//!    (`From:`/`Sent:`/`To:`/`Subject:` in many languages) or an attribution line
//!    ("On … wrote:") that is *not* followed by `>` quoted lines. Everything from there on
//!    is history (decoration lines right above it belong to it too).
//! 3. Above the tail, every run of `>` lines is a quoted block (a broken link or word
//!    wrapped out of the quote counts as part of it); the attribution line(s) right above a
//!    block (also when wrapped over up to three lines) go with it. Text between blocks
//!    stays in the reply (inline / bottom-posted answers); a blank line before a removed
//!    block is kept, the ones after it are dropped.
//! 4. A trailing short "Sent with &lt;App&gt;" line and a dash sign-off (`-John`) at the end of
//!    the reply are moved out too.
//! 5. If nothing is left, the whole text is the reply.
//!
//! Judgement call: the attribution line of a quoted block always travels with the block,
//! also when customer text follows it (bottom posting), as talon does.

/// Result of splitting a plain-text email body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Split {
    pub reply: String,
    pub quoted: String,
}

/// Split a plain-text body (any line endings) into the customer's new text and everything removed.
pub fn split_plain(body: &str) -> Split {
    let body = body.strip_prefix('\u{FEFF}').unwrap_or(body);
    let lines = split_lines(body);
    let roles = line_roles(&lines);
    build(&lines, &roles)
}

/// What a line is, once classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineRole {
    /// Written by the customer now.
    Reply,
    /// Empty (or whitespace only).
    Blank,
    /// Quoted history, attribution, header block, signature or forwarded content.
    Removed,
}

/// Classify already split lines (no line terminators inside). Used by the HTML side too.
pub(crate) fn line_roles(lines: &[&str]) -> Vec<LineRole> {
    // Pattern checks cost per line; a huge body (a pasted log, a 1 MiB text) is analysed in
    // its first ANALYZE_BUDGET bytes of unquoted text and its last SIGNATURE_LINES lines.
    // Text beyond that stays in the reply as written: nothing is lost, and a customer's own
    // text long enough to hit the budget is far longer than any reply above a quote.
    let tail_from = lines.len().saturating_sub(SIGNATURE_LINES);
    let mut budget = ANALYZE_BUDGET;
    let infos: Vec<LineInfo> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let analyze = budget > 0 || i >= tail_from;
            let info = LineInfo::new(l, analyze);
            if info.kind == Kind::Text {
                budget = budget.saturating_sub(info.raw.len() + 1);
            }
            info
        })
        .collect();
    classify(&infos)
}

/// True when `line` starts like an e-mail header field of a quoted message
/// (`From:`, `Von:`, `*De :*`, `发件人：` …).
pub(crate) fn is_header_field_line(line: &str) -> bool {
    let (key, _) = make_key(line);
    header_label(&key).is_some()
}

// ---------------------------------------------------------------------------------------
// Line model
// ---------------------------------------------------------------------------------------

/// Lines longer than this (in bytes) are never matched against patterns.
const MAX_ANALYZE: usize = 1000;
/// The key keeps at most this many characters.
const MAX_KEY_CHARS: usize = 400;
/// Bytes of unquoted text lines, from the top, that are matched against patterns.
const ANALYZE_BUDGET: usize = 64 * 1024;
/// Lines at the very end that are always analysed (a trailing "Sent from my iPhone").
const SIGNATURE_LINES: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Blank,
    Quoted,
    Text,
}

struct LineInfo<'a> {
    raw: &'a str,
    kind: Kind,
    /// Header field kind the line starts with (`From:` …), if any.
    label: Option<u8>,
    /// Lowercased, invisible characters removed, whitespace collapsed, trimmed.
    key: String,
    /// The line is too long, or beyond the analysis budget; no pattern matches it.
    long: bool,
}

impl<'a> LineInfo<'a> {
    fn new(line: &'a str, analyze: bool) -> Self {
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
        let key = if kind == Kind::Text && !long {
            make_key(raw).0
        } else {
            String::new()
        };
        let label = if key.is_empty() {
            None
        } else {
            header_label(&key)
        };
        LineInfo {
            raw,
            kind,
            label,
            key,
            long,
        }
    }

    fn text(&self) -> bool {
        self.kind == Kind::Text && !self.long
    }
}

fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}'
    )
}

/// Lowercase, drop invisible characters, collapse whitespace, trim. Returns the key and
/// whether it was truncated (at [`MAX_KEY_CHARS`] characters, counting the spaces kept).
///
/// Runs once per text line of every message, so a run of ASCII that is not whitespace
/// (most of any line) is lowercased and copied in one go; other characters go through
/// `char`'s Unicode rules one at a time.
fn make_key(s: &str) -> (String, bool) {
    let bytes = s.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len().min(MAX_KEY_CHARS * 2));
    let mut count = 0usize;
    let mut space = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if is_ascii_space(b) {
            space = !out.is_empty();
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
                space = !out.is_empty();
                i += c.len_utf8();
                continue;
            }
            c
        };
        if count >= MAX_KEY_CHARS {
            return (key_string(out), true);
        }
        if space {
            out.push(b' ');
            count += 1;
            space = false;
        }
        if c.is_ascii() {
            // This byte and the ASCII non-space bytes after it, as far as the limit allows
            // (the first one is always kept: the limit was checked before its space).
            let run = bytes[i..]
                .iter()
                .position(|&b| !b.is_ascii() || is_ascii_space(b))
                .unwrap_or(bytes.len() - i);
            let take = run.min(1 + MAX_KEY_CHARS.saturating_sub(count + 1));
            out.extend(bytes[i..i + take].iter().map(u8::to_ascii_lowercase));
            count += take;
            if take < run {
                return (key_string(out), true);
            }
            i += run;
        } else {
            let mut buf = [0u8; 4];
            for l in c.to_lowercase() {
                out.extend_from_slice(l.encode_utf8(&mut buf).as_bytes());
            }
            count += 1;
            i += c.len_utf8();
        }
    }
    (key_string(out), false)
}

/// What `char::is_whitespace` says of an ASCII byte (note the vertical tab).
fn is_ascii_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0B' | b'\x0C' | b'\r')
}

/// `make_key`'s bytes are ASCII and whole UTF-8 encodings of `char`s, so this never
/// replaces anything; it just avoids an `unsafe` conversion.
fn key_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Split on CRLF, CR or LF.
fn split_lines(body: &str) -> Vec<&str> {
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

// ---------------------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------------------

fn next_nonblank(infos: &[LineInfo], from: usize) -> Option<usize> {
    (from..infos.len()).find(|&j| infos[j].kind != Kind::Blank)
}

fn classify(infos: &[LineInfo]) -> Vec<LineRole> {
    let n = infos.len();
    let mut removed = vec![false; n];
    let kinds = effective_kinds(infos);

    // 1. The first tail marker.
    let mut tail = n;
    for i in 0..n {
        let info = &infos[i];
        if !info.text() {
            continue;
        }
        if kinds[i] != Kind::Text {
            continue;
        }
        if is_sig_delimiter(info.raw)
            || (is_underscore_rule(&info.key) && history_follows_rule(infos, i))
            || is_original_marker(&info.key)
            || is_mobile_signature(&info.key, false)
            || is_header_block(infos, i)
        {
            tail = i;
            break;
        }
        if may_end_attribution(&info.key) {
            if let Some(start) = attribution_group(infos, i, &removed, Strength::Strong) {
                let followed_by_quote =
                    next_nonblank(infos, i + 1).is_some_and(|j| kinds[j] == Kind::Quoted);
                if !followed_by_quote {
                    tail = start;
                    break;
                }
            }
        }
    }
    // Decoration lines (dashes, underscores …) and blanks right above the tail belong to it.
    if tail < n {
        while tail > 0 {
            let prev = &infos[tail - 1];
            if prev.kind == Kind::Blank || (prev.text() && is_decoration(&prev.key)) {
                tail -= 1;
            } else {
                break;
            }
        }
        for r in removed.iter_mut().skip(tail) {
            *r = true;
        }
    }

    // 2. Quoted blocks above the tail, with their attribution lines.
    let mut i = 0;
    while i < tail {
        if kinds[i] != Kind::Quoted {
            i += 1;
            continue;
        }
        let start = i;
        let mut last = i;
        let mut j = i + 1;
        while j < tail && kinds[j] != Kind::Text {
            if kinds[j] == Kind::Quoted {
                last = j;
            }
            j += 1;
        }
        for r in removed.iter_mut().take(last + 1).skip(start) {
            *r = true;
        }
        // Attribution: the nearest non-blank line above the block.
        let mut p = start;
        while p > 0 && infos[p - 1].kind == Kind::Blank {
            p -= 1;
        }
        if p > 0 {
            let p = p - 1;
            if infos[p].text() && kinds[p] == Kind::Text && !removed[p] {
                if let Some(a) = attribution_group(infos, p, &removed, Strength::Weak) {
                    for r in removed.iter_mut().take(p + 1).skip(a) {
                        *r = true;
                    }
                }
            }
        }
        i = last + 1;
    }

    // 3. Signatures at the end of the reply: mobile "Sent from …" lines and dash sign-offs.
    let mut k = tail;
    while k > 0 {
        let idx = k - 1;
        let info = &infos[idx];
        if kinds[idx] != Kind::Text || removed[idx] {
            k -= 1;
            continue;
        }
        if !info.long && is_mobile_signature(&info.key, true) {
            removed[idx] = true;
            k -= 1;
            continue;
        }
        if !info.long && is_signoff(info.raw) && idx > 0 && infos[idx - 1].kind == Kind::Blank {
            removed[idx] = true;
            k -= 1;
            continue;
        }
        break;
    }

    kinds
        .iter()
        .zip(removed.iter())
        .map(|(kind, &r)| {
            if *kind == Kind::Blank {
                LineRole::Blank
            } else if r {
                LineRole::Removed
            } else {
                LineRole::Reply
            }
        })
        .collect()
}

/// Line kinds after two corrections: a text line wedged between quoted lines that is
/// clearly the wrapped tail of the line above (a broken link, a word cut by a hard wrap)
/// counts as quoted; a lone `>>…` line between text lines (ASCII-art arrows, not a
/// quote) counts as text.
fn effective_kinds(infos: &[LineInfo]) -> Vec<Kind> {
    let n = infos.len();
    let mut kinds: Vec<Kind> = infos.iter().map(|i| i.kind).collect();
    for i in 1..n.saturating_sub(1) {
        let (prev, cur, next) = (&infos[i - 1], &infos[i], &infos[i + 1]);
        if cur.kind == Kind::Text
            && prev.kind == Kind::Quoted
            && next.kind == Kind::Quoted
            && !cur.long
            && !prev.long
            && is_quote_continuation(prev.raw, cur.raw)
        {
            kinds[i] = Kind::Quoted;
        }
        if cur.kind == Kind::Quoted
            && prev.kind == Kind::Text
            && next.kind == Kind::Text
            && cur.raw.trim_start().starts_with(">>")
        {
            kinds[i] = Kind::Text;
        }
    }
    kinds
}

fn is_quote_continuation(prev_quoted: &str, text: &str) -> bool {
    let content = prev_quoted.trim_start_matches(|c: char| c == '>' || c.is_whitespace());
    let count = |s: &str, c: char| s.chars().filter(|x| *x == c).count();
    if count(content, '(') > count(content, ')') || count(content, '<') > count(content, '>') {
        return true;
    }
    let t = text.trim();
    let link_like = (t.starts_with('(') || t.starts_with('<') || t.starts_with("http"))
        && t.contains("://")
        && t.split_whitespace().count() <= 2;
    if link_like {
        return true;
    }
    content.chars().count() >= 60 && t.chars().next().is_some_and(|c| c.is_lowercase())
}

fn build(lines: &[&str], roles: &[LineRole]) -> Split {
    let trimmed: Vec<&str> = lines.iter().map(|l| l.trim_end()).collect();
    if !roles.contains(&LineRole::Reply) {
        return Split {
            reply: join_trimmed(&trimmed),
            quoted: String::new(),
        };
    }

    // Reply: drop removed lines; blank runs around a removed region collapse to one.
    let mut out: Vec<&str> = Vec::new();
    let mut in_gap = false;
    let mut gap_blank = false;
    for (line, role) in trimmed.iter().zip(roles.iter()) {
        match role {
            LineRole::Removed => {
                if !in_gap {
                    in_gap = true;
                    gap_blank = false;
                    while out.last().is_some_and(|l| l.is_empty()) {
                        out.pop();
                        gap_blank = true;
                    }
                }
            }
            LineRole::Blank => {
                // Blank lines after a removed region are dropped; the ones before it
                // (at most one) are kept.
                if !in_gap {
                    out.push("");
                }
            }
            LineRole::Reply => {
                if in_gap {
                    if gap_blank && !out.is_empty() {
                        out.push("");
                    }
                    in_gap = false;
                }
                out.push(line);
            }
        }
    }

    // Quoted: removed lines, with blank lines kept only between removed lines.
    let mut quoted: Vec<&str> = Vec::new();
    let mut pending_blanks = 0usize;
    let mut last_was_removed = false;
    for (line, role) in trimmed.iter().zip(roles.iter()) {
        match role {
            LineRole::Removed => {
                if (last_was_removed || !quoted.is_empty()) && pending_blanks > 0 {
                    quoted.push("");
                }
                pending_blanks = 0;
                quoted.push(line);
                last_was_removed = true;
            }
            LineRole::Blank => {
                if last_was_removed {
                    pending_blanks += 1;
                }
            }
            LineRole::Reply => {
                pending_blanks = 0;
                if last_was_removed {
                    // Separate non-adjacent removed regions by a blank line.
                    pending_blanks = 1;
                }
                last_was_removed = false;
            }
        }
    }

    Split {
        reply: join_trimmed(&out),
        quoted: join_trimmed(&quoted),
    }
}

/// Join lines with LF, dropping leading and trailing blank lines.
fn join_trimmed(lines: &[&str]) -> String {
    let first = lines.iter().position(|l| !l.trim().is_empty());
    let last = lines.iter().rposition(|l| !l.trim().is_empty());
    match (first, last) {
        (Some(f), Some(l)) => lines[f..=l].join("\n"),
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------------------
// Separators and signatures
// ---------------------------------------------------------------------------------------

/// `-- ` / `--` alone on a line.
fn is_sig_delimiter(raw: &str) -> bool {
    raw.trim_end() == "--"
}

/// A line of underscores, as Outlook puts before a header block and mailing lists put
/// before their footer.
fn is_underscore_rule(key: &str) -> bool {
    let mut count = 0;
    for c in key.chars() {
        match c {
            '_' => count += 1,
            ' ' => {}
            _ => return false,
        }
    }
    count >= 6
}

/// After an underscore line: a header block, or a short footer with an address or a
/// link (mailing lists). A long text after it is the customer's own section break.
fn history_follows_rule(infos: &[LineInfo], i: usize) -> bool {
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
        '-' | '_' | '=' | '*' | '~' | '–' | '—' | '─' | '━' | '#' | '+' | '.'
    )
}

/// A line made only of separator characters.
fn is_decoration(key: &str) -> bool {
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

/// Stems that name an original / forwarded message in separator lines.
const MESSAGE_STEMS: &[&str] = &[
    "original",
    "message",
    "reply",
    "antwort",
    "besked",
    "forward",
    "fwd",
    "ursprüngliche",
    "ursprungliche",
    "weitergeleitet",
    "nachricht",
    "d'origine",
    "d’origine",
    "transféré",
    "transfere",
    "réexpédié",
    "mensaje",
    "reenviad",
    "messaggio",
    "inoltrat",
    "mensagem",
    "encaminhad",
    "oorspronkelijk",
    "origineel",
    "doorgestuurd",
    "bericht",
    "ursprungligt",
    "vidarebefordra",
    "meddelande",
    "oprindelig",
    "opprinnelig",
    "videresendt",
    "meddelelse",
    "melding",
    "oryginaln",
    "przekazan",
    "wiadomość",
    "wiadomosc",
    "исходное",
    "пересыла",
    "переслан",
    "переадрес",
    "перенаправ",
    "оригинал",
    "сообщение",
    "原始",
    "转发",
    "轉寄",
    "轉發",
    "転送",
    "元のメッセージ",
    "オリジナル",
    "alkuperäinen",
    "välitetty",
    "özgün",
    "orijinal",
    "iletilen",
    "původní",
    "přeposlan",
    "eredeti",
    "továbbított",
    "αρχικό",
    "προωθ",
    "원본",
    "전달",
];

/// Stems that say "forwarded" (used for the undecorated "Begin forwarded message:" form).
const FORWARD_STEMS: &[&str] = &[
    "forwarded",
    "weitergeleitet",
    "réexpédié",
    "transféré",
    "transmis",
    "reenviado",
    "inoltrato",
    "reencaminhada",
    "encaminhada",
    "doorgestuurd",
    "vidarebefordra",
    "videresendt",
    "przekazywanej",
    "przekazana",
    "переадресованного",
    "пересылаемое",
    "пересланное",
    "转发",
    "轉寄",
    "転送",
    "välitetty",
    "iletilen",
    "přeposlan",
    "továbbított",
    "original message",
];

/// "-----Original Message-----", "---------- Forwarded message ---------",
/// "Begin forwarded message:", "-------- Message d'origine --------" …
fn is_original_marker(key: &str) -> bool {
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
    if decorated {
        let starts_forwarded_by =
            core.starts_with("forwarded by") || core.starts_with("weitergeleitet von");
        return (words <= 6 && MESSAGE_STEMS.iter().any(|s| core.contains(s)))
            || starts_forwarded_by;
    }
    // Undecorated: "Begin forwarded message:" and its translations.
    let colon = key.ends_with(':') || key.ends_with('：');
    colon && words <= 7 && FORWARD_STEMS.iter().any(|s| core.contains(s)) && {
        const MSG: &[&str] = &[
            "message",
            "nachricht",
            "mensaje",
            "messaggio",
            "mensagem",
            "bericht",
            "meddelande",
            "mejl",
            "melding",
            "meddelelse",
            "wiadomo",
            "сообщени",
            "邮件",
            "郵件",
            "メッセージ",
            "viesti",
            "ileti",
            "zpráv",
            "üzenet",
            "mail",
        ];
        MSG.iter().any(|m| core.contains(m))
    }
}

/// Phrases a mobile/app signature starts with.
const SENT_PREFIXES: &[&str] = &[
    "sent from",
    "sent via",
    "sent with",
    "sent using",
    "sent by",
    "sent on my",
    "get outlook",
    "download outlook",
    "envoyé de",
    "envoyé depuis",
    "envoyé à partir",
    "envoyé avec",
    "envoyé via",
    "envoye de",
    "envoye depuis",
    "obtenir outlook",
    "télécharger outlook",
    "enviado desde",
    "enviado con",
    "enviado a través",
    "enviado do",
    "enviado de",
    "enviado pelo",
    "enviado a partir",
    "enviado via",
    "enviado com",
    "obtener outlook",
    "obtenha o outlook",
    "obter o outlook",
    "von meinem",
    "von meiner",
    "gesendet von",
    "gesendet mit",
    "gesendet vom",
    "gesendet über",
    "outlook für",
    "inviato da",
    "inviato dal",
    "inviato con",
    "inviato tramite",
    "scarica outlook",
    "verzonden vanaf",
    "verzonden met",
    "verzonden van",
    "verstuurd vanaf",
    "verstuurd met",
    "verstuurd van",
    "skickat från",
    "skickades från",
    "skickat med",
    "sendt fra",
    "wysłane z",
    "wysłano z",
    "wysłane ze",
    "wysłane przy",
    "отправлено с",
    "отправлено из",
    "отправлено через",
    "отправлено со",
    "надіслано з",
    "відправлено з",
    "odesláno z",
    "lähetetty",
    "发自",
    "寄自",
    "从我的",
    "從我的",
    "来自我的",
    "來自我的",
    "στάλθηκε από",
    "trimis de pe",
    "trimis din",
    "enviat des de",
    "enviat des del",
    "enviat amb",
    "dikirim dari",
    "dihantar dari",
    "được gửi từ",
    "gửi từ",
    "נשלח מ",
    "أرسلت من",
    "مرسل من",
    "odoslané z",
    "poslano s",
    "poslano sa",
    "poslano iz",
    "poslato sa",
    "изпратено от",
    "saadetud",
    "nosūtīts no",
    "išsiųsta iš",
    "sendt från",
    "outlook voor",
    "hämta outlook",
    "pobierz outlook",
    "pobierz aplikację outlook",
    "получить outlook",
    "скачать outlook",
    "获取 outlook",
    "獲取 outlook",
    "baixe o outlook",
    "descargar outlook",
];

/// Phrases a mobile signature ends with (languages where the verb comes last).
/// The first bytes of [`SENT_PREFIXES`].
const SENT_PREFIX_FIRST_BYTES: [bool; 256] = {
    let mut set = [false; 256];
    let mut i = 0;
    while i < SENT_PREFIXES.len() {
        let p = SENT_PREFIXES[i].as_bytes();
        // An empty prefix would match every line, and this filter would hide it.
        assert!(!p.is_empty(), "empty SENT_PREFIXES entry");
        set[p[0] as usize] = true;
        i += 1;
    }
    set
};

const SENT_SUFFIXES: &[&str] = &[
    "outlook を入手",
    "outlook 다운로드",
    "에서 전송",
    "से भेजा गया",
    "から送信",
    "から送信しました",
    "より送信",
    "에서 보냄",
    "에서 보냈습니다",
    "gesendet",
    "gönderildi",
    "küldve",
    "verstuurd",
    "verzonden",
    "lähetetty",
];

/// "my" forms: may name any device ("Sent from my Commodore").
const SENT_MY: &[&str] = &[
    "sent from my",
    "envoyé de mon",
    "envoyé depuis mon",
    "enviado desde mi",
    "enviado do meu",
    "enviado de meu",
    "enviado do seu",
    "von meinem",
    "inviato dal mio",
    "inviato da mio",
    "verzonden vanaf mijn",
    "verstuurd vanaf mijn",
    "skickat från min",
    "sendt fra min",
    "wysłane z mojego",
    "отправлено с моего",
    "发自我的",
    "从我的",
];

const DEVICE_WORDS: &[&str] = &[
    "iphone",
    "ipad",
    "ipod",
    "android",
    "samsung",
    "galaxy",
    "blackberry",
    "mobile",
    "móvil",
    "movil",
    "mobil",
    "celular",
    "cellulare",
    "telefon",
    "téléphone",
    "telephone",
    "phone",
    "handy",
    "smartphone",
    "tablet",
    "device",
    "appareil",
    "dispositivo",
    "apparaat",
    "outlook",
    "mail",
    "yahoo",
    "aol",
    "windows",
    "proton",
    "sparrow",
    "airmail",
    "spark",
    "bluemail",
    "huawei",
    "xiaomi",
    "pixel",
    "nokia",
    "motorola",
    "htc",
    "oneplus",
    "kindle",
    "surface",
    "verizon",
    "t-mobile",
    "at&t",
    "vodafone",
    "ios",
    "4g",
    "lte",
    "app",
    "5g",
    "wireless",
    "thunderbird",
    "手机",
    "手機",
    "携帯",
    "スマートフォン",
];

/// "Sent from my iPhone", "Von meinem iPhone gesendet", "iPhoneから送信", "Get Outlook for iOS" …
/// `loose` (used only at the very end of the reply) also accepts any short
/// "Sent from <App>" line without a known device or app word.
fn is_mobile_signature(key: &str, loose: bool) -> bool {
    if key.len() > 300 || key.chars().count() > 100 {
        return false;
    }
    let k = key.trim_end_matches(['.', '!', '。', ' ']);
    // Most lines start with a byte no prefix starts with: skip the hundred comparisons.
    let prefix = k
        .as_bytes()
        .first()
        .filter(|b| SENT_PREFIX_FIRST_BYTES[usize::from(**b)])
        .and_then(|_| SENT_PREFIXES.iter().find(|p| k.starts_with(*p)));
    let suffix = SENT_SUFFIXES.iter().any(|s| k.ends_with(s));
    if prefix.is_none() && !suffix {
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
        if !link_like && !DEVICE_WORDS.iter().any(|d| before.contains(d)) {
            return false;
        }
    }
    if DEVICE_WORDS.iter().any(|d| plain.contains(d)) {
        return true;
    }
    // "Sent from my <anything short>"
    if SENT_MY.iter().any(|m| {
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

/// A dash sign-off such as "-Abhishek Kona", "--John" or "-- Tim".
fn is_signoff(raw: &str) -> bool {
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

// ---------------------------------------------------------------------------------------
// Outlook-style header blocks
// ---------------------------------------------------------------------------------------

const H_FROM: u8 = 1;
const H_DATE: u8 = 2;
const H_TO: u8 = 4;
const H_CC: u8 = 8;
const H_SUBJECT: u8 = 16;

const HEADER_LABELS: &[(&str, u8)] = &[
    // From
    ("from", H_FROM),
    ("von", H_FROM),
    ("de", H_FROM),
    ("da", H_FROM),
    ("van", H_FROM),
    ("från", H_FROM),
    ("fra", H_FROM),
    ("od", H_FROM),
    ("от", H_FROM),
    ("від", H_FROM),
    ("发件人", H_FROM),
    ("寄件者", H_FROM),
    ("寄件人", H_FROM),
    ("發件人", H_FROM),
    ("差出人", H_FROM),
    ("送信者", H_FROM),
    ("lähettäjä", H_FROM),
    ("kimden", H_FROM),
    ("από", H_FROM),
    ("feladó", H_FROM),
    ("odesílatel", H_FROM),
    ("expéditeur", H_FROM),
    ("absender", H_FROM),
    ("remetente", H_FROM),
    ("보낸 사람", H_FROM),
    ("보낸사람", H_FROM),
    ("afzender", H_FROM),
    ("avsändare", H_FROM),
    ("nadawca", H_FROM),
    ("отправитель", H_FROM),
    ("de la", H_FROM),
    // Sent / Date
    ("sent", H_DATE),
    ("date", H_DATE),
    ("sent at", H_DATE),
    ("gesendet", H_DATE),
    ("datum", H_DATE),
    ("envoyé", H_DATE),
    ("envoye", H_DATE),
    ("date d'envoi", H_DATE),
    ("envoyé le", H_DATE),
    ("envoye le", H_DATE),
    ("sent on", H_DATE),
    ("gesendet am", H_DATE),
    ("dato", H_DATE),
    ("enviado", H_DATE),
    ("enviada", H_DATE),
    ("enviado el", H_DATE),
    ("fecha", H_DATE),
    ("inviato", H_DATE),
    ("data", H_DATE),
    ("verzonden", H_DATE),
    ("skickat", H_DATE),
    ("sendt", H_DATE),
    ("wysłano", H_DATE),
    ("wysłane", H_DATE),
    ("отправлено", H_DATE),
    ("дата", H_DATE),
    ("надіслано", H_DATE),
    ("发送时间", H_DATE),
    ("發送時間", H_DATE),
    ("时间", H_DATE),
    ("日期", H_DATE),
    ("送信日時", H_DATE),
    ("日付", H_DATE),
    ("lähetetty", H_DATE),
    ("päivämäärä", H_DATE),
    ("tarih", H_DATE),
    ("gönderildi", H_DATE),
    ("gönderilme", H_DATE),
    ("odesláno", H_DATE),
    ("elküldve", H_DATE),
    ("dátum", H_DATE),
    ("στάλθηκε", H_DATE),
    ("ημερομηνία", H_DATE),
    ("보낸 날짜", H_DATE),
    ("날짜", H_DATE),
    // To
    ("to", H_TO),
    ("an", H_TO),
    ("à", H_TO),
    ("a", H_TO),
    ("para", H_TO),
    ("aan", H_TO),
    ("till", H_TO),
    ("til", H_TO),
    ("do", H_TO),
    ("кому", H_TO),
    ("收件人", H_TO),
    ("收件者", H_TO),
    ("宛先", H_TO),
    ("vastaanottaja", H_TO),
    ("kime", H_TO),
    ("alıcı", H_TO),
    ("komu", H_TO),
    ("címzett", H_TO),
    ("προς", H_TO),
    ("до", H_TO),
    ("받는 사람", H_TO),
    ("받는사람", H_TO),
    ("destinataire", H_TO),
    ("empfänger", H_TO),
    // Cc
    ("cc", H_CC),
    ("bcc", H_CC),
    ("kopie", H_CC),
    ("копия", H_CC),
    ("抄送", H_CC),
    ("副本", H_CC),
    ("kopia", H_CC),
    ("kopio", H_CC),
    ("bilgi", H_CC),
    ("참조", H_CC),
    ("κοιν", H_CC),
    // Subject
    ("subject", H_SUBJECT),
    ("betreff", H_SUBJECT),
    ("objet", H_SUBJECT),
    ("asunto", H_SUBJECT),
    ("oggetto", H_SUBJECT),
    ("onderwerp", H_SUBJECT),
    ("ämne", H_SUBJECT),
    ("emne", H_SUBJECT),
    ("temat", H_SUBJECT),
    ("тема", H_SUBJECT),
    ("主题", H_SUBJECT),
    ("主旨", H_SUBJECT),
    ("主題", H_SUBJECT),
    ("件名", H_SUBJECT),
    ("aihe", H_SUBJECT),
    ("konu", H_SUBJECT),
    ("předmět", H_SUBJECT),
    ("tárgy", H_SUBJECT),
    ("θέμα", H_SUBJECT),
    ("assunto", H_SUBJECT),
    ("subiect", H_SUBJECT),
    ("제목", H_SUBJECT),
    ("sujet", H_SUBJECT),
];

fn lookup_label(label: &str) -> Option<u8> {
    HEADER_LABELS
        .iter()
        .find(|(l, _)| *l == label)
        .map(|(_, k)| *k)
}

/// The header field kind a line starts with (`From:`, `*Sent:*`, `De :`, `发件人：` …).
fn header_label(key: &str) -> Option<u8> {
    let s = key.trim_start_matches(['*', '_', ' ', '\u{3000}']);
    let mut end = None;
    for (count, (i, c)) in s.char_indices().enumerate() {
        if c == ':' || c == '：' {
            end = Some(i);
            break;
        }
        if count > 24 {
            return None;
        }
    }
    let label = s[..end?].trim_matches(['*', '_', ' ']);
    if label.is_empty() {
        return None;
    }
    lookup_label(label)
}

/// Header kinds named later in the same line ("From: x Sent: y To: z" flattened headers).
fn inline_labels(key: &str) -> u8 {
    let mut kinds = 0;
    for (pos, c) in key.char_indices() {
        if pos == 0 || (c != ':' && c != '：') {
            continue;
        }
        let before = key[..pos].trim_end_matches(['*', ' ']);
        // The label is the last one or two words before the colon.
        let mut words = before.rsplitn(3, ' ');
        let last = words.next().unwrap_or("");
        if let Some(k) = lookup_label(last.trim_start_matches('*')) {
            if last.chars().count() >= 3 {
                kinds |= k;
                continue;
            }
        }
        if let Some(prev) = words.next() {
            let two_start = before.len().saturating_sub(last.len() + prev.len() + 1);
            if let Some(k) = before
                .get(two_start..)
                .and_then(|l| lookup_label(l.trim_start_matches('*')))
            {
                kinds |= k;
            }
        }
    }
    kinds
}

/// An Outlook/Gmail style header block starting at line `i`.
fn is_header_block(infos: &[LineInfo], i: usize) -> bool {
    let Some(first) = infos[i].label else {
        return false;
    };
    let mut kinds = first;
    if first == H_FROM {
        kinds |= inline_labels(&infos[i].key);
    }
    let mut j = i + 1;
    let mut continuation = 0;
    let mut blanks = 0;
    let mut scanned = 0;
    while j < infos.len() && scanned < 16 {
        let info = &infos[j];
        match info.kind {
            Kind::Blank => {
                blanks += 1;
                if blanks > 1 {
                    break;
                }
            }
            Kind::Quoted => break,
            Kind::Text => {
                if info.long {
                    break;
                }
                if let Some(k) = info.label {
                    kinds |= k;
                    continuation = 0;
                    blanks = 0;
                } else {
                    if blanks > 0 {
                        break;
                    }
                    continuation += 1;
                    if continuation > 2 {
                        break;
                    }
                }
            }
        }
        j += 1;
        scanned += 1;
    }
    let count = kinds.count_ones();
    if kinds & H_FROM != 0 && count >= 3 {
        return true;
    }
    // Two fields, one of them a date, and nothing after the block.
    if count >= 2 && kinds & H_DATE != 0 && next_nonblank(infos, j).is_none() {
        return true;
    }
    if count >= 4 {
        return true;
    }
    // "From:" + one more field right under a separator line.
    if kinds & H_FROM != 0 && count >= 2 {
        let mut p = i;
        while p > 0 && infos[p - 1].kind == Kind::Blank {
            p -= 1;
        }
        if p > 0 {
            let prev = &infos[p - 1];
            return prev.text()
                && (is_decoration(&prev.key)
                    || is_underscore_rule(&prev.key)
                    || is_original_marker(&prev.key));
        }
    }
    false
}

// ---------------------------------------------------------------------------------------
// Attribution lines ("On … wrote:")
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Strength {
    None,
    /// Good enough right above a `>` block.
    Weak,
    /// An attribution anywhere.
    Strong,
}

fn ends_with_colon(key: &str) -> bool {
    key.ends_with(':') || key.ends_with('：')
}

/// The text before the final colon ends with one of these.
const END_VERBS: &[&str] = &[
    "wrote",
    "writes",
    "wrote the following",
    "schrieb",
    "geschrieben",
    "schreibt",
    "a écrit",
    "a ecrit",
    "écrit",
    "escribió",
    "escribio",
    "ha escrito",
    "escribe",
    "ha scritto",
    "scritto",
    "scrive",
    "escreveu",
    "escreve",
    "schreef",
    "geschreven",
    "sent",
    "skrev",
    "skriver",
    "skrev følgende",
    "pisze",
    "napisał",
    "napisała",
    "napisał(a)",
    "napisal",
    "napisal(a)",
    "пишет",
    "написал",
    "написала",
    "написал(а)",
    "пише",
    "написав",
    "написав(ла)",
    "napsal",
    "napsala",
    "napsal(a)",
    "kirjoitti",
    "yazdı",
    "írta",
    "έγραψε",
    "a scris",
    "va escriure",
    "写道",
    "寫道",
    "写到",
    "書きました",
    "のメッセージ",
    "작성",
];

/// Verbs that may sit in the middle: "Am … schrieb Name <mail>:".
const MID_VERBS: &[&str] = &[
    "wrote",
    "schrieb",
    "skrev",
    "schreef",
    "a écrit",
    "escribió",
    "ha scritto",
    "escreveu",
    "pisze",
    "napisał",
    "пишет",
    "написал",
    "kirjoitti",
    "napsal",
    "írta",
    "ezt írta",
    "كتب",
    "כתב",
];

/// Words an attribution line typically starts with.
const START_WORDS: &[&str] = &[
    "on",
    "am",
    "le",
    "el",
    "il",
    "em",
    "op",
    "den",
    "på",
    "w",
    "dnia",
    "dne",
    "в",
    "у",
    "在",
    "于",
    "in",
    "quoting",
    "zitat",
    "citando",
    "citation",
    "cytując",
    "mon",
    "monday",
    "tue",
    "tues",
    "tuesday",
    "wed",
    "wednesday",
    "thu",
    "thur",
    "thurs",
    "thursday",
    "fri",
    "friday",
    "sat",
    "saturday",
    "sun",
    "sunday",
    "lun",
    "mar",
    "mer",
    "jeu",
    "ven",
    "sam",
    "dim",
    "mié",
    "jue",
    "vie",
    "sáb",
    "dom",
    "mo",
    "di",
    "mi",
    "do",
    "fr",
    "sa",
    "so",
    "seg",
    "ter",
    "qua",
    "qui",
    "sex",
    "ma",
    "wo",
    "vr",
    "za",
    "zo",
    "mån",
    "tis",
    "ons",
    "tor",
    "fre",
    "lör",
    "sön",
    "pon",
    "wt",
    "śr",
    "czw",
    "pt",
    "sob",
    "niedz",
    "ti",
    "ke",
    "to",
    "pe",
    "la",
    "su",
    "пн",
    "вт",
    "ср",
    "чт",
    "пт",
    "сб",
    "вс",
    "στις",
    "في",
    "בתאריך",
    "el día",
];

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
    START_WORDS.contains(&word.as_str())
}

fn has_email(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        c == b'@'
            && i > 0
            && i + 1 < b.len()
            && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] >= 0x80 || b".-_+".contains(&b[i - 1]))
            && (b[i + 1].is_ascii_alphanumeric() || b[i + 1] >= 0x80)
    })
}

fn has_date(s: &str) -> bool {
    let b = s.as_bytes();
    let n = b.len();
    let mut i = 0;
    while i < n {
        if !b[i].is_ascii_digit() {
            i += 1;
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
    s.contains('年') || s.contains('月') || s.contains('日') || s.contains('년')
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
fn may_end_attribution(key: &str) -> bool {
    ends_with_colon(key)
        || key.ends_with('>')
        // Without a colon only "… <address> wrote" qualifies.
        || (key.contains('@') && END_VERBS.iter().any(|v| ends_with_word(key, v)))
}

fn attribution_strength(text: &str) -> Strength {
    if text.chars().count() > 400 {
        return Strength::None;
    }
    let colon = ends_with_colon(text);
    let body = text
        .trim_end_matches([':', '：'])
        .trim_end_matches([' ', '*']);
    let verb_end = END_VERBS.iter().any(|v| ends_with_word(body, v));
    let verb_mid = MID_VERBS.iter().any(|v| {
        body.match_indices(v).any(|(i, _)| {
            let before_ok = i == 0 || body[..i].ends_with([' ', '>', ')']);
            let after = &body[i + v.len()..];
            before_ok && (after.is_empty() || after.starts_with(' '))
        })
    });
    let start_like = starts_like_attribution(text);
    let date = has_date(body);
    let email = has_email(body);
    if !colon {
        // "On Wed, 14 Nov 2018 08:14:43 -0200 John Doe <john@doe.com> wrote"
        if verb_end && start_like && date && email {
            return Strength::Strong;
        }
        // "2011/4/7 Nathan <support@example.com>" right above a quote.
        if date && email && body.ends_with('>') {
            return Strength::Weak;
        }
        return Strength::None;
    }
    let quoting = [
        "quoting ",
        "zitat von ",
        "citando ",
        "cytując ",
        "citation de ",
    ]
    .iter()
    .any(|q| text.starts_with(q));
    // Name and address last, as Gmail writes it in languages without a verb:
    // "ср, 30 апр. 2025 г. в 15:19, John Doe <doe@example.com>:".
    let address_last = body.ends_with('>') || body.ends_with(')');
    if (verb_end && (date || email || start_like))
        || (verb_mid && ((start_like && (date || email)) || (date && email)))
        || (quoting && email)
        || (start_like && date && email && address_last)
    {
        return Strength::Strong;
    }
    if verb_end || verb_mid || email || (date && start_like) {
        return Strength::Weak;
    }
    Strength::None
}

/// An attribution made of 1–3 lines ending at line `end`; returns its first line.
fn attribution_group(
    infos: &[LineInfo],
    end: usize,
    removed: &[bool],
    min: Strength,
) -> Option<usize> {
    if !infos[end].text() || !may_end_attribution(&infos[end].key) {
        return None;
    }
    let mut candidates: Vec<usize> = Vec::new();
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
            info.key.clone()
        } else {
            format!("{} {}", info.key, joined)
        };
        if attribution_strength(&joined) >= min {
            candidates.push(idx);
        }
    }
    // Prefer the longest group that starts like an attribution ("On …", a date …).
    if let Some(&idx) = candidates
        .iter()
        .rev()
        .find(|&&idx| starts_like_attribution(&infos[idx].key))
    {
        return Some(idx);
    }
    // Else the longest group that is a whole paragraph and whose first line carries
    // attribution material itself (an address, a date or a verb).
    if let Some(&idx) = candidates.iter().rev().find(|&&idx| {
        let key = &infos[idx].key;
        let para_start = idx == 0 || infos[idx - 1].kind != Kind::Text;
        para_start && (has_email(key) || has_date(key) || MID_VERBS.iter().any(|v| key.contains(v)))
    }) {
        return Some(idx);
    }
    candidates.first().copied()
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[cfg(test)]
mod tests;
