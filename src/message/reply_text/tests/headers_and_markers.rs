//! Outlook-style header blocks and "Original Message" / forward markers.

use super::*;

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
fn quoted_header_block_in_quote() {
    assert_eq!(
        reply(
            "\nHello\n\n> Subject: Test\n> From: bob@example.org\n> Date: Mon, 2 Apr 2012\n> \n> Hi\n \t\t \t\n"
        ),
        "Hello"
    );
}

#[test]
fn header_field_line_helper() {
    assert!(is_header_field_line("*From:* x"));
    assert!(is_header_field_line("От: Иван"));
    assert!(is_header_field_line("发件人：张三"));
    assert!(!is_header_field_line("Hello: world"));
}

/// A helpdesk's "reply above this line" line starts the history under it, in any language
/// the lexicon has, however decorated, and whether or not the client quoted the mail.
#[test]
fn reply_above_this_line_markers() {
    let cases = [
        (
            "Thanks, that fixed it.\n\n##- Please type your reply above this line -##\n\nYour request (#4512) has been updated.\nJane (Acme Support)\n",
            "Thanks, that fixed it.",
        ),
        (
            "Danke, jetzt geht es.\n\n##- Bitte geben Sie Ihre Antwort über dieser Zeile ein. -##\n\nIhre Anfrage (#4512) wurde aktualisiert.\n",
            "Danke, jetzt geht es.",
        ),
        (
            "Merci, c'est réglé.\n\n> ##- Veuillez écrire votre réponse au-dessus de cette ligne -##\n> Votre demande (4512) a été mise à jour.\n",
            "Merci, c'est réglé.",
        ),
        (
            "Gracias, ya funciona.\n\n-- Por favor, escriba su respuesta encima de esta línea --\nSu solicitud (4512) ha sido actualizada.\n",
            "Gracias, ya funciona.",
        ),
        (
            "Obrigado, resolvido.\n\nDigite sua resposta acima desta linha\n\nSua solicitação (4512) foi atualizada.\n",
            "Obrigado, resolvido.",
        ),
    ];
    for (text, expected) in cases {
        let split = split_plain(text);
        assert_eq!(split.reply, expected, "{text}");
        assert!(split.quoted.contains("4512"), "{text}: {:?}", split.quoted);
    }
}

/// The customer's own words about such a line are not one.
#[test]
fn a_question_about_the_reply_line_is_the_customers_text() {
    let text = "Should I reply above this line?\nI never know where to write.\n";
    assert_eq!(reply(text), text.trim_end());
}
