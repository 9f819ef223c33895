//! The small verbs: RSET, NOOP, QUIT, VRFY, HELP/EXPN, unknown commands and syntax errors.

use super::{Exit, Flow, Session};
use crate::persona::{Ctx, Say};
use model::AnomalyKind;
use smtp_wire::CommandError;

impl Session {
    pub(super) fn handle_rset(&mut self) -> Flow {
        self.tx = None;
        self.say(Say::ResetOk, Ctx::default());
        Flow::Continue
    }

    pub(super) fn handle_noop(&mut self) -> Flow {
        self.say(Say::NoopOk, Ctx::default());
        Flow::Continue
    }

    pub(super) fn handle_quit(&mut self) -> Flow {
        self.note_pipelining_violation("QUIT");
        self.say(Say::Bye, Ctx::default());
        Flow::Exit(Exit::Close("quit"))
    }

    /// VRFY never confirms or denies an address (`252`), like a Postfix with a catch-all.
    pub(super) fn handle_vrfy(&mut self, arg: &str) -> Flow {
        let arg: String = arg.chars().take(256).collect();
        self.say(
            Say::Vrfy,
            Ctx {
                arg: &arg,
                ..Ctx::default()
            },
        );
        Flow::Continue
    }

    /// Postfix implements neither HELP nor EXPN; the persona answers as it does.
    pub(super) async fn handle_help(&mut self) -> Flow {
        self.fail(Say::Help, Ctx::default()).await
    }

    pub(super) async fn handle_unknown(&mut self, verb: &str) -> Flow {
        let verb: String = verb.chars().take(64).collect();
        self.anomaly(AnomalyKind::UnknownCommand, verb);
        self.fail(Say::Unknown, Ctx::default()).await
    }

    pub(super) async fn handle_syntax_error(&mut self, line: &[u8], e: &CommandError) -> Flow {
        let shown = String::from_utf8_lossy(&line[..line.len().min(120)]).into_owned();
        self.anomaly(AnomalyKind::SyntaxError, format!("{e}: {shown}"));
        let say = match e {
            CommandError::Empty => Say::Unknown,
            CommandError::Syntax { verb, .. } => match *verb {
                "MAIL" => Say::MailSyntax,
                "RCPT" => Say::RcptSyntax,
                "EHLO" | "HELO" => Say::HeloSyntax,
                "BDAT" => Say::BdatSyntax,
                _ => Say::GenericSyntax,
            },
        };
        let arg = match e {
            CommandError::Syntax { verb, .. } => *verb,
            CommandError::Empty => "",
        };
        self.fail(
            say,
            Ctx {
                arg,
                ..Ctx::default()
            },
        )
        .await
    }
}
