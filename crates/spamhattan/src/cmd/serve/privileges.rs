//! Giving up root after binding: `serve` started as root binds port 25 (and every other
//! socket), then becomes `[trap] user` before it opens the store, reads a certificate, starts
//! a thread or spawns an analysis process.
//!
//! Decisions:
//! - **Order.** Sockets first, then the drop, then everything else: the store, the event log
//!   and the TLS certificate are created by the unprivileged user, and the analysis children
//!   inherit its identity. The process is still single-threaded at the drop, so no thread
//!   keeps root credentials.
//! - **The data dir.** Created by root if missing; when it belongs to root it is handed to the
//!   user, the directory itself only. Root never walks a tree the user can write into (a
//!   planted hard or symbolic link would make it chown a file elsewhere). An existing store
//!   written by an earlier run as root is therefore refused with the fix named
//!   (`chown -R user: DIR`, once).
//! - **Proof.** After `setgroups(0)`, `setgid`, `setuid`, the process checks that all three
//!   user and group ids are the target's, that it has no supplementary group, and that
//!   `setuid(0)` fails; otherwise `serve` stops.
//! - **Root without a user** is allowed with a warning (the test suite runs as root); a
//!   non-root process with a user set must already be that user (`User=` in systemd).
//! - **Capabilities.** A non-root process started with `CAP_NET_BIND_SERVICE` (systemd's
//!   `AmbientCapabilities=`, or file capabilities) needs it only to bind: after binding it
//!   gives up every capability, ambient ones included, so the analysis children start with
//!   none. A drop from root clears them anyway (`setuid` to a non-zero uid).

use crate::config::RunAs;
use anyhow::{Context, Result, bail};
use std::ffi::CString;
use std::path::Path;

/// Longest `getpwnam_r`/`getgrnam_r` buffer tried: large group entries (many members) need
/// more than the usual `sysconf` hint; past 1 MiB the entry is not a sane account.
const MAX_NSS_BUFFER: usize = 1 << 20;

/// A looked-up account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub user: String,
    pub uid: u32,
    pub gid: u32,
}

/// What `serve` does about its identity.
#[derive(Debug)]
pub enum Plan {
    /// Keep the identity it was started with.
    Stay,
    /// Started as root with a user set: drop to it after binding.
    Drop(Account),
}

/// `_LINUX_CAPABILITY_VERSION_3`: capability sets as two 32-bit words each.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// `struct __user_cap_header_struct` of `capset(2)`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct` of `capset(2)`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Gives up every capability a non-root process holds (once its sockets are bound): ambient
/// first (they would pass to the analysis children), then effective, permitted, inheritable.
/// Root keeps its own (that is `drop_to`'s business).
#[allow(unsafe_code)]
pub fn shed_capabilities() -> Result<()> {
    if effective_uid() == 0 {
        return Ok(());
    }
    let zero: libc::c_ulong = 0;
    // SAFETY: prctl with PR_CAP_AMBIENT/PR_CAP_AMBIENT_CLEAR_ALL takes three more integer
    // arguments and touches no memory. It fails with EINVAL on kernels without ambient
    // capabilities (before 4.3), where there is nothing to clear.
    let _ = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            zero,
            zero,
            zero,
        )
    };
    let header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [CapData::default(); 2];
    // SAFETY: capset reads one header and, for version 3, two data structs through valid
    // pointers to locals that outlive the call; pid 0 is this thread, and glibc is not
    // involved, so only this thread's sets change: `serve` has no other thread yet.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) };
    if rc != 0 {
        bail!(
            "cannot give up capabilities: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// Decides, before anything is bound, whether and to whom `serve` drops.
pub fn plan(run_as: Option<&RunAs>) -> Result<Plan> {
    let euid = effective_uid();
    match (euid == 0, run_as) {
        (true, None) => {
            tracing::warn!(
                "running as root: set [trap] user (or --user) so that serve gives up root once its sockets are bound"
            );
            Ok(Plan::Stay)
        }
        (true, Some(r)) => Ok(Plan::Drop(lookup(r)?)),
        (false, None) => Ok(Plan::Stay),
        (false, Some(r)) => {
            let account = lookup(r)?;
            if account.uid != euid {
                bail!(
                    "user {:?} is set but serve runs as uid {euid}: start it as root (it binds, then becomes {:?}) or as that user",
                    account.user,
                    account.user
                );
            }
            Ok(Plan::Stay)
        }
    }
}

/// Hands a root-owned data dir to `account` (the directory only), so the user can create the
/// store in it. Anything else is left as it is; the store's own open names what it cannot use.
pub fn hand_over_data_dir(dir: &Path, account: &Account) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir)
        .with_context(|| format!("data dir {} cannot be read", dir.display()))?;
    if meta.is_dir() && meta.uid() == 0 {
        std::os::unix::fs::chown(dir, Some(account.uid), Some(account.gid)).with_context(|| {
            format!(
                "data dir {} cannot be given to {}",
                dir.display(),
                account.user
            )
        })?;
    }
    Ok(())
}

/// Becomes `account` for good: no supplementary groups, its group, its user; then proves
/// that root cannot be regained.
#[allow(unsafe_code)]
pub fn drop_to(account: &Account) -> Result<()> {
    // SAFETY: setgroups reads `size` (0) entries from the pointer, so a null list is valid;
    // setgid/setuid take plain integers. glibc applies each to every thread of the process
    // (there is only one at this point).
    let (groups, gid, uid) = unsafe {
        (
            libc::setgroups(0, std::ptr::null()),
            libc::setgid(account.gid),
            libc::setuid(account.uid),
        )
    };
    for (rc, what) in [(groups, "setgroups"), (gid, "setgid"), (uid, "setuid")] {
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            bail!("cannot become user {}: {what}: {e}", account.user);
        }
    }
    let ids = current_ids();
    let want = Ids {
        uid: [account.uid; 3],
        gid: [account.gid; 3],
        groups: 0,
    };
    if ids != want {
        bail!(
            "after dropping to {}: ids are {ids:?}, want {want:?}",
            account.user
        );
    }
    // SAFETY: setuid takes an integer; it must fail here, and if it does not, we stop.
    let regained = unsafe { libc::setuid(0) } == 0;
    if regained {
        bail!(
            "after dropping to {}, setuid(0) succeeded: refusing to run with a way back to root",
            account.user
        );
    }
    tracing::info!(
        user = %account.user,
        uid = account.uid,
        gid = account.gid,
        "privileges dropped"
    );
    Ok(())
}

/// The process's real, effective and saved ids and its number of supplementary groups.
#[derive(Debug, PartialEq, Eq)]
struct Ids {
    uid: [u32; 3],
    gid: [u32; 3],
    groups: i32,
}

#[allow(unsafe_code)]
fn current_ids() -> Ids {
    let (mut ru, mut eu, mut su) = (u32::MAX, u32::MAX, u32::MAX);
    let (mut rg, mut eg, mut sg) = (u32::MAX, u32::MAX, u32::MAX);
    // SAFETY: getresuid/getresgid write three integers through valid pointers to locals;
    // getgroups with size 0 only returns the count.
    let groups = unsafe {
        libc::getresuid(&mut ru, &mut eu, &mut su);
        libc::getresgid(&mut rg, &mut eg, &mut sg);
        libc::getgroups(0, std::ptr::null_mut())
    };
    Ids {
        uid: [ru, eu, su],
        gid: [rg, eg, sg],
        groups,
    }
}

#[allow(unsafe_code)]
fn effective_uid() -> u32 {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() }
}

/// Looks `r` up in the account database (files, LDAP, whatever NSS is configured with).
fn lookup(r: &RunAs) -> Result<Account> {
    let (uid, primary) = user_ids(&r.user)?
        .with_context(|| format!("no such user {:?} (from [trap] user or --user)", r.user))?;
    let gid = match &r.group {
        Some(g) => {
            group_id(g)?.with_context(|| format!("no such group {g:?} (from [trap] group)"))?
        }
        None => primary,
    };
    if uid == 0 {
        bail!(
            "[trap] user {:?} is root: name an unprivileged account",
            r.user
        );
    }
    Ok(Account {
        user: r.user.clone(),
        uid,
        gid,
    })
}

/// `(uid, primary gid)` of `name`, `None` if there is no such user.
#[allow(unsafe_code)]
fn user_ids(name: &str) -> Result<Option<(u32, u32)>> {
    let c_name = CString::new(name).context("user name with a NUL byte")?;
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: an all-zero passwd is a valid value of a plain C struct (null pointers,
        // zero ids); getpwnam_r fills it and points its strings into `buf`, which outlives
        // every use below; `result` is set to null or to `&pwd`.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = unsafe {
            libc::getpwnam_r(
                c_name.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < MAX_NSS_BUFFER {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 {
            bail!(
                "cannot look up user {name:?}: {}",
                std::io::Error::from_raw_os_error(rc)
            );
        }
        if result.is_null() {
            return Ok(None);
        }
        return Ok(Some((pwd.pw_uid, pwd.pw_gid)));
    }
}

/// The gid of group `name`, `None` if there is no such group.
#[allow(unsafe_code)]
fn group_id(name: &str) -> Result<Option<u32>> {
    let c_name = CString::new(name).context("group name with a NUL byte")?;
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: as in `user_ids`, for `struct group` and getgrnam_r.
        let mut grp: libc::group = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::group = std::ptr::null_mut();
        let rc = unsafe {
            libc::getgrnam_r(
                c_name.as_ptr(),
                &mut grp,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < MAX_NSS_BUFFER {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 {
            bail!(
                "cannot look up group {name:?}: {}",
                std::io::Error::from_raw_os_error(rc)
            );
        }
        if result.is_null() {
            return Ok(None);
        }
        return Ok(Some(grp.gr_gid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_accounts_are_told_apart() -> Result<()> {
        assert_eq!(user_ids("root")?, Some((0, 0)));
        assert_eq!(user_ids("no-such-user-xq7")?, None);
        assert_eq!(group_id("root")?, Some(0));
        assert_eq!(group_id("no-such-group-xq7")?, None);
        let e = lookup(&RunAs {
            user: "no-such-user-xq7".into(),
            group: None,
        })
        .expect_err("unknown user");
        assert!(format!("{e:#}").contains("no such user"), "{e:#}");
        let e = lookup(&RunAs {
            user: "root".into(),
            group: None,
        })
        .expect_err("root is not a target");
        assert!(format!("{e:#}").contains("is root"), "{e:#}");
        Ok(())
    }
}
