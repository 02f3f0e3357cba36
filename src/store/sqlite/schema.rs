//! Schema and migrations.
//!
//! The program owns its schema: it creates it on a new file and migrates an older one in a
//! transaction, tracking the version in `PRAGMA user_version`. A file written by a newer
//! replyd is refused rather than half-understood.

use super::StoreError;
use rusqlite::Connection;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 11;

const V1: &str = r#"
CREATE TABLE conversations (
    id            INTEGER PRIMARY KEY,
    uuid          TEXT NOT NULL UNIQUE,
    token         TEXT NOT NULL UNIQUE,
    domain        TEXT NOT NULL,
    contact_email TEXT,
    channel       TEXT NOT NULL,
    subject       TEXT,
    status        TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at    TEXT NOT NULL,
    closed_at     TEXT,
    expires_at    INTEGER
);

-- The client's bytes, once however many conversations they were delivered to. Append-only
-- (no index): retries are recognised on `messages` and do not write their bytes again.
CREATE TABLE raw_messages (
    id     INTEGER PRIMARY KEY,
    sha256 BLOB NOT NULL,
    size   INTEGER NOT NULL,
    data   BLOB NOT NULL
);

CREATE TABLE messages (
    id                  INTEGER PRIMARY KEY,
    conversation_id     INTEGER NOT NULL REFERENCES conversations(id),
    direction           TEXT NOT NULL CHECK (direction IN ('incoming', 'outgoing')),
    message_id          TEXT,
    in_reply_to         TEXT,
    refs                TEXT,
    from_addr           TEXT,
    from_name           TEXT,
    to_addrs            TEXT,
    cc_addrs            TEXT,
    subject             TEXT,
    date                TEXT,
    -- NULL when it is the reply text itself (nothing was trimmed): the bytes are kept once.
    text_body           TEXT,
    html_body           TEXT,
    reply_text          TEXT,
    quoted_text         TEXT,
    envelope_sender     TEXT,
    envelope_recipients TEXT,
    remote_ip           TEXT,
    helo                TEXT,
    received_at         TEXT NOT NULL,
    trace_header        TEXT,
    raw_id              INTEGER REFERENCES raw_messages(id),
    dedupe_key          TEXT NOT NULL,
    content_hash        BLOB NOT NULL,
    automated           TEXT,
    sender_is_contact   INTEGER,
    flags               TEXT NOT NULL DEFAULT '',
    notes               TEXT NOT NULL DEFAULT '',
    -- For a delivery report: the outgoing message it is about.
    related_message_id  INTEGER REFERENCES messages(id)
);
-- A retried delivery (same conversation, Message-ID and bytes) is the same message. The
-- same index finds a message by its Message-ID (`dedupe_key`; '' when it has none), for
-- threading and for linking delivery reports: one index, not two.
CREATE UNIQUE INDEX messages_retry ON messages(dedupe_key, conversation_id, content_hash);
CREATE INDEX messages_conversation ON messages(conversation_id, id);

CREATE TABLE attachments (
    id             INTEGER PRIMARY KEY,
    message_id     INTEGER NOT NULL REFERENCES messages(id),
    filename       TEXT,
    content_type   TEXT NOT NULL,
    size           INTEGER NOT NULL,
    content_id     TEXT,
    inline         INTEGER NOT NULL DEFAULT 0,
    data           BLOB,
    skipped_reason TEXT
);
CREATE INDEX attachments_message ON attachments(message_id);

-- What reached the operator: postmaster mail, and mail accepted but not threaded.
CREATE TABLE inbox (
    id                  INTEGER PRIMARY KEY,
    reason              TEXT NOT NULL,
    conversation_id     INTEGER REFERENCES conversations(id),
    from_addr           TEXT,
    subject             TEXT,
    message_id          TEXT,
    envelope_sender     TEXT,
    envelope_recipients TEXT,
    remote_ip           TEXT,
    helo                TEXT,
    received_at         TEXT NOT NULL,
    trace_header        TEXT,
    raw_id              INTEGER REFERENCES raw_messages(id),
    note                TEXT NOT NULL DEFAULT ''
);
"#;

/// v2: mail relayed by a front MTA. `remote_ip`/`helo` name the original client (from the
/// relay's `Received:`); these name the relay, and hold its SPF/DKIM/DMARC verdicts.
const V2: &str = r#"
ALTER TABLE messages ADD COLUMN relay_ip TEXT;
ALTER TABLE messages ADD COLUMN relay_helo TEXT;
ALTER TABLE messages ADD COLUMN auth_spf TEXT;
ALTER TABLE messages ADD COLUMN auth_dkim TEXT;
ALTER TABLE messages ADD COLUMN auth_dmarc TEXT;
"#;

/// v3: a reply text that is a verbatim stretch of the raw message (CRLF line ends read as
/// LF) is kept once: `reply_text` is NULL and `reply_start`/`reply_len` locate it in
/// `raw_messages.data` (0-based byte offset). `messages_full` is `messages` with `text_body`
/// and `reply_text` resolved: what anyone reading the database with SQL should select from.
const V3: &str = r#"
ALTER TABLE messages ADD COLUMN reply_start INTEGER;
ALTER TABLE messages ADD COLUMN reply_len INTEGER;
CREATE VIEW messages_full AS
SELECT m.id, m.conversation_id, m.direction, m.message_id, m.in_reply_to, m.refs,
       m.from_addr, m.from_name, m.to_addrs, m.cc_addrs, m.subject, m.date,
       COALESCE(m.text_body, m.reply_text,
                replace(CAST(substr(r.data, m.reply_start + 1, m.reply_len) AS TEXT),
                        char(13, 10), char(10))) AS text_body,
       m.html_body,
       COALESCE(m.reply_text,
                replace(CAST(substr(r.data, m.reply_start + 1, m.reply_len) AS TEXT),
                        char(13, 10), char(10))) AS reply_text,
       m.quoted_text, m.envelope_sender, m.envelope_recipients, m.remote_ip, m.helo,
       m.received_at, m.trace_header, m.raw_id, m.dedupe_key, m.content_hash, m.automated,
       m.sender_is_contact, m.flags, m.notes, m.related_message_id, m.relay_ip,
       m.relay_helo, m.auth_spf, m.auth_dkim, m.auth_dmarc
FROM messages m LEFT JOIN raw_messages r ON r.id = m.raw_id AND m.reply_start IS NOT NULL;
"#;

/// v4: attachments past `max_attachments` are counted on their message instead of a row
/// each (a message of 100,000 tiny parts made 100,000 rows). The view gains the columns.
const V4: &str = r#"
ALTER TABLE messages ADD COLUMN omitted_attachments INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN omitted_attachment_bytes INTEGER NOT NULL DEFAULT 0;
DROP VIEW messages_full;
CREATE VIEW messages_full AS
SELECT m.id, m.conversation_id, m.direction, m.message_id, m.in_reply_to, m.refs,
       m.from_addr, m.from_name, m.to_addrs, m.cc_addrs, m.subject, m.date,
       COALESCE(m.text_body, m.reply_text,
                replace(CAST(substr(r.data, m.reply_start + 1, m.reply_len) AS TEXT),
                        char(13, 10), char(10))) AS text_body,
       m.html_body,
       COALESCE(m.reply_text,
                replace(CAST(substr(r.data, m.reply_start + 1, m.reply_len) AS TEXT),
                        char(13, 10), char(10))) AS reply_text,
       m.quoted_text, m.envelope_sender, m.envelope_recipients, m.remote_ip, m.helo,
       m.received_at, m.trace_header, m.raw_id, m.dedupe_key, m.content_hash, m.automated,
       m.sender_is_contact, m.flags, m.notes, m.related_message_id, m.relay_ip,
       m.relay_helo, m.auth_spf, m.auth_dkim, m.auth_dmarc, m.omitted_attachments,
       m.omitted_attachment_bytes
FROM messages m LEFT JOIN raw_messages r ON r.id = m.raw_id AND m.reply_start IS NOT NULL;
"#;

/// v5: mail over HTTP. Which ingress it came through and the provider's id for it; and the
/// signature tokens already used (`replay.rs`), kept until their signatures expire.
const V5: &str = r#"
ALTER TABLE messages ADD COLUMN ingress TEXT;
ALTER TABLE messages ADD COLUMN provider_id TEXT;
CREATE TABLE used_tokens (
    ingress    TEXT NOT NULL,
    token      TEXT NOT NULL,
    digest     BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (ingress, token)
) WITHOUT ROWID;
CREATE INDEX used_tokens_expiry ON used_tokens(expires_at);
DROP VIEW messages_full;
CREATE VIEW messages_full AS
SELECT m.id, m.conversation_id, m.direction, m.message_id, m.in_reply_to, m.refs,
       m.from_addr, m.from_name, m.to_addrs, m.cc_addrs, m.subject, m.date,
       COALESCE(m.text_body, m.reply_text,
                replace(CAST(substr(r.data, m.reply_start + 1, m.reply_len) AS TEXT),
                        char(13, 10), char(10))) AS text_body,
       m.html_body,
       COALESCE(m.reply_text,
                replace(CAST(substr(r.data, m.reply_start + 1, m.reply_len) AS TEXT),
                        char(13, 10), char(10))) AS reply_text,
       m.quoted_text, m.envelope_sender, m.envelope_recipients, m.remote_ip, m.helo,
       m.received_at, m.trace_header, m.raw_id, m.dedupe_key, m.content_hash, m.automated,
       m.sender_is_contact, m.flags, m.notes, m.related_message_id, m.relay_ip,
       m.relay_helo, m.auth_spf, m.auth_dkim, m.auth_dmarc, m.omitted_attachments,
       m.omitted_attachment_bytes, m.ingress, m.provider_id
FROM messages m LEFT JOIN raw_messages r ON r.id = m.raw_id AND m.reply_start IS NOT NULL;
"#;

/// v6: the activity log, one row per delivery attempt and recipient (or per aggregated
/// flood), kept for `[activity] keep_days`.
const V6: &str = r#"
CREATE TABLE activity (
    id          INTEGER PRIMARY KEY,
    at_ms       INTEGER NOT NULL,
    way_in      TEXT NOT NULL,
    client_ip   TEXT,
    helo        TEXT,
    sender      TEXT,
    recipient   TEXT,
    outcome     TEXT NOT NULL,
    code        INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    message_id  INTEGER,
    count       INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX activity_at ON activity(at_ms);
"#;

/// v7: the helpdesk API. Its keys (only a SHA-256 of each is kept; `key_id` is the key's
/// public part, what a request is looked up by and what `replyd api-key list` shows), and
/// the helpdesk's own id for a conversation, unique, so a retried create finds the first.
const V7: &str = r#"
CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY,
    key_id     TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    sha256     BLOB NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
ALTER TABLE conversations ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX conversations_external_id ON conversations(external_id);
"#;

/// v8: the webhooks' transactional outbox. `webhook_events` is written by the writer in the
/// message's own transaction (one row per stored message or inbox entry, with its
/// conversation's next sequence number); each configured endpoint has a row in
/// `webhook_endpoints` (its cursor through the events, whether it is disabled), a row per
/// event it is sent in `webhook_deliveries`, and every attempt in `webhook_attempts`.
/// Self-contained: it touches no table of an earlier version.
fn migrate_webhooks(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(
        r#"
CREATE TABLE webhook_events (
    id              INTEGER PRIMARY KEY,
    webhook_id      TEXT NOT NULL UNIQUE,
    type            TEXT NOT NULL,
    conversation_id INTEGER,
    sequence        INTEGER NOT NULL,
    message_id      INTEGER,
    inbox_id        INTEGER,
    created_ms      INTEGER NOT NULL
);
CREATE INDEX webhook_events_sequence ON webhook_events(conversation_id, sequence);
CREATE INDEX webhook_events_created ON webhook_events(created_ms);
CREATE TABLE webhook_endpoints (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    url          TEXT NOT NULL,
    events       TEXT NOT NULL,
    cursor       INTEGER NOT NULL,
    disabled_ms  INTEGER,
    disabled_why TEXT,
    -- Set at a start whose configuration no longer lists it: it holds back no pruning,
    -- and what it had not sent is forgotten after `keep_days`.
    retired_ms   INTEGER
);
CREATE TABLE webhook_deliveries (
    endpoint_id      INTEGER NOT NULL,
    event_id         INTEGER NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_ms          INTEGER NOT NULL,
    first_attempt_ms INTEGER,
    done_ms          INTEGER,
    -- Bumped by a retry or replay: an attempt begun before it does not overwrite its state.
    generation       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (endpoint_id, event_id)
) WITHOUT ROWID;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(endpoint_id, state, next_ms);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries(event_id);
CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY,
    endpoint_id INTEGER NOT NULL,
    event_id    INTEGER NOT NULL,
    at_ms       INTEGER NOT NULL,
    status      INTEGER,
    latency_ms  INTEGER NOT NULL,
    error       TEXT
);
CREATE INDEX webhook_attempts_event ON webhook_attempts(event_id);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts(endpoint_id, id);
"#,
    )?;
    Ok(())
}

/// v9: sender verification on direct delivery (`crate::auth`). The ARC verdict beside
/// the SPF/DKIM/DMARC ones; whether the From domain was authenticated (`sender_verified`)
/// and whether the sender may write into the conversation (`sender_allowed`); the addresses
/// the helpdesk allowed (`replyd conversation allow`); the tokens a rotation replaced.
fn migrate_senders(tx: &Connection) -> Result<(), StoreError> {
    tx.execute_batch(
        r#"
ALTER TABLE messages ADD COLUMN auth_arc TEXT;
ALTER TABLE messages ADD COLUMN sender_verified INTEGER;
ALTER TABLE messages ADD COLUMN sender_allowed INTEGER;
CREATE TABLE allowed_senders (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    address         TEXT NOT NULL COLLATE NOCASE,
    added_at        INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, address)
);
-- Reply tokens replaced by `replyd conversation rotate`: still accepted until valid_until.
CREATE TABLE retired_tokens (
    token           TEXT PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    valid_until     INTEGER NOT NULL
);
"#,
    )?;
    Ok(())
}

/// v10: the outgoing messages of a conversation by an index of their own. Whether a sender
/// may write into a conversation reads the To/Cc of its outgoing rows for every verified
/// message; through `messages_conversation` that walked every incoming row too, so a
/// conversation's thousandth reply cost a thousand rows (sender verification halved the
/// SMTP throughput of one busy conversation). Queries on `direction` name it as a literal,
/// not a parameter: against a partial index on it, SQLite prepares a statement with a bound
/// `direction` again at every run.
const V10: &str = r#"
CREATE INDEX messages_outgoing ON messages(conversation_id) WHERE direction = 'outgoing';
"#;

/// v11: a webhook delivery's lease, `claimed_until`. PostgreSQL's several nodes take a due
/// delivery with it (`postgres/webhooks.rs`); one SQLite process has no one to share with
/// and leaves it NULL. It is here so that one version number names one schema on both
/// backends (and `copy-store` moves the same columns).
const V11: &str = r#"
ALTER TABLE webhook_deliveries ADD COLUMN claimed_until INTEGER;
"#;

/// Brings the schema of `conn` to [`SCHEMA_VERSION`].
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)?;
    // Another process may have migrated while we waited for the lock.
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version < 1 {
        tx.execute_batch(V1)?;
    }
    if version < 2 {
        tx.execute_batch(V2)?;
    }
    if version < 3 {
        tx.execute_batch(V3)?;
    }
    if version < 4 {
        tx.execute_batch(V4)?;
    }
    if version < 5 {
        tx.execute_batch(V5)?;
    }
    if version < 6 {
        tx.execute_batch(V6)?;
    }
    if version < 7 {
        tx.execute_batch(V7)?;
    }
    if version < 8 {
        migrate_webhooks(&tx)?;
    }
    if version < 9 {
        migrate_senders(&tx)?;
    }
    if version < 10 {
        tx.execute_batch(V10)?;
    }
    if version < 11 {
        tx.execute_batch(V11)?;
    }
    // PostgreSQL's v12 (triggers announcing token changes to the nodes' `RCPT` caches,
    // `postgres/schema.rs`) has no SQLite form: one SQLite process reads its tokens without
    // a cache. The version is not raised for nothing, since an older build refuses a newer
    // file: the two backends' numbers are the same up to 11 and each its own after.
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}
