//! Separating what a customer wrote *now* from quoted history, signatures and
//! forwarded messages in a plain-text email body.
//!
//! The algorithm works line by line with bounded look-around, so it runs in linear
//! time whatever the input (no backtracking patterns). Outline:
//!
//! 1. Lines are normalized (any line ending, trailing whitespace trimmed) and each gets a
//!    lowercased, whitespace-collapsed "key" for pattern checks, once. Very long lines are
//!    never analysed beyond the quote-marker check, nor is unquoted text beyond the first
//!    64 KiB (except the last few lines): a pasted 1 MiB log costs what 64 KiB cost, and
//!    text past that budget stays in the reply as written. A line of invisible characters
//!    only (zero-width spaces and joiners, U+FEFF, soft hyphens, Mailtrack's U+1427) is
//!    blank; a `>:` line that closes an address wrapped out of an attribution is text.
//! 2. The first *tail marker* is searched: a `-- ` signature delimiter, a mobile
//!    signature ("Sent from my iPhone", "Von meinem iPhone gesendet", "iPhoneから送信" …),
//!    an underscore separator followed by a header block or a short footer, an
//!    "Original Message" / forward marker, an Outlook header block
//!    (`From:`/`Sent:`/`To:`/`Subject:` in many languages) or an attribution line
//!    ("On … wrote:") that is *not* followed by `>` quoted lines. Everything from there on
//!    is history (decoration lines right above it belong to it too, and a decorated title
//!    such as `-------- Thư gốc --------` in any language). A *forward* with nothing above
//!    it is what the customer sends: its body is classified as the mail. A mobile
//!    signature on the first line does not end the search (iOS writes it above a forward
//!    with no note): it is the tail only if no history follows.
//! 3. Above the tail, every run of `>` lines is a quoted block (a broken link or word
//!    wrapped out of the quote counts as part of it); the attribution line(s) right above a
//!    block (also when wrapped over up to three lines) are removed wherever they stand.
//! 4. A trailing short "Sent with &lt;App&gt;" line and a dash sign-off (`-John`) at the end of
//!    the reply are moved out too.
//! 5. A quoted block followed by the customer's own text is the *context* of an inline or
//!    bottom-posted answer: it stays in the reply, as `>` lines (issue 24: an agent needs
//!    the question an answer answers). Only the trailing blocks are history — and a block
//!    with only a closing ("Regards, Roman") under it, when the customer wrote above it.
//! 6. No reply line left: if quoted history was recognised, the reply is empty and
//!    everything is in `quoted` ([`Split::no_new_text`]: a re-sent thread, spam built
//!    from quotes); if not (a signature at most), the whole text is the reply.
//!
//! What no rule may do is cut the customer's own words: a line that starts in lower case
//! under a text line continues a sentence and is never an attribution or a signature, and
//! an attribution needs company (a verb at its end, a typical start, a date with an
//! address) rather than one feature a sentence also has. `tests/reply_text_property.rs`
//! checks that over generated mails.
//!
//! Layout, one concern per file:
//!
//! * `lines.rs`: splitting the body into lines and the per-line model (key, kind, budget);
//! * `classify.rs`: the passes above, turning lines into `LineRole`s;
//! * `markers.rs`: separator lines and "Original Message" / forward markers;
//! * `signatures.rs`: `-- ` delimiters, mobile "Sent from …" lines, dash sign-offs,
//!   closings;
//! * `forwards.rs`: forwards with no note, and where the forwarded body starts;
//! * `header_blocks.rs`: Outlook-style `From:`/`Sent:`/`To:` blocks of a quoted message;
//! * `attributions.rs`: "On … wrote:" lines and their wrapped forms;
//! * `lexicon.rs`: the words of every language those rules look for, as data files.
//!
//! This file holds the entry points and the assembly of the result from the roles.

mod attributions;
mod classify;
mod forwards;
mod header_blocks;
mod lexicon;
mod lines;
mod markers;
mod signatures;

pub(crate) use classify::Classified;
use forwards::strip_one_quote;
use header_blocks::header_label;
pub(crate) use lines::is_invisible;
#[cfg(test)]
use lines::MAX_KEY_CHARS;
use lines::{make_key, split_lines, Kind, LineInfo, ReadLine, ANALYZE_BUDGET, SIGNATURE_LINES};

/// Result of splitting a plain-text email body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Split {
    pub reply: String,
    pub quoted: String,
    /// The body is nothing but quoted history (a re-sent thread, spam built from quotes):
    /// `reply` is empty and everything is in `quoted`.
    pub no_new_text: bool,
}

/// [`Split`] with the reply as its lines, slices of the body (an empty line may be a
/// `""` of its own): what [`Split::reply`] joins with LF. The extraction checks these
/// against the raw bytes first, and joins them only when the reply is not a verbatim
/// stretch of the message (issue 24: no copy of a body the store keeps as a range).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SplitLines<'a> {
    pub reply: Vec<&'a str>,
    pub quoted: String,
    pub no_new_text: bool,
}

impl SplitLines<'_> {
    pub fn into_split(self) -> Split {
        Split {
            reply: self.reply.join("\n"),
            quoted: self.quoted,
            no_new_text: self.no_new_text,
        }
    }
}

/// Split a plain-text body (any line endings) into the customer's new text and everything removed.
pub fn split_plain(body: &str) -> Split {
    split_plain_lines(body).into_split()
}

/// [`split_plain`], the reply left as lines of `body`.
pub(crate) fn split_plain_lines(body: &str) -> SplitLines<'_> {
    let body = body.strip_prefix('\u{FEFF}').unwrap_or(body);
    let lines = split_lines(body);
    let classified = line_roles(&lines);
    build(&lines, &classified)
}

/// What a line is, once classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineRole {
    /// Written by the customer now.
    Reply,
    /// A quoted line the customer answers below: it stays in the reply as the context of
    /// the answer.
    Context,
    /// A line of a forwarded message that its client quoted (`> text`), in a forward with
    /// no note: the reply, without that quote level.
    Forwarded,
    /// Empty (or whitespace only).
    Blank,
    /// Quoted history, attribution, header block, signature or forwarded content.
    Removed,
}

/// Classify already split lines (no line terminators inside). Used by the HTML side too.
pub(crate) fn line_roles(lines: &[&str]) -> Classified {
    // Pattern checks cost per line; a huge body (a pasted log, a 1 MiB text) is analysed in
    // its first ANALYZE_BUDGET bytes of unquoted text and its last SIGNATURE_LINES lines.
    // Text beyond that stays in the reply as written: nothing is lost, and a customer's own
    // text long enough to hit the budget is far longer than any reply above a quote.
    let tail_from = lines.len().saturating_sub(SIGNATURE_LINES);
    let mut budget = ANALYZE_BUDGET;
    // The keys of all lines, in one buffer: about the bytes analysed.
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut keys = String::with_capacity(bytes.min(ANALYZE_BUDGET + 1024));
    let read: Vec<ReadLine> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let analyze = budget > 0 || i >= tail_from;
            let line = ReadLine::new(l, analyze, &mut keys);
            if line.kind() == Kind::Text {
                budget = budget.saturating_sub(l.trim_end().len() + 1);
            }
            line
        })
        .collect();
    let mut infos: Vec<LineInfo> = read
        .iter()
        .zip(lines)
        .map(|(r, l)| r.with_key(l, &keys))
        .collect();
    drop(read);
    for i in 1..infos.len() {
        let (before, after) = infos.split_at_mut(i);
        if let (Some(prev), Some(cur)) = (before.last(), after.first_mut()) {
            cur.rejoin_wrapped_address(prev);
        }
    }
    classify::classify(&infos)
}

/// True when `line` starts like an e-mail header field of a quoted message
/// (`From:`, `Von:`, `*De :*`, `发件人：` …).
pub(crate) fn is_header_field_line(line: &str) -> bool {
    let (key, _) = make_key(line);
    header_label(&key).is_some()
}

fn build<'a>(lines: &[&'a str], classified: &Classified) -> SplitLines<'a> {
    let roles = &classified.roles;
    // Trimmed where used, not collected first: one vector of a large body's lines less.
    let trimmed = || lines.iter().map(|l| l.trim_end());
    let no_new_text = !roles
        .iter()
        .any(|r| matches!(r, LineRole::Reply | LineRole::Forwarded));
    if no_new_text && !classified.history {
        // No recognised quote (a signature at most): what there is, is the reply.
        let mut reply: Vec<&str> = trimmed().collect();
        keep_visible_span(&mut reply);
        return SplitLines {
            reply,
            quoted: String::new(),
            no_new_text: false,
        };
    }

    // Reply: drop removed lines; blank runs around a removed region collapse to one.
    let mut out: Vec<&'a str> = Vec::new();
    let mut in_gap = false;
    let mut gap_blank = false;
    let mut prev_looks_blank = false;
    for (line, role) in trimmed().zip(roles.iter()) {
        if *role != LineRole::Blank {
            prev_looks_blank = false;
        }
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
                // (at most one) are kept. A line that only looks blank (invisible
                // characters, a bare `>` at the edge of a kept quote) never doubles one.
                let looks_blank = !line.is_empty();
                let doubles =
                    (looks_blank || prev_looks_blank) && out.last().is_some_and(|l| l.is_empty());
                if !in_gap && !doubles {
                    out.push("");
                }
                prev_looks_blank = looks_blank;
                continue;
            }
            LineRole::Reply | LineRole::Context | LineRole::Forwarded => {
                if in_gap {
                    if gap_blank && !out.is_empty() {
                        out.push("");
                    }
                    in_gap = false;
                }
                out.push(if *role == LineRole::Forwarded {
                    strip_one_quote(line)
                } else {
                    line
                });
            }
        }
    }

    // Quoted: removed lines, with blank lines kept only between removed lines, and one
    // between removed regions that reply lines separate.
    let mut quoted: Vec<&str> = Vec::new();
    let mut pending_blanks = 0usize;
    let mut separated = false;
    for (line, role) in trimmed().zip(roles.iter()) {
        match role {
            LineRole::Removed => {
                if !quoted.is_empty() && (pending_blanks > 0 || separated) {
                    quoted.push("");
                }
                pending_blanks = 0;
                separated = false;
                quoted.push(line);
            }
            LineRole::Blank => pending_blanks += 1,
            LineRole::Reply | LineRole::Context | LineRole::Forwarded => {
                pending_blanks = 0;
                separated = true;
            }
        }
    }

    keep_visible_span(&mut quoted);
    let quoted = quoted.join("\n");
    keep_visible_span(&mut out);
    SplitLines {
        reply: out,
        no_new_text: no_new_text && !quoted.is_empty(),
        quoted,
    }
}

/// Drops leading and trailing blank lines (invisible characters count as blank).
fn keep_visible_span(lines: &mut Vec<&str>) {
    let visible = |l: &&str| l.chars().any(|c| !c.is_whitespace() && !is_invisible(c));
    match (
        lines.iter().position(visible),
        lines.iter().rposition(visible),
    ) {
        (Some(first), Some(last)) => {
            lines.truncate(last + 1);
            lines.drain(..first);
        }
        _ => lines.clear(),
    }
}

#[cfg(test)]
mod tests;
