//! BDAT chunk receiver (RFC 3030 CHUNKING): counts exactly `size` bytes, no framing.
//!
//! A chunk has no dot-stuffing and no end marker, so the only job is to take
//! exactly the announced number of bytes, store what fits in the message size
//! budget and swallow the rest. The caller carries the budget across chunks
//! (`room`), so a client cannot grow memory by announcing many small chunks.

/// Receives one `BDAT <size>` chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BdatChunk {
    remaining: u64,
    swallowed: u64,
}

impl BdatChunk {
    /// A chunk of `size` bytes (0 is valid: `BDAT 0 LAST`).
    pub fn new(size: u64) -> Self {
        BdatChunk {
            remaining: size,
            swallowed: 0,
        }
    }

    /// Consumes up to the end of the chunk and returns how many bytes were
    /// consumed; appends at most `room` of them to `out` and counts the rest as
    /// swallowed. Input beyond the chunk is untouched (it is the next command).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>, room: u64) -> usize {
        let take = usize::try_from(self.remaining).map_or(input.len(), |r| r.min(input.len()));
        let chunk = input.get(..take).unwrap_or(input);
        let keep = usize::try_from(room).map_or(chunk.len(), |r| r.min(chunk.len()));
        out.extend_from_slice(chunk.get(..keep).unwrap_or(chunk));
        let swallowed = (chunk.len() - keep) as u64;
        self.swallowed = self.swallowed.saturating_add(swallowed);
        self.remaining = self.remaining.saturating_sub(chunk.len() as u64);
        chunk.len()
    }

    /// All announced bytes have been consumed.
    pub fn done(&self) -> bool {
        self.remaining == 0
    }

    /// Bytes still expected.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Bytes consumed but not stored because `room` ran out.
    pub fn swallowed(&self) -> u64 {
        self.swallowed
    }
}
