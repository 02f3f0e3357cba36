//! Deciding a recipient: whether an envelope address reaches a conversation (its token
//! open, within its limits), the operator (postmaster), or nobody, with the SMTP reply a
//! refusal gets; and the activity row every refusal leaves, from any way in.

use super::{Arrival, Intake, Refusal};
use crate::activity::outcome_of;
use crate::address::{classify, Recipient};
use crate::store::{Activity, Destination, InboxReason, Reason, TokenStatus};

impl Intake {
    /// Decides an envelope recipient (already stripped of `<>`); a refusal is recorded.
    pub async fn check_recipient(
        &self,
        arrival: &Arrival<'_>,
        sender: &str,
        address: &str,
    ) -> Result<Destination, Refusal> {
        let mut decided = self.decide_recipient(address).await;
        if let Ok(Destination::Conversation(id)) = &decided {
            if let Err(refusal) = self.check_token_limits(*id, sender).await {
                decided = Err(refusal);
            }
        }
        if let Err(refusal) = &decided {
            self.refused(arrival, Some(sender), Some(address), refusal);
        }
        decided
    }

    /// Records a refusal a protocol layer gave (before or after the recipients).
    pub fn refused(
        &self,
        arrival: &Arrival<'_>,
        sender: Option<&str>,
        recipient: Option<&str>,
        refusal: &Refusal,
    ) {
        self.metrics.refused(&refusal.reason);
        self.activity.record(self.activity_row(
            arrival,
            sender,
            recipient,
            (refusal.code, refusal.reason.clone()),
            &refusal.text,
            None,
        ));
    }

    pub(super) fn activity_row(
        &self,
        arrival: &Arrival<'_>,
        sender: Option<&str>,
        recipient: Option<&str>,
        (code, reason): (u16, Reason),
        detail: &str,
        message_id: Option<i64>,
    ) -> Activity {
        let at_ms = crate::time::unix_now_ms();
        Activity {
            time: crate::time::rfc3339_ms(at_ms),
            at_ms,
            way_in: arrival.way_in.name().to_string(),
            client_ip: arrival.remote_ip.map(|ip| ip.to_string()),
            helo: arrival.helo.map(str::to_string),
            sender: sender.map(str::to_string),
            recipient: recipient.map(str::to_string),
            outcome: outcome_of(code),
            code,
            reason,
            detail: detail.to_string(),
            message_id,
            count: 1,
        }
    }

    async fn decide_recipient(&self, address: &str) -> Result<Destination, Refusal> {
        match classify(address, &self.config.server.domains) {
            Recipient::Reply { token } => match self.store.token_status(&token).await {
                Ok(TokenStatus::Open { conversation_id }) => {
                    Ok(Destination::Conversation(conversation_id))
                }
                Ok(TokenStatus::Closed) => Err(Refusal::new(
                    550,
                    "5.1.1",
                    self.config.conversations.closed_reply_text.clone(),
                    Reason::ClosedConversation,
                )),
                Ok(TokenStatus::Expired) => Err(Refusal::new(
                    550,
                    "5.1.1",
                    self.config.conversations.closed_reply_text.clone(),
                    Reason::ExpiredToken,
                )),
                Ok(TokenStatus::Unknown) => Err(Refusal::new(
                    550,
                    "5.1.1",
                    "No such conversation",
                    Reason::UnknownToken,
                )),
                Err(e) => {
                    tracing::error!(error = %e, "token look-up failed");
                    Err(Refusal::new(
                        451,
                        "4.3.0",
                        "Temporary storage failure, try again later",
                        Reason::StorageFault,
                    ))
                }
            },
            Recipient::Postmaster => Ok(Destination::Operator(InboxReason::Postmaster)),
            Recipient::UnknownLocal => Err(Refusal::new(
                550,
                "5.1.1",
                "No such user here",
                Reason::UnknownUser,
            )),
            Recipient::Routed => Err(Refusal::new(
                550,
                "5.7.1",
                "Source routing (% or !) is not accepted",
                Reason::SourceRoute,
            )),
            Recipient::Foreign => Err(Refusal::new(
                550,
                "5.7.1",
                "Relay access denied: not a domain of ours",
                Reason::ForeignDomain,
            )),
        }
    }
}
