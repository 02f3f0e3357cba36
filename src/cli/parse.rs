//! `replyd parse`: what the server would store of a message file, without a server or a
//! database: the same extraction, printed as JSON or escaped lines.

use super::read_capped;
use super::show::{flag_words, sent_name, TEXT_INDENT};
use crate::config::MessageConfig;
use crate::display::{escape, escape_lines};

pub(super) fn parse(
    file: &std::path::Path,
    json: bool,
    limits: &MessageConfig,
    max_message_size: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let raw = if file.as_os_str() == "-" {
        read_capped(
            std::io::stdin().lock(),
            max_message_size,
            "the message on standard input",
        )?
    } else {
        let name = file.display();
        let f = std::fs::File::open(file).map_err(|e| format!("cannot read {name}: {e}"))?;
        read_capped(f, max_message_size, &name.to_string())?
    };
    let p = crate::message::extract(&raw, &limits.extract_options());
    if json {
        let attachments: Vec<_> = p
            .attachments
            .iter()
            .map(|a| {
                serde_json::json!({
                    "filename": a.filename, "content_type": a.content_type, "size": a.size,
                    "inline": a.inline, "content_id": a.content_id,
                })
            })
            .collect();
        let v = serde_json::json!({
            "subject": p.subject,
            "from": p.from.as_ref().map(|f| f.address.clone()),
            "from_name": p.from.as_ref().and_then(|f| f.name.clone()),
            "to": p.to.iter().map(|m| m.address.clone()).collect::<Vec<_>>(),
            "message_id": p.message_id,
            "in_reply_to": p.in_reply_to,
            "references": p.references,
            "date": p.date,
            "text": p.text_body,
            "html": p.html_body,
            "reply_text": p.reply_text,
            "quoted_text": p.quoted_text,
            "attachments": attachments,
            "skipped_attachments": p.skipped_attachments,
            "omitted_attachments": p.omitted_attachments,
            "automated": p.automated,
            "flags": p.flags,
            "notes": p.notes,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "From: {}",
            escape(
                p.from
                    .as_ref()
                    .map(|f| f.address.as_str())
                    .unwrap_or("(none)")
            )
        );
        if let Some(name) = p.from.as_ref().and_then(|f| f.name.as_deref()) {
            println!("From name: {}", escape(name));
        }
        println!(
            "Subject: {}",
            escape(p.subject.as_deref().unwrap_or("(none)"))
        );
        if let Some(a) = &p.automated {
            println!("Automated: {}", escape(a.as_str()));
        }
        for a in &p.attachments {
            let name = crate::message::safe_filename(a.filename.as_deref(), &a.content_type);
            println!(
                "Attachment: {name} ({}, {} bytes{}){}",
                escape(&a.content_type),
                a.size,
                if a.inline { ", inline" } else { "" },
                sent_name(&name, a.filename.as_deref())
            );
        }
        for a in &p.skipped_attachments {
            let name = crate::message::safe_filename(a.filename.as_deref(), &a.content_type);
            println!(
                "Attachment not kept: {name} ({} bytes): {}{}",
                a.size,
                escape(&a.reason),
                sent_name(&name, a.filename.as_deref())
            );
        }
        if !p.flags.is_empty() {
            println!("Flags: {}", escape(&flag_words(&p.flags)));
        }
        println!("\n--- reply text ---");
        print!("{}", escape_lines(&p.reply_text, TEXT_INDENT));
        if !p.quoted_text.is_empty() {
            println!("\n--- quoted (trimmed) ---");
            print!("{}", escape_lines(&p.quoted_text, TEXT_INDENT));
        }
    }
    Ok(())
}
