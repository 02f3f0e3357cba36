//! Signature delimiters, mobile "Sent from …" lines, sign-offs, and sentences that are
//! none of these.

use super::*;

#[test]
fn signature_delimiters() {
    let s = split_plain("this is an email with a correct -- signature.\n\n-- \nrick\n");
    assert_eq!(s.reply, "this is an email with a correct -- signature.");
    assert_eq!(s.quoted, "--\nrick");
    assert_eq!(reply("Hi\n--\nJohn Doe\nACME"), "Hi");
    assert_eq!(
        reply("And here is a fix -- this is not a signature.\n\nkthxbai"),
        "And here is a fix -- this is not a signature.\n\nkthxbai"
    );
}

#[test]
fn mobile_signatures() {
    for sig in [
        "Sent from my iPhone",
        "Sent from my Android",
        "Sent from my Samsung Galaxy smartphone.",
        "Sent from my BlackBerry",
        "Sent from my Verizon Wireless BlackBerry",
        "Sent from my mobile device",
        "Sent from Mail for Windows 10",
        "Sent from Yahoo Mail on Android",
        "Get Outlook for iOS<https://aka.ms/o0ukef>",
        "Get Outlook for Android",
        "Enviado desde mi iPhone",
        "Envoyé de mon iPhone",
        "Von meinem iPhone gesendet",
        "Gesendet von meinem Samsung Galaxy",
        "Inviato da iPhone",
        "Enviado do meu iPhone",
        "Verzonden vanaf mijn iPhone",
        "Skickat från min iPhone",
        "Wysłane z mojego iPhone'a",
        "Отправлено с iPhone",
        "发自我的iPhone",
        "iPhoneから送信",
        "Sent via the Samsung Galaxy S7, an AT&T 4G LTE smartphone",
    ] {
        let s = split_plain(&format!("Here is another email\n\n{sig}\n"));
        assert_eq!(s.reply, "Here is another email", "sig {sig}");
        assert_eq!(s.quoted, sig, "sig {sig}");
    }
}

#[test]
fn sent_from_sentences_are_kept() {
    let text = "Here is another email\n\nSent from my desk, is much easier then my mobile phone.";
    assert_eq!(reply(text), text);
    let text = "I sent from my phone the photos yesterday. Did you get them?";
    assert_eq!(reply(text), text);
}

#[test]
fn mobile_signature_above_quote() {
    assert_eq!(
        reply(
            "Hello\n\nSent from my iPhone\n\nOn Apr 3, 2012, at 4:19 PM, bob <bob@example.com> wrote:\n\n> Hi\n"
        ),
        "Hello"
    );
}

#[test]
fn dash_signoff_and_mailing_list_footer() {
    assert_eq!(
        reply(
            "Hi folks\n\nWhat is the best way?\n\n-Abhishek Kona\n\n\n_______________________________________________\nriak-users mailing list\nriak-users@lists.basho.com\n"
        ),
        "Hi folks\n\nWhat is the best way?"
    );
    // a bullet list is not a sign-off
    assert_eq!(reply("List:\n\n- Eggs"), "List:\n\n- Eggs");
}

#[test]
fn more_mobile_signatures() {
    for sig in [
        "Sent from my iPad",
        "Sent with Spark",
        "Sent from Outlook for iOS",
        "Sent from ProtonMail mobile",
        "Sent from my T-Mobile 4G LTE Device",
        "Sent via Superhuman",
        "Enviado desde mi Samsung Galaxy",
        "Envoyé de mon appareil Galaxy",
        "Von meinem Samsung Galaxy Smartphone gesendet.",
        "Inviato dal mio dispositivo Galaxy",
        "Enviado do meu smartphone Samsung Galaxy",
        "Verstuurd vanaf mijn iPhone",
        "Sendt fra min iPhone",
        "Lähetetty iPhonesta",
        "Odesláno z iPhonu",
        "iPhone'umdan gönderildi",
        "iPhone에서 보냄",
        "Στάλθηκε από το iPhone μου",
        "Enviat des del meu iPhone",
        "Trimis de pe iPhone-ul meu",
        "Надіслано з iPhone",
        "Отправлено из мобильной Почты Mail.ru",
        "Télécharger Outlook pour iOS<https://aka.ms/o0ukef>",
        "Outlook für iOS herunterladen<https://aka.ms/o0ukef>",
        "Outlook voor iOS downloaden",
        "Hämta Outlook för iOS",
        "Pobierz aplikację Outlook dla systemu iOS",
        "Получить Outlook для iOS",
        "获取 Outlook for iOS",
        "iOS 版 Outlook を入手",
    ] {
        let s = split_plain(&format!(
            "Okay, thanks!\n\n{sig}\n\nOn Mon, 1 Mar 2021 at 10:00, Shop <s@example.com> wrote:\n> Hi\n"
        ));
        assert_eq!(s.reply, "Okay, thanks!", "sig {sig}");
    }
}

#[test]
fn not_quotes_or_signatures() {
    for text in [
        "Visit us now for assistance...\n>>> >>>  http://www.domain.example <<<\nVisit our site by clicking the link above",
        "On the surface, this looks like a quote header but it's not.\n\nOn the other hand, we should be careful.\nOn average, this works.",
        "Here are timestamps:\n\n2024-01-15 14:30:25\n15.01.2024 14:30\nJan 15, 2024 at 14:30\n\nJust examples.",
        "Here is my analysis:\n\n## Key Points\n----\n\n1. Faster\n\n----\n\nThe dashes are markdown.\n\n====\n\nMore text.",
        "The notification was sent from my iPhone app to all users.\n\nThis email was sent from our automated system, not Sent from my iPad.\n\nAll messages are sent from the main server.",
        "I need emails from: john@example.com and from: jane@example.com\n\nThe data comes From: our database.",
        "Check https://example.com/blog/on-date-someone-wrote-about-parsing\n\nPatterns like \"wrote:\" in URLs.",
        "Blah-blah-blah\nOn blah-blah-blah",
    ] {
        assert_eq!(reply(text), text);
    }
}
