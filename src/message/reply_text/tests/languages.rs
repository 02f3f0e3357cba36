//! The same shapes in the languages of the lexicon: attributions, header blocks, markers.

use super::*;

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
