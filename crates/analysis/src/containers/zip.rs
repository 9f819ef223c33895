//! ZIP: every entry read in memory, encrypted ones (ZipCrypto and WinZip AES) tried with each
//! known password: the defaults, the operator's, then those announced in the message.

use super::{Extracted, add_entry, cap, entries_exhausted, malformed, read_capped, too_big};
use crate::walk::{Origin, Walk};
use ::zip::ZipArchive;
use ::zip::result::ZipError;
use std::io::Cursor;

pub(super) fn expand(walk: &mut Walk<'_>, index: u32, data: &[u8]) {
    let mut archive = match ZipArchive::new(Cursor::new(data)) {
        Ok(a) => a,
        Err(e) => return malformed(walk, index, format!("zip: {e}")),
    };
    for i in 0..archive.len() {
        if entries_exhausted(walk, index, i) {
            break;
        }
        let Ok(entry) = archive.by_index_data(i) else {
            malformed(walk, index, format!("zip: entry {i} unreadable"));
            continue;
        };
        let name = match entry.name() {
            Ok(n) => n.into_owned(),
            Err(_) => String::from_utf8_lossy(entry.name_raw()).into_owned(),
        };
        let (encrypted, is_dir, compressed) =
            (entry.encrypted(), entry.is_dir(), entry.compressed_size());
        if is_dir {
            continue;
        }
        let cap = cap(walk, Some(compressed));
        if encrypted {
            decrypt(walk, index, &mut archive, i, &name, cap);
            continue;
        }
        let got = match archive.by_index(i) {
            Ok(mut f) => read_capped(&mut f, cap),
            Err(e) => Extracted::Failed(std::io::Error::other(e)),
        };
        match got {
            Extracted::Data(bytes) => {
                add_entry(walk, index, name, &bytes, Origin::default());
            }
            Extracted::TooBig => too_big(walk, index, &name, cap),
            Extracted::Failed(e) => malformed(walk, index, format!("zip: {name}: {e}")),
        }
    }
}

/// Tries every password on one encrypted entry. ZipCrypto's check byte lets a wrong password
/// through once in 256 tries, so a read that fails (bad deflate stream, CRC) means "try the
/// next one"; AES checks a 2-byte verifier first and an HMAC at the end.
fn decrypt(
    walk: &mut Walk<'_>,
    index: u32,
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    i: usize,
    name: &str,
    cap: super::Cap,
) {
    let passwords = walk.passwords.clone();
    for password in &passwords {
        let got = match archive.by_index_decrypt(i, password.as_bytes()) {
            Ok(mut f) => read_capped(&mut f, cap),
            Err(ZipError::InvalidPassword) => continue,
            Err(e) => {
                malformed(walk, index, format!("zip: {name}: {e}"));
                return;
            }
        };
        match got {
            Extracted::Data(bytes) => {
                super::opened_with(walk, index, password);
                let origin = Origin {
                    encrypted: true,
                    password: Some(password.clone()),
                    ..Origin::default()
                };
                add_entry(walk, index, name.to_string(), &bytes, origin);
                return;
            }
            Extracted::TooBig => {
                super::opened_with(walk, index, password);
                too_big(walk, index, name, cap);
                return;
            }
            Extracted::Failed(_) => continue,
        }
    }
    super::unopened_encrypted(walk, index, name);
}
