//! Linear time on hostile input, no panics, the analysis budget, and the line keys.

use super::*;

#[test]
fn pathological_inputs_are_fast() {
    let start = std::time::Instant::now();
    let big_quote = "> ".to_string() + &">".repeat(1_000_000);
    let _ = split_plain(&big_quote);
    let long_line = "On ".to_string() + &"a@b 12:30 ".repeat(100_000) + "wrote:";
    let _ = split_plain(&long_line);
    let many: String = (0..100_000).map(|i| format!("> line {i}\n")).collect();
    let _ = split_plain(&format!("Hi\n{many}"));
    let many_colons: String = "On x wrote:\n".repeat(50_000);
    let _ = split_plain(&many_colons);
    let headers: String = "From: a\n".repeat(50_000);
    let _ = split_plain(&headers);
    // Forwards with no note inside forwards: unwrapped to a bounded depth, each line once.
    let forwards =
        "---------- Forwarded message ---------\nFrom: a@example.com\nSubject: Fwd: x\n\n"
            .repeat(20_000);
    let s = split_plain(&forwards);
    assert!(s.no_new_text || !s.reply.is_empty());
    // Inline answers: every quote is context, once.
    let answers = "> question?\nanswer\n".repeat(50_000);
    let _ = split_plain(&answers);
    // Generous bound (debug builds, busy machines): it catches quadratic blow-ups.
    let limit = if cfg!(debug_assertions) { 20.0 } else { 3.0 };
    assert!(
        start.elapsed().as_secs_f64() < limit,
        "{:?}",
        start.elapsed()
    );
}

/// A small xorshift generator, so the fuzz test needs no dependency.
fn rng(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn random_bytes_never_panic() {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let pieces: &[&[u8]] = &[
        b"> ",
        b"\n",
        b"\r\n",
        b"On ",
        b" wrote:",
        b"From: ",
        b"-- ",
        b"Sent from my iPhone",
        "写道：".as_bytes(),
        "é".as_bytes(),
        b"_____",
        b"-----",
        b":",
        b"\xff\xfe",
        b"\xe2\x80",
    ];
    for _ in 0..3000 {
        let len = (rng(&mut seed) % 200) as usize;
        let mut bytes = Vec::new();
        for _ in 0..len {
            let r = rng(&mut seed);
            if r.is_multiple_of(3) {
                bytes.extend_from_slice(pieces[(r as usize / 3) % pieces.len()]);
            } else {
                bytes.push((r >> 8) as u8);
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let s = split_plain(&text);
        // Never lose the customer's text entirely: an empty reply means all of it is
        // recognised history, kept in quoted.
        if text.chars().any(|c| !c.is_whitespace() && !is_invisible(c)) {
            assert!(!s.reply.is_empty() || (s.no_new_text && !s.quoted.is_empty()));
        }
    }
}

/// A line of `n` bytes of prose (no pattern matches it).
fn prose_lines(total: usize) -> String {
    let line = "The export still fails with the same error after the update, see below.\n";
    line.repeat(total / line.len() + 1)
}

#[test]
fn huge_body_markers_within_budget_still_trim() {
    let body = format!(
        "{}\n-----Original Message-----\nFrom: Support\n\nOld text\n",
        prose_lines(40 * 1024)
    );
    let s = split_plain(&body);
    assert!(s.quoted.starts_with("-----Original Message-----"));
    assert!(!s.reply.contains("Old text"));
}

#[test]
fn huge_body_beyond_budget_keeps_text_but_still_drops_quotes_and_signature() {
    // Past the analysis budget no marker is looked for: the text below it stays in the
    // reply (nothing is lost). `>` quotes are recognised everywhere, and the last lines are
    // still checked for a mobile signature.
    let body = format!(
        "{}\nOn Mon, Mar 1, 2021 at 10:00 AM, Support <help@example.com> wrote:\n> quoted\n\n{}\n-----Original Message-----\nOld text\n{}\nSent from my iPhone\n",
        prose_lines(30 * 1024),
        prose_lines(2 * ANALYZE_BUDGET),
        "More old text\n".repeat(SIGNATURE_LINES)
    );
    let s = split_plain(&body);
    assert!(s.reply.contains("-----Original Message-----\nOld text"));
    // The customer's text follows the quote: it is the context of an answer.
    assert!(s.reply.contains("> quoted"));
    assert!(!s.reply.contains("On Mon, Mar 1, 2021"));
    assert!(!s.reply.contains("Sent from my iPhone"));
    assert!(s.quoted.ends_with("Sent from my iPhone"));
}

/// The definition `make_key` implements, one `char` at a time with Unicode's rules.
fn key_by_chars(s: &str) -> (String, bool) {
    let mut out = String::new();
    let mut count = 0;
    let mut space = false;
    for c in s.chars().filter(|c| !is_invisible(*c)) {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if count >= MAX_KEY_CHARS {
            return (out, true);
        }
        if space {
            out.push(' ');
            count += 1;
            space = false;
        }
        // Turkish İ is "i" (no combining dot: "İletilen ileti" reads "iletilen ileti");
        // Arabic-Indic and full-width digits are ASCII digits.
        if c == 'İ' {
            out.push('i');
        } else if let Some(d) = ('\u{0660}'..='\u{0669}')
            .position(|x| x == c)
            .or_else(|| ('\u{06F0}'..='\u{06F9}').position(|x| x == c))
            .or_else(|| ('\u{FF10}'..='\u{FF19}').position(|x| x == c))
        {
            out.push(char::from(b'0' + d as u8));
        } else {
            out.extend(c.to_lowercase());
        }
        count += 1;
    }
    (out, false)
}

#[test]
fn key_ascii_path_agrees_with_unicode_rules() {
    let samples = [
        "",
        "   ",
        "On Mon, 3 Jun 2024 at 10:00, Support <help@example.com> wrote:",
        "  \tFROM:\x0bBob\x0c  Smith\r",
        "Von:\u{00A0}Bob\u{2003}Müller\u{200B}",
        "ÉTÉ ΣΊΣΥΦΟΣ İstanbul \u{FEFF}Straße",
        "في الخميس، ٣ مارس ٢٠١٦ في ٥:٢١ م ۱۲ ２０１６年",
        "İLT: İletilen ileti",
        "\u{0130}\u{0307}",
        "FW: Pedido 12345\u{0130}",
        "发件人：  张三\u{3000}<zhang@example.cn>",
        "a\u{0085}b\u{00AD}c\u{2028}d",
        "*De :* Jean",
    ];
    for s in samples {
        assert_eq!(make_key(s), key_by_chars(s), "{s:?}");
    }
    // Every ASCII byte, at every offset from an eight-byte boundary (the run is scanned a
    // word at a time): controls, the bytes around `A`–`Z`, `@`, DEL.
    let ascii: String = (0u8..128).map(char::from).collect();
    for shift in 0..8 {
        let s = format!(
            "{}{}{}",
            "Q".repeat(shift),
            ascii.repeat(2),
            "ZZ@Xy".repeat(9)
        );
        assert_eq!(make_key(&s), key_by_chars(&s), "{shift}");
    }
    // Truncation counts characters (and the inserted spaces), not bytes.
    for s in [
        "x".repeat(500),
        "é ".repeat(300),
        format!("{} {}", "a".repeat(400), "b"),
    ] {
        assert_eq!(make_key(&s), key_by_chars(&s), "{s:?}");
        assert!(make_key(&s).1);
    }
    // Runs of ASCII ending on, before and after the limit, with and without a space or a
    // wider character in front.
    for n in 395..=405 {
        for s in [
            "a".repeat(n),
            format!("{} {}", "b".repeat(n - 10), "c".repeat(20)),
            format!("{}É{}", "d".repeat(n - 5), "e".repeat(10)),
            format!("  {}\u{200B}{} ", "F".repeat(n / 2), "G".repeat(n / 2)),
            "ab ".repeat(n / 3),
            format!("{}\u{00A0}x", "é".repeat(n - 1)),
        ] {
            assert_eq!(make_key(&s), key_by_chars(&s), "{n}: {s:?}");
        }
    }
    // Every single character, each with ASCII on both sides.
    for c in (0..0x3100u32).filter_map(char::from_u32) {
        let s = format!("A {c}B\t{c}");
        assert_eq!(make_key(&s), key_by_chars(&s), "U+{:04X}", c as u32);
    }
}
