fn main() {
    let blocks = [
        ("From", "Sent", "To", "Subject", "FW"),
        ("Von", "Gesendet", "An", "Betreff", "WG"),
        ("De", "Envoyé", "À", "Objet", "TR"),
        ("De", "Enviado el", "Para", "Asunto", "RV"),
        ("Da", "Inviato", "A", "Oggetto", "I"),
        ("Van", "Verzonden", "Aan", "Onderwerp", "FW"),
        ("De", "Enviada em", "Para", "Assunto", "ENC"),
        ("Od", "Wysłano", "Do", "Temat", "PD"),
        ("От", "Отправлено", "Кому", "Тема", "Fwd"),
        ("Från", "Skickat", "Till", "Ämne", "VB"),
        ("Fra", "Sendt", "Til", "Emne", "VS"),
        ("Lähettäjä", "Lähetetty", "Vastaanottaja", "Aihe", "VL"),
        ("Od", "Odesláno", "Komu", "Předmět", "FW"),
        ("发件人", "发送时间", "收件人", "主题", "转发"),
        ("差出人", "送信日時", "宛先", "件名", "FW"),
    ];
    for (f, s, t, subj, fw) in blocks {
        let hb = format!("{f}: Shop <shop@example.net>\n{s}: Thursday, March 3, 2016 5:21 PM\n{t}: Bob <bob@example.com>\n{subj}: RE: Order 12345\n\nHello Bob,\nold text\n");
        let reply = replyd::message::split_body(Some(&format!("Thanks, it works.\n\n{hb}")), None);
        if reply.reply != "Thanks, it works." { println!("FAIL reply header block {f}: {:?}", reply.reply); }
        let underscores = replyd::message::split_body(Some(&format!("Thanks, it works.\n\n________________________________\n{hb}")), None);
        if underscores.reply != "Thanks, it works." { println!("FAIL underscore header block {f}: {:?}", underscores.reply); }
        let fwd = format!("________________________________\n{f}: Shop <shop@example.net>\n{s}: Thursday, March 3, 2016 5:21 PM\n{t}: Bob <bob@example.com>\n{subj}: {fw}: Invoice 12345\n\nDear customer,\nyour invoice.\n");
        let b = replyd::message::split_body(Some(&fwd), None);
        if b.reply != "Dear customer,\nyour invoice." { println!("FAIL outlook forward {f}: {:?}", b.reply); }
        let fwd2 = fwd.replace("________________________________\n", "");
        let b = replyd::message::split_body(Some(&fwd2), None);
        if b.reply != "Dear customer,\nyour invoice." { println!("FAIL bare forward {f}: {:?}", b.reply); }
    }
    for m in ["---------- Forwarded message ---------", "Begin forwarded message:", "-------- Original Message --------", "---------- Mensagem encaminhada ---------", "---------- Messaggio inoltrato ---------", "---------- Wiadomość przekazana ---------", "---------- Пересылаемое сообщение ---------", "---------- Vidarebefordrat meddelande ---------", "---------- Videresendt melding ---------", "---------- Välitetty viesti ---------", "---------- 转发的邮件 ---------", "---------- 転送メッセージ ---------", "Anfang der weitergeleiteten Nachricht:", "Début du message réexpédié :", "Inicio del mensaje reenviado:"] {
        let body = format!("{m}\nFrom: Shop <shop@example.net>\nDate: Thu, Mar 3, 2016 at 5:21 PM\nSubject: Invoice\nTo: Bob <bob@example.com>\n\nDear customer,\nyour invoice.\n");
        let b = replyd::message::split_body(Some(&body), None);
        let want = if m.contains("Original") { "" } else { "Dear customer,\nyour invoice." };
        if b.reply != want { println!("FAIL forward marker {m}: {:?}", b.reply); }
    }
}
