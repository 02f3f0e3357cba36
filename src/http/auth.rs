//! Credentials, checked in constant time: basic auth (SendGrid, Postmark, relay; user
//! `actionmailbox` as in Chatwoot's URLs) and the providers' HMACs (Mailgun's SHA-256 in
//! hex, Mandrill's SHA-1 in base64).

use axum::http::{header, HeaderMap};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The basic auth user name every ingress expects.
pub const USER: &str = "actionmailbox";

/// Whether the request carries `actionmailbox:<password>` in basic auth. Both sides are
/// hashed before the comparison, so neither the content nor the length of the password
/// leaks through timing.
pub fn basic_auth_ok(headers: &HeaderMap, password: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let mut expected = Vec::with_capacity(USER.len() + 1 + password.len());
    expected.extend_from_slice(USER.as_bytes());
    expected.push(b':');
    expected.extend_from_slice(password.as_bytes());
    let given = Sha256::digest(&decoded);
    let want = Sha256::digest(&expected);
    given.ct_eq(&want).into()
}

/// Mailgun: HMAC-SHA256 with the signing key over timestamp then token, lowercase hex.
pub fn mailgun_signature_ok(key: &str, timestamp: &str, token: &str, signature: &str) -> bool {
    let Ok(signature) = hex::decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.as_bytes()) else {
        return false;
    };
    mac.update(timestamp.as_bytes());
    mac.update(token.as_bytes());
    mac.verify_slice(&signature).is_ok()
}

/// Mandrill: HMAC-SHA1 with the webhook key over `signed` (the URL then the sorted
/// fields), base64.
pub fn mandrill_signature_ok(key: &str, signed: &[u8], signature: &str) -> bool {
    let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()) else {
        return false;
    };
    mac.update(signed);
    mac.verify_slice(&signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn research_vectors() {
        // From the Rails test suite (M1, M4) and computed independently.
        let key = "tbsy84uSV1Kt3ZJZELY2TmShPRs91E3yL4tzf96297vBCkDWgL";
        let token = "7VwW7k6Ak7zcTwoSoNm7aTtbk1g67MKAnsYLfUB7PdszbgR5Xi";
        let sig = "ef24c5225322217bb065b80bb54eb4f9206d764e3e16abab07f0a64d1cf477cc";
        assert!(mailgun_signature_ok(key, "1539112500", token, sig));
        let other = "Zx8mJBiGmiiyyfWnho3zKyjCg2pxLARoCuBM7X9AKCioShGiMX";
        assert!(!mailgun_signature_ok(key, "1539112500", other, sig));
        assert!(!mailgun_signature_ok(key, "1539112500", token, "zz"));
        let signed =
            "https://example.com/rails/action_mailbox/mandrill/inbound_emailsmandrill_events[]";
        assert!(mandrill_signature_ok(
            "test-webhook",
            signed.as_bytes(),
            "eO5HecfHmGDoSsdiZuaYS/nc1sU="
        ));
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            "Basic YWN0aW9ubWFpbGJveDpzZWNyZXQ=".parse().unwrap(),
        );
        assert!(basic_auth_ok(&h, "secret"));
        assert!(!basic_auth_ok(&h, "secreT"));
    }
}
