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
