//! Both directions: an agent's reply is stamped and recorded; the customer's answer, built
//! the way Gmail builds it, threads back into the same conversation.

mod common;

use common::*;
use replyd::store::NewConversation;

const AGENT_REPLY: &str = "From: Alice Agent <alice@support.example.com>\r\n\
To: Bob Customer <bob@example.org>\r\n\
Subject: Your order 42\r\n\
Reply-To: alice@support.example.com\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hello Bob, your parcel left our warehouse.\r\n\
--b1\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Hello Bob, your parcel left our warehouse.</p>\r\n\
--b1--\r\n";

fn body_of(raw: &[u8]) -> &[u8] {
    let i = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    &raw[i..]
}

#[test]
fn stamped_reply_threads_back_into_its_conversation() {
    let srv = TestServer::start();
    let conv = srv.conversation("bob@example.org");
    let other = srv.conversation("carol@example.org");

    // The customer wrote first (e.g. a reply to an earlier mail): its Message-ID is the parent.
    let mut c = Raw::greeted(srv.addr);
    let first = reply_message(
        &conv.reply_address,
        "first@mail.example.org",
        "Where is my parcel?",
    );
    assert_eq!(
        c.send_mail("bob@example.org", &[&conv.reply_address], &first)
            .0,
        250
    );

    let stamped = srv
        .block(replyd::outbound::stamp_and_record(
            &srv.store,
            &conv.uuid,
            AGENT_REPLY.as_bytes(),
            Some("Example Support"),
        ))
        .unwrap();
    assert_eq!(stamped.envelope_sender, conv.reply_address);
    assert_eq!(body_of(&stamped.bytes), body_of(AGENT_REPLY.as_bytes()));
    let parsed = mail_parser::MessageParser::default()
        .parse(&stamped.bytes)
        .unwrap();
    let reply_to: Vec<_> = parsed
        .headers()
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case("Reply-To"))
        .collect();
    assert_eq!(reply_to.len(), 1);
    let rt = parsed.reply_to().unwrap().first().unwrap();
    assert_eq!(rt.address(), Some(conv.reply_address.as_str()));
    assert_eq!(rt.name(), Some("Example Support"));
    let our_id = format!("conversation/{}/messages/1@{DOMAIN}", conv.uuid);
    assert_eq!(parsed.message_id(), Some(our_id.as_str()));
    assert_eq!(
        parsed.in_reply_to().as_text(),
        Some("first@mail.example.org")
    );
    assert_eq!(parsed.subject(), Some("Re: Your order 42"));
    let text = String::from_utf8_lossy(&stamped.bytes);
    assert!(
        text.contains(&format!("X-Replyd-Conversation: {}", conv.uuid)),
        "{text}"
    );

    // The outgoing message is recorded in the conversation.
    let messages = srv.block(srv.store.messages(&conv.uuid)).unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1].direction, Direction::Outgoing);
    assert_eq!(messages[1].message_id.as_deref(), Some(our_id.as_str()));

    // The customer answers from Gmail: To = our Reply-To, In-Reply-To = our Message-ID,
    // References = the chain. The token decides the conversation.
    let answer = format!(
        "From: Bob Customer <bob@example.org>\r\nTo: Example Support <{to}>\r\n\
         Subject: Re: Your order 42\r\nMessage-ID: <CAB123@mail.gmail.com>\r\n\
         In-Reply-To: <{our_id}>\r\nReferences: <first@mail.example.org> <{our_id}>\r\n\
         Content-Type: text/plain; charset=\"UTF-8\"\r\n\r\nGreat, thanks!\r\n",
        to = conv.reply_address
    );
    let mut c = Raw::greeted(srv.addr);
    assert_eq!(
        c.send_mail("bob@example.org", &[&conv.reply_address], &answer)
            .0,
        250
    );
    let messages = srv.block(srv.store.messages(&conv.uuid)).unwrap();
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[2].reply_text.as_deref(), Some("Great, thanks!"));
    assert_eq!(messages[2].in_reply_to.as_deref(), Some(our_id.as_str()));
    assert_eq!(messages[2].sender_is_contact, Some(true));
    assert!(messages[2].flags.is_empty(), "{:?}", messages[2].flags);

    // A second stamp answers the newest incoming message and carries the whole chain.
    let second = srv
        .block(replyd::outbound::stamp_and_record(
            &srv.store,
            &conv.uuid,
            AGENT_REPLY.as_bytes(),
            None,
        ))
        .unwrap();
    let parsed = mail_parser::MessageParser::default()
        .parse(&second.bytes)
        .unwrap();
    assert_eq!(
        parsed.message_id(),
        Some(format!("conversation/{}/messages/2@{DOMAIN}", conv.uuid).as_str())
    );
    assert_eq!(
        parsed.in_reply_to().as_text(),
        Some("CAB123@mail.gmail.com")
    );
    let refs = parsed.references().as_text_list().unwrap().to_vec();
    assert_eq!(
        refs.first().map(|r| r.as_ref()),
        Some("first@mail.example.org")
    );
    assert_eq!(
        refs.last().map(|r| r.as_ref()),
        Some("CAB123@mail.gmail.com")
    );
    assert!(refs.iter().any(|r| r == &our_id));
    assert_eq!(
        parsed.reply_to().unwrap().first().unwrap().name(),
        Some("Alice Agent")
    );

    // A reply sent to the other conversation's token but naming this conversation's message
    // goes where the token says, and the mismatch is recorded.
    let crossed = answer
        .replace(&conv.reply_address, &other.reply_address)
        .replace("CAB123", "CAB999");
    let mut c = Raw::greeted(srv.addr);
    assert_eq!(
        c.send_mail("bob@example.org", &[&other.reply_address], &crossed)
            .0,
        250
    );
    let m = srv.block(srv.store.messages(&other.uuid)).unwrap();
    assert_eq!(m.len(), 1);
    assert!(
        m[0].flags.contains(&Flag::ThreadMismatch),
        "{:?}",
        m[0].flags
    );
    assert!(m[0].notes.contains(&conv.uuid), "{}", m[0].notes);
}

#[test]
fn stamping_a_closed_or_contactless_conversation_fails_clearly() {
    let srv = TestServer::start();
    let conv = srv.conversation("bob@example.org");
    srv.block(srv.store.close_conversation(&conv.uuid)).unwrap();
    let err = srv
        .block(replyd::outbound::stamp_and_record(
            &srv.store,
            &conv.uuid,
            AGENT_REPLY.as_bytes(),
            None,
        ))
        .unwrap_err()
        .to_string();
    assert!(err.contains("closed"), "{err}");
    let anon = srv
        .block(srv.store.create_conversation(&NewConversation {
            contact_email: None,
            channel: "web_widget",
            subject: None,
            domain: DOMAIN,
            ttl_seconds: None,
            external_id: None,
        }))
        .unwrap();
    let err = srv
        .block(replyd::outbound::stamp_and_record(
            &srv.store,
            &anon.uuid,
            AGENT_REPLY.as_bytes(),
            None,
        ))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no contact email"), "{err}");
    let err = srv
        .block(replyd::outbound::stamp_and_record(
            &srv.store,
            &srv.conversation("x@example.org").uuid,
            b"",
            None,
        ))
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot stamp"), "{err}");
}

#[test]
fn expired_token_gets_550_with_the_configured_text() {
    let srv = TestServer::start_with(|c| {
        c.conversations.closed_reply_text =
            "This conversation is closed, please write to support@example.com".into()
    });
    let expired = srv
        .block(srv.store.create_conversation(&NewConversation {
            contact_email: Some("bob@example.org"),
            channel: "email",
            subject: None,
            domain: DOMAIN,
            ttl_seconds: Some(-1),
            external_id: None,
        }))
        .unwrap();
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO client.test", 250, "");
    c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    let text = c.expect(
        &format!("RCPT TO:<{}>", expired.reply_address),
        550,
        "5.1.1",
    );
    assert_eq!(
        text,
        "5.1.1 This conversation is closed, please write to support@example.com"
    );
}

#[test]
fn stamp_command_round_trip() {
    let dir = TempDir::new("stamp");
    let config = write_config(
        dir.path(),
        0,
        "[outbound]\ndisplay_name = \"Example Support\"\n",
    );
    let (uuid, address) = create_conversation(&config);
    let (uuid, address) = (uuid.as_str(), address.as_str());
    let out = std::process::Command::new(replyd_bin())
        .arg("--config")
        .arg(&config)
        .args(["stamp", "--conversation", uuid, "--print-sender"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), address);
    let out = replyd_with_stdin(
        &config,
        &["stamp", "--conversation", uuid],
        AGENT_REPLY.as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let unfolded = text.replace("\r\n ", " ");
    assert!(
        unfolded.contains(&format!("Reply-To: Example Support <{address}>")),
        "{text}"
    );
    assert_eq!(text.matches("Reply-To:").count(), 1);
    assert_eq!(body_of(text.as_bytes()), body_of(AGENT_REPLY.as_bytes()));
}
