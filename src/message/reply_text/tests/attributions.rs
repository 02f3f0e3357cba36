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

#[test]
fn attributions_without_a_verb() {
    for attribution in [
        // Old Gmail: a date and a name, nothing else.
        "2016-03-03 17:21 GMT+01:00 Example Support",
        "2016-03-03 17:21 GMT+01:00 Example Support <support@example.com>:",
        "2013/7/20 Example Support <support@example.com>",
        "2013/7/20 Example Support <support@example.com>:",
        // Russian and Hungarian Gmail: date, name and address, no verb or the verb after it.
        "ср, 30 апр. 2025 г. в 15:19, Example Support <support@example.com>:",
        "Example Support <support@example.com> ezt írta (időpont: 2025. ápr. 30., Sze, 15:19):",
        // A name, the verb, a date and a time (Thunderbird, Finnish Gmail).
        "Example Support schrieb am 03.03.2016 um 17:21:",
        "Example Support kirjoitti 3.3.2016 klo 17.21:",
        "Bob Smith wrote on 3/3/2016 17:21:",
        "Четверг, 3 марта 2016, 17:21 +03:00 от Example Support <support@example.com>:",
    ] {
        let s = split_plain(&format!(
            "Thanks, it works.\n\n{attribution}\n\n> Please restart the app.\n> Regards\n"
        ));
        assert_eq!(s.reply, "Thanks, it works.", "{attribution}");
        assert_eq!(
            s.quoted,
            format!("{attribution}\n\n> Please restart the app.\n> Regards"),
            "{attribution}"
        );
    }
}

#[test]
fn a_sentence_with_a_verb_and_a_date_is_not_an_attribution() {
    for text in [
        "I wrote to you on Monday 3 March 2016 about it:",
        "As I wrote on 3/3/2016 at 17:21, this is what I got:",
        "Thanks, the invoice Bob wrote on 3/3/2016:",
    ] {
        let s = split_plain(&format!("{text}\n> The invoice.\n\nIt is wrong.\n"));
        assert_eq!(
            s.reply,
            format!("{text}\n> The invoice.\n\nIt is wrong."),
            "{text}"
        );
    }
}

#[test]
fn attributions_wrapped_by_the_client() {
    for attribution in [
        // "On <date> at <time> Name <mailto:…>" over several lines (Outlook for Mac).
        "On 3 Mar 2016, at 17:21, Example Support <support@example.com<mailto:support@example.com>>\nwrote:",
        "On Thu, Mar 3, 2016 at 5:21 PM, Example Support <\nsupport@example.com> wrote:",
        "On Thu, Mar 3, 2016 at 5:21 PM\nExample Support <support@example.com>\nwrote:",
        // The address wraps and the next line starts with `>:`.
        "Am 03.03.2016 um 17:21 schrieb Example Support <support@example.com\n>:",
        "tir. 18. apr. 2017 kl. 13:09 skrev Example Support <support@example.com\n>:",
        "Op do 3 mrt. 2016 om 17:21 schreef Example Support <support@example.com\n>:",
        // The verb wraps.
        "Le jeu. 3 mars 2016 à 17:21, Example Support <support@example.com> a\nécrit :",
        "El jue., 3 mar. 2016 a las 17:21, Example Support (<support@example.com>)\nescribió:",
        "Em qui., 3 de mar. de 2016 às 17:21, Example Support <\nsupport@example.com> escreveu:",
        "Il giorno gio 3 mar 2016 alle ore 17:21 Example Support <\nsupport@example.com> ha scritto:",
        // Hungarian Gmail, wrapped at 78: the tail starts with a digit and is weak alone.
        "Example Support <support@example.com> ezt írta (időpont: 2016. márc. 3., Cs,\n17:21):",
        "Example Support <support@example.com> ezt írta (időpont: 2016. márc.\n3., Cs, 17:21):",
    ] {
        let s = split_plain(&format!(
            "Thanks, it works.\n\n{attribution}\n\n> Please restart the app.\n"
        ));
        assert_eq!(s.reply, "Thanks, it works.", "{attribution}");
        assert_eq!(
            s.quoted,
            format!("{attribution}\n\n> Please restart the app."),
            "{attribution}"
        );
    }
}

#[test]
fn nested_histories_each_with_its_attribution() {
    let s = split_plain(
        "Still broken.\n\nAm 04.03.2016 um 09:00 schrieb Example Support <support@example.com>:\n> Did it work?\n>\n> Le 3 mars 2016 à 17:21, Bob <bob@example.com> a écrit :\n>> It crashes.\n>>\n>> El 2 mar. 2016, a las 10:00, Ana <ana@example.com> escribió:\n>>> Hola\n",
    );
    assert_eq!(s.reply, "Still broken.");
    assert!(s.quoted.starts_with("Am 04.03.2016"));
    assert!(s.quoted.ends_with(">>> Hola"));
    // Unquoted nested histories: the first one starts the tail.
    let s = split_plain(
        "Still broken.\n\nOn Fri, 4 Mar 2016 at 09:00, Example Support <support@example.com> wrote:\nDid it work?\n\nOn Thu, 3 Mar 2016 at 17:21, Bob <bob@example.com> wrote:\nIt crashes.\n",
    );
    assert_eq!(s.reply, "Still broken.");
    assert!(s.quoted.ends_with("It crashes."));
}
