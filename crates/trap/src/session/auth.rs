//! The AUTH lure (optional): PLAIN and LOGIN are offered, every attempt fails with `535`, and the
//! credentials are kept as evidence of credential stuffing.

use super::{Flow, Mode, Session};
use crate::persona::{Ctx, Say};
use bytes::Buf;
use model::{AnomalyKind, AuthAttempt, EventKind};
use smtp_wire::LineScan;

/// Where an AUTH exchange is.
#[derive(Debug, Clone)]
pub(crate) enum AuthStage {
    /// Waiting for the PLAIN response after an empty `334`.
    Plain,
    /// Waiting for the LOGIN user name.
    LoginUser,
    /// Waiting for the LOGIN password; holds the decoded user name and its raw form.
    LoginPass {
        user: Option<String>,
        raw_user: String,
    },
}

fn decode_text(b64: &str) -> Option<String> {
    smtp_wire::decode_base64(b64).map(|b| String::from_utf8_lossy(&b).into_owned())
}

impl Session {
    pub(super) async fn handle_auth(&mut self, mechanism: String, initial: Option<String>) -> Flow {
        if !self.shared.auth_lure {
            return self.fail(Say::AuthDisabled, Ctx::default()).await;
        }
        if self.tx.is_some() {
            return self.fail(Say::AuthAlready, Ctx::default()).await;
        }
        self.auth_attempts += 1;
        if self.auth_attempts > self.shared.limits.max_auth_attempts {
            self.anomaly(AnomalyKind::TooManyErrors, "AUTH attempts over the limit");
            return self.fail(Say::AuthFailed, Ctx::default()).await;
        }
        match (mechanism.to_ascii_uppercase().as_str(), initial) {
            ("PLAIN", Some(resp)) => self.finish_plain(&resp).await,
            ("PLAIN", None) => {
                self.mode = Mode::Auth(AuthStage::Plain);
                self.say(Say::AuthChallengePlain, Ctx::default());
                Flow::Continue
            }
            ("LOGIN", Some(user)) => {
                self.mode = Mode::Auth(AuthStage::LoginPass {
                    user: decode_text(&user),
                    raw_user: user,
                });
                self.say(Say::AuthChallengePass, Ctx::default());
                Flow::Continue
            }
            ("LOGIN", None) => {
                self.mode = Mode::Auth(AuthStage::LoginUser);
                self.say(Say::AuthChallengeUser, Ctx::default());
                Flow::Continue
            }
            (other, initial) => {
                let raw = initial.into_iter().collect();
                self.record_auth(AuthAttempt {
                    mechanism: other.to_owned(),
                    username: None,
                    password: None,
                    raw,
                });
                self.fail(Say::AuthUnknownMechanism, Ctx::default()).await
            }
        }
    }

    /// Reads one AUTH continuation line.
    pub(super) async fn step_auth(&mut self) -> Option<Flow> {
        let (len, consumed) = match smtp_wire::scan_line(&self.buf, self.shared.limits.max_line) {
            LineScan::Incomplete => return None,
            LineScan::TooLong => (self.buf.len(), self.buf.len()),
            LineScan::Line { len, consumed, .. } => (len, consumed),
        };
        let line = String::from_utf8_lossy(&self.buf[..len]).trim().to_owned();
        self.buf.advance(consumed);
        let ms = self.ms();
        self.record
            .transcript
            .push(ms, model::Direction::Client, line.as_bytes());
        let Mode::Auth(stage) = std::mem::replace(&mut self.mode, Mode::Command) else {
            return None;
        };
        if line == "*" {
            self.record_auth(AuthAttempt {
                mechanism: "cancelled".into(),
                username: None,
                password: None,
                raw: vec![line],
            });
            return Some(self.fail(Say::AuthFailed, Ctx::default()).await);
        }
        Some(match stage {
            AuthStage::Plain => self.finish_plain(&line).await,
            AuthStage::LoginUser => {
                self.mode = Mode::Auth(AuthStage::LoginPass {
                    user: decode_text(&line),
                    raw_user: line,
                });
                self.say(Say::AuthChallengePass, Ctx::default());
                Flow::Continue
            }
            AuthStage::LoginPass { user, raw_user } => {
                let attempt = AuthAttempt {
                    mechanism: "LOGIN".into(),
                    username: user,
                    password: decode_text(&line),
                    raw: vec![raw_user, line],
                };
                self.record_auth(attempt);
                self.fail(Say::AuthFailed, Ctx::default()).await
            }
        })
    }

    async fn finish_plain(&mut self, resp: &str) -> Flow {
        let decoded = smtp_wire::decode_plain(resp);
        let (username, password) = match decoded {
            Some((_, user, pass)) => (Some(user), Some(pass)),
            None => (None, None),
        };
        self.record_auth(AuthAttempt {
            mechanism: "PLAIN".into(),
            username,
            password,
            raw: vec![resp.to_owned()],
        });
        self.fail(Say::AuthFailed, Ctx::default()).await
    }

    fn record_auth(&mut self, attempt: AuthAttempt) {
        self.emit(
            self.event(EventKind::SessionAuth)
                .field("mechanism", &attempt.mechanism)
                .field("username", &attempt.username)
                .field("password", &attempt.password),
        );
        if self.record.auth_attempts.len()
            < usize::try_from(self.shared.limits.max_auth_attempts).unwrap_or(5) * 2
        {
            self.record.auth_attempts.push(attempt);
        }
    }
}
