//! The parent's side of one analysis child: spawn it, hand it jobs, enforce the wall-clock
//! limit with `SIGKILL`, and say exactly how it died when it does.
//!
//! A watchdog thread per child holds the [`Child`] and a deadline. The analysis thread arms
//! the deadline, writes the job and blocks reading the report; when the deadline passes first,
//! the watchdog kills the child, the read ends, and the failure is a time limit. The child's
//! stderr is a pipe read by a forwarder thread that copies its log lines to ours and notices
//! Rust's "memory allocation of N bytes failed", which is how a memory-limit abort is told
//! apart from other crashes.

use super::SandboxSpec;
use super::protocol::{self, FrameError, Hello, MAX_READY_FRAME, MAX_REPORT_FRAME, Ready};
use anyhow::{Context, Result, anyhow};
use model::{Report, Sighting};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a child may take to build its engine and answer Ready. Compiling the shipped YARA
/// rules takes about a second in a release build and several in a debug build; a child that
/// needs minutes is stuck.
pub const STARTUP_LIMIT: Duration = Duration::from_secs(120);

/// How long a child that closed its pipes (or was killed) gets to become a reapable zombie,
/// and its stderr forwarder to read the last lines, before it is killed and left to the
/// kernel. Exiting takes microseconds; this only bounds a hostile child.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// One log line of the child copied to our stderr at most; the rest of a longer line is
/// dropped. The child's log lines are short; a compromised child must not be able to make
/// the parent buffer without bound.
pub const MAX_LOG_LINE: usize = 16 << 10;

/// The report buffer is kept between jobs up to this capacity (reports are KiB to a few MiB);
/// a larger one is freed after use.
const KEEP_BUFFER: usize = 16 << 20;

/// How long an idle watchdog sleeps at most before it looks at its deadline again (see
/// `Watch::idle`).
const WATCHDOG_IDLE: Duration = Duration::from_secs(1);

/// What Rust's default allocation-error handler prints before it aborts.
const ALLOC_FAILED: &[u8] = b"memory allocation of ";

/// Why a child gave no report for a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// An allocation failed under `RLIMIT_AS` and the child aborted.
    MemoryLimit { mib: u64 },
    /// The wall-clock limit passed and the child was killed.
    TimeLimit { ms: u64 },
    /// The child died of a signal.
    Crashed { signal: i32 },
    /// The child exited (it does so only when its input is bad or it cannot go on).
    Exited { code: i32 },
    /// The child sent something that is not a report; it was killed.
    BadReply { detail: String },
}

impl Failure {
    /// The anomaly's detail: what happened, in one sentence.
    pub fn detail(&self) -> String {
        match self {
            Failure::MemoryLimit { mib } => {
                format!("analysis process killed: memory limit {mib} MiB exceeded")
            }
            Failure::TimeLimit { ms } => {
                format!("analysis process killed: time limit {ms} ms exceeded")
            }
            Failure::Crashed { signal } => format!(
                "analysis process crashed: signal {signal} ({})",
                signal_name(*signal)
            ),
            Failure::Exited { code } => {
                format!("analysis process exited with status {code} without a report")
            }
            Failure::BadReply { detail } => {
                format!("analysis process sent a bad reply and was killed: {detail}")
            }
        }
    }

    /// Budget overruns are `budget-exceeded`; a crash or a bad reply is a parser that broke
    /// the process, `parser-panic`.
    pub fn anomaly_kind(&self) -> model::AnomalyKind {
        match self {
            Failure::MemoryLimit { .. } | Failure::TimeLimit { .. } => {
                model::AnomalyKind::BudgetExceeded
            }
            _ => model::AnomalyKind::ParserPanic,
        }
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGABRT => "SIGABRT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSYS => "SIGSYS",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        _ => "other",
    }
}

/// The watchdog's view of a child.
#[derive(Debug)]
struct Watched {
    child: Child,
    deadline: Option<Instant>,
    /// When the sleeping watchdog will look again: an arm notifies it only when its deadline
    /// comes sooner, so a steady stream of jobs costs no wake-up per job.
    wakes_at: Option<Instant>,
    /// The watchdog killed the child at its deadline.
    timed_out: bool,
    /// How many times the watchdog woke up and looked (tests check it stays low).
    looks: u64,
    /// The child is gone; the watchdog thread ends.
    done: bool,
}

#[derive(Debug)]
struct Watch {
    state: Mutex<Watched>,
    wake: Condvar,
    /// How long an idle watchdog sleeps: at most the job time limit, so a job armed while it
    /// sleeps has its deadline after the watchdog's next look.
    idle: Duration,
}

impl Watch {
    fn new(child: Child, time_limit: Duration) -> Watch {
        Watch {
            state: Mutex::new(Watched {
                child,
                deadline: None,
                wakes_at: None,
                timed_out: false,
                looks: 0,
                done: false,
            }),
            wake: Condvar::new(),
            idle: time_limit.min(WATCHDOG_IDLE),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Watched> {
        // A poisoned lock means a panic while holding it; the state is still consistent
        // (plain fields), so go on with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn arm(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut w = self.lock();
        w.deadline = Some(deadline);
        if w.wakes_at.is_none_or(|at| at > deadline) {
            self.wake.notify_one();
        }
    }

    /// Disarms; returns whether the watchdog killed the child meanwhile.
    fn disarm(&self) -> bool {
        let mut w = self.lock();
        w.deadline = None;
        w.timed_out
    }

    fn run(&self) {
        let mut w = self.lock();
        loop {
            if w.done {
                return;
            }
            w.looks += 1;
            let now = Instant::now();
            let sleep = match w.deadline {
                Some(d) if now >= d => {
                    let _ = w.child.kill();
                    w.timed_out = true;
                    w.deadline = None;
                    // Only tests wait for this; the analysis thread learns it from the pipe.
                    self.wake.notify_all();
                    continue;
                }
                Some(d) => d - now,
                None => self.idle,
            };
            w.wakes_at = Some(now + sleep);
            w = self
                .wake
                .wait_timeout(w, sleep)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            w.wakes_at = None;
        }
    }
}

/// A running analysis child and its two helper threads.
#[derive(Debug)]
pub struct ChildAnalyst {
    spec: Arc<SandboxSpec>,
    watch: Arc<Watch>,
    watchdog: Option<JoinHandle<()>>,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    forwarder: Option<JoinHandle<()>>,
    /// Set by the forwarder when the child reported a failed allocation.
    alloc_failed: Arc<AtomicBool>,
    /// Sighting JSON of the job being sent; report of the job being read. Reused.
    out: Vec<u8>,
    reply: Vec<u8>,
    /// What the child could apply.
    pub ready: Ready,
    /// The child failed and must not be given another job.
    broken: bool,
}

impl ChildAnalyst {
    /// Starts a child, sends Hello and waits for Ready (within [`STARTUP_LIMIT`]). An error
    /// here is not about a message: the child could not be started, or refused to work.
    pub fn spawn(spec: &Arc<SandboxSpec>) -> Result<ChildAnalyst> {
        let mut cmd = Command::new(&spec.program);
        cmd.arg0("spamhattan")
            .args(&spec.args)
            .env_clear()
            // One malloc arena: the child is single-threaded, and every arena reserves 64 MiB
            // of address space, which counts against RLIMIT_AS.
            .env("MALLOC_ARENA_MAX", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: a Ctrl-C in the terminal reaches the parent, which stops
            // cleanly, not the children in the middle of a message.
            .process_group(0);
        if let Ok(filter) = std::env::var("RUST_LOG") {
            cmd.env("RUST_LOG", filter);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", spec.program.display()))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            return Err(anyhow!("the analysis child has no pipes"));
        };
        let alloc_failed = Arc::new(AtomicBool::new(false));
        let forwarder = {
            let flag = Arc::clone(&alloc_failed);
            std::thread::Builder::new()
                .name("analysis-child-log".into())
                .spawn(move || forward_log(stderr, &flag, std::io::stderr))
                .ok()
        };
        let watch = Arc::new(Watch::new(child, spec.time_limit));
        let watchdog = {
            let w = Arc::clone(&watch);
            std::thread::Builder::new()
                .name("analysis-watchdog".into())
                .spawn(move || w.run())
                .context("cannot start the analysis watchdog")?
        };
        let mut me = ChildAnalyst {
            spec: Arc::clone(spec),
            watch,
            watchdog: Some(watchdog),
            stdin: Some(stdin),
            stdout: BufReader::with_capacity(protocol::PIPE_BUFFER, stdout),
            forwarder,
            alloc_failed,
            out: Vec::new(),
            reply: Vec::new(),
            ready: Ready::default(),
            broken: false,
        };
        me.handshake()
            .map_err(|e| anyhow!("the analysis child did not start: {e}"))?;
        Ok(me)
    }

    fn handshake(&mut self) -> Result<(), String> {
        let hello = Hello {
            version: protocol::VERSION,
            engine: self.spec.engine.clone(),
            memory_limit: self.spec.memory_limit_mb << 20,
            required: self.spec.mode == super::Mode::Required,
        };
        let hello = serde_json::to_vec(&hello).map_err(|e| e.to_string())?;
        self.watch.arm(STARTUP_LIMIT);
        // Ready is read even when Hello could not be written: a child that refuses to work
        // may say why and exit before reading it.
        let sent = send(self.stdin.as_mut(), &[&hello]);
        let got = protocol::read_frame(&mut self.stdout, &mut self.reply, "ready", MAX_READY_FRAME)
            .map_err(|e| match sent {
                Err(w) => format!("writing Hello: {w}"),
                Ok(()) => e.to_string(),
            });
        self.watch.disarm();
        let parsed = got.and_then(|()| {
            serde_json::from_slice::<Ready>(&self.reply).map_err(|e| format!("bad Ready: {e}"))
        });
        match parsed {
            Ok(ready) => {
                if let Some(error) = &ready.error {
                    self.broken = true;
                    return Err(error.clone());
                }
                self.ready = ready;
                Ok(())
            }
            Err(e) => {
                self.broken = true;
                let failure = self.bury(&e);
                Err(format!("{e} ({})", failure.detail()))
            }
        }
    }

    /// The child is still usable (it has not failed).
    pub fn is_alive(&self) -> bool {
        !self.broken
    }

    /// Analyses one message in the child. On failure the child is dead (killed if it was
    /// not) and this analyst must be replaced.
    pub fn analyze(&mut self, raw: &[u8], sighting: &Sighting) -> Result<Report, Failure> {
        self.out.clear();
        if let Err(e) = serde_json::to_writer(&mut self.out, sighting) {
            // A sighting always serialises; if it ever did not, the child is not to blame.
            return Err(Failure::BadReply {
                detail: format!("sighting not serialisable: {e}"),
            });
        }
        self.alloc_failed.store(false, Ordering::Relaxed);
        self.watch.arm(self.spec.time_limit);
        let got = send(self.stdin.as_mut(), &[&self.out, raw])
            .map_err(|e| format!("writing the job: {e}"))
            .and_then(|()| {
                protocol::read_frame(
                    &mut self.stdout,
                    &mut self.reply,
                    "report",
                    MAX_REPORT_FRAME,
                )
                .map_err(|e| match e {
                    FrameError::Closed => "closed its output".to_string(),
                    e => e.to_string(),
                })
            });
        let timed_out = self.watch.disarm();
        let report = got.and_then(|()| {
            serde_json::from_slice::<Report>(&self.reply).map_err(|e| format!("not a report: {e}"))
        });
        if self.reply.capacity() > KEEP_BUFFER {
            // One huge report must not pin its buffer for the life of the child.
            self.reply = Vec::new();
        }
        match report {
            Ok(report) => {
                if timed_out {
                    // The report was complete when the deadline fired: keep it; the child
                    // is dead, so the next message gets a new one.
                    self.broken = true;
                }
                Ok(report)
            }
            Err(e) => {
                self.broken = true;
                Err(self.bury(&e))
            }
        }
    }

    /// After a failed job: makes sure the child is dead and reaped, and says why it died.
    fn bury(&mut self, error: &str) -> Failure {
        self.stdin = None;
        let (status, killed_by_us) = self.reap();
        self.join_forwarder();
        let timed_out = self.watch.lock().timed_out;
        let failure = if timed_out {
            Failure::TimeLimit {
                ms: u64::try_from(self.spec.time_limit.as_millis()).unwrap_or(u64::MAX),
            }
        } else if self.alloc_failed.load(Ordering::Relaxed) {
            Failure::MemoryLimit {
                mib: self.spec.memory_limit_mb,
            }
        } else if killed_by_us {
            Failure::BadReply {
                detail: error.to_string(),
            }
        } else {
            match status.and_then(|s| s.signal().map(Err).or(s.code().map(Ok))) {
                Some(Err(signal)) => Failure::Crashed { signal },
                Some(Ok(code)) => Failure::Exited { code },
                None => Failure::BadReply {
                    detail: error.to_string(),
                },
            }
        };
        let pid = self.watch.lock().child.id();
        tracing::warn!(
            pid,
            error,
            "{}; a new analysis process takes over",
            failure.detail()
        );
        failure
    }

    /// Waits up to [`EXIT_GRACE`] for the child to exit on its own, then kills it. Returns its
    /// status and whether we had to kill it.
    fn reap(&mut self) -> (Option<ExitStatus>, bool) {
        let until = Instant::now() + EXIT_GRACE;
        loop {
            let mut w = self.watch.lock();
            match w.child.try_wait() {
                Ok(Some(status)) => return (Some(status), false),
                Ok(None) if Instant::now() < until => {}
                Ok(None) | Err(_) => {
                    let _ = w.child.kill();
                    return (w.child.wait().ok(), true);
                }
            }
            drop(w);
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn join_forwarder(&mut self) {
        let Some(h) = self.forwarder.take() else {
            return;
        };
        // The forwarder ends at EOF of the child's stderr, which the dead child closed. Its
        // last lines (the allocation failure) must be read before the cause is decided.
        let until = Instant::now() + EXIT_GRACE;
        while !h.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        if h.is_finished() {
            let _ = h.join();
        }
    }
}

impl Drop for ChildAnalyst {
    fn drop(&mut self) {
        // Closing stdin ends the child's job loop; a child that does not exit is killed.
        self.stdin = None;
        let _ = self.reap();
        self.join_forwarder();
        self.watch.lock().done = true;
        self.watch.wake.notify_one();
        if let Some(h) = self.watchdog.take() {
            let _ = h.join();
        }
    }
}

/// Writes frames to the child without copying their payloads, in one vectored write when
/// the pipe has room. No stdin (closed after a failure) is a broken pipe.
fn send(stdin: Option<&mut ChildStdin>, frames: &[&[u8]]) -> std::io::Result<()> {
    let Some(stdin) = stdin else {
        return Err(std::io::ErrorKind::BrokenPipe.into());
    };
    protocol::write_frames(stdin, frames)
}

/// Copies the child's stderr to ours line by line (each line written whole, so it does not
/// interleave with our own log lines), cutting lines at [`MAX_LOG_LINE`] and replacing control
/// characters; sets `alloc_failed` when Rust reports a failed allocation.
fn forward_log<W: Write>(stderr: impl Read, alloc_failed: &AtomicBool, out: impl Fn() -> W) {
    let mut r = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        let limit = (MAX_LOG_LINE + 1) as u64;
        match (&mut r).take(limit).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let whole = line.last() == Some(&b'\n');
        if !whole {
            // Drop the rest of an over-long line.
            let mut sink = Vec::new();
            loop {
                sink.clear();
                match (&mut r).take(limit).read_until(b'\n', &mut sink) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if sink.last() == Some(&b'\n') => break,
                    Ok(_) => {}
                }
            }
        }
        if memchr_slice(&line, ALLOC_FAILED) {
            alloc_failed.store(true, Ordering::Relaxed);
        }
        line.truncate(MAX_LOG_LINE);
        let text: String = String::from_utf8_lossy(&line)
            .trim_end_matches(['\n', '\r'])
            .chars()
            .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
            .collect();
        let mut text = text.into_bytes();
        text.push(b'\n');
        let _ = out().write_all(&text);
    }
}

fn memchr_slice(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Ready frame `{}` (2 bytes) in `printf` syntax: what a stand-in child says first.
    const READY: &str = r"printf '\002\000\000\000\000\000\000\000{}'";

    /// A "child" that is a shell script: the supervision sees only pipes, exit statuses and
    /// signals, so every way a real child can misbehave is one line of shell.
    fn stand_in(script: &str, time_limit: Duration) -> Arc<SandboxSpec> {
        Arc::new(SandboxSpec {
            mode: super::super::Mode::Auto,
            memory_limit_mb: 64,
            time_limit,
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            engine: analysis::EngineConfig::default(),
        })
    }

    fn sighting() -> Sighting {
        Sighting {
            id: uuid::Uuid::now_v7(),
            message_id: model::MessageId::of(b"x"),
            received_at: model::now(),
            source: model::SightingSource::Smtp,
            size: 1,
            session_id: uuid::Uuid::now_v7(),
            listener: "import".into(),
            peer: String::new(),
            local: String::new(),
            helo: None,
            tls: None,
            envelope: model::Envelope::default(),
            anomalies: vec![],
            timings: model::Timings::default(),
            queue_id: String::new(),
            sensor: None,
        }
    }

    /// Runs one job through a stand-in child and returns how it failed.
    fn fail_with(script: &str, time_limit: Duration) -> Result<Failure> {
        let mut child = ChildAnalyst::spawn(&stand_in(script, time_limit))?;
        assert!(child.is_alive());
        let failure = match child.analyze(b"Subject: x\r\n\r\nx\r\n", &sighting()) {
            Ok(r) => return Err(anyhow!("a stand-in cannot write a report: {r:?}")),
            Err(f) => f,
        };
        assert!(!child.is_alive(), "a failed child is not used again");
        Ok(failure)
    }

    #[test]
    fn a_reply_that_is_not_a_report_kills_the_child_and_says_so() -> Result<()> {
        let f = fail_with(
            &format!(r"{READY}; printf '\005\000\000\000\000\000\000\000hello'; exec sleep 30"),
            Duration::from_secs(30),
        )?;
        match &f {
            Failure::BadReply { detail } => assert!(detail.contains("not a report"), "{detail}"),
            other => panic!("{other:?}"),
        }
        Ok(())
    }

    #[test]
    fn an_absurd_frame_length_is_refused_without_allocating_it() -> Result<()> {
        let f = fail_with(
            &format!(r"{READY}; printf '\377\377\377\377\377\377\377\177'; exec sleep 30"),
            Duration::from_secs(30),
        )?;
        match &f {
            Failure::BadReply { detail } => assert!(detail.contains("over the"), "{detail}"),
            other => panic!("{other:?}"),
        }
        Ok(())
    }

    #[test]
    fn garbage_instead_of_ready_is_a_clean_start_error() {
        let spec = stand_in(
            "printf 'garbage!garbage!'; exec sleep 30",
            Duration::from_secs(1),
        );
        let e = ChildAnalyst::spawn(&spec)
            .map(|_| ())
            .expect_err("the stand-in cannot start");
        assert!(format!("{e:#}").contains("did not start"), "{e:#}");
    }

    #[test]
    fn a_child_that_refuses_to_work_is_a_start_error_with_its_reason() {
        let ready = r#"{"error":"no"}"#;
        let spec = stand_in(
            &format!(r"printf '\016\000\000\000\000\000\000\000{ready}'"),
            Duration::from_secs(1),
        );
        let e = ChildAnalyst::spawn(&spec)
            .map(|_| ())
            .expect_err("the stand-in cannot start");
        assert!(format!("{e:#}").ends_with("did not start: no"), "{e:#}");
    }

    #[test]
    fn jobs_in_a_row_cost_no_watchdog_wake_up_and_the_last_deadline_holds() -> Result<()> {
        let child = Command::new("sleep").arg("30").spawn()?;
        let watch = Arc::new(Watch::new(child, Duration::from_secs(10)));
        let dog = {
            let w = Arc::clone(&watch);
            std::thread::spawn(move || w.run())
        };
        // Two hundred jobs of 200 µs each under a 10 s limit (the pause stands for the job:
        // the analysis thread blocks on the pipe, and the watchdog could run). Each deadline
        // is later than the one the watchdog sleeps towards, so none needs to wake it.
        for _ in 0..200 {
            watch.arm(Duration::from_secs(10));
            std::thread::sleep(Duration::from_micros(200));
            assert!(!watch.disarm());
        }
        let looks = watch.lock().looks;
        assert!(looks <= 3, "the watchdog looked {looks} times for 200 jobs");
        // A stuck job under a shorter limit is still killed at its deadline.
        let started = Instant::now();
        watch.arm(Duration::from_millis(300));
        let killed = {
            let w = watch.lock();
            let until = Duration::from_secs(10);
            let (w, _) = watch
                .wake
                .wait_timeout_while(w, until, |w| !w.timed_out)
                .unwrap_or_else(|p| p.into_inner());
            w.timed_out
        };
        assert!(killed, "killed by the watchdog within 10 s");
        assert!(started.elapsed() >= Duration::from_millis(300));
        watch.lock().done = true;
        watch.wake.notify_one();
        dog.join().map_err(|_| anyhow!("watchdog panicked"))?;
        let _ = watch.lock().child.wait();
        Ok(())
    }

    #[test]
    fn the_wall_clock_limit_kills_a_stuck_child() -> Result<()> {
        let started = Instant::now();
        let f = fail_with(
            &format!("{READY}; exec sleep 30"),
            Duration::from_millis(200),
        )?;
        assert_eq!(f, Failure::TimeLimit { ms: 200 });
        assert!(started.elapsed() < Duration::from_secs(10));
        Ok(())
    }

    #[test]
    fn deaths_are_told_apart() -> Result<()> {
        let limit = Duration::from_secs(30);
        assert_eq!(
            fail_with(&format!("{READY}; exit 3"), limit)?,
            Failure::Exited { code: 3 }
        );
        assert_eq!(
            fail_with(&format!("{READY}; kill -SEGV $$"), limit)?,
            Failure::Crashed { signal: 11 }
        );
        // The abort follows the job's first byte, as a real one would: a line printed before
        // the job starts is forgotten when it starts (each job's cause is its own).
        assert_eq!(
            fail_with(
                &format!(
                    "{READY}; head -c 1 >/dev/null; echo 'memory allocation of 4096 bytes failed' >&2; kill -ABRT $$"
                ),
                limit
            )?,
            Failure::MemoryLimit { mib: 64 }
        );
        Ok(())
    }

    #[test]
    fn the_forwarder_spots_an_allocation_failure_and_bounds_lines() {
        let lines = Mutex::new(Vec::<Vec<u8>>::new());
        let collect = || Collect(&lines);
        let flag = AtomicBool::new(false);
        let mut input = vec![b'x'; MAX_LOG_LINE * 3];
        input.extend_from_slice(b"\nmemory allocation of 123 bytes failed\n");
        forward_log(input.as_slice(), &flag, collect);
        assert!(flag.load(Ordering::Relaxed));
        let flag = AtomicBool::new(false);
        forward_log(b"an ordinary line\x1b[31m\n".as_slice(), &flag, collect);
        assert!(!flag.load(Ordering::Relaxed));
        let lines = lines.into_inner().unwrap_or_default();
        assert_eq!(lines.len(), 3, "one write per line, the long one cut once");
        assert_eq!(
            lines[0].len(),
            MAX_LOG_LINE + 1,
            "cut to the limit, plus its newline"
        );
        assert_eq!(lines[1], b"memory allocation of 123 bytes failed\n");
        assert_eq!(
            lines[2], b"an ordinary line [31m\n",
            "control characters are blanked"
        );
    }

    /// A writer that keeps each write as one line.
    struct Collect<'a>(&'a Mutex<Vec<Vec<u8>>>);

    impl Write for Collect<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut v) = self.0.lock() {
                v.push(buf.to_vec());
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn failures_are_worded_as_the_docs_say() {
        assert_eq!(
            Failure::MemoryLimit { mib: 1024 }.detail(),
            "analysis process killed: memory limit 1024 MiB exceeded"
        );
        assert_eq!(
            Failure::Crashed { signal: 11 }.detail(),
            "analysis process crashed: signal 11 (SIGSEGV)"
        );
        assert_eq!(
            Failure::TimeLimit { ms: 5 }.anomaly_kind(),
            model::AnomalyKind::BudgetExceeded
        );
    }
}
