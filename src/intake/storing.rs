//! Storing a delivery: the content rules every message is held to, our trace header and
//! verdicts on top, the MIME extraction (off the async threads for a large message), the
//! envelope as recorded (the relay's client behind a trusted relay, a provider's verdicts
//! marked as its own), and one activity row per recipient for the outcome.

use super::trace::received_header;
use super::{Arrival, DeliveryError, Intake, Provenance, RawMessage, Refusal, WayIn};
use crate::auth::{SpfCheck, Verdict};
use crate::config::{BareLf, Limits};
use crate::message::{self, header_block::HeaderBlock};
use crate::relay::{self, RelayFacts};
use crate::store::{Automated, Delivery, Destination, Envelope, Reason, StoreError, Stored};

impl Intake {
    /// Checks a complete message against the content rules ([`check_content`]), then
    /// stores it for its accepted recipients; resolves once committed. `bare_lf`: the
    /// message's lines ended with a bare LF somewhere (SMTP framing; `false` elsewhere).
    pub async fn deliver(
        &self,
        arrival: &Arrival<'_>,
        sender: String,
        recipients: Vec<(String, Destination)>,
        raw: impl Into<RawMessage>,
        bare_lf: bool,
    ) -> Result<Vec<Stored>, DeliveryError> {
        self.deliver_with(
            arrival,
            sender,
            recipients,
            raw.into(),
            bare_lf,
            Provenance::default(),
        )
        .await
    }

    /// [`Intake::deliver`], with what an HTTP provider tells about the message.
    pub async fn deliver_with(
        &self,
        arrival: &Arrival<'_>,
        sender: String,
        recipients: Vec<(String, Destination)>,
        raw: RawMessage,
        bare_lf: bool,
        provenance: Provenance,
    ) -> Result<Vec<Stored>, DeliveryError> {
        let envelope = (sender, recipients);
        self.deliver_all(arrival, envelope, raw, bare_lf, provenance, None)
            .await
    }

    pub(super) async fn deliver_all(
        &self,
        arrival: &Arrival<'_>,
        (sender, recipients): (String, Vec<(String, Destination)>),
        raw: RawMessage,
        bare_lf: bool,
        provenance: Provenance,
        spf: Option<SpfCheck>,
    ) -> Result<Vec<Stored>, DeliveryError> {
        if let Err(refusal) = check_content(&self.config.limits, &raw.bytes, bare_lf) {
            for (address, _) in &recipients {
                self.refused(arrival, Some(&sender), Some(address), &refusal);
            }
            return Err(DeliveryError::Refused(refusal));
        }
        let verdict = self
            .verify_sender(arrival, &sender, &raw.bytes, provenance.spf.as_deref(), spf)
            .await;
        if let Some(refusal) = verdict.as_ref().and_then(|v| self.policy_refusal(v)) {
            for (address, _) in &recipients {
                self.refused(arrival, Some(&sender), Some(address), &refusal);
            }
            return Err(DeliveryError::Refused(refusal));
        }
        let attempt: Vec<(String, Destination)> = recipients.clone();
        let sender_copy = sender.clone();
        let size = raw.bytes.len();
        let result = self
            .store_message(arrival, sender, recipients, raw, provenance, verdict)
            .await;
        if let Ok(stored) = &result {
            let new = stored.iter().any(|s| {
                !matches!(
                    s,
                    Stored::Message {
                        duplicate: true,
                        ..
                    }
                )
            });
            self.metrics.stored(arrival.way_in, size, new);
        }
        self.record_outcome(arrival, &sender_copy, &attempt, &result);
        result.map_err(DeliveryError::Store)
    }

    /// One activity row per recipient: the stored row it reached, or the storage fault.
    fn record_outcome(
        &self,
        arrival: &Arrival<'_>,
        sender: &str,
        recipients: &[(String, Destination)],
        result: &Result<Vec<Stored>, StoreError>,
    ) {
        // The store answers once per distinct destination, in first-seen order.
        let mut distinct: Vec<&Destination> = Vec::new();
        for (_, d) in recipients {
            if !distinct.contains(&d) {
                distinct.push(d);
            }
        }
        for (address, d) in recipients {
            let stored = result.as_ref().ok().and_then(|stored| {
                distinct
                    .iter()
                    .position(|x| *x == d)
                    .and_then(|i| stored.get(i))
            });
            let (code, reason, detail, id) = match (stored, result) {
                (Some(Stored::Message { id, duplicate }), _) => (
                    250,
                    if *duplicate {
                        Reason::Duplicate
                    } else {
                        Reason::Stored
                    },
                    format!("stored as m{id}"),
                    Some(*id),
                ),
                (Some(Stored::Inbox { id }), _) => {
                    (250, Reason::ToOperator, format!("stored as i{id}"), None)
                }
                (None, Err(StoreError::TokenReused(why))) => {
                    (554, Reason::Policy, why.clone(), None)
                }
                (None, Err(e)) => (451, Reason::StorageFault, e.to_string(), None),
                (None, Ok(_)) => (
                    451,
                    Reason::StorageFault,
                    "not written with the rest of its batch".to_string(),
                    None,
                ),
            };
            if code != 250 {
                self.metrics.refused(&reason);
            }
            self.activity.record(self.activity_row(
                arrival,
                Some(sender),
                Some(address),
                (code, reason),
                &detail,
                id,
            ));
        }
    }

    async fn store_message(
        &self,
        arrival: &Arrival<'_>,
        sender: String,
        recipients: Vec<(String, Destination)>,
        raw: RawMessage,
        provenance: Provenance,
        verdict: Option<Verdict>,
    ) -> Result<Vec<Stored>, StoreError> {
        let now = crate::time::unix_now();
        // A queue id for the trace header and logs: unique enough, not a secret, so from
        // the thread's seeded generator rather than a system call per message.
        let id = &hex::encode(rand::random::<[u8; 6]>());
        let single = (recipients.len() == 1).then(|| recipients[0].0.as_str());
        let mut trace_header =
            received_header(arrival, &self.config.server.hostname, id, single, now);
        if let Some(v) = &verdict {
            // Our Authentication-Results goes on top, above our Received: (RFC 8601 §5).
            trace_header.insert_str(0, &v.header);
        }
        let opts = self.config.message.extract_options();
        let null_sender = sender.is_empty();
        let relayed = arrival.trusted_relay;
        let authserv_id = self.config.server.authserv_id.clone();
        let inline = raw.bytes.len() <= INLINE_PARSE_LIMIT;
        let RawMessage { bytes: raw, sha256 } = raw;
        let work = move || {
            let mut parsed = message::extract_for_store(&raw, &opts);
            if null_sender && parsed.automated.is_none() {
                parsed.automated = Some(Automated::Bounce);
            }
            let facts = if relayed {
                relay::inspect(&parsed.trace, authserv_id.as_deref())
            } else {
                RelayFacts::default()
            };
            let hash = sha256.unwrap_or_else(|| crate::store::content_hash(&raw));
            (raw, parsed.into_content(), facts, hash)
        };
        // MIME parsing is CPU work: a large message is parsed off the threads that serve
        // other sessions. A small one takes tens of microseconds, less than handing it to
        // another thread and back.
        let (raw, content, facts, content_hash) = if inline {
            work()
        } else {
            tokio::task::spawn_blocking(work)
                .await
                .map_err(|e| StoreError::Invalid(format!("message extraction failed: {e}")))?
        };
        let mut destinations: Vec<Destination> = Vec::new();
        for (_, d) in &recipients {
            if !destinations.contains(d) {
                destinations.push(d.clone());
            }
        }
        // Behind a relay, the client of record is the relay's client; the relay is kept too.
        // A pipe has no relay address, and a client address given on its command line wins.
        let local = arrival.way_in == WayIn::Pipe;
        let (remote_ip, helo) = match facts.client_ip {
            Some(ip) if !(local && arrival.remote_ip.is_some()) => (Some(ip), facts.client_helo),
            _ => (arrival.remote_ip, arrival.helo.map(str::to_string)),
        };
        let relayed = relayed && !local;
        let delivery = Delivery {
            envelope: Envelope {
                sender,
                recipients: recipients.into_iter().map(|(a, _)| a).collect(),
                remote_ip: remote_ip.map(|ip| ip.to_string()),
                helo,
                relay_ip: relayed
                    .then_some(arrival.remote_ip)
                    .flatten()
                    .map(|ip| ip.to_string()),
                relay_helo: relayed.then(|| arrival.helo.map(str::to_string)).flatten(),
                // Our own verdicts on direct delivery. Otherwise a provider's verdicts are
                // marked as its own; a relay's are its own already.
                spf: match &verdict {
                    Some(v) => Some(v.spf.clone()),
                    None => facts
                        .spf
                        .or_else(|| provider_verdict(arrival.way_in, provenance.spf)),
                },
                dkim: match &verdict {
                    Some(v) => Some(v.dkim.clone()),
                    None => facts
                        .dkim
                        .or_else(|| provider_verdict(arrival.way_in, provenance.dkim)),
                },
                dmarc: match &verdict {
                    Some(v) => Some(v.dmarc.clone()),
                    None => facts.dmarc,
                },
                sender_check: verdict.as_ref().map(|v| self.sender_check(v)),
                ingress: match arrival.way_in {
                    WayIn::Http { ingress, .. } => Some(ingress.name().to_string()),
                    _ => None,
                },
                provider_id: provenance.provider_id,
                replay: provenance.replay,
            },
            destinations,
            trace_header,
            raw,
            content_hash,
            content,
            received_at: now,
        };
        self.store.deliver(delivery).await
    }
}

/// A provider's verdict, marked as its own: `sendgrid: pass`.
pub(super) fn provider_verdict(way_in: WayIn, verdict: Option<String>) -> Option<String> {
    match way_in {
        WayIn::Http { ingress, .. } => verdict
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .map(|v| format!("{}: {v}", ingress.name())),
        _ => None,
    }
}

/// The rules every message is held to, whichever way it came in: the size limit, bare LF when the policy is `reject`, the header block size, and loops (`Received:`
/// count). SMTP also enforces the size while the data arrives; the check here is for the
/// ways in that hand over a whole message.
pub fn check_content(limits: &Limits, raw: &[u8], bare_lf: bool) -> Result<(), Refusal> {
    if raw.len() > limits.max_message_size {
        return Err(Refusal::new(
            552,
            "5.3.4",
            format!(
                "Message size exceeds the limit of {} bytes",
                limits.max_message_size
            ),
            Reason::TooLarge,
        ));
    }
    if bare_lf && limits.bare_lf == BareLf::Reject {
        return Err(Refusal::new(
            550,
            "5.5.2",
            "Bare LF in message data; lines must end with CRLF",
            Reason::BareLf,
        ));
    }
    let block = HeaderBlock::read(raw);
    let header_len = block.len_with_separator(raw);
    if header_len > limits.max_header_size {
        return Err(Refusal::new(
            552,
            "5.3.4",
            format!(
                "Message header block of {header_len} bytes exceeds the limit of {}",
                limits.max_header_size
            ),
            Reason::HeaderTooLarge,
        ));
    }
    let received = block.fields_named(raw, "Received").count();
    if received > limits.max_received_headers {
        return Err(Refusal::new(
            554,
            "5.4.0",
            format!("Too many Received headers ({received}): mail loop"),
            Reason::MailLoop,
        ));
    }
    Ok(())
}

/// Messages up to this size are parsed on the session's own thread: a 64 KiB message
/// (~0.2 ms of extraction) costs less there than handed to a blocking thread and back
/// (0.94x CPU per message at 64 KiB x 10 sessions, issue 24).
const INLINE_PARSE_LIMIT: usize = 128 * 1024;
