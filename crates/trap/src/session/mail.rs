//! MAIL FROM: starts a transaction, checks SIZE and backpressure, keeps every parameter.

use super::transaction::Transaction;
use super::{Flow, Session};
use crate::persona::{Ctx, Say};
use model::{AnomalyKind, EventKind, MailFrom};
use smtp_wire::Path;
use store::Pressure;

impl Session {
    pub(super) async fn handle_mail(
        &mut self,
        line: &[u8],
        path: Path,
        params: Vec<String>,
    ) -> Flow {
        if !self.esmtp && !self.buf.is_empty() {
            self.anomaly(
                AnomalyKind::PipeliningViolation,
                "pipelined MAIL without EHLO",
            );
        }
        if self.tx.is_some() {
            return self.fail(Say::NestedMail, Ctx::default()).await;
        }
        // Messages being received hold most of the in-flight budget: a new transaction would
        // only run out of room after its content, so it is turned away now (Postfix's wording
        // for a full queue file system).
        if self.shared.inflight.nearly_full() {
            return self.fail(Say::Backpressure, Ctx::default()).await;
        }
        match self.shared.store.pressure() {
            Pressure::Normal => {}
            Pressure::Failed => return self.fail(Say::StoreFailed, Ctx::default()).await,
            Pressure::Backlog | Pressure::Disk => {
                return self.fail(Say::Backpressure, Ctx::default()).await;
            }
        }
        if let Some(size) = smtp_wire::param_value(&params, "SIZE") {
            let declared = size.parse::<u64>().unwrap_or(u64::MAX);
            if declared > self.shared.limits.max_message_bytes {
                self.anomaly(AnomalyKind::MessageTooLarge, format!("SIZE={size}"));
                return self.fail(Say::SizeTooBigAtMail, Ctx::default()).await;
            }
        }
        let smtputf8 = smtp_wire::param_value(&params, "SMTPUTF8").is_some();
        let address = path.address();
        if !smtputf8 && !address.is_ascii() {
            self.anomaly(
                AnomalyKind::UndeclaredExtension,
                "UTF-8 sender without SMTPUTF8",
            );
        }
        if smtp_wire::param_value(&params, "BODY")
            .is_some_and(|b| b.eq_ignore_ascii_case("BINARYMIME"))
        {
            self.anomaly(
                AnomalyKind::UndeclaredExtension,
                "BODY=BINARYMIME (not offered)",
            );
        }
        self.emit(
            self.event(EventKind::SessionMailFrom)
                .field("address", &address)
                .field("params", &params)
                .field("raw", String::from_utf8_lossy(line)),
        );
        let mail_from = MailFrom {
            raw: String::from_utf8_lossy(line).into_owned(),
            address,
            params,
        };
        self.tx = Some(Transaction::new(mail_from, smtputf8, &self.shared.inflight));
        self.say(Say::MailOk, Ctx::default());
        Flow::Continue
    }
}
