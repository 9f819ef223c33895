//! The end of a message: build the sighting, make it durable, and only then say `250`.
//!
//! A message whose accepted recipients are all quiet (a `new` trap domain, `model::domain`) is
//! stored exactly the same way and then answered `550 5.1.1`: the sender sees a mailbox that
//! does not exist, the operator keeps the mail. A store failure is still `451`, so a sender
//! never takes a lost message for a bounce.

use super::{Flow, Session};
use crate::persona::{Ctx, Say};
use model::{Envelope, EventKind, MessageId, Sighting, SightingSource, Timings};

/// The address the quiet-period bounce names (the first accepted recipient), when every
/// accepted recipient is quiet; `None` when at least one is not, and the message is queued.
fn quiet_bounce(envelope: &Envelope) -> Option<String> {
    let mut accepted = envelope.accepted().peekable();
    let first = accepted.peek()?.address.clone();
    accepted.all(|r| r.quiet).then_some(first)
}

impl Session {
    /// Hands the finished message to the store and answers by the outcome: `250 ... queued as`
    /// once raw bytes, sighting and analysis job are on disk (`550 5.1.1` instead when every
    /// recipient is quiet); `451` if the store failed.
    pub(super) async fn capture(&mut self) -> Flow {
        let Some(tx) = self.tx.take() else {
            return Flow::Continue;
        };
        let raw = tx.body;
        let message_id = MessageId::of(&raw);
        let queue_id = self.shared.persona.queue_id();
        let data_ms = tx
            .data_started
            .map(|t| t.elapsed().as_millis())
            .unwrap_or(0);
        let sighting = Sighting {
            id: uuid::Uuid::now_v7(),
            message_id,
            received_at: model::now(),
            source: SightingSource::Smtp,
            size: raw.len() as u64,
            session_id: self.record.id,
            listener: self.meta.listener.clone(),
            peer: self.record.peer.clone(),
            local: self.record.local.clone(),
            helo: self.helo.clone(),
            tls: self.tls.clone(),
            envelope: tx.envelope,
            anomalies: tx.anomalies,
            timings: Timings {
                session_ms: self.ms(),
                data_ms: u64::try_from(data_ms).unwrap_or(u64::MAX),
            },
            queue_id: queue_id.clone(),
            sensor: self.shared.sensor.clone(),
        };
        let sighting_id = sighting.id;
        let size = sighting.size;
        let sender = sighting.envelope.mail_from.address.clone();
        let recipients: Vec<String> = sighting
            .envelope
            .accepted()
            .map(|r| r.address.clone())
            .collect();
        let quiet_to = quiet_bounce(&sighting.envelope);
        match self.shared.store.capture(raw, sighting).await {
            Ok(captured) => {
                self.record.sightings.push(sighting_id);
                let mut stored = self
                    .event(EventKind::MessageStored)
                    .field("message_id", message_id)
                    .field("sighting", sighting_id)
                    .field("size", size)
                    .field("sender", &sender)
                    .field("recipients", &recipients)
                    .field("queue_id", &queue_id)
                    .field("duplicate", captured.duplicate);
                if quiet_to.is_some() {
                    stored = stored.field("quiet", true);
                }
                self.emit(stored);
                match &quiet_to {
                    // Not counted as an error: the sender did nothing wrong, and a bulk sender
                    // in the quiet period must not be tarpitted or cut off by the error limit.
                    Some(addr) => self.say(
                        Say::UnknownUserAfterData,
                        Ctx {
                            addr,
                            ..Ctx::default()
                        },
                    ),
                    None => self.say(
                        Say::Queued,
                        Ctx {
                            qid: &queue_id,
                            ..Ctx::default()
                        },
                    ),
                }
                Flow::Continue
            }
            Err(e) => {
                tracing::error!(error = %e, session = %self.record.id, "capture failed; answering 451");
                self.emit(
                    self.event(EventKind::MessageStoreFailed)
                        .field("message_id", message_id)
                        .field("size", size)
                        .field("error", e.to_string()),
                );
                self.fail(Say::StoreFailed, Ctx::default()).await
            }
        }
    }
}
