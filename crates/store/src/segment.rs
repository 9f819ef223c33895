//! Spool segment files: the record format, appending with fdatasync, reading and scanning.
//!
//! A segment is a sequence of records `MAGIC | length (u64 LE) | sha256 (32) | bytes`. The header
//! makes a segment readable without the index: [`scan_segment`] walks it and stops at the first
//! torn or damaged record. Bytes after the last indexed record (a crash mid-batch) are harmless
//! garbage: the SQLite index is the truth, and a writer never appends to a segment it did not
//! create in this process.

use crate::error::{Result, StoreError};
use model::MessageId;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Marks the start of every record (and identifies the format version).
pub const RECORD_MAGIC: [u8; 8] = *b"SPHBLOB1";
/// Header size: magic, length, SHA-256.
pub const HEADER_LEN: u64 = 8 + 8 + 32;

/// Appends `raw` as one record to `out`; returns the record's offset within `out`.
pub(crate) fn encode_record(out: &mut Vec<u8>, id: &MessageId, raw: &[u8]) -> u64 {
    let at = out.len() as u64;
    out.extend_from_slice(&RECORD_MAGIC);
    out.extend_from_slice(&(raw.len() as u64).to_le_bytes());
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(raw);
    at
}

/// The segment this process is appending to. It holds an exclusive `flock` on the file for its
/// whole life, so retention in any process skips it; the lock dies with the process.
#[derive(Debug)]
pub(crate) struct SegmentWriter {
    pub name: String,
    path: PathBuf,
    file: File,
    pub len: u64,
}

impl SegmentWriter {
    /// Creates a new, empty, locked segment `seg-<unix nanos>-<pid>.dat` and makes its directory
    /// entry durable.
    pub fn create(spool: &Path) -> Result<Self> {
        let pid = std::process::id();
        let mut nanos = crate::unix_nanos(model::now());
        loop {
            let name = format!("seg-{nanos:020}-{pid}.dat");
            let path = spool.join(&name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    file.try_lock().map_err(|e| {
                        StoreError::io(&path, std::io::Error::other(format!("lock: {e}")))
                    })?;
                    sync_dir(spool)?;
                    return Ok(Self {
                        name,
                        path,
                        file,
                        len: 0,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => nanos += 1,
                Err(e) => return Err(StoreError::io(&path, e)),
            }
        }
    }

    /// Appends encoded records; returns the offset they start at. Not durable until [`sync`].
    ///
    /// [`sync`]: SegmentWriter::sync
    pub fn append(&mut self, buf: &[u8]) -> Result<u64> {
        #[cfg(test)]
        crate::fault::check(&self.path)?;
        let at = self.len;
        self.file
            .write_all(buf)
            .map_err(|e| StoreError::io(&self.path, e))?;
        self.len += buf.len() as u64;
        Ok(at)
    }

    /// `fdatasync`: after this, everything appended survives a crash or power loss.
    pub fn sync(&self) -> Result<()> {
        #[cfg(test)]
        crate::fault::check(&self.path)?;
        self.file
            .sync_data()
            .map_err(|e| StoreError::io(&self.path, e))
    }
}

/// `fsync` on a directory, so created or removed entries are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}

/// Reads and checks the record at `offset`: magic, length and SHA-256 must all match the index.
pub(crate) fn read_record(path: &Path, offset: u64, len: u64, id: &MessageId) -> Result<Vec<u8>> {
    let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let mut header = [0u8; HEADER_LEN as usize];
    read_exact_at(&file, path, &mut header, offset)?;
    let (magic, rest) = header.split_at(8);
    let (stored_len, stored_id) = rest.split_at(8);
    let where_ = || format!("{} at offset {offset}", path.display());
    if magic != RECORD_MAGIC {
        return Err(StoreError::corrupt(format!(
            "no record header in {}",
            where_()
        )));
    }
    if stored_len != len.to_le_bytes() || stored_id != id.as_bytes() {
        return Err(StoreError::corrupt(format!(
            "record in {} does not match the index entry for {id}",
            where_()
        )));
    }
    if len > crate::config::MAX_MESSAGE_BYTES as u64 {
        return Err(StoreError::corrupt(format!(
            "record length {len} too large in {}",
            where_()
        )));
    }
    let mut raw = vec![0u8; len as usize];
    read_exact_at(&file, path, &mut raw, offset + HEADER_LEN)?;
    if MessageId::of(&raw) != *id {
        return Err(StoreError::corrupt(format!(
            "bytes of {id} in {} do not hash to its id",
            where_()
        )));
    }
    Ok(raw)
}

fn read_exact_at(file: &File, path: &Path, buf: &mut [u8], offset: u64) -> Result<()> {
    file.read_exact_at(buf, offset).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            StoreError::corrupt(format!(
                "{} is truncated before offset {}",
                path.display(),
                offset
            ))
        } else {
            StoreError::io(path, e)
        }
    })
}

/// One record found by [`scan_segment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedRecord {
    pub offset: u64,
    pub len: u64,
    pub message_id: MessageId,
}

/// What a segment holds, read without the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentScan {
    /// Whole records whose bytes hash to their id, in file order.
    pub records: Vec<ScannedRecord>,
    /// End of the last good record; anything after it is a torn or damaged tail.
    pub valid_end: u64,
    pub file_len: u64,
}

/// Walks a segment record by record, re-hashing each one, stopping at the first bad record.
pub fn scan_segment(path: &Path) -> Result<SegmentScan> {
    let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let file_len = file.metadata().map_err(|e| StoreError::io(path, e))?.len();
    let mut records = Vec::new();
    let mut at = 0u64;
    while at + HEADER_LEN <= file_len {
        let mut header = [0u8; HEADER_LEN as usize];
        if file.read_exact_at(&mut header, at).is_err() || header[..8] != RECORD_MAGIC {
            break;
        }
        let mut len_bytes = [0u8; 8];
        len_bytes.copy_from_slice(&header[8..16]);
        let len = u64::from_le_bytes(len_bytes);
        if len > crate::config::MAX_MESSAGE_BYTES as u64 || at + HEADER_LEN + len > file_len {
            break;
        }
        let mut id = [0u8; 32];
        id.copy_from_slice(&header[16..48]);
        let mut raw = vec![0u8; len as usize];
        if file.read_exact_at(&mut raw, at + HEADER_LEN).is_err() {
            break;
        }
        let hasher = Sha256::digest(&raw);
        if hasher.as_slice() != id {
            break;
        }
        records.push(ScannedRecord {
            offset: at,
            len,
            message_id: MessageId::from_bytes(id),
        });
        at += HEADER_LEN + len;
    }
    Ok(SegmentScan {
        records,
        valid_end: at,
        file_len,
    })
}

/// A segment file as seen in the spool directory.
#[derive(Debug, Clone)]
pub(crate) struct SegmentFile {
    pub name: String,
    pub bytes: u64,
    /// Last modification, unix nanoseconds.
    pub modified: i64,
}

/// Segment files in `spool`, oldest first (names start with the creation time).
pub(crate) fn list_segments(spool: &Path) -> Result<Vec<SegmentFile>> {
    let mut out = Vec::new();
    let dir = std::fs::read_dir(spool).map_err(|e| StoreError::io(spool, e))?;
    for entry in dir {
        let entry = entry.map_err(|e| StoreError::io(spool, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("seg-") && name.ends_with(".dat") {
            // A segment deleted by retention meanwhile simply does not count.
            if let Ok(meta) = entry.metadata() {
                let modified = meta
                    .modified()
                    .map_or(0, |t| crate::unix_nanos(time::OffsetDateTime::from(t)));
                out.push(SegmentFile {
                    name,
                    bytes: meta.len(),
                    modified,
                });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The creation time (unix nanoseconds) encoded in a segment name, if it is one of ours.
pub(crate) fn segment_created(name: &str) -> Option<i64> {
    name.strip_prefix("seg-")?.split('-').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_records_and_stops_at_a_torn_tail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = SegmentWriter::create(dir.path()).expect("create");
        let mut buf = Vec::new();
        let a = MessageId::of(b"first");
        let b = MessageId::of(b"second");
        encode_record(&mut buf, &a, b"first");
        let off_b = encode_record(&mut buf, &b, b"second");
        buf.extend_from_slice(&RECORD_MAGIC);
        buf.extend_from_slice(&[0xff; 5]);
        w.append(&buf).expect("append");
        w.sync().expect("sync");
        let path = dir.path().join(&w.name);
        let scan = scan_segment(&path).expect("scan");
        assert_eq!(scan.records.len(), 2);
        assert_eq!(scan.records[1].offset, off_b);
        assert_eq!(scan.valid_end, buf.len() as u64 - 13);
        assert_eq!(read_record(&path, off_b, 6, &b).expect("read"), b"second");
        assert!(matches!(
            read_record(&path, off_b, 6, &a),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(matches!(
            read_record(&path, 9999, 6, &b),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn segment_names_sort_by_creation_time() {
        assert_eq!(segment_created("seg-00000000000000000042-7.dat"), Some(42));
        assert_eq!(segment_created("other"), None);
    }
}
