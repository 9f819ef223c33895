//! SMTP replies: a code and text lines, written to the wire safely.
//!
//! Reply texts often echo attacker input (the HELO name, an address). Writing
//! them must never let that input start a new reply line, so CR, LF and the
//! other C0 control bytes are replaced by spaces on the way out.

use std::fmt::Write as _;

/// An SMTP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code, e.g. 250.
    pub code: u16,
    /// Each line's text including its enhanced status code if any, e.g. `"2.1.0 Ok"`.
    pub lines: Vec<String>,
}

impl Reply {
    /// A single-line reply.
    pub fn new(code: u16, text: impl Into<String>) -> Self {
        Reply {
            code,
            lines: vec![text.into()],
        }
    }

    /// A multi-line reply (e.g. the EHLO keyword list).
    pub fn multi(code: u16, lines: Vec<String>) -> Self {
        Reply { code, lines }
    }

    /// Appends the wire form: `"250-a\r\n250 b\r\n"`. An empty `lines` vec writes
    /// `"250 \r\n"`. Control bytes inside the text (CR, LF, NUL ...; TAB is kept)
    /// become spaces, so no text can inject a reply line.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        if self.lines.is_empty() {
            out.extend_from_slice(format!("{} \r\n", self.code).as_bytes());
            return;
        }
        let last = self.lines.len() - 1;
        for (i, line) in self.lines.iter().enumerate() {
            let separator = if i == last { ' ' } else { '-' };
            let mut wire = String::with_capacity(line.len() + 6);
            let _ = write!(wire, "{}{}", self.code, separator);
            push_sanitized(&mut wire, line);
            wire.push_str("\r\n");
            out.extend_from_slice(wire.as_bytes());
        }
    }

    /// The wire form as a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }

    /// 2xx or 3xx.
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// The code and first text line, sanitized, without terminator: `"250 2.1.0 Ok"`
    /// (`"250 "` when there are no lines). Meant for logs and transcripts.
    pub fn first_line(&self) -> String {
        let mut out = format!("{} ", self.code);
        if let Some(first) = self.lines.first() {
            push_sanitized(&mut out, first);
        }
        out
    }
}

fn push_sanitized(out: &mut String, text: &str) {
    out.extend(text.chars().map(|c| {
        if c.is_ascii_control() && c != '\t' {
            ' '
        } else {
            c
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bytes_other_than_tab_become_spaces() {
        let reply = Reply::new(250, "a\0b\tc\x7fd");
        assert_eq!(reply.to_bytes(), b"250 a b\tc d\r\n");
    }
}
