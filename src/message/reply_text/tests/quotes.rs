//! Where `>` quotes go: the context of an answer, trailing history, or everything; and
//! forwards with no note, whose forwarded body is the reply.

use super::*;

#[test]
fn empty_and_whitespace() {
    assert_eq!(split_plain(""), Split::default());
    assert_eq!(reply("  \n\n \t\n"), "");
    assert_eq!(reply("Hello"), "Hello");
}

#[test]
fn line_endings_and_trailing_whitespace() {
    assert_eq!(
        reply("\r\nHi there  \r\nSecond\t\r\n\r\n"),
        "Hi there\nSecond"
    );
    assert_eq!(reply("a\rb\r\n\nc"), "a\nb\n\nc");
}

#[test]
fn bottom_posted_reply_keeps_the_quote_it_answers() {
    let s = split_plain(
        "On 04/02/2012 06:26 PM, Megan One wrote:\n> Hi, can you help?\n\nSure, here you go.\n",
    );
    assert_eq!(s.reply, "> Hi, can you help?\n\nSure, here you go.");
    assert_eq!(s.quoted, "On 04/02/2012 06:26 PM, Megan One wrote:");
    assert!(!s.no_new_text);
}

#[test]
fn inline_answers_keep_their_questions() {
    let s = split_plain(
        "On Tue, Apr 29, 2014 at 4:22 PM, Dev <dev@example.com> wrote:\n\n> First question?\n\nFirst answer.\n\n> Second question?\n\nSecond answer.\n\n> Thanks\n> -- Tim\n",
    );
    assert_eq!(
        s.reply,
        "> First question?\n\nFirst answer.\n\n> Second question?\n\nSecond answer."
    );
    assert_eq!(
        s.quoted,
        "On Tue, Apr 29, 2014 at 4:22 PM, Dev <dev@example.com> wrote:\n\n> Thanks\n> -- Tim"
    );
}

#[test]
fn attribution_above_a_kept_quote_goes_wherever_it_stands() {
    // Between two answers, directly under the text above.
    let s = split_plain(
        "Hi,\nOn Mon, 1 Mar 2021 at 10:00, Ann <ann@example.com> wrote:\n> Size?\n42.\n",
    );
    assert_eq!(s.reply, "Hi,\n> Size?\n42.");
    assert_eq!(
        s.quoted,
        "On Mon, 1 Mar 2021 at 10:00, Ann <ann@example.com> wrote:"
    );
}

#[test]
fn a_closing_under_the_quote_does_not_make_it_context() {
    // Clients that sign below the quote: the quote is history, the closing stays.
    let s = split_plain(
        "Works now.\n\nOn 04/19/2011 07:10 AM, Roman wrote:\n> Try again?\n\nRegards,\nRoman",
    );
    assert_eq!(s.reply, "Works now.\n\nRegards,\nRoman");
    assert_eq!(
        s.quoted,
        "On 04/19/2011 07:10 AM, Roman wrote:\n> Try again?"
    );
    // A real answer under it does.
    assert_eq!(
        reply("Works now.\n\nOn 04/19/2011 07:10 AM, Roman wrote:\n> Try again?\n\nYes, twice, same error."),
        "Works now.\n\n> Try again?\n\nYes, twice, same error."
    );
}

#[test]
fn all_quoted_is_no_new_text() {
    let s = split_plain("> only a quote\n> here\n");
    assert_eq!(s.reply, "");
    assert_eq!(s.quoted, "> only a quote\n> here");
    assert!(s.no_new_text);
    let s = split_plain(
        "\u{200B}\nOn Mon, 1 Mar 2021 at 10:00, Ann <ann@example.com> wrote:\n> Hello\n",
    );
    assert_eq!(s.reply, "");
    assert!(s.no_new_text);
    assert_eq!(
        s.quoted,
        "On Mon, 1 Mar 2021 at 10:00, Ann <ann@example.com> wrote:\n> Hello"
    );
}

#[test]
fn a_signature_alone_is_kept_as_the_reply() {
    for text in ["Sent from my iPhone", "--\nJohn Doe\nACME", "Hello"] {
        let s = split_plain(text);
        assert_eq!(s.reply, text);
        assert_eq!(s.quoted, "");
        assert!(!s.no_new_text);
    }
}

#[test]
fn blank_lines_collapse_around_removed_quotes() {
    assert_eq!(
        reply("A\n\nOn Mon, 1 Mar 2021, Bo <b@example.com> wrote:\n> q\n\nB"),
        "A\n\n> q\n\nB"
    );
    assert_eq!(reply("A\n> q\nB"), "A\n> q\nB");
    assert_eq!(reply("A\n\n\n\nB"), "A\n\n\n\nB");
    assert_eq!(reply("A\n\n> q\n\n\n"), "A");
}

#[test]
fn forward_with_no_note_is_the_forwarded_body() {
    let s = split_plain(
        "---------- Forwarded message ---------\nFrom: A <a@example.com>\nDate: Mon, 1 Mar 2011\nSubject: x\nTo: b@example.com\n\nBody\nmore",
    );
    assert_eq!(s.reply, "Body\nmore");
    assert_eq!(
        s.quoted,
        "---------- Forwarded message ---------\nFrom: A <a@example.com>\nDate: Mon, 1 Mar 2011\nSubject: x\nTo: b@example.com"
    );
    assert!(!s.no_new_text);
    // The forwarded message's own history still goes to quoted.
    let s = split_plain(
        "\n\nBegin forwarded message:\n\nFrom: A <a@example.com>\nSubject: Order\nDate: 1 March 2021\nTo: b@example.com\n\nWhere is it?\n\nOn Mon, 1 Mar 2021, Shop <s@example.com> wrote:\n> Shipped.\n",
    );
    assert_eq!(s.reply, "Where is it?");
    assert!(s.quoted.ends_with("> Shipped."));
    // Outlook: a separator and a header block whose subject says FW.
    let s = split_plain(
        "________________________________\nFrom: A <a@example.com>\nSent: Monday, 1 March 2021 10:00\nTo: b@example.com\nSubject: FW: Invoice\n\nPlease pay.",
    );
    assert_eq!(s.reply, "Please pay.");
    assert_eq!(
        reply("-----\nFrom: A <a@example.com>\nSent: Monday, 1 March 2021 10:00\nTo: b@example.com\nSubject: Fwd: Invoice\n\nPlease pay."),
        "Please pay."
    );
    // With a note above, the note is the reply.
    let s = split_plain(
        "See below.\n\n---------- Forwarded message ---------\nFrom: A <a@example.com>\nDate: Mon, 1 Mar 2011\nSubject: x\n\nBody",
    );
    assert_eq!(s.reply, "See below.");
    // A reply's "Original Message" with nothing above is history, not a forward.
    let s = split_plain(
        "-----Original Message-----\nFrom: A <a@example.com>\nSent: Mon, 1 Mar 2011\nTo: b@example.com\nSubject: RE: x\n\nBody",
    );
    assert_eq!(s.reply, "");
    assert!(s.no_new_text);
}

#[test]
fn invisible_lines_are_blank() {
    for mark in [
        "\u{200B}",
        "\u{FEFF}",
        "\u{00AD}",
        "\u{1427}",
        "\u{200D}\u{200C}",
        " \u{2060} ",
    ] {
        let s = split_plain(&format!(
            "Thanks!\n{mark}\nOn Mon, 1 Mar 2021 at 10:00, Ann <ann@example.com> wrote:\n> Hi\n"
        ));
        assert_eq!(s.reply, "Thanks!", "{mark:?}");
        let s = split_plain(&format!("Thanks!\n\n-Ann\n{mark}\n"));
        assert_eq!(s.reply, "Thanks!", "{mark:?}");
        assert_eq!(s.quoted, "-Ann", "{mark:?}");
    }
}

#[test]
fn forward_quoted_by_its_client_is_the_reply_unquoted() {
    // Apple Mail / iOS: "Begin forwarded message:" and the whole message quoted.
    let s = split_plain(
        "\n\nBegin forwarded message:\n\n> From: Shop <shop@example.net>\n> Subject: Your invoice\n> Date: 3 March 2016 at 17:21:00 CET\n> To: Bob <bob@example.com>\n> \n> Dear customer,\n> \n> your invoice is attached.\n\n",
    );
    assert_eq!(s.reply, "Dear customer,\n\nyour invoice is attached.");
    assert_eq!(
        s.quoted,
        "Begin forwarded message:\n\n> From: Shop <shop@example.net>\n> Subject: Your invoice\n> Date: 3 March 2016 at 17:21:00 CET\n> To: Bob <bob@example.com>"
    );
    assert!(!s.no_new_text);
    // A quote under a marker that is not a forward is history.
    let s = split_plain(
        "-----Original Message-----\n> From: Shop <shop@example.net>\n> Subject: Re: x\n>\n> Old text\n",
    );
    assert_eq!(s.reply, "");
    assert!(s.no_new_text);
}

#[test]
fn forward_whose_marker_is_quoted_too() {
    let s = split_plain(
        "> Begin forwarded message:\n>\n> From: Shop <shop@example.net>\n> Subject: Your invoice\n> Date: 3 March 2016 at 17:21:00 CET\n>\n> Dear customer,\n> your invoice is attached.\n",
    );
    assert_eq!(s.reply, "Dear customer,\nyour invoice is attached.");
    assert!(s.quoted.starts_with("> Begin forwarded message:"));
}

#[test]
fn attributions_inside_a_kept_quote_go_too() {
    let s = split_plain(
        "On Fri, 4 Mar 2016 at 09:00, Support <support@example.com> wrote:\n> Did the replacement work?\n>\n> On Thu, 3 Mar 2016 at 17:21, Bob <bob@example.com> wrote:\n>> It crashes on start.\n\nYes, it works now.\n",
    );
    assert_eq!(
        s.reply,
        "> Did the replacement work?\n>\n>> It crashes on start.\n\nYes, it works now."
    );
    assert_eq!(
        s.quoted,
        "On Fri, 4 Mar 2016 at 09:00, Support <support@example.com> wrote:\n\n> On Thu, 3 Mar 2016 at 17:21, Bob <bob@example.com> wrote:"
    );
}
