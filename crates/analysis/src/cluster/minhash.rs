//! MinHash sketches of normalised body text, and the small fixed hashes every campaign key
//! is built from.
//!
//! Sketches are stored in reports and keys are stored in the campaign index, so both must be
//! identical across runs, machines and versions: no `std` hasher (its algorithm is not
//! promised), only the functions below, with their constants written out. Changing any of
//! them means re-indexing every campaign (see `docs/CAMPAIGNS.md`).

/// Values in one sketch: 64 gives a Jaccard estimate with a standard error of at most
/// 1/(2·√64) = 0.0625, enough to tell "one template" (≥ 0.6) from "unrelated" (≈ 0).
pub const MINHASH_SIZE: usize = 64;

/// Words per shingle: 3-word shingles survive reordered paragraphs (only the shingles across
/// a boundary change) while one changed name or number disturbs just three of them.
pub const SHINGLE_WORDS: usize = 3;

/// Words of a body examined: a template is recognisable from its beginning, and a body padded
/// with megabytes of filler must not cost more than this.
pub const MAX_WORDS: usize = 20_000;

/// Fewest shingles a sketch is made from: below this, a single changed word moves the estimate
/// too much to mean anything, and the exact body hash is the better signal.
pub const MIN_SHINGLES: usize = 8;

/// FNV-1a 64-bit offset basis and prime (the published constants).
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Seed of the permutation constants (an arbitrary fixed value: the digits of π).
const PERMUTATION_SEED: u64 = 0x3243_f6a8_885a_308d;

/// FNV-1a over `bytes`, starting from `state` (pass [`fnv1a_start`] for a fresh hash).
pub(crate) fn fnv1a(mut state: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        state ^= u64::from(*b);
        state = state.wrapping_mul(FNV_PRIME);
    }
    state
}

/// The FNV-1a starting state.
pub(crate) const fn fnv1a_start() -> u64 {
    FNV_OFFSET
}

/// The splitmix64 finaliser: a bijective mixer whose every output bit depends on every input
/// bit, which turns the weak FNV state into well-spread values.
pub(crate) const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One xor constant per permutation, derived from [`PERMUTATION_SEED`] by the splitmix64
/// sequence at compile time: `h_i(x) = mix64(x ^ SEEDS[i])` are 64 independent-looking
/// hash functions, which is all MinHash needs.
const SEEDS: [u64; MINHASH_SIZE] = {
    let mut seeds = [0u64; MINHASH_SIZE];
    let mut state = PERMUTATION_SEED;
    let mut i = 0;
    while i < MINHASH_SIZE {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        seeds[i] = mix64(state);
        i += 1;
    }
    seeds
};

/// MinHash sketch of the word 3-shingles of `normalised` (the body text as
/// `body::normalise` makes it); `None` when it has fewer than [`MIN_SHINGLES`] shingles.
/// Only the first [`MAX_WORDS`] words are read.
pub fn minhash(normalised: &str) -> Option<Vec<u32>> {
    let words: Vec<&str> = normalised.split_whitespace().take(MAX_WORDS).collect();
    let shingles = words.len().checked_sub(SHINGLE_WORDS - 1)?;
    if shingles < MIN_SHINGLES {
        return None;
    }
    // The minimum over a set does not depend on order or repeats: each distinct shingle is
    // hashed by the 64 functions once (templates repeat lines, newsletters whole blocks).
    let mut hashes: Vec<u64> = words
        .windows(SHINGLE_WORDS)
        .map(|window| {
            let mut h = fnv1a_start();
            for w in window {
                h = fnv1a(h, w.as_bytes());
                // A separator that never occurs inside a word keeps "a bc" apart from "ab c".
                h = fnv1a(h, b" ");
            }
            h
        })
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    let mut sketch = [u32::MAX; MINHASH_SIZE];
    for (slot, seed) in sketch.iter_mut().zip(SEEDS) {
        // The high half: the finaliser mixes best into the top bits.
        *slot = hashes
            .iter()
            .map(|&h| (mix64(h ^ seed) >> 32) as u32)
            .fold(u32::MAX, u32::min);
    }
    Some(sketch.to_vec())
}

/// The estimated Jaccard similarity of two sketches: the share of equal slots. Sketches of a
/// different length (a corrupt or foreign value) compare as 0.
pub fn similarity(a: &[u32], b: &[u32]) -> f64 {
    if a.len() != MINHASH_SIZE || b.len() != MINHASH_SIZE {
        return 0.0;
    }
    let same = a.iter().zip(b).filter(|(x, y)| x == y).count();
    same as f64 / MINHASH_SIZE as f64
}

/// The sketch as stored in a report: 8 lower-case hex digits per value. Digit by digit:
/// `format!("{v:08x}")` per value cost about 50,000 instructions per message (an allocation
/// and the formatting machinery 64 times), as much as the rest of the report's rendering.
pub fn to_hex(sketch: &[u32]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(sketch.len() * 8);
    for v in sketch {
        for shift in (0..8).rev() {
            out.push(char::from(DIGITS[((v >> (shift * 4)) & 0xf) as usize]));
        }
    }
    out
}

/// Parses a stored sketch; `None` unless it is exactly [`MINHASH_SIZE`] values of 8 hex digits.
pub fn from_hex(text: &str) -> Option<Vec<u32>> {
    if text.len() != MINHASH_SIZE * 8 || !text.is_ascii() {
        return None;
    }
    (0..MINHASH_SIZE)
        .map(|i| {
            let chunk = text.get(i * 8..i * 8 + 8)?;
            u32::from_str_radix(chunk, 16).ok()
        })
        .collect()
}
