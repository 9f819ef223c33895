//! 7z: entries decoded block by block in memory (sevenz-rust2), with a dictionary memory limit;
//! encrypted content or headers are tried with each known password.
//!
//! A wrong AES password is only detected by a decoding or CRC error somewhere in the block, so
//! an encrypted archive is decoded into a list first and added only once a password produced
//! it without error.

use super::{Allowance, Cap, Extracted, add_entry, malformed, read_capped, too_big};
use crate::walk::{Origin, Walk};
use sevenz_rust2::{ArchiveReader, EntryDecision, Error, Password};
use std::io::Cursor;

/// Dictionary/model memory the decoder may allocate, in KiB. 7-Zip's "ultra" preset uses a
/// 64 MiB dictionary; LZMA2 allows 1.5 GiB, which a 200-byte header could make us allocate.
const MEMORY_LIMIT_KB: usize = 128 << 10;

/// What one decoding pass produced.
#[derive(Default)]
struct Pass {
    entries: Vec<(String, Vec<u8>)>,
    too_big: Vec<(String, Cap)>,
    max_entries: bool,
}

pub(super) fn expand(walk: &mut Walk<'_>, index: u32, data: &[u8]) {
    let allowance = Allowance::new(walk, Some(data.len() as u64));
    let max_entries = walk.engine.limits().max_entries as usize;
    match open(data, Password::empty()) {
        Ok(reader) => {
            let archive = reader.archive();
            let encrypted = (0..archive.files.len()).any(|f| archive.is_file_encrypted(f));
            if !encrypted {
                let (pass, error) = decode(reader, allowance, max_entries);
                if let Some(e) = error {
                    malformed(walk, index, format!("7z: {e}"));
                }
                return apply(walk, index, pass, None);
            }
        }
        Err(Error::PasswordRequired) => {}
        Err(e) => return malformed(walk, index, format!("7z: {e}")),
    }
    for password in walk.passwords.clone() {
        let Ok(reader) = open(data, Password::from(password.as_str())) else {
            continue;
        };
        if let (pass, None) = decode(reader, allowance, max_entries) {
            super::opened_with(walk, index, &password);
            return apply(walk, index, pass, Some(password));
        }
    }
    super::unopened_encrypted(walk, index, "7z content");
}

fn open(data: &[u8], password: Password) -> Result<ArchiveReader<Cursor<&[u8]>>, Error> {
    let mut reader =
        ArchiveReader::new_with_memory_limit(Cursor::new(data), password, MEMORY_LIMIT_KB)?;
    // The analysis runs one message per worker thread; the decoder must not spawn more.
    reader.set_thread_count(1);
    Ok(reader)
}

/// Decodes every file entry within the allowance; the error, if any, ends the pass.
fn decode(
    mut reader: ArchiveReader<Cursor<&[u8]>>,
    mut allowance: Allowance,
    max_entries: usize,
) -> (Pass, Option<Error>) {
    let mut pass = Pass::default();
    let mut seen = 0usize;
    let result = reader.for_each_entries_with_decision(|entry, r| {
        if entry.is_directory() {
            return Ok(EntryDecision::Continue);
        }
        if seen >= max_entries {
            pass.max_entries = true;
            return Ok(EntryDecision::Stop);
        }
        seen += 1;
        let cap = allowance.cap();
        match read_capped(r, cap) {
            Extracted::Data(bytes) => {
                allowance.used(bytes.len() as u64);
                pass.entries.push((entry.name().to_string(), bytes));
                Ok(EntryDecision::Continue)
            }
            Extracted::TooBig => {
                pass.too_big.push((entry.name().to_string(), cap));
                // The rest of a solid block would have to be decoded past the bomb.
                Ok(EntryDecision::SkipBlock)
            }
            Extracted::Failed(e) => Err(Error::from(e)),
        }
    });
    (pass, result.err())
}

fn apply(walk: &mut Walk<'_>, index: u32, pass: Pass, password: Option<String>) {
    for (name, cap) in &pass.too_big {
        too_big(walk, index, name, *cap);
    }
    if pass.max_entries {
        walk.limit("max_entries", super::at(index));
    }
    for (name, bytes) in pass.entries {
        if walk.out_of_time() {
            return;
        }
        let origin = Origin {
            encrypted: password.is_some(),
            password: password.clone(),
            ..Origin::default()
        };
        add_entry(walk, index, name, &bytes, origin);
    }
}
