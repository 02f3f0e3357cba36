//! The DATA state machine: the bytes of one message, unstuffed, up to `<CRLF>.<CRLF>`.
//!
//! Kept apart from the socket ([`super::connection`]) so that it can be tested and fuzzed
//! split at every byte position: this is where SMTP smuggling is decided. Only
//! `<CRLF>.<CRLF>` ends DATA, where the first CRLF really is a CRLF; a bare LF ends a
//! content line (stored as CRLF) but never takes part in the end of data; dot-unstuffing
//! applies only to lines that follow a CRLF. The common case, a run of CRLF lines none of
//! which starts with a period, is copied in one piece.

use super::connection::Data;
use sha2::{Digest, Sha256};

/// The DATA state machine, fed with whatever bytes arrived. Separate from the socket so it
/// can be tested (and fuzzed) split at every byte position.
pub(crate) struct DataFramer {
    max: usize,
    /// Bytes consumed from the client, to stop a client that never ends.
    consumed: usize,
    /// The current line started right after a CRLF (or at the start of data).
    after_crlf: bool,
    /// We are at the first byte of a line.
    at_line_start: bool,
    /// The last byte of the current line was CR.
    prev_cr: bool,
    too_big: bool,
    bare_lf: bool,
    /// The SHA-256 of the output so far, up to `hashed` bytes: fed at the end of every
    /// [`DataFramer::feed`], with the bytes of that read (still in the cache), rather than
    /// in a second pass over the whole message once it is in.
    sha256: Sha256,
    hashed: usize,
}

impl DataFramer {
    pub fn new(max: usize) -> Self {
        DataFramer {
            max,
            consumed: 0,
            after_crlf: true,
            at_line_start: true,
            prev_cr: false,
            too_big: false,
            bare_lf: false,
            sha256: Sha256::new(),
            hashed: 0,
        }
    }

    /// Hashes what `out` gained since the last call.
    fn hash_new(&mut self, out: &[u8]) {
        if let Some(new) = out.get(self.hashed..) {
            self.sha256.update(new);
            self.hashed = out.len();
        }
    }

    fn push(&mut self, out: &mut Vec<u8>, bytes: &[u8]) {
        if self.too_big {
            return;
        }
        if out.len() + bytes.len() > self.max {
            self.too_big = true;
            *out = Vec::new();
            return;
        }
        out.extend_from_slice(bytes);
    }

    /// Consumes a prefix of `input`; returns how much, and the end if it was reached.
    ///
    /// The common case — lines that end in CRLF and are followed by a line that does not
    /// start with a period — comes out exactly as it went in, so such a run of lines is
    /// found with one pass of `memchr_iter` over the read and copied in one piece, rather
    /// than line by line. Everything else (a bare LF, a line after a CRLF that starts with
    /// a period, a line cut by the end of the read) takes the byte rules below, unchanged.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> (usize, Option<Data>) {
        let mut i = 0;
        while i < input.len() {
            if self.consumed.saturating_add(i) > self.max.saturating_mul(2) {
                return (i, Some(Data::Runaway));
            }
            let rest = &input[i..];
            if self.at_line_start {
                if self.after_crlf && rest[0] == b'.' {
                    // Decide with the first three bytes: ".\r\n" ends; "." + more unstuffs.
                    if rest.len() < 3 && !rest.contains(&b'\n') {
                        break; // wait for more bytes
                    }
                    if rest.starts_with(b".\r\n") {
                        self.consumed += i + 3;
                        let end = if self.too_big {
                            Data::TooBig
                        } else {
                            self.hash_new(out);
                            Data::Complete {
                                bare_lf: self.bare_lf,
                                sha256: std::mem::take(&mut self.sha256).finalize().into(),
                            }
                        };
                        return (i + 3, Some(end));
                    }
                    if rest.len() >= 2 && rest[1] != b'\n' {
                        // A period followed by other characters: drop the stuffed period.
                        i += 1;
                    }
                }
                self.at_line_start = false;
                self.prev_cr = false;
                continue;
            }
            match self.copy_lines(input, i, out) {
                Ok(next) => i = next,
                Err(at) => return (at, Some(Data::Runaway)),
            }
        }
        self.consumed += i;
        if self.consumed > self.max.saturating_mul(2) {
            return (i, Some(Data::Runaway));
        }
        if !self.too_big {
            self.hash_new(out);
        }
        (i, None)
    }

    /// From `start`, inside a line, copies lines to `out` up to the first place the byte
    /// rules must look at: the start of a line after a CRLF that begins with a period, or
    /// the end of `input`. Returns where that is; `Err` with the line start where the client
    /// went past twice the size limit (checked at every line start, as the byte rules do).
    fn copy_lines(
        &mut self,
        input: &[u8],
        start: usize,
        out: &mut Vec<u8>,
    ) -> Result<usize, usize> {
        // `run` is the stretch that goes out as it came in; `line` where the current line
        // started in `input` (`None`: before `start`, so its CR may have come in an earlier
        // read, which `prev_cr` remembers).
        let mut run = start;
        let mut line: Option<usize> = None;
        for lf in memchr::memchr_iter(b'\n', &input[start..]).map(|k| start + k) {
            let cr = match line {
                None if lf == start => self.prev_cr,
                Some(l) if lf == l => false,
                _ => input[lf - 1] == b'\r',
            };
            let next = lf + 1;
            if cr {
                self.after_crlf = true;
            } else {
                // A bare LF: stored as CRLF, and never part of an end of data.
                self.push(out, &input[run..lf]);
                self.push(out, b"\r\n");
                self.bare_lf = true;
                self.after_crlf = false;
                run = next;
            }
            if next == input.len() || (cr && input[next] == b'.') {
                self.push(out, &input[run..next]);
                self.at_line_start = true;
                return Ok(next);
            }
            if self.consumed.saturating_add(next) > self.max.saturating_mul(2) {
                self.push(out, &input[run..next]);
                return Err(next);
            }
            line = Some(next);
        }
        // The line goes on in the next read.
        self.push(out, &input[run..]);
        self.prev_cr = input.last() == Some(&b'\r');
        Ok(input.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(input: &[u8]) -> (Vec<u8>, Option<Data>, usize) {
        let mut f = DataFramer::new(1 << 20);
        let mut out = Vec::new();
        let (used, end) = f.feed(input, &mut out);
        (out, end, used)
    }

    /// Feeds `input` split at every position; the result must not depend on the split.
    fn frame_split(input: &[u8]) -> (Vec<u8>, Option<Data>) {
        let whole = frame(input);
        for cut in 0..=input.len() {
            let mut f = DataFramer::new(1 << 20);
            let mut out = Vec::new();
            let mut pending = input[..cut].to_vec();
            let (used, end) = f.feed(&pending, &mut out);
            let mut result = end;
            if result.is_none() {
                pending.drain(..used);
                pending.extend_from_slice(&input[cut..]);
                let (_, end) = f.feed(&pending, &mut out);
                result = end;
            }
            assert_eq!(
                (out.clone(), result.as_ref()),
                (whole.0.clone(), whole.1.as_ref()),
                "split at {cut}"
            );
        }
        (whole.0, whole.1)
    }

    /// The end of a message whose bytes are `out`: the SHA-256 computed as the bytes came
    /// in (split anywhere, as `frame_split` checks) is the SHA-256 of the whole message.
    fn complete(out: &[u8], bare_lf: bool) -> Data {
        Data::Complete {
            bare_lf,
            sha256: Sha256::digest(out).into(),
        }
    }

    #[test]
    fn empty_body_ends_at_first_line() {
        let (out, end) = frame_split(b".\r\n");
        assert_eq!(out, b"");
        assert_eq!(end, Some(complete(&out, false)));
    }

    #[test]
    fn unstuffs_and_ends() {
        let (out, end) = frame_split(b"Subject: x\r\n\r\n..hidden\r\n.\r\nMAIL FROM:<a@b>\r\n");
        assert_eq!(out, b"Subject: x\r\n\r\n.hidden\r\n");
        assert_eq!(end, Some(complete(&out, false)));
        let (_, _, used) = frame(b"a\r\n.\r\nNEXT");
        assert_eq!(used, 6);
    }

    #[test]
    fn only_crlf_dot_crlf_ends() {
        for bad in [
            &b"a\n.\nb"[..],
            b"a\r.\rb",
            b"a\r.\nb",
            b"a\n.\rb",
            b"a\n.\r\nb",
            b"a\r.\r\nb",
            b"a\r\n.\rb",
            b"a\r\n.\nb",
            b"a\r\n.\r\r\nb",
            b"a\r\n\0.\r\nb",
        ] {
            let mut input = bad.to_vec();
            input.extend_from_slice(b"\r\n.\r\n");
            let (out, end) = frame_split(&input);
            assert!(matches!(end, Some(Data::Complete { .. })), "{bad:?}");
            // Everything before the real end is data.
            assert!(out.ends_with(b"b\r\n"), "{bad:?} -> {out:?}");
        }
    }

    #[test]
    fn bare_lf_is_normalized_and_flagged() {
        let (out, end) = frame_split(b"a\nb\r\n.\r\n");
        assert_eq!(out, b"a\r\nb\r\n");
        assert_eq!(end, Some(complete(&out, true)));
        // No unstuffing after a bare LF.
        let (out, _) = frame_split(b"a\n..b\r\n.\r\n");
        assert_eq!(out, b"a\r\n..b\r\n");
    }

    #[test]
    fn bare_cr_is_data() {
        let (out, _) = frame_split(b"a\rb\r\n.\r\n");
        assert_eq!(out, b"a\rb\r\n");
    }

    /// The framer as it was before runs of lines were copied whole (one `memchr` and two
    /// pushes per line): the reference the fast path must agree with, byte for byte.
    fn frame_line_by_line(input: &[u8], max: usize) -> (Vec<u8>, Option<Data>) {
        let (mut out, mut too_big, mut bare_lf) = (Vec::new(), false, false);
        let (mut after_crlf, mut at_line_start, mut prev_cr) = (true, true, false);
        let push = |out: &mut Vec<u8>, too_big: &mut bool, bytes: &[u8]| {
            if !*too_big && out.len() + bytes.len() > max {
                *too_big = true;
                out.clear();
            } else if !*too_big {
                out.extend_from_slice(bytes);
            }
        };
        let mut i = 0;
        while i < input.len() {
            if i > max * 2 {
                return (out, Some(Data::Runaway));
            }
            let rest = &input[i..];
            if at_line_start {
                if after_crlf && rest[0] == b'.' {
                    if rest.len() < 3 && !rest.contains(&b'\n') {
                        break;
                    }
                    if rest.starts_with(b".\r\n") {
                        let end = if too_big {
                            Data::TooBig
                        } else {
                            complete(&out, bare_lf)
                        };
                        return (out, Some(end));
                    }
                    if rest.len() >= 2 && rest[1] != b'\n' {
                        i += 1;
                    }
                }
                at_line_start = false;
                prev_cr = false;
                continue;
            }
            match rest.iter().position(|&b| b == b'\n') {
                Some(lf) => {
                    let cr = if lf > 0 {
                        rest[lf - 1] == b'\r'
                    } else {
                        prev_cr
                    };
                    push(&mut out, &mut too_big, &rest[..lf]);
                    if cr {
                        push(&mut out, &mut too_big, b"\n");
                    } else {
                        bare_lf = true;
                        push(&mut out, &mut too_big, b"\r\n");
                    }
                    after_crlf = cr;
                    at_line_start = true;
                    i += lf + 1;
                }
                None => {
                    push(&mut out, &mut too_big, rest);
                    prev_cr = rest.last() == Some(&b'\r');
                    i = input.len();
                }
            }
        }
        if i > max * 2 {
            return (out, Some(Data::Runaway));
        }
        (out, None)
    }

    /// Random inputs made of the bytes the rules care about, fed in random pieces: the
    /// framer's output, end and hash are those of the line-by-line reference.
    #[test]
    fn runs_of_lines_frame_like_the_byte_rules() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(24);
        let alphabet = [b'\r', b'\n', b'.', b'a', b'a', b'a'];
        for round in 0..20_000 {
            let len = rng.random_range(0..60);
            let mut input: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            if round % 2 == 0 {
                input.extend_from_slice(b"\r\n.\r\n");
            }
            let max = if round % 5 == 0 { 8 } else { 1 << 20 };
            let expected = frame_line_by_line(&input, max);
            let mut f = DataFramer::new(max);
            let mut out = Vec::new();
            let mut pending: Vec<u8> = Vec::new();
            let mut fed = 0;
            let mut end = None;
            while end.is_none() && fed < input.len() {
                let piece = rng.random_range(1..=input.len() - fed);
                pending.extend_from_slice(&input[fed..fed + piece]);
                fed += piece;
                let (used, e) = f.feed(&pending, &mut out);
                pending.drain(..used);
                end = e;
            }
            // What is kept of a message that is refused does not matter.
            let kept = |(out, end): (Vec<u8>, Option<Data>)| match end {
                None | Some(Data::Complete { .. }) => (out, end),
                _ => (Vec::new(), end),
            };
            assert_eq!(
                kept((out, end)),
                kept(expected),
                "{:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }

    #[test]
    fn too_big_drains_then_runaway() {
        let mut f = DataFramer::new(10);
        let mut out = Vec::new();
        let (_, end) = f.feed(b"0123456789abcdef\r\n.\r\n", &mut out);
        assert_eq!(end, Some(Data::TooBig));
        assert!(out.is_empty());
        let mut f = DataFramer::new(10);
        let (_, end) = f.feed(&[b'x'; 100], &mut out);
        assert_eq!(end, Some(Data::Runaway));
    }
}
