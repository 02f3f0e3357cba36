//! The words the store keeps: a conversation's status, a message's direction, its flags, why
//! it looks automated, why it went to the operator inbox.
//!
//! Each is an enum with exactly one string per variant, written here and nowhere else: the
//! string is what the database holds, what `--json` and the API print, and what an operator
//! greps the logs for, so it must never drift between layers. Flags and automated reasons
//! read back from a database written by a newer replyd keep their text (`Other`) rather
//! than failing the read.

use serde::{Serialize, Serializer};
use std::fmt;

/// Declares a vocabulary enum and its one string mapping. With `other`, an unknown string
/// read back is kept as `Other(text)`.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)* } $(other $other:ident)?) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            $(
                /// A word this replyd does not know (written by a newer one).
                $other(String),
            )?
        }

        impl $name {
            /// The stored (and printed) word.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $($name::$other(text) => text,)?
                }
            }

            /// Every word this replyd knows, in declaration order.
            pub const KNOWN: &'static [&'static str] = &[$($text,)*];

            /// The variant a stored word names; `None` for an unknown word where the
            /// enum keeps none.
            #[allow(unreachable_code)]
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)*
                    _ => {
                        $(return Some($name::$other(text.to_string()));)?
                        None
                    }
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// Whether a conversation's reply address is accepted.
    ConversationStatus {
        Open => "open",
        /// Closed by the helpdesk: later replies are refused (`550 5.1.1`).
        Closed => "closed",
    }
}

vocabulary! {
    /// Which way a message went.
    Direction {
        /// From the customer (or anyone) to replyd.
        Incoming => "incoming",
        /// An agent's mail, stamped by replyd.
        Outgoing => "outgoing",
    }
}

vocabulary! {
    /// Why a message looks automated: the helpdesk must never answer a robot automatically.
    Automated {
        /// A delivery status notification (or anything from the null sender).
        Bounce => "bounce",
        /// Our own stamped mail came back to us.
        Loop => "loop",
        /// Out-of-office, vacation notice, read receipt, RFC 3834 `Auto-Submitted`.
        AutoReply => "auto_reply",
        /// A mailing list or bulk mail.
        List => "list",
    }
    other Other
}

vocabulary! {
    /// Something worth an operator's attention about a stored message. Machine-readable;
    /// the message's notes say it in words.
    Flag {
        /// No header block: the whole message is taken as its body.
        NoHeaderBlock => "no_header_block",
        /// The MIME parser (or the extraction) failed; the text shown is the raw bytes.
        ParserFailed => "parser_failed",
        /// Nothing the MIME parser could read.
        Unparseable => "unparseable",
        /// More attachments than `max_attachments`: the rest are only counted.
        AttachmentsOmitted => "attachments_omitted",
        /// More MIME parts than `max_mime_parts`.
        TooManyParts => "too_many_parts",
        /// MIME nesting deeper than `max_mime_depth`.
        MimeTooDeep => "mime_too_deep",
        /// A `message/*` part with a content transfer encoding (not read as a message).
        EncodedMessagePart => "encoded_message_part",
        /// A part whose charset or transfer encoding could not be decoded.
        UndecodablePart => "undecodable_part",
        /// The same Message-ID with other content in the same conversation.
        MessageIdReused => "message_id_reused",
        /// `In-Reply-To`/`References` name another conversation's message; the token won.
        ThreadMismatch => "thread_mismatch",
        /// Nothing new: the whole message is quoted history.
        NoNewText => "no_new_text",
        /// `[security] sender_policy` flag/strict: the From domain is not authenticated, or
        /// the sender is not one allowed in the conversation.
        UnverifiedSender => "unverified_sender",
    }
    other Other
}

vocabulary! {
    /// Why mail went to the operator inbox instead of a conversation.
    InboxReason {
        /// Addressed to `postmaster` (RFC 5321 requires accepting it).
        Postmaster => "postmaster",
        /// Accepted for a conversation that was closed before the commit.
        ConversationClosed => "conversation_closed",
        /// Taken in over HTTP for an unknown, closed or foreign address: the provider
        /// already accepted it, so nobody could tell the sender any more.
        UnknownRecipient => "unknown_recipient",
    }
    other Other
}

vocabulary! {
    /// What became of a delivery attempt, for one recipient.
    Outcome {
        /// Committed (a message row or an operator inbox entry).
        Stored => "stored",
        /// Refused for good (a `5xx`, or an HTTP ingress's do-not-retry answer).
        Refused => "refused",
        /// Refused for now (a `4xx`): the client is expected to try again.
        Deferred => "deferred",
    }
}

vocabulary! {
    /// Why a delivery attempt ended as it did.
    Reason {
        /// Stored in its conversation.
        Stored => "stored",
        /// A retry of a message already stored: acknowledged, not stored twice.
        Duplicate => "duplicate",
        /// Stored in the operator inbox.
        ToOperator => "to_operator",
        /// A reply address whose token names no conversation.
        UnknownToken => "unknown_token",
        /// The conversation is closed.
        ClosedConversation => "closed_conversation",
        /// The token's time is up.
        ExpiredToken => "expired_token",
        /// Another local part of one of our domains.
        UnknownUser => "unknown_user",
        /// Not one of our domains: a relay attempt.
        ForeignDomain => "foreign_domain",
        /// `%` or `!` routing in the local part.
        SourceRoute => "source_route",
        /// More recipients than `max_recipients`.
        TooManyRecipients => "too_many_recipients",
        /// Over `max_message_rate_per_ip`.
        RateLimit => "rate_limit",
        /// Over `max_message_size`.
        TooLarge => "too_large",
        /// A header block over `max_header_size`.
        HeaderTooLarge => "header_too_large",
        /// More `Received:` headers than `max_received_headers`.
        MailLoop => "mail_loop",
        /// Bare LF line ends under `bare_lf = "reject"`.
        BareLf => "bare_lf",
        /// The store could not commit: the client retries.
        StorageFault => "storage_fault",
        /// Any other rule of ours (TLS required, SMTPUTF8 needed, a malformed request…).
        Policy => "policy",
    }
    other Other
}

vocabulary! {
    /// What an outbox event says happened (the `type` of its webhook); the same words as
    /// `[[webhooks]] events`.
    EventType {
        /// An incoming message stored in a conversation.
        MessageReceived => "message.received",
        /// A delivery report stored in a conversation and linked to one of our outgoing
        /// messages (`related_message`).
        MessageBounced => "message.bounced",
        /// Mail stored in the operator inbox (not threaded).
        InboxReceived => "inbox.received",
    }
    other Other
}

vocabulary! {
    /// Where an event stands with one webhook endpoint.
    DeliveryState {
        /// Not yet answered with a `2xx`: waiting for its next attempt.
        Pending => "pending",
        /// Answered with a `2xx`.
        Delivered => "delivered",
        /// Given up after `give_up_after` (sent again by `replyd webhooks retry`).
        Failed => "failed",
    }
}

/// Flags as stored: space-separated words.
pub(crate) fn join_flags(flags: &[Flag]) -> String {
    let mut out = String::new();
    for f in flags {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(f.as_str());
    }
    out
}

/// Flags read back.
pub(crate) fn split_flags(text: &str) -> Vec<Flag> {
    text.split_whitespace().filter_map(Flag::parse).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_maps_back_to_its_variant() {
        for word in Flag::KNOWN {
            assert_eq!(
                Flag::parse(word).map(|f| f.as_str().to_string()).as_deref(),
                Some(*word)
            );
            assert!(!matches!(Flag::parse(word), Some(Flag::Other(_))), "{word}");
        }
        for word in Automated::KNOWN {
            assert!(!matches!(Automated::parse(word), Some(Automated::Other(_))));
        }
        assert_eq!(
            ConversationStatus::parse("closed"),
            Some(ConversationStatus::Closed)
        );
        assert_eq!(ConversationStatus::parse("archived"), None);
        assert_eq!(
            Flag::parse("from_the_future"),
            Some(Flag::Other("from_the_future".into()))
        );
        let flags = vec![Flag::ThreadMismatch, Flag::Other("x_y".into())];
        assert_eq!(split_flags(&join_flags(&flags)), flags);
        assert_eq!(
            serde_json::to_string(&flags).unwrap(),
            r#"["thread_mismatch","x_y"]"#
        );
    }
}
