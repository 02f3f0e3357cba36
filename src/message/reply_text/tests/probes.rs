//! Shapes found by probing clients and languages the corpus lacks (issue 24: mail we
//! haven't seen): each test is a general rule, with the mail that showed it was missing.

use super::*;

#[test]
fn ios_forward_with_no_note_under_its_signature() {
    // iOS writes its signature above a forward the customer wrote nothing over.
    let s = split_plain(
        "Sent from my iPhone\n\nBegin forwarded message:\n\n> From: Shop <shop@example.com>\n> Subject: Invoice 12345\n> Date: 3 March 2016 at 17:21:00 CET\n> To: customer@example.org\n>\n> Dear customer,\n> your invoice is attached.\n",
    );
    assert_eq!(s.reply, "Dear customer,\nyour invoice is attached.");
    assert!(s.quoted.starts_with("Sent from my iPhone"));
    // Czech, whose device word is declined ("z iPhonu").
    let s = split_plain(
        "Odesláno z iPhonu\n\nZačátek přeposílané zprávy:\n\n> Od: Shop <shop@example.com>\n> Předmět: Faktura\n> Datum: 3. března 2016 17:21\n> Komu: customer@example.org\n>\n> Faktura je v příloze.\n",
    );
    assert_eq!(s.reply, "Faktura je v příloze.");
    // Over a quote only: nothing new.
    let s = split_plain(
        "Sent from my iPhone\n\n> On Mar 3, 2016, at 17:21, Shop <shop@example.com> wrote:\n>\n> Your order shipped.\n",
    );
    assert_eq!(s.reply, "");
    assert!(s.no_new_text);
}

#[test]
fn decorated_title_above_a_header_block_in_any_language() {
    let s = split_plain(
        "Cảm ơn.\n\n-------- Thư gốc --------\nTừ: Shop <shop@example.com>\nNgày: 03/03/2016 17:21 (GMT+01:00)\nĐến: customer@example.org\nChủ đề: RE: Đơn hàng 12345\n\nChúng tôi đã gửi hàng.\n",
    );
    assert_eq!(s.reply, "Cảm ơn.");
    assert!(s.quoted.starts_with("-------- Thư gốc --------"));
    // ProtonMail's marker is made of U+2010 hyphens.
    assert_eq!(
        reply("Thanks.\n\n‐‐‐‐‐‐‐ Original Message ‐‐‐‐‐‐‐\nOn Thursday, March 3rd, 2016 at 17:21, Shop <shop@example.com> wrote:\n\nYour order shipped.\n"),
        "Thanks."
    );
}

#[test]
fn turkish_dotted_capital_i_and_arabic_indic_digits() {
    // "İletilen ileti" lowercases to "i̇letilen" with a combining dot unless keys say "i".
    let s = split_plain(
        "Bilginize.\n\n---------- İletilen ileti ----------\nKimden: Shop <shop@example.com>\nTarih: 3 Mart 2016 17:21\nKonu: Fatura\nKime: <customer@example.org>\n\nFaturanız ektedir.\n",
    );
    assert_eq!(s.reply, "Bilginize.");
    // Gmail in Arabic writes the date in Arabic-Indic digits, with direction marks.
    assert_eq!(
        reply("شكرا.\n\n\u{200f}في الخميس، ٣ مارس ٢٠١٦ في ٥:٢١ م تمت كتابة ما يلي بواسطة \u{200f}Shop\u{200f} <\u{200f}shop@example.com\u{200f}>:\n\nلقد أرسلنا بديلا.\n"),
        "شكرا."
    );
}

#[test]
fn wrapped_attribution_that_opens_with_name_and_address() {
    // Gmail wraps at 78 columns: the tail alone starts with a digit or a CJK character and
    // is as strong as the whole; the whole goes.
    assert_eq!(
        reply("Teşekkürler.\n\nExample Customer Support Team <customer-support-team@example.com>, 3 Mar\n2016 Per, 17:21 tarihinde şunu yazdı:\n\n> Yedek ürünü gönderdik.\n"),
        "Teşekkürler."
    );
    assert_eq!(
        reply("谢谢。\n\nExample Customer Support Team <customer-support-team@example.com>\n于2016年3月3日周四 下午5:21写道：\n\n> 我们已经寄出了替换件。\n"),
        "谢谢。"
    );
    assert_eq!(
        reply("谢谢。\n\nExample Customer Support Team\n<customer-support-team@example.com>于2016年3月3日 周四17:21写道：\n\n> 我们已经寄出了替换件。\n"),
        "谢谢。"
    );
}

#[test]
fn attribution_right_under_the_closing_keeps_the_closing() {
    // No blank line between the customer's name and an attribution that names someone by
    // address: the name is theirs, also when the attribution starts in lower case.
    assert_eq!(
        reply("Kiitos.\n\nTerveisin\nMatti\nto 3. maalisk. 2016 klo 17.21 Shop (<shop@example.com>) kirjoitti:\n> Olemme lähettäneet tuotteen.\n"),
        "Kiitos.\n\nTerveisin\nMatti"
    );
    assert_eq!(
        reply("Köszönöm.\n\nPéter\nShop <shop@example.com> ezt írta (időpont: 2016. márc. 3., Cs, 17:21):\n> Elküldtük.\n"),
        "Köszönöm.\n\nPéter"
    );
}

#[test]
fn customers_own_words_that_look_like_history_stay() {
    // An attribution-like line whose colon introduces the customer's next line.
    let text = "Am 03.03.2016 um 17:21 schrieb ich Ihnen:\nbitte stornieren Sie die Bestellung.";
    assert_eq!(reply(text), text);
    let text = "Le 3 mars 2016 à 17:21, j'ai écrit :\nmerci d'annuler la commande.";
    assert_eq!(reply(text), text);
    // A list of fields with no sender address and no subject is not a header block.
    let text = "Shipping details:\nFrom: Berlin\nTo: Munich\nDate: 03.03.2016\nSubject to availability, please confirm.";
    assert_eq!(reply(text), text);
    let text = "De: Madrid\nPara: Sevilla\nFecha: 03/03/2016\nAsunto pendiente: la entrega.";
    assert_eq!(reply(text), text);
    // "Von meinem …" says "from my", not "sent from my": a sentence, not a signature.
    let s = split_plain(
        "Von meinem Konto wurde zweimal abgebucht.\nBitte prüfen Sie das.\n\nAm Do., 3. März 2016 um 17:21 Uhr schrieb Shop <shop@example.com>:\n\n> Wir haben erstattet.\n",
    );
    assert_eq!(
        s.reply,
        "Von meinem Konto wurde zweimal abgebucht.\nBitte prüfen Sie das."
    );
    assert!(s.quoted.starts_with("Am Do., 3. März 2016"));
}

#[test]
fn client_phrases_of_more_languages() {
    // Outlook mobile's signature, header blocks and Apple forwards in languages whose
    // words the lexicon lacked.
    for (sig, expected) in [
        ("Hent Outlook til iOS", "Tak."),
        ("Λήψη του Outlook για iOS", "Tak."),
        ("iOS için Outlook'u edinin", "Tak."),
        ("קבל את Outlook עבור iOS", "Tak."),
    ] {
        assert_eq!(reply(&format!("Tak.\n\n{sig}\n")), expected, "{sig}");
    }
    assert_eq!(
        reply("תודה.\n\nמאת: Shop <shop@example.com>\nנשלח: יום חמישי 03 מרץ 2016 17:21\nאל: Customer <customer@example.org>\nנושא: RE: הזמנה 12345\n\nשלחנו מוצר חלופי.\n"),
        "תודה."
    );
    assert_eq!(
        reply("Mulțumesc.\n\nDe la: Shop <shop@example.com>\nTrimis: joi, 3 martie 2016 17:21\nCătre: Customer <customer@example.org>\nSubiect: RE: Comanda 12345\n\nAm trimis.\n"),
        "Mulțumesc."
    );
    assert_eq!(
        reply("Dzięki.\n\nWiadomość napisana przez Shop <shop@example.com> w dniu 03.03.2016, o godz. 17:21:\n\n> Wysłaliśmy zamiennik.\n"),
        "Dzięki."
    );
    for marker in [
        "Έναρξη προωθημένου μηνύματος:",
        "Videresendt besked:",
        "Awal pesan yang diteruskan:",
        "Bắt đầu tin nhắn được chuyển tiếp:",
    ] {
        let s = split_plain(&format!(
            "{marker}\n\nFrom: Shop <shop@example.com>\nSubject: Invoice\nDate: 3 March 2016\nTo: customer@example.org\n\nYour invoice is attached.\n"
        ));
        assert_eq!(s.reply, "Your invoice is attached.", "{marker}");
    }
}

#[test]
fn mutt_attribution_with_the_date_in_brackets() {
    assert_eq!(
        reply("Thanks.\n\n* Example Support <support@example.com> [2016-03-03 17:21]:\n> Your order shipped.\n"),
        "Thanks."
    );
    assert_eq!(
        reply("Thanks.\n\n* Example Support <support@example.com> [2016-03-03 17:21]:\n\nYour order shipped.\n"),
        "Thanks."
    );
}
