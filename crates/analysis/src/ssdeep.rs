//! ssdeep (spamsum) digests, as the reference `ssdeep` 2.14.1 prints them (`ssdeep -s -b`).
//!
//! Written here instead of taken from the `fuzzyhash` crate, for two reasons:
//! - **Output.** When no piece boundary fires at the smallest block size (inputs of a few
//!   bytes, or long runs of one byte) the first part of the digest is empty and ssdeep puts the
//!   running hash's character in both parts (`3:E:E` for `a`). `fuzzyhash` 0.2.2 leaves it out
//!   of the second part (`3:E:`), so those digests matched nothing in a feed.
//! - **Cost.** `fuzzyhash` spent about 94 instructions per byte (bounds-checked vectors, a
//!   modulo by a variable block size at every byte, the base64 alphabet walked by `nth`), and
//!   every normalised body and every artefact is hashed. Here the piece hashes of all block
//!   sizes are stepped together, modulo 64 (the compiler makes it a few SSE2 multiplies per
//!   byte, checked in the disassembly); block sizes too large to be shown are not tracked; and two in three bytes are rejected by a remainder by the
//!   constant 3 before any block size is looked at.
//!
//! The algorithm (Kornblum's context-triggered piecewise hashing): a rolling hash over a 7-byte
//! window marks piece boundaries where `roll % blocksize == blocksize - 1`; each piece
//! contributes one base64 character of an FNV-style hash of its bytes. Block sizes 3·2^i are
//! tracked together, and the digest shows the smallest one whose signature is still at least
//! half full, plus the next one (truncated to 32 characters).

/// Bytes in the rolling window.
const WINDOW: usize = 7;
/// The smallest block size; block size `i` is `MIN_BLOCK << i`.
const MIN_BLOCK: u32 = 3;
/// Block sizes tracked (3 to 3·2^30).
const BLOCK_SIZES: usize = 31;
/// Lanes of the piece-hash arrays: one per block size, rounded up for the vector unit.
const LANES: usize = 32;
/// Characters in a full signature.
const SPAMSUM_LENGTH: usize = 64;
/// The piece hash is FNV-1 (`h * 0x01000193 ^ byte`, from `0x28021967`), but only `h % 64`
/// is ever shown, and the product modulo 64 depends only on `h % 64`: so `h` is kept modulo 64,
/// where the prime is 0x13 and the start value 0x27 (as ssdeep 2.14 does with a table).
const PRIME_MOD_64: u8 = 0x13;
const INIT_MOD_64: u8 = 0x27;
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The rolling hash over the last [`WINDOW`] bytes.
#[derive(Default)]
struct Roll {
    window: [u8; WINDOW],
    /// Next slot of `window` to overwrite.
    at: usize,
    h1: u32,
    h2: u32,
    h3: u32,
}

impl Roll {
    fn push(&mut self, c: u8) {
        let c32 = u32::from(c);
        self.h2 = self
            .h2
            .wrapping_sub(self.h1)
            .wrapping_add(WINDOW as u32 * c32);
        self.h1 = self
            .h1
            .wrapping_add(c32)
            .wrapping_sub(u32::from(self.window[self.at]));
        self.window[self.at] = c;
        self.at = if self.at + 1 == WINDOW {
            0
        } else {
            self.at + 1
        };
        self.h3 = (self.h3 << 5) ^ c32;
    }

    fn sum(&self) -> u32 {
        self.h1.wrapping_add(self.h2).wrapping_add(self.h3)
    }
}

/// The characters of the signature at one block size.
#[derive(Clone, Copy)]
struct Signature {
    /// `digest[len]` holds the last piece's character once the signature is full (the tail
    /// pieces are merged into one).
    digest: [u8; SPAMSUM_LENGTH],
    len: usize,
    /// The half-length signature's character for the current piece.
    half_char: u8,
}

fn b64(h: u8) -> u8 {
    B64[usize::from(h & 63)]
}

/// The state of one digest: the signatures of block sizes `start..end`.
struct State {
    roll: Roll,
    /// Piece hashes (modulo 64) of every block size, and of the half-length signatures.
    /// Every lane is stepped at every byte: a few vector instructions, where stepping only
    /// `start..end` costs a loop per byte. Lanes outside `start..end` are never read before
    /// [`State::fork`] sets them.
    h: [u8; LANES],
    half_h: [u8; LANES],
    sigs: [Signature; BLOCK_SIZES],
    start: usize,
    end: usize,
    /// `end` never passes this: block sizes above the one the input length calls for, plus
    /// one, can never be shown (ssdeep 2.14's `bhendlimit` for inputs of known length).
    end_limit: usize,
    /// Length of the whole input (smaller block sizes are dropped once they cannot be shown).
    total: u64,
}

/// The smallest block size index whose full signature covers `total` bytes.
fn fitting_block(total: u64) -> usize {
    let mut i = 0;
    while i < BLOCK_SIZES - 1 && u64::from(MIN_BLOCK << i) * (SPAMSUM_LENGTH as u64) < total {
        i += 1;
    }
    i
}

impl State {
    fn new(total: u64) -> State {
        State {
            roll: Roll::default(),
            h: [INIT_MOD_64; LANES],
            half_h: [INIT_MOD_64; LANES],
            sigs: [Signature {
                digest: [0; SPAMSUM_LENGTH],
                len: 0,
                half_char: 0,
            }; BLOCK_SIZES],
            start: 0,
            end: 1,
            end_limit: (fitting_block(total) + 2).min(BLOCK_SIZES),
            total,
        }
    }

    fn step(&mut self, c: u8) {
        self.roll.push(c);
        let h = self.roll.sum();
        for (a, b) in self.h.iter_mut().zip(self.half_h.iter_mut()) {
            *a = (a.wrapping_mul(PRIME_MOD_64) ^ c) & 63;
            *b = (b.wrapping_mul(PRIME_MOD_64) ^ c) & 63;
        }
        // A boundary at block size 3·2^i needs h ≡ -1 (mod 3·2^i), so h ≡ 2 (mod 3) first.
        if h % MIN_BLOCK != MIN_BLOCK - 1 {
            return;
        }
        let mut i = self.start;
        while i < self.end {
            let size = MIN_BLOCK << i;
            // h ≡ -1 (mod 2·bs) implies h ≡ -1 (mod bs): the first miss ends the loop.
            if h % size != size - 1 {
                break;
            }
            if self.sigs[i].len == 0 {
                self.fork();
            }
            let s = &mut self.sigs[i];
            s.digest[s.len] = b64(self.h[i]);
            s.half_char = b64(self.half_h[i]);
            if s.len < SPAMSUM_LENGTH - 1 {
                s.len += 1;
                s.digest[s.len] = 0;
                self.h[i] = INIT_MOD_64;
                if s.len < SPAMSUM_LENGTH / 2 {
                    self.half_h[i] = INIT_MOD_64;
                    s.half_char = 0;
                }
            } else {
                self.reduce();
            }
            i += 1;
        }
    }

    /// The first boundary at the largest tracked block size starts tracking the next one,
    /// from the same piece hashes.
    fn fork(&mut self) {
        if self.end < self.end_limit {
            let (last, next) = (self.end - 1, self.end);
            self.h[next] = self.h[last];
            self.half_h[next] = self.half_h[last];
            self.sigs[next].digest[0] = 0;
            self.sigs[next].len = 0;
            self.sigs[next].half_char = 0;
            self.end += 1;
        }
    }

    /// Stops tracking the smallest block size once the input is too long for it to be shown
    /// and the next one is at least half full.
    fn reduce(&mut self) {
        if self.end - self.start < 2
            || u64::from(MIN_BLOCK << self.start) * SPAMSUM_LENGTH as u64 >= self.total
            || self.sigs[self.start + 1].len < SPAMSUM_LENGTH / 2
        {
            return;
        }
        self.start += 1;
    }

    /// `blocksize:signature:half-signature`, or `None` past the largest block size (inputs
    /// above about 200 GB).
    fn digest(&self) -> Option<String> {
        let running = self.roll.sum() != 0;
        let mut i = self.start;
        while u64::from(MIN_BLOCK << i) * (SPAMSUM_LENGTH as u64) < self.total {
            i += 1;
            if i >= BLOCK_SIZES {
                return None;
            }
        }
        i = i.min(self.end - 1);
        while i > self.start && self.sigs[i].len < SPAMSUM_LENGTH / 2 {
            i -= 1;
        }
        let first = &self.sigs[i];
        let mut out = format!("{}:", MIN_BLOCK << i).into_bytes();
        out.extend_from_slice(&first.digest[..first.len]);
        if running {
            out.push(b64(self.h[i]));
        } else if first.digest[first.len] != 0 {
            out.push(first.digest[first.len]);
        }
        out.push(b':');
        if i + 1 < self.end {
            let second = &self.sigs[i + 1];
            let n = second.len.min(SPAMSUM_LENGTH / 2 - 1);
            out.extend_from_slice(&second.digest[..n]);
            if running {
                out.push(b64(self.half_h[i + 1]));
            } else if second.half_char != 0 {
                out.push(second.half_char);
            }
        } else if running {
            // No piece boundary at all at this block size: the running hash is both parts.
            out.push(b64(self.h[i]));
        }
        String::from_utf8(out).ok()
    }
}

/// The ssdeep digest of `data` (`3::` for no bytes); `None` only for inputs beyond the largest
/// block size, which the analysis limits never let through.
pub fn digest(data: &[u8]) -> Option<String> {
    let mut state = State::new(data.len() as u64);
    for &c in data {
        state.step(c);
    }
    state.digest()
}

#[cfg(test)]
mod tests {
    use super::digest;

    /// Printed by Debian's `ssdeep -s -b` 2.14.1 for these bytes.
    #[test]
    fn reference_digests_of_short_inputs() {
        assert_eq!(digest(b"").as_deref(), Some("3::"));
        assert_eq!(digest(b"a").as_deref(), Some("3:E:E"));
        // The rolling hash of zeros is 0: no boundary and no running character either.
        assert_eq!(digest(&[0u8; 300_000]).as_deref(), Some("3::"));
        assert_eq!(digest(&[b'x'; 5000]).as_deref(), Some("3:H:H"));
        assert_eq!(
            digest(b"hello world, this is a small file").as_deref(),
            Some("3:iKFSMPFVEy8O:rJPFuyt")
        );
    }

    /// Inputs with piece boundaries agree with the `fuzzyhash` crate (whose only difference is
    /// the empty first part): lengths across the block-size steps, where signatures fill up,
    /// block sizes fork and the smallest one is dropped.
    #[test]
    fn agrees_with_fuzzyhash_where_the_first_part_is_not_empty() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut lengths: Vec<usize> = vec![1, 2, 7, 8, 50, 191, 192, 193, 4096];
        for k in 1..14 {
            let step = 3usize << k;
            lengths.extend([step * 64 - 1, step * 64, step * 64 + 1]);
        }
        let mut compared = 0;
        for (n, len) in lengths.into_iter().enumerate() {
            // Random bytes, text-like bytes, and a run of one byte with a random tail.
            let data: Vec<u8> = match n % 3 {
                0 => (0..len).map(|_| next() as u8).collect(),
                1 => (0..len)
                    .map(|_| b"abcde fgh\n"[(next() % 10) as usize])
                    .collect(),
                _ => (0..len)
                    .map(|i| if i < len / 2 { b'x' } else { next() as u8 })
                    .collect(),
            };
            let ours = digest(&data).expect("in range");
            let theirs = fuzzyhash::FuzzyHash::new(&data).to_string();
            let first_part_empty = ours.split(':').nth(1).is_some_and(|p| p.len() <= 1);
            if first_part_empty {
                continue;
            }
            assert_eq!(ours, theirs, "{len} bytes, kind {}", n % 3);
            compared += 1;
        }
        assert!(compared >= 35, "only {compared} inputs compared");
    }
}
