//! RCPT TO: the relay decision. Only trap addresses are accepted; everything else is refused.
//! A recipient in a quiet (`new`) trap domain is answered `250` like any other and marked
//! `quiet`; the end of its message decides the `550` (`capture.rs`).

use super::{Flow, Session};
use crate::persona::{Ctx, Say};
use crate::policy::RcptDecision;
use model::{AnomalyKind, EventKind, RcptVerdict, Recipient};
use smtp_wire::Path;

impl Session {
    pub(super) async fn handle_rcpt(
        &mut self,
        line: &[u8],
        path: Path,
        _params: Vec<String>,
    ) -> Flow {
        if !self.esmtp && !self.buf.is_empty() {
            self.anomaly(
                AnomalyKind::PipeliningViolation,
                "pipelined RCPT without EHLO",
            );
        }
        let Some(tx) = self.tx.as_ref() else {
            return self.fail(Say::NeedMail, Ctx::default()).await;
        };
        let address = path.address();
        let (smtputf8, accepted) = (tx.smtputf8, tx.accepted);
        if !smtputf8 && !address.is_ascii() {
            self.anomaly(
                AnomalyKind::UndeclaredExtension,
                "UTF-8 recipient without SMTPUTF8",
            );
        }
        let at_limit = accepted >= self.shared.limits.max_recipients;
        let today = time::OffsetDateTime::now_utc().date();
        let decision = self.shared.policy.decide(&path, today);
        let quiet = decision == RcptDecision::Quiet;
        let (verdict, say) = match decision {
            RcptDecision::Accept | RcptDecision::Quiet if at_limit => {
                (RcptVerdict::TooMany, Say::TooManyRecipients)
            }
            RcptDecision::Accept | RcptDecision::Quiet => (RcptVerdict::Accepted, Say::RcptOk),
            RcptDecision::UnknownUser => (RcptVerdict::UnknownUser, Say::UnknownUser),
            RcptDecision::TempFail => (RcptVerdict::TempFail, Say::TempFail),
            RcptDecision::RelayDenied(why) => {
                self.anomaly(AnomalyKind::RelayAttempt, format!("{why}: {}", path.raw));
                (RcptVerdict::RelayDenied, Say::RelayDenied)
            }
            RcptDecision::Syntax => (RcptVerdict::Syntax, Say::RecipientSyntax),
        };
        if verdict == RcptVerdict::TooMany {
            self.anomaly(AnomalyKind::TooManyRecipients, address.clone());
        }
        let domain = address.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        let ctx = Ctx {
            addr: &address,
            arg: domain,
            ..Ctx::default()
        };
        let reply = self.shared.persona.say(say, ctx);
        let reply_line = reply.first_line();
        self.emit(
            self.event(EventKind::SessionRcpt)
                .field("address", &address)
                .field("verdict", verdict)
                .field("reply", &reply_line),
        );
        let recipient = Recipient {
            raw: String::from_utf8_lossy(line).into_owned(),
            address: address.clone(),
            verdict,
            reply: reply_line,
            quiet: quiet && verdict == RcptVerdict::Accepted,
        };
        if let Some(tx) = self.tx.as_mut() {
            tx.add_recipient(recipient);
        }
        if verdict == RcptVerdict::Accepted {
            self.reply(&reply);
            return Flow::Continue;
        }
        self.fail(
            say,
            Ctx {
                addr: &address,
                arg: domain,
                ..Ctx::default()
            },
        )
        .await
    }
}
