use super::*;

fn reply(s: &str) -> String {
    split_plain(s).reply
}

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
fn german() {
    assert_eq!(
        reply(
            "Vielen Dank!\n\nAm Di., 1. März 2011 um 18:02 Uhr schrieb Abhishek Kona <abhishek@example.com>:\n> Hallo\n"
        ),
        "Vielen Dank!"
    );
    assert_eq!(
        reply("Passt.\n\nAm 01.03.2011 18:02, schrieb Max Muster:\nHallo zusammen\n"),
        "Passt."
    );
}

#[test]
fn french() {
    assert_eq!(
        reply(
            "Merci beaucoup.\n\nLe mar. 1 mars 2011 à 18:02, Abhishek Kona <abhishek@example.com> a écrit :\n> Bonjour\n"
        ),
        "Merci beaucoup."
    );
    // wrapped, with a non-breaking space before the colon
    assert_eq!(
        reply(
            "D'accord.\n\nLe 1 mars 2011 à 18:02, Abhishek Kona <abhishek@example.com> a\nécrit\u{a0}:\n> Bonjour\n"
        ),
        "D'accord."
    );
}

#[test]
fn spanish_italian_portuguese() {
    assert_eq!(
        reply(
            "Gracias.\n\nEl mar., 1 mar. 2011 a las 18:02, Ana (<ana@example.com>) escribió:\n> Hola\n"
        ),
        "Gracias."
    );
    assert_eq!(
        reply(
            "Grazie.\n\nIl giorno mar 1 mar 2011 alle ore 18:02 Luca <luca@example.com> ha scritto:\n> Ciao\n"
        ),
        "Grazie."
    );
    assert_eq!(
        reply(
            "Obrigado.\n\nEm ter., 1 de mar. de 2011 às 18:02, João <joao@example.com> escreveu:\n> Olá\n"
        ),
        "Obrigado."
    );
}

#[test]
fn dutch_swedish_polish() {
    assert_eq!(
        reply("Bedankt.\n\nOp di 1 mrt. 2011 om 18:02 schreef Jan <jan@example.com>:\n> Hoi\n"),
        "Bedankt."
    );
    assert_eq!(
        reply(
            "Bedankt.\n\nOp 1 mrt. 2011 om 18:02 heeft Jan <jan@example.com> het volgende geschreven:\n\n> Hoi\n"
        ),
        "Bedankt."
    );
    assert_eq!(
        reply("Tack!\n\nDen tis 1 mars 2011 kl 18:02 skrev Sven <sven@example.com>:\n> Hej\n"),
        "Tack!"
    );
    assert_eq!(
        reply("Dzięki.\n\nW dniu 1.03.2011 o 18:02, Jan Kowalski pisze:\n> Cześć\n"),
        "Dzięki."
    );
    assert_eq!(
        reply(
            "Dzięki.\n\nwt., 1 mar 2011 o 18:02 Jan Kowalski <jan@example.com> napisał(a):\n\n> Cześć\n"
        ),
        "Dzięki."
    );
}

#[test]
fn russian_chinese_japanese() {
    assert_eq!(
        reply("Спасибо!\n\n01.03.2011 18:02, Иван Петров пишет:\n> Привет\n"),
        "Спасибо!"
    );
    assert_eq!(
        reply(
            "Hello\n02.04.2012 14:20 пользователь \"bob@example.org\" <\nbob@example.org> написал:\n\n> Hi\n>\n"
        ),
        "Hello"
    );
    assert_eq!(
        reply("谢谢！\n\n在 2011年3月1日，下午6:02，张三 <zhang@example.com> 写道：\n\n> 你好\n"),
        "谢谢！"
    );
    assert_eq!(
        reply(
            "ありがとうございます。\n\n2011/03/01 18:02、山田 <yamada@example.com> のメッセージ:\n\n> こんにちは\n"
        ),
        "ありがとうございます。"
    );
    assert_eq!(
        reply(
            "了解しました。\n\n2011年3月1日 18:02 山田太郎 <yamada@example.com> さんは書きました：\n> こんにちは\n"
        ),
        "了解しました。"
    );
}

#[test]
fn outlook_header_blocks() {
    assert_eq!(
        reply(
            "Outlook with a reply\n\n\n ------------------------------\n\n*From:* Google Apps Sync Team [mailto:mail-noreply@google.com]\n*Sent:* Thursday, February 09, 2012 1:36 PM\n*To:* jow@example.com\n*Subject:* Google Apps Sync was updated!\n\nDear user,\n"
        ),
        "Outlook with a reply"
    );
    assert_eq!(
        reply(
            "Reply above line\n________________________________________\nFrom: CRM Comments [crm-comment@example.com]\nSent: Friday, 23 March 2012 5:08 p.m.\nTo: John S. Greene\nSubject: [contact:106] John Greene\n\nA new comment\n"
        ),
        "Reply above line"
    );
    assert_eq!(
        reply(
            "Danke.\n\nVon: Max Muster <max@example.com>\nGesendet: Montag, 1. März 2011 18:02\nAn: Support\nBetreff: Frage\n\nHallo\n"
        ),
        "Danke."
    );
    assert_eq!(
        reply(
            "Merci.\n\nDe\u{a0}: Jean <jean@example.com>\nEnvoyé\u{a0}: lundi 1 mars 2011 18:02\nÀ\u{a0}: Support\nObjet\u{a0}: Question\n\nBonjour\n"
        ),
        "Merci."
    );
    assert_eq!(
        reply(
            "Gracias.\n\nDe: Ana <ana@example.com>\nEnviado: lunes, 1 de marzo de 2011 18:02\nPara: Soporte\nAsunto: Pregunta\n"
        ),
        "Gracias."
    );
    assert_eq!(
        reply(
            "Grazie.\n\nDa: Luca <luca@example.com>\nInviato: lunedì 1 marzo 2011 18:02\nA: Supporto\nOggetto: Domanda\n"
        ),
        "Grazie."
    );
    assert_eq!(
        reply(
            "Bedankt.\n\nVan: Jan <jan@example.com>\nVerzonden: maandag 1 maart 2011 18:02\nAan: Support\nOnderwerp: Vraag\n"
        ),
        "Bedankt."
    );
    assert_eq!(
        reply(
            "Tack.\n\nFrån: Sven <sven@example.com>\nSkickat: den 1 mars 2011 18:02\nTill: Support\nÄmne: Fråga\n"
        ),
        "Tack."
    );
    assert_eq!(
        reply(
            "Dzięki.\n\nOd: Jan <jan@example.com>\nWysłano: 1 marca 2011 18:02\nDo: Pomoc\nTemat: Pytanie\n"
        ),
        "Dzięki."
    );
    assert_eq!(
        reply(
            "Спасибо.\n\nОт: Иван <ivan@example.com>\nОтправлено: 1 марта 2011 г. 18:02\nКому: Поддержка\nТема: Вопрос\n"
        ),
        "Спасибо."
    );
    assert_eq!(
        reply(
            "谢谢。\n\n发件人: 张三 <zhang@example.com>\n发送时间: 2011年3月1日 18:02\n收件人: 客服\n主题: 问题\n"
        ),
        "谢谢。"
    );
    assert_eq!(
        reply(
            "了解です。\n\n差出人: 山田 <yamada@example.com>\n送信日時: 2011年3月1日 18:02\n宛先: サポート\n件名: 質問\n"
        ),
        "了解です。"
    );
    assert_eq!(
        reply(
            "Obrigado.\n\n**De:** João <joao@example.com>\n**Enviado:** 1 de março de 2011 18:02\n**Para:** Suporte\n**Assunto:** Pergunta\n"
        ),
        "Obrigado."
    );
}

#[test]
fn flattened_header_and_section_breaks() {
    assert_eq!(
        reply("Done.\n\nFrom: Shop <s@example.com> Sent: Monday, March 1, 2021 10:00 To: me Subject: Order\n\nOld"),
        "Done."
    );
    let text = "Part one.\n\n__________\n\nPart two is long enough.\nLine\nLine\nLine\nLine\nLine\nLine\nLine\nLine\nLine\nLine";
    assert_eq!(reply(text), text);
    assert_eq!(reply("\u{FEFF}Hello\n\n> old"), "Hello");
}

#[test]
fn own_text_ending_with_colon_above_a_quote_is_kept() {
    assert_eq!(
        reply("Hello,\n\nI have a question about my order #1234:\n\n> Your order has shipped.\n\nIt has not arrived yet.\n"),
        "Hello,\n\nI have a question about my order #1234:\n\nIt has not arrived yet."
    );
    assert_eq!(
        reply("About this part:\n> the fee is 20 EUR\nWhy so high?"),
        "About this part:\nWhy so high?"
    );
}

#[test]
fn header_like_text_is_not_cut() {
    let text = "Please book:\nFrom: Berlin\nTo: Paris\n\nThanks";
    assert_eq!(reply(text), text);
}

#[test]
fn original_message_lines() {
    for marker in [
        "-----Original Message-----",
        "----- Original Message -----",
        "-----Ursprüngliche Nachricht-----",
        "-----Message d'origine-----",
        "-----Mensaje original-----",
        "-----Messaggio originale-----",
        "-----Oorspronkelijk bericht-----",
        "-----Ursprungligt meddelande-----",
        "-----Wiadomość oryginalna-----",
        "-----Исходное сообщение-----",
        "-----原始邮件-----",
        "-------- Original Message --------",
        "-------- Forwarded Message --------",
        "---------- Forwarded message ---------",
        "---------- Weitergeleitete Nachricht ---------",
        "Begin forwarded message:",
        "Anfang der weitergeleiteten Nachricht:",
        "Début du message réexpédié :",
        "Inicio del mensaje reenviado:",
    ] {
        let body = format!("My answer.\n\n{marker}\nsome old text\nmore\n");
        let s = split_plain(&body);
        assert_eq!(s.reply, "My answer.", "marker {marker}");
        assert!(s.quoted.contains("some old text"), "marker {marker}");
    }
}

#[test]
fn dashes_heading_is_not_a_marker() {
    let text = "Plan:\n----- Step one -----\nDo this";
    assert_eq!(reply(text), text);
}

#[test]
fn forwarded_only_keeps_everything() {
    let text = "---------- Forwarded message ---------\nFrom: A <a@example.com>\nDate: Mon, 1 Mar 2011\nSubject: x\nTo: b@example.com\n\nBody";
    assert_eq!(reply(text), text);
}

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
fn bottom_posted_reply() {
    let s = split_plain(
        "On 04/02/2012 06:26 PM, Megan One wrote:\n> Hi, can you help?\n\nSure, here you go.\n",
    );
    assert_eq!(s.reply, "Sure, here you go.");
    assert_eq!(
        s.quoted,
        "On 04/02/2012 06:26 PM, Megan One wrote:\n> Hi, can you help?"
    );
}

#[test]
fn inline_answers() {
    let s = split_plain(
        "On Tue, Apr 29, 2014 at 4:22 PM, Dev <dev@example.com> wrote:\n\n> First question?\n\nFirst answer.\n\n> Second question?\n\nSecond answer.\n\n> Thanks\n> -- Tim\n",
    );
    assert_eq!(s.reply, "First answer.\n\nSecond answer.");
    assert!(s.quoted.contains("> Second question?"));
    assert!(s.quoted.contains("> -- Tim"));
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
fn quoted_header_block_in_quote() {
    assert_eq!(
        reply(
            "\nHello\n\n> Subject: Test\n> From: bob@example.org\n> Date: Mon, 2 Apr 2012\n> \n> Hi\n \t\t \t\n"
        ),
        "Hello"
    );
}

#[test]
fn all_quoted_keeps_everything() {
    let s = split_plain("> only a quote\n> here\n");
    assert_eq!(s.reply, "> only a quote\n> here");
    assert_eq!(s.quoted, "");
}

#[test]
fn blank_lines_collapse_around_removed_quotes() {
    assert_eq!(reply("A\n\n> q\n\nB"), "A\n\nB");
    assert_eq!(reply("A\n> q\nB"), "A\nB");
    assert_eq!(reply("A\n\n\n\nB"), "A\n\n\n\nB");
}

#[test]
fn header_field_line_helper() {
    assert!(is_header_field_line("*From:* x"));
    assert!(is_header_field_line("От: Иван"));
    assert!(is_header_field_line("发件人：张三"));
    assert!(!is_header_field_line("Hello: world"));
}

/// Layouts seen in the wild (many clients and languages), each with the exact reply.
#[test]
fn client_and_language_variants() {
    let body = "Thanks for the quick answer.\nIt works now.";
    let cases: &[(&str, &str)] = &[
        // German Gmail attribution, not followed by quote marks
        (
            "Am 13.12.2017 21:11 schrieb \"Shop - Support <help@shop.example>:\n\nHallo!",
            "",
        ),
        // German Outlook with original-message line, Datum last
        (
            "-----Ursprüngliche Nachricht-----\nVon: Max <max@beispiel.de>\nAn: Erika <e@beispiel.de>\nBetreff: Anfrage\nDatum: 25.11.2025 15:00\n\nText",
            "",
        ),
        // Outlook for Android, German, followed by the old message without a header
        (
            "Gesendet von Outlook für Android<https://aka.ms/AAb9ysg>\n\nHallo!",
            "",
        ),
        // Italian
        (
            "In data 11 ottobre 2017 21:11:31 \"Shop\" <s@shop.example> ha scritto:\n\nBuongiorno!",
            "",
        ),
        (
            "Il giovedì 8 dicembre 2016, Shop <q@shop.example>\nha scritto:\n> Ciao\n>\n> Una risposta lunga lunga lunga lunga lunga lunga lunga lunga d\nomanda?\n>\n> Fine\n",
            "",
        ),
        // Russian Gmail (no verb)
        (
            "ср, 30 апр. 2025 г. в 15:19, John Doe <doe@example.com>:\n\nпривет",
            "",
        ),
        // Portuguese, wrapped inside the parentheses
        (
            "Em 10 de julho de 2017 às 16:32:35, Shop (\ncontact@shop.example) escreveu:\n\nOlá!",
            "",
        ),
        // Finnish
        (
            "pe 20. lokakuuta 2017 klo 17.50 John Coe\n<john@example.com> kirjoitti:\n\nKiitos!",
            "",
        ),
        // French, quoted attribution
        (
            "> Le 29 avr. 2025 à 11:11, Chris <chris@example.com> a écrit :\n> A\n> B\n\n\n",
            "",
        ),
        (
            "Le lun. 15 nov. 2021 à 19:42, John <john@example.com>\na écrit :\n\nBonjour",
            "",
        ),
        // German Gmail with the name first and the date wrapped
        (
            "Aa Bb Cc <abc@abc.org> schrieb am So., 23.\nJuni 2024, 21:08:\n\n> Hi!\n>\n> Bye",
            "",
        ),
        // Dutch with the address wrapped
        (
            "Op 12 december 2016 19:05 schreef Shop <\nquestions@shop.example>:\n\n> Beste klant\n>",
            "",
        ),
        (
            "Op 17-feb.-2015, om 13:18 heeft Julius <pantheon@rome.example> het volgende geschreven:\n\nTekst",
            "",
        ),
        // French Outlook with "Envoyé le"
        (
            "De : Shop<mailto:q@shop.example>\nEnvoyé le :jeudi 15 décembre 2016 09:35\nÀ : me@example.fr<mailto:me@example.fr>\nObjet :Question\n\nTexte",
            "",
        ),
        (
            "      De : Someone <someone@example.fr>\n À : Shop <q@shop.example>\n Envoyé le : Mercredi 30 novembre 2016 10h30\n Objet : Re: Question\n\nbonjour",
            "",
        ),
        // Polish
        (
            "W dniu 2017-01-09 11:59:39 użytkownik Shop <q@shop.example> napisał:\n\nTekst",
            "",
        ),
        (
            "Dnia 27 grudnia 2016 12:08 Shop <q@shop.example> napisał(a):\n\nTekst",
            "",
        ),
        // any "Sent from my …" ends the reply
        ("Sent from my Wiko RIDGE FAB 4G\n\nOld text", ""),
        // Zimbra
        (
            "- Le 2021-04-09 23:25, Toby a écrit :\n> [1]\n>\n>  BONJOUR",
            "",
        ),
        // Zoho
        (
            "---- On Wed, 24 Feb 2021 14:02:50 +0530 john@example.com wrote ----\n\nOld",
            "",
        ),
        // Danish Thunderbird separator + header
        (
            "-------- Oprindelig besked --------\nFra: A B C <abc@abc.org>\nDato: 04.07.2024  17.45  (GMT+01:00)\nTil: abc@abc.dk\nEmne: Hej",
            "",
        ),
        // Outlook header with the From address wrapped
        (
            "From: Human Resources\n<hr@example.com>\nSent: Monday, August 26, 2019 4:37 PM\nTo: Someone <s@example.com>\nSubject: A message\n\nOld",
            "",
        ),
        // verb-less attributions (Yandex, old Gmail, mail.ru, …)
        (
            "30.09.2017, 18.30, \"John - Doe\" <john@example.com>:\n\nTest",
            "",
        ),
        (
            "2017-11-24 16:32 GMT+01:00 Baptiste <b@example.com>:\n\nTest",
            "",
        ),
        (
            "11:00 AM, November 17, 2021, \"John - Acme\" <john@mail.acme.example>:\n\nOld",
            "",
        ),
        (
            "Wednesday, 17 November 2021, 3:32 PM +0300 from john@acme.example <john@acme.example>:\n\nOld",
            "",
        ),
        // no colon after "wrote"
        (
            "On Wed, 14 Nov 2018 08:14:43 -0200 John Doe <john@doe.example> wrote\n\nWhen are you available?",
            "",
        ),
        // Swedish, Norwegian
        (
            "Den 14 september, 2015 02:23:18, Valentino Rudy (valentino@rudy.example) skrev:\n\nHej",
            "",
        ),
        (
            "På 14 september 2015 på 02:23:18, Valentino Rudy (valentino@rudy.example) skrev:\n\nHei",
            "",
        ),
        // more Gmail languages
        (
            "st 30. 4. 2025 v 15:19 odesílatel John Doe <doe@example.com> napsal:\n\n> Ahoj",
            "",
        ),
        (
            "30 Nis 2025 Çar, 15:19 tarihinde John Doe <doe@example.com> şunu yazdı:\n\n> Merhaba",
            "",
        ),
        (
            "2025년 4월 30일 (수) 오후 3:19, John Doe <doe@example.com>님이 작성:\n\n> 안녕하세요",
            "",
        ),
        (
            "2025年4月30日(水) 15:19 John Doe <doe@example.com>:\n\nこんにちは",
            "",
        ),
        (
            "John Doe <doe@example.com> 于2025年4月30日周三 15:19写道：\n\n你好",
            "",
        ),
        (
            "Στις Τετ 30 Απρ 2025 στις 3:19 μ.μ., ο/η John Doe <doe@example.com> έγραψε:\n\n> Γεια",
            "",
        ),
        (
            "ср, 30 квіт. 2025 р. о 15:19 John Doe <doe@example.com> пише:\n\n> Привіт",
            "",
        ),
        (
            "John Doe <doe@example.com> ezt írta (időpont: 2025. ápr. 30., Sze, 15:19):\n\nSzia",
            "",
        ),
        // Sent from an app, right above an attribution without quote marks
        (
            "Sent from TypeApp<http://www.typeapp.example/r?b=2621>\nOn Jun 17, 2017, at 14:15, Valerian <test@example.com<\nmailto:test@example.com>> wrote:\nOh yes I see.",
            "",
        ),
        // date + address above a quote, no colon
        (
            "2011/4/7 Nathan иova <support@example.com>\n\n>  Cool beans",
            "",
        ),
        // header block of Date and To at the very end
        (
            "Date: Wed, 16 May 2012 00:15:02 -0600\nTo: klizhentas@example.com",
            "",
        ),
        (
            "Date: Fri=2C 28 Sep 2012 10:55:48 +0000\nFrom: tickets@example.com\nTo: bob@example.com\nSubject: [Ticket #8] Test\n\n",
            "",
        ),
        (
            "  *From:* bob@example.com [mailto:\n  bob@example.com]\n  *Sent:* Wednesday, June 27, 2012 3:05 PM\n  *To:* travis@example.com\n  *Subject:* Hello\n\n",
            "",
        ),
        (
            "Sent from Samsung MobileName <address@example.com> wrote:\n\n>\n> Test",
            "",
        ),
        // a quote whose link broke the '>' sequence
        (
            "On Thursday, October 25, 2012 at 3:03 PM, Bob wrote:\n\n>\n> Post a response\n>\n (http://example.com/c/YzOTYzMmE) >\n> life is short. (http://example.com/c/YzMmE)\n>\n",
            "",
        ),
        (
            "On Monday, 24 September, 2012 at 3:46 PM, bob wrote:\n\n> [Ticket #50] test\n>\n> View ticket (http://example.com/action\n_nonce=3dd518)\n>\n",
            "",
        ),
        // forwarded message inside the history
        (
            "-----Original Message-----\n\nFYI\n\n---------- Forwarded message ----------\nFrom: bob@example.com\nDate: Tue, Sep 4, 2012 at 1:35 PM\nSubject: Two\nline subject\nTo: rob@example.com\n\n",
            "",
        ),
        ("-----Reply Message-----\n\nTest", ""),
        ("-----Antwort Nachricht-----\n\nTest", ""),
    ];
    for (tail, extra) in cases {
        let input = format!("{body}\n\n{tail}");
        let want = if extra.is_empty() {
            body.to_string()
        } else {
            format!("{body}\n\n{extra}")
        };
        assert_eq!(reply(&input), want, "input:\n{input}");
    }
}

#[test]
fn forward_markers_in_many_languages() {
    for marker in [
        "---------- Forwarded message ---------",
        "---------- Weitergeleitete Nachricht ---------",
        "---------- Message transféré ---------",
        "---------- Mensaje reenviado ---------",
        "---------- Messaggio inoltrato ---------",
        "---------- Mensagem encaminhada ---------",
        "---------- Doorgestuurd bericht ---------",
        "---------- Vidarebefordrat meddelande ---------",
        "---------- Przekazana wiadomość ---------",
        "---------- Пересылаемое сообщение ---------",
        "---------- 转发的邮件 ---------",
        "---------- 転送メッセージ ---------",
        "-------- Weitergeleitete Nachricht --------",
        "-------- Message original --------",
        "-------- Mensaje original --------",
        "-------- Messaggio originale --------",
        "-------- Oorspronkelijk bericht --------",
        "-------- Oryginalna wiadomość --------",
        "-------- Исходное сообщение --------",
        "-----Mensagem original-----",
        "-----Oprindelig meddelelse-----",
        "-----Opprinnelig melding-----",
        "-----Alkuperäinen viesti-----",
        "-----Původní zpráva-----",
        "-----Eredeti üzenet-----",
        "-----元のメッセージ-----",
        "Inizio messaggio inoltrato:",
        "Início da mensagem reencaminhada:",
        "Begin doorgestuurd bericht:",
        "Vidarebefordrat mejl:",
        "Początek przekazywanej wiadomości:",
        "Начало переадресованного сообщения:",
        "转发的邮件：",
        "転送されたメッセージ：",
        "----- Forwarded by John Doe/ACME on 03/01/2011 06:02 PM -----",
    ] {
        let s = split_plain(&format!(
            "FYI, see below.\n\n{marker}\nFrom: A <a@example.com>\nDate: Mon\n\nOld body\n"
        ));
        assert_eq!(s.reply, "FYI, see below.", "marker {marker}");
        assert!(s.quoted.starts_with(marker), "marker {marker}");
    }
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
        // Never lose the customer's text entirely.
        if text.chars().any(|c| !c.is_whitespace() && !is_invisible(c)) {
            assert!(!s.reply.is_empty() || text.trim().is_empty());
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
    assert!(!s.reply.contains("> quoted"));
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
        out.extend(c.to_lowercase());
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
        "发件人：  张三\u{3000}<zhang@example.cn>",
        "a\u{0085}b\u{00AD}c\u{2028}d",
        "*De :* Jean",
    ];
    for s in samples {
        assert_eq!(make_key(s), key_by_chars(s), "{s:?}");
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
