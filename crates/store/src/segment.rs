//! Segment files, the store's write-ahead journal: record format, append + fdatasync, scanning.
//!
//! A segment is a sequence of records `magic (8) | length (u64 LE) | SHA-256 of payload (32) |
//! payload`. Three kinds share this framing:
//!
//! * blob (`SPHBLOB1`, the v1 record, unchanged): the payload is a raw message, so the digest
//!   *is* its [`MessageId`];
//! * sighting (`SPHSIGT2`): the payload is the `model::Sighting` JSON (which implies its job);
//! * session (`SPHSESS2`): the payload is the `model::SessionRecord` JSON.
//!
//! The digest makes every record self-checking, so [`scan_segment`] can walk a segment without
//! the index and stop at the first torn or damaged record. The index remembers per segment how
//! far it has indexed (`journal.indexed_upto`); recovery replays records after that point.

use crate::error::{Result, StoreError};
use model::MessageId;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Marks a blob record (and identifies the format version; unchanged since v1).
pub const RECORD_MAGIC: [u8; 8] = *b"SPHBLOB1";
/// Marks a sighting record (schema v2).
pub const SIGHTING_MAGIC: [u8; 8] = *b"SPHSIGT2";
/// Marks a session record (schema v2).
pub const SESSION_MAGIC: [u8; 8] = *b"SPHSESS2";
/// Header size: magic, length, SHA-256.
pub const HEADER_LEN: u64 = 8 + 8 + 32;

/// What a journal record carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// Raw message bytes; the digest is the message id.
    Blob,
    /// A sighting's JSON; its analysis job is implied.
    Sighting,
    /// A session record's JSON.
    Session,
}

impl RecordKind {
    fn from_magic(magic: &[u8]) -> Option<Self> {
        match <[u8; 8]>::try_from(magic).ok()? {
            RECORD_MAGIC => Some(Self::Blob),
            SIGHTING_MAGIC => Some(Self::Sighting),
            SESSION_MAGIC => Some(Self::Session),
            _ => None,
        }
    }

    pub fn magic(self) -> [u8; 8] {
        match self {
            Self::Blob => RECORD_MAGIC,
            Self::Sighting => SIGHTING_MAGIC,
            Self::Session => SESSION_MAGIC,
        }
    }
}

/// Appends `raw` as one blob record to `out`; returns the record's offset within `out`.
pub(crate) fn encode_record(out: &mut Vec<u8>, id: &MessageId, raw: &[u8]) -> u64 {
    encode(out, RecordKind::Blob, id.as_bytes(), raw)
}

/// Appends one record of `kind` whose payload hashes to `digest`; returns its offset in `out`.
pub(crate) fn encode(
    out: &mut Vec<u8>,
    kind: RecordKind,
    digest: &[u8; 32],
    payload: &[u8],
) -> u64 {
    let at = out.len() as u64;
    out.extend_from_slice(&kind.magic());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(digest);
    out.extend_from_slice(payload);
    at
}

/// SHA-256 of a record payload.
pub(crate) fn digest(payload: &[u8]) -> [u8; 32] {
    Sha256::digest(payload).into()
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
        #[cfg(test)]
        crate::fault::check_sync(&self.path)?;
        self.file
            .sync_data()
            .map_err(|e| StoreError::io(&self.path, e))
    }
}

impl SegmentWriter {
    /// Cuts the file back to `len` and syncs it: undoes an append whose fdatasync failed, so its
    /// records can never be replayed. Best effort: the disk may be failing.
    pub fn truncate(&mut self, len: u64) -> Result<()> {
        self.file
            .set_len(len)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| StoreError::io(&self.path, e))?;
        self.len = len;
        Ok(())
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
    /// Payload length (without the header).
    pub len: u64,
    pub kind: RecordKind,
    /// SHA-256 of the payload: the message id of a blob record.
    pub digest: [u8; 32],
}

impl ScannedRecord {
    /// The message a blob record holds.
    pub fn message_id(&self) -> Option<MessageId> {
        (self.kind == RecordKind::Blob).then(|| MessageId::from_bytes(self.digest))
    }

    /// Offset just past this record.
    pub fn end(&self) -> u64 {
        self.offset + HEADER_LEN + self.len
    }
}

/// What a segment holds, read without the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentScan {
    /// Whole records whose payload hashes to their digest, in file order.
    pub records: Vec<ScannedRecord>,
    /// End of the last good record; anything after it is a torn or damaged tail.
    pub valid_end: u64,
    pub file_len: u64,
}

/// Walks a segment record by record, re-hashing each one, stopping at the first bad record.
pub fn scan_segment(path: &Path) -> Result<SegmentScan> {
    let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let file_len = file.metadata().map_err(|e| StoreError::io(path, e))?.len();
    let (records, valid_end) = scan_range(&file, 0, file_len, |_, _| {});
    Ok(SegmentScan {
        records,
        valid_end,
        file_len,
    })
}

/// Walks `[from, to)` of `file`, calling `json` with each sighting/session record's payload.
/// Returns the good records and where the good part ends.
pub(crate) fn scan_range(
    file: &File,
    from: u64,
    to: u64,
    mut json: impl FnMut(&ScannedRecord, &[u8]),
) -> (Vec<ScannedRecord>, u64) {
    let mut records = Vec::new();
    let mut at = from;
    let mut payload = Vec::new();
    while at + HEADER_LEN <= to {
        let mut header = [0u8; HEADER_LEN as usize];
        if file.read_exact_at(&mut header, at).is_err() {
            break;
        }
        let Some(kind) = RecordKind::from_magic(&header[..8]) else {
            break;
        };
        let mut len_bytes = [0u8; 8];
        len_bytes.copy_from_slice(&header[8..16]);
        let len = u64::from_le_bytes(len_bytes);
        if len > crate::config::MAX_MESSAGE_BYTES as u64 || at + HEADER_LEN + len > to {
            break;
        }
        let mut digest = [0u8; 32];
        digest.copy_from_slice(&header[16..48]);
        payload.resize(len as usize, 0);
        if file.read_exact_at(&mut payload, at + HEADER_LEN).is_err() {
            break;
        }
        if Sha256::digest(&payload).as_slice() != digest {
            break;
        }
        let rec = ScannedRecord {
            offset: at,
            len,
            kind,
            digest,
        };
        if kind != RecordKind::Blob {
            json(&rec, &payload);
        }
        at = rec.end();
        records.push(rec);
    }
    (records, at)
}

/// The record at `at` when it is damaged but resumable: its header is whole (known magic, a
/// plausible length that fits before `to`), its payload does not hash to its digest, and a whole
/// record (or exactly `to`) follows at its declared end. `None` for a good record, a torn tail,
/// or a damaged header (nothing after it can be found without guessing).
pub(crate) fn damaged_record_at(file: &File, at: u64, to: u64) -> Option<ScannedRecord> {
    let rec = read_header(file, at, to)?;
    if rec.end() == to {
        // The last record: a bad payload here is what a torn write looks like.
        return None;
    }
    let next = read_header(file, rec.end(), to)?;
    let (after, _) = scan_range(file, next.offset, next.end(), |_, _| {});
    if after.is_empty() {
        return None;
    }
    let (good, _) = scan_range(file, at, rec.end(), |_, _| {});
    good.is_empty().then_some(rec)
}

/// The longest payload a record may declare (a blob of the largest message the store accepts).
const MAX_RECORD: u64 = crate::config::MAX_MESSAGE_BYTES as u64;

/// The header at `at` if it is whole and plausible (known magic, length that fits before `to`).
fn read_header(file: &File, at: u64, to: u64) -> Option<ScannedRecord> {
    if at.checked_add(HEADER_LEN)? > to {
        return None;
    }
    let mut header = [0u8; HEADER_LEN as usize];
    file.read_exact_at(&mut header, at).ok()?;
    let kind = RecordKind::from_magic(&header[..8])?;
    let mut len_bytes = [0u8; 8];
    len_bytes.copy_from_slice(&header[8..16]);
    let len = u64::from_le_bytes(len_bytes);
    if len > MAX_RECORD || at + HEADER_LEN + len > to {
        return None;
    }
    let mut digest = [0u8; 32];
    digest.copy_from_slice(&header[16..48]);
    Some(ScannedRecord {
        offset: at,
        len,
        kind,
        digest,
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
        let json = br#"{"a":1}"#;
        encode(&mut buf, RecordKind::Sighting, &digest(json), json);
        let off_b = encode_record(&mut buf, &b, b"second");
        buf.extend_from_slice(&RECORD_MAGIC);
        buf.extend_from_slice(&[0xff; 5]);
        w.append(&buf).expect("append");
        w.sync().expect("sync");
        let path = dir.path().join(&w.name);
        let scan = scan_segment(&path).expect("scan");
        assert_eq!(scan.records.len(), 3);
        assert_eq!(scan.records[1].kind, RecordKind::Sighting);
        assert_eq!(scan.records[2].offset, off_b);
        assert_eq!(scan.records[2].message_id(), Some(b));
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
