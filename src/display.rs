//! Showing text a sender wrote to a person: control and invisible characters made visible.
//!
//! Everything replyd shows of a message — subject, From, envelope sender, attachment
//! names, reply text — was written by whoever sent it, and a terminal obeys what it prints:
//! ESC starts colour, cursor and OSC sequences (a fake window title, an OSC 8 link whose
//! text differs from its target), a bare CR goes back to the start of the line and the
//! next text overwrites it, U+202E turns the rest of the line around (`exe.pdf` shown as
//! `fdp.exe`), and an LF decoded from an RFC 2047 subject starts a line that can pass for
//! another message or another field. So every human-readable output of the CLI (and any
//! other viewer, such as a web console) passes the sender's text through [`escape`] or
//! [`escape_lines`], which write each such character as a visible escape.
//!
//! The notation is one for all: `\u{HEX}` with the code point in lowercase hexadecimal and
//! no leading zeros (`\u{1b}` for ESC, `\u{0}` for NUL, `\u{d}` for CR, `\u{202e}` for the
//! right-to-left override), and a backslash that was in the text is written `\\`, so an
//! escape in the output is always one we made: a sender who writes `\u{1b}` is shown as
//! `\\u{1b}`.
//!
//! What is escaped ([`is_escaped`]): the C0 controls (NUL…U+001F), DEL, the C1 controls
//! (U+0080…U+009F, which include the 8-bit CSI and OSC some terminals obey), the bidi
//! marks, embeddings, overrides and isolates (U+061C, U+200E, U+200F, U+202A…U+202E,
//! U+2066…U+2069), the line and paragraph separators U+2028/U+2029 (some terminals and
//! viewers break lines there), and the other invisible format characters (zero-width space,
//! word joiner, soft hyphen, byte order mark, the invisible tag characters U+E0000…U+E007F,
//! Hangul fillers…) that can make two different addresses or names look alike. The
//! zero-width joiner and non-joiner (U+200C/U+200D) are kept: scripts such as Persian and
//! Hindi and emoji sequences need them, and they cannot move or hide text.
//!
//! LF and TAB are layout: [`escape`], for single-line fields (a subject, an address, a
//! filename, a note), escapes them like every other control, so a field is always exactly
//! one line; [`escape_lines`], for multi-line fields (reply text, quoted text), keeps them
//! and starts every line with a prefix (an indent), so no line of the field can pass for a
//! header or another field of the output.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` is shown as `\u{…}` by [`escape`]: a control, bidi or invisible format
/// character (see the module documentation). A backslash is not one of them but is written
/// `\\`; LF and TAB are kept by [`escape_lines`].
pub fn is_escaped(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            // Soft hyphen: invisible unless the line breaks there.
            | '\u{ad}'
            // Arabic number signs and the Arabic letter mark (bidi).
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{890}'..='\u{891}'
            | '\u{8e2}'
            // Hangul fillers: blank, yet letters to the font.
            | '\u{115f}'..='\u{1160}'
            | '\u{3164}'
            | '\u{ffa0}'
            | '\u{180e}'
            // Zero-width space, LRM, RLM (not ZWNJ/ZWJ: see above).
            | '\u{200b}'
            | '\u{200e}'..='\u{200f}'
            // Line and paragraph separators, bidi embeddings and overrides.
            | '\u{2028}'..='\u{202e}'
            // Word joiner, invisible operators, bidi isolates, deprecated format characters.
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            // Interlinear annotation.
            | '\u{fff9}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            // Tag characters: invisible text riding along with visible text.
            | '\u{e0000}'..='\u{e007f}'
    )
}

/// A single-line field (subject, address, name, filename, note, flag) as it may be shown:
/// every character [`is_escaped`] says, LF and TAB included, written `\u{HEX}`, and a
/// backslash written `\\`. The result holds no control character at all, so it is one line.
///
/// ```
/// use replyd::display::escape;
/// assert_eq!(escape("Re: \u{1b}[31mOrder\r\n42"), r"Re: \u{1b}[31mOrder\u{d}\u{a}42");
/// assert_eq!(escape(r"C:\tmp"), r"C:\\tmp");
/// assert_eq!(escape("plain text, ünïcödé, 日本語"), "plain text, ünïcödé, 日本語");
/// ```
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c == '\\' || is_escaped(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    push_escaped(&mut out, text, false);
    Cow::Owned(out)
}

/// A multi-line field (reply text, quoted text) as it may be shown: one output line per
/// line of `text` (split at LF), each escaped as by [`escape`] except that TAB is kept, and
/// each starting with `prefix` (an indent, so no line can pass for anything but part of the
/// field; an empty line is shown as the prefix without its trailing spaces). Every line
/// ends with LF, the last one included; an empty text gives no lines.
///
/// ```
/// use replyd::display::escape_lines;
/// assert_eq!(
///     escape_lines("Thanks!\n--- m9 incoming\r\n", "    "),
///     "    Thanks!\n    --- m9 incoming\\u{d}\n"
/// );
/// ```
pub fn escape_lines(text: &str, prefix: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    if text.is_empty() {
        return out;
    }
    for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
        if line.is_empty() {
            out.push_str(prefix.trim_end());
        } else {
            out.push_str(prefix);
            push_escaped(&mut out, line, true);
        }
        out.push('\n');
    }
    out
}

fn push_escaped(out: &mut String, text: &str, keep_tab: bool) {
    for c in text.chars() {
        if c == '\\' {
            out.push_str(r"\\");
        } else if is_escaped(c) && !(keep_tab && c == '\t') {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character of every class the module documentation names.
    const CLASSES: &[(&str, &[char])] = &[
        (
            "C0",
            &[
                '\0', '\u{1}', '\u{7}', '\u{8}', '\u{b}', '\u{c}', '\u{1b}', '\u{1f}',
            ],
        ),
        ("LF, CR, TAB", &['\n', '\r', '\t']),
        ("DEL", &['\u{7f}']),
        (
            "C1, 8-bit CSI/OSC, NEL",
            &['\u{80}', '\u{85}', '\u{9b}', '\u{9d}', '\u{9f}'],
        ),
        (
            "bidi",
            &[
                '\u{61c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}',
                '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
            ],
        ),
        ("separators", &['\u{2028}', '\u{2029}']),
        (
            "invisible format",
            &[
                '\u{ad}',
                '\u{200b}',
                '\u{2060}',
                '\u{2064}',
                '\u{feff}',
                '\u{180e}',
                '\u{3164}',
                '\u{e0001}',
                '\u{e0041}',
                '\u{e007f}',
                '\u{fff9}',
            ],
        ),
    ];

    #[test]
    fn every_class_is_written_as_a_visible_escape() {
        for (class, chars) in CLASSES {
            for &c in *chars {
                let shown = escape(&format!("a{c}b")).into_owned();
                assert_eq!(shown, format!("a\\u{{{:x}}}b", c as u32), "{class} {c:?}");
                assert!(shown.is_ascii(), "{class} {c:?}");
            }
        }
        assert_eq!(escape("\0"), r"\u{0}");
        assert_eq!(escape("\u{1b}]0;pwned\u{7}"), r"\u{1b}]0;pwned\u{7}");
        assert_eq!(escape("\u{202e}fdp.exe"), r"\u{202e}fdp.exe");
    }

    #[test]
    fn every_control_and_nothing_printable_is_escaped() {
        for c in (0..=0x10_ffff).filter_map(char::from_u32) {
            if c.is_control() {
                assert!(is_escaped(c), "{c:?}");
            }
        }
        for c in [
            'a', ' ', '~', 'é', 'ß', '日', '😀', '\u{200c}', '\u{200d}', '\u{a0}',
        ] {
            assert!(!is_escaped(c), "{c:?}");
            assert_eq!(escape(&c.to_string()), c.to_string());
        }
    }

    #[test]
    fn a_backslash_is_doubled_so_escapes_are_unambiguous() {
        assert_eq!(escape(r"\u{1b}"), r"\\u{1b}");
        assert_eq!(escape("\\\u{1b}"), r"\\\u{1b}");
        assert!(matches!(escape("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn lines_keep_lf_and_tab_and_prefix_every_line() {
        assert_eq!(escape_lines("", "> "), "");
        assert_eq!(escape_lines("one", "> "), "> one\n");
        assert_eq!(escape_lines("one\n", "> "), "> one\n");
        assert_eq!(escape_lines("a\tb\n\nc\rd", "  "), "  a\tb\n\n  c\\u{d}d\n");
        assert_eq!(escape_lines("a\n\nb", "| "), "| a\n|\n| b\n");
        assert_eq!(
            escape_lines("x\u{2028}Subject: forged\u{85}y", "  "),
            "  x\\u{2028}Subject: forged\\u{85}y\n"
        );
        for (class, chars) in CLASSES {
            for &c in *chars {
                let shown = escape_lines(&format!("a{c}b\nc"), "| ");
                for line in shown.lines() {
                    assert!(line.starts_with("| "), "{class} {c:?}: {shown:?}");
                    assert!(
                        !line.chars().any(|c| is_escaped(c) && c != '\t'),
                        "{class} {c:?}: {shown:?}"
                    );
                }
            }
        }
    }
}
