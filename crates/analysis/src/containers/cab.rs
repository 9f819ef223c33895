//! Microsoft Cabinet (MSZIP, LZX, stored): files listed from the folder table, then each read
//! by name in memory. Files of a folder share one compressed stream, so the ratio is judged on
//! the whole cabinet.

use super::{Allowance, Extracted, add_entry, entries_exhausted, malformed, read_capped, too_big};
use crate::walk::{Origin, Walk};
use ::cab::Cabinet;
use std::io::Cursor;

pub(super) fn expand(walk: &mut Walk<'_>, index: u32, data: &[u8]) {
    let mut cabinet = match Cabinet::new(Cursor::new(data)) {
        Ok(c) => c,
        Err(e) => return malformed(walk, index, format!("cab: {e}")),
    };
    let max = walk.engine.limits().max_entries as usize;
    let names: Vec<String> = cabinet
        .folder_entries()
        .flat_map(|folder| folder.file_entries().map(|f| f.name().to_string()))
        .take(max.saturating_add(1))
        .collect();
    let mut allowance = Allowance::new(walk, Some(data.len() as u64));
    for (n, name) in names.into_iter().enumerate() {
        if entries_exhausted(walk, index, n) {
            break;
        }
        let cap = allowance.cap();
        let got = match cabinet.read_file(&name) {
            Ok(mut reader) => read_capped(&mut reader, cap),
            Err(e) => Extracted::Failed(e),
        };
        match got {
            Extracted::Data(bytes) => {
                allowance.used(bytes.len() as u64);
                add_entry(walk, index, name, &bytes, Origin::default());
            }
            Extracted::TooBig => too_big(walk, index, &name, cap),
            Extracted::Failed(e) => malformed(walk, index, format!("cab: {name}: {e}")),
        }
    }
}
