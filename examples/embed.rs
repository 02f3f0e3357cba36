//! Embedding replyd in a helpdesk written in Rust: run the server in-process, create a
//! conversation, stamp an agent's reply, receive the customer's answer over SMTP and learn
//! of it through a subscription — no polling of tables, no second process.
//!
//! Run: `cargo run --example embed`

use lettre::{SmtpTransport, Transport};
use replyd::store::NewConversation;
use replyd::{Config, Server};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("replyd-embed-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    // 1. Configure in code and start the server on a free loopback port.
    let mut config = Config::default();
    config.server.domains = vec!["support.example.com".into()];
    config.server.listen = vec!["127.0.0.1:0".parse()?];
    config.store.path = dir.join("replyd.sqlite3");
    let server = Server::bind(config).await?;
    let addr = server.local_addrs()[0];
    let store = server.store();
    let mut replies = store.subscribe(store.last_message_id().await?);
    let stop = server.shutdown_handle();
    let running = tokio::spawn(server.run());
    println!("listening on {addr}");

    // 2. A conversation that started on the web widget.
    let conversation = store
        .create_conversation(&NewConversation {
            contact_email: Some("bob@example.org"),
            channel: "web_widget",
            subject: Some("Order 42"),
            domain: "support.example.com",
            ttl_seconds: None,
            external_id: None,
        })
        .await?;
    println!(
        "conversation {} at {}",
        conversation.uuid, conversation.reply_address
    );

    // 3. The agent answers by email: stamp the message before sending it.
    let agent_reply = b"From: Alice <alice@support.example.com>\r\nTo: bob@example.org\r\n\
Subject: Order 42\r\n\r\nHello Bob, your parcel left today.\r\n";
    let stamped = replyd::outbound::stamp_and_record(
        &store,
        &conversation.uuid,
        agent_reply,
        Some("Example Support"),
    )
    .await?;
    println!(
        "stamped agent reply <{}>; send it with MAIL FROM:<{}>",
        stamped.message_id, stamped.envelope_sender
    );

    // 4. The customer hits Reply in their mail client.
    let customer = lettre::Message::builder()
        .from("Bob <bob@example.org>".parse()?)
        .to(conversation.reply_address.parse()?)
        .subject("Re: Order 42")
        .in_reply_to(format!("<{}>", stamped.message_id))
        .body("Great, thank you!\n\nOn Wed, Example Support wrote:\n> Hello Bob, your parcel left today.\n".to_string())?;
    let port = addr.port();
    let response = tokio::task::spawn_blocking(move || {
        SmtpTransport::builder_dangerous("127.0.0.1")
            .port(port)
            .build()
            .send(&customer)
    })
    .await??;
    println!(
        "server answered: {} {}",
        response.code(),
        response.message().collect::<Vec<_>>().join(" ")
    );

    // 5. The helpdesk is notified of the stored reply.
    let message = tokio::time::timeout(Duration::from_secs(10), replies.next()).await??;
    println!(
        "notification: message m{} in conversation {} from {}",
        message.id,
        message.conversation,
        message.from.as_deref().unwrap_or("?")
    );
    println!(
        "reply text: {}",
        message.reply_text.as_deref().unwrap_or("")
    );

    stop.shutdown();
    running.await??;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
