//! Our own Message-IDs, and the header that marks mail sent through replyd.
//!
//! Written when an agent's mail is stamped (`conversation/<uuid>/messages/<n>@<domain>`),
//! recognised when a delivery report names one (to link the bounce to the outgoing message),
//! and the marker is how mail of ours that comes back is seen as a loop. One module writes
//! and reads the format, so the two cannot drift apart.

/// The header that marks mail as sent through replyd (a loop back to us is recognised by it).
pub const MARKER_HEADER: &str = "X-Replyd-Conversation";

/// The Message-ID (without `<>`) of the `n`-th outgoing message of a conversation.
pub fn outgoing(conversation_uuid: &str, n: i64, domain: &str) -> String {
    format!("conversation/{conversation_uuid}/messages/{n}@{domain}")
}

/// Whether `id` (without `<>`) has the form of one of ours.
pub fn is_ours(id: &str) -> bool {
    id.strip_prefix("conversation/")
        .and_then(|rest| rest.split_once("/messages/"))
        .is_some_and(|(uuid, tail)| {
            !uuid.is_empty()
                && tail
                    .split_once('@')
                    .is_some_and(|(n, domain)| !n.is_empty() && !domain.is_empty())
        })
}

/// Our Message-IDs named anywhere in `raw` (a delivery report quotes the original's headers
/// in its body), in order, without repeats; at most 8.
pub fn named_in(raw: &[u8]) -> Vec<String> {
    const NEEDLE: &[u8] = b"<conversation/";
    let mut out: Vec<String> = Vec::new();
    for pos in memchr::memmem::find_iter(raw, NEEDLE) {
        let start = pos + 1;
        let end = raw[start..]
            .iter()
            .take(300)
            .position(|&b| b == b'>')
            .map(|e| start + e);
        if let Some(id) = end.and_then(|end| std::str::from_utf8(&raw[start..end]).ok()) {
            if is_ours(id) && !out.iter().any(|o| o == id) {
                out.push(id.to_string());
                if out.len() >= 8 {
                    break;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_and_recognised_alike() {
        let id = outgoing("6f1c-ab", 3, "support.example.com");
        assert_eq!(id, "conversation/6f1c-ab/messages/3@support.example.com");
        assert!(is_ours(&id));
        for other in [
            "other@x",
            "conversation/abc@x",
            "conversation//messages/3@x",
            "conversation/a/messages/@x",
            "conversation/a/messages/3@",
        ] {
            assert!(!is_ours(other), "{other}");
        }
    }

    #[test]
    fn named_in_a_report() {
        let raw = b"Original-Message-ID: <conversation/abc/messages/3@support.example.com>\r\n\
                    Message-ID: <other@x>\r\nIn-Reply-To: <conversation/abc/messages/3@support.example.com>\r\n\
                    References: <conversation/nope>";
        assert_eq!(
            named_in(raw),
            vec!["conversation/abc/messages/3@support.example.com".to_string()]
        );
    }
}
