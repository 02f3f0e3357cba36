//! A name an attachment can be saved under: [`safe_filename`].
//!
//! The filename of an attachment is whatever the sender wrote in `Content-Disposition` or
//! `Content-Type` (RFC 2047/2231-encoded, so any character at all): `../../etc/passwd`, a
//! name of 200,000 characters, NUL, a right-to-left override that shows `invoice`, U+202E,
//! `fdp.exe` as `invoiceexe.pdf`, `CON` (a device on Windows), `report.pdf.` (which Windows saves as
//! `report.pdf`, a different file). The original name is kept as data, unchanged, in the
//! store and in [`Attachment::filename`]; code that saves, serves or offers the file for
//! download uses [`safe_filename`] instead, which is a plain file name on Unix, macOS and
//! Windows alike, and looks like what it is.

use super::{Attachment, SkippedAttachment};
use crate::display::is_escaped;

/// The longest name [`safe_filename`] gives, in bytes (file systems allow 255; some room is
/// left for a program that adds ` (2)` or a temporary suffix).
pub const MAX_FILENAME_BYTES: usize = 200;

/// The longest extension kept when a name is cut to [`MAX_FILENAME_BYTES`].
const MAX_EXTENSION_BYTES: usize = 16;

/// Characters Windows refuses in a file name, besides the path separators and controls.
const WINDOWS_FORBIDDEN: &[char] = &['<', '>', ':', '"', '|', '?', '*'];

/// Names Windows treats as devices whatever their extension (`con.txt` is the console too).
const WINDOWS_DEVICES: &[&str] = &["con", "prn", "aux", "nul", "conin$", "conout$", "clock$"];

/// A file name for an attachment, made from the name the sender gave (`None`: none) and its
/// content type:
///
/// - only the last path component is kept (`../../etc/passwd` → `passwd`,
///   `C:\Users\bob\cv.pdf` → `cv.pdf`), so there is no `/`, `\` or `..` component;
/// - control, bidi and invisible format characters are removed (those
///   [`crate::display::escape`] would show as `\u{…}`), and `< > : " | ? *` (refused by
///   Windows) become `_`;
/// - runs of white space become one space (no extension pushed out of sight), and leading
///   dots and spaces (a hidden file, `..`) and trailing ones (dropped by Windows, so another
///   name) are removed;
/// - a Windows device name (`CON`, `nul.txt`, `COM1`, `LPT9.pdf`…) gets a leading `_`;
/// - the name is cut to [`MAX_FILENAME_BYTES`] bytes on a character boundary, keeping its
///   extension when that is short and alphanumeric;
/// - when nothing is left: `attachment`, with an extension for a few common content types
///   (`attachment.pdf`).
///
/// The result is never empty, and `safe_filename(Some(&safe_filename(n, t)), t)` is the same
/// name again.
pub fn safe_filename(name: Option<&str>, content_type: &str) -> String {
    let last = name
        .unwrap_or("")
        .rsplit(['/', '\\'])
        .find(|part| !part.trim().is_empty())
        .unwrap_or("");
    let mut cleaned = String::with_capacity(last.len());
    let mut in_space = false;
    for c in last.chars() {
        if is_escaped(c) {
            continue;
        }
        if c.is_whitespace() {
            in_space = true;
            continue;
        }
        if in_space && !cleaned.is_empty() {
            cleaned.push(' ');
        }
        in_space = false;
        cleaned.push(if WINDOWS_FORBIDDEN.contains(&c) {
            '_'
        } else {
            c
        });
    }
    let trimmed = trim_name(&cleaned);
    let mut name = if trimmed.is_empty() {
        fallback(content_type)
    } else {
        trimmed.to_string()
    };
    if is_windows_device(&name) {
        name.insert(0, '_');
    }
    cap(name)
}

/// Without leading dots and spaces, and without trailing ones.
fn trim_name(name: &str) -> &str {
    name.trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' '])
}

/// `attachment`, with the extension of a few common types.
fn fallback(content_type: &str) -> String {
    let ext = match content_type.to_ascii_lowercase().as_str() {
        "application/pdf" => ".pdf",
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        "image/gif" => ".gif",
        "image/webp" => ".webp",
        "text/plain" => ".txt",
        "text/html" => ".html",
        "text/calendar" => ".ics",
        "message/rfc822" => ".eml",
        "application/zip" => ".zip",
        _ => "",
    };
    format!("attachment{ext}")
}

/// `CON`, `con.txt`, `Com1.tar.gz`, `LPT¹`…: what Windows opens as a device.
fn is_windows_device(name: &str) -> bool {
    let stem = name
        .split('.')
        .next()
        .unwrap_or(name)
        .trim_end()
        .to_lowercase();
    if WINDOWS_DEVICES.contains(&stem.as_str()) {
        return true;
    }
    let mut chars = stem.chars();
    let prefix: String = chars.by_ref().take(3).collect();
    let rest: Vec<char> = chars.collect();
    (prefix == "com" || prefix == "lpt")
        && matches!(rest.as_slice(), [d] if d.is_ascii_digit() || matches!(d, '¹' | '²' | '³'))
}

/// `name` cut to [`MAX_FILENAME_BYTES`], keeping a short alphanumeric extension.
fn cap(name: String) -> String {
    if name.len() <= MAX_FILENAME_BYTES {
        return name;
    }
    let ext = name
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| {
            !ext.is_empty()
                && ext.len() <= MAX_EXTENSION_BYTES
                && ext.bytes().all(|b| b.is_ascii_alphanumeric())
        })
        .unwrap_or("");
    let room = if ext.is_empty() {
        MAX_FILENAME_BYTES
    } else {
        MAX_FILENAME_BYTES - ext.len() - 1
    };
    let mut end = room;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    let stem = trim_name(&name[..end]);
    // A stem made only of dots and spaces (`. . . .pdf`) was trimmed before: not reached.
    let stem = if stem.is_empty() { "attachment" } else { stem };
    if ext.is_empty() {
        stem.to_string()
    } else {
        format!("{stem}.{ext}")
    }
}

impl Attachment {
    /// A name this attachment can be saved under ([`safe_filename`]); the sender's own is
    /// [`Attachment::filename`].
    pub fn safe_filename(&self) -> String {
        safe_filename(self.filename.as_deref(), &self.content_type)
    }
}

impl SkippedAttachment {
    /// The name to show for this attachment ([`safe_filename`]).
    pub fn safe_filename(&self) -> String {
        safe_filename(self.filename.as_deref(), &self.content_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn safe(name: &str) -> String {
        safe_filename(Some(name), "application/octet-stream")
    }

    /// What every result must be.
    fn assert_invariants(original: &str, name: &str) {
        let ctx = format!("{original:?} -> {name:?}");
        assert!(!name.is_empty(), "{ctx}");
        assert!(name.len() <= MAX_FILENAME_BYTES, "{ctx}");
        assert!(!name.contains(['/', '\\']), "{ctx}");
        assert!(!name.contains(WINDOWS_FORBIDDEN), "{ctx}");
        assert!(!name.chars().any(is_escaped), "{ctx}");
        assert!(!name.starts_with(['.', ' ']), "{ctx}");
        assert!(!name.ends_with(['.', ' ']), "{ctx}");
        assert!(!name.contains("  "), "{ctx}");
        assert!(
            !name.chars().any(|c| c.is_whitespace() && c != ' '),
            "{ctx}"
        );
        assert!(!is_windows_device(name), "{ctx}");
        assert_eq!(safe(name), name, "not stable: {ctx}");
    }

    #[test]
    fn hostile_names() {
        let cases: &[(&str, &str)] = &[
            ("report.pdf", "report.pdf"),
            ("Übersicht März.xlsx", "Übersicht März.xlsx"),
            ("../../etc/passwd", "passwd"),
            ("..", "attachment"),
            ("../", "attachment"),
            ("/", "attachment"),
            ("C:\\Users\\bob\\cv.pdf", "cv.pdf"),
            ("dir/..", "attachment"),
            (".bashrc", "bashrc"),
            ("...hidden.txt", "hidden.txt"),
            ("report.pdf.", "report.pdf"),
            ("report.pdf .  ", "report.pdf"),
            ("a\0b.txt", "ab.txt"),
            ("a\r\nSubject: x.txt", "aSubject_ x.txt"),
            ("invoice\u{202e}fdp.exe", "invoicefdp.exe"),
            ("\u{2066}x\u{2069}\u{200b}y\u{feff}.doc", "xy.doc"),
            ("\u{1b}]0;title\u{7}a.png", "]0;titlea.png"),
            ("a<b>c:d\"e|f?g*h.txt", "a_b_c_d_e_f_g_h.txt"),
            ("invoice.pdf            .exe", "invoice.pdf .exe"),
            ("a\u{a0}\u{3000}b", "a b"),
            ("CON", "_CON"),
            ("con.txt", "_con.txt"),
            ("Com1.tar.gz", "_Com1.tar.gz"),
            ("LPT9", "_LPT9"),
            ("lpt¹.txt", "_lpt¹.txt"),
            ("nul .txt", "_nul .txt"),
            ("CONSOLE.txt", "CONSOLE.txt"),
            ("COM10", "COM10"),
            ("", "attachment"),
            ("   ", "attachment"),
            ("\u{202e}\u{0}", "attachment"),
        ];
        for (original, expected) in cases {
            let name = safe(original);
            assert_eq!(&name, expected, "{original:?}");
            assert_invariants(original, &name);
        }
        assert_eq!(safe_filename(None, "application/pdf"), "attachment.pdf");
        assert_eq!(safe_filename(Some(".."), "IMAGE/PNG"), "attachment.png");
        assert_eq!(safe_filename(None, "application/x-unknown"), "attachment");
    }

    #[test]
    fn long_names_are_cut_on_a_char_boundary_keeping_the_extension() {
        let huge = "a".repeat(200_000);
        assert_eq!(safe(&huge), "a".repeat(MAX_FILENAME_BYTES));
        let name = safe(&format!("{huge}.pdf"));
        assert_eq!(name.len(), MAX_FILENAME_BYTES);
        assert!(name.ends_with("aaa.pdf"), "{name}");
        // Three-byte characters: the cut falls inside one.
        let name = safe(&format!("{}.docx", "日".repeat(100)));
        assert!(name.len() <= MAX_FILENAME_BYTES, "{name}");
        assert!(name.ends_with("日.docx"), "{name}");
        // An extension that is not one (too long, or not alphanumeric) is not kept apart.
        let name = safe(&format!("{}.{}", "b".repeat(150), "c".repeat(100)));
        assert_eq!(name.len(), MAX_FILENAME_BYTES);
        // A cut that ends on a dot or space is trimmed.
        let name = safe(&format!(
            "{}.x{}",
            "d".repeat(MAX_FILENAME_BYTES - 1),
            "e".repeat(50)
        ));
        assert_eq!(name, "d".repeat(MAX_FILENAME_BYTES - 1));
        let name = safe(&format!("{} {}.pdf", "f".repeat(195), "g".repeat(30)));
        assert_eq!(name, format!("{}.pdf", "f".repeat(195)));
    }

    #[test]
    fn generated_names_keep_every_invariant() {
        // Characters a hostile sender would pick, and ordinary ones.
        let alphabet: Vec<char> = "aZ09._- /\\<>:\"|?*~é日😀"
            .chars()
            .chain([
                '\0', '\t', '\n', '\r', '\u{1b}', '\u{7f}', '\u{85}', '\u{9b}',
            ])
            .chain([
                '\u{a0}', '\u{ad}', '\u{200b}', '\u{200d}', '\u{202e}', '\u{2028}',
            ])
            .chain(['\u{2066}', '\u{feff}', '\u{e0041}', '\u{3000}', '¹'])
            .collect();
        let words = [
            "CON", "nul", "com1", "LPT3", "..", ".", "pdf", "exe", "conin$",
        ];
        let mut rng = rand::rng();
        for _ in 0..20_000 {
            let len = if rng.random_bool(0.02) {
                rng.random_range(150..600)
            } else {
                rng.random_range(0..24)
            };
            let mut s = String::new();
            while s.chars().count() < len {
                if rng.random_bool(0.1) {
                    s.push_str(words[rng.random_range(0..words.len())]);
                } else {
                    s.push(alphabet[rng.random_range(0..alphabet.len())]);
                }
            }
            let name = safe(&s);
            assert_invariants(&s, &name);
            // Any valid character at all.
            let s: String = (0..rng.random_range(0..12))
                .filter_map(|_| char::from_u32(rng.random_range(0..0x11_0000)))
                .collect();
            assert_invariants(&s, &safe(&s));
        }
    }
}
