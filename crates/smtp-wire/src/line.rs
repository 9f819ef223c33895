//! Command-line framing: find one SMTP command line in a byte buffer.
//!
//! SMTP commands end with CRLF, but many spam bots send bare LF and Postfix
//! accepts it, so a trap must too. The line ending is reported so the caller can
//! record a bare LF as an anomaly without rejecting the command.

/// How a command line was terminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnding {
    /// `"\r\n"`, as RFC 5321 requires.
    CrLf,
    /// `"\n"` without a preceding CR.
    BareLf,
}

impl LineEnding {
    /// Length of the terminator in bytes.
    pub fn len(self) -> usize {
        match self {
            LineEnding::CrLf => 2,
            LineEnding::BareLf => 1,
        }
    }

    /// Always false: a terminator is never empty (present for clippy's `len` rule).
    pub fn is_empty(self) -> bool {
        false
    }
}

/// The result of looking for one line at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineScan {
    /// A full line: `len` = bytes of content (no terminator), `consumed` = len + terminator length.
    Line {
        len: usize,
        consumed: usize,
        ending: LineEnding,
    },
    /// No LF yet and the content so far is within the limit: read more.
    Incomplete,
    /// No LF within `max` bytes of content: caller discards and resyncs at the next
    /// LF (see [`skip_to_next_line`]).
    TooLong,
}

/// Looks for one line at the start of `buf` whose content is at most `max` bytes.
///
/// A line that ends `"\r\n"` is [`LineEnding::CrLf`]; `"\n"` without CR is
/// [`LineEnding::BareLf`]; a CR that is not right before the LF stays in the
/// content. Only the first `max + 2` bytes are examined, so the cost of a call is
/// bounded whatever the client sends, and the answer does not depend on how the
/// bytes were split across reads.
pub fn scan_line(buf: &[u8], max: usize) -> LineScan {
    let window = buf.get(..max.saturating_add(2)).unwrap_or(buf);
    match memchr::memchr(b'\n', window) {
        Some(lf) => {
            let (len, ending) = match lf.checked_sub(1).and_then(|i| window.get(i)) {
                Some(b'\r') => (lf - 1, LineEnding::CrLf),
                _ => (lf, LineEnding::BareLf),
            };
            if len > max {
                LineScan::TooLong
            } else {
                LineScan::Line {
                    len,
                    consumed: lf + 1,
                    ending,
                }
            }
        }
        None => {
            // A trailing CR may still become the CR of a CRLF, so it does not count yet.
            let content = match window.last() {
                Some(b'\r') => window.len() - 1,
                _ => window.len(),
            };
            if content > max {
                LineScan::TooLong
            } else {
                LineScan::Incomplete
            }
        }
    }
}

/// After a [`LineScan::TooLong`], returns how many bytes to drop to get past the
/// next LF, or `None` if there is no LF yet (drop the whole buffer and keep
/// skipping on the next read).
pub fn skip_to_next_line(buf: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', buf).map(|lf| lf + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_line_is_found() {
        assert_eq!(
            scan_line(b"NOOP\r\nQUIT\r\n", 10),
            LineScan::Line {
                len: 4,
                consumed: 6,
                ending: LineEnding::CrLf
            }
        );
    }

    #[test]
    fn bare_lf_line_is_found() {
        assert_eq!(
            scan_line(b"NOOP\nQUIT", 10),
            LineScan::Line {
                len: 4,
                consumed: 5,
                ending: LineEnding::BareLf
            }
        );
    }

    #[test]
    fn cr_not_before_lf_stays_in_content() {
        assert_eq!(
            scan_line(b"A\rB\r\r\n", 10),
            LineScan::Line {
                len: 4,
                consumed: 6,
                ending: LineEnding::CrLf
            }
        );
    }

    #[test]
    fn partial_line_is_incomplete() {
        assert_eq!(scan_line(b"EHLO foo", 10), LineScan::Incomplete);
        assert_eq!(scan_line(b"", 10), LineScan::Incomplete);
        assert_eq!(scan_line(b"0123456789\r", 10), LineScan::Incomplete);
    }

    #[test]
    fn line_at_exactly_the_limit_is_accepted() {
        assert!(matches!(
            scan_line(b"0123456789\r\n", 10),
            LineScan::Line { len: 10, .. }
        ));
        assert!(matches!(
            scan_line(b"0123456789\n", 10),
            LineScan::Line { len: 10, .. }
        ));
    }

    #[test]
    fn line_over_the_limit_is_too_long_with_or_without_lf() {
        assert_eq!(scan_line(b"01234567890", 10), LineScan::TooLong);
        assert_eq!(scan_line(b"01234567890\n", 10), LineScan::TooLong);
        assert_eq!(scan_line(b"01234567890\r\n", 10), LineScan::TooLong);
    }

    #[test]
    fn zero_limit_accepts_only_empty_lines() {
        assert!(matches!(
            scan_line(b"\r\n", 0),
            LineScan::Line { len: 0, .. }
        ));
        assert_eq!(scan_line(b"a", 0), LineScan::TooLong);
    }

    #[test]
    fn skipping_resyncs_after_the_next_lf() {
        assert_eq!(skip_to_next_line(b"xxxx\r\nQUIT"), Some(6));
        assert_eq!(skip_to_next_line(b"xxxx"), None);
    }
}
