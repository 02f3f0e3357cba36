//! Over-trimming (issue 24, class 6): generated mails, plain and HTML, in which every line
//! the customer wrote — that is, every line that is not quoted, an attribution, a header
//! block or a signature — must appear in `reply_text`.
//!
//! A seeded generator (a small xorshift, so a failure names the seed that reproduces it)
//! draws mails from line kinds: customer paragraphs whose sentences wrap onto lines that
//! start in lower case, end with a colon or a question, and carry what attributions are
//! made of (dates, times, addresses, "wrote", "on"); `>` blocks with and without an
//! attribution in several languages, wrapped or not; inline answers; a trailing history
//! (attribution and quote, Outlook header block, "Original Message"); signatures; blank
//! and invisible lines; forwards with no note, whose forwarded text counts as the
//! customer's.

use replyd::message::split_body;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// What a generated line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// Written by the customer now: must be in the reply.
    Customer,
    /// Quoted, an attribution, a header block, a signature or blank: may go anywhere.
    Other,
}

const STARTS: &[&str] = &[
    "I",
    "We",
    "The",
    "Please",
    "Could you",
    "My order",
    "Yesterday",
    "Thanks, the",
    "Also",
    "Ich",
    "Wir",
    "Je",
    "Nous",
    "Yo",
    "Ik",
    "Hello, I",
    "Our team",
];
const WORDS: &[&str] = &[
    "tried",
    "again",
    "and",
    "the",
    "parcel",
    "still",
    "has",
    "not",
    "arrived",
    "since",
    "we",
    "spoke",
    "about",
    "it",
    "with",
    "your",
    "colleague",
    "who",
    "said",
    "that",
    "would",
    "help",
    "invoice",
    "number",
    "shows",
    "a",
    "different",
    "amount",
    "than",
    "expected",
    "on",
    "Monday",
    "at",
    "wrote",
    "sent",
    "from",
    "in",
    "Paris",
    "Berlin",
    "(see below)",
    "--",
];
/// What attributions are made of; a line of prose carries one at most (and writes an
/// address bare or in parentheses: `Name <address> wrote` is an attribution's shape).
const TRICKY: &[&str] = &[
    "17:21",
    "3 March 2016",
    "2016-03-03",
    "12.03.2016",
    "bob@example.com",
    "(bob@example.com)",
    "order #1234",
    "GMT+01:00",
];
/// Words a line of prose never ends with (before its punctuation): that is what an
/// attribution does ("… schrieb:"), and no writer ends a sentence on them.
const NOT_LAST: &[&str] = &[
    "wrote",
    "sent",
    "schrieb",
    "a écrit",
    "escribió",
    "schreef",
    "--",
    "from",
    "at",
    "on",
    "a",
    "the",
    "and",
    "with",
    "about",
    "than",
    "that",
    "who",
    "your",
    "since",
    "in",
];
const ENDS: &[&str] = &[".", ".", ".", "?", ":", "!", ",", ""];
const LOWER_STARTS: &[&str] = &[
    "and", "but", "which", "on", "the", "because", "so", "from", "at", "wrote", "sent",
];

const ATTRIBUTIONS: &[&[&str]] = &[
    &["On Thu, Mar 3, 2016 at 5:21 PM, Example Support <support@example.com> wrote:"],
    &[
        "On Thu, Mar 3, 2016 at 5:21 PM, Example Support <",
        "support@example.com> wrote:",
    ],
    &["2016-03-03 17:21 GMT+01:00 Example Support <support@example.com>:"],
    &["Am 03.03.2016 um 17:21 schrieb Example Support <support@example.com>:"],
    &[
        "Am 03.03.2016 um 17:21 schrieb Example Support <support@example.com",
        ">:",
    ],
    &["Le jeu. 3 mars 2016 à 17:21, Example Support <support@example.com> a écrit :"],
    &[
        "Le jeu. 3 mars 2016 à 17:21, Example Support <support@example.com> a",
        "écrit :",
    ],
    &["El jue., 3 mar. 2016 a las 17:21, Example Support (<support@example.com>) escribió:"],
    &["Op do 3 mrt. 2016 om 17:21 schreef Example Support <support@example.com>:"],
];
const QUOTED: &[&str] = &[
    "> Could you send us the order number?",
    "> Thanks for your message.",
    "> Wir haben Ihre Bestellung erhalten.",
    "> Nous avons bien reçu votre commande.",
    ">",
    ">> An older message.",
];
const SIGNATURES: &[&[&str]] = &[
    &["-- ", "Bob Example", "ACME Ltd"],
    &["Sent from my iPhone"],
    &["Von meinem iPhone gesendet"],
    &["-Bob"],
];
const HISTORIES: &[&[&str]] = &[
    &[
        "-----Original Message-----",
        "From: Example Support <support@example.com>",
        "Sent: Thursday, March 3, 2016 5:21 PM",
        "To: Bob <bob@example.com>",
        "Subject: Your order",
        "",
        "Hello Bob,",
    ],
    &[
        "From: Example Support <support@example.com>",
        "Sent: Thursday, March 3, 2016 5:21 PM",
        "To: Bob <bob@example.com>",
        "Subject: RE: Your order",
        "",
        "Hello Bob,",
    ],
];
const INVISIBLE: &[&str] = &["\u{200B}", "\u{FEFF}", "\u{00AD}", "\u{1427}", " \u{200D} "];

/// `count` words after `line`, the last one a word a line of prose may end with, one of
/// them (every other line) a date, a time or an address.
fn words(rng: &mut Rng, line: &mut String, count: usize) {
    let tricky = rng.chance(50).then(|| rng.below(count));
    for k in 0..count {
        let mut w = if tricky == Some(k) {
            rng.pick(TRICKY)
        } else {
            rng.pick(WORDS)
        };
        while k + 1 == count && NOT_LAST.contains(&w) {
            w = rng.pick(WORDS);
        }
        line.push(' ');
        line.push_str(w);
    }
}

fn sentence(rng: &mut Rng) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = rng.pick(STARTS).to_string();
    let count = 3 + rng.below(8);
    words(rng, &mut line, count);
    // A wrapped second (and third) line, starting in lower case.
    for _ in 0..rng.below(3) {
        lines.push(line);
        line = rng.pick(LOWER_STARTS).to_string();
        let count = 2 + rng.below(6);
        words(rng, &mut line, count);
    }
    line.push_str(rng.pick(ENDS));
    lines.push(line);
    lines
}

fn customer_paragraph(rng: &mut Rng, out: &mut Vec<(String, Line)>) {
    for _ in 0..1 + rng.below(2) {
        for l in sentence(rng) {
            out.push((l, Line::Customer));
        }
    }
}

fn quote_block(rng: &mut Rng, out: &mut Vec<(String, Line)>, attribution: bool) {
    if attribution {
        for l in ATTRIBUTIONS[rng.below(ATTRIBUTIONS.len())] {
            out.push((l.to_string(), Line::Other));
        }
        if rng.chance(50) {
            out.push((String::new(), Line::Other));
        }
    }
    // The first line has content; `>` and `>>` lines may follow.
    out.push((rng.pick(&QUOTED[..4]).to_string(), Line::Other));
    for _ in 0..rng.below(4) {
        out.push((rng.pick(QUOTED).to_string(), Line::Other));
    }
}

fn blank(rng: &mut Rng, out: &mut Vec<(String, Line)>) {
    let line = if rng.chance(10) {
        rng.pick(INVISIBLE).to_string()
    } else {
        String::new()
    };
    out.push((line, Line::Other));
}

/// One mail: an optional top quote, customer paragraphs with inline quotes between them,
/// then optionally a signature and a trailing history.
/// Forward markers and the header block under them (a forward with no note: the
/// forwarded text is the customer's).
const FORWARDS: &[&[&str]] = &[
    &[
        "---------- Forwarded message ---------",
        "From: Shop <shop@example.net>",
        "Date: Thu, Mar 3, 2016 at 5:21 PM",
        "Subject: Your invoice",
        "To: Bob <bob@example.com>",
    ],
    &[
        "-------- Message transféré --------",
        "De : Shop <shop@example.net>",
        "Date : 3 mars 2016 17:21",
        "Objet : Votre facture",
    ],
    &[
        "________________________________",
        "Von: Shop <shop@example.net>",
        "Gesendet: Donnerstag, 3. März 2016 17:21",
        "An: Bob <bob@example.com>",
        "Betreff: WG: Ihre Rechnung",
    ],
];

fn mail(rng: &mut Rng) -> Vec<(String, Line)> {
    let mut out = Vec::new();
    if rng.chance(10) {
        for l in FORWARDS[rng.below(FORWARDS.len())] {
            out.push((l.to_string(), Line::Other));
        }
        out.push((String::new(), Line::Other));
    } else if rng.chance(20) {
        let attribution = rng.chance(50);
        quote_block(rng, &mut out, attribution);
        blank(rng, &mut out);
    }
    for p in 0..1 + rng.below(4) {
        if p > 0 {
            blank(rng, &mut out);
            if rng.chance(40) {
                let attribution = rng.chance(30);
                quote_block(rng, &mut out, attribution);
                blank(rng, &mut out);
            }
        }
        customer_paragraph(rng, &mut out);
    }
    if rng.chance(40) {
        blank(rng, &mut out);
        let sig = SIGNATURES[rng.below(SIGNATURES.len())];
        for l in sig {
            out.push((l.to_string(), Line::Other));
        }
    }
    if rng.chance(60) {
        blank(rng, &mut out);
        if rng.chance(50) {
            quote_block(rng, &mut out, true);
        } else {
            for l in HISTORIES[rng.below(HISTORIES.len())] {
                out.push((l.to_string(), Line::Other));
            }
        }
    }
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The same mail as HTML-only mail: lines as `<div>`s, `>` blocks as cite blockquotes.
fn as_html(lines: &[(String, Line)]) -> String {
    let mut html = String::from("<html><body>");
    let mut in_quote = false;
    for (l, _) in lines {
        let quoted = l.starts_with('>') && !l.starts_with(">:");
        if quoted && !in_quote {
            html.push_str("<blockquote type=\"cite\">");
        }
        if !quoted && in_quote {
            html.push_str("</blockquote>");
        }
        in_quote = quoted;
        let text = if quoted {
            l.trim_start_matches('>').trim()
        } else {
            l.as_str()
        };
        if text.trim().is_empty() {
            html.push_str("<div><br></div>");
        } else {
            html.push_str("<div>");
            html.push_str(&html_escape(text));
            html.push_str("</div>");
        }
    }
    if in_quote {
        html.push_str("</blockquote>");
    }
    html.push_str("</body></html>");
    html
}

fn missing_customer_lines(lines: &[(String, Line)], reply: &str) -> Vec<String> {
    let reply_lines: Vec<&str> = reply.lines().map(str::trim).collect();
    lines
        .iter()
        .filter(|(_, kind)| *kind == Line::Customer)
        .map(|(l, _)| l.trim())
        .filter(|l| !reply_lines.contains(l))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_customer_line_is_in_the_reply_plain_and_html() {
    let mut failures = Vec::new();
    for seed in 1..=3000u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let lines = mail(&mut rng);
        let plain = lines
            .iter()
            .map(|(l, _)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let body = split_body(Some(&plain), None);
        let missing = missing_customer_lines(&lines, &body.reply);
        if !missing.is_empty() {
            failures.push(format!(
                "seed {seed} (plain): missing {missing:?}\n--- mail\n{plain}\n--- reply\n{}\n",
                body.reply
            ));
        }
        let html = as_html(&lines);
        let body = split_body(None, Some(&html));
        let missing = missing_customer_lines(&lines, &body.reply);
        if !missing.is_empty() {
            failures.push(format!(
                "seed {seed} (HTML): missing {missing:?}\n--- mail\n{plain}\n--- reply\n{}\n",
                body.reply
            ));
        }
        if failures.len() >= 5 {
            break;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
