//! Microsoft Cabinet (MSZIP, LZX, stored): files listed from the folder table, then each read
//! by name in memory. Files of a folder share one compressed stream, so the ratio is judged on
//! the whole cabinet.

use super::{Allowance, Extracted, add_entry, entries_exhausted, malformed, read_capped, too_big};
use crate::walk::{Origin, Walk};
use ::cab::Cabinet;
use std::collections::HashMap;
use std::io::Cursor;

/// Data blocks walked per folder when checking file offsets (a folder of 64 KiB blocks this
/// long is 4 GiB, past every object limit).
const MAX_BLOCKS_CHECKED: usize = 65_536;

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
    let readable = readable_files(data);
    let mut allowance = Allowance::new(walk, Some(data.len() as u64));
    for (n, name) in names.into_iter().enumerate() {
        if entries_exhausted(walk, index, n) {
            break;
        }
        if !readable.get(&name).copied().unwrap_or(false) {
            malformed(
                walk,
                index,
                format!("cab: {name}: starts beyond its folder's data blocks"),
            );
            continue;
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

/// Which file names the `cab` crate can read without panicking. Its folder reader indexes its
/// block table without a bound check, so a file whose start lies beyond the folder's data
/// (or in a folder with no data blocks, found by fuzzing) would panic. This re-reads the
/// CFHEADER/CFFOLDER/CFFILE/CFDATA tables (MS-CAB 2.1–2.4) to check each file's start against
/// the uncompressed size of its folder's blocks (start + size must lie within them, since the
/// reader also walks the table while reading). A name is readable only if every entry with
/// that name is.
fn readable_files(data: &[u8]) -> HashMap<String, bool> {
    let mut out = HashMap::new();
    let u16_at = |o: usize| data.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        data.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (Some(files_at), Some(folders), Some(files), Some(flags)) =
        (u32_at(16), u16_at(26), u16_at(28), u16_at(30))
    else {
        return out;
    };
    let (mut pos, mut folder_reserve, mut data_reserve) = (36usize, 0usize, 0usize);
    if flags & 4 != 0 {
        let (Some(header_reserve), Some(f), Some(d)) = (u16_at(36), data.get(38), data.get(39))
        else {
            return out;
        };
        folder_reserve = usize::from(*f);
        data_reserve = usize::from(*d);
        pos = 40 + usize::from(header_reserve);
    }
    if flags & 1 != 0 {
        pos = skip_cstr(data, skip_cstr(data, pos)); // previous cabinet and disk names
    }
    if flags & 2 != 0 {
        pos = skip_cstr(data, skip_cstr(data, pos)); // next cabinet and disk names
    }
    let mut folder_sizes = Vec::new();
    for f in 0..usize::from(folders) {
        let at = pos + f * (8 + folder_reserve);
        let (Some(first_block), Some(blocks), Some(method)) =
            (u32_at(at), u16_at(at + 4), u16_at(at + 6))
        else {
            return out;
        };
        let mut block = first_block as usize;
        let mut total = 0u64;
        let mut consistent = true;
        for _ in 0..usize::from(blocks).min(MAX_BLOCKS_CHECKED) {
            let (Some(compressed), Some(uncompressed)) = (u16_at(block + 4), u16_at(block + 6))
            else {
                consistent = false;
                break;
            };
            // A stored block must hold exactly what it declares; the crate's reader trusts the
            // declared size when it positions itself in the block (another fuzz-found panic).
            // No block may declare more than MS-CAB's 32 KiB.
            if (method & 0x000f == 0 && compressed != uncompressed) || uncompressed > 0x8000 {
                consistent = false;
            }
            total += u64::from(uncompressed);
            block = block + 8 + data_reserve + usize::from(compressed);
        }
        folder_sizes.push((if consistent { blocks } else { 0 }, total));
    }
    let mut at = files_at as usize;
    for _ in 0..files {
        let (Some(size), Some(start), Some(folder)) = (u32_at(at), u32_at(at + 4), u16_at(at + 8))
        else {
            break;
        };
        let name_at = at + 16;
        let name_end = skip_cstr(data, name_at);
        let name = data
            .get(name_at..name_end.saturating_sub(1).max(name_at))
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let ok = match folder_sizes.get(usize::from(folder)) {
            Some(&(blocks, total)) => blocks > 0 && u64::from(start) + u64::from(size) <= total,
            None => false,
        };
        let entry = out.entry(name).or_insert(true);
        *entry = *entry && ok;
        at = name_end;
    }
    out
}

/// The offset after the NUL-terminated string at `at` (or the end of `data`).
fn skip_cstr(data: &[u8], at: usize) -> usize {
    match data.get(at..).and_then(|rest| memchr::memchr(0, rest)) {
        Some(i) => at + i + 1,
        None => data.len(),
    }
}
