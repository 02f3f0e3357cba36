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
    /// one well-formed header.
    pub fn to_header(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some((w, h)) = self.spf_helo {
            parts.push(format!("spf={w} smtp.helo={}", clean(h)));
        }
        if let Some((w, d)) = self.spf_mail {
            if d.is_empty() {
                parts.push(format!("spf={w}"));
            } else {
                parts.push(format!("spf={w} smtp.mailfrom={}", clean(d)));
            }
        }
        for sig in self.dkim.split("; ") {
            parts.push(format!("dkim={}", clean(sig)));
        }
        parts.push(format!("arc={}", clean(&self.arc.replace(['(', ')'], ""))));
        match self.dmarc.split_once(' ') {
            Some((w, rest)) => {
                let (from, policy) = rest.rsplit_once(" p=").unwrap_or((rest, ""));
                let policy = if policy.is_empty() {
                    String::new()
                } else {
                    format!(" (p={})", clean(policy))
                };
                parts.push(format!("dmarc={w}{policy} {}", clean(from)));
            }
            None if !self.from_domain.is_empty() => parts.push(format!(
                "dmarc={} header.from={}",
                clean(self.dmarc),
                clean(self.from_domain)
            )),
            None => parts.push(format!("dmarc={}", clean(self.dmarc))),
        }
        let mut out = format!("Authentication-Results: {};", clean(self.authserv_id));
        let last = parts.len().saturating_sub(1);
        for (i, part) in parts.iter().enumerate() {
            out.push_str("\r\n\t");
            out.push_str(part);
            if i < last {
                out.push(';');
            }
        }
        out.push_str("\r\n");
        out
    }
}

fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .filter(|c| *c != ';')
        .collect()
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
