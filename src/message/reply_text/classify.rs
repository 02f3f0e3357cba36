//! Line classification: the passes that turn analysed lines into roles (see the outline
//! in the module documentation of `reply_text`).
//!
//! The individual rules live in their own modules; this one decides in which order they
//! apply and how far what they find reaches: the first tail marker and everything below
//! it, `>` blocks with their attribution lines, trailing signatures of the reply, and
//! which `>` blocks stay in the reply as the context of an inline answer.
//!
//! Every pass visits each line a bounded number of times (the look-arounds of the rules
//! are capped), so the whole is linear in the number of lines.

use super::attributions::{
    attribution_group, is_quoted_attribution, may_end_attribution, Strength,
};
use super::forwards::{forwarded_body, quoted_forward, ForwardBody};
use super::header_blocks::is_header_block;
use super::lines::{continues_a_sentence, next_nonblank, Kind, LineInfo};
use super::markers::{
    history_follows_rule, is_decorated_title, is_decoration, is_original_marker,
    is_reply_above_marker, is_underscore_rule,
};
use super::signatures::{is_closing, is_mobile_signature, is_sig_delimiter, is_signoff};
use super::LineRole;

/// How deep forwards with no note inside forwards with no note are unwrapped.
const MAX_FORWARD_DEPTH: usize = 4;

/// The roles of a body's lines, and whether quoted history was recognised in it.
pub(crate) struct Classified {
    pub(crate) roles: Vec<LineRole>,
    /// Quoted history (a `>` block, an attribution, a header block, an "Original
    /// Message" or forward marker) was found, as opposed to a signature only: a body with
    /// no reply line and history is "nothing new"; one with a signature only is kept whole.
    pub(crate) history: bool,
}

/// Why the tail starts where it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TailKind {
    /// A `-- ` delimiter, a mobile signature or a mailing-list footer.
    Signature,
    /// An older message: attribution, header block, "Original Message" or forward marker.
    History,
}

pub(super) fn classify(infos: &[LineInfo]) -> Classified {
    classify_at(infos, 0)
}

fn classify_at(infos: &[LineInfo], depth: usize) -> Classified {
    let n = infos.len();
    let mut removed = vec![false; n];
    let kinds = effective_kinds(infos);
    let mut history = false;
    if depth < MAX_FORWARD_DEPTH {
        if let Some(body) = quoted_forward(infos) {
            return forward_roles(infos, &kinds, body, depth);
        }
    }

    // 1. The first tail marker.
    let mut tail = n;
    let mut tail_kind = TailKind::Signature;
    // A mobile signature with nothing above it ("Sent from my iPhone" over a forwarded
    // message or a quote, as iOS writes a forward with no note): the history under it
    // decides; if there is none, it is the tail.
    let mut leading_signature = None;
    let first_content = kinds.iter().position(|k| *k != Kind::Blank);
    for i in 0..n {
        let info = &infos[i];
        if !info.text() {
            continue;
        }
        if kinds[i] != Kind::Text {
            continue;
        }
        if Some(i) == first_content && is_mobile_signature(&info.key, true) {
            // (Loose: what follows decides, and a first line followed by nothing but
            // history is no customer's sentence.)
            leading_signature = Some(i);
            continue;
        }
        if is_sig_delimiter(info.raw)
            || (is_mobile_signature(&info.key, false) && !continues_a_sentence(infos, i))
        {
            tail = i;
            break;
        }
        if is_underscore_rule(&info.key) && history_follows_rule(infos, i) {
            tail = i;
            tail_kind = if next_nonblank(infos, i + 1).is_some_and(|j| infos[j].label.is_some()) {
                TailKind::History
            } else {
                TailKind::Signature
            };
            break;
        }
        if is_original_marker(&info.key)
            || is_reply_above_marker(infos, i)
            || is_header_block(infos, i)
        {
            tail = i;
            tail_kind = TailKind::History;
            break;
        }
        if may_end_attribution(&info.key) {
            if let Some(start) = attribution_group(infos, i, &removed, Strength::Strong) {
                let followed_by_quote =
                    next_nonblank(infos, i + 1).is_some_and(|j| kinds[j] == Kind::Quoted);
                // "Am 03.03.2016 um 17:21 schrieb ich Ihnen:" / "bitte stornieren …": a
                // line going on in lower case right under it is the customer's own text,
                // which the colon introduced (history starts after a blank or a quote).
                let introduces_own_text = i + 1 < n && continues_a_sentence(infos, i + 1);
                if !followed_by_quote && !introduces_own_text {
                    tail = start;
                    tail_kind = TailKind::History;
                    break;
                }
            }
        }
    }
    if tail == n {
        if let Some(s) = leading_signature {
            // Nothing under it but a signature's lines, or `>` quotes (handled below).
            if !(s + 1..n).any(|k| kinds[k] == Kind::Quoted) {
                tail = s;
            }
        }
    }
    if tail_kind == TailKind::History {
        history = true;
        // A forward with no note above it: what was forwarded is what the customer sends.
        // (Separator lines are nothing: Outlook puts a rule above the forwarded headers;
        // nor is a mobile signature at the top.)
        let nothing_above = (0..tail).all(|k| {
            kinds[k] == Kind::Blank
                || Some(k) == leading_signature
                || (infos[k].text()
                    && (is_decoration(&infos[k].key) || is_decorated_title(&infos[k].key)))
        });
        if nothing_above && depth < MAX_FORWARD_DEPTH {
            if let Some(body) = forwarded_body(infos, tail) {
                return forward_roles(infos, &kinds, body, depth);
            }
        }
    }
    // Decoration lines (dashes, underscores …) and blanks right above the tail belong to
    // it; so does a decorated title above older history ("-------- Thư gốc --------"
    // over a header block: whatever the words, in whatever language).
    if tail < n {
        while tail > 0 {
            let prev = &infos[tail - 1];
            let decorated = prev.text()
                && (is_decoration(&prev.key)
                    || (tail_kind == TailKind::History && is_decorated_title(&prev.key)));
            if prev.kind == Kind::Blank || decorated {
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
    let mut blocks: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < tail {
        if kinds[i] != Kind::Quoted {
            i += 1;
            continue;
        }
        history = true;
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
        blocks.push((start, last));
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
        if !info.long && is_mobile_signature(&info.key, true) && !continues_a_sentence(infos, idx) {
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

    // 4. Quoted blocks followed by the customer's own text are the context of an inline
    //    (or bottom-posted) answer: they stay in the reply. Only the trailing ones are history.
    //    A closing alone under the last block ("Regards, Roman", as clients that sign below
    //    the quote write it) answers nothing: when the customer wrote above that block, it
    //    is history.
    let is_reply = |l: usize| kinds[l] == Kind::Text && !removed[l];
    let mut last_reply = (0..tail).rev().find(|&l| is_reply(l));
    if let (Some(&(start, last)), Some(end)) = (blocks.last(), last_reply) {
        let after = (last + 1..=end).filter(|&l| is_reply(l));
        let closing =
            after.clone().all(|l| !infos[l].long) && is_closing(after.map(|l| &*infos[l].key));
        if closing {
            if let Some(above) = (0..start).rev().find(|&l| is_reply(l)) {
                last_reply = Some(above);
            }
        }
    }
    let mut context = vec![false; n];
    let mut bare = vec![false; n];
    if let Some(last_reply) = last_reply {
        for &(start, last) in blocks.iter().take_while(|(_, last)| *last < last_reply) {
            for l in start..=last {
                // An attribution inside the kept quote (a nested history's "> On … wrote:")
                // goes, as the one above it does.
                context[l] = !(kinds[l] == Kind::Quoted
                    && !infos[l].long
                    && is_quoted_attribution(infos[l].raw));
            }
            // Bare `>` lines at the edges of a kept quote are blank lines, not context.
            let is_bare = |l: usize| infos[l].raw.chars().all(|c| c == '>' || c.is_whitespace());
            for l in (start..=last).take_while(|&l| is_bare(l)) {
                bare[l] = true;
            }
            for l in (start..=last).rev().take_while(|&l| is_bare(l)) {
                bare[l] = true;
            }
        }
    }

    let roles = kinds
        .iter()
        .zip(bare.iter())
        .zip(removed.iter().zip(context.iter()))
        .map(|((kind, &bare), (&r, &c))| {
            if *kind == Kind::Blank || bare {
                LineRole::Blank
            } else if c {
                LineRole::Context
            } else if r {
                LineRole::Removed
            } else {
                LineRole::Reply
            }
        })
        .collect();
    Classified { roles, history }
}

/// The roles of a mail that is a forward with no note: marker and header block removed,
/// the forwarded body classified as the mail itself (a quoted one is all reply).
fn forward_roles(
    infos: &[LineInfo],
    kinds: &[Kind],
    body: ForwardBody,
    depth: usize,
) -> Classified {
    let bare = |l: &LineInfo| l.raw.chars().all(|c| c == '>' || c.is_whitespace());
    let head = |to: usize| -> Vec<LineRole> {
        infos[..to]
            .iter()
            .zip(kinds)
            .map(|(l, k)| {
                if *k == Kind::Blank || bare(l) {
                    LineRole::Blank
                } else {
                    LineRole::Removed
                }
            })
            .collect()
    };
    let (mut roles, rest) = match body {
        ForwardBody::Plain(start) => (head(start), start),
        ForwardBody::Quoted(start, end) => {
            let mut roles = head(start);
            roles.extend(kinds[start..end].iter().map(|k| {
                if *k == Kind::Quoted {
                    LineRole::Forwarded
                } else {
                    LineRole::Blank
                }
            }));
            (roles, end)
        }
    };
    if rest < infos.len() {
        roles.extend(classify_at(&infos[rest..], depth + 1).roles);
    }
    Classified {
        roles,
        history: true,
    }
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
