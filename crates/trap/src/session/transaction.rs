//! One mail transaction: from MAIL FROM to the end of DATA/BDAT LAST (or RSET).

use crate::budget::{InflightBudget, Reservation};
use model::{Anomaly, Envelope, MailFrom, RcptVerdict, Recipient};
use std::sync::Arc;
use tokio::time::Instant;

/// RCPT attempts kept per transaction. Accepted recipients are capped by `max_recipients`;
/// refused ones are evidence too (dictionary attacks) but a client repeating RCPT must not grow
/// memory without bound, and the error limit ends such sessions long before this.
pub const MAX_RCPT_KEPT: usize = 2000;

/// Anomalies attached to one transaction's sighting.
pub const MAX_TX_ANOMALIES: usize = 64;

#[derive(Debug)]
pub(crate) struct Transaction {
    pub envelope: Envelope,
    pub accepted: usize,
    pub rcpt_attempts: u64,
    /// `SMTPUTF8` was given on MAIL.
    pub smtputf8: bool,
    /// The message bytes collected so far (DATA or BDAT chunks), capped at the size limit.
    pub body: Vec<u8>,
    /// Bytes that did not fit under the size limit.
    pub swallowed: u64,
    /// BDAT has been used in this transaction (DATA is then refused).
    pub bdat: bool,
    pub data_started: Option<Instant>,
    /// Content bytes read off the wire for this transaction (DATA with its stuffing, every
    /// BDAT chunk, swallowed bytes included): what the minimum data rate is measured on.
    pub content_bytes: u64,
    pub anomalies: Vec<Anomaly>,
    /// The share of the in-flight budget `body` holds; given back when the transaction ends,
    /// however it ends.
    pub reserved: Reservation,
    /// The in-flight budget ran out: the body was freed, the rest of the content is
    /// swallowed, and the end of the message is answered `451`.
    pub over_budget: bool,
}

impl Transaction {
    pub fn new(mail_from: MailFrom, smtputf8: bool, budget: &Arc<InflightBudget>) -> Self {
        Self {
            envelope: Envelope {
                mail_from,
                recipients: Vec::new(),
            },
            accepted: 0,
            rcpt_attempts: 0,
            smtputf8,
            body: Vec::new(),
            swallowed: 0,
            bdat: false,
            data_started: None,
            content_bytes: 0,
            anomalies: Vec::new(),
            reserved: Reservation::new(budget),
            over_budget: false,
        }
    }

    /// Records an RCPT attempt (bounded).
    pub fn add_recipient(&mut self, r: Recipient) {
        self.rcpt_attempts += 1;
        if r.verdict == RcptVerdict::Accepted {
            self.accepted += 1;
        }
        if self.envelope.recipients.len() < MAX_RCPT_KEPT || r.verdict == RcptVerdict::Accepted {
            self.envelope.recipients.push(r);
        }
    }

    /// Attaches an anomaly to this transaction's sighting (bounded).
    pub fn note(&mut self, a: &Anomaly) {
        if self.anomalies.len() < MAX_TX_ANOMALIES {
            self.anomalies.push(a.clone());
        }
    }

    /// Makes room in `body` for `incoming` more bytes, within the in-flight budget and the
    /// message cap. When the budget is spent, frees the body and gives its bytes back: the
    /// transaction is then `over_budget` and keeps nothing more.
    pub fn make_room(&mut self, incoming: usize, cap: u64) -> bool {
        if self.over_budget {
            return false;
        }
        if crate::budget::grow_body(&mut self.body, &mut self.reserved, incoming, cap) {
            return true;
        }
        self.over_budget = true;
        self.body = Vec::new();
        self.reserved.release();
        false
    }

    /// True once DATA or BDAT has begun: aborting now loses a message in flight.
    pub fn in_progress(&self) -> bool {
        self.data_started.is_some()
    }
}
