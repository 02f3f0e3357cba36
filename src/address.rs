//! Reply addresses and their tokens.
//!
//! A conversation is reachable by email at `reply+<token>@<domain>`, where the token is 128
//! bits from the OS CSPRNG written as 32 hex digits. The token is the only authority for
//! threading: guessing one is as hard as guessing a 128-bit key, and nothing else in a
//! message (subject, headers) can move it into another conversation.

use rand::{RngCore, TryRngCore};

/// Number of hex digits in a token.
pub const TOKEN_LEN: usize = 32;

/// A new token: 16 bytes from the OS CSPRNG, lowercase hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    random_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Fills `buf` from the OS CSPRNG; should the OS refuse (it practically never does), from
/// the thread-local CSPRNG that the OS seeded.
pub(crate) fn random_bytes(buf: &mut [u8]) {
    if let Err(e) = rand::rngs::OsRng.try_fill_bytes(buf) {
        tracing::warn!(error = %e, "OS random source failed; using the seeded thread CSPRNG");
        rand::rng().fill_bytes(buf);
    }
}

/// A new random (version 4) UUID in its canonical text form; conversations are named by it.
pub fn new_uuid() -> String {
    let mut b = [0u8; 16];
    random_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The reply address of a token at a domain.
pub fn reply_address(token: &str, domain: &str) -> String {
    format!("reply+{token}@{domain}")
}

/// What an envelope recipient is to us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// `reply+<token>@<our domain>`; the token is lowercased.
    Reply { token: String },
    /// `postmaster@<our domain>` or the bare `postmaster` (RFC 5321 §4.5.1).
    Postmaster,
    /// Another local part of one of our domains (including malformed tokens).
    UnknownLocal,
    /// `%` or `!` source routing inside the local part: a relay attempt.
    Routed,
    /// Not one of our domains: we are not a relay.
    Foreign,
}

/// Classifies an address (`local@domain`, already stripped of `<>` and source routes).
pub fn classify(address: &str, domains: &[String]) -> Recipient {
    if address.eq_ignore_ascii_case("postmaster") {
        return Recipient::Postmaster;
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Recipient::UnknownLocal;
    };
    let domain = domain.trim_end_matches('.');
    if !domains.iter().any(|d| d.eq_ignore_ascii_case(domain)) {
        return Recipient::Foreign;
    }
    if local.contains(['%', '!']) || local.contains('@') {
        return Recipient::Routed;
    }
    if local.eq_ignore_ascii_case("postmaster") {
        return Recipient::Postmaster;
    }
    match parse_token(local) {
        Some(token) => Recipient::Reply { token },
        None => Recipient::UnknownLocal,
    }
}

/// `reply+<32 hex>` (any case) → the lowercase token.
fn parse_token(local: &str) -> Option<String> {
    let (tag, token) = local.split_once('+')?;
    if !tag.eq_ignore_ascii_case("reply")
        || token.len() != TOKEN_LEN
        || !token.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    Some(token.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains() -> Vec<String> {
        vec!["support.example.com".into(), "help.example.org".into()]
    }

    #[test]
    fn tokens_are_32_lowercase_hex_and_distinct() {
        let a = new_token();
        assert_eq!(a.len(), 32);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_ne!(a, new_token());
        let u = new_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }

    #[test]
    fn classification() {
        let t = "0123456789abcdef0123456789ABCDEF";
        assert_eq!(
            classify(&format!("reply+{t}@Support.Example.COM"), &domains()),
            Recipient::Reply {
                token: t.to_ascii_lowercase()
            }
        );
        assert_eq!(
            classify(&format!("REPLY+{t}@help.example.org"), &domains()),
            Recipient::Reply {
                token: t.to_ascii_lowercase()
            }
        );
        assert_eq!(
            classify(&format!("reply+{t}@other.example"), &domains()),
            Recipient::Foreign
        );
        assert_eq!(
            classify("reply+abc@support.example.com", &domains()),
            Recipient::UnknownLocal
        );
        assert_eq!(
            classify("sales@support.example.com", &domains()),
            Recipient::UnknownLocal
        );
        assert_eq!(
            classify("PostMaster@support.example.com", &domains()),
            Recipient::Postmaster
        );
        assert_eq!(classify("postmaster", &domains()), Recipient::Postmaster);
        assert_eq!(
            classify("a%b@support.example.com", &domains()),
            Recipient::Routed
        );
    }
}
