//! One header rule at a time: the Subject prefix, References, In-Reply-To, display names,
//! msg-id parsing, encodings.

use super::*;

#[test]
fn re_prefix_rules() {
    let cases: &[(&str, &str)] = &[
        ("Subject: Hello", "Subject: Re: Hello"),
        ("Subject: Re: Hello", "Subject: Re: Hello"),
        ("Subject: RE: Hello", "Subject: RE: Hello"),
        ("Subject: re : Hello", "Subject: re : Hello"),
        ("Subject: AW: Hallo", "Subject: AW: Hallo"),
        ("Subject: SV: Hej", "Subject: SV: Hej"),
        ("Subject: Re[2]: Hello", "Subject: Re[2]: Hello"),
        ("Subject: Re: Re: Hello", "Subject: Re: Hello"),
        ("Subject: RE: AW: re:Hello", "Subject: Re: Hello"),
        ("Subject: Re: Re:", "Subject: Re:"),
        ("Subject: Fwd: Hello", "Subject: Re: Fwd: Hello"),
        ("Subject: Re: Fwd: Hello", "Subject: Re: Fwd: Hello"),
        ("Subject: Reply needed", "Subject: Re: Reply needed"),
        ("Subject: Regarding: x", "Subject: Re: Regarding: x"),
        ("Subject:Hello", "Subject: Re: Hello"),
        ("Subject:", "Subject: Re:"),
        ("Subject:   ", "Subject: Re:"),
        ("subject: hello", "subject: Re: hello"),
        (
            "Subject: =?UTF-8?B?R3LDvMOfZQ==?=",
            "Subject: Re: =?UTF-8?B?R3LDvMOfZQ==?=",
        ),
        (
            "Subject: =?UTF-8?Q?Re=3A_Gr=C3=BC=C3=9Fe?=",
            "Subject: =?UTF-8?Q?Re=3A_Gr=C3=BC=C3=9Fe?=",
        ),
        (
            "Subject: Re: =?UTF-8?Q?Re=3A_x?=",
            "Subject: =?UTF-8?Q?Re=3A_x?=",
        ),
        (
            "Subject: Re:\n Re: folded\n tail",
            "Subject: Re: folded\n tail",
        ),
        ("Subject:\n Hello", "Subject:\n Re: Hello"),
    ];
    for (subject, expected) in cases {
        let raw = format!("From: a@x\n{subject}\n\nbody");
        let out = stamp(raw.as_bytes(), &params(Some("p@x"), &[]))
            .unwrap()
            .bytes;
        let text = String::from_utf8(out).unwrap();
        let expected = format!("\nFrom: a@x\n{expected}\n\nbody");
        assert!(text.ends_with(&expected), "{subject:?}: got {text:?}");
        // Never two reply prefixes, whatever the input.
        let again = stamp(text.as_bytes(), &params(Some("p@x"), &[]))
            .unwrap()
            .bytes;
        assert_eq!(again, text.as_bytes());
    }
    // No Subject: none is invented. Not answering: Subject untouched.
    let out = stamp(b"From: a@x\n\nbody", &params(Some("p@x"), &[]))
        .unwrap()
        .bytes;
    assert!(header_values(&out, "Subject").is_empty());
    let out = stamp(b"Subject: Hello\n\n", &params(None, &[]))
        .unwrap()
        .bytes;
    assert_eq!(header_values(&out, "Subject"), vec!["Hello"]);
}

#[test]
fn references_capped_deduplicated_and_folded() {
    let prev: Vec<String> = (0..30).map(|i| format!("m{i}@s.example")).collect();
    let raw = b"References: <m3@s.example> <own@x> <m1@s.example>\nIn-Reply-To: <own2@x>\n\n";
    let p = params(Some("m5@s.example"), &prev);
    let out = stamp(raw, &p).unwrap().bytes;
    let refs: Vec<String> = header_values(&out, "References")
        .iter()
        .flat_map(|v| parse_msg_ids(v))
        .collect();
    assert_eq!(refs.len(), MAX_REFERENCES);
    assert_eq!(refs[0], "m0@s.example");
    assert_eq!(refs.last().map(String::as_str), Some("m5@s.example"));
    // Most recent kept: the tail of prev (minus the parent), then the message's own ids.
    let mut expected: Vec<String> = (0..30)
        .filter(|i| *i != 5)
        .map(|i| format!("m{i}@s.example"))
        .chain(["own@x".to_string(), "own2@x".to_string()])
        .collect();
    expected.push("m5@s.example".into());
    let tail = &expected[expected.len() - (MAX_REFERENCES - 1)..];
    assert_eq!(&refs[1..], tail);
    let unique: HashSet<&String> = refs.iter().collect();
    assert_eq!(unique.len(), refs.len());

    // OUR_ID is longer than a line: Message-ID stays on one line (never folded inside).
    for line in lines(header_block(&out))
        .iter()
        .filter(|l| !l.starts_with(b"Message-ID:"))
    {
        assert!(line.len() - 1 <= FOLD_COLUMN, "{line:?}");
    }
    let block = String::from_utf8_lossy(header_block(&out)).into_owned();
    assert!(block.contains("References: <m0@s.example> <m"));
    assert!(block.contains("\n <m"));

    // Our own Message-ID, invalid ids and duplicates never appear.
    let prev = strings(&["a@x", OUR_ID, "bad id@x", "", "a@x", "<b@x>", "c@x"]);
    let out = stamp(b"Subject: s\n\n", &params(Some("c@x"), &prev))
        .unwrap()
        .bytes;
    assert_eq!(header_values(&out, "References"), vec!["<a@x> <c@x>"]);
}

#[test]
fn in_reply_to_none_removes_existing_and_keeps_its_ids() {
    let raw = b"In-Reply-To: <elsewhere@x>\r\nSubject: Hello\r\n\r\nb";
    let p = params(None, &[]);
    let out = stamp(raw, &p).unwrap().bytes;
    check(raw, &out, &p, &["elsewhere@x"]);
    assert!(header_values(&out, "In-Reply-To").is_empty());
    assert_eq!(header_values(&out, "Subject"), vec!["Hello"]);
    // An in_reply_to that cannot be written is left out but still counts as answering.
    let out = stamp(raw, &params(Some("has space@x"), &[])).unwrap().bytes;
    assert!(header_values(&out, "In-Reply-To").is_empty());
    assert_eq!(header_values(&out, "Subject"), vec!["Re: Hello"]);
}

#[test]
fn display_names_quoted_and_encoded() {
    let reply_to = |from: &str, configured: Option<&str>| {
        let raw = format!("From: {from}\r\n\r\n");
        let mut p = params(None, &[]);
        p.display_name = configured;
        let out = stamp(raw.as_bytes(), &p).unwrap().bytes;
        check(raw.as_bytes(), &out, &p, &[]);
        let name = MessageParser::default().parse(&out).and_then(|m| {
            m.reply_to()
                .and_then(|a| a.first())
                .and_then(|a| a.name().map(str::to_owned))
        });
        (header_values(&out, "Reply-To").remove(0), name)
    };
    let r = |s: &str| s.replace("R", REPLY);
    assert_eq!(reply_to("a@x", None), (r("R"), None));
    assert_eq!(
        reply_to("Agent <a@x>", Some("ACME Support")),
        (r("ACME Support <R>"), Some("ACME Support".into()))
    );
    assert_eq!(
        reply_to("a@x", Some("ACME, Inc. (EU)")),
        (r("\"ACME, Inc. (EU)\" <R>"), Some("ACME, Inc. (EU)".into()))
    );
    assert_eq!(
        reply_to("a@x", Some("Say \"hi\" \\o/")).0,
        r("\"Say \\\"hi\\\" \\\\o/\" <R>")
    );
    assert_eq!(reply_to("a@x", Some("=?x?q?y?=")).0, r("\"=?x?q?y?=\" <R>"));
    assert_eq!(
        reply_to("a@x", Some("Jörg")),
        (r("=?UTF-8?B?SsO2cmc=?= <R>"), Some("Jörg".into()))
    );
    assert_eq!(reply_to("a@x", Some("  \t ")), (r("R"), None));
    assert_eq!(
        reply_to("\"Doe, Jane\" <j@x>", None).1,
        Some("Doe, Jane".into())
    );
    assert_eq!(
        reply_to("Doe, Jane <j@x>", None).1,
        Some("Doe, Jane".into())
    );
    assert_eq!(reply_to("j@x (Jane Doe)", None).1, Some("Jane Doe".into()));
    assert_eq!(reply_to("j@x, Other <o@x>", None).1, None);
    assert_eq!(
        reply_to("Jane (Support) Doe <j@x>", None).1,
        Some("Jane Doe".into())
    );
    assert_eq!(
        reply_to("\"Jane\" =?UTF-8?Q?M=C3=BCller?= <j@x>", None).1,
        Some("Jane Müller".into())
    );

    // Header injection through the configured name becomes spaces.
    let (value, name) = reply_to("a@x", Some("Evil\r\nBcc: victim@x"));
    assert_eq!(value, r("\"Evil Bcc: victim@x\" <R>"));
    assert_eq!(name, Some("Evil Bcc: victim@x".into()));

    // A long non-ASCII name: several encoded-words (RFC 2047: at most 75 chars), lines folded.
    let long = "Ünïcödé Sûppört Tëäm ".repeat(5);
    let raw = b"From: a@x\r\n\r\n";
    let mut p = params(None, &[]);
    p.display_name = Some(&long);
    let out = stamp(raw, &p).unwrap().bytes;
    check(raw, &out, &p, &[]);
    let value = header_values(&out, "Reply-To").remove(0);
    let words: Vec<&str> = value.split(' ').filter(|w| w.starts_with("=?")).collect();
    assert!(words.len() > 2);
    assert!(words.iter().all(|w| w.len() <= 68));
    for line in lines(header_block(&out))
        .iter()
        .filter(|l| !l.starts_with(b"Message-ID:"))
    {
        assert!(line.len() - 2 <= FOLD_COLUMN, "{line:?}");
    }
    let msg = MessageParser::default().parse(&out).unwrap();
    assert_eq!(
        msg.reply_to().unwrap().first().unwrap().name(),
        Some(long.trim())
    );
}

#[test]
fn header_values_unfold() {
    let raw = b"Subject: one\r\n two\r\n\tthree  \r\nX: a\r\nx:b\r\n\r\nX: body";
    assert_eq!(header_values(raw, "subject"), vec!["one two\tthree"]);
    assert_eq!(header_values(raw, "X"), vec!["a", "b"]);
    assert!(header_values(raw, "Missing").is_empty());
}

#[test]
fn parse_msg_ids_is_tolerant() {
    let cases: &[(&str, &[&str])] = &[
        ("<a@x>", &["a@x"]),
        ("  <a@x>  <b@y>\t<c@z>", &["a@x", "b@y", "c@z"]),
        ("<a@x>(comment <not@this>) <b@y>", &["a@x", "b@y"]),
        ("\"Your message of <x@y>\" <real@x>", &["real@x"]),
        ("<a@x><b@y>", &["a@x", "b@y"]),
        ("< a@x >", &["a@x"]),
        ("<a\r\n @x>", &["a@x"]),
        ("<\"quoted local\"@x>", &["\"quoted local\"@x"]),
        ("<unclosed@x", &["unclosed@x"]),
        ("bare@x, other@y (comment@z)", &["bare@x", "other@y"]),
        ("<>", &[]),
        ("", &[]),
        ("no ids here", &[]),
    ];
    for (value, expected) in cases {
        assert_eq!(parse_msg_ids(value), strings(expected), "{value:?}");
    }
}

#[test]
fn encodings_round_trip() {
    for s in [&b"f"[..], b"fo", b"foo", b"foob", b"\xff\x00\x80 x"] {
        let word = format!("=?utf-8?b?{}?=", BASE64_STANDARD.encode(s));
        assert_eq!(decode_encoded_word(word.as_bytes()).as_deref(), Some(s));
    }
    assert_eq!(q_decode(b"a_b=C3=BC=zz="), b"a b\xc3\xbc=zz=");
    assert_eq!(
        decode_encoded_word(b"=?utf-8?q?Re=3A_x?="),
        Some(b"Re: x".to_vec())
    );
    assert_eq!(decode_encoded_word(b"=?utf-8?x?abc?="), None);
    assert_eq!(decode_encoded_word(b"=??="), None);
    assert_eq!(decode_encoded_word(b"=?utf-8?q?\xff?="), None);
}
