//! The persona owns every byte the trap sends: banner, EHLO keywords, reply texts, queue ids.
//!
//! A honeypot that answers in its own words fingerprints itself, so handlers never write reply
//! text: they name a [`Say`] and the persona words it. The default persona copies Postfix 3.7's
//! replies (`src/smtpd/smtpd.c` wording as seen on the wire); nothing here names this project.

use smtp_wire::Reply;
use std::sync::atomic::{AtomicU32, Ordering};

/// Declares [`Say`] and [`Say::ALL`] from one list, so a test can walk every reply the trap can
/// give (a new variant cannot escape the "never names the project" check).
macro_rules! says {
    ($($variant:ident),* $(,)?) => {
        /// What the trap wants to say; the persona decides the words.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Say {
            $($variant),*
        }

        impl Say {
            /// Every variant.
            pub const ALL: &[Say] = &[$(Say::$variant),*];
        }
    };
}

says! {
    Banner,
    Helo,
    MailOk,
    RcptOk,
    DataGo,
    Queued,
    ChunkOk,
    ResetOk,
    NoopOk,
    Bye,
    Vrfy,
    Help,
    StartTlsGo,
    StartTlsAgain,
    StartTlsUnavailable,
    AuthChallengeUser,
    AuthChallengePass,
    AuthChallengePlain,
    AuthFailed,
    AuthDisabled,
    AuthUnknownMechanism,
    AuthAlready,
    Unknown,
    LineTooLong,
    NeedMail,
    NeedRcpt,
    NoValidRcpt,
    NestedMail,
    MixedDataBdat,
    MailSyntax,
    RcptSyntax,
    HeloSyntax,
    BdatSyntax,
    GenericSyntax,
    SenderSyntax,
    RecipientSyntax,
    SizeTooBigAtMail,
    MessageTooBig,
    TooManyRecipients,
    RelayDenied,
    UnknownUser,
    UnknownUserAfterData,
    TempFail,
    StoreFailed,
    OutOfMemory,
    Backpressure,
    Overloaded,
    TooManyConnections,
    TooManyErrors,
    Timeout,
    ShuttingDown,
}

/// Values a reply template may refer to.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ctx<'a> {
    pub addr: &'a str,
    pub arg: &'a str,
    pub ip: &'a str,
    pub qid: &'a str,
    pub n: u64,
}

/// One persona: a hostname and the wording of a known MTA.
#[derive(Debug)]
pub struct Persona {
    hostname: String,
    flavour: Flavour,
    queue_seq: AtomicU32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavour {
    /// Upstream Postfix defaults: `smtpd_banner = $myhostname ESMTP $mail_name`.
    Postfix,
    /// Debian's packaged default banner adds `(Debian/GNU)`.
    PostfixDebian,
}

/// The persona names the config accepts.
pub const PERSONAS: [&str; 2] = ["postfix", "postfix-debian"];

impl Persona {
    /// Looks up a persona by name; `None` for an unknown name (the binary reports it).
    pub fn by_name(name: &str, hostname: &str) -> Option<Self> {
        let flavour = match name {
            "postfix" => Flavour::Postfix,
            "postfix-debian" => Flavour::PostfixDebian,
            _ => return None,
        };
        // Start the sequence somewhere different on every run, as Postfix's inode numbers do;
        // a counter restarting at zero would make the first queue ids after a start alike.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() ^ std::process::id().rotate_left(16))
            .unwrap_or(0);
        Some(Self {
            hostname: hostname.to_owned(),
            flavour,
            queue_seq: AtomicU32::new(seed),
        })
    }

    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// The EHLO reply: hostname first, then the keywords in Postfix's order.
    pub fn ehlo(&self, max_size: u64, starttls: bool, auth: bool) -> Reply {
        let mut lines = vec![
            self.hostname.clone(),
            "PIPELINING".into(),
            format!("SIZE {max_size}"),
        ];
        lines.push("VRFY".into());
        if starttls {
            lines.push("STARTTLS".into());
        }
        if auth {
            lines.push("AUTH PLAIN LOGIN".into());
            lines.push("AUTH=PLAIN LOGIN".into());
        }
        for kw in [
            "ENHANCEDSTATUSCODES",
            "8BITMIME",
            "DSN",
            "SMTPUTF8",
            "CHUNKING",
        ] {
            lines.push(kw.into());
        }
        Reply::multi(250, lines)
    }

    /// A Postfix-style short queue id: 10 or 11 upper-case hex digits derived from the clock's
    /// microseconds and a sequence, like Postfix's microsecond + inode construction.
    pub fn queue_id(&self) -> String {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_micros())
            .unwrap_or(0);
        let seq = self.queue_seq.fetch_add(1, Ordering::Relaxed);
        let inode = seq.wrapping_mul(2_654_435_761) % 0xFF_FFFF + 0x10_0000;
        format!("{micros:05X}{inode:X}")
    }

    /// Words `what` as a reply.
    pub fn say(&self, what: Say, c: Ctx<'_>) -> Reply {
        let host = &self.hostname;
        let (code, text): (u16, String) = match what {
            Say::Banner => match self.flavour {
                Flavour::Postfix => (220, format!("{host} ESMTP Postfix")),
                Flavour::PostfixDebian => (220, format!("{host} ESMTP Postfix (Debian/GNU)")),
            },
            Say::Helo => (250, host.clone()),
            Say::MailOk => (250, "2.1.0 Ok".into()),
            Say::RcptOk => (250, "2.1.5 Ok".into()),
            Say::DataGo => (354, "End data with <CR><LF>.<CR><LF>".into()),
            Say::Queued => (250, format!("2.0.0 Ok: queued as {}", c.qid)),
            Say::ChunkOk => (250, format!("2.0.0 Ok: {} bytes", c.n)),
            Say::ResetOk | Say::NoopOk => (250, "2.0.0 Ok".into()),
            Say::Bye => (221, "2.0.0 Bye".into()),
            Say::Vrfy => (252, format!("2.0.0 {}", c.arg)),
            Say::Help | Say::Unknown => (502, "5.5.2 Error: command not recognized".into()),
            Say::StartTlsGo => (220, "2.0.0 Ready to start TLS".into()),
            Say::StartTlsAgain => (554, "5.5.1 Error: TLS already active".into()),
            Say::StartTlsUnavailable => {
                (454, "4.7.0 TLS not available due to local problem".into())
            }
            Say::AuthChallengeUser => (334, "VXNlcm5hbWU6".into()),
            Say::AuthChallengePass => (334, "UGFzc3dvcmQ6".into()),
            Say::AuthChallengePlain => (334, String::new()),
            Say::AuthFailed => (
                535,
                "5.7.8 Error: authentication failed: authentication failure".into(),
            ),
            Say::AuthDisabled => (503, "5.5.1 Error: authentication not enabled".into()),
            Say::AuthUnknownMechanism => (
                535,
                "5.7.8 Error: authentication failed: Invalid authentication mechanism".into(),
            ),
            Say::AuthAlready => (503, "5.5.1 Error: MAIL transaction in progress".into()),
            Say::LineTooLong => (500, "5.5.2 Error: line too long".into()),
            Say::NeedMail => (503, "5.5.1 Error: need MAIL command".into()),
            Say::NeedRcpt => (503, "5.5.1 Error: need RCPT command".into()),
            Say::NoValidRcpt => (554, "5.5.1 Error: no valid recipients".into()),
            Say::NestedMail => (503, "5.5.1 Error: nested MAIL command".into()),
            Say::MixedDataBdat => (503, "5.5.1 Error: DATA and BDAT cannot be mixed".into()),
            Say::MailSyntax => (501, "5.5.4 Syntax: MAIL FROM:<address>".into()),
            Say::RcptSyntax => (501, "5.5.4 Syntax: RCPT TO:<address>".into()),
            Say::HeloSyntax => (501, "Syntax: EHLO hostname".into()),
            Say::BdatSyntax => (501, "5.5.4 Syntax: BDAT count [LAST]".into()),
            Say::GenericSyntax => (501, format!("5.5.4 Syntax: {}", c.arg)),
            Say::SenderSyntax => (
                501,
                format!(
                    "5.1.7 <{}>: Sender address rejected: Malformed address",
                    c.addr
                ),
            ),
            Say::RecipientSyntax => (
                501,
                format!(
                    "5.1.3 <{}>: Recipient address rejected: Malformed address",
                    c.addr
                ),
            ),
            Say::SizeTooBigAtMail => (552, "5.3.4 Message size exceeds fixed limit".into()),
            Say::MessageTooBig => (552, "5.3.4 Error: message file too big".into()),
            Say::TooManyRecipients => (452, "4.5.3 Error: too many recipients".into()),
            Say::RelayDenied => (554, format!("5.7.1 <{}>: Relay access denied", c.addr)),
            Say::UnknownUser => (
                550,
                format!(
                    "5.1.1 <{}>: Recipient address rejected: User unknown in virtual mailbox table",
                    c.addr
                ),
            ),
            // The end of a message whose recipients are all in a quiet (`new`) trap domain: the
            // message is kept, the sender gets the bounce a vanished mailbox gives. Postfix words
            // a recipient refused after DATA (a before-queue filter or a recipient check run at
            // end of data) exactly as at RCPT, so this is the same line for the first recipient.
            Say::UnknownUserAfterData => (
                550,
                format!(
                    "5.1.1 <{}>: Recipient address rejected: User unknown in virtual mailbox table",
                    c.addr
                ),
            ),
            Say::TempFail => (
                450,
                format!(
                    "4.2.0 <{}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/{}.html",
                    c.addr, c.arg
                ),
            ),
            Say::StoreFailed => (451, "4.3.0 Error: queue file write error".into()),
            // The in-flight budget ran out during the content. Postfix has no such budget; when
            // its cleanup server cannot take a message for lack of resources the client sees
            // the queue-file error, so the trap says the same (an MTA-specific "insufficient
            // resources" text would be a fingerprint). The session record tells the two apart.
            Say::OutOfMemory => (451, "4.3.0 Error: queue file write error".into()),
            Say::Backpressure => (452, "4.3.1 Insufficient system storage".into()),
            Say::Overloaded => (421, format!("4.3.2 {host} Service currently unavailable")),
            Say::TooManyConnections => (
                421,
                format!("4.7.0 {host} Error: too many connections from {}", c.ip),
            ),
            Say::TooManyErrors => (421, format!("4.7.0 {host} Error: too many errors")),
            Say::Timeout => (421, format!("4.4.2 {host} Error: timeout exceeded")),
            Say::ShuttingDown => (421, format!("4.3.2 {host} Service shutting down")),
        };
        Reply::new(code, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_the_persona_says_names_the_project() {
        for name in PERSONAS {
            let p = Persona::by_name(name, "mx1.example.nl").expect("known persona");
            let mut all = p.ehlo(10_240_000, true, true).lines.join("\n");
            for &s in Say::ALL {
                all.push_str(
                    &p.say(
                        s,
                        Ctx {
                            addr: "a@b",
                            arg: "x",
                            ip: "192.0.2.1",
                            qid: "Q",
                            n: 1,
                        },
                    )
                    .first_line(),
                );
            }
            let lower = all.to_lowercase();
            for word in ["spamhattan", "honeypot", "trap", "rust", "tokio"] {
                assert!(!lower.contains(word), "{name} says {word}");
            }
        }
    }

    #[test]
    fn banner_matches_postfix_default() {
        let p = Persona::by_name("postfix", "mx1.example.nl").expect("known persona");
        assert_eq!(
            p.say(Say::Banner, Ctx::default()).first_line(),
            "220 mx1.example.nl ESMTP Postfix"
        );
    }

    #[test]
    fn queue_ids_look_like_postfix_short_ids() {
        let p = Persona::by_name("postfix", "h").expect("known persona");
        let a = p.queue_id();
        let b = p.queue_id();
        assert_ne!(a, b);
        for id in [a, b] {
            assert!((10..=12).contains(&id.len()), "{id}");
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()),
                "{id}"
            );
        }
    }

    #[test]
    fn unknown_persona_is_none() {
        assert!(Persona::by_name("sendmail-1987", "h").is_none());
    }
}
