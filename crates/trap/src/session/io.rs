//! The session's I/O loop: read with per-state timeouts, cut the buffer into commands or data,
//! write the collected replies, and upgrade to TLS when asked.

use super::{ConnMeta, Exit, Flow, Mode, Session};
use crate::persona::{Ctx, Say};
use crate::shared::Shared;
use bytes::Buf;
use model::{AnomalyKind, EventKind};
use smtp_wire::{LineEnding, LineScan};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;

/// First read buffer: enough for a pipelined MAIL/RCPT/DATA group, small enough that ten
/// thousand idle connections cost little. It grows while a message is read.
pub(super) const INITIAL_BUFFER: usize = 1024;
/// Read size while inside DATA/BDAT, where bulk bytes arrive.
const DATA_READ: usize = 64 * 1024;

/// How a read ended when it did not deliver bytes.
enum Stall {
    Closed,
    Timeout,
    Lifetime,
    /// A command line was not complete within `command_deadline` of its first byte.
    CommandDeadline,
    /// DATA/BDAT content fell below `min_data_rate` after the grace period.
    DataTooSlow,
    Shutdown,
    Error,
}

/// Runs a whole session on `stream`: banner, commands, STARTTLS upgrade, and the final record.
pub async fn serve_connection<S>(
    shared: Arc<Shared>,
    stream: S,
    meta: ConnMeta,
    shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut session = Session::new(shared.clone(), meta, shutdown);
    session.emit(
        session
            .event(EventKind::SessionConnect)
            .field("listener", &session.meta.listener)
            .field("peer", &session.record.peer)
            .field("local", &session.record.local),
    );
    // The TLS states are boxed: a TLS stream is kilobytes, and the ten thousand idle plaintext
    // connections a trap holds should not each reserve room for one inside their future.
    let end = if session.meta.implicit_tls {
        Box::pin(converse_tls(&mut session, stream, true)).await
    } else {
        let mut stream = stream;
        match session.converse_fresh(&mut stream).await {
            Exit::Close(reason) => reason,
            Exit::StartTls => Box::pin(converse_tls(&mut session, stream, false)).await,
        }
    };
    let elapsed = session.ms();
    let record = session.into_record(end);
    shared.events.emit(
        model::Event::new(EventKind::SessionClosed, Some(record.id))
            .field("end", end)
            .field("duration_ms", elapsed)
            .field("commands", record.commands)
            .field("errors", record.errors)
            .field("messages", record.sightings.len()),
    );
    shared.store.record_session(record);
}

/// Handshakes on `stream` and converses inside TLS; returns why the session ended.
async fn converse_tls<S>(session: &mut Session, stream: S, implicit: bool) -> &'static str
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let Some(mut tls) = super::starttls::handshake(session, stream, implicit).await else {
        return "tls-failed";
    };
    let exit = if implicit {
        session.converse_fresh(&mut tls).await
    } else {
        session.converse(&mut tls).await
    };
    match exit {
        Exit::Close(reason) => reason,
        Exit::StartTls => "starttls-twice",
    }
}

impl Session {
    /// Greets (after the optional pre-greeting watch) and converses.
    async fn converse_fresh<S>(&mut self, io: &mut S) -> Exit
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let delay = self.shared.limits.greet_delay;
        if !delay.is_zero() {
            let until = Instant::now() + delay;
            if let Ok(Ok(n)) = tokio::time::timeout_at(until, io.read_buf(&mut self.buf)).await
                && n > 0
            {
                let seen =
                    String::from_utf8_lossy(&self.buf[..self.buf.len().min(80)]).into_owned();
                self.anomaly(AnomalyKind::PreGreetingTalk, seen);
            }
        }
        self.say(Say::Banner, Ctx::default());
        self.converse(io).await
    }

    /// The command loop. Returns when the session ends or STARTTLS was accepted.
    pub(super) async fn converse<S>(&mut self, io: &mut S) -> Exit
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        loop {
            match self.step().await {
                Some(Flow::Continue) => {
                    // A unit was handled; what is left in the buffer (if anything) is the
                    // start of the next line. A line being skipped keeps its start time.
                    if !matches!(self.mode, Mode::SkipLine) {
                        self.line_since = None;
                    }
                    continue;
                }
                Some(Flow::Exit(exit)) => {
                    let _ = self.flush(io).await;
                    return exit;
                }
                None => {}
            }
            // The buffer holds no complete unit: send what we have, then read more.
            if self.flush(io).await.is_err() {
                return Exit::Close("write-error");
            }
            match self.fill(io).await {
                Ok(()) => {}
                Err(Stall::Closed) => return Exit::Close("client-closed"),
                Err(Stall::Error) => return Exit::Close("read-error"),
                Err(Stall::Timeout) => {
                    self.anomaly(AnomalyKind::IdleTimeout, format!("{:?}", self.mode_name()));
                    self.say(Say::Timeout, Default::default());
                    let _ = self.flush(io).await;
                    return Exit::Close("idle-timeout");
                }
                Err(Stall::Lifetime) => {
                    self.anomaly(AnomalyKind::SessionTimeout, "session lifetime reached");
                    self.say(Say::Timeout, Default::default());
                    let _ = self.flush(io).await;
                    return Exit::Close("session-timeout");
                }
                Err(Stall::CommandDeadline) => {
                    let secs = self.shared.limits.command_deadline.as_secs();
                    self.anomaly(
                        AnomalyKind::CommandDeadline,
                        format!(
                            "{} line incomplete {secs} s after its first byte ({} bytes)",
                            self.mode_name(),
                            self.buf.len()
                        ),
                    );
                    self.say(Say::Timeout, Default::default());
                    let _ = self.flush(io).await;
                    return Exit::Close("command-deadline");
                }
                Err(Stall::DataTooSlow) => {
                    let detail = self.data_rate_detail();
                    self.anomaly(AnomalyKind::SlowData, detail);
                    self.say(Say::Timeout, Default::default());
                    let _ = self.flush(io).await;
                    return Exit::Close("data-too-slow");
                }
                Err(Stall::Shutdown) => {
                    self.say(Say::ShuttingDown, Default::default());
                    let _ = self.flush(io).await;
                    return Exit::Close("shutdown");
                }
            }
        }
    }

    fn mode_name(&self) -> &'static str {
        match self.mode {
            Mode::Command | Mode::SkipLine => "command",
            Mode::Data(_) => "data",
            Mode::Bdat { .. } => "bdat",
            Mode::Auth(_) => "auth",
        }
    }

    /// Processes one unit from the buffer; `None` when more bytes are needed.
    async fn step(&mut self) -> Option<Flow> {
        match &mut self.mode {
            Mode::Command => self.step_command().await,
            Mode::SkipLine => {
                let lf = self.buf.iter().position(|b| *b == b'\n');
                match lf {
                    Some(i) => {
                        self.buf.advance(i + 1);
                        self.mode = Mode::Command;
                        Some(Flow::Continue)
                    }
                    None => {
                        self.buf.clear();
                        None
                    }
                }
            }
            Mode::Data(_) => self.step_data().await,
            Mode::Bdat { .. } => self.step_bdat().await,
            Mode::Auth(_) => self.step_auth().await,
        }
    }

    async fn step_command(&mut self) -> Option<Flow> {
        match smtp_wire::scan_line(&self.buf, self.shared.limits.max_line) {
            LineScan::Incomplete => None,
            LineScan::TooLong => {
                self.anomaly(
                    AnomalyKind::LineTooLong,
                    format!("over {} bytes", self.shared.limits.max_line),
                );
                self.buf.clear();
                self.mode = Mode::SkipLine;
                Some(self.fail(Say::LineTooLong, Ctx::default()).await)
            }
            LineScan::Line {
                len,
                consumed,
                ending,
            } => {
                let line = self.buf.split_to(consumed);
                if ending == LineEnding::BareLf {
                    self.anomaly(AnomalyKind::BareLf, "command line");
                }
                Some(self.handle_line(&line[..len]).await)
            }
        }
    }

    /// The deadline of the record being received, if one applies now: the command line in
    /// the buffer must end `command_deadline` after its first byte; DATA/BDAT content must
    /// be complete by `start + data_rate_grace + received / min_data_rate`. Both are
    /// Postfix-style per-request deadlines: they end a client that keeps a slot by sending
    /// one byte just inside the idle timeout.
    fn record_deadline(&mut self) -> Option<(Instant, Stall)> {
        let limits = &self.shared.limits;
        match self.mode {
            Mode::Command | Mode::Auth(_) | Mode::SkipLine => {
                let pending = !self.buf.is_empty() || matches!(self.mode, Mode::SkipLine);
                if limits.command_deadline.is_zero() || !pending {
                    return None;
                }
                let since = *self.line_since.get_or_insert(self.last_read);
                let at = since.checked_add(limits.command_deadline)?;
                Some((at, Stall::CommandDeadline))
            }
            Mode::Data(_) | Mode::Bdat { .. } => {
                let rate = limits.min_data_rate;
                if rate == 0 {
                    return None;
                }
                let (start, received) = self.data_clock()?;
                let earned = Duration::from_millis(received.saturating_mul(1000) / rate);
                let at = start
                    .checked_add(limits.data_rate_grace)?
                    .checked_add(earned)?;
                Some((at, Stall::DataTooSlow))
            }
        }
    }

    /// When the content being read started and how many bytes of it have arrived: the
    /// transaction's content as a whole, or a refused BDAT chunk (no transaction) on its own
    /// clock, so swallowing one slowly holds no slot either.
    fn data_clock(&self) -> Option<(Instant, u64)> {
        match (&self.mode, self.tx.as_ref()) {
            (Mode::Bdat { discard: None, .. } | Mode::Data(_), Some(tx)) => {
                Some((tx.data_started?, tx.content_bytes))
            }
            (
                Mode::Bdat {
                    chunk,
                    size,
                    started,
                    ..
                },
                _,
            ) => Some((*started, size.saturating_sub(chunk.remaining()))),
            _ => None,
        }
    }

    /// What the session record says when the data rate check ends a session.
    fn data_rate_detail(&self) -> String {
        let limits = &self.shared.limits;
        let (bytes, secs) = self
            .data_clock()
            .map_or((0, 0), |(start, bytes)| (bytes, start.elapsed().as_secs()));
        format!(
            "{} bytes of {} content in {secs} s: below {} bytes/s after {} s",
            bytes,
            self.mode_name(),
            limits.min_data_rate,
            limits.data_rate_grace.as_secs()
        )
    }

    /// Reads more bytes, bounded by the idle timeout of the current state, the session
    /// lifetime, the deadline of the record being received and the shutdown signal.
    async fn fill<S>(&mut self, io: &mut S) -> Result<(), Stall>
    where
        S: AsyncRead + Unpin,
    {
        let now = Instant::now();
        let record = self.record_deadline();
        let limits = &self.shared.limits;
        let idle = match self.mode {
            Mode::Data(_) | Mode::Bdat { .. } => limits.data_idle_timeout,
            _ => limits.idle_timeout,
        };
        let mut until = (now + idle).min(self.deadline);
        let mut why = if until == self.deadline {
            Stall::Lifetime
        } else {
            Stall::Timeout
        };
        if let Some((at, stall)) = record
            && at < until
        {
            until = at;
            why = stall;
        }
        // Already late (bytes that were waiting in the buffer did not finish the record):
        // decided before reading, so a ready socket cannot win the race.
        if until <= now {
            return Err(why);
        }
        if matches!(self.mode, Mode::Data(_) | Mode::Bdat { .. }) {
            self.buf.reserve(DATA_READ);
        } else if self.buf.capacity() - self.buf.len() < 256 {
            self.buf.reserve(INITIAL_BUFFER);
        }
        // A message being received is allowed to finish (the listener waits up to its grace
        // period); a session waiting for a command is told 421 at once.
        let in_message = matches!(self.mode, Mode::Data(_) | Mode::Bdat { .. });
        if !in_message && *self.shutdown.borrow() {
            return Err(Stall::Shutdown);
        }
        let shutdown = &mut self.shutdown;
        let stop = async move {
            if in_message {
                std::future::pending::<()>().await;
            }
            let _ = shutdown.changed().await;
        };
        let read = tokio::select! {
            r = io.read_buf(&mut self.buf) => match r {
                Ok(0) => Err(Stall::Closed),
                Ok(_) => Ok(()),
                Err(_) => Err(Stall::Error),
            },
            _ = tokio::time::sleep_until(until) => Err(why),
            _ = stop => Err(Stall::Shutdown),
        };
        if read.is_ok() {
            self.last_read = Instant::now();
        }
        read
    }

    /// Writes the collected replies.
    pub(super) async fn flush<S>(&mut self, io: &mut S) -> std::io::Result<()>
    where
        S: AsyncWrite + Unpin,
    {
        if self.out.is_empty() {
            return Ok(());
        }
        let r = async {
            io.write_all(&self.out).await?;
            io.flush().await
        }
        .await;
        self.out.clear();
        r
    }
}
