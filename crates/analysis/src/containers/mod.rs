//! Archives and disk images: entries become child objects, within the bomb limits.
//!
//! Everything happens in memory: entries are read through `Read::take` capped at what the
//! limits still allow (declared sizes are never trusted), added with `Walk::add_object`
//! (which recurses), and their names are kept raw as evidence, `../` included; nothing is
//! ever extracted by path. One file per format; this one holds what they share.

mod cab;
mod compressed;
mod iso;
mod sevenz;
mod tar;
mod zip;

use crate::kind::Kind;
use crate::walk::{Origin, Walk};
use model::AnomalyKind;
use std::io::Read;

/// Below this many decompressed bytes the ratio is not judged: a few KiB of zeros or of
/// repetitive XML compress 1000:1 and are no bomb; a bomb is a bomb because of its size.
const RATIO_FLOOR: u64 = 1 << 20;

/// Extracts the entries of the container at `index` and adds each as a child object.
pub(crate) fn expand(walk: &mut Walk<'_>, index: u32, kind: Kind, data: &[u8]) {
    match kind {
        Kind::Zip => zip::expand(walk, index, data),
        Kind::SevenZip => sevenz::expand(walk, index, data),
        Kind::Gzip | Kind::Bzip2 | Kind::Xz => compressed::expand(walk, index, kind, data),
        Kind::Tar => tar::expand(walk, index, data),
        Kind::Iso => iso::expand(walk, index, data),
        Kind::Cab => cab::expand(walk, index, data),
        Kind::Rar => {
            let at = at(index);
            walk.finding("archive.unopened", at, "rar: no safe reader in this build");
        }
        // FAT images have no reader yet: the kind alone earns `attachment.disk-image`.
        Kind::Img => {
            let at = at(index);
            walk.finding("archive.unopened", at, "img: no FAT reader in this build");
        }
        _ => {}
    }
}

fn at(index: u32) -> String {
    format!("artifacts[{index}]")
}

/// How many bytes the next entry may decompress to, and which limit sets that bound.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cap {
    pub bytes: u64,
    pub limit: &'static str,
}

/// The bound for one entry: the per-object limit, what is left of the per-message budget, and
/// (when the compressed size is known) `max_ratio` times the compressed size.
pub(super) fn cap(walk: &Walk<'_>, compressed: Option<u64>) -> Cap {
    Allowance::new(walk, compressed).cap()
}

/// What a container may still produce, for formats whose entries share one compressed stream
/// (7z solid blocks, cab folders, gzip): the ratio is then judged on the whole container.
#[derive(Debug, Clone, Copy)]
pub(super) struct Allowance {
    object: u64,
    total_left: u64,
    ratio_left: Option<u64>,
}

impl Allowance {
    pub(super) fn new(walk: &Walk<'_>, compressed: Option<u64>) -> Allowance {
        let limits = walk.engine.limits();
        Allowance {
            object: limits.max_object_bytes,
            total_left: limits
                .max_total_bytes
                .saturating_sub(walk.report.budget.bytes),
            ratio_left: compressed.map(|c| c.saturating_mul(limits.max_ratio).max(RATIO_FLOOR)),
        }
    }

    /// The bound for the next entry and the limit that sets it.
    pub(super) fn cap(&self) -> Cap {
        let mut cap = Cap {
            bytes: self.object,
            limit: "max_object_bytes",
        };
        if self.total_left < cap.bytes {
            cap = Cap {
                bytes: self.total_left,
                limit: "max_total_bytes",
            };
        }
        if let Some(r) = self.ratio_left
            && r < cap.bytes
        {
            cap = Cap {
                bytes: r,
                limit: "max_ratio",
            };
        }
        cap
    }

    /// Counts `n` bytes produced by an entry that will be added.
    pub(super) fn used(&mut self, n: u64) {
        self.total_left = self.total_left.saturating_sub(n);
        self.ratio_left = self.ratio_left.map(|r| r.saturating_sub(n));
    }
}

/// What reading one entry gave.
pub(super) enum Extracted {
    Data(Vec<u8>),
    /// More than the cap: the entry is skipped and the limit recorded.
    TooBig,
    Failed(std::io::Error),
}

/// Reads at most `cap.bytes + 1` bytes: one more than allowed proves the entry is too big
/// without decompressing the rest.
pub(super) fn read_capped(reader: &mut dyn Read, cap: Cap) -> Extracted {
    let mut buf = Vec::new();
    match reader
        .take(cap.bytes.saturating_add(1))
        .read_to_end(&mut buf)
    {
        Ok(_) if buf.len() as u64 > cap.bytes => Extracted::TooBig,
        Ok(_) => Extracted::Data(buf),
        Err(e) => Extracted::Failed(e),
    }
}

/// Records a bomb-like entry: the limit, and the `archive.bomb` finding.
pub(super) fn too_big(walk: &mut Walk<'_>, index: u32, name: &str, cap: Cap) {
    let at = at(index);
    walk.limit(cap.limit, at.clone());
    walk.finding(
        "archive.bomb",
        at,
        format!("{name}: more than {} bytes ({})", cap.bytes, cap.limit),
    );
}

/// Checks the entry name (evidence, kept raw) and adds the entry as a child object.
pub(super) fn add_entry(
    walk: &mut Walk<'_>,
    index: u32,
    name: String,
    data: &[u8],
    origin: Origin,
) -> Option<u32> {
    if is_traversal(&name) {
        walk.finding("archive.path-traversal", at(index), name.clone());
    }
    walk.add_object(Some(index), Some(name), data, origin)
}

/// True when `max_entries` is reached at entry number `n` (recorded once by the caller's stop).
pub(super) fn entries_exhausted(walk: &mut Walk<'_>, index: u32, n: usize) -> bool {
    if n >= walk.engine.limits().max_entries as usize {
        walk.limit("max_entries", at(index));
        return true;
    }
    walk.out_of_time()
}

/// Marks the container as encrypted; `password` is the one that opened it, if any did.
pub(super) fn mark_encrypted(walk: &mut Walk<'_>, index: u32, password: Option<&str>) {
    let artifact = walk.artifact(index);
    artifact.encrypted = true;
    if artifact.password.is_none() {
        artifact.password = password.map(str::to_string);
    }
}

/// Records that a password opened an entry; a password that is neither a default nor an
/// operator one came from the message text.
pub(super) fn opened_with(walk: &mut Walk<'_>, index: u32, password: &str) {
    mark_encrypted(walk, index, Some(password));
    if !walk.engine.passwords.iter().any(|p| p == password) {
        walk.finding(
            "archive.password-from-body",
            at(index),
            password.to_string(),
        );
    } else {
        walk.finding("archive.password-default", at(index), password.to_string());
    }
}

/// Records an encrypted entry that no known password opened.
pub(super) fn unopened_encrypted(walk: &mut Walk<'_>, index: u32, name: &str) {
    mark_encrypted(walk, index, None);
    let at = at(index);
    walk.anomaly(
        AnomalyKind::EncryptedContent,
        at.clone(),
        format!("{name}: no known password opens it"),
    );
    walk.finding("archive.encrypted", at, name.to_string());
}

/// Records a container or entry the parser rejected.
pub(super) fn malformed(walk: &mut Walk<'_>, index: u32, what: impl Into<String>) {
    walk.anomaly(AnomalyKind::MalformedContent, at(index), what);
}

/// `..` components, absolute paths and drive letters: names that would escape an extraction
/// directory (zip-slip, CVE-2022-30333 style) on a naive unpacker.
pub(super) fn is_traversal(name: &str) -> bool {
    let bytes = name.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    name.starts_with('/')
        || name.starts_with('\\')
        || drive
        || name.split(['/', '\\']).any(|c| c.trim() == "..")
}

/// Name of the single member of a gzip/bzip2/xz stream: the container name without its
/// compression extension (`invoice.exe.gz` → `invoice.exe`, `x.tgz` → `x.tar`).
pub(super) fn strip_compression_ext(name: Option<&str>) -> String {
    let Some(name) = name else {
        return "data".to_string();
    };
    let lower = name.to_ascii_lowercase();
    for (ext, replacement) in [
        (".tgz", ".tar"),
        (".tbz2", ".tar"),
        (".tbz", ".tar"),
        (".txz", ".tar"),
        (".gz", ""),
        (".gzip", ""),
        (".bz2", ""),
        (".xz", ""),
        (".z", ""),
    ] {
        if lower.ends_with(ext) && name.is_char_boundary(name.len() - ext.len()) {
            let stem = &name[..name.len() - ext.len()];
            if !stem.is_empty() {
                return format!("{stem}{replacement}");
            }
        }
    }
    format!("{name}.data")
}
