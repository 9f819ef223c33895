//! SMTP command grammar: one command line (without its terminator) in, a [`Command`] out.
//!
//! Leniency follows Postfix, because a trap that is stricter than the MTA it
//! imitates both fingerprints itself and loses spam: verbs are case-insensitive,
//! leading and trailing blanks are ignored, `MAIL FROM: <a@b>` and
//! `MAIL FROM:a@b` are accepted, unknown ESMTP parameters are kept. What Postfix
//! answers with `501 Syntax: ...` is a [`CommandError::Syntax`] here.

use std::fmt;

use crate::path::Path;

/// A parsed SMTP command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `EHLO <argument as sent>` (several words are kept together, like Postfix does).
    Ehlo(String),
    /// `HELO <argument as sent>`.
    Helo(String),
    /// `MAIL FROM:<path> [params]`; params are kept as sent, e.g. `"SIZE=123"`.
    Mail {
        path: Path,
        params: Vec<String>,
    },
    /// `RCPT TO:<path> [params]`.
    Rcpt {
        path: Path,
        params: Vec<String>,
    },
    Data,
    /// `BDAT <size> [LAST]` (RFC 3030).
    Bdat {
        size: u64,
        last: bool,
    },
    Rset,
    /// `NOOP`; any argument is allowed and ignored (RFC 5321 §4.1.1.9).
    Noop,
    /// `QUIT`; an argument is tolerated so a sloppy client still gets its goodbye.
    Quit,
    Vrfy(String),
    Expn(String),
    /// `HELP [topic]`; the topic may be empty.
    Help(String),
    StartTls,
    /// `AUTH <mechanism> [initial-response]`; the mechanism is upper-cased, the
    /// initial response is kept as sent (`"="` means an empty response, RFC 4954).
    Auth {
        mechanism: String,
        initial: Option<String>,
    },
    /// The verb as sent (lossy UTF-8), for "502 5.5.2 Error: command not recognized".
    Unknown(String),
}

impl Command {
    /// The canonical verb, e.g. `"MAIL"`; `"UNKNOWN"` for [`Command::Unknown`].
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Ehlo(_) => "EHLO",
            Command::Helo(_) => "HELO",
            Command::Mail { .. } => "MAIL",
            Command::Rcpt { .. } => "RCPT",
            Command::Data => "DATA",
            Command::Bdat { .. } => "BDAT",
            Command::Rset => "RSET",
            Command::Noop => "NOOP",
            Command::Quit => "QUIT",
            Command::Vrfy(_) => "VRFY",
            Command::Expn(_) => "EXPN",
            Command::Help(_) => "HELP",
            Command::StartTls => "STARTTLS",
            Command::Auth { .. } => "AUTH",
            Command::Unknown(_) => "UNKNOWN",
        }
    }
}

/// Why a command line was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// Nothing but blanks on the line.
    Empty,
    /// A known verb with arguments it does not accept. `verb` is canonical
    /// (`"UNKNOWN"` when an unrecognised line contains a NUL byte); `reason` is a
    /// short fixed text that never echoes attacker bytes.
    Syntax {
        verb: &'static str,
        reason: &'static str,
    },
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Empty => f.write_str("empty command"),
            CommandError::Syntax { verb, reason } => write!(f, "{verb} syntax error: {reason}"),
        }
    }
}

impl std::error::Error for CommandError {}

fn syntax(verb: &'static str, reason: &'static str) -> CommandError {
    CommandError::Syntax { verb, reason }
}

/// Space or tab separate words; CR is trimmed at the ends because a line that
/// ended `"\r\r\n"` still carries one.
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r')
}

const KNOWN_VERBS: [&str; 14] = [
    "EHLO", "HELO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "QUIT", "VRFY", "EXPN", "HELP",
    "STARTTLS", "AUTH",
];

/// Parses one command line, given WITHOUT its terminator.
///
/// Never panics. A NUL byte anywhere is a syntax error (the caller records it as
/// an anomaly): NUL truncation is a classic way to make two parsers disagree.
pub fn parse_command(line: &[u8]) -> Result<Command, CommandError> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_matches(is_blank);
    if text.is_empty() {
        return Err(CommandError::Empty);
    }
    let (verb, args) = text.split_once([' ', '\t']).unwrap_or((text, ""));
    let args = args.trim_start_matches(is_blank);
    let known = KNOWN_VERBS
        .into_iter()
        .find(|known| verb.eq_ignore_ascii_case(known));
    if line.contains(&0) {
        return Err(syntax(known.unwrap_or("UNKNOWN"), "NUL byte in command"));
    }
    let Some(known) = known else {
        return Ok(Command::Unknown(verb.to_owned()));
    };
    match known {
        "EHLO" => required(known, args, "expected EHLO hostname").map(Command::Ehlo),
        "HELO" => required(known, args, "expected HELO hostname").map(Command::Helo),
        "MAIL" => parse_envelope(known, args, "FROM", "expected MAIL FROM:<address>")
            .map(|(path, params)| Command::Mail { path, params }),
        "RCPT" => parse_envelope(known, args, "TO", "expected RCPT TO:<address>")
            .map(|(path, params)| Command::Rcpt { path, params }),
        "DATA" => no_args(known, args, Command::Data),
        "BDAT" => parse_bdat(args),
        "RSET" => no_args(known, args, Command::Rset),
        "NOOP" => Ok(Command::Noop),
        "QUIT" => Ok(Command::Quit),
        "VRFY" => required(known, args, "expected VRFY address").map(Command::Vrfy),
        "EXPN" => required(known, args, "expected EXPN mailing-list").map(Command::Expn),
        "HELP" => Ok(Command::Help(args.to_owned())),
        "STARTTLS" => no_args(known, args, Command::StartTls),
        "AUTH" => parse_auth(args),
        _ => Ok(Command::Unknown(verb.to_owned())),
    }
}

fn required(verb: &'static str, args: &str, reason: &'static str) -> Result<String, CommandError> {
    if args.is_empty() {
        Err(syntax(verb, reason))
    } else {
        Ok(args.to_owned())
    }
}

fn no_args(verb: &'static str, args: &str, command: Command) -> Result<Command, CommandError> {
    if args.is_empty() {
        Ok(command)
    } else {
        Err(syntax(verb, "no arguments allowed"))
    }
}

fn words(args: &str) -> impl Iterator<Item = &str> {
    args.split([' ', '\t']).filter(|w| !w.is_empty())
}

/// `FROM:<path> params` / `TO:<path> params`; blanks are allowed around the colon.
fn parse_envelope(
    verb: &'static str,
    args: &str,
    keyword: &str,
    reason: &'static str,
) -> Result<(Path, Vec<String>), CommandError> {
    let rest = args
        .get(..keyword.len())
        .filter(|k| k.eq_ignore_ascii_case(keyword))
        .and_then(|_| args.get(keyword.len()..))
        .map(|rest| rest.trim_start_matches(is_blank))
        .and_then(|rest| rest.strip_prefix(':'))
        .ok_or(syntax(verb, reason))?;
    let (path, params) =
        split_path(rest.trim_start_matches(is_blank)).map_err(|r| syntax(verb, r))?;
    Ok((
        Path::parse(path),
        words(params).map(str::to_owned).collect(),
    ))
}

/// Splits the path from the parameters. A bracketed path ends at the first `>`
/// outside a quoted-string; an unbracketed one at the first blank outside quotes.
fn split_path(s: &str) -> Result<(&str, &str), &'static str> {
    if s.is_empty() {
        return Err("missing address");
    }
    let bracketed = s.starts_with('<');
    let mut in_quotes = false;
    let mut escaped = false;
    let mut end = None;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '>' if bracketed && !in_quotes => {
                end = Some(i + 1);
                break;
            }
            ' ' | '\t' if !bracketed && !in_quotes => {
                end = Some(i);
                break;
            }
            _ => {}
        }
    }
    let end = match end {
        Some(end) => end,
        None if bracketed => return Err("unterminated <address>"),
        None => s.len(),
    };
    let (path, rest) = (s.get(..end).unwrap_or(s), s.get(end..).unwrap_or_default());
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return Err("garbage after <address>");
    }
    Ok((path, rest))
}

/// `BDAT <size> [LAST]`: size is ASCII digits only (leading zeros are fine) and
/// must fit in a u64.
fn parse_bdat(args: &str) -> Result<Command, CommandError> {
    let mut words = words(args);
    let size = words
        .next()
        .ok_or(syntax("BDAT", "expected BDAT size [LAST]"))?;
    if !size.bytes().all(|b| b.is_ascii_digit()) {
        return Err(syntax("BDAT", "chunk size is not a number"));
    }
    let size = size
        .parse::<u64>()
        .map_err(|_| syntax("BDAT", "chunk size is too large"))?;
    let last = match words.next() {
        None => false,
        Some(word) if word.eq_ignore_ascii_case("LAST") => true,
        Some(_) => return Err(syntax("BDAT", "expected LAST")),
    };
    if words.next().is_some() {
        return Err(syntax("BDAT", "too many arguments"));
    }
    Ok(Command::Bdat { size, last })
}

/// `AUTH <mechanism> [initial-response]`.
fn parse_auth(args: &str) -> Result<Command, CommandError> {
    let mut words = words(args);
    let mechanism = words
        .next()
        .ok_or(syntax("AUTH", "expected AUTH mechanism"))?
        .to_ascii_uppercase();
    let initial = words.next().map(str::to_owned);
    if words.next().is_some() {
        return Err(syntax("AUTH", "too many arguments"));
    }
    Ok(Command::Auth { mechanism, initial })
}
