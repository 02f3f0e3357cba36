//! How the CLI shows what is stored: one field per line, every one escaped (the sender
//! wrote them), multi-line text indented, so no message can forge a line of the output or
//! send escape sequences to the operator's terminal.

use crate::display::{escape, escape_lines};
use crate::store::{Conversation, InboxEntry, SenderVerdict, StoredMessage};

pub(super) fn print_conversation_line(c: &Conversation) {
    // One line per conversation: every field escaped, so none can hold a line break; the
    // subject, the one free text, comes last.
    println!(
        "{}  {}  {}  {}  {}  {} message(s)  {}",
        escape(&c.uuid),
        escape(c.status.as_str()),
        escape(&c.channel),
        escape(c.contact_email.as_deref().unwrap_or("-")),
        escape(&c.reply_address),
        c.message_count,
        escape(c.subject.as_deref().unwrap_or(""))
    );
}

/// Indent of the lines of a multi-line field (reply text, quoted text): no line of it can
/// start like an entry (`--- m…`) or a field (`Subject: …`).
pub(super) const TEXT_INDENT: &str = "    ";

/// Longest original attachment name shown beside the safe one, in characters.
const MAX_SHOWN_ORIGINAL: usize = 256;

/// One message of `conversation show`: a `--- m<id>` line, then one field per line (every
/// one escaped: the sender wrote them), then the reply text, indented.
pub(super) fn print_message(m: &StoredMessage, sender: Option<&SenderVerdict>) {
    println!();
    println!(
        "--- m{} {} at {}{}",
        m.id,
        escape(m.direction.as_str()),
        escape(m.date.as_deref().unwrap_or(&m.received_at)),
        if m.flags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", escape(&flag_words(&m.flags)))
        }
    );
    println!("From: {}", escape(m.from.as_deref().unwrap_or("(unknown)")));
    if let Some(v) = sender {
        println!(
            "Sender: {}, {}",
            if v.verified {
                "verified"
            } else {
                "NOT verified"
            },
            if v.allowed {
                "matches the conversation"
            } else {
                "does NOT match the conversation"
            }
        );
    }
    for (method, verdict) in [("SPF", &m.spf), ("DKIM", &m.dkim), ("DMARC", &m.dmarc)] {
        if let Some(verdict) = verdict {
            println!("{method}: {}", escape(verdict));
        }
    }
    if let Some(arc) = sender.and_then(|v| v.arc.as_deref()) {
        println!("ARC: {}", escape(arc));
    }
    if let Some(name) = m.from_name.as_deref().filter(|n| !n.is_empty()) {
        println!("From name: {}", escape(name));
    }
    if let Some(s) = &m.subject {
        println!("Subject: {}", escape(s));
    }
    for a in &m.attachments {
        let name = crate::message::safe_filename(a.filename.as_deref(), &a.content_type);
        let sent = sent_name(&name, a.filename.as_deref());
        match &a.skipped_reason {
            None => println!(
                "Attachment: {name} ({}, {} bytes{}){sent}",
                escape(&a.content_type),
                a.size,
                if a.inline { ", inline" } else { "" }
            ),
            Some(why) => println!(
                "Attachment not kept: {name} ({} bytes): {}{sent}",
                a.size,
                escape(why)
            ),
        }
    }
    if m.omitted_attachments > 0 {
        println!(
            "Attachments not listed: {} more ({} bytes)",
            m.omitted_attachments, m.omitted_attachment_bytes
        );
    }
    println!("Reply text:");
    print!(
        "{}",
        escape_lines(m.reply_text.as_deref().unwrap_or(""), TEXT_INDENT)
    );
}

/// One entry of `inbox`: an `--- i<id>` line, then one field per line, escaped.
pub(super) fn print_inbox_entry(e: &InboxEntry) {
    println!(
        "--- i{} at {}: {}",
        e.id,
        escape(&e.received_at),
        escape(e.reason.as_str())
    );
    println!(
        "Envelope sender: {}",
        escape(
            e.envelope_sender
                .as_deref()
                .filter(|s| !s.is_empty())
                .unwrap_or("<>")
        )
    );
    println!(
        "Envelope recipients: {}",
        escape(e.envelope_recipients.as_deref().unwrap_or(""))
    );
    if let Some(ip) = &e.remote_ip {
        println!("Client: {}", escape(ip));
    }
    if let Some(from) = &e.from {
        println!("From: {}", escape(from));
    }
    println!(
        "Subject: {}",
        escape(e.subject.as_deref().unwrap_or("(no subject)"))
    );
    if let Some(c) = &e.conversation {
        println!("Conversation: {}", escape(c));
    }
    if !e.note.is_empty() {
        println!("Note: {}", escape(&e.note));
    }
}

/// After an attachment's line: the name the sender gave (escaped, cut to
/// [`MAX_SHOWN_ORIGINAL`] characters) when it is not the safe name shown.
pub(super) fn sent_name(safe: &str, original: Option<&str>) -> String {
    match original {
        None => "  [sent without a name]".to_string(),
        Some(o) if o == safe => String::new(),
        Some(o) => {
            let escaped = escape(o);
            let mut shown: String = escaped.chars().take(MAX_SHOWN_ORIGINAL).collect();
            if shown.len() < escaped.len() {
                shown.push_str(&format!("… ({} bytes in all)", o.len()));
            }
            format!("  [sent as: {shown}]")
        }
    }
}

/// Reads at most `limit` bytes of a message: one byte more is an error naming the limit, and
/// nothing past it is read (a mistaken `stamp < /dev/zero` does not fill the memory).
/// Flags as one line of words.
pub(super) fn flag_words(flags: &[crate::store::Flag]) -> String {
    flags
        .iter()
        .map(|f| f.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}
