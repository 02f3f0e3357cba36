//! Our `Authentication-Results` field (RFC 8601), and the result words of each method.
//!
//! The field is stored beside the raw bytes (with the trace header) and put on top of the
//! delivered form; the client's bytes are never touched.

use mail_auth::dkim::DkimError;
use mail_auth::{DkimResult, DmarcResult, Error, SpfResult};

pub fn spf_word(r: SpfResult) -> &'static str {
    match r {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
        SpfResult::None => "none",
    }
}

/// A body changed after signing is `fail` (RFC 6376 §6.1.3: the body hash did not
/// verify, a PERMFAIL), where mail-auth says `neutral`.
pub fn dkim_word(r: &DkimResult) -> &'static str {
    match r {
        DkimResult::Pass => "pass",
        DkimResult::Neutral(Error::Dkim(DkimError::FailedBodyHashMatch)) => "fail",
        DkimResult::Neutral(_) => "neutral",
        DkimResult::Fail(_) => "fail",
        DkimResult::PermError(_) => "permerror",
        DkimResult::TempError(_) => "temperror",
        DkimResult::None => "none",
    }
}

pub fn dmarc_word(r: &DmarcResult) -> &'static str {
    match r {
        DmarcResult::Pass => "pass",
        DmarcResult::Fail(_) => "fail",
        DmarcResult::TempError(_) => "temperror",
        DmarcResult::PermError(_) => "permerror",
        DmarcResult::None => "none",
    }
}

/// What goes in the field; each method's value is already in result-word form.
pub struct AuthResults<'a> {
    pub authserv_id: &'a str,
    pub spf_helo: Option<(&'static str, &'a str)>,
    pub spf_mail: Option<(&'static str, &'a str)>,
    pub dkim: &'a str,
    pub arc: &'a str,
    pub dmarc: &'a str,
    pub from_domain: &'a str,
}

impl AuthResults<'_> {
    /// The folded field, CRLF-terminated. Values come from DNS and the message (domain
    /// names, selectors): anything outside printable ASCII is dropped so the field stays
    /// one well-formed header. Written into one string (it is built for every message).
    pub fn to_header(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("Authentication-Results: ");
        push_clean(&mut out, self.authserv_id);
        out.push(';');
        let mut first = true;
        let mut part = |out: &mut String| {
            if !first {
                out.push(';');
            }
            first = false;
            out.push_str("\r\n\t");
        };
        if let Some((w, h)) = self.spf_helo {
            part(&mut out);
            out.push_str("spf=");
            out.push_str(w);
            out.push_str(" smtp.helo=");
            push_clean(&mut out, h);
        }
        if let Some((w, d)) = self.spf_mail {
            part(&mut out);
            out.push_str("spf=");
            out.push_str(w);
            if !d.is_empty() {
                out.push_str(" smtp.mailfrom=");
                push_clean(&mut out, d);
            }
        }
        for sig in self.dkim.split("; ") {
            part(&mut out);
            out.push_str("dkim=");
            push_clean(&mut out, sig);
        }
        part(&mut out);
        out.push_str("arc=");
        if self.arc.contains(['(', ')']) {
            push_clean(&mut out, &self.arc.replace(['(', ')'], ""));
        } else {
            push_clean(&mut out, self.arc);
        }
        part(&mut out);
        out.push_str("dmarc=");
        match self.dmarc.split_once(' ') {
            Some((w, rest)) => {
                let (from, policy) = rest.rsplit_once(" p=").unwrap_or((rest, ""));
                push_clean(&mut out, w);
                if !policy.is_empty() {
                    out.push_str(" (p=");
                    push_clean(&mut out, policy);
                    out.push(')');
                }
                out.push(' ');
                push_clean(&mut out, from);
            }
            None => {
                push_clean(&mut out, self.dmarc);
                if !self.from_domain.is_empty() {
                    out.push_str(" header.from=");
                    push_clean(&mut out, self.from_domain);
                }
            }
        }
        out.push_str("\r\n");
        out
    }
}

/// Appends `s` without what would break the field: anything but printable ASCII and
/// spaces, and `;` (it separates the methods).
fn push_clean(out: &mut String, s: &str) {
    if s.bytes()
        .all(|b| (b.is_ascii_graphic() || b == b' ') && b != b';')
    {
        out.push_str(s);
    } else {
        out.extend(
            s.chars()
                .filter(|c| (c.is_ascii_graphic() || *c == ' ') && *c != ';'),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_every_method() {
        let h = AuthResults {
            authserv_id: "mx.test",
            spf_helo: Some(("pass", "mail.example.org")),
            spf_mail: Some(("fail", "example.org")),
            dkim: "pass header.d=example.org header.s=s1",
            arc: "none",
            dmarc: "fail header.from=example.org p=reject",
            from_domain: "example.org",
        }
        .to_header();
        assert_eq!(
            h,
            "Authentication-Results: mx.test;\r\n\tspf=pass smtp.helo=mail.example.org;\r\n\
             \tspf=fail smtp.mailfrom=example.org;\r\n\tdkim=pass header.d=example.org \
             header.s=s1;\r\n\tarc=none;\r\n\tdmarc=fail (p=reject) header.from=example.org\r\n"
        );
    }
}
