//! EHLO and HELO.

use super::{Flow, Session};
use crate::persona::{Ctx, Say};
use model::EventKind;

impl Session {
    /// EHLO/HELO: remembers the name, resets any transaction (RFC 5321 §4.1.4), and answers with
    /// the persona's greeting or keyword list.
    pub(super) fn handle_ehlo(&mut self, host: String, esmtp: bool) -> Flow {
        self.note_pipelining_violation(if esmtp { "EHLO" } else { "HELO" });
        self.tx = None;
        self.esmtp = esmtp;
        self.emit(
            self.event(EventKind::SessionHelo)
                .field("helo", &host)
                .field("esmtp", esmtp),
        );
        self.helo = Some(host);
        if esmtp {
            let starttls = self.shared.tls.is_some() && self.tls.is_none();
            let reply = self.shared.persona.ehlo(
                self.shared.limits.max_message_bytes,
                starttls,
                self.shared.auth_lure,
            );
            self.reply(&reply);
        } else {
            self.say(Say::Helo, Ctx::default());
        }
        Flow::Continue
    }

    /// RFC 2920 §3.1: EHLO, HELO, DATA, QUIT, NOOP, STARTTLS end a command group; bytes already
    /// buffered behind them were sent without waiting for the reply.
    pub(super) fn note_pipelining_violation(&mut self, verb: &str) {
        if !self.buf.is_empty() {
            let detail = format!(
                "{} bytes sent after {verb} before its reply",
                self.buf.len()
            );
            self.anomaly(model::AnomalyKind::PipeliningViolation, detail);
        }
    }
}
