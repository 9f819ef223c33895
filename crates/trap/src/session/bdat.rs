//! BDAT (RFC 3030 CHUNKING): exact-length chunks; the last one completes the message.
//!
//! A chunk's bytes are always consumed, even when the command is refused, or they would be read
//! as commands (a smuggling vector).

use super::{Flow, Mode, Session};
use crate::persona::{Ctx, Say};
use bytes::Buf;
use smtp_wire::BdatChunk;

impl Session {
    pub(super) fn handle_bdat(&mut self, size: u64, last: bool) -> Flow {
        let refusal = match self.tx.as_ref() {
            None => Some(Say::NeedMail),
            Some(tx) if tx.accepted == 0 => Some(if tx.rcpt_attempts == 0 {
                Say::NeedRcpt
            } else {
                Say::NoValidRcpt
            }),
            Some(_) => None,
        };
        if refusal.is_none()
            && let Some(tx) = self.tx.as_mut()
        {
            tx.bdat = true;
            if tx.data_started.is_none() {
                tx.data_started = Some(tokio::time::Instant::now());
            }
        }
        self.mode = Mode::Bdat {
            chunk: BdatChunk::new(size),
            size,
            last,
            discard: refusal,
            started: tokio::time::Instant::now(),
        };
        Flow::Continue
    }

    /// Consumes chunk bytes; when the chunk is complete, answers it.
    pub(super) async fn step_bdat(&mut self) -> Option<Flow> {
        let max = self.shared.limits.max_message_bytes;
        let Mode::Bdat {
            chunk,
            size,
            last,
            discard,
            ..
        } = &mut self.mode
        else {
            return None;
        };
        let mut sink = Vec::new();
        let incoming =
            usize::try_from(chunk.remaining()).map_or(self.buf.len(), |r| r.min(self.buf.len()));
        // The body grows within the in-flight budget; once that is spent, the chunk is
        // swallowed like a refused one and the message is answered 451 at LAST.
        let tx = self.tx.as_mut().filter(|_| discard.is_none());
        let (body, room) = match tx {
            Some(tx) => {
                if tx.make_room(incoming, max) {
                    let room = max.saturating_sub(tx.body.len() as u64);
                    (&mut tx.body, room)
                } else {
                    (&mut sink, 0)
                }
            }
            None => (&mut sink, 0),
        };
        let consumed = chunk.feed(&self.buf, body, room);
        self.buf.advance(consumed);
        if let Some(tx) = self.tx.as_mut() {
            tx.content_bytes = tx.content_bytes.saturating_add(consumed as u64);
        }
        if !chunk.done() {
            return None;
        }
        let (size, last, discard, swallowed) = (*size, *last, *discard, chunk.swallowed());
        self.mode = Mode::Command;
        if let Some(say) = discard {
            return Some(self.fail(say, Ctx::default()).await);
        }
        let Some(tx) = self.tx.as_mut() else {
            return Some(Flow::Continue);
        };
        if !tx.over_budget {
            tx.swallowed += swallowed;
        }
        if !last {
            self.say(
                Say::ChunkOk,
                Ctx {
                    n: size,
                    ..Ctx::default()
                },
            );
            return Some(Flow::Continue);
        }
        if tx.swallowed > 0 {
            let total = tx.body.len() as u64 + tx.swallowed;
            return Some(self.reject_oversized(total).await);
        }
        if tx.over_budget {
            return Some(self.reject_over_budget(size));
        }
        Some(self.capture().await)
    }
}
