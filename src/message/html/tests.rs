use super::*;

fn visible(html: &str) -> String {
    html_to_text_quoted(&strip_quotes(html).0)
}

// ---- html_to_text ----

#[test]
fn paragraphs_breaks_and_whitespace() {
    assert_eq!(
        html_to_text("<p>Hello\n   world</p><p>Second</p>"),
        "Hello world\n\nSecond"
    );
    assert_eq!(html_to_text("a<br>b<br/>c<BR >d"), "a\nb\nc\nd");
    assert_eq!(html_to_text("<div>one</div><div>two</div>"), "one\ntwo");
    assert_eq!(
        html_to_text("<div>Alex<br></div><div>next</div>"),
        "Alex\nnext"
    );
    assert_eq!(
        html_to_text("  lots   of \t spaces \n here  "),
        "lots of spaces here"
    );
    assert_eq!(
        html_to_text("<b>bold</b> and <i>italic</i>"),
        "bold and italic"
    );
    assert_eq!(html_to_text("x<span> </span>y"), "x y");
}

#[test]
fn at_most_one_blank_line() {
    assert_eq!(html_to_text("<p>a</p><br><br><br><br><p>b</p>"), "a\n\nb");
    assert_eq!(html_to_text("a<br><br><br><br>b"), "a\n\nb");
    assert_eq!(
        html_to_text("<p>&nbsp;</p><p>a</p><p>&nbsp;</p><p>&nbsp;</p><p>b</p>"),
        "a\n\nb"
    );
    assert_eq!(html_to_text("<br><br>a<br><br>"), "a");
}

#[test]
fn lists() {
    assert_eq!(
        html_to_text("<ul><li>one</li><li>two</li></ul>"),
        "- one\n- two"
    );
    assert_eq!(html_to_text("<ol><li>one<li>two</ol>"), "1. one\n2. two");
    assert_eq!(html_to_text("<ol start=\"3\"><li>c</li></ol>"), "3. c");
    assert_eq!(
        html_to_text("<p>Intro</p><ul><li>a<ul><li>b</li></ul></li><li>c</li></ul><p>End</p>"),
        "Intro\n\n- a\n  - b\n- c\n\nEnd"
    );
    assert_eq!(
        html_to_text("<ul><li><p>para item</p></li></ul>"),
        "- para item"
    );
}

#[test]
fn links() {
    assert_eq!(
        html_to_text("See <a href=\"https://example.com/x\">the docs</a>."),
        "See the docs (https://example.com/x)."
    );
    assert_eq!(
        html_to_text("<a href='https://example.com'>https://example.com</a>"),
        "https://example.com"
    );
    assert_eq!(
        html_to_text("<a href=mailto:bob@example.com>bob@example.com</a>"),
        "bob@example.com"
    );
    assert_eq!(html_to_text("<a href=\"#top\">Top</a>"), "Top");
    assert_eq!(
        html_to_text("<a href=\"https://e.com\"><img src=x></a>"),
        ""
    );
    assert_eq!(
        html_to_text("<a href=\"https://a.com\">A<a href=\"https://b.com\">B</a>"),
        "A (https://a.com)B (https://b.com)"
    );
}

#[test]
fn entities() {
    assert_eq!(
        html_to_text(
            "&amp; &lt;b&gt; &quot;q&quot; &#39;s&#39; &#x41;&#66; &eacute;t&eacute; &euro;5 &copy"
        ),
        "& <b> \"q\" 's' AB été €5 ©"
    );
    assert_eq!(html_to_text("a&nbsp;&nbsp;b"), "a  b");
    assert_eq!(
        html_to_text("&unknown; & &#xZZ; &#99999999999;"),
        "&unknown; & &#xZZ; \u{FFFD}"
    );
    assert_eq!(html_to_text("&#0;&#x110000;&#150;"), "\u{FFFD}\u{FFFD}–");
    assert_eq!(
        html_to_text("<a title=\"x &gt; y\" href=\"http://e.com/?a=1&amp;b=2\">l</a>"),
        "l (http://e.com/?a=1&b=2)"
    );
}

#[test]
fn dropped_elements() {
    let html = "<html><head><title>T</title><style>p{color:red}</style><meta charset=utf-8></head>\
                <body><script>var a = '<p>x</p>';</script><p>Visible</p><!-- hidden --><style>.a{}</style></body></html>";
    assert_eq!(html_to_text(html), "Visible");
    // head without an end tag ends at the first body element
    assert_eq!(
        html_to_text("<head><title>x</title><div>Body</div>"),
        "Body"
    );
    assert_eq!(
        html_to_text("<!--[if mso]><p>mso</p><![endif]-->shown"),
        "shown"
    );
    assert_eq!(html_to_text("<SCRIPT>alert(1)</SCRIPT >ok"), "ok");
}

#[test]
fn pre_keeps_whitespace() {
    assert_eq!(
        html_to_text("<pre>a\n  b\n\tc</pre>after"),
        "a\n  b\n\tc\n\nafter"
    );
}

#[test]
fn outlook_paragraphs_have_no_margins() {
    let html = "<p class=MsoNormal>Hi.<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>Thanks,<o:p></o:p></p><p class=MsoNormal>Alex<o:p></o:p></p>";
    assert_eq!(html_to_text(html), "Hi.\n\nThanks,\nAlex");
    assert_eq!(
        html_to_text("<p style=\"margin:0\">a</p><p style=\"margin: 0px\">b</p>"),
        "a\nb"
    );
}

#[test]
fn tolerant_tokenizer() {
    assert_eq!(html_to_text("a < b and c > d"), "a < b and c > d");
    assert_eq!(html_to_text("<DIV CLASS=x>Up</DIV>"), "Up");
    assert_eq!(html_to_text("<p title='it\"s'>q</p>"), "q");
    assert_eq!(html_to_text("<p title=\"unclosed>text</p>"), "text");
    assert_eq!(html_to_text("<div>unclosed <b>tags"), "unclosed tags");
    assert_eq!(html_to_text("text <!-- never closed"), "text");
    assert_eq!(html_to_text("</>x</ div><br/ >y"), "x\ny");
    assert_eq!(
        html_to_text("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>"),
        "a b\nc"
    );
}

// ---- strip_quotes ----

#[test]
fn gmail_quote() {
    let html = "<div dir=\"ltr\">Thanks, that works.</div><br><div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">On Mon, Apr 2, 2012 at 6:26 PM, Megan &lt;<a href=\"mailto:m@example.com\">m@example.com</a>&gt; wrote:<br></div><blockquote class=\"gmail_quote\" style=\"margin:0 0 0 .8ex\">Hi</blockquote></div>";
    let (kept, removed) = strip_quotes(html);
    assert_eq!(html_to_text(&kept), "Thanks, that works.");
    assert!(removed.contains("gmail_quote"));
    assert!(removed.contains("Hi</blockquote>"));
}

#[test]
fn apple_mail_cite() {
    let html = "<html><body><div>Sure, see you then.</div><div><br><div>On Apr 3, 2012, at 4:19 PM, bob &lt;bob@example.com&gt; wrote:</div><br class=\"Apple-interchange-newline\"><blockquote type=\"cite\"><div>Meet at 5?</div></blockquote></div></body></html>";
    let (kept, removed) = strip_quotes(html);
    assert_eq!(html_to_text(&kept), "Sure, see you then.");
    assert!(removed.contains("Meet at 5?"));
    assert!(removed.contains("wrote:"));
    assert!(kept.ends_with("</div></body></html>"), "{kept}");
}

#[test]
fn thunderbird_cite_prefix() {
    let html = "<body>Fine, thanks.<br><div class=\"moz-cite-prefix\">On 26.06.2014 14:41, Alex wrote:<br></div><blockquote cite=\"mid:x@y\"><div>How are you?</div></blockquote><br></body>";
    assert_eq!(visible(html), "Fine, thanks.");
}

#[test]
fn outlook_web_reply_header() {
    let html = "<div>Please cancel the order.</div><div id=\"appendonsend\"></div><hr style=\"display:inline-block;width:98%\" tabindex=\"-1\"><div id=\"divRplyFwdMsg\" dir=\"ltr\"><font><b>From:</b> Shop<br><b>Sent:</b> Monday<br><b>To:</b> me</font></div><div>Your order</div>";
    let (kept, removed) = strip_quotes(html);
    assert_eq!(html_to_text(&kept), "Please cancel the order.");
    assert!(removed.contains("divRplyFwdMsg"));
    assert!(removed.contains("Your order"));
    // Exchange rewrites ids with an x_ prefix
    assert_eq!(
        visible("<p>Yes</p><div id=\"x_divRplyFwdMsg\">From: a</div><p>old</p>"),
        "Yes"
    );
}

#[test]
fn outlook_desktop_separator() {
    let html = "<div class=WordSection1><p class=MsoNormal>Danke!<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><div><div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'><p class=MsoNormal><b>Von:</b> Shop &lt;s@example.de&gt;<br><b>Gesendet:</b> Montag, 1. März 2021 10:00<br><b>An:</b> Kunde<br><b>Betreff:</b> Bestellung</p></div></div><p class=MsoNormal>Alter Text</p></div>";
    assert_eq!(visible(html), "Danke!");
}

#[test]
fn windows_mail_border_top_with_russian_header() {
    let html = "<div>Hi. I am fine.</div><div style=\"padding-top: 5px; border-top-color: rgb(229, 229, 229); border-top-width: 1px; border-top-style: solid;\"><div><b>От:</b>&nbsp;<a href=\"mailto:a@example.com\">Alexander</a><br><b>Отправлено:</b>&nbsp;26 июня 2014 г. 15:05<br><b>Кому:</b>&nbsp;Alex</div></div><div>Hello! How are you?</div>";
    assert_eq!(visible(html), "Hi. I am fine.");
}

#[test]
fn border_top_without_header_is_kept() {
    let html = "<div>Text</div><div style=\"border-top: 1px solid #ccc\">My footer note</div>";
    assert_eq!(visible(html), "Text\nMy footer note");
}

#[test]
fn yahoo_zimbra_and_outlook_message_header() {
    assert_eq!(
        visible(
            "<div>Ok</div><div class=\"yahoo_quoted\" id=\"yahoo_quoted_123\"><div>On Monday, bob wrote:</div><div>old</div></div>"
        ),
        "Ok"
    );
    assert_eq!(
        visible(
            "<div>Hello<br><br><hr id=\"zwchr\"><b>From: </b>bob@example.org<br><b>To: </b>me<br><b>Sent: </b>Monday, April 2, 2012<br>Hi</div>"
        ),
        "Hello"
    );
    assert_eq!(
        visible("<p>Forwarding.</p><div class=OutlookMessageHeader><b>From:</b> x</div><p>Old</p>"),
        "Forwarding."
    );
}

#[test]
fn text_level_header_block_and_attributions() {
    // Outlook 2010 paragraphs without any container
    let html = "<p class=MsoNormal>Hi. I am fine.</p><p class=MsoNormal>Alex</p><p class=MsoNormal><b>From:</b> Foo [mailto:foo@bar.com]<br><b>Sent:</b> Monday, January 01, 2000 12:00 AM<br><b>To:</b> john@bar.com<br><b>Subject:</b> Conversation</p><p>Hello! How are you?</p>";
    assert_eq!(visible(html), "Hi. I am fine.\nAlex");
    // Yandex: attribution text right above a plain blockquote
    let html = "<p>Hi. I am fine.<br /><br />Alex<br /><br />26.06.2014, 14:41, \"Alexander L\" &lt;<a href=\"mailto:abc@example.com\">abc@example.com</a>&gt;:</p><blockquote> Hello! How are you?</blockquote>";
    let (kept, removed) = strip_quotes(html);
    assert_eq!(html_to_text(&kept), "Hi. I am fine.\n\nAlex");
    assert!(kept.ends_with("</p>"), "{kept}");
    assert!(removed.contains("26.06.2014"));
    // Date block after an <hr>
    let html = "<div>message<br><div><hr>Date: Fri, 23 Mar 2012 12:35:31 -0600<br>To: <a href=\"mailto:bob@example.com\">bob@example.com</a><br>From: rob@example.com<br>Subject: New Mail<br><br>text</div></div>";
    assert_eq!(visible(html), "message");
    // From + Date only, in bold, right under an <hr>
    let html = "Reply<div><hr/><div><font><b>From: bob@example.com</b> <b>Date: Thu, 24 Mar 2016 08:07:12 -0700</b></font></div><div>Quoted message</div></div>";
    assert_eq!(visible(html), "Reply");
}

#[test]
fn more_clients_and_languages() {
    // Outlook on the web, French
    let html = "<div dir=\"ltr\">Merci, c'est réglé.</div><hr style=\"display:inline-block;width:98%\" tabindex=\"-1\"><div id=\"divRplyFwdMsg\" dir=\"ltr\"><font face=\"Calibri, sans-serif\"><b>De :</b> Boutique &lt;b@example.fr&gt;<br><b>Envoyé :</b> lundi 1 mars 2021 10:00<br><b>À :</b> moi<br><b>Objet :</b> Commande</font></div><div>Ancien message</div>";
    assert_eq!(visible(html), "Merci, c'est réglé.");
    // Thunderbird, Spanish
    let html = "<p>Gracias, ya funciona.</p><div class=\"moz-cite-prefix\">El 01/03/11 a las 18:02, Ana escribió:<br></div><blockquote type=\"cite\">Hola</blockquote>";
    assert_eq!(visible(html), "Gracias, ya funciona.");
    // Gmail, German, newer container markup
    let html = "<div dir=\"ltr\">Alles klar, danke!</div><br><div class=\"gmail_quote gmail_quote_container\"><div dir=\"ltr\" class=\"gmail_attr\">Am Mo., 1. März 2021 um 10:00 Uhr schrieb Shop &lt;<a href=\"mailto:s@example.de\">s@example.de</a>&gt;:<br></div><blockquote class=\"gmail_quote\">Hallo</blockquote></div>";
    assert_eq!(visible(html), "Alles klar, danke!");
    // Yahoo with generated class prefixes
    let html = "<div class=\"ydp1a2b3c4dyahoo-style-wrap\">Sounds good.</div><div id=\"ydp5e6f7yahoo_quoted_1234\" class=\"ydp5e6f7yahoo_quoted\"><div>On Monday, March 1, 2021, 10:00:00 AM GMT+1, Shop wrote:</div><div>old</div></div>";
    assert_eq!(visible(html), "Sounds good.");
    // Outlook for iOS: mobile signature, then the reply header
    let html = "<div dir=\"ltr\">On my way.</div><div id=\"ms-outlook-mobile-signature\"><div><br></div>Get <a href=\"https://aka.ms/o0ukef\">Outlook for iOS</a></div><hr style=\"display:inline-block;width:98%\"><div id=\"divRplyFwdMsg\" dir=\"ltr\"><b>From:</b> Shop<br><b>Sent:</b> Monday<br></div><div>old</div>";
    assert_eq!(visible(html), "On my way.");
    // Apple Mail, French, attribution inside the blockquote
    let html = "<html><body dir=\"auto\">D’accord.<br><div><br><blockquote type=\"cite\"><div>Le 1 mars 2021 à 10:00, Shop &lt;s@example.fr&gt; a écrit&nbsp;:</div><br class=\"Apple-interchange-newline\"><div>Bonjour</div></blockquote></div></body></html>";
    assert_eq!(visible(html), "D’accord.");
    // Exchange-rewritten Gmail markup
    let html = "<div>Thanks</div><div class=\"x_gmail_quote\">On Mon, Bob wrote:<blockquote>Hi</blockquote></div>";
    assert_eq!(visible(html), "Thanks");
}

#[test]
fn inline_answers_in_html_keep_the_answers() {
    // The quote the customer answers below stays, as the context of the answer.
    let html = "<div>message</div><blockquote>Quote</blockquote><div>answer</div>";
    let (kept, removed) = strip_quotes(html);
    assert_eq!(html_to_text_quoted(&kept), "message\n\n> Quote\n\nanswer");
    assert_eq!(removed, "");
    // A cite blockquote too; its Gmail attribution goes, the trailing quote goes.
    let html = "<div>Hi,</div><div class=\"gmail_quote\"><div class=\"gmail_attr\">On Mon, 1 Mar 2021, Bob &lt;bob@example.com&gt; wrote:</div><blockquote class=\"gmail_quote\">Which size?</blockquote></div><div>Size 42.</div><blockquote type=\"cite\">Thanks, Bob</blockquote>";
    let (kept, removed) = strip_quotes(html);
    assert_eq!(
        html_to_text_quoted(&kept),
        "Hi,\n\n> Which size?\n\nSize 42."
    );
    assert!(removed.contains("wrote:"));
    assert!(removed.contains("Thanks, Bob"));
    // an indentation blockquote (Gmail "indent") is not a quote
    let html = "<div>Steps:</div><blockquote style=\"margin:0 0 0 40px;border:none;padding:0px\">do this</blockquote>";
    assert_eq!(visible(html), "Steps:\n\ndo this");
}

#[test]
fn signatures_in_html() {
    assert_eq!(
        visible("<div>Yes please.</div><div><br></div><div>Sent from my iPhone</div>"),
        "Yes please."
    );
    assert_eq!(
        visible("<div>Hello</div><div>--&nbsp;</div><div>John</div>"),
        "Hello"
    );
}

#[test]
fn forward_with_no_note_keeps_the_forwarded_body() {
    let html = "<div dir=\"ltr\"><br><div class=\"gmail_quote\">---------- Forwarded message ----------<br>From: Bob<br>Date: Fri, Feb 11, 2010<br><br>eom</div></div>";
    let (kept, removed) = strip_quotes(html);
    assert_eq!(html_to_text(&kept), "eom");
    assert_eq!(
        html_to_text(&removed),
        "---------- Forwarded message ----------\nFrom: Bob\nDate: Fri, Feb 11, 2010"
    );
    assert_eq!(strip_quotes(""), (String::new(), String::new()));
}

#[test]
fn nothing_but_quotes_leaves_nothing() {
    let html = "<div class=\"gmail_quote\"><div class=\"gmail_attr\">On Mon, 1 Mar 2021, Bob &lt;bob@example.com&gt; wrote:</div><blockquote class=\"gmail_quote\">Hello</blockquote></div>";
    assert_eq!(strip_quotes(html), (String::new(), html.to_string()));
    // No quote at all: everything is the reply.
    let html = "<div>Sent from my iPhone</div>";
    assert_eq!(strip_quotes(html), (html.to_string(), String::new()));
}

#[test]
fn plain_html_is_untouched() {
    let html = "<p>Just a message, <b>no</b> quotes.</p><ul><li>one</li></ul>";
    assert_eq!(strip_quotes(html), (html.to_string(), String::new()));
}

#[test]
fn malformed_quotes() {
    assert_eq!(
        visible("<div>Top</div><blockquote type=cite>never closed <div>x"),
        "Top"
    );
    assert_eq!(
        visible("<div>Top</div><BLOCKQUOTE TYPE='CITE'>q</BLOCKQUOTE><div>after</div>"),
        "Top\n\n> q\n\nafter"
    );
    assert_eq!(
        visible("<div>a</div></blockquote></div><div class=gmail_quote>q"),
        "a"
    );
}

fn rng(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn random_input_never_panics() {
    let pieces: &[&str] = &[
        "<",
        ">",
        "</",
        "<div",
        "<blockquote type=cite>",
        "</blockquote>",
        "<div class=\"gmail_quote\">",
        "<br>",
        "<!--",
        "-->",
        "\"",
        "'",
        "=",
        "&",
        "&amp",
        "&#",
        "&#x",
        ";",
        "<a href=",
        "</a>",
        "<li>",
        "<ol>",
        "</ul>",
        "<pre>",
        "<script>",
        "</script",
        "<head>",
        "é",
        "写道：",
        "On x wrote:",
        "From: a",
        "Sent: b",
        "To: c",
        "<hr id=zwchr>",
        "<div id=divRplyFwdMsg>",
        " ",
        "\n",
        "> q",
        "<div style=\"border-top:solid #E1E1E1 1.0pt\">",
        "<p>",
        "-- ",
    ];
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..3000 {
        let len = (rng(&mut seed) % 60) as usize;
        let mut bytes = Vec::new();
        for _ in 0..len {
            let r = rng(&mut seed);
            if r.is_multiple_of(4) {
                bytes.push((r >> 8) as u8);
            } else {
                bytes.extend_from_slice(pieces[(r as usize >> 3) % pieces.len()].as_bytes());
            }
        }
        let html = String::from_utf8_lossy(&bytes);
        let (kept, _) = strip_quotes(&html);
        let _ = html_to_text(&kept);
        let _ = html_to_text(&html);
    }
}

#[test]
fn large_inputs_are_fast() {
    let start = std::time::Instant::now();
    let deep = "<div>".repeat(100_000) + "x" + &"</span>".repeat(100_000);
    let _ = strip_quotes(&deep);
    let quotes = "<blockquote type=\"cite\">q ".repeat(50_000);
    let _ = strip_quotes(&format!("<p>hi</p>{quotes}"));
    let unclosed_attrs = "<a b='".repeat(100_000);
    let _ = strip_quotes(&unclosed_attrs);
    let comments = "<!-- x".repeat(100_000);
    let _ = html_to_text(&comments);
    let borders = "<div style=\"border-top:1px solid red\">x</div>".repeat(20_000);
    let _ = strip_quotes(&borders);
    let lines = "<p>line &amp; text</p>".repeat(50_000);
    let _ = strip_quotes(&lines);
    // Gmail quote wrappers are searched for a blockquote (bounded), nested or not.
    let wrappers = "<div class=gmail_quote>a<blockquote>q".repeat(20_000);
    let _ = strip_quotes(&wrappers);
    // Quotes answered below are put back: every container, once.
    let answered = "<blockquote type=cite>q</blockquote><div>a</div>".repeat(20_000);
    let _ = strip_quotes(&answered);
    // Generous bound (debug builds, busy machines): it catches quadratic blow-ups.
    let limit = if cfg!(debug_assertions) { 20.0 } else { 3.0 };
    assert!(
        start.elapsed().as_secs_f64() < limit,
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn apple_mail_forward_with_no_note_keeps_the_forwarded_body() {
    let html = "<html><body dir=\"auto\"><div><br></div><div><br><blockquote type=\"cite\"><div>Begin forwarded message:</div><br class=\"Apple-interchange-newline\"><div style=\"margin:0px\"><b>From: </b>Shop &lt;shop@example.net&gt;<br></div><div style=\"margin:0px\"><b>Subject: </b>Your invoice<br></div><div style=\"margin:0px\"><b>Date: </b>3 March 2016 at 17:21:00 CET<br></div><div style=\"margin:0px\"><b>To: </b>Bob &lt;bob@example.com&gt;<br></div><br><div><div>Dear customer,</div><div>your invoice is attached.</div></div></blockquote></div></body></html>";
    let (kept, removed) = strip_quotes(html);
    assert_eq!(
        html_to_text_quoted(&kept),
        "Dear customer,\nyour invoice is attached."
    );
    assert!(html_to_text(&removed).contains("Subject: Your invoice"));
}

#[test]
fn outlook_forward_with_no_note_keeps_the_forwarded_body() {
    let html = "<html><body><div dir=\"ltr\"><br></div><div id=\"appendonsend\"></div><hr style=\"display:inline-block;width:98%\" tabindex=\"-1\"><div id=\"divRplyFwdMsg\" dir=\"ltr\"><font face=\"Calibri, sans-serif\"><b>From:</b> Shop &lt;shop@example.net&gt;<br><b>Sent:</b> Thursday, March 3, 2016 5:21 PM<br><b>To:</b> Bob &lt;bob@example.com&gt;<br><b>Subject:</b> Fw: Your invoice</font><div>&nbsp;</div></div><div><div>Dear customer,</div><div>your invoice is attached.</div></div></body></html>";
    let (kept, removed) = strip_quotes(html);
    assert_eq!(
        html_to_text(&kept),
        "Dear customer,\nyour invoice is attached."
    );
    assert_eq!(
        html_to_text(&removed),
        "From: Shop <shop@example.net>\nSent: Thursday, March 3, 2016 5:21 PM\nTo: Bob <bob@example.com>\nSubject: Fw: Your invoice"
    );
    // A reply's header block with nothing above: nothing new.
    let html = html.replace("Fw: Your invoice", "RE: Your order");
    assert_eq!(strip_quotes(&html), (String::new(), html.clone()));
}
