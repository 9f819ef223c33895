//! The pipe protocol between the worker and its analysis child: length-prefixed frames.
//!
//! Every frame is an 8-byte little-endian length followed by that many bytes. The sequence
//! gives each frame its meaning, so there is no tag to get wrong:
//!
//! ```text
//! parent -> child   Hello (JSON)                      once
//! child  -> parent  Ready (JSON)                      once, after the sandbox is applied
//! parent -> child   sighting (JSON), raw message      per job
//! child  -> parent  report (JSON)                     per job
//! ```
//! The parent closes the child's stdin to end it. Each direction has its own size limit, and
//! a frame over its limit is refused before anything is allocated for it: the parent never
//! trusts a length the child sends, and the child never trusts the parent's either.

use serde::{Deserialize, Serialize};
use std::io::{self, IoSlice, Read, Write};

/// Version of this protocol. Parent and child are the same executable (`/proc/self/exe`), so
/// a mismatch means a bug, not an upgrade; the child refuses a Hello of another version.
pub const VERSION: u32 = 1;

/// The Hello frame: engine configuration (paths of rule files included) and sandbox settings.
/// A few KiB in practice; 1 MiB leaves room for long password lists.
pub const MAX_HELLO_FRAME: u64 = 1 << 20;

/// The Ready frame: a handful of status strings.
pub const MAX_READY_FRAME: u64 = 64 << 10;

/// A sighting as JSON: up to 1,000 recipients and 2,000 kept RCPT attempts (trap limits) with
/// addresses of up to a few hundred bytes, plus anomalies. Well under 4 MiB.
pub const MAX_SIGHTING_FRAME: u64 = 4 << 20;

/// A raw message: the store refuses to keep more than `store::MAX_MESSAGE_BYTES` (64 MiB).
pub const MAX_RAW_FRAME: u64 = store::MAX_MESSAGE_BYTES as u64;

/// A report as JSON. The analysis limits bound it: at most 1,000 objects, 2,000 URLs, 256 KiB
/// of VBA source per module and 2 Mi characters of text per body part. Real reports are a few
/// KiB to a few MiB; 128 MiB is far above any report the limits allow and still a bounded
/// allocation when the child is hostile.
pub const MAX_REPORT_FRAME: u64 = 128 << 20;

/// First frame from the parent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    pub version: u32,
    pub engine: analysis::EngineConfig,
    /// `RLIMIT_AS` of the child, in bytes.
    pub memory_limit: u64,
    /// Refuse to analyse (exit after a Ready frame with `error`) when Landlock or seccomp
    /// cannot be applied.
    pub required: bool,
}

/// What the child could apply, sent once before the first job. A missing field reads as
/// "not applied".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ready {
    /// The child had one thread when the sandbox was applied, so it covers every thread.
    pub single_threaded: bool,
    /// `PR_SET_NO_NEW_PRIVS` is set.
    pub no_new_privs: bool,
    /// `RLIMIT_AS`, `RLIMIT_FSIZE`, `RLIMIT_NOFILE` and `RLIMIT_CORE` are set.
    pub rlimits: bool,
    /// Landlock: `fully-enforced`, `partially-enforced` or `not-enforced`, with the ABI.
    pub landlock: String,
    /// The Landlock ruleset is enforced, at least in part (the kernel has Landlock).
    pub landlock_enforced: bool,
    /// The seccomp filters are installed.
    pub seccomp: bool,
    /// What could not be applied, in words (empty when everything was).
    pub missing: Vec<String>,
    /// Set when the child will not analyse (engine not built, or `required` and something
    /// missing); it exits after sending this.
    pub error: Option<String>,
}

impl Ready {
    /// Both kernel mechanisms are in force.
    pub fn is_complete(&self) -> bool {
        self.single_threaded
            && self.no_new_privs
            && self.rlimits
            && self.landlock_enforced
            && self.seccomp
    }
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The other side closed the pipe between frames.
    #[error("closed")]
    Closed,
    #[error("frame of {len} bytes is over the {limit}-byte limit of a {what} frame")]
    TooLarge {
        what: &'static str,
        len: u64,
        limit: u64,
    },
    #[error("reading a {what} frame: {source}")]
    Io {
        what: &'static str,
        source: io::Error,
    },
}

/// Writes one frame: the length, then `payload`. No copy of the payload is made.
pub fn write_frame(w: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    write_frames(w, &[payload])
}

/// Writes frames one after the other with vectored writes (one `writev` when the pipe has
/// room), without copying the payloads. One write per job instead of one per length and
/// payload: the reader blocked on the pipe is woken once, not once per piece.
pub fn write_frames(w: &mut impl Write, payloads: &[&[u8]]) -> io::Result<()> {
    let lengths: Vec<[u8; 8]> = payloads
        .iter()
        .map(|p| (p.len() as u64).to_le_bytes())
        .collect();
    let mut slices: Vec<IoSlice<'_>> = payloads
        .iter()
        .zip(&lengths)
        .flat_map(|(p, len)| [IoSlice::new(len), IoSlice::new(p)])
        .collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match w.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Starts a frame in `buf` (cleared): room for the length, to be filled by [`end_frame`]
/// once the payload has been serialised after it. The frame then goes out in one write.
pub fn begin_frame(buf: &mut Vec<u8>) {
    buf.clear();
    buf.extend_from_slice(&[0; 8]);
}

/// Fills in the length of the frame [`begin_frame`] started in `buf`.
pub fn end_frame(buf: &mut [u8]) {
    let len = (buf.len().saturating_sub(8) as u64).to_le_bytes();
    if let Some(head) = buf.get_mut(..8) {
        head.copy_from_slice(&len);
    }
}

/// Read buffer of each pipe end: a typical job (sighting JSON and a spam message of a few
/// KiB) or report arrives in one `read`. Larger frames bypass the buffer.
pub const PIPE_BUFFER: usize = 64 << 10;

/// Reads one frame into `buf` (cleared first, its capacity reused). A length over `limit`
/// is refused before any allocation. End of input before the length is [`FrameError::Closed`];
/// inside a frame it is an I/O error (`UnexpectedEof`).
pub fn read_frame(
    r: &mut impl Read,
    buf: &mut Vec<u8>,
    what: &'static str,
    limit: u64,
) -> Result<(), FrameError> {
    let io = |source| FrameError::Io { what, source };
    let mut len = [0u8; 8];
    let mut got = 0;
    while got < len.len() {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Err(FrameError::Closed),
            Ok(0) => return Err(io(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
    let len = u64::from_le_bytes(len);
    if len > limit {
        return Err(FrameError::TooLarge { what, len, limit });
    }
    buf.clear();
    // `len <= limit`, and every limit fits in memory by construction.
    let want = usize::try_from(len).map_err(|_| FrameError::TooLarge { what, len, limit })?;
    buf.resize(want, 0);
    r.read_exact(buf).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_reuse_the_buffer() -> Result<(), FrameError> {
        let mut pipe = Vec::new();
        write_frame(&mut pipe, b"hello").map_err(|source| FrameError::Io { what: "t", source })?;
        write_frame(&mut pipe, b"").map_err(|source| FrameError::Io { what: "t", source })?;
        let mut r = pipe.as_slice();
        let mut buf = Vec::with_capacity(64);
        read_frame(&mut r, &mut buf, "t", 10)?;
        assert_eq!(buf, b"hello");
        read_frame(&mut r, &mut buf, "t", 10)?;
        assert!(buf.is_empty());
        assert!(buf.capacity() >= 64, "the buffer is reused");
        assert!(matches!(
            read_frame(&mut r, &mut buf, "t", 10),
            Err(FrameError::Closed)
        ));
        Ok(())
    }

    /// A writer that takes at most 3 bytes per call, so every slice boundary is crossed
    /// part way.
    struct Dribble(Vec<u8>);

    impl Write for Dribble {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(3);
            self.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn frames_written_together_read_back_one_by_one_even_in_pieces() -> Result<(), FrameError> {
        let io = |source| FrameError::Io { what: "t", source };
        let mut pipe = Dribble(Vec::new());
        write_frames(&mut pipe, &[b"sighting", b"", b"raw message"]).map_err(io)?;
        let mut started = Vec::new();
        begin_frame(&mut started);
        started.extend_from_slice(b"report");
        end_frame(&mut started);
        let mut all = pipe.0;
        all.extend_from_slice(&started);
        let mut r = io::BufReader::with_capacity(PIPE_BUFFER, all.as_slice());
        let mut buf = Vec::new();
        for want in [&b"sighting"[..], b"", b"raw message", b"report"] {
            read_frame(&mut r, &mut buf, "t", 100)?;
            assert_eq!(buf, want);
        }
        assert!(matches!(
            read_frame(&mut r, &mut buf, "t", 100),
            Err(FrameError::Closed)
        ));
        Ok(())
    }

    #[test]
    fn a_length_over_the_limit_is_refused_before_allocating() {
        let mut pipe = u64::MAX.to_le_bytes().to_vec();
        pipe.extend_from_slice(b"garbage");
        let mut buf = Vec::new();
        match read_frame(&mut pipe.as_slice(), &mut buf, "report", MAX_REPORT_FRAME) {
            Err(FrameError::TooLarge { len, limit, .. }) => {
                assert_eq!((len, limit), (u64::MAX, MAX_REPORT_FRAME));
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
        assert_eq!(buf.capacity(), 0, "nothing was allocated for the frame");
    }

    #[test]
    fn truncated_frames_are_errors_not_panics() {
        let mut buf = Vec::new();
        // Half a length.
        let r = read_frame(&mut [1u8, 0, 0].as_slice(), &mut buf, "t", 100);
        assert!(matches!(r, Err(FrameError::Io { .. })), "{r:?}");
        // A length promising more than follows.
        let mut pipe = 10u64.to_le_bytes().to_vec();
        pipe.extend_from_slice(b"abc");
        let r = read_frame(&mut pipe.as_slice(), &mut buf, "t", 100);
        assert!(matches!(r, Err(FrameError::Io { .. })), "{r:?}");
    }
}
