//! Digests of objects: the cryptographic ones that feeds and sandboxes key on (MD5, SHA-1,
//! SHA-256, SHA-512) and the fuzzy ones that cluster variants of a campaign (ssdeep, TLSH).
//!
//! The fuzzy digests are byte-identical to the reference tools (Debian `ssdeep -s -b`, PyPI
//! `py-tlsh` 4.x/5.x `tlsh.hash()`), which `tests/e2e/test_fuzzy_hashes.py` checks, so that
//! our values can be looked up in MalwareBazaar, VirusTotal and MISP.

use md5::Md5;
use model::report::Hashes;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// Every digest of one object, in one pass per algorithm.
pub(crate) fn compute(data: &[u8]) -> Hashes {
    Hashes {
        md5: hex::encode(Md5::digest(data)),
        sha1: hex::encode(Sha1::digest(data)),
        sha256: hex::encode(Sha256::digest(data)),
        sha512: hex::encode(Sha512::digest(data)),
        ssdeep: ssdeep(data),
        tlsh: tlsh(data),
    }
}

/// ssdeep digest as the reference `ssdeep` prints it (`3::` for empty input; see `ssdeep.rs`).
pub fn ssdeep(data: &[u8]) -> String {
    crate::ssdeep::digest(data).unwrap_or_default()
}

/// TLSH `T1…` digest as `py-tlsh` prints it; `None` when the input is too short (< 50 bytes)
/// or too uniform for the buckets to carry information.
pub fn tlsh(data: &[u8]) -> Option<String> {
    let t = tlsh2::TlshDefaultBuilder::build_from(data)?;
    String::from_utf8(t.hash().to_vec()).ok()
}
