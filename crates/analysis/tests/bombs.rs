//! Resource bombs (issue 8, scope 2): each hostile message is built here, analysed by the
//! engine as the worker pool does (`Engine::analyze` with the default `Limits`, on a thread
//! with the pool's stack), and must end in a bounded, recorded outcome: the limit or anomaly
//! that stopped it, named with where it happened, and a peak of live heap bytes under a bound
//! derived from the limits.
//!
//! Memory is measured honestly: this test binary's global allocator counts live bytes and keeps
//! their peak. Tests run one at a time (`MEASURE`), so the peak of one analysis is not mixed
//! with another's. Wall time is not asserted: the engine's own `time_budget` bounds it, and a
//! bomb that reaches it must say so (`budget-exceeded`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/documents.rs"]
mod documents;

use analysis::{Engine, Input, Limits};
use model::{AnomalyKind, Report};
use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::io::{Cursor, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// The system allocator, counting live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract holds as it does for `System`; the counters are plain atomics.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is (see the impl).
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is (see the impl).
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is (see the impl).
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One measured analysis at a time: a test holds this for its whole run.
static MEASURE: Mutex<()> = Mutex::new(());

/// Stack of an analysis thread in the pool: `crates/spamhattan/src/worker/pool.rs` spawns them
/// with `std::thread::Builder` and no `stack_size`, which is std's default of 2 MiB.
const POOL_STACK: usize = 2 << 20;

/// A stack an eighth of the pool's, for the nesting bombs: analysing 10,000 levels in it
/// proves the walk does not recurse per level.
const SMALL_STACK: usize = 256 << 10;

const MIB: usize = 1 << 20;

/// The engine with the shipped rules and default limits, built once (YARA compiles its rules).
fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(Engine::with_defaults)
}

fn limits() -> &'static Limits {
    engine().limits()
}

/// What one analysis produced and cost.
struct Outcome {
    report: Report,
    /// Peak live heap bytes during the analysis, above what was live before it (the input).
    peak: usize,
}

/// Analyses `raw` as the worker does, on a thread with `stack` bytes of stack, measuring the
/// peak of live heap bytes. A stack overflow aborts the whole test binary: that is the failure.
fn analyze(raw: Vec<u8>, stack: usize) -> Outcome {
    analyze_with(engine(), raw, stack)
}

/// [`analyze`] with another engine.
fn analyze_with(engine: &'static Engine, raw: Vec<u8>, stack: usize) -> Outcome {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let report = std::thread::Builder::new()
        .name("bomb".into())
        .stack_size(stack)
        .spawn(move || engine.analyze(&raw, &Input::default()))
        .expect("spawn")
        .join()
        .expect("the analysis thread panicked");
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    eprintln!(
        "peak {:.1} MiB, {} objects, {} decoded bytes, {} ms, limits {:?}",
        peak as f64 / MIB as f64,
        report.budget.objects,
        report.budget.bytes,
        report.budget.elapsed_us / 1000,
        report.budget.limits_hit
    );
    for a in report.anomalies.iter().take(4) {
        eprintln!("  {:?} at {}: {}", a.kind, a.at, a.detail);
    }
    Outcome { report, peak }
}

fn lock() -> std::sync::MutexGuard<'static, ()> {
    MEASURE.lock().unwrap_or_else(|e| e.into_inner())
}

/// The anomalies of `kind` whose detail contains `detail`, as `(at, detail)`.
fn anomalies<'r>(r: &'r Report, kind: AnomalyKind, detail: &str) -> Vec<(&'r str, &'r str)> {
    r.anomalies
        .iter()
        .filter(|a| a.kind == kind && a.detail.contains(detail))
        .map(|a| (a.at.as_str(), a.detail.as_str()))
        .collect()
}

fn hit(r: &Report, limit: &str) -> bool {
    r.budget.limits_hit.iter().any(|l| l == limit)
}

fn assert_peak_under(o: &Outcome, bound: usize, why: &str) {
    assert!(
        o.peak < bound,
        "peak {} bytes, bound {bound} ({why})",
        o.peak
    );
}

const HEAD: &str = "From: sender@bomb.example\r\nTo: victim@trap.example\r\nSubject: bomb\r\nMIME-Version: 1.0\r\n";

/// A mail with the given attachments, each base64 in lines of 76.
fn mail_with(attachments: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut m = format!("{HEAD}Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n");
    m.push_str("--outer\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n");
    for (name, ctype, data) in attachments {
        let _ = write!(
            m,
            "--outer\r\nContent-Type: {ctype}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        );
        let b64 = documents::base64(data);
        for line in b64.as_bytes().chunks(76) {
            m.push_str(std::str::from_utf8(line).unwrap());
            m.push_str("\r\n");
        }
    }
    m.push_str("--outer--\r\n");
    m.into_bytes()
}

// ---------------------------------------------------------------------------------------------
// Zip quine

/// A zip archive whose only entry, `r.zip`, is the archive itself, byte for byte.
///
/// Built on the structure Russ Cox described for `r.zip` ("Zip Files All The Way Down",
/// 2010): a DEFLATE stream made of two instructions, *literal n* (a stored block) and *repeat
/// n* (a fixed-Huffman block copying the last n bytes), all of one size, so that the stream
/// prints its own header `P`, itself, and its trailer `S`. Here the size is searched for: a
/// literal is padded by empty fixed blocks before its stored header, a repeat by empty blocks
/// and by splitting its copy, until both come out at the same whole number of bytes. The
/// CRC-32 of the archive sits inside the archive (four times: the headers and their copies in
/// the stream); CRC-32 is affine over GF(2), so the value that is its own checksum is found by
/// solving 32 linear equations.
mod quine {
    const NAME: &[u8] = b"r.zip";
    /// DOS date of the entry; the time is varied until the CRC system has a solution.
    const DATE: u16 = 0x5A21;

    struct Bits {
        out: Vec<u8>,
        acc: u64,
        len: u32,
    }

    impl Bits {
        fn new() -> Bits {
            Bits {
                out: Vec::new(),
                acc: 0,
                len: 0,
            }
        }

        /// `count` bits of `value`, least significant first (headers and extra bits).
        fn put(&mut self, value: u32, count: u32) {
            self.acc |= u64::from(value) << self.len;
            self.len += count;
            while self.len >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.len -= 8;
            }
        }

        /// A Huffman code, most significant bit first.
        fn code(&mut self, code: u32, count: u32) {
            for i in (0..count).rev() {
                self.put((code >> i) & 1, 1);
            }
        }

        fn bit_len(&self) -> usize {
            self.out.len() * 8 + self.len as usize
        }

        /// Pads to a byte boundary with zero bits.
        fn finish(mut self) -> Vec<u8> {
            if self.len > 0 {
                self.out.push(self.acc as u8);
            }
            self.out
        }
    }

    const LEN_BASE: [u32; 29] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
        131, 163, 195, 227, 258,
    ];
    const LEN_EXTRA: [u32; 29] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
    ];
    const DIST_BASE: [u32; 16] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193];
    const DIST_EXTRA: [u32; 16] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6];

    /// The fixed-Huffman symbol, extra bits and their value for a copy length (3..=257).
    fn len_code(len: u32) -> (u32, u32, u32) {
        let i = (0..28).rev().find(|&i| LEN_BASE[i] <= len).expect("length");
        (257 + i as u32, LEN_EXTRA[i], len - LEN_BASE[i])
    }

    fn dist_code(dist: u32) -> (u32, u32, u32) {
        let i = (0..16)
            .rev()
            .find(|&i| DIST_BASE[i] <= dist)
            .expect("distance");
        (i as u32, DIST_EXTRA[i], dist - DIST_BASE[i])
    }

    /// Literal/length symbol as a fixed code: 256–279 in 7 bits, 280–287 in 8.
    fn symbol(bits: &mut Bits, s: u32) {
        if s < 280 {
            bits.code(s - 256, 7);
        } else {
            bits.code(0xC0 + s - 280, 8);
        }
    }

    fn copy_bits(len: u32, dist: u32) -> usize {
        let (s, le, _) = len_code(len);
        let (_, de, _) = dist_code(dist);
        (if s < 280 { 7 } else { 8 }) + le as usize + 5 + de as usize
    }

    /// An empty fixed-Huffman block (not final): header and end of block, 10 bits.
    fn empty_block(b: &mut Bits) {
        b.put(0, 1);
        b.put(1, 2);
        symbol(b, 256);
    }

    /// Literal n: `pad` empty fixed blocks, then a stored block header announcing `n` bytes.
    fn lit(pad: usize, n: usize) -> Vec<u8> {
        let n = u16::try_from(n).expect("literal too long");
        let mut b = Bits::new();
        for _ in 0..pad {
            empty_block(&mut b);
        }
        b.put(0, 3);
        let mut out = b.finish();
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&(!n).to_le_bytes());
        out
    }

    /// Repeat n in exactly `unit` bytes: empty blocks, then one fixed block copying the last
    /// `n` bytes in one to three pieces, ending on a byte boundary. `None` when no split fits.
    fn rep(unit: usize, n: usize, last: bool) -> Option<Vec<u8>> {
        let n = n as u32;
        let lens = |k: u32| 3..=n.min(257).saturating_sub(3 * k);
        for empty in 0..4usize {
            let Some(budget) = (unit * 8).checked_sub(10 * (empty + 1)) else {
                continue;
            };
            let mut found: Option<Vec<u32>> = None;
            if copy_bits(n.min(257), n) == budget && n <= 257 {
                found = Some(vec![n]);
            }
            for a in lens(1) {
                if found.is_some() {
                    break;
                }
                let rest = n - a;
                if (3..=257).contains(&rest) && copy_bits(a, n) + copy_bits(rest, n) == budget {
                    found = Some(vec![a, rest]);
                }
                for b2 in lens(1) {
                    let Some(c) = rest.checked_sub(b2) else { break };
                    if found.is_none()
                        && (3..=257).contains(&c)
                        && copy_bits(a, n) + copy_bits(b2, n) + copy_bits(c, n) == budget
                    {
                        found = Some(vec![a, b2, c]);
                    }
                }
            }
            if let Some(pieces) = found {
                let mut b = Bits::new();
                for _ in 0..empty {
                    empty_block(&mut b);
                }
                b.put(u32::from(last), 1);
                b.put(1, 2);
                for &len in &pieces {
                    let (s, le, lv) = len_code(len);
                    symbol(&mut b, s);
                    b.put(lv, le);
                    let (d, de, dv) = dist_code(n);
                    b.code(d, 5);
                    b.put(dv, de);
                }
                symbol(&mut b, 256);
                assert_eq!(b.bit_len(), unit * 8);
                return Some(b.finish());
            }
        }
        None
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// Local file header `P` for the given checksum and sizes.
    fn local_header(time: u16, crc: u32, csize: u32, usize_: u32) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        p.extend_from_slice(&20u16.to_le_bytes());
        p.extend_from_slice(&0u16.to_le_bytes());
        p.extend_from_slice(&8u16.to_le_bytes());
        p.extend_from_slice(&time.to_le_bytes());
        p.extend_from_slice(&DATE.to_le_bytes());
        p.extend_from_slice(&crc.to_le_bytes());
        p.extend_from_slice(&csize.to_le_bytes());
        p.extend_from_slice(&usize_.to_le_bytes());
        p.extend_from_slice(&(NAME.len() as u16).to_le_bytes());
        p.extend_from_slice(&0u16.to_le_bytes());
        p.extend_from_slice(NAME);
        p
    }

    /// Central directory header and end of central directory `S`.
    fn trailer(time: u16, crc: u32, csize: u32, usize_: u32, cd_offset: u32) -> Vec<u8> {
        let mut s = Vec::new();
        s.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        s.extend_from_slice(&20u16.to_le_bytes());
        s.extend_from_slice(&20u16.to_le_bytes());
        s.extend_from_slice(&0u16.to_le_bytes());
        s.extend_from_slice(&8u16.to_le_bytes());
        s.extend_from_slice(&time.to_le_bytes());
        s.extend_from_slice(&DATE.to_le_bytes());
        s.extend_from_slice(&crc.to_le_bytes());
        s.extend_from_slice(&csize.to_le_bytes());
        s.extend_from_slice(&usize_.to_le_bytes());
        s.extend_from_slice(&(NAME.len() as u16).to_le_bytes());
        s.extend_from_slice(&[0; 12]); // extra, comment, disk, attributes
        s.extend_from_slice(&0u32.to_le_bytes()); // local header offset
        s.extend_from_slice(NAME);
        let cd_size = s.len() as u32;
        s.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        s.extend_from_slice(&[0; 4]);
        s.extend_from_slice(&1u16.to_le_bytes());
        s.extend_from_slice(&1u16.to_le_bytes());
        s.extend_from_slice(&cd_size.to_le_bytes());
        s.extend_from_slice(&cd_offset.to_le_bytes());
        s.extend_from_slice(&0u16.to_le_bytes());
        s
    }

    /// The instruction size and encodings that fit: `(unit, lit pad, rep P+1, rep 4, rep S+1)`.
    type Plan = (usize, usize, Vec<u8>, Vec<u8>, Vec<u8>);

    fn plan(p_len: usize, s_len: usize) -> Plan {
        for pad in 0..6 {
            let unit = lit(pad, 0).len();
            if let (Some(rp), Some(r4), Some(rs)) = (
                rep(unit, p_len + unit, false),
                rep(unit, 4 * unit, false),
                rep(unit, s_len + unit, true),
            ) {
                return (unit, pad, rp, r4, rs);
            }
        }
        panic!("no instruction size fits P = {p_len}, S = {s_len}");
    }

    /// The archive for a given checksum: `P`, the self-printing stream `C`, `S`.
    fn archive(time: u16, crc: u32) -> Vec<u8> {
        let p_len = local_header(time, 0, 0, 0).len();
        let s_len = trailer(time, 0, 0, 0, 0).len();
        let (unit, pad, rp, r4, rs) = plan(p_len, s_len);
        let c_len = p_len + s_len + 30 * unit;
        let total = (p_len + c_len + s_len) as u32;
        let p = local_header(time, crc, c_len as u32, total);
        let s = trailer(time, crc, c_len as u32, total, (p_len + c_len) as u32);
        let lp = lit(pad, p_len + unit);
        let (l0, l1, l4) = (lit(pad, 0), lit(pad, unit), lit(pad, 4 * unit));
        let ls = lit(pad, s_len + unit);
        // The program, one line per step of the quine (Cox's table).
        #[rustfmt::skip]
        let program: [&[u8]; 32] = [
            &lp, &p, &lp,               // L[P+1] P L[P+1]
            &rp,                        // R[P+1]
            &l1, &rp,                   // L1 R[P+1]
            &l1, &l1,                   // L1 L1
            &l4, &rp, &l1, &l1, &l4,    // L4 R[P+1] L1 L1 L4
            &r4,                        // R4
            &l4, &r4, &l4, &r4, &l4,    // L4 R4 L4 R4 L4
            &r4,                        // R4
            &l4, &r4, &l0, &l0, &ls,    // L4 R4 L0 L0 L[S+1]
            &r4,                        // R4
            &l0, &l0, &ls, &rs, &s,     // L0 L0 L[S+1] R[S+1] S
            &rs,                        // R[S+1], the final block
        ];
        let c = program.concat();
        assert_eq!(c.len(), c_len);
        [p, c, s].concat()
    }

    /// The checksum `c` with `crc32(archive(c)) == c`, if the system has a solution.
    fn fixed_point(time: u16) -> Option<u32> {
        let f = |c: u32| crc32(&archive(time, c));
        let f0 = f(0);
        // Row j: coefficients of c_i in bit j of f(c) ^ c, and bit j of f(0) in bit 32.
        let mut rows = [0u64; 32];
        for i in 0..32 {
            let col = f(1 << i) ^ f0 ^ (1 << i);
            for (j, row) in rows.iter_mut().enumerate() {
                if col >> j & 1 == 1 {
                    *row |= 1 << i;
                }
            }
        }
        for (j, row) in rows.iter_mut().enumerate() {
            *row |= u64::from(f0 >> j & 1) << 32;
        }
        let mut pivot_row = 0;
        let mut pivots = Vec::new();
        for col in 0..32 {
            let Some(r) = (pivot_row..32).find(|&r| rows[r] >> col & 1 == 1) else {
                continue;
            };
            rows.swap(pivot_row, r);
            for r in 0..32 {
                if r != pivot_row && rows[r] >> col & 1 == 1 {
                    rows[r] ^= rows[pivot_row];
                }
            }
            pivots.push(col);
            pivot_row += 1;
        }
        if rows[pivot_row..].iter().any(|r| r >> 32 & 1 == 1) {
            return None;
        }
        let mut c = 0u32;
        for (r, &col) in pivots.iter().enumerate() {
            c |= ((rows[r] >> 32 & 1) as u32) << col;
        }
        Some(c)
    }

    /// The quine, checked to be its own checksum.
    pub fn r_zip() -> Vec<u8> {
        for time in 0x6000u16.. {
            if let Some(crc) = fixed_point(time) {
                let z = archive(time, crc);
                assert_eq!(crc32(&z), crc);
                return z;
            }
        }
        unreachable!()
    }
}

#[test]
fn zip_quine_stops_at_max_depth() {
    let _g = lock();
    let quine = quine::r_zip();
    // It really is a quine: the one entry, inflated by the crate the analysis uses, is itself.
    let mut archive = zip::ZipArchive::new(Cursor::new(&quine[..])).unwrap();
    let mut inner = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_index(0).unwrap(), &mut inner).unwrap();
    assert_eq!(inner, quine);

    let o = analyze(
        mail_with(&[("r.zip", "application/zip", &quine)]),
        POOL_STACK,
    );
    let r = &o.report;
    let depth = limits().max_depth;
    // The attachment and its copies down to max_depth, then the limit, at the deepest copy.
    let copies: Vec<_> = r.artifacts.iter().filter(|a| a.kind == "zip").collect();
    assert_eq!(copies.len() as u32, depth + 1, "{:#?}", r.artifacts);
    assert!(copies.iter().all(|a| a.size == quine.len() as u64));
    assert!(hit(r, "max_depth"));
    let deepest = format!("artifacts[{}]", copies[copies.len() - 1].index);
    assert_eq!(
        anomalies(r, AnomalyKind::LimitReached, "max_depth"),
        [(deepest.as_str(), "max_depth")]
    );
    // Nine copies of a 400-byte file and their reports: far under a megabyte of live heap
    // besides the engine's per-message state (YARA scanner, regex caches).
    assert_peak_under(&o, 16 * MIB, "nine tiny objects");
}

// ---------------------------------------------------------------------------------------------
// Deep MIME nesting

/// Levels of MIME nesting in the nesting bombs.
const LEVELS: usize = 10_000;

/// `levels` multiparts, each the only part of the one above, around one text part.
fn nested_multiparts(levels: usize) -> Vec<u8> {
    let mut m = format!("{HEAD}Content-Type: multipart/mixed; boundary=\"b00000\"\r\n\r\n");
    for i in 0..levels {
        let _ = write!(
            m,
            "--b{i:05}\r\nContent-Type: multipart/mixed; boundary=\"b{:05}\"\r\n\r\n",
            i + 1
        );
    }
    let _ = write!(
        m,
        "--b{levels:05}\r\nContent-Type: text/plain\r\n\r\ninnermost\r\n--b{levels:05}--\r\n"
    );
    for i in (0..levels).rev() {
        let _ = write!(m, "--b{i:05}--\r\n");
    }
    m.into_bytes()
}

/// `levels` messages, each attached (`message/rfc822`, not encoded) to the one above.
fn nested_messages(levels: usize) -> Vec<u8> {
    let mut m = format!("{HEAD}Content-Type: message/rfc822\r\n\r\n");
    for i in 0..levels {
        let _ = write!(
            m,
            "Subject: level {i}\r\nContent-Type: message/rfc822\r\n\r\n"
        );
    }
    m.push_str("Subject: innermost\r\n\r\ninnermost\r\n");
    m.into_bytes()
}

/// Lines starting with `--` mail-parser is given at most: `max_mime_parts` times
/// `DELIMITER_LINES_PER_PART` (16, `mime.rs`).
fn max_delimiter_lines() -> usize {
    limits().max_mime_parts as usize * 16
}

/// A generous bound on mail-parser's record of one part or attached message with a header or
/// two (measured: about 1.3 KB per nested message, 160 bytes per bare part).
const PART_RECORD: usize = 2 << 10;

#[test]
fn ten_thousand_nested_multiparts_are_cut_and_recorded_on_a_small_stack() {
    let _g = lock();
    let o = analyze(nested_multiparts(LEVELS), SMALL_STACK);
    let r = &o.report;
    // The message is cut before mail-parser sees it, past max_mime_parts parts...
    assert!(hit(r, "max_mime_parts"), "{:?}", r.budget.limits_hit);
    let cut = format!("more than {} lines start with --", max_delimiter_lines());
    let cuts = anomalies(r, AnomalyKind::MalformedContent, &cut);
    assert_eq!(cuts.len(), 1, "{:#?}", r.anomalies);
    assert_eq!(cuts[0].0, "message");
    // ...and what is left is still far deeper than MAX_MIME_DEPTH (32), which is recorded.
    let nested = anomalies(r, AnomalyKind::MalformedContent, "MIME parts nested");
    assert_eq!(nested.len(), 1, "{:#?}", r.anomalies);
    assert_eq!(nested[0].0, "message");
    assert!(
        nested[0].1.ends_with("levels deep (more than 32)"),
        "{}",
        nested[0].1
    );
    assert_peak_under(
        &o,
        max_delimiter_lines() * PART_RECORD + 16 * MIB,
        "one record per part mail-parser is given",
    );
}

#[test]
fn ten_thousand_nested_attached_messages_are_cut_and_stop_at_max_depth_on_a_small_stack() {
    let _g = lock();
    let o = analyze(nested_messages(LEVELS), SMALL_STACK);
    let r = &o.report;
    let max_messages = limits().max_mime_parts;
    let cut = format!("more than {max_messages} attached messages");
    assert_eq!(
        anomalies(r, AnomalyKind::MalformedContent, &cut).len(),
        1,
        "{:#?}",
        r.anomalies
    );
    // The walk follows what is left down to max_depth, and stops there, once.
    assert!(hit(r, "max_depth"), "{:?}", r.budget.limits_hit);
    assert_eq!(
        anomalies(r, AnomalyKind::LimitReached, "max_depth").len(),
        1,
        "{:#?}",
        r.anomalies
    );
    assert_eq!(r.artifacts.len() as u32, limits().max_depth + 1);
    // Each walked level parses what it encloses again, while its parents are held.
    let depth = limits().max_depth as usize + 1;
    assert_peak_under(
        &o,
        depth * max_messages as usize * PART_RECORD + 16 * MIB,
        "max_depth parses of at most max_mime_parts messages",
    );
}

#[test]
fn ten_thousand_nested_attached_messages_uncut_do_not_overflow_a_small_stack() {
    let _g = lock();
    // With `max_mime_parts` raised past the nesting, nothing is cut: mail-parser builds all
    // 10,000 levels, and dropping them level by level (`drop_flat`) is what keeps a 256 KiB
    // stack from overflowing (it did, before).
    static RAISED: OnceLock<Engine> = OnceLock::new();
    let engine = RAISED.get_or_init(|| {
        Engine::new(analysis::EngineConfig {
            limits: Limits {
                max_mime_parts: 2 * LEVELS as u32,
                ..Limits::default()
            },
            ..analysis::EngineConfig::default()
        })
        .expect("engine")
    });
    let o = analyze_with(engine, nested_messages(LEVELS), SMALL_STACK);
    let r = &o.report;
    assert!(
        !r.anomalies
            .iter()
            .any(|a| a.detail.contains("MIME parsing stopped")),
        "{:#?}",
        r.anomalies
    );
    assert!(hit(r, "max_depth"), "{:?}", r.budget.limits_hit);
    assert_eq!(r.artifacts.len() as u32, limits().max_depth + 1);
}

// ---------------------------------------------------------------------------------------------
// Headers

#[test]
fn a_ten_megabyte_header_line_is_recorded_and_cut() {
    let _g = lock();
    let long = "A".repeat(10 * MIB);
    let raw = format!(
        "From: sender@bomb.example\r\nTo: victim@trap.example\r\nSubject: {long}\r\nX-Long: {long}\r\n\r\nbody\r\n"
    )
    .into_bytes();
    let o = analyze(raw, POOL_STACK);
    let r = &o.report;
    let subject = r.headers.subject.as_deref().unwrap_or_default();
    assert!(subject.len() <= 520, "subject kept cut: {}", subject.len());
    // Both fields are named, with their size (`MAX_FIELD_BYTES` in `headers/mod.rs`).
    for name in ["Subject", "X-Long"] {
        let found = anomalies(
            r,
            AnomalyKind::MalformedContent,
            &format!("{name}: a field of"),
        );
        assert_eq!(found.len(), 1, "{name}: {:#?}", r.anomalies);
        assert_eq!(found[0].0, "headers");
        assert!(found[0].1.contains("(more than 65536)"), "{}", found[0].1);
    }
    // The message (20 MB) is live as input; the analysis copies a header value at most a few
    // times (unfolding, lossy UTF-8), never per character.
    assert_peak_under(&o, 8 * 10 * MIB + 16 * MIB, "a few copies of 10 MB values");
}

/// Lines that look like header fields mail-parser is given at most (`MAX_HEADER_LINES`,
/// `mime.rs`).
const MAX_HEADER_LINES: usize = 100_000;

/// A generous bound on mail-parser's record of one header field (measured: about 190 bytes).
const FIELD_RECORD: usize = 512;

#[test]
fn a_hundred_thousand_headers_are_recorded_and_bounded() {
    let _g = lock();
    let mut raw = String::from("From: sender@bomb.example\r\nTo: victim@trap.example\r\n");
    for i in 0..100_000 {
        let _ = write!(
            raw,
            "Received: from h{i}.bomb.example ([192.0.2.{}]) by mx.trap.example; Sat, 5 Dec 2026 10:00:00 +0000\r\n",
            i % 250
        );
    }
    raw.push_str("Subject: many\r\n\r\nbody\r\n");
    let o = analyze(raw.into_bytes(), POOL_STACK);
    let r = &o.report;
    // 100,003 fields: the message is cut before the last three (`MAX_HEADER_LINES`)...
    let cut = format!("more than {MAX_HEADER_LINES} lines look like header fields");
    assert_eq!(
        anomalies(r, AnomalyKind::MalformedContent, &cut).len(),
        1,
        "{:#?}",
        r.anomalies
    );
    assert!(hit(r, "mime_max_header_lines"), "{:?}", r.budget.limits_hit);
    // ...and what is parsed is still recorded as padded, with the Received chain cut to 50.
    assert_eq!(
        r.headers.received.len(),
        50,
        "MAX_HOPS in headers/received.rs"
    );
    assert_eq!(
        anomalies(
            r,
            AnomalyKind::MalformedContent,
            "Received headers; first 50 kept"
        ),
        [("headers.received", "99998 Received headers; first 50 kept")]
    );
    assert_eq!(
        anomalies(r, AnomalyKind::MalformedContent, "header fields (more than"),
        [("headers", "100000 header fields (more than 1000)")]
    );
    assert_peak_under(
        &o,
        MAX_HEADER_LINES * FIELD_RECORD + 16 * MIB,
        "one record per header field mail-parser is given",
    );
}

#[test]
fn ten_megabytes_of_tiny_headers_are_cut_before_parsing() {
    let _g = lock();
    // Four bytes a field: before the cut, mail-parser's records of these took 481 MiB.
    let mut raw = String::from("From: sender@bomb.example\r\n");
    while raw.len() < 10 * MIB {
        raw.push_str("a:\r\n");
    }
    raw.push_str("\r\nbody\r\n");
    let o = analyze(raw.into_bytes(), POOL_STACK);
    let r = &o.report;
    let cut = format!("more than {MAX_HEADER_LINES} lines look like header fields");
    let cuts = anomalies(r, AnomalyKind::MalformedContent, &cut);
    assert_eq!(cuts.len(), 1, "{:#?}", r.anomalies);
    assert_eq!(cuts[0].0, "message");
    assert_eq!(
        anomalies(r, AnomalyKind::LimitReached, "mime_max_header_lines"),
        [("message", "mime_max_header_lines")]
    );
    assert_peak_under(
        &o,
        MAX_HEADER_LINES * FIELD_RECORD + 16 * MIB,
        "one record per header field mail-parser is given",
    );
}

// ---------------------------------------------------------------------------------------------
// Many parts

#[test]
fn a_million_empty_parts_hit_the_part_limit() {
    let _g = lock();
    let mut raw =
        format!("{HEAD}Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n").into_bytes();
    for _ in 0..1_000_000 {
        raw.extend_from_slice(b"--b\r\n\r\n\r\n");
    }
    raw.extend_from_slice(b"--b--\r\n");
    let o = analyze(raw, POOL_STACK);
    let r = &o.report;
    assert!(hit(r, "max_mime_parts"), "{:?}", r.budget.limits_hit);
    // Cut before parsing and still over the limit after: recorded once.
    assert_eq!(
        anomalies(r, AnomalyKind::LimitReached, "max_mime_parts"),
        [("message", "max_mime_parts")]
    );
    assert!(r.bodies.len() <= limits().max_mime_parts as usize);
    let cut = format!("more than {} lines start with --", max_delimiter_lines());
    assert_eq!(
        anomalies(r, AnomalyKind::MalformedContent, &cut).len(),
        1,
        "{:#?}",
        r.anomalies
    );
    // mail-parser is given at most max_delimiter_lines() parts to keep records of.
    assert_peak_under(
        &o,
        max_delimiter_lines() * PART_RECORD + 16 * MIB,
        "one record per part mail-parser is given",
    );
}

// ---------------------------------------------------------------------------------------------
// Billion laughs in OOXML

/// The classic entity bomb: ten levels of ten references, 10^9 "lol"s when expanded.
fn billion_laughs(root: &str) -> String {
    let mut x = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    for i in 1..=9 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        let _ = writeln!(
            x,
            " <!ENTITY lol{i} \"{}\">",
            format!("&{prev};").repeat(10)
        );
    }
    x.push_str("]>\n");
    x.push_str(root);
    x
}

fn docx_with_laughs() -> Vec<u8> {
    let types = billion_laughs(
        "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"&lol9;\"/><Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>",
    );
    let root_rels = billion_laughs(
        "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"word/document.xml\"/></Relationships>",
    );
    let doc = billion_laughs(
        "<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>",
    );
    let doc_rels = billion_laughs(
        "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId7\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate\" Target=\"https://t.bomb.example/&lol9;.dotm\" TargetMode=\"External\"/></Relationships>",
    );
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in [
        ("[Content_Types].xml", &types),
        ("_rels/.rels", &root_rels),
        ("word/document.xml", &doc),
        ("word/_rels/document.xml.rels", &doc_rels),
    ] {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(data.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[test]
fn billion_laughs_in_ooxml_are_never_expanded() {
    let _g = lock();
    let docx = docx_with_laughs();
    let o = analyze(
        mail_with(&[(
            "laughs.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            &docx,
        )]),
        POOL_STACK,
    );
    let r = &o.report;
    let doc = r
        .artifacts
        .iter()
        .find(|a| a.name.as_deref() == Some("laughs.docx"))
        .unwrap();
    assert_eq!(doc.kind, "ooxml-word");
    let at = format!("artifacts[{}]", doc.index);
    // Every XML part with a DTD is recorded; none is expanded: the external target keeps the
    // reference as written.
    let dtds = anomalies(r, AnomalyKind::MalformedContent, "declares a DTD");
    for part in [
        "[Content_Types].xml",
        "_rels/.rels",
        "word/document.xml",
        "word/_rels/document.xml.rels",
    ] {
        assert!(
            dtds.iter().any(|(a, d)| *a == at && d.contains(part)),
            "{part}: {dtds:?}"
        );
    }
    let targets = &doc.office.as_ref().unwrap().external_targets;
    assert_eq!(targets, &["https://t.bomb.example/&lol9;.dotm"]);
    // 10^9 "lol"s would be 3 GB: the parts are read as they are (a few KB).
    assert_peak_under(&o, 16 * MIB, "parts read as written");
}

// ---------------------------------------------------------------------------------------------
// PDF object loops

/// Offset of the classic xref table.
fn xref_offset(pdf: &[u8]) -> usize {
    pdf.windows(6).position(|w| w == b"\nxref\n").unwrap() + 1
}

#[test]
fn pdf_object_loops_finish_and_are_recorded() {
    let _g = lock();
    // A page tree whose /Kids and /Parent point back at themselves, and an /OpenAction and
    // /JS that are references to themselves.
    let tree = documents::pdf(&[
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Parent 2 0 R /Count 2 >>".to_vec(),
        b"<< /Type /Page /Parent 3 0 R /Kids [3 0 R] /AA << /O 5 0 R >> >>".to_vec(),
        b"4 0 R".to_vec(),
        b"<< /S /JavaScript /JS 6 0 R /Next 5 0 R >>".to_vec(),
        b"6 0 R".to_vec(),
    ]);
    // An xref section whose /Prev is itself.
    let base = documents::pdf(&documents::catalog(""));
    let xref = xref_offset(&base);
    let trailer = base.windows(11).position(|w| w == b"trailer\n<< ").unwrap() + 11;
    let prev = [
        &base[..trailer],
        format!("/Prev {xref} ").as_bytes(),
        &base[trailer..],
    ]
    .concat();
    let o = analyze(
        mail_with(&[
            ("tree.pdf", "application/pdf", &tree),
            ("prev.pdf", "application/pdf", &prev),
        ]),
        POOL_STACK,
    );
    let r = &o.report;
    for name in ["tree.pdf", "prev.pdf"] {
        let a = r
            .artifacts
            .iter()
            .find(|a| a.name.as_deref() == Some(name))
            .unwrap();
        assert_eq!(a.kind, "pdf");
        assert!(a.pdf.is_some(), "{name} was analysed to the end");
    }
    let tree = r
        .artifacts
        .iter()
        .find(|a| a.name.as_deref() == Some("tree.pdf"))
        .unwrap();
    let tree_at = format!("artifacts[{}]", tree.index);
    // The objects that are references to themselves are named (`pdf/objects.rs`).
    let loops = anomalies(r, AnomalyKind::MalformedContent, "reference loop");
    assert!(
        loops
            .iter()
            .any(|(a, d)| *a == tree_at && d.contains("object 4 0"))
            && loops
                .iter()
                .any(|(a, d)| *a == tree_at && d.contains("object 6 0")),
        "{:#?}",
        r.anomalies
    );
    assert!(
        r.findings
            .iter()
            .any(|f| f.signal == "pdf.open-action" && f.at == tree_at)
    );
    assert!(
        r.findings.iter().any(|f| f.signal == "pdf.javascript"),
        "the looping /JS is still seen as JavaScript: {:#?}",
        r.findings
    );
    assert!(
        !r.anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::ParserPanic)
    );
    assert_peak_under(&o, 16 * MIB, "two small documents");
}

// ---------------------------------------------------------------------------------------------
// Base64 with garbage

#[test]
fn thirty_megabytes_of_base64_with_garbage_stay_within_the_budget() {
    let _g = lock();
    // 30 MB of base64 lines, every one broken by junk: characters outside the alphabet, stray
    // padding in the middle, NULs and 8-bit bytes.
    let payload = documents::base64(&[0x5Au8; 57]);
    let mut body = Vec::with_capacity(31 * MIB);
    let mut i = 0u32;
    while body.len() < 30 * MIB {
        body.extend_from_slice(&payload.as_bytes()[..40]);
        body.extend_from_slice(match i % 4 {
            0 => &b"!!*~"[..],
            1 => b"==",
            2 => b"\0\x01",
            _ => b"\xff\xfe\xe9",
        });
        body.extend_from_slice(&payload.as_bytes()[40..]);
        body.extend_from_slice(b"\r\n");
        i += 1;
    }
    let mut raw = format!(
        "{HEAD}Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: application/octet-stream; name=\"junk.bin\"\r\nContent-Disposition: attachment; filename=\"junk.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    )
    .into_bytes();
    raw.extend_from_slice(&body);
    raw.extend_from_slice(b"\r\n--b--\r\n");
    drop(body);
    let size = raw.len();
    let o = analyze(raw, POOL_STACK);
    let r = &o.report;
    assert!(r.budget.bytes <= limits().max_total_bytes);
    let junk = r
        .artifacts
        .iter()
        .find(|a| a.name.as_deref() == Some("junk.bin"))
        .expect("the part is kept as an object");
    assert!(junk.size <= limits().max_object_bytes);
    assert!(
        !anomalies(r, AnomalyKind::MalformedContent, "transfer encoding").is_empty()
            || r.anomalies
                .iter()
                .any(|a| a.kind == AnomalyKind::BudgetExceeded),
        "{:#?}",
        r.anomalies
    );
    // The part decoded (or kept raw) once, plus hashing and YARA buffers.
    assert_peak_under(&o, 3 * size + 32 * MIB, "one decoded copy of the part");
}

// ---------------------------------------------------------------------------------------------
// Nested zip bombs

/// A zip of `copies` entries, each `data` deflated.
fn zip_copies(data: &[u8], copies: usize, name: &str) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..copies {
        zip.start_file(format!("{i}{name}"), opts).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[test]
fn nested_zip_bomb_is_stopped_by_ratio_and_budget() {
    let _g = lock();
    // 42.zip's shape, scaled down: 5 levels of 16 entries, 16 MiB of zeros at the bottom
    // (16^5 x 16 MiB = 16 TiB if fully extracted).
    let zeros = vec![0u8; 16 * MIB];
    let mut level = zip_copies(&zeros, 16, ".bin");
    drop(zeros);
    for _ in 0..4 {
        level = zip_copies(&level, 16, ".zip");
    }
    let size = level.len();
    let o = analyze(
        mail_with(&[("42.zip", "application/zip", &level)]),
        POOL_STACK,
    );
    let r = &o.report;
    assert!(hit(r, "max_ratio"), "{:?}", r.budget.limits_hit);
    assert!(r.findings.iter().any(|f| f.signal == "archive.bomb"));
    // One anomaly per container that reached the ratio, not one per entry.
    let ratio = anomalies(r, AnomalyKind::LimitReached, "max_ratio");
    let mut places: Vec<_> = ratio.iter().map(|(at, _)| *at).collect();
    places.sort_unstable();
    places.dedup();
    assert_eq!(places.len(), ratio.len(), "{ratio:?}");
    let stopped = hit(r, "max_objects")
        || hit(r, "time_budget")
        || r.artifacts.len() == 1 + 16 + 256 + 4096 + 65536;
    assert!(stopped, "{:?}", r.budget.limits_hit);
    if hit(r, "time_budget") {
        assert!(!anomalies(r, AnomalyKind::BudgetExceeded, "time_budget").is_empty());
    }
    assert!(r.budget.bytes <= limits().max_total_bytes);
    // One leaf read at a time, each capped by the ratio (compressed size x 250): the budget
    // bounds the rest.
    assert_peak_under(&o, 64 * MIB + 8 * size, "one capped leaf at a time");
}
