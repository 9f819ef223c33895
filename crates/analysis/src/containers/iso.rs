//! ISO 9660 (with Joliet and Rock Ridge names): the directory tree walked in memory, each file
//! added as a child. `.`/`..` records are skipped, `;1` version suffixes stripped, and
//! directory loops (a subdirectory pointing back at an ancestor) are cut by remembering the
//! extents already visited.

use super::{add_entry, cap, entries_exhausted, malformed, too_big};
use crate::walk::{Origin, Walk};
use hadris_iso::file::EntryType;
use hadris_iso::read::{DirEntry, IsoImage};
use std::collections::HashSet;
use std::io::Cursor;

/// Directory nesting followed: ISO 9660 allows 8 levels, Rock Ridge relocates deeper ones;
/// 32 is plenty for real images and stops a crafted chain early.
const MAX_DIR_DEPTH: usize = 32;

pub(super) fn expand(walk: &mut Walk<'_>, index: u32, data: &[u8]) {
    let image = match IsoImage::open(Cursor::new(data)) {
        Ok(i) => i,
        Err(e) => return malformed(walk, index, format!("iso: {e}")),
    };
    let Some(root) = image.root_dirs().try_best_choice() else {
        return malformed(walk, index, "iso: no directory tree");
    };
    let joliet = matches!(root.entry_type(), EntryType::Joliet { .. });
    let mut stack = vec![(root.dir_ref(), String::new(), 0usize)];
    let mut visited = HashSet::new();
    let mut seen = 0usize;
    while let Some((dir, prefix, depth)) = stack.pop() {
        if !visited.insert(dir.extent.0) {
            continue;
        }
        for entry in image.open_dir(dir).entries() {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    malformed(walk, index, format!("iso: directory {prefix}: {e}"));
                    break;
                }
            };
            if entry.is_special() {
                continue;
            }
            let name = format!("{prefix}{}", entry_name(&entry, joliet));
            if entry.is_directory() {
                if depth < MAX_DIR_DEPTH
                    && let Ok(sub) = entry.as_dir_ref(&image)
                {
                    stack.push((sub, format!("{name}/"), depth + 1));
                }
                continue;
            }
            if entries_exhausted(walk, index, seen) {
                return;
            }
            seen += 1;
            let cap = cap(walk, None);
            if entry.total_size() > cap.bytes {
                too_big(walk, index, &name, cap);
                continue;
            }
            match image.read_file(&entry) {
                Ok(bytes) => {
                    add_entry(walk, index, name, &bytes, Origin::default());
                }
                Err(e) => malformed(walk, index, format!("iso: {name}: {e}")),
            }
        }
    }
}

/// Rock Ridge name when present, else the Joliet (UTF-16BE) or ISO name without `;1` and
/// without the trailing dot of extension-less level-1 names.
fn entry_name(entry: &DirEntry, joliet: bool) -> String {
    let rock_ridge = entry.rrip.as_ref().and_then(|r| r.alternate_name.clone());
    let raw = entry.name();
    let mut name = match rock_ridge {
        Some(n) => n,
        None if joliet && raw.len().is_multiple_of(2) => {
            let units: Vec<u16> = raw
                .chunks_exact(2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        None => String::from_utf8_lossy(raw).into_owned(),
    };
    if let Some((base, version)) = name.rsplit_once(';')
        && !version.is_empty()
        && version.bytes().all(|b| b.is_ascii_digit())
    {
        name.truncate(base.len());
    }
    if name.ends_with('.') && !name.ends_with("..") {
        name.pop();
    }
    name.retain(|c| c != '\0');
    name
}
