//! Disk figures: free space of the file system holding the store, and bytes used by files.

use std::path::Path;

/// Bytes available to unprivileged users on the file system holding `path`, if it can be asked.
#[allow(unsafe_code)]
pub(crate) fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: `statvfs` is plain old data, so all-zero is a valid value; `c_path` is a valid
    // NUL-terminated string and `st` a valid out-pointer, both alive for the call.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: see above.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), &mut st) };
    if rc != 0 {
        return None;
    }
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// Size of a file, 0 if it does not exist.
pub(crate) fn file_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}
