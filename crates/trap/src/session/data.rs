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
        if let Some(tx) = self.tx.as_mut() {
            tx.data_started = Some(tokio::time::Instant::now());
            tx.body.reserve(BODY_RESERVE);
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
        let step = receiver.feed(&self.buf, &mut tx.body);
        self.buf.advance(step.consumed);
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
        Some(self.capture().await)
    }

    /// The message exceeded the size limit: it was swallowed, never buffered; answer `552`.
    pub(super) async fn reject_oversized(&mut self, total: u64) -> Flow {
        self.anomaly(AnomalyKind::MessageTooLarge, format!("{total} bytes"));
        self.tx = None;
        self.fail(Say::MessageTooBig, Ctx::default()).await
    }
}
