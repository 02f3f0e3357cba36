//! Who may write into a conversation, at the intake: the limits on one token (checked at
//! RCPT), our sender verification on direct delivery (`crate::auth`) and what
//! `[security] sender_policy` makes of its verdict. Separate from `intake.rs` because it is
//! one concern of its own, added on top of the shared rules.

use super::storing::provider_verdict;
use super::{Arrival, DeliveryError, Ingress, Intake, Provenance, RawMessage, Refusal, WayIn};
use crate::auth::{SpfCheck, SpfRequest, SpfSource, Subject, Verdict};
use crate::config::SenderPolicy;
use crate::store::{Destination, Reason, SenderCheck, Stored};

impl Intake {
    /// The limits on one token (`[security] max_messages_per_hour`, `max_senders_per_day`):
    /// a leaked reply address cannot flood its conversation. Past them, `450 4.7.1`.
    pub(super) async fn check_token_limits(
        &self,
        conversation: i64,
        sender: &str,
    ) -> Result<(), Refusal> {
        let (per_hour, per_day) = (
            self.config.security.max_messages_per_hour,
            self.config.security.max_senders_per_day,
        );
        if per_hour == 0 && per_day == 0 {
            return Ok(());
        }
        let now = crate::time::unix_now();
        let traffic = self
            .store
            .conversation_traffic(
                conversation,
                &crate::time::rfc3339(now - 3600),
                &crate::time::rfc3339(now - 86_400),
                sender,
            )
            .await;
        let (messages, senders, known) = match traffic {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "conversation traffic look-up failed");
                return Err(Refusal::new(
                    451,
                    "4.3.0",
                    "Temporary storage failure, try again later",
                    Reason::StorageFault,
                ));
            }
        };
        if per_hour > 0 && messages >= i64::from(per_hour) {
            return Err(Refusal::new(
                450,
                "4.7.1",
                format!("Too many messages to this conversation ({per_hour} per hour), try later"),
                Reason::RateLimit,
            ));
        }
        if per_day > 0 && !known && senders >= i64::from(per_day) {
            return Err(Refusal::new(
                450,
                "4.7.1",
                format!("Too many senders to this conversation ({per_day} per day), try later"),
                Reason::RateLimit,
            ));
        }
        Ok(())
    }

    /// Starts the SPF check of an SMTP transaction from a client that is not a trusted
    /// relay, at its first accepted recipient, so that its look-ups
    /// overlap the data; `None` when the sender is not ours to verify.
    pub fn start_spf(&self, arrival: &Arrival<'_>, sender: &str) -> Option<SpfCheck> {
        let verifier = self.verifier.as_ref()?;
        if arrival.trusted_relay || !matches!(arrival.way_in, WayIn::Smtp { .. }) {
            return None;
        }
        Some(verifier.start_spf(SpfRequest {
            ip: arrival.remote_ip?,
            helo: arrival.helo.unwrap_or_default().to_string(),
            mail_from: sender.to_string(),
        }))
    }

    /// [`Intake::deliver`] of an SMTP transaction whose SPF check started before its data
    /// ([`Intake::start_spf`]).
    pub async fn deliver_checked(
        &self,
        arrival: &Arrival<'_>,
        sender: String,
        recipients: Vec<(String, Destination)>,
        (raw, bare_lf): (RawMessage, bool),
        spf: Option<SpfCheck>,
    ) -> Result<Vec<Stored>, DeliveryError> {
        let envelope = (sender, recipients);
        self.deliver_all(arrival, envelope, raw, bare_lf, Provenance::default(), spf)
            .await
    }

    /// Our sender verification, on direct delivery only: not from a trusted relay, a pipe,
    /// LMTP or the relay ingress, which keep the front MTA's verdicts. `spf`: the check
    /// [`Intake::start_spf`] started for this transaction.
    pub(super) async fn verify_sender(
        &self,
        arrival: &Arrival<'_>,
        sender: &str,
        raw: &[u8],
        provider_spf: Option<&str>,
        spf: Option<SpfCheck>,
    ) -> Option<Verdict> {
        let verifier = self.verifier.as_ref()?;
        let provider = match arrival.way_in {
            _ if arrival.trusted_relay => return None,
            WayIn::Smtp { .. } => None,
            WayIn::Http { ingress, .. } if ingress != Ingress::Relay => Some(ingress),
            _ => return None,
        };
        let spf_from_provider = provider.map(|ingress| {
            provider_verdict(arrival.way_in, provider_spf.map(str::to_string))
                .unwrap_or_else(|| format!("{}: none", ingress.name()))
        });
        let subject = Subject {
            ip: arrival.remote_ip?,
            helo: arrival.helo.unwrap_or_default(),
            mail_from: sender,
            raw,
        };
        let spf = match (spf_from_provider.as_deref(), spf) {
            (Some(verdict), _) => SpfSource::Provider(verdict),
            (None, Some(check)) => SpfSource::Started(check),
            (None, None) => SpfSource::Start,
        };
        Some(verifier.verify(&subject, spf).await)
    }

    /// `strict`: a DMARC fail under `p=reject` is refused, as the large providers do.
    pub(super) fn policy_refusal(&self, verdict: &Verdict) -> Option<Refusal> {
        let strict = self
            .verifier
            .as_ref()
            .is_some_and(|v| v.policy == SenderPolicy::Strict);
        (strict && verdict.dmarc_failed_policy == Some(mail_auth::dmarc::Policy::Reject)).then(
            || {
                Refusal::new(
                    550,
                    "5.7.1",
                    "Unauthenticated mail: the From domain's DMARC policy rejects it",
                    Reason::Policy,
                )
            },
        )
    }

    pub(super) fn sender_check(&self, v: &Verdict) -> SenderCheck {
        let policy = self.verifier.as_ref().map(|v| v.policy);
        SenderCheck {
            verified: v.verified,
            arc: v.arc.clone(),
            flag_policy: matches!(policy, Some(SenderPolicy::Flag | SenderPolicy::Strict)),
            quarantine: policy == Some(SenderPolicy::Strict)
                && v.dmarc_failed_policy == Some(mail_auth::dmarc::Policy::Quarantine),
        }
    }
}
