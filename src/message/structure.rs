//! Bounds on a message's MIME structure: what the parser is given, and what is left of its
//! tree afterwards.
//!
//! Why this exists: mail-parser 0.11 parses multiparts with a loop and a heap stack, but it
//! keeps each nested `message/rfc822` as a tree of `Message` values, and three things about
//! that tree are dangerous with a hostile sender:
//! - dropping it recurses once per level: 40,000 nested messages (1.3 MB) overflow a 2 MiB
//!   thread stack and abort the whole daemon (`catch_unwind` cannot catch that);
//! - a `message/rfc822` part sent base64 or quoted-printable (which RFC 2046 §5.2.1 forbids)
//!   is decoded and parsed again, and the result converted with a recursive `into_owned`
//!   that also copies the decoded bytes once per nested level: a 1.75 MB message asks for
//!   tens of gigabytes and a stack to match;
//! - each part and level costs the parser up to ~1.4 KiB, whatever its size in the message.
//!
//! Nothing in replyd reads into an attached message: its bytes are the attachment. So the
//! parser is never let to build one. Before parsing ([`prepare`]):
//! 1. The parser sees at most `max_parts` places where a part can start (a `--` pair, which
//!    every boundary begins with, or one of the words a nested message needs: `rfc822`,
//!    `global`, `digest`); past that the input is cut (`too_many_parts`).
//! 2. Without any of those words the parser cannot build a nested message at all (it needs
//!    the content type `message/rfc822` or `message/global`, or a part without one inside
//!    `multipart/digest`): nothing more to do, and that is nearly all mail.
//! 3. Otherwise a first parse runs on a copy in which those words are altered, so that it
//!    builds no nested message: every would-be message part is a flat leaf whose headers and
//!    offsets are known. In the bytes the real parse sees, the word in each such part's
//!    content type (or its digest's) is altered the same way (same length: every offset
//!    holds): the part is a leaf there too, decoded if it was sent encoded, and never parsed
//!    twice. The attached messages are then looked into, one level at a time up to
//!    `max_depth`, only to tell whether they nest deeper (`mime_too_deep`).
//!
//! After parsing ([`flatten`]), should a nested message still be there (the first parse
//! and the real one disagreeing on a hostile structure), its tree is taken apart on the
//! heap, level by level, keeping its root part (enough for its bytes as an attachment);
//! parts of the top-level message deeper than `max_depth` (multiparts nest without a
//! nested message) are left out of the text and the attachments.
//!
//! As a second wall, a message that can contain nested messages at all is parsed on a
//! thread whose stack grows with the message size ([`parser_stack_size`]), so a recursion
//! missed here still cannot overflow.

use mail_parser::{HeaderName, HeaderValue, Message, MessageParser, MessagePart, PartType};
use std::borrow::Cow;

/// What the parser is given, and why it may be less than the message.
#[derive(Debug)]
pub(super) struct ParserInput<'a> {
    pub bytes: Cow<'a, [u8]>,
    /// The input was cut after `max_parts` possible part starts.
    pub too_many_parts: bool,
    /// Some part (inside attached messages too) lies deeper than `max_depth`.
    pub too_deep: bool,
    /// Attached messages sent base64 or quoted-printable.
    pub encoded_messages: usize,
    /// Whether the parser could have built nested messages from the message.
    pub may_nest: bool,
}

/// Prepares `raw` for the MIME parser (see the module docs).
pub(super) fn prepare(raw: &[u8], max_depth: usize, max_parts: usize) -> ParserInput<'_> {
    let words = nesting_words(raw);
    let mut too_many_parts = false;
    let mut len = raw.len();
    if let Some(cut) = part_limit_cut(raw, &words, max_parts) {
        len = cut;
        too_many_parts = true;
    }
    let raw = &raw[..len];
    let words: Vec<usize> = words.into_iter().filter(|&p| p < len).collect();
    if words.is_empty() {
        return ParserInput {
            bytes: Cow::Borrowed(raw),
            too_many_parts,
            too_deep: false,
            encoded_messages: 0,
            may_nest: false,
        };
    }
    let survey = survey(raw, &words, max_depth);
    let bytes = if survey.alter.is_empty() {
        Cow::Borrowed(raw)
    } else {
        let mut copy = raw.to_vec();
        for &at in &survey.alter {
            alter(&mut copy, at);
        }
        Cow::Owned(copy)
    };
    ParserInput {
        bytes,
        too_many_parts,
        too_deep: survey.too_deep,
        encoded_messages: survey.encoded_messages,
        may_nest: true,
    }
}

/// Changes the nesting word at `at` into one the parser does not know (`rfc822` becomes
/// `xfc822`): same length, case kept, so offsets and case folding are as before.
fn alter(bytes: &mut [u8], at: usize) {
    if let Some(b) = bytes.get_mut(at) {
        *b = if b.is_ascii_uppercase() { b'X' } else { b'x' };
    }
}

/// The subtypes a nested message's content type has once altered.
pub(super) const ALTERED_SUBTYPES: [(&str, &str); 2] = [("xfc822", "rfc822"), ("xlobal", "global")];

/// Where the nesting words start in `raw` (any case), in order. Every message passes here,
/// so the scan looks for what is rare in text: a `g` (in `global` and `digest`) or the
/// digits `822`, and checks the word around it; common letters would stop it at every word.
fn nesting_words(raw: &[u8]) -> Vec<usize> {
    let word_at = |start: usize, word: &[u8]| {
        raw.get(start..start + word.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(word))
    };
    let mut found = Vec::new();
    for i in memchr::memchr2_iter(b'g', b'G', raw) {
        if word_at(i, b"global") {
            found.push(i);
        }
        if i >= 2 && word_at(i - 2, b"digest") {
            found.push(i - 2);
        }
    }
    for i in memchr::memmem::find_iter(raw, b"822") {
        if i >= 3 && word_at(i - 3, b"rfc822") {
            found.push(i - 3);
        }
    }
    found.sort_unstable();
    found
}

/// The offset at which the `max_parts + 1`-th possible part start lies, if there is one.
/// A part starts after a boundary (found anywhere after a `--` pair: counted without overlap,
/// every boundary match contains one of its own) or as a nested message (one nesting word
/// each at least).
fn part_limit_cut(raw: &[u8], words: &[usize], max_parts: usize) -> Option<usize> {
    let mut dashes = memchr::memmem::find_iter(raw, b"--").peekable();
    let mut words = words.iter().copied().peekable();
    let mut seen = 0usize;
    loop {
        let next = match (dashes.peek(), words.peek()) {
            (Some(&d), Some(&w)) if d <= w => dashes.next(),
            (Some(_), Some(_)) => words.next(),
            (Some(_), None) => dashes.next(),
            (None, Some(_)) => words.next(),
            (None, None) => return None,
        }?;
        seen += 1;
        if seen > max_parts {
            return Some(next);
        }
    }
}

/// What the first parse found.
#[derive(Debug, Default)]
struct Survey {
    /// Nesting words to alter in the bytes the real parse sees: the subtypes of the
    /// message's own attached messages, and of a digest whose parts are messages.
    alter: Vec<usize>,
    too_deep: bool,
    encoded_messages: usize,
}

/// Parses a copy of `raw` with the nesting words altered, so that attached messages are
/// flat leaves; finds the ones the real parse would nest (to alter them there too) and
/// looks into them, level by level up to `max_depth`, only to tell how deep they go.
fn survey(raw: &[u8], words: &[usize], max_depth: usize) -> Survey {
    let mut altered = raw.to_vec();
    for &at in words {
        alter(&mut altered, at);
    }
    let mut out = Survey::default();
    // (offset of the slice in `raw`, its end, depth of its root part)
    let mut pending = vec![(0usize, altered.len(), 0usize)];
    while let Some((base, end, root_depth)) = pending.pop() {
        let Some(msg) = MessageParser::default().parse(&altered[base..end]) else {
            continue;
        };
        let depths = part_depths(&msg.parts);
        let parents = parents(&msg.parts);
        // Nesting words inside the content-type value of `part`.
        let words_in_type = |part: &MessagePart<'_>| -> Vec<usize> {
            part.headers
                .iter()
                .filter(|h| h.name == HeaderName::ContentType)
                .flat_map(|h| {
                    let (from, to) = (base + h.offset_start as usize, base + h.offset_end as usize);
                    let first = words.partition_point(|&w| w < from);
                    words[first..].iter().copied().take_while(move |&w| w < to)
                })
                .collect()
        };
        for (i, part) in msg.parts.iter().enumerate() {
            let depth = root_depth + depths[i];
            if depth > max_depth {
                out.too_deep = true;
                continue;
            }
            let message_type = content_type(part).map(|(ctype, subtype)| {
                ctype.eq_ignore_ascii_case("message")
                    && ALTERED_SUBTYPES
                        .iter()
                        .any(|(s, _)| subtype.eq_ignore_ascii_case(s))
            });
            let digest_parent = parents[i].filter(|&p| {
                content_type(&msg.parts[p]).is_some_and(|(t, s)| {
                    t.eq_ignore_ascii_case("multipart") && s.eq_ignore_ascii_case("xigest")
                })
            });
            let is_message = match (message_type, digest_parent) {
                (Some(m), _) => m,
                (None, Some(_)) => true,
                (None, None) => false,
            };
            if !is_message {
                continue;
            }
            if base == 0 {
                // The real parse must not nest it.
                match digest_parent {
                    Some(p) if message_type.is_none() => {
                        out.alter.extend(words_in_type(&msg.parts[p]))
                    }
                    _ => out.alter.extend(words_in_type(part)),
                }
            }
            if part
                .headers
                .iter()
                .filter(|h| h.name == HeaderName::ContentTransferEncoding)
                .any(|h| match &h.value {
                    HeaderValue::Text(t) => {
                        let t = t.trim();
                        !(t.eq_ignore_ascii_case("7bit")
                            || t.eq_ignore_ascii_case("8bit")
                            || t.eq_ignore_ascii_case("binary"))
                    }
                    _ => false,
                })
            {
                if base == 0 {
                    out.encoded_messages += 1;
                }
                continue;
            }
            let body = base + part.offset_body as usize;
            let body_end = if (part.offset_end as usize) > part.offset_body as usize {
                (base + part.offset_end as usize).min(end)
            } else {
                end
            };
            if body < body_end && !out.too_deep {
                pending.push((body, body_end, depth + 1));
            }
        }
        // `msg` has no nested message: dropping it does not recurse.
    }
    out.alter.sort_unstable();
    out.alter.dedup();
    out
}

/// Each part's parent multipart, by index.
fn parents(parts: &[MessagePart<'_>]) -> Vec<Option<usize>> {
    let mut out = vec![None; parts.len()];
    for (i, part) in parts.iter().enumerate() {
        if let PartType::Multipart(children) = &part.body {
            for &c in children {
                if let Some(slot) = out.get_mut(c as usize).filter(|_| c as usize != i) {
                    *slot = Some(i);
                }
            }
        }
    }
    out
}

/// Each part's depth below its message's root part: the number of multiparts above it.
pub(super) fn part_depths(parts: &[MessagePart<'_>]) -> Vec<usize> {
    let mut depths = vec![0usize; parts.len()];
    let mut pending = vec![0usize];
    let mut visited = vec![false; parts.len()];
    while let Some(i) = pending.pop() {
        if visited.get(i).copied() != Some(false) {
            continue;
        }
        visited[i] = true;
        if let PartType::Multipart(children) = &parts[i].body {
            for &c in children {
                let c = c as usize;
                if c < parts.len() && c != i {
                    depths[c] = depths[i] + 1;
                    pending.push(c);
                }
            }
        }
    }
    depths
}

fn content_type<'p>(part: &'p MessagePart<'_>) -> Option<(&'p str, &'p str)> {
    part.headers
        .iter()
        .find(|h| h.name == HeaderName::ContentType)
        .and_then(|h| h.value.as_content_type())
        .map(|ct| (ct.ctype(), ct.subtype().unwrap_or("")))
}

/// Takes the tree below every nested message apart, keeping each one's root part only, and
/// leaves out of the text and attachment lists the top-level parts deeper than `max_depth`.
/// Returns the deepest level seen. Iterative: no recursion over the sender's depth.
pub(super) fn flatten(msg: &mut Message<'_>, max_depth: usize) -> usize {
    let depths = part_depths(&msg.parts);
    let mut deepest = depths.iter().copied().max().unwrap_or(0);
    if deepest > max_depth {
        let shallow = |i: &u32| depths.get(*i as usize).is_some_and(|&d| d <= max_depth);
        msg.text_body.retain(shallow);
        msg.html_body.retain(shallow);
        msg.attachments.retain(shallow);
    }
    let mut detached: Vec<(Vec<MessagePart<'_>>, usize)> = Vec::new();
    for (i, part) in msg.parts.iter_mut().enumerate() {
        if let PartType::Message(inner) = &mut part.body {
            detached.push((keep_root_only(inner), depths[i] + 1));
        }
    }
    while let Some((parts, root_depth)) = detached.pop() {
        let depths = part_depths(&parts);
        for (i, mut part) in parts.into_iter().enumerate() {
            deepest = deepest.max(root_depth + depths[i]);
            if let PartType::Message(mut inner) = std::mem::take(&mut part.body) {
                let parts = std::mem::take(&mut inner.parts);
                detached.push((parts, root_depth + depths[i] + 1));
            }
            // `part` is dropped here without anything nested below it.
        }
    }
    deepest
}

/// Leaves `inner` with its root part's headers and offsets (what `raw_message()` reads) and
/// returns all its parts, the root's body included, for taking apart.
fn keep_root_only<'x>(inner: &mut Message<'x>) -> Vec<MessagePart<'x>> {
    let mut parts = std::mem::take(&mut inner.parts);
    inner.text_body.clear();
    inner.html_body.clear();
    inner.attachments.clear();
    if let Some(root) = parts.first_mut() {
        inner.parts.push(MessagePart {
            headers: std::mem::take(&mut root.headers),
            is_encoding_problem: root.is_encoding_problem,
            body: PartType::Binary(Cow::Borrowed(&[])),
            encoding: root.encoding,
            offset_header: root.offset_header,
            offset_body: root.offset_body,
            offset_end: root.offset_end,
        });
    }
    parts
}

/// The stack for parsing `len` bytes that may nest: generous for the deepest recursion the
/// parser could be driven to (a few hundred bytes of stack per nested level, a level per 30
/// bytes of message at the least; unoptimised builds use several times more), up to 256 MiB.
/// Only what is touched is ever backed by memory.
pub(super) fn parser_stack_size(len: usize) -> usize {
    len.saturating_mul(64)
        .saturating_add(8 << 20)
        .min(256 << 20)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MimeHeaders;

    fn nested(levels: usize) -> Vec<u8> {
        let mut v = b"From: a@example.com\r\nSubject: deep\r\n".to_vec();
        for _ in 0..levels {
            v.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
        }
        v.extend_from_slice(b"Content-Type: text/plain\r\n\r\nhello\r\n");
        v
    }

    #[test]
    fn plain_mail_is_given_as_it_is() {
        let raw = b"From: a@example.com\r\nSubject: hi\r\n\r\nHello -- there\r\n";
        let input = prepare(raw, 50, 100);
        assert!(matches!(input.bytes, Cow::Borrowed(b) if b == &raw[..]));
        assert!(!input.may_nest && !input.too_deep && !input.too_many_parts);
    }

    #[test]
    fn deep_nesting_is_flagged_and_parsed_flat() {
        let raw = nested(1000);
        let input = prepare(&raw, 50, 10_000);
        assert!(input.too_deep && input.may_nest);
        assert_eq!(input.bytes.len(), raw.len());
        let mut msg = MessageParser::default().parse(&input.bytes[..]).unwrap();
        assert_eq!(msg.parts.len(), 1);
        assert_eq!(flatten(&mut msg, 50), 0);
    }

    #[test]
    fn part_starts_past_the_limit_are_cut() {
        let raw = nested(1000);
        let input = prepare(&raw, 5000, 100);
        assert!(input.too_many_parts);
        let words = nesting_words(&raw[..input.bytes.len()]);
        assert_eq!(words.len(), 100);
    }

    #[test]
    fn words_are_found_in_any_case() {
        assert_eq!(
            nesting_words(b"x RFC822 GlObAl diGEST rfc82"),
            vec![2, 9, 16]
        );
    }

    #[test]
    fn an_encoded_message_part_is_a_leaf() {
        // Quoted-printable of text without `=` is the text itself.
        let inner = String::from_utf8(nested(3)).unwrap();
        let raw = format!(
            "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
             Content-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: message/RFC822\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\r\n{inner}\r\n--b--\r\n"
        );
        let input = prepare(raw.as_bytes(), 50, 10_000);
        assert_eq!(input.encoded_messages, 1);
        assert_eq!(input.bytes.len(), raw.len());
        let msg = MessageParser::default().parse(&input.bytes[..]).unwrap();
        assert!(!msg
            .parts
            .iter()
            .any(|p| matches!(p.body, PartType::Message(_))));
        assert_eq!(msg.body_text(0).as_deref(), Some("see attached"));
        let attached = msg.attachment(0).unwrap();
        assert_eq!(attached.content_type().unwrap().subtype(), Some("xfc822"));
        assert!(attached.contents().starts_with(b"From: a@example.com"));
    }

    #[test]
    fn a_digest_of_encoded_messages_nests_nothing() {
        let inner = String::from_utf8(nested(5)).unwrap();
        let raw = format!(
            "From: a@example.com\r\nContent-Type: multipart/Digest; boundary=d\r\n\r\n--d\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\r\n{inner}\r\n--d\r\n\r\n\
             From: b@example.com\r\n\r\nplain one\r\n--d--\r\n"
        );
        let input = prepare(raw.as_bytes(), 50, 10_000);
        assert_eq!(input.encoded_messages, 1);
        let msg = MessageParser::default().parse(&input.bytes[..]).unwrap();
        assert!(!msg
            .parts
            .iter()
            .any(|p| matches!(p.body, PartType::Message(_))));
    }

    #[test]
    fn words_in_text_are_left_alone() {
        let raw =
            b"From: a@example.com\r\nSubject: rfc822 global digest\r\n\r\nOur global team.\r\n";
        let input = prepare(raw, 50, 10_000);
        assert!(input.may_nest);
        assert!(matches!(input.bytes, Cow::Borrowed(_)));
    }

    #[test]
    fn flatten_keeps_a_nested_message_s_bytes() {
        let raw = b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
                    Content-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n\
                    From: c@example.com\r\nSubject: inner\r\n\r\ninner body\r\n--b--\r\n";
        let mut msg = MessageParser::default().parse(&raw[..]).unwrap();
        let before: Vec<Vec<u8>> = nested_bytes(&msg);
        assert_eq!(flatten(&mut msg, 50), 2);
        assert_eq!(nested_bytes(&msg), before);
        assert!(String::from_utf8_lossy(&before[0]).contains("inner body"));
    }

    fn nested_bytes(msg: &Message<'_>) -> Vec<Vec<u8>> {
        msg.parts
            .iter()
            .filter_map(|p| match &p.body {
                PartType::Message(m) => Some(m.raw_message().to_vec()),
                _ => None,
            })
            .collect()
    }
}
