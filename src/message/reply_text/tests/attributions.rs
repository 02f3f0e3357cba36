//! Attribution lines ("On … wrote:") in their wrapped and unwrapped forms, and text
//! that only looks like one.

use super::*;

#[test]
fn top_posted_english() {
    let s = split_plain(
        "Thanks, that fixed it.\n\nOn Mon, Mar 1, 2021 at 10:00 AM, Support <help@example.com> wrote:\n> Please restart.\n>\n> Regards\n",
    );
    assert_eq!(s.reply, "Thanks, that fixed it.");
    assert!(s.quoted.starts_with("On Mon, Mar 1, 2021"));
    assert!(s.quoted.contains("> Please restart."));
}

#[test]
fn attribution_wrapped_over_lines() {
    assert_eq!(
        reply(
            "Yes.\n\nOn Tue, Sep 25, 2012 at 8:59 AM, Chris Wanstrath\n<notifications@github.com>wrote:\n\n> Steps 0-2 are in prod.\n"
        ),
        "Yes."
    );
    assert_eq!(
        reply(
            "I get it.\n\nOn Dec 16, 2011, at 12:47 PM, Corey Donohoe\n<reply@reply.github.com>\nwrote:\n\n> Was this caching related?\n"
        ),
        "I get it."
    );
}

#[test]
fn attribution_without_quote_marks_cuts_the_rest() {
    assert_eq!(
        reply(
            "Sounds good.\n\nOn Fri, Jan 3, 2020 at 9:00 AM John <john@example.com> wrote:\nCan we meet on Monday?\nJohn\n"
        ),
        "Sounds good."
    );
}

#[test]
fn own_text_ending_with_colon_above_a_quote_is_kept() {
    assert_eq!(
        reply("Hello,\n\nI have a question about my order #1234:\n\n> Your order has shipped.\n\nIt has not arrived yet.\n"),
        "Hello,\n\nI have a question about my order #1234:\n\n> Your order has shipped.\n\nIt has not arrived yet."
    );
    assert_eq!(
        reply("About this part:\n> the fee is 20 EUR\nWhy so high?"),
        "About this part:\n> the fee is 20 EUR\nWhy so high?"
    );
}

#[test]
fn text_starting_with_on_is_not_an_attribution() {
    let s = split_plain(
        "On your remote host you can run:\n\n     telnet 127.0.0.1 52698\n\nOn 9 Jan 2014, at 2:47, George wrote:\n\n> I am having an odd issue\n",
    );
    assert_eq!(
        s.reply,
        "On your remote host you can run:\n\n     telnet 127.0.0.1 52698"
    );
    let text = "One outstanding question I had:\n\nLocally, when I run it fails.";
    assert_eq!(reply(text), text);
}

#[test]
fn wrapped_attribution_directly_under_text() {
    assert_eq!(
        reply(
            "Test reply\nOn 04/19/2011 07:10 AM, Roman wrote:\n\n>Test test\n>On 04/19/2011 07:10 AM, Roman wrote:\n>\n>> Test.\n\nRegards, Roman"
        ),
        "Test reply\nRegards, Roman"
    );
    assert_eq!(
        reply("Test reply\n\nOn 04/19/2011 07:10 AM, Roman wrote:\n\n>\n> Test\n\nRegards, Roman"),
        "Test reply\n\nRegards, Roman"
    );
}
