//! The message stage of a session: `DATA`, the data itself, the content rules, and the
//! replies after the commit — one for SMTP, one per accepted recipient for LMTP.

use super::*;
use crate::intake::RawMessage;

impl Session {
    pub(super) async fn data(&mut self) -> Flow {
        let Some(tx) = &self.tx else {
            return self.error(503, "5.5.1", "Need MAIL before DATA");
        };
        if tx.recipients.is_empty() {
            return self.error(554, "5.5.1", "No valid recipients");
        }
        if self.conn.has_buffered() {
            // RFC 2920: DATA ends a pipeline group; bytes before 354 are a desynchronised or
            // smuggling client.
            self.conn
                .reply(554, "5.5.0", "Improper use of SMTP command pipelining");
            return Flow::Close;
        }
        self.conn.reply(354, "", "End data with <CR><LF>.<CR><LF>");
        let limits = &self.ctx.intake.config.limits;
        let (max, timeout, min_rate) = (
            limits.max_message_size,
            limits.data_timeout,
            limits.min_data_rate,
        );
        let host = self.ctx.intake.config.server.hostname.clone();
        // Room for a typical short reply at once (growing from empty took nine
        // reallocations for a 1 KiB message); larger ones grow as they arrive.
        let mut body = Vec::with_capacity(4096.min(max));
        let mut shutdown = self.shutdown.clone();
        let read = tokio::select! {
            r = self.conn.read_data(&mut body, max, timeout, min_rate) => r,
            _ = shutdown.reached(Phase::Abort) => {
                self.conn.reply(421, "4.3.2", &format!("{host} Service shutting down, try again later"));
                return Flow::Close;
            }
        };
        let (bare_lf, sha256) = match read {
            Ok(Data::Timeout) => {
                tracing::info!(peer = %PeerName(self.peer), "data timeout or too slow; closed");
                self.conn
                    .reply(421, "4.4.2", &format!("{host} Timeout exceeded, closing"));
                return Flow::Close;
            }
            Err(_) | Ok(Data::Eof) => return Flow::Close,
            Ok(Data::Runaway) => {
                self.conn.reply(
                    421,
                    "4.3.4",
                    &format!("{host} Message far over the size limit, closing"),
                );
                return Flow::Close;
            }
            Ok(Data::TooBig) => {
                let refusal = Refusal::new(
                    552,
                    "5.3.4",
                    format!("Message size exceeds the limit of {max} bytes"),
                    Reason::TooLarge,
                );
                if let Some(tx) = &self.tx {
                    let arrival = self.arrival();
                    for (address, _) in &tx.recipients {
                        self.ctx.intake.refused(
                            &arrival,
                            Some(&tx.sender),
                            Some(address),
                            &refusal,
                        );
                    }
                }
                return self.refuse_message(refusal.code, refusal.esc, &refusal.text);
            }
            Ok(Data::Complete { bare_lf, sha256 }) => (bare_lf, sha256),
        };
        let Some(tx) = self.tx.take() else {
            return Flow::Continue;
        };
        let raw = RawMessage {
            bytes: body,
            sha256: Some(sha256),
        };
        self.deliver(tx, raw, bare_lf).await
    }

    /// Refuses the message of the transaction: one reply, or in LMTP one per accepted
    /// recipient (RFC 2033 §4.2). The session goes on.
    fn refuse_message(&mut self, code: u16, esc: &str, text: &str) -> Flow {
        let recipients = self.tx.take().map_or(0, |tx| tx.recipients.len());
        self.refuse_for(recipients, code, esc, text)
    }

    /// [`Self::refuse_message`] for a transaction already handed over, of `recipients`.
    fn refuse_for(&mut self, recipients: usize, code: u16, esc: &str, text: &str) -> Flow {
        if self.protocol == Protocol::Lmtp {
            for _ in 1..recipients {
                self.conn.reply(code, esc, text);
            }
        }
        self.error(code, esc, text)
    }

    /// Hands the message to the intake (which applies the content rules, then stores it)
    /// and answers: a refusal as the rules say (one reply per recipient in LMTP), a storage
    /// fault `451`, stored `250`.
    async fn deliver(&mut self, tx: Transaction, raw: RawMessage, bare_lf: bool) -> Flow {
        let end_of_data = std::time::Instant::now();
        let size = raw.bytes.len();
        let arrival = self.arrival();
        let destinations: Vec<Destination> = tx.recipients.iter().map(|(_, d)| d.clone()).collect();
        let result = self
            .ctx
            .intake
            .deliver_checked(&arrival, tx.sender, tx.recipients, (raw, bare_lf), tx.spf)
            .await;
        let result = match result {
            Err(DeliveryError::Refused(refusal)) => {
                tracing::info!(peer = %PeerName(self.peer), reply = %refusal, "message refused");
                return self.refuse_for(
                    destinations.len(),
                    refusal.code,
                    refusal.esc,
                    &refusal.text,
                );
            }
            Err(DeliveryError::Store(e)) => Err(e),
            Ok(stored) => {
                self.ctx.intake.metrics.answered_250(end_of_data.elapsed());
                Ok(stored)
            }
        };
        if self.protocol == Protocol::Lmtp {
            return self.lmtp_replies(&destinations, size, result);
        }
        let peer = PeerName(self.peer);
        match result {
            Ok(stored) => {
                let ids: Vec<String> = stored.iter().map(Stored::to_string).collect();
                let ids = ids.join(" ");
                let duplicate = stored.iter().all(|s| {
                    matches!(
                        s,
                        Stored::Message {
                            duplicate: true,
                            ..
                        }
                    )
                });
                // The delivery's log line is the activity log's (one per attempt and recipient).
                tracing::debug!(%peer, size, stored = %ids, duplicate, "message stored");
                let text = if duplicate {
                    format!("Ok: already stored as {ids}")
                } else {
                    format!("Ok: stored as {ids}")
                };
                self.conn.reply(250, "2.0.0", &text);
                Flow::Continue
            }
            Err(e) => {
                tracing::error!(%peer, size, error = %e, "message not stored; answered 451");
                self.error(451, "4.3.0", "Temporary storage failure, try again later")
            }
        }
    }

    /// RFC 2033 §4.2: one reply per accepted `RCPT`, in order. A token given twice gets two
    /// replies naming the same stored row (the store keeps one copy per conversation).
    fn lmtp_replies(
        &mut self,
        destinations: &[Destination],
        size: usize,
        result: Result<Vec<Stored>, StoreError>,
    ) -> Flow {
        let peer = PeerName(self.peer);
        let stored = match result {
            Ok(stored) => stored,
            Err(e) => {
                tracing::error!(%peer, size, error = %e, "message not stored; answered 451 per recipient");
                for _ in 1..destinations.len() {
                    self.conn
                        .reply(451, "4.3.0", "Temporary storage failure, try again later");
                }
                return self.error(451, "4.3.0", "Temporary storage failure, try again later");
            }
        };
        // The store answers once per distinct destination, in first-seen order.
        let mut distinct: Vec<&Destination> = Vec::new();
        for d in destinations {
            if !distinct.contains(&d) {
                distinct.push(d);
            }
        }
        let mut failed = false;
        for d in destinations {
            let outcome = distinct
                .iter()
                .position(|x| *x == d)
                .and_then(|i| stored.get(i));
            match outcome {
                Some(
                    s @ Stored::Message {
                        duplicate: true, ..
                    },
                ) => self
                    .conn
                    .reply(250, "2.0.0", &format!("Ok: already stored as {s}")),
                Some(s) => self.conn.reply(250, "2.0.0", &format!("Ok: stored as {s}")),
                None => {
                    failed = true;
                    self.conn
                        .reply(451, "4.3.0", "Temporary storage failure, try again later");
                }
            }
        }
        let ids: Vec<String> = stored.iter().map(Stored::to_string).collect();
        tracing::debug!(%peer, size, stored = %ids.join(" "), recipients = destinations.len(), "message stored (LMTP)");
        if failed {
            self.errors += 1;
        }
        Flow::Continue
    }
}
