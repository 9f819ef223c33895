//! DATA receiver: dot-unstuffing, end-of-data detection and anomaly recording.
//!
//! The receiver is a byte-level state machine that starts "at the beginning of a
//! line" (right after the CRLF of the `DATA` command). Only `CRLF . CRLF` ends
//! the message; every look-alike (`\n.\n`, `\r\n.\n`, `\r.\r` ...) is data and is
//! recorded as a [`Smuggling`](WireAnomalyKind::Smuggling) anomaly. Dot-unstuffing
//! follows RFC 5321 §4.5.2 strictly: only a dot right after CRLF is removed, so
//! bytes after a bare LF are stored exactly as sent.
//!
//! Input may arrive split at any byte boundary; undecided bytes (a CR waiting for
//! its LF, a dot at line start) are held in the state, never re-scanned, so the
//! output is the same for any split. Runs of ordinary bytes are found with a
//! vectorised `memchr3` scan and copied with `extend_from_slice`: this loop sees
//! every byte of every message, so it is the wire crate's hot path.

use crate::anomaly::{AnomalyTally, Break, WireAnomaly, WireAnomalyKind, smuggling_sequence};

/// The outcome of one [`DataReceiver::feed`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataStep {
    /// Bytes of the input that belong to the message (up to and including the end
    /// marker). Bytes after it are the client's pipelined commands.
    pub consumed: usize,
    /// The end-of-data marker was seen.
    pub done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Just after CRLF (or at the start): a dot here is stuffing or the end marker.
    LineStart,
    /// Just after a bare LF: a dot here may begin a smuggling sequence.
    AfterBareLf,
    /// Inside a line.
    Mid,
    /// A CR held back until we know whether LF follows.
    Cr,
    /// A dot right after a line break. After CRLF the dot is held back (it is
    /// either stuffing or the end marker); after a bare LF/CR it is already data.
    Dot(Break),
    /// `<break> . CR`, with the CR held back.
    DotCr(Break),
    /// The end marker was consumed.
    Done,
}

/// Receives the body of a `DATA` command. See the module docs.
#[derive(Debug)]
pub struct DataReceiver {
    state: State,
    max_size: u64,
    max_line: usize,
    /// Unstuffed bytes seen, including those swallowed past `max_size`.
    total: u64,
    /// Content bytes since the last LF.
    line_len: usize,
    line_start: u64,
    line_flagged: bool,
    /// Offset where the last line-start dot stood (for smuggling records).
    dot_offset: u64,
    anomalies: AnomalyTally,
}

impl DataReceiver {
    /// A receiver that stores at most `max_size` message bytes and records lines
    /// longer than `max_line` bytes (see [`crate::limits`] for defaults).
    pub fn new(max_size: u64, max_line: usize) -> Self {
        DataReceiver {
            state: State::LineStart,
            max_size,
            max_line,
            total: 0,
            line_len: 0,
            line_start: 0,
            line_flagged: false,
            dot_offset: 0,
            anomalies: AnomalyTally::default(),
        }
    }

    /// Consumes bytes up to and including the end-of-data marker; appends the
    /// dot-unstuffed message bytes to `out` while the message is within max_size
    /// (the excess is swallowed and counted, never buffered); bytes after the
    /// marker are NOT consumed (they are pipelined commands). Once done, further
    /// calls consume nothing.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> DataStep {
        if self.state == State::Done {
            return DataStep {
                consumed: 0,
                done: true,
            };
        }
        let mut pos = 0;
        while let Some(rest) = input.get(pos..).filter(|rest| !rest.is_empty()) {
            if self.state == State::Mid {
                let run = memchr::memchr3(b'\r', b'\n', 0, rest).unwrap_or(rest.len());
                if run > 0 {
                    self.content(rest.get(..run).unwrap_or(rest), out);
                    pos += run;
                    continue;
                }
            }
            let Some(&byte) = rest.first() else { break };
            pos += 1;
            if self.step(byte, out) {
                self.state = State::Done;
                return DataStep {
                    consumed: pos,
                    done: true,
                };
            }
        }
        DataStep {
            consumed: input.len(),
            done: false,
        }
    }

    /// The end-of-data marker has been consumed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The message exceeded `max_size`; `out` holds only its first `max_size` bytes.
    pub fn oversized(&self) -> bool {
        self.total > self.max_size
    }

    /// Unstuffed bytes seen, including swallowed ones.
    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    /// Anomaly records so far, sorted by offset; the tally starts afresh.
    /// Bounded: at most [`MAX_ANOMALIES`](crate::limits::MAX_ANOMALIES) records,
    /// one per kind (per sequence for smuggling) with the count in `detail`.
    pub fn take_anomalies(&mut self) -> Vec<WireAnomaly> {
        self.anomalies.take(self.max_line)
    }

    /// Handles one byte that the fast path did not take; returns true at the end marker.
    fn step(&mut self, byte: u8, out: &mut Vec<u8>) -> bool {
        match self.state {
            State::LineStart if byte == b'.' => {
                self.dot_offset = self.total;
                self.state = State::Dot(Break::CrLf);
            }
            State::AfterBareLf if byte == b'.' => self.dot_after_bare_break(Break::Lf, out),
            State::LineStart | State::AfterBareLf | State::Mid => self.mid(byte, out),
            State::Cr if byte == b'\n' => self.line_break(out),
            State::Cr => self.bare_cr_then(byte, out),
            State::Dot(before) => match byte {
                b'\r' => self.state = State::DotCr(before),
                b'\n' => {
                    self.smuggling(before, Break::Lf);
                    self.mid(byte, out);
                }
                _ => self.mid(byte, out),
            },
            State::DotCr(Break::CrLf) if byte == b'\n' => return true,
            State::DotCr(before) if byte == b'\n' => {
                self.smuggling(before, Break::CrLf);
                self.line_break(out);
            }
            State::DotCr(before) => {
                self.smuggling(before, Break::Cr);
                self.bare_cr_then(byte, out);
            }
            State::Done => {}
        }
        false
    }

    /// A byte inside a line (or the first byte of a line that is not a dot).
    fn mid(&mut self, byte: u8, out: &mut Vec<u8>) {
        self.state = State::Mid;
        match byte {
            b'\r' => self.state = State::Cr,
            b'\n' => {
                self.record(WireAnomalyKind::BareLf, self.total);
                self.emit(b"\n", out);
                self.end_line();
                self.state = State::AfterBareLf;
            }
            0 => {
                self.record(WireAnomalyKind::NulByte, self.total);
                self.content(&[0], out);
            }
            _ => self.content(&[byte], out),
        }
    }

    /// The held-back CR turned out to be bare; `byte` is what followed it.
    fn bare_cr_then(&mut self, byte: u8, out: &mut Vec<u8>) {
        self.record(WireAnomalyKind::BareCr, self.total);
        self.content(b"\r", out);
        if byte == b'.' {
            self.dot_after_bare_break(Break::Cr, out);
        } else {
            self.mid(byte, out);
        }
    }

    /// A dot after a bare LF or CR is data (no unstuffing), but may start a smuggling sequence.
    fn dot_after_bare_break(&mut self, before: Break, out: &mut Vec<u8>) {
        self.dot_offset = self.total;
        self.content(b".", out);
        self.state = State::Dot(before);
    }

    fn line_break(&mut self, out: &mut Vec<u8>) {
        self.emit(b"\r\n", out);
        self.end_line();
        self.state = State::LineStart;
    }

    fn end_line(&mut self) {
        self.line_len = 0;
        self.line_start = self.total;
        self.line_flagged = false;
    }

    fn smuggling(&mut self, before: Break, after: Break) {
        let sequence = smuggling_sequence(before, after);
        self.anomalies
            .record(WireAnomalyKind::Smuggling, sequence, self.dot_offset);
    }

    fn record(&mut self, kind: WireAnomalyKind, offset: u64) {
        self.anomalies.record(kind, "", offset);
    }

    /// Line content: counts toward the line length, then is stored.
    fn content(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        self.line_len = self.line_len.saturating_add(bytes.len());
        if self.line_len > self.max_line && !self.line_flagged {
            self.line_flagged = true;
            self.record(WireAnomalyKind::LineTooLong, self.line_start);
        }
        self.emit(bytes, out);
    }

    /// Stores what fits under `max_size` and counts everything.
    fn emit(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        let room = self.max_size.saturating_sub(self.total);
        let keep = usize::try_from(room).map_or(bytes.len(), |room| room.min(bytes.len()));
        out.extend_from_slice(bytes.get(..keep).unwrap_or(bytes));
        self.total = self.total.saturating_add(bytes.len() as u64);
    }
}
