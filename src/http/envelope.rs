//! Where the envelope of mail over HTTP comes from.
//!
//! Each provider passes the envelope recipient (the address it received the mail for) in a
//! field of its own; it is what reaches a conversation when the customer's mail was a Bcc
//! or a forward. It comes from the provider, but it is written into our records and
//! matched against tokens, so a value with CR, LF or NUL, or that is not an address, is
//! refused rather than cleaned. Without one, the reply addresses in To and Cc are used, as
//! the rest of the message is. The relay ingress takes them from the headers its MTA
//! added (the topmost `X-Original-To` or `Delivered-To`: lower ones may be forged by the
//! sender).

use crate::address::{classify, Recipient};
use crate::message::header_block::{unfold, HeaderBlock};

/// One envelope address as a provider gives it (`a@b` or `<a@b>`). `Err` says why not.
pub fn address(value: &str) -> Result<String, String> {
    if value.contains(['\r', '\n', '\0']) {
        return Err(format!("recipient {value:?} contains CR, LF or NUL"));
    }
    let a = value.trim();
    let a = a
        .strip_prefix('<')
        .and_then(|a| a.strip_suffix('>'))
        .unwrap_or(a)
        .trim();
    if a.eq_ignore_ascii_case("postmaster") {
        return Ok(a.to_string());
    }
    let ok = match a.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !a
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"()[]\\".contains(c))
        }
        None => false,
    };
    if ok {
        Ok(a.to_string())
    } else {
        Err(format!("recipient {value:?} is not an address"))
    }
}

/// A recipient field that may name several addresses, comma-separated.
pub fn addresses(value: &str) -> Result<Vec<String>, String> {
    if value.trim().is_empty() {
        return Err("the recipient field is empty".into());
    }
    value.split(',').map(address).collect()
}

/// The values of the header fields named `names`, topmost first, unfolded.
fn field_values(raw: &[u8], names: &[&str]) -> Vec<String> {
    let block = HeaderBlock::read(raw);
    block
        .fields
        .iter()
        .filter(|f| names.iter().any(|n| f.is(raw, n)))
        .map(|f| {
            String::from_utf8_lossy(&unfold(f.value(raw)))
                .trim()
                .to_string()
        })
        .collect()
}

/// The things in a header value that look like addresses.
fn address_tokens(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(|c: char| c.is_whitespace() || "<>,;\"()".contains(c))
        .filter(|t| t.contains('@') && !t.starts_with('@') && !t.ends_with('@'))
}

/// The reply addresses (`reply+<token>@<our domain>`) in To and Cc.
pub fn reply_addresses(raw: &[u8], domains: &[String]) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for value in field_values(raw, &["To", "Cc"]) {
        for token in address_tokens(&value) {
            let is_reply = matches!(classify(token, domains), Recipient::Reply { .. });
            if is_reply && !found.iter().any(|f| f.eq_ignore_ascii_case(token)) {
                found.push(token.to_string());
            }
        }
    }
    found
}

/// The topmost of the fields `names` (e.g. `X-Original-To`, `Delivered-To`), as an address.
pub fn topmost(raw: &[u8], names: &[&str]) -> Option<Result<String, String>> {
    field_values(raw, names)
        .into_iter()
        .next()
        .map(|v| address(&v))
}

/// The sender when the provider gives no envelope sender: `Return-Path` (`<>` is the null
/// sender of a bounce), else the `From` address. Never empty by mistake: an empty sender
/// marks the message as a bounce.
pub fn sender_from_headers(raw: &[u8]) -> String {
    if let Some(rp) = field_values(raw, &["Return-Path"]).into_iter().next() {
        if rp.trim() == "<>" {
            return String::new();
        }
        if let Some(a) = address_tokens(&rp).next() {
            return a.to_string();
        }
    }
    field_values(raw, &["From"])
        .into_iter()
        .next()
        .and_then(|v| address_tokens(&v).next().map(str::to_string))
        .unwrap_or_else(|| "unknown@unknown.invalid".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked() {
        assert_eq!(address(" <a@b.example> ").unwrap(), "a@b.example");
        assert!(address("a@b\r\nX-Evil: 1").is_err());
        assert!(address("not an address").is_err());
        assert!(address("@b").is_err());
        assert_eq!(addresses("a@x, b@y").unwrap(), vec!["a@x", "b@y"]);
        assert!(addresses("").is_err());
    }

    #[test]
    fn headers_give_recipients_and_sender() {
        let domains = vec!["support.example.com".to_string()];
        let raw = b"Delivered-To: top@support.example.com\r\nDelivered-To: low@x\r\n\
                    From: \"Bob\" <bob@example.org>\r\nTo: \"reply+ab@evil\" <reply+0123456789abcdef0123456789abcdef@support.example.com>,\r\n other@x\r\n\r\nbody";
        assert_eq!(
            reply_addresses(raw, &domains),
            vec!["reply+0123456789abcdef0123456789abcdef@support.example.com"]
        );
        assert_eq!(
            topmost(raw, &["X-Original-To", "Delivered-To"]),
            Some(Ok("top@support.example.com".into()))
        );
        assert_eq!(sender_from_headers(raw), "bob@example.org");
        assert_eq!(
            sender_from_headers(b"Return-Path: <>\r\nFrom: a@b\r\n\r\n"),
            ""
        );
    }
}
