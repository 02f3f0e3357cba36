//! Quote containers: the elements mail clients wrap quoted history in
//! (`<blockquote type="cite">`, Gmail's `gmail_quote`, Thunderbird's `moz-cite-prefix`,
//! Yahoo's `yahoo_quoted`, Outlook's `divRplyFwdMsg` and top-border separator, Zimbra's
//! `<hr id="zwchr">` …), recognised by their markup before any text is looked at.
//!
//! Markup is the most reliable sign of history where a client leaves it; this module says
//! what a start tag is, and which tokens around a cut go with it.

use super::render::{render, Rendering};
use super::tokenizer::{is_raw_text_element, Tok, TokKind};
use crate::message::reply_text::is_header_field_line;

/// Tokens looked through for a blockquote inside a Gmail quote wrapper, at most (keeps
/// nested wrappers linear).
const MAX_WRAPPER_SCAN: usize = 4096;

pub(super) enum Container {
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
pub(super) fn has_class(t: &Tok, pred: impl Fn(&str) -> bool) -> bool {
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

pub(super) fn compact_style(t: &Tok) -> String {
    t.attr("style")
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(|c| c.to_lowercase())
        .collect()
}

pub(super) fn container_kind(toks: &[Tok], i: usize, ends: &[usize], html: &str) -> Container {
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
    // Gmail's `gmail_quote` *div* holds the attribution and the quote, and, when the
    // customer answers inline, the answers between the quote's pieces: its parts are
    // judged one by one (the attribution, each blockquote, the text between).
    // One with no blockquote inside (a forward, a malformed quote) goes whole.
    let gmail_wrapper = t.name != "blockquote"
        && has_class(t, |c| matches!(c, "gmail_quote" | "gmail_quote_container"))
        && toks
            .iter()
            .take(ends[i].min(i + MAX_WRAPPER_SCAN) + 1)
            .skip(i + 1)
            .any(|k| k.kind == TokKind::Start && k.name == "blockquote");
    if !gmail_wrapper
        && (has_class(t, |c| {
            matches!(
                c,
                "gmail_quote" | "gmail_quote_container" | "gmail_attr" | "protonmail_quote"
            ) || c.contains("yahoo_quoted")
        }) || id.starts_with("yahoo_quoted"))
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
            let r = render(html, slice, &removed, Rendering::Readable);
            let first = r.text.lines().map(str::trim).find(|l| !l.is_empty());
            if first.is_some_and(is_header_field_line) {
                return Container::ToEnd;
            }
        }
    }
    Container::No
}

/// An element that holds only the attribution of a quote (Gmail's `gmail_attr`,
/// Thunderbird's `moz-cite-prefix`): it goes even when the quote stays as context.
pub(super) fn is_attribution_container(t: &Tok) -> bool {
    has_class(t, |c| c == "gmail_attr" || c == "moz-cite-prefix")
}

/// Whitespace text, comments and <br> between a container and what follows it.
pub(super) fn is_filler(t: &Tok, html: &str) -> bool {
    match t.kind {
        TokKind::Text => html.get(t.start..t.end).unwrap_or("").trim().is_empty(),
        TokKind::Other => true,
        TokKind::Start => t.name == "br",
        _ => false,
    }
}

/// Tokens right before a tail cut that may go with it (opening tags, whitespace, <br>).
pub(super) fn is_cut_extendable(t: &Tok, html: &str) -> bool {
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
