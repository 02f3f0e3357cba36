//! The PostgreSQL writer's batch of common mail against a real server: its raw bytes,
//! messages and attachments go in one statement with `COMMIT` right behind it, so these
//! tests check what that statement must keep: every row where it belongs (an attachment
//! with its own message, the client's bytes with theirs), one row for copies of one
//! message, no raw bytes left without a message, and a row the database refuses costing
//! only its own delivery (the pipelined `COMMIT` then rolled the batch back, and it is
//! written again delivery by delivery); and that each rare case the batch's checks find
//! ends the same in a burst as alone.

mod common;

use common::postgres::{self, Database};
use common::*;

/// Raw bytes that no message or inbox entry keeps.
fn raw_left_behind(db: &Database) -> String {
    db.psql(
        "SELECT count(*) FROM raw_messages r WHERE NOT EXISTS \
         (SELECT 1 FROM messages m WHERE m.raw_id = r.id) \
         AND NOT EXISTS (SELECT 1 FROM inbox i WHERE i.raw_id = r.id)",
    )
}

#[test]
fn a_burst_of_replies_keeps_each_attachment_and_each_raw_with_its_message() {
    let Some(db) = postgres::fresh() else { return };
    let srv = db.node();
    let a = srv.conversation("bob@example.org");
    let b = srv.conversation("bob@example.org");
    let mut mail: Vec<(&str, Vec<u8>)> = Vec::new();
    for i in 0..6 {
        let to = if i % 3 == 2 { &b } else { &a };
        let data = format!("attachment {i} ").repeat(10 + i).into_bytes();
        let name = format!("part-{i}.bin");
        let message = reply_with_attachment(
            &to.reply_address,
            &format!("batch-{i}@example.org"),
            &format!("Text {i}"),
            (&name, "application/octet-stream", &data),
        );
        mail.push((&to.reply_address, message));
    }
    for _ in 0..3 {
        let to = &a.reply_address;
        let copy = reply_message(to, "batch-copy@example.org", "The same copy");
        mail.push((to, copy.into_bytes()));
    }
    let sent: Vec<(&str, &[u8])> = mail.iter().map(|(to, m)| (*to, &m[..])).collect();
    let replies = burst(srv.addr, &sent, || {});
    for (code, said) in &replies {
        assert_eq!(*code, 250, "{said}");
    }
    assert_eq!(srv.stored(), 6 + 1);
    let named: Vec<Option<&str>> = replies[6..]
        .iter()
        .map(|(_, said)| said.rsplit(' ').next())
        .collect();
    assert!(named.iter().all(|n| *n == named[0]), "{replies:?}");

    for (i, (to, sent)) in mail.iter().enumerate().take(6) {
        let text = format!("Text {i}");
        let m = &srv.only_with_reply(&text);
        let conv = if i % 3 == 2 { &b } else { &a };
        assert_eq!(m.conversation, conv.uuid, "{text} went to {to}");
        assert_eq!(srv.client_bytes(m), *sent, "the raw bytes of {text}");
        assert_eq!(m.attachments.len(), 1, "{:?}", m.attachments);
        let kept = &m.attachments[0];
        assert_eq!(
            kept.filename.as_deref(),
            Some(format!("part-{i}.bin").as_str())
        );
        let data = srv
            .block(srv.store.attachment_data(kept.id))
            .unwrap()
            .unwrap();
        assert_eq!(data, format!("attachment {i} ").repeat(10 + i).into_bytes());
    }
    assert_eq!(srv.copies(&a, "batch-copy@example.org"), 1);
    assert_eq!(raw_left_behind(&db), "0");
}

#[test]
fn a_row_the_database_refuses_in_a_burst_costs_only_its_own_delivery() {
    let Some(db) = postgres::fresh() else { return };
    let srv = db.node();
    let conv = srv.conversation("bob@example.org");
    // A constraint the writer knows nothing of: its statement fails for this one row
    // (SQLSTATE 23514, a value the database refuses, as a delivery's own failure).
    db.psql(
        "ALTER TABLE messages ADD CONSTRAINT test_refuses \
         CHECK (position('refused' in dedupe_key) = 0) NOT VALID",
    );
    let to = conv.reply_address.as_str();
    let mut mail: Vec<String> = (0..5)
        .map(|i| reply_message(to, &format!("kept-{i}@example.org"), &format!("Kept {i}")))
        .collect();
    mail.insert(2, reply_message(to, "refused@example.org", "Refused"));
    let sent: Vec<(&str, &[u8])> = mail.iter().map(|m| (to, m.as_bytes())).collect();
    let replies = burst(srv.addr, &sent, || {});
    for (i, (code, said)) in replies.iter().enumerate() {
        match i {
            2 => assert_eq!(*code, 451, "the refused one: {said}"),
            _ => assert_eq!(*code, 250, "{said}"),
        }
    }
    assert_eq!(srv.stored(), 5);
    assert_eq!(srv.copies(&conv, "refused@example.org"), 0);
    assert_eq!(raw_left_behind(&db), "0");
    // The node goes on: the next batch commits.
    let next = reply_message(to, "after@example.org", "After");
    let (code, said) = smtp_deliver(srv.addr, to, next.as_bytes());
    assert_eq!(code, 250, "{said}");
    assert_eq!(srv.stored(), 6);
}

/// A burst that mixes plain replies with each rare case the batch's checks find (a retry of
/// a stored message, a reused Message-ID, a reference into another conversation, a
/// conversation closed meanwhile): each ends as if it had come alone, and nothing leaves
/// raw bytes behind.
#[test]
fn each_rare_case_in_a_burst_ends_as_if_it_came_alone() {
    let Some(db) = postgres::fresh() else { return };
    let srv = db.node();
    let conv = srv.conversation("bob@example.org");
    let other = srv.conversation("bob@example.org");
    let closed = srv.conversation("bob@example.org");
    let to = conv.reply_address.as_str();
    let first = reply_message(to, "first@example.org", "First text");
    let (code, first_said) = smtp_deliver(srv.addr, to, first.as_bytes());
    assert_eq!(code, 250, "{first_said}");
    let there = reply_message(&other.reply_address, "there@example.org", "There");
    let (code, said) = smtp_deliver(srv.addr, &other.reply_address, there.as_bytes());
    assert_eq!(code, 250, "{said}");

    let cross = reply_message(to, "cross@example.org", "Cross text");
    let mail: Vec<(&str, String)> = vec![
        (to, reply_message(to, "plain-0@example.org", "Plain 0")),
        (to, first.clone()),
        (to, reply_message(to, "first@example.org", "Other text")),
        (to, format!("In-Reply-To: <there@example.org>\r\n{cross}")),
        (
            &closed.reply_address,
            reply_message(&closed.reply_address, "late@example.org", "Late"),
        ),
        (to, reply_message(to, "plain-1@example.org", "Plain 1")),
    ];
    let sent: Vec<(&str, &[u8])> = mail.iter().map(|(to, m)| (*to, m.as_bytes())).collect();
    let replies = burst(srv.addr, &sent, || {
        srv.block(srv.store.close_conversation(&closed.uuid))
            .unwrap();
    });
    for (code, said) in &replies {
        assert_eq!(*code, 250, "{said}");
    }
    // The retry names the stored message.
    assert_eq!(
        replies[1].1.rsplit(' ').next(),
        first_said.rsplit(' ').next(),
        "{replies:?}"
    );
    for plain in ["Plain 0", "Plain 1", "First text"] {
        let m = srv.only_with_reply(plain);
        assert!(m.flags.is_empty(), "{plain}: {:?}", m.flags);
        assert_eq!(m.conversation, conv.uuid);
    }
    let reused = srv.only_with_reply("Other text");
    assert!(
        reused.flags.contains(&Flag::MessageIdReused),
        "{:?}",
        reused.flags
    );
    let crossed = srv.only_with_reply("Cross text");
    assert!(
        crossed.flags.contains(&Flag::ThreadMismatch),
        "{:?}",
        crossed.flags
    );
    assert_eq!(srv.copies(&conv, "first@example.org"), 2);
    // The two delivered alone, the two plain ones, the reused Message-ID, the cross one.
    assert_eq!(srv.stored(), 2 + 2 + 1 + 1);
    let inbox = srv.inbox();
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(inbox[0].reason, InboxReason::ConversationClosed);
    assert_eq!(raw_left_behind(&db), "0");
}
