//! Wire anomalies seen while receiving a message, tallied so memory stays bounded.
//!
//! A trap keeps every deviation from the RFC framing as evidence: bare LF/CR and
//! NUL bytes fingerprint spam engines, and SMTP smuggling probes (CVE-2023-51764
//! and friends) show up as end-of-data look-alikes. Each distinct anomaly key is
//! stored once, with the offset of its first occurrence and a count.

use crate::limits::MAX_ANOMALIES;

/// What kind of framing deviation was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WireAnomalyKind {
    /// A LF not preceded by CR.
    BareLf,
    /// A CR not followed by LF.
    BareCr,
    /// A NUL byte in the message.
    NulByte,
    /// A line longer than the receiver's line limit.
    LineTooLong,
    /// A `<line-break>.<line-break>` sequence that is not exactly `CRLF.CRLF`:
    /// the end-of-data marker that a lax receiver would honour, used to smuggle a
    /// second message past a relay.
    Smuggling,
}

impl WireAnomalyKind {
    /// A stable lower-case name for logs and reports, e.g. `"bare_lf"`.
    pub fn as_str(self) -> &'static str {
        match self {
            WireAnomalyKind::BareLf => "bare_lf",
            WireAnomalyKind::BareCr => "bare_cr",
            WireAnomalyKind::NulByte => "nul_byte",
            WireAnomalyKind::LineTooLong => "line_too_long",
            WireAnomalyKind::Smuggling => "smuggling",
        }
    }
}

/// One anomaly record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireAnomaly {
    pub kind: WireAnomalyKind,
    /// Offset of the first occurrence in the dot-unstuffed message (counting
    /// swallowed bytes past the size limit). For smuggling: where the dot stood.
    pub offset: u64,
    /// Human-readable detail with the occurrence count, e.g.
    /// `sequence "\r\n.\n" seen 2 time(s)` (control characters escaped).
    pub detail: String,
}

/// Bounded tally of anomalies, keyed by kind and (for smuggling) sequence.
#[derive(Debug, Default)]
pub(crate) struct AnomalyTally {
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    kind: WireAnomalyKind,
    sequence: &'static str,
    offset: u64,
    count: u64,
}

impl AnomalyTally {
    /// Records one occurrence. `sequence` is the escaped byte sequence for
    /// smuggling and `""` otherwise. Past [`MAX_ANOMALIES`] distinct keys, new
    /// keys are dropped (counts of known keys still grow).
    pub(crate) fn record(&mut self, kind: WireAnomalyKind, sequence: &'static str, offset: u64) {
        if let Some(entry) = self
            .entries
            .iter_mut()
            .find(|e| e.kind == kind && e.sequence == sequence)
        {
            entry.count = entry.count.saturating_add(1);
        } else if self.entries.len() < MAX_ANOMALIES {
            self.entries.push(Entry {
                kind,
                sequence,
                offset,
                count: 1,
            });
        }
    }

    /// Returns the records sorted by offset (then kind) and starts a new tally.
    pub(crate) fn take(&mut self, max_line: usize) -> Vec<WireAnomaly> {
        let mut out: Vec<WireAnomaly> = std::mem::take(&mut self.entries)
            .into_iter()
            .map(|e| WireAnomaly {
                kind: e.kind,
                offset: e.offset,
                detail: describe(&e, max_line),
            })
            .collect();
        out.sort_by(|a, b| (a.offset, a.kind, &a.detail).cmp(&(b.offset, b.kind, &b.detail)));
        out
    }
}

fn describe(entry: &Entry, max_line: usize) -> String {
    let count = entry.count;
    match entry.kind {
        WireAnomalyKind::BareLf => format!("bare LF seen {count} time(s)"),
        WireAnomalyKind::BareCr => format!("bare CR seen {count} time(s)"),
        WireAnomalyKind::NulByte => format!("NUL byte seen {count} time(s)"),
        WireAnomalyKind::LineTooLong => {
            format!("{count} line(s) longer than {max_line} bytes")
        }
        WireAnomalyKind::Smuggling => {
            format!("sequence \"{}\" seen {count} time(s)", entry.sequence)
        }
    }
}

/// A line break as seen around a dot, for naming smuggling sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Break {
    CrLf,
    Lf,
    Cr,
}

/// The escaped text of `<before>.<after>`; the `CrLf`/`CrLf` pair is the real
/// end-of-data marker and never reaches this function.
pub(crate) fn smuggling_sequence(before: Break, after: Break) -> &'static str {
    match (before, after) {
        (Break::CrLf, Break::CrLf) => "\\r\\n.\\r\\n",
        (Break::CrLf, Break::Lf) => "\\r\\n.\\n",
        (Break::CrLf, Break::Cr) => "\\r\\n.\\r",
        (Break::Lf, Break::CrLf) => "\\n.\\r\\n",
        (Break::Lf, Break::Lf) => "\\n.\\n",
        (Break::Lf, Break::Cr) => "\\n.\\r",
        (Break::Cr, Break::CrLf) => "\\r.\\r\\n",
        (Break::Cr, Break::Lf) => "\\r.\\n",
        (Break::Cr, Break::Cr) => "\\r.\\r",
    }
}
