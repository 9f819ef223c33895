//! DATA: the message is read through the wire crate's receiver (dot-unstuffing, end-of-data,
//! smuggling detection) straight into the transaction's body.

use super::{Flow, Mode, Session};
use crate::persona::{Ctx, Say};
use bytes::Buf;
use model::AnomalyKind;
use smtp_wire::{DataReceiver, WireAnomalyKind};

/// Space reserved up front for a message body; grows as needed up to the size limit.
const BODY_RESERVE: usize = 16 * 1024;

impl Session {
    pub(super) async fn handle_data(&mut self) -> Flow {
        let Some(tx) = self.tx.as_ref() else {
            return self.fail(Say::NeedMail, Ctx::default()).await;
        };
        if tx.bdat {
            return self.fail(Say::MixedDataBdat, Ctx::default()).await;
        }
        if tx.accepted == 0 {
            let say = if tx.rcpt_attempts == 0 {
                Say::NeedRcpt
            } else {
                Say::NoValidRcpt
            };
            return self.fail(say, Ctx::default()).await;
        }
        self.note_pipelining_violation("DATA");
        let limits = &self.shared.limits;
        let receiver = DataReceiver::new(limits.max_message_bytes, limits.max_data_line);
        let cap = limits.max_message_bytes;
        if let Some(tx) = self.tx.as_mut() {
            tx.data_started = Some(tokio::time::Instant::now());
            // Out of budget already: the content is swallowed and answered 451 at its end,
            // as when the budget runs out halfway.
            tx.make_room(BODY_RESERVE, cap);
        }
        self.mode = Mode::Data(receiver);
        self.say(Say::DataGo, Ctx::default());
        Flow::Continue
    }

    /// Feeds buffered bytes to the receiver; at end-of-data captures the message.
    pub(super) async fn step_data(&mut self) -> Option<Flow> {
        let Mode::Data(receiver) = &mut self.mode else {
            return None;
        };
        let Some(tx) = self.tx.as_mut() else {
            self.mode = Mode::Command;
            return Some(Flow::Continue);
        };
        if self.buf.is_empty() {
            return None;
        }
        // The body grows within the in-flight budget; once that is spent the content goes to
        // a scratch buffer and is dropped (the receiver still finds the end and counts).
        let step = if tx.make_room(self.buf.len(), self.shared.limits.max_message_bytes) {
            receiver.feed(&self.buf, &mut tx.body)
        } else {
            receiver.feed(&self.buf, &mut Vec::new())
        };
        self.buf.advance(step.consumed);
        tx.content_bytes = tx.content_bytes.saturating_add(step.consumed as u64);
        if !step.done {
            return None;
        }
        let oversized = receiver.oversized();
        let total = receiver.total_bytes();
        let wire_anomalies = receiver.take_anomalies();
        self.mode = Mode::Command;
        for a in wire_anomalies {
            let kind = match a.kind {
                WireAnomalyKind::BareLf => AnomalyKind::BareLf,
                WireAnomalyKind::BareCr => AnomalyKind::BareCr,
                WireAnomalyKind::NulByte => AnomalyKind::NulByte,
                WireAnomalyKind::LineTooLong => AnomalyKind::LineTooLong,
                WireAnomalyKind::Smuggling => AnomalyKind::SmtpSmuggling,
            };
            self.anomaly(kind, format!("at byte {}: {}", a.offset, a.detail));
        }
        if oversized {
            if let Some(tx) = self.tx.as_mut() {
                tx.swallowed = total.saturating_sub(tx.body.len() as u64);
            }
            return Some(self.reject_oversized(total).await);
        }
        if self.tx.as_ref().is_some_and(|tx| tx.over_budget) {
            return Some(self.reject_over_budget(total));
        }
        Some(self.capture().await)
    }

    /// The in-flight budget ran out while the message arrived: its bytes were dropped, so it
    /// is answered `451` (try again later). Not counted as a client error: the sender did
    /// nothing wrong, and a busy trap must not tarpit or cut off bulk senders for it.
    pub(super) fn reject_over_budget(&mut self, total: u64) -> Flow {
        tracing::debug!(session = %self.record.id, bytes = total, "in-flight budget spent; answering 451");
        self.tx = None;
        self.say(Say::OutOfMemory, Ctx::default());
        Flow::Continue
    }

    /// The message exceeded the size limit: it was swallowed, never buffered; answer `552`.
    pub(super) async fn reject_oversized(&mut self, total: u64) -> Flow {
        self.anomaly(AnomalyKind::MessageTooLarge, format!("{total} bytes"));
        self.tx = None;
        self.fail(Say::MessageTooBig, Ctx::default()).await
    }
}
