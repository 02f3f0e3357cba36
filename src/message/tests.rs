use super::*;

fn range_of(raw: &str) -> (ParsedMessage, Option<String>) {
    let p = extract(raw.as_bytes(), &ExtractOptions::default());
    let text = p.reply_range.map(|(start, len)| {
        String::from_utf8(raw.as_bytes()[start..start + len].to_vec())
            .unwrap()
            .replace("\r\n", "\n")
    });
    (p, text)
}

#[test]
fn plain_reply_is_a_range_of_the_raw_bytes() {
    let raw =
        "From: a@example.org\r\nSubject: x\r\n\r\n\r\nThanks, it works now.\r\nSecond line\r\n\r\n";
    let (p, text) = range_of(raw);
    assert_eq!(p.reply_text, "Thanks, it works now.\nSecond line");
    assert_eq!(text.as_deref(), Some(p.reply_text.as_str()));
}

#[test]
fn top_posted_reply_above_history_is_a_range() {
    let raw = "From: a@example.org\n\nYes please.\n\nOn Mon, Mar 1, 2021 at 10:00 AM, Support <help@example.com> wrote:\n> Shall we?\n";
    let (p, text) = range_of(raw);
    assert_eq!(p.reply_text, "Yes please.");
    assert_eq!(text.as_deref(), Some("Yes please."));
}

#[test]
fn no_range_when_the_stored_text_differs_from_the_bytes() {
    for raw in [
        // trailing spaces are trimmed from the reply text
        "From: a@example.org\n\nHello  \nworld\n",
        // a lone CR is a line end in the reply text
        "From: a@example.org\n\nHello\rworld\n",
        // decoded parts are not in the raw bytes
        "From: a@example.org\nContent-Transfer-Encoding: quoted-printable\n\nHello=20world\n",
        "From: a@example.org\nContent-Type: text/plain; charset=iso-8859-1\n\nCaf\u{e9}\n",
        // an attribution cut out of the middle: the reply is not one stretch
        "From: a@example.org\n\nHi,\nOn Mon, 1 Mar 2021, Bo <b@example.com> wrote:\n> q1\nanswer 1\n",
    ] {
        let (p, text) = range_of(raw);
        assert_eq!(text, None, "{raw:?} gave a range for {:?}", p.reply_text);
    }
}

#[test]
fn html_only_reply_is_never_a_range() {
    let raw = "From: a@example.org\nContent-Type: text/html\n\n<p>Hello</p>\n";
    let (p, text) = range_of(raw);
    assert_eq!(p.reply_text, "Hello");
    assert_eq!(text, None);
}

/// What the store writes of a message's texts.
#[derive(Debug, PartialEq, Eq)]
struct StoredTexts<'a> {
    reply_range: Option<(usize, usize)>,
    /// The reply text, when it is not a range.
    reply_text: Option<&'a str>,
    /// The text body unless it is the reply (the test both backends apply).
    text_body: Option<&'a str>,
    quoted_text: &'a str,
}

fn stored_texts(p: &ParsedMessage) -> StoredTexts<'_> {
    StoredTexts {
        reply_range: p.reply_range,
        reply_text: p.reply_range.is_none().then_some(p.reply_text.as_str()),
        text_body: p
            .text_body
            .as_deref()
            .filter(|t| t.trim_end() != p.reply_text.trim_end()),
        quoted_text: p.quoted_text.as_str(),
    }
}

/// The store's extraction builds no text the raw bytes hold verbatim, and the store
/// writes the same from it as from the whole extraction: over every fixture and the
/// shapes where the text body is the reply or more than it.
#[test]
fn the_store_writes_the_same_from_either_extraction() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert!(inputs.len() > 50, "fixtures in {}", dir.display());
    for raw in [
        "From: a@example.org\r\n\r\nThanks, it works now.\r\nSecond line\r\n\r\n \t\r\n",
        "From: a@example.org\n\nYes please.\n\nOn Mon, Mar 1, 2021 at 10:00 AM, Support <help@example.com> wrote:\n> Shall we?\n",
        "From: a@example.org\n\n\n\nAfter blank lines\n",
        "From: a@example.org\n\n> quoted first\n\nthen the answer\n",
        "From: a@example.org\n\nHello\n-- \nBob\n",
        "From: a@example.org\n\nHello  \nworld\n",
        "From: a@example.org\n\n\u{feff}Hello\nworld\n",
        "From: a@example.org\n\nHello\nworld\u{a0}\n",
    ] {
        inputs.push(raw.as_bytes().to_vec());
    }
    let opts = ExtractOptions::default();
    let mut lean = 0;
    for raw in &inputs {
        let whole = extract(raw, &opts);
        let store = extract_for_store(raw, &opts);
        let shown = String::from_utf8_lossy(raw);
        assert_eq!(stored_texts(&store), stored_texts(&whole), "{shown}");
        assert_eq!(store.flags, whole.flags, "{shown}");
        if store.reply_range.is_some() {
            assert!(store.reply_text.is_empty(), "{shown}");
            lean += 1;
        } else {
            assert_eq!(store.reply_text, whole.reply_text, "{shown}");
        }
    }
    assert!(lean > 10, "only {lean} replies were ranges");
}
