//! One message's verification: SPF (HELO and MAIL FROM), DKIM (every signature), ARC and
//! DMARC, all within the per-message time limit, and what they add up to ([`Verdict`]).
//!
//! Past the time limit every check not yet answered is `temperror`: a sender's slow DNS
//! must never hold a session, and a message is never refused for it.

use super::dns::DnsCaches;
use super::results::{dkim_word, dmarc_word, spf_word, AuthResults};
use super::spf::SpfCheck;
use mail_auth::dmarc::Policy;
use mail_auth::{
    AuthenticatedMessage, DkimOutput, DkimResult, DmarcResult, MessageAuthenticator, Parameters,
    SpfResult,
};
use std::net::IpAddr;
use std::time::Duration;

/// What the checks say about one message, and what it means for the conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// `pass smtp.mailfrom=example.org` (the MAIL FROM identity; the HELO one when null).
    pub spf: String,
    /// Every signature: `pass header.d=example.org header.s=sel`, `;`-separated.
    pub dkim: String,
    /// `pass header.from=example.org p=reject`.
    pub dmarc: String,
    /// `pass (sealer lists.example.net, trusted)`, or `none`.
    pub arc: String,
    /// The From domain is authenticated (see [`Verdict::verified`]'s rules in the module).
    pub verified: bool,
    /// The From domain's DMARC policy was applied and failed: `Some(Policy)`.
    pub dmarc_failed_policy: Option<Policy>,
    /// Our `Authentication-Results` field, CRLF-terminated.
    pub header: String,
}

/// The facts of one delivery that the checks need.
pub struct Subject<'a> {
    pub ip: IpAddr,
    pub helo: &'a str,
    /// MAIL FROM (empty for the null sender).
    pub mail_from: &'a str,
    pub raw: &'a [u8],
}

/// Where the SPF verdict comes from.
pub enum SpfSource<'a> {
    /// An HTTP provider's verdict, taken as it is (we do not know the provider's client).
    Provider(&'a str),
    /// Our check, started while the transaction went on ([`SpfCheck`]).
    Started(SpfCheck),
    /// Our check, to start now.
    Start,
}

/// The checks, with everything they share between messages.
pub struct Checks<'a> {
    pub verifier: &'a super::SenderVerifier,
    pub auth: &'a MessageAuthenticator,
    pub caches: &'a DnsCaches,
    pub authserv_id: &'a str,
    pub trusted_arc_sealers: &'a [String],
    pub message_timeout: Duration,
}

macro_rules! cached {
    ($caches:expr, $p:expr) => {
        Parameters::new($p)
            .with_txt_cache(&$caches.txt)
            .with_mx_cache(&$caches.mx)
            .with_ipv4_cache(&$caches.ipv4)
            .with_ipv6_cache(&$caches.ipv6)
            .with_ptr_cache(&$caches.ptr)
    };
}

/// The words gathered so far; whatever is still `None` when time runs out is `temperror`.
#[derive(Default)]
struct Progress {
    spf_helo: Option<(SpfResult, String)>,
    spf_mail: Option<(SpfResult, String)>,
    dkim: Option<Vec<(String, String, String)>>,
    dkim_aligned_pass: bool,
    arc: Option<(String, bool)>,
    dmarc: Option<(String, Option<Policy>, bool, bool)>,
    from_domain: String,
}

/// Where DKIM's and ARC's words go (in [`Progress`], so that what was found before the
/// time limit is kept).
struct Signatures<'p> {
    dkim: &'p mut Option<Vec<(String, String, String)>>,
    dkim_aligned_pass: &'p mut bool,
    arc: &'p mut Option<(String, bool)>,
}

impl Checks<'_> {
    /// Runs the checks within the time limit per message, counted from now (the end of
    /// the data): SPF (awaited, when it was started earlier) beside DKIM and ARC, then
    /// DMARC, which needs them all.
    pub async fn run(&self, s: &Subject<'_>, spf: SpfSource<'_>) -> Verdict {
        let mut p = Progress::default();
        let (provider, mut spf) = match spf {
            SpfSource::Provider(verdict) => (Some(verdict), None),
            SpfSource::Started(check) => (None, Some(check)),
            SpfSource::Start => (None, Some(self.verifier.start_spf(s.into()))),
        };
        let message = AuthenticatedMessage::parse(s.raw);
        let limited = tokio::time::timeout(
            self.message_timeout,
            self.checks(s, message.as_ref(), spf.as_mut(), &mut p),
        )
        .await;
        if limited.is_err() {
            tracing::warn!(ip = %s.ip, "sender verification passed its time limit: temperror");
        }
        if let Some(check) = &spf {
            let found = check.found();
            p.spf_helo = found.helo;
            p.spf_mail = found.mail;
        }
        self.verdict(s, p, provider)
    }

    async fn checks(
        &self,
        s: &Subject<'_>,
        message: Option<&AuthenticatedMessage<'_>>,
        mut spf: Option<&mut SpfCheck>,
        p: &mut Progress,
    ) {
        let helo = if s.helo.is_empty() { "unknown" } else { s.helo };
        let mail_from_domain = s
            .mail_from
            .rsplit_once('@')
            .map_or(helo, |(_, d)| d)
            .to_ascii_lowercase();
        let Some(message) = message else {
            if let Some(check) = spf {
                check.finished().await;
            }
            p.dkim = Some(Vec::new());
            p.arc = Some(("none".into(), false));
            p.dmarc = Some(("none".into(), None, false, false));
            return;
        };
        p.from_domain = message
            .from()
            .rsplit_once('@')
            .map(|(_, d)| d.to_ascii_lowercase())
            .unwrap_or_default();
        // The DMARC look-ups with no record (`_dmarc.<tld>`, a domain without a policy):
        // cached with their negative TTL before mail-auth asks them.
        let mut walk = super::dns::dmarc_walk(&p.from_domain);
        if mail_from_domain != p.from_domain {
            walk.extend(super::dns::dmarc_walk(&mail_from_domain));
        }
        let spf_done = async {
            if let Some(check) = spf.as_mut() {
                check.finished().await;
            }
        };
        let Progress {
            dkim: dkim_words,
            dkim_aligned_pass,
            arc,
            from_domain,
            ..
        } = &mut *p;
        let signatures = Signatures {
            dkim: dkim_words,
            dkim_aligned_pass,
            arc,
        };
        let (dkim, (), ()) = tokio::join!(
            self.signatures(message, from_domain, signatures),
            spf_done,
            self.caches.remember_absent(self.auth, &walk),
        );
        if let Some(found) = spf.map(|check| check.found()) {
            p.spf_helo = found.helo;
            p.spf_mail = found.mail;
        }
        let spf_for_dmarc = match &p.spf_mail {
            Some((r, _)) => mail_auth::SpfOutput::new(mail_from_domain.clone()).with_result(*r),
            None => mail_auth::SpfOutput::new(mail_from_domain.clone())
                .with_result(p.spf_helo.as_ref().map_or(SpfResult::None, |(r, _)| *r)),
        };
        let dmarc = self
            .auth
            .verify_dmarc(cached!(
                self.caches,
                mail_auth::dmarc::verify::DmarcParameters::new(
                    message,
                    &dkim,
                    &mail_from_domain,
                    &spf_for_dmarc,
                )
            ))
            .await;
        let result = dmarc.result();
        let has_record = dmarc.dmarc_record().is_some();
        let word = if !has_record && !matches!(result, DmarcResult::TempError(_)) {
            "none".to_string()
        } else {
            format!(
                "{} header.from={} p={}",
                dmarc_word(&result),
                dmarc.domain(),
                dmarc.policy()
            )
        };
        let failed = matches!(result, DmarcResult::Fail(_)).then_some(dmarc.policy());
        p.dmarc = Some((
            word,
            failed,
            result == DmarcResult::Pass,
            has_record || matches!(result, DmarcResult::TempError(_)),
        ));
    }

    /// DKIM (every signature) and ARC; the DKIM outputs, for DMARC.
    async fn signatures<'m>(
        &'m self,
        message: &'m AuthenticatedMessage<'m>,
        from_domain: &str,
        sig: Signatures<'_>,
    ) -> Vec<DkimOutput<'m>> {
        let dkim: Vec<DkimOutput<'_>> = self.auth.verify_dkim(cached!(self.caches, message)).await;
        *sig.dkim = Some(
            dkim.iter()
                .map(|o| {
                    let (d, sel) = o
                        .signature()
                        .map(|sig| (sig.d.to_ascii_lowercase(), sig.s.clone()))
                        .unwrap_or_default();
                    (dkim_word(o.result()).to_string(), d, sel)
                })
                .collect(),
        );
        *sig.dkim_aligned_pass = dkim.iter().any(|o| {
            *o.result() == DkimResult::Pass
                && o.signature()
                    .is_some_and(|sig| aligned(&sig.d.to_ascii_lowercase(), from_domain))
        });
        let arc = self.auth.verify_arc(cached!(self.caches, message)).await;
        let sealer = arc
            .sets()
            .last()
            .map(|set| set.seal.header.d.to_ascii_lowercase());
        let arc_pass = *arc.result() == DkimResult::Pass;
        let trusted = arc_pass
            && sealer.as_ref().is_some_and(|d| {
                self.trusted_arc_sealers
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(d))
            });
        let arc_word = match (&sealer, arc.result()) {
            (_, DkimResult::None) => "none".to_string(),
            (Some(d), r) => format!(
                "{} (sealer {d}{})",
                dkim_word(r),
                if trusted {
                    ", trusted"
                } else {
                    ", not trusted"
                }
            ),
            (None, r) => dkim_word(r).to_string(),
        };
        *sig.arc = Some((arc_word, trusted));
        dkim
    }

    fn verdict(&self, s: &Subject<'_>, p: Progress, spf_from_provider: Option<&str>) -> Verdict {
        let temp = || "temperror".to_string();
        let spf = match (&p.spf_mail, &p.spf_helo, spf_from_provider) {
            (_, _, Some(provider)) => provider.to_string(),
            (Some((r, d)), _, _) => format!("{} smtp.mailfrom={d}", spf_word(*r)),
            (None, Some((r, h)), _) if s.mail_from.is_empty() => {
                format!("{} smtp.helo={h}", spf_word(*r))
            }
            _ => temp(),
        };
        let dkim = match &p.dkim {
            None => temp(),
            Some(v) if v.is_empty() => "none".to_string(),
            Some(v) => v
                .iter()
                .map(|(w, d, sel)| format!("{w} header.d={d} header.s={sel}"))
                .collect::<Vec<_>>()
                .join("; "),
        };
        let (arc, arc_trusted) = p.arc.clone().unwrap_or_else(|| (temp(), false));
        let (dmarc, mut failed, dmarc_pass, has_record) = p
            .dmarc
            .clone()
            .unwrap_or_else(|| (temp(), None, false, true));
        let spf_same_domain = matches!(&p.spf_mail, Some((SpfResult::Pass, d)) if !p.from_domain.is_empty() && *d == p.from_domain);
        // A trusted sealer vouches for mail a list or forwarder broke (RFC 8617 §7.2).
        if arc_trusted && failed.is_some() {
            failed = None;
        }
        let verified = dmarc_pass
            || (arc_trusted && p.dmarc.is_some())
            || (!has_record && p.dmarc.is_some() && (p.dkim_aligned_pass || spf_same_domain));
        let header = AuthResults {
            authserv_id: self.authserv_id,
            spf_helo: p.spf_helo.as_ref().map(|(r, h)| (spf_word(*r), h.as_str())),
            spf_mail: match (&p.spf_mail, spf_from_provider) {
                (_, Some(_)) => None,
                (Some((r, d)), _) => Some((spf_word(*r), d.as_str())),
                (None, _) if !s.mail_from.is_empty() => Some(("temperror", "")),
                (None, _) => None,
            },
            dkim: &dkim,
            arc: &arc,
            dmarc: &dmarc,
            from_domain: &p.from_domain,
        }
        .to_header();
        Verdict {
            spf,
            dkim,
            dmarc,
            arc,
            verified,
            dmarc_failed_policy: failed,
            header,
        }
    }
}

/// DKIM `d=` aligned with the From domain without a DMARC record to say how: the same
/// domain, or one a parent of the other.
fn aligned(d: &str, from: &str) -> bool {
    !d.is_empty()
        && (d == from || from.ends_with(&format!(".{d}")) || d.ends_with(&format!(".{from}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn alignment_without_dmarc() {
        assert!(super::aligned("example.org", "example.org"));
        assert!(super::aligned("example.org", "mail.example.org"));
        assert!(!super::aligned("example.org", "badexample.org"));
        assert!(!super::aligned("", "example.org"));
    }
}
