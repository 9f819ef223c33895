//! gzip, bzip2 and xz: one compressed stream, one child named after the container without its
//! extension (`invoice.exe.gz` → `invoice.exe`). Concatenated members are decoded as one
//! stream, as `gunzip` and `xz -d` do, so the child is what the victim's tool would produce.

use super::{Extracted, add_entry, cap, malformed, read_capped, strip_compression_ext, too_big};
use crate::kind::Kind;
use crate::walk::{Origin, Walk};
use std::io::Read;

/// LZMA2 dictionary memory the xz decoder may allocate, in KiB: `xz -9` uses 64 MiB; an
/// attacker-declared 1.5 GiB dictionary is refused before allocation.
const XZ_MEMORY_LIMIT_KB: u32 = 128 << 10;

pub(super) fn expand(walk: &mut Walk<'_>, index: u32, kind: Kind, data: &[u8]) {
    let container = walk.report.artifacts[index as usize].name.clone();
    let name = strip_compression_ext(container.as_deref());
    let cap = cap(walk, Some(data.len() as u64));
    let mut reader: Box<dyn Read + '_> = match kind {
        Kind::Gzip => Box::new(flate2::read::MultiGzDecoder::new(data)),
        Kind::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(data)),
        Kind::Xz => Box::new(lzma_rust2::XzReader::new_mem_limit(
            data,
            true,
            XZ_MEMORY_LIMIT_KB,
        )),
        _ => return,
    };
    match read_capped(&mut reader, cap) {
        Extracted::Data(bytes) => {
            add_entry(walk, index, name, &bytes, Origin::default());
        }
        Extracted::TooBig => too_big(walk, index, &name, cap),
        Extracted::Failed(e) => malformed(walk, index, format!("{}: {e}", kind.as_str())),
    }
}
