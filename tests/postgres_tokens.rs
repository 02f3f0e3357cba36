//! The `RCPT` token cache of the PostgreSQL store against a real PostgreSQL server: a node
//! that already accepted replies to a conversation (its cache warm) refuses it within a
//! second of a change made anywhere: another node, plain SQL (an operator, an older node),
//! a rotation; and while its listening connection is gone and after it is back.

mod common;

use common::postgres::{self, Database};
use common::smtp::rcpt_answers_within;
use common::*;

/// A reply to `conv` accepted by `srv`.
fn reply_through(srv: &TestServer, conv: &replyd::store::Conversation, text: &str) {
    let message = reply_message(&conv.reply_address, "warm@example.org", text);
    let (code, answer) = smtp_deliver(srv.addr, &conv.reply_address, message.as_bytes());
    assert_eq!(code, 250, "{answer}");
}

/// Closes `conv` by plain SQL, as an operator or a replyd node of another version would.
fn close_by_sql(db: &Database, conv: &replyd::store::Conversation) {
    db.psql(&format!(
        "UPDATE conversations SET status = 'closed' WHERE uuid = '{}'",
        conv.uuid
    ));
}

/// Replies to `convs` through `srv` once its listener listens, so that their tokens are
/// in its cache (the listener starts at a node's first look-up).
fn warm(db: &Database, srv: &TestServer, convs: &[&replyd::store::Conversation]) {
    reply_through(srv, convs[0], "first look-up");
    db.token_listener_other_than("");
    for conv in convs {
        reply_through(srv, conv, "warm");
    }
}

#[test]
fn a_close_by_plain_sql_is_refused_by_a_warm_node_within_a_second() {
    let Some(db) = postgres::fresh() else { return };
    let a = db.node();
    let conv = a.conversation("bob@example.org");
    warm(&db, &a, &[&conv]);
    assert_eq!(a.messages(&conv.uuid).len(), 2);

    close_by_sql(&db, &conv);
    let took = rcpt_answers_within(a.addr, &conv.reply_address, 550, Duration::from_secs(1));
    eprintln!("refused {took:?} after the SQL close");
    // Another conversation, unknown to the node's cache, is accepted from the database.
    let other = a.conversation("carol@example.org");
    rcpt_answers_within(a.addr, &other.reply_address, 250, Duration::from_secs(1));
}

#[test]
fn a_rotation_on_another_node_retires_the_old_address_on_a_warm_node() {
    let Some(db) = postgres::fresh() else { return };
    let a = db.node();
    let b = db.node();
    let conv = a.conversation("bob@example.org");
    warm(&db, &a, &[&conv]);

    // Rotated on B with a grace of 2 s (1 to 2 s: whole seconds): A accepts the new address,
    // the old one through the grace, then refuses the old one (its cache had it as the
    // conversation's own token, without an end).
    let rotated = b.block(b.store.rotate_token(&conv.uuid, 2)).unwrap();
    assert_ne!(rotated.reply_address, conv.reply_address);
    rcpt_answers_within(a.addr, &rotated.reply_address, 250, Duration::from_secs(1));
    rcpt_answers_within(a.addr, &conv.reply_address, 250, Duration::ZERO);
    rcpt_answers_within(a.addr, &conv.reply_address, 550, Duration::from_secs(3));
    reply_through(&a, &rotated, "after the rotation");
    assert_eq!(a.messages(&conv.uuid).len(), 3);
}

#[test]
fn a_node_whose_listener_was_cut_still_refuses_a_close_within_a_second() {
    let Some(db) = postgres::fresh() else { return };
    let a = db.node();
    let first = a.conversation("bob@example.org");
    let second = a.conversation("carol@example.org");
    warm(&db, &a, &[&first, &second]);
    let before = db.token_listeners();

    // The listening connection killed, then a close: notifications sent while it is gone
    // are lost, so the node must not answer from what it cached.
    let killed = db.psql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'replyd-listener'",
    );
    assert_eq!(killed, "1");
    close_by_sql(&db, &first);
    rcpt_answers_within(a.addr, &first.reply_address, 550, Duration::from_secs(1));

    // The listener is back by itself (backoff well under 5 s), and listens again.
    db.token_listener_other_than(&before);
    reply_through(&a, &second, "warm again");
    close_by_sql(&db, &second);
    rcpt_answers_within(a.addr, &second.reply_address, 550, Duration::from_secs(1));
}
