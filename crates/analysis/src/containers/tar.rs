//! tar: entries iterated in memory (never `unpack`); names are the raw header bytes, GNU long
//! names and PAX paths included. Tar stores, it does not compress, so no ratio applies here
//! (a `.tar.gz` was already judged by the gzip layer).

use super::{Extracted, add_entry, cap, entries_exhausted, malformed, read_capped, too_big};
use crate::walk::{Origin, Walk};
use ::tar::{Archive, EntryType};

pub(super) fn expand(walk: &mut Walk<'_>, index: u32, data: &[u8]) {
    let mut archive = Archive::new(data);
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => return malformed(walk, index, format!("tar: {e}")),
    };
    for (n, entry) in entries.enumerate() {
        if entries_exhausted(walk, index, n) {
            break;
        }
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => return malformed(walk, index, format!("tar: entry {n}: {e}")),
        };
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        if !matches!(
            kind,
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse
        ) {
            if matches!(kind, EntryType::Symlink | EntryType::Link) {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                if super::is_traversal(&target) {
                    walk.finding("archive.path-traversal", super::at(index), target.clone());
                }
                walk.finding(
                    "archive.link",
                    super::at(index),
                    format!("{name} -> {target}"),
                );
            }
            continue;
        }
        let cap = cap(walk, None);
        match read_capped(&mut entry, cap) {
            Extracted::Data(bytes) => {
                add_entry(walk, index, name, &bytes, Origin::default());
            }
            Extracted::TooBig => too_big(walk, index, &name, cap),
            Extracted::Failed(e) => return malformed(walk, index, format!("tar: {name}: {e}")),
        }
    }
}
