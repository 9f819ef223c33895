//! One SMTP session: a state machine generic over its stream, so tests drive it in memory.
//!
//! The loop reads bytes into one buffer, lets `smtp-wire` cut them into command lines or message
//! data, and hands each command to `handle_<verb>` in the file named after the verb. Replies are
//! collected and written in one go when the buffer runs dry, which is what makes PIPELINING cheap.
//! The session owns no socket: `run` performs the STARTTLS upgrade by calling `converse` again
//! with the TLS stream, keeping all state.

mod auth;
mod bdat;
mod capture;
mod data;
mod ehlo;
mod io;
mod mail;
mod misc;
mod rcpt;
mod starttls;
mod transaction;

use crate::persona::{Ctx, Say};
use crate::shared::Shared;
use bytes::BytesMut;
use model::{
    Anomaly, AnomalyKind, Direction, Event, EventKind, SessionRecord, TlsInfo, Transcript,
};
use smtp_wire::{BdatChunk, Command, DataReceiver, Reply};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::time::Instant;
use transaction::Transaction;

pub use io::serve_connection;

/// At most this many anomalies are kept per session; a client that produces more is counted, not
/// stored, so a flood of bare LFs cannot grow the record without bound.
pub const MAX_ANOMALIES: usize = 256;

/// Facts about the connection, fixed at accept time.
#[derive(Debug, Clone)]
pub struct ConnMeta {
    pub listener: String,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub implicit_tls: bool,
}

/// What the session is reading: commands, message data, a BDAT chunk or an AUTH response.
#[derive(Debug)]
enum Mode {
    Command,
    /// Discarding the rest of an over-long command line up to its LF.
    SkipLine,
    Data(DataReceiver),
    /// A BDAT chunk; `discard` when the transaction is invalid but the bytes must be swallowed.
    /// `started` clocks the minimum data rate of a chunk that belongs to no transaction.
    Bdat {
        chunk: BdatChunk,
        size: u64,
        last: bool,
        discard: Option<Say>,
        started: Instant,
    },
    Auth(auth::AuthStage),
}

/// How a call to `converse` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    /// The session is over; the string is the reason recorded in the session record.
    Close(&'static str),
    /// The client asked for STARTTLS and got `220`: upgrade the stream, then converse again.
    StartTls,
}

/// Whether the command loop goes on after a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Exit(Exit),
}

/// The state of one SMTP session.
pub(crate) struct Session {
    shared: Arc<Shared>,
    meta: ConnMeta,
    started: Instant,
    deadline: Instant,
    /// When the last read delivered bytes.
    last_read: Instant,
    /// When the first byte of the command line now in the buffer arrived (`None` once a
    /// line is handled; set from `last_read` when bytes are pending): the command deadline
    /// counts from here.
    line_since: Option<Instant>,
    record: SessionRecord,
    buf: BytesMut,
    out: Vec<u8>,
    mode: Mode,
    helo: Option<String>,
    esmtp: bool,
    tls: Option<TlsInfo>,
    tx: Option<Transaction>,
    auth_attempts: u32,
    shutdown: watch::Receiver<bool>,
    anomalies_dropped: u64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.record.id)
            .field("peer", &self.meta.peer)
            .finish()
    }
}

impl Session {
    fn new(shared: Arc<Shared>, meta: ConnMeta, shutdown: watch::Receiver<bool>) -> Self {
        let now = model::now();
        let started = Instant::now();
        let record = SessionRecord {
            id: uuid::Uuid::now_v7(),
            started_at: now,
            ended_at: now,
            listener: meta.listener.clone(),
            peer: meta.peer.to_string(),
            local: meta.local.to_string(),
            helo: None,
            tls: None,
            auth_attempts: Vec::new(),
            anomalies: Vec::new(),
            sightings: Vec::new(),
            commands: 0,
            errors: 0,
            end: String::new(),
            transcript: Transcript::default(),
        };
        let deadline = started + shared.limits.session_lifetime;
        Self {
            shared,
            meta,
            started,
            deadline,
            last_read: started,
            line_since: None,
            record,
            buf: BytesMut::with_capacity(io::INITIAL_BUFFER),
            out: Vec::new(),
            mode: Mode::Command,
            helo: None,
            esmtp: false,
            tls: None,
            tx: None,
            auth_attempts: 0,
            shutdown,
            anomalies_dropped: 0,
        }
    }

    fn ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// An event of this session, stamped now; add fields, then [`Session::emit`] it.
    fn event(&self, kind: EventKind) -> Event {
        Event::new(kind, Some(self.record.id))
    }

    fn emit(&self, event: Event) {
        self.shared.events.emit(event);
    }

    /// Records an anomaly in the session (bounded) and as an event.
    fn anomaly(&mut self, kind: AnomalyKind, detail: impl Into<String>) {
        let a = Anomaly::new(kind, detail);
        self.emit(
            self.event(EventKind::SessionAnomaly)
                .field("kind", a.kind)
                .field("detail", &a.detail),
        );
        if let Some(tx) = self.tx.as_mut() {
            tx.note(&a);
        }
        if self.record.anomalies.len() < MAX_ANOMALIES {
            self.record.anomalies.push(a);
        } else {
            self.anomalies_dropped += 1;
        }
    }

    /// Queues a reply worded by the persona.
    fn say(&mut self, what: Say, ctx: Ctx<'_>) {
        let reply = self.shared.persona.say(what, ctx);
        self.reply(&reply);
    }

    fn reply(&mut self, reply: &Reply) {
        let start = self.out.len();
        reply.write_to(&mut self.out);
        let ms = self.ms();
        for line in self.out[start..]
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
        {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            self.record.transcript.push(ms, Direction::Server, line);
        }
    }

    /// Queues an error reply, counting it; past the soft limit the reply is delayed (tarpit),
    /// at the hard limit the session ends with `421`.
    async fn fail(&mut self, what: Say, ctx: Ctx<'_>) -> Flow {
        self.record.errors += 1;
        let errors = self.record.errors;
        let limits = &self.shared.limits;
        if errors > u64::from(limits.soft_errors) && !limits.error_sleep.is_zero() {
            tokio::time::sleep(limits.error_sleep).await;
        }
        self.say(what, ctx);
        if errors >= u64::from(self.shared.limits.max_errors) {
            self.anomaly(AnomalyKind::TooManyErrors, format!("{errors} errors"));
            self.say(Say::TooManyErrors, Ctx::default());
            return Flow::Exit(Exit::Close("too-many-errors"));
        }
        Flow::Continue
    }

    /// Dispatches one complete command line (without its terminator).
    async fn handle_line(&mut self, line: &[u8]) -> Flow {
        self.record.commands += 1;
        let ms = self.ms();
        self.record.transcript.push(ms, Direction::Client, line);
        if self.record.commands > self.shared.limits.max_commands {
            self.anomaly(AnomalyKind::TooManyErrors, "command limit reached");
            self.say(Say::TooManyErrors, Ctx::default());
            return Flow::Exit(Exit::Close("too-many-commands"));
        }
        if line.contains(&0) {
            self.anomaly(AnomalyKind::NulByte, "in command line");
        }
        if !line.is_ascii() {
            self.anomaly(
                AnomalyKind::NonAscii,
                String::from_utf8_lossy(&line[..line.len().min(80)]),
            );
        }
        let cmd = match smtp_wire::parse_command(line) {
            Ok(cmd) => cmd,
            Err(e) => return self.handle_syntax_error(line, &e).await,
        };
        match cmd {
            Command::Ehlo(host) => self.handle_ehlo(host, true),
            Command::Helo(host) => self.handle_ehlo(host, false),
            Command::Mail { path, params } => self.handle_mail(line, path, params).await,
            Command::Rcpt { path, params } => self.handle_rcpt(line, path, params).await,
            Command::Data => self.handle_data().await,
            Command::Bdat { size, last } => self.handle_bdat(size, last),
            Command::Rset => self.handle_rset(),
            Command::Noop => self.handle_noop(),
            Command::Quit => self.handle_quit(),
            Command::Vrfy(arg) => self.handle_vrfy(&arg),
            Command::Expn(_) | Command::Help(_) => self.handle_help().await,
            Command::StartTls => self.handle_starttls().await,
            Command::Auth { mechanism, initial } => self.handle_auth(mechanism, initial).await,
            Command::Unknown(verb) => self.handle_unknown(&verb).await,
        }
    }

    /// Finishes the record when the session ends.
    fn into_record(mut self, end: &str) -> SessionRecord {
        if self.tx.as_ref().is_some_and(|tx| tx.in_progress()) {
            let a = Anomaly::new(AnomalyKind::AbortedTransaction, end.to_owned());
            if self.record.anomalies.len() < MAX_ANOMALIES {
                self.record.anomalies.push(a);
            }
        }
        if self.anomalies_dropped > 0 {
            let a = Anomaly::new(
                AnomalyKind::TooManyErrors,
                format!("{} further anomalies not kept", self.anomalies_dropped),
            );
            self.record.anomalies.push(a);
        }
        self.record.ended_at = model::now();
        self.record.end = end.to_owned();
        self.record.helo = self.helo.clone();
        self.record.tls = self.tls.clone();
        self.record
    }
}
