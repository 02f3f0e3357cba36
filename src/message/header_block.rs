//! A message's header section read as bytes, field by field, with offsets.
//!
//! Where the message is parsed anyway, its headers come from the MIME parser. This reader is
//! for the places that must look at the bytes themselves: the rules checked before a message
//! is taken in (the header block's size, the `Received:` count that shows a loop), and
//! stamping an agent's mail, which rewrites a few fields and must copy every other byte as
//! it is. One reader for all of them, so they agree on where a field starts and where the
//! header section ends.
//!
//! Lenient on purpose: every line up to the first empty one belongs to the block; a line
//! that starts with a space or a tab continues the field before it; a line that is no field
//! (no `name:`) is kept, without a name, so nothing is lost when the block is written out.

const CRLF: &[u8] = b"\r\n";
const LF: &[u8] = b"\n";

/// The top-level header block of a message, as byte offsets into it.
#[derive(Debug)]
pub struct HeaderBlock {
    pub fields: Vec<Field>,
    /// Offset of the empty line that ends the block (or the input's length).
    pub end: usize,
    /// Line ending of the first header line (CRLF when it has none).
    pub eol: &'static [u8],
}

/// One header field with its continuation lines, or a line that is no field (`name: None`).
#[derive(Debug)]
pub struct Field {
    pub start: usize,
    /// Where the field's name is.
    pub name: Option<(usize, usize)>,
    /// Offset just after the colon (`start` for a line that is no field).
    pub value_start: usize,
    /// Offset after the field's last line ending.
    pub end: usize,
}

impl HeaderBlock {
    /// Reads the header block of `raw` (after an mbox `From ` separator line, if any).
    pub fn read(raw: &[u8]) -> HeaderBlock {
        let mut pos = 0;
        let first = &raw[..line_end(raw, 0)];
        if first.starts_with(b"From ") && field_colon(first).is_none() {
            pos = first.len(); // mbox separator line
        }
        let first = &raw[pos..line_end(raw, pos)];
        let eol = if first.ends_with(CRLF) || !first.ends_with(LF) {
            CRLF
        } else {
            LF
        };
        let mut fields: Vec<Field> = Vec::new();
        while pos < raw.len() {
            let end = line_end(raw, pos);
            let line = &raw[pos..end];
            if line == CRLF || line == LF {
                break;
            }
            match (line.first(), fields.last_mut()) {
                (Some(b' ' | b'\t'), Some(last)) => last.end = end,
                _ => fields.push(match field_colon(line) {
                    Some((name_len, colon)) => Field {
                        start: pos,
                        name: Some((pos, pos + name_len)),
                        value_start: pos + colon + 1,
                        end,
                    },
                    None => Field {
                        start: pos,
                        name: None,
                        value_start: pos,
                        end,
                    },
                }),
            }
            pos = end;
        }
        HeaderBlock {
            fields,
            end: pos,
            eol,
        }
    }

    /// Whether the block starts with a header field: whether `raw` looks like a message.
    pub fn starts_with_field(&self) -> bool {
        self.fields.first().is_some_and(|f| f.name.is_some())
    }

    /// The block's length in `raw`, with the empty line that ends it.
    pub fn len_with_separator(&self, raw: &[u8]) -> usize {
        line_end(raw, self.end)
    }

    /// The fields called `name` (case-insensitive), in order.
    pub fn fields_named<'s>(
        &'s self,
        raw: &'s [u8],
        name: &'s str,
    ) -> impl Iterator<Item = &'s Field> {
        self.fields.iter().filter(move |field| field.is(raw, name))
    }
}

impl Field {
    /// Whether the field is called `name` (case-insensitive).
    pub fn is(&self, raw: &[u8], name: &str) -> bool {
        self.name
            .is_some_and(|(start, end)| raw[start..end].eq_ignore_ascii_case(name.as_bytes()))
    }

    /// The value after the colon, with folding, without the final line ending.
    pub fn value<'r>(&self, raw: &'r [u8]) -> &'r [u8] {
        let value = &raw[self.value_start..self.end];
        let value = value.strip_suffix(LF).unwrap_or(value);
        value.strip_suffix(b"\r").unwrap_or(value)
    }
}

/// Offset after the line that starts at `start` (after its LF, or the end of the input).
fn line_end(raw: &[u8], start: usize) -> usize {
    raw.get(start..)
        .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
        .map_or(raw.len(), |i| start + i + 1)
}

/// RFC 5322 ftext: printable ASCII except the colon (the bytes of a field name).
pub fn is_ftext(b: u8) -> bool {
    matches!(b, 33..=57 | 59..=126)
}

/// If `line` starts a header field: the length of its name and the offset of its colon
/// (obsolete syntax allows whitespace between the two).
fn field_colon(line: &[u8]) -> Option<(usize, usize)> {
    let name_len = line.iter().take_while(|&&b| is_ftext(b)).count();
    let colon = name_len
        + line[name_len..]
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
    (name_len > 0 && line.get(colon) == Some(&b':')).then_some((name_len, colon))
}

/// Removes the line breaks of folding (CRLF or LF); the whitespace after them stays.
pub fn unfold(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while let Some(&b) = value.get(i) {
        if b == b'\r' && value.get(i + 1) == Some(&b'\n') {
            i += 2;
        } else {
            if b != b'\n' {
                out.push(b);
            }
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_folding_and_the_end_of_the_block() {
        let raw = b"Received: from a\r\n\tby b\r\nSubject : hi\r\nnot a field\r\n\r\nbody: x\r\n";
        let block = HeaderBlock::read(raw);
        assert_eq!(block.fields.len(), 3);
        assert!(block.starts_with_field());
        assert_eq!(block.fields_named(raw, "received").count(), 1);
        let received = &block.fields[0];
        assert_eq!(unfold(received.value(raw)), b" from a\tby b");
        assert_eq!(block.fields[1].value(raw), b" hi");
        assert!(block.fields[2].name.is_none());
        assert_eq!(&raw[block.len_with_separator(raw)..], b"body: x\r\n");
    }

    #[test]
    fn no_header_block() {
        for raw in [
            &b"just words\r\nmore\r\n"[..],
            b"",
            b"\r\n\r\nx: y\r\n",
            b" x: y\r\n",
        ] {
            assert!(!HeaderBlock::read(raw).starts_with_field(), "{raw:?}");
        }
        let raw = b"From bob@example.org Tue Dec  1 10:00:00 2026\nSubject: x\n\nbody\n";
        let block = HeaderBlock::read(raw);
        assert!(block.starts_with_field());
        assert_eq!(block.eol, LF);
    }

    #[test]
    fn a_block_without_an_end_is_all_of_the_input() {
        let raw = b"Subject: x\r\nFrom: y";
        let block = HeaderBlock::read(raw);
        assert_eq!(block.end, raw.len());
        assert_eq!(block.len_with_separator(raw), raw.len());
    }
}
