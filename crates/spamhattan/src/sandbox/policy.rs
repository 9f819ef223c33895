//! The sandbox the analysis child puts itself in once its engine is built: no new privileges,
//! resource limits, Landlock (no file, no TCP, no signals or abstract sockets outside) and a
//! seccomp deny-list (no socket, no exec, no fork, no ptrace, no mount...).
//!
//! Order matters. The engine reads the YARA rule directories and the verdict-rule file
//! *before* [`apply`]; after it, no file can be opened at all. `PR_SET_NO_NEW_PRIVS` comes
//! first because both Landlock and seccomp need it when the process lacks `CAP_SYS_ADMIN`, and
//! because it makes every later restriction permanent across an `execve` (which seccomp then
//! refuses anyway).

use super::protocol::Ready;
use landlock::{
    ABI, Access, AccessFs, AccessNet, LandlockStatus, Ruleset, RulesetAttr, RulesetStatus, Scope,
};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

/// `RLIMIT_NOFILE` of the child. It holds stdin, stdout, stderr and whatever the engine
/// opened while being built (none are needed afterwards: rules are in memory). New files cannot
/// be opened anyway (Landlock); this bounds descriptors a compromised parser could still make
/// (pipes, eventfds, memfds) so it cannot exhaust the host's.
pub const CHILD_MAX_FILES: u64 = 64;

/// The newest Landlock ABI asked for. Best effort: the crate drops what the running kernel
/// does not know, and the status says how much was enforced.
const LANDLOCK_ABI: ABI = ABI::V6;

/// Applies the whole sandbox to the calling process and says what took effect. Never fails:
/// what could not be applied is listed in [`Ready::missing`], and the caller decides (mode
/// `required` refuses to analyse, `auto` warns).
pub fn apply(memory_limit: u64) -> Ready {
    let mut ready = Ready::default();
    let threads = thread_count();
    ready.single_threaded = threads == Some(1);
    if !ready.single_threaded {
        // Landlock (before ABI 8) and `PR_SET_NO_NEW_PRIVS` act on the calling thread and the
        // threads it starts later, not on threads that already run. The child is
        // single-threaded when this runs (tested); if that ever changes, the sandbox is
        // incomplete and says so.
        ready.missing.push(format!(
            "{} threads run before the sandbox: Landlock covers only the calling thread",
            threads.map_or("an unknown number of".to_string(), |n| n.to_string())
        ));
    }
    match no_new_privs() {
        Ok(()) => ready.no_new_privs = true,
        Err(e) => ready.missing.push(format!("PR_SET_NO_NEW_PRIVS: {e}")),
    }
    match rlimits(memory_limit) {
        Ok(()) => ready.rlimits = true,
        Err(e) => ready.missing.push(format!("rlimits: {e}")),
    }
    match landlock() {
        Ok((status, enforced)) => {
            ready.landlock = status;
            ready.landlock_enforced = enforced;
            if !enforced {
                ready.missing.push(format!("Landlock ({})", ready.landlock));
            }
        }
        Err(e) => {
            ready.landlock = format!("error: {e}");
            ready.missing.push(format!("Landlock: {e}"));
        }
    }
    match seccomp() {
        Ok(()) => ready.seccomp = true,
        Err(e) => ready.missing.push(format!("seccomp: {e}")),
    }
    ready
}

/// Asks the kernel for `SIGKILL` when the thread that started this process ends, so that a
/// child never outlives its worker (a killed `serve` leaves no analysis process behind). The
/// child is started by the analysis thread that uses it, which lives as long as it does.
pub fn die_with_parent() -> std::io::Result<()> {
    #[allow(unsafe_code)]
    // SAFETY: prctl with PR_SET_PDEATHSIG takes integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Closes every descriptor above stderr that the child inherited without `O_CLOEXEC` (from
/// whatever started the parent): the child is to hold its three pipes and nothing else.
pub fn close_inherited_descriptors() -> std::io::Result<()> {
    #[allow(unsafe_code)]
    // SAFETY: close_range takes integers only; nothing in this process uses a descriptor
    // above 2 yet (this runs first in the child), so no owner is left with a closed one.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Threads of this process, from `/proc/self/status`.
fn thread_count() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
}

fn no_new_privs() -> std::io::Result<()> {
    #[allow(unsafe_code)]
    // SAFETY: prctl with PR_SET_NO_NEW_PRIVS takes integer arguments only and touches no
    // memory of ours.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// `RLIMIT_AS` = the memory limit (an allocation past it fails, and Rust aborts the child);
/// `RLIMIT_FSIZE` = 0 (no file may grow; Landlock already stops opening one); `RLIMIT_NOFILE`
/// = [`CHILD_MAX_FILES`]; `RLIMIT_CORE` = 0 (a crash leaves no core file holding hostile
/// content).
fn rlimits(memory_limit: u64) -> std::io::Result<()> {
    set_rlimit(libc::RLIMIT_AS, memory_limit)?;
    set_rlimit(libc::RLIMIT_FSIZE, 0)?;
    set_rlimit(libc::RLIMIT_NOFILE, CHILD_MAX_FILES)?;
    set_rlimit(libc::RLIMIT_CORE, 0)
}

fn set_rlimit(resource: libc::__rlimit_resource_t, value: u64) -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: value as libc::rlim_t,
        rlim_max: value as libc::rlim_t,
    };
    #[allow(unsafe_code)]
    // SAFETY: `limit` is a valid, initialised rlimit that outlives the call; setrlimit only
    // reads it.
    let rc = unsafe { libc::setrlimit(resource, &limit) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Handles every filesystem access right and adds no rule, so nothing can be opened, read,
/// written, created, executed or truncated by path; on ABI 4 and later also TCP bind and
/// connect, with no port allowed; on ABI 6 and later scopes abstract unix sockets and signals
/// to the child itself. Returns the status in words and whether Landlock is in force.
fn landlock() -> Result<(String, bool), landlock::RulesetError> {
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(LANDLOCK_ABI))?
        .handle_access(AccessNet::from_all(LANDLOCK_ABI))?
        .scope(Scope::from_all(LANDLOCK_ABI))?
        .create()?
        .restrict_self()?;
    let abi = match status.landlock {
        LandlockStatus::Available { effective_abi, .. } => format!("ABI {}", effective_abi as i32),
        LandlockStatus::NotEnabled => "not enabled in this kernel".into(),
        LandlockStatus::NotImplemented => "not built into this kernel".into(),
    };
    let (word, enforced) = match status.ruleset {
        RulesetStatus::FullyEnforced => ("fully-enforced", true),
        RulesetStatus::PartiallyEnforced => ("partially-enforced", true),
        RulesetStatus::NotEnforced => ("not-enforced", false),
    };
    Ok((format!("{word} ({abi})"), enforced))
}

/// Installs the seccomp filters on every thread (TSYNC).
///
/// A **deny-list**, not an allow-list: the analysis links a memory allocator, a WebAssembly
/// runtime (YARA-X) and libc, whose exact syscalls change with versions and with the data
/// (mmap, madvise, futex, rseq, getrandom...). An allow-list that missed one would turn a new
/// library version into a crash on real mail. What is denied is what an attacker who has
/// taken over a parser needs to leave the process: talk to the network, start another
/// program, copy or trace the process, or change the system. Each answers `EPERM` (`ENOSYS`
/// for `clone3`, so that libc falls back to `clone`, whose flags the filter can see).
fn seccomp() -> Result<(), seccompiler::Error> {
    let arch = target_arch()?;
    let clone3: BpfProgram = SeccompFilter::new(
        [(libc::SYS_clone3, vec![])].into_iter().collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )?
    .try_into()?;
    let deny: BpfProgram = SeccompFilter::new(
        denied_syscalls()?,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )?
    .try_into()?;
    seccompiler::apply_filter_all_threads(&x32_filter())?;
    seccompiler::apply_filter_all_threads(&clone3)?;
    seccompiler::apply_filter_all_threads(&deny)
}

fn target_arch() -> Result<TargetArch, seccompiler::Error> {
    Ok(TargetArch::try_from(std::env::consts::ARCH)?)
}

/// The syscalls refused, each with the rule that matches (no rule: always).
fn denied_syscalls() -> Result<BTreeMap<i64, Vec<SeccompRule>>, seccompiler::Error> {
    let always = [
        // The network: no socket of any family (the child talks through the pipes it was
        // given), no connect, bind, listen, accept on a descriptor it might still find.
        libc::SYS_socket,
        libc::SYS_connect,
        libc::SYS_bind,
        libc::SYS_listen,
        libc::SYS_accept,
        libc::SYS_accept4,
        // Another program.
        libc::SYS_execve,
        libc::SYS_execveat,
        // Other processes: tracing, reading or writing their memory.
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_pidfd_open,
        libc::SYS_pidfd_getfd,
        // io_uring performs socket, connect and open operations without the syscalls above
        // being made, so seccomp would not see them.
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        // The system: mounts, namespaces, modules, kernel keys, BPF, perf, time, reboot.
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_userfaultfd,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_open_by_handle_at,
        libc::SYS_name_to_handle_at,
        libc::SYS_fanotify_init,
        libc::SYS_reboot,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_syslog,
        libc::SYS_acct,
        libc::SYS_settimeofday,
        libc::SYS_clock_settime,
        libc::SYS_clock_adjtime,
        libc::SYS_adjtimex,
        libc::SYS_sethostname,
        libc::SYS_setdomainname,
        libc::SYS_quotactl,
    ];
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        always.into_iter().map(|nr| (nr, vec![])).collect();
    #[cfg(target_arch = "x86_64")]
    for nr in [
        libc::SYS_fork,
        libc::SYS_vfork,
        libc::SYS_iopl,
        libc::SYS_ioperm,
    ] {
        rules.insert(nr, vec![]);
    }
    // A new process is a `clone` without CLONE_THREAD (fork, vfork, posix_spawn all are);
    // threads (CLONE_THREAD) stay allowed: YARA-X starts one for its timeouts.
    rules.insert(
        libc::SYS_clone,
        vec![SeccompRule::new(vec![SeccompCondition::new(
            0,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(libc::CLONE_THREAD as u64),
            0,
        )?])?],
    );
    Ok(rules)
}

/// A hand-written prefix for x86_64: the x32 ABI reaches the same kernel entry points with
/// syscall numbers offset by `0x4000_0000` under the same audit architecture, so a deny-list
/// of x86_64 numbers would not see them. seccompiler matches exact numbers only, hence these
/// five instructions: every x32 syscall is refused. Other architectures get an empty program
/// that allows everything (seccompiler's own filter checks the architecture).
fn x32_filter() -> BpfProgram {
    use seccompiler::sock_filter;
    const LD_W_ABS: u16 = 0x20; // BPF_LD (0) | BPF_W (0) | BPF_ABS (0x20)
    const JEQ_K: u16 = 0x05 | 0x10; // BPF_JMP | BPF_JEQ | BPF_K
    const JGE_K: u16 = 0x05 | 0x30; // BPF_JMP | BPF_JGE | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    // struct seccomp_data { int nr; __u32 arch; ... }
    const NR: u32 = 0;
    const ARCH: u32 = 4;
    let op = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    let allow = libc::SECCOMP_RET_ALLOW;
    let eperm = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
    if cfg!(target_arch = "x86_64") {
        vec![
            op(LD_W_ABS, 0, 0, ARCH),
            op(JEQ_K, 0, 2, AUDIT_ARCH_X86_64),
            op(LD_W_ABS, 0, 0, NR),
            op(JGE_K, 1, 0, X32_SYSCALL_BIT),
            op(RET_K, 0, 0, allow),
            op(RET_K, 0, 0, eperm),
        ]
    } else {
        vec![op(RET_K, 0, 0, allow)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filters_compile_for_this_architecture() -> Result<(), seccompiler::Error> {
        let rules = denied_syscalls()?;
        assert!(rules.contains_key(&libc::SYS_execve));
        assert!(rules.contains_key(&libc::SYS_socket));
        assert!(!rules.contains_key(&libc::SYS_read));
        let prog: BpfProgram = SeccompFilter::new(
            rules,
            SeccompAction::Allow,
            SeccompAction::Errno(libc::EPERM as u32),
            target_arch()?,
        )?
        .try_into()?;
        assert!(prog.len() > 50, "{} instructions", prog.len());
        // Jumps of the x32 prefix land inside the program.
        let x32 = x32_filter();
        for (i, ins) in x32.iter().enumerate() {
            assert!(i + 1 + usize::from(ins.jt.max(ins.jf)) <= x32.len() || ins.code == 0x06);
        }
        Ok(())
    }
}
