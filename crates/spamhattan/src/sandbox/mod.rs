//! The analysis in a sandboxed child process, so that a parser bug the engine cannot catch
//! (a stack overflow, an abort, memory exhaustion, an endless loop, or code execution) takes
//! one child down and never the trap, the store or the host.
//!
//! An [`Analyst`] analyses one message at a time, either in this process (mode `off`, unit
//! tests, `spamhattan analyze`) or in a child of its own: `spamhattan analysis-sandbox`
//! ([`child`]) started by [`supervise::ChildAnalyst`], talking length-prefixed frames over its
//! stdin and stdout ([`protocol`]), sandboxed by [`policy`] once its engine is built. Each
//! analysis thread has its own child (cloning an `Analyst` gives a fresh one). When a child
//! dies on a message, that message gets a report saying how (memory limit, time limit, signal)
//! and the next message gets a new child.
//!
//! Layout: `protocol.rs` (frames and their limits), `policy.rs` (no_new_privs, rlimits,
//! Landlock, seccomp), `child.rs` (the hidden subcommand and its `--probe`), `supervise.rs`
//! (spawning, the wall-clock watchdog, telling deaths apart).

pub mod child;
pub mod policy;
pub mod protocol;
pub mod supervise;

use analysis::{Engine, EngineConfig, Input};
use anyhow::Result;
use model::{Report, Sighting};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
pub use supervise::{ChildAnalyst, Failure};

/// `[analysis.sandbox] mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Children sandboxed with whatever the kernel offers; a WARN line names what is missing.
    Auto,
    /// Children sandboxed with Landlock and seccomp, or `serve`/`worker` refuse to start.
    Required,
    /// Analysis in the worker's own threads, as before the sandbox existed.
    Off,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::Required => "required",
            Mode::Off => "off",
        }
    }
}

/// How to start and bound analysis children.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    pub mode: Mode,
    /// `RLIMIT_AS` of each child, in MiB.
    pub memory_limit_mb: u64,
    /// Wall-clock time one message may take in a child before it is killed.
    pub time_limit: Duration,
    /// The executable of the child. The binary uses [`SELF_EXE`] with [`SandboxSpec::args_of_self`];
    /// tests of the supervision use `/bin/sh -c <script>`.
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The engine the child builds (the same as the worker's).
    pub engine: EngineConfig,
}

impl SandboxSpec {
    /// The arguments that make this binary an analysis child, logging as this process does.
    pub fn args_of_self() -> Vec<String> {
        vec![
            "--log-format".into(),
            log_format().into(),
            "analysis-sandbox".into(),
        ]
    }
}

/// The running executable, through the kernel's link rather than its path: after an upgrade
/// replaced the file, children still run the binary the parent runs, so both always speak the
/// same protocol version.
pub const SELF_EXE: &str = "/proc/self/exe";

static LOG_FORMAT: OnceLock<&'static str> = OnceLock::new();

/// Records the log format of this process (`main` calls it) so children log the same way.
pub fn set_log_format(json: bool) {
    let _ = LOG_FORMAT.set(if json { "json" } else { "text" });
}

/// The log format children are started with.
pub fn log_format() -> &'static str {
    LOG_FORMAT.get().copied().unwrap_or("text")
}

/// Analyses messages in this process or in a child of its own.
///
/// `Clone` gives an analyst with the same settings and **no** child: each clone starts its own
/// on first use. That is what the pool wants (one child per analysis thread) and why a
/// `Worker` can stay `Clone`.
#[derive(Debug)]
pub struct Analyst {
    spec: Option<Arc<SandboxSpec>>,
    child: Mutex<Option<ChildAnalyst>>,
}

impl Clone for Analyst {
    fn clone(&self) -> Analyst {
        Analyst {
            spec: self.spec.clone(),
            child: Mutex::new(None),
        }
    }
}

impl Analyst {
    /// Analysis in the calling thread.
    pub fn in_process() -> Analyst {
        Analyst {
            spec: None,
            child: Mutex::new(None),
        }
    }

    /// Analysis in sandboxed children; `Mode::Off` gives [`Analyst::in_process`].
    pub fn sandboxed(spec: SandboxSpec) -> Analyst {
        if spec.mode == Mode::Off {
            return Analyst::in_process();
        }
        Analyst {
            spec: Some(Arc::new(spec)),
            child: Mutex::new(None),
        }
    }

    /// Starts the child now rather than at the first message (analysis threads do this when
    /// they start, so the cost of building its engine is paid before mail arrives).
    pub fn warm_up(&self) -> Result<()> {
        let Some(spec) = &self.spec else {
            return Ok(());
        };
        let mut slot = self.child.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_none_or(|c| !c.is_alive()) {
            *slot = None;
            *slot = Some(ChildAnalyst::spawn(spec)?);
        }
        Ok(())
    }

    /// Analyses one message. The outer error means no child could be started in mode
    /// `required` (nothing to do with this message: its job comes back after its lease); the
    /// inner one that the child died on this message, which the caller turns into a report.
    pub fn analyze(
        &self,
        engine: &Engine,
        raw: &[u8],
        sighting: &Sighting,
    ) -> Result<Result<Report, Failure>> {
        let Some(spec) = &self.spec else {
            return Ok(Ok(engine.analyze(
                raw,
                &Input {
                    sighting: Some(sighting),
                    auth: None,
                },
            )));
        };
        let mut slot = self.child.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_none_or(|c| !c.is_alive()) {
            // Drop (and reap) a dead child before starting its successor.
            *slot = None;
            match ChildAnalyst::spawn(spec) {
                Ok(child) => *slot = Some(child),
                // `auto` prefers an unsandboxed analysis to none: without a child every
                // claimed job would wait out its lease and count as a failed attempt.
                Err(e) if spec.mode == Mode::Auto => {
                    tracing::warn!(
                        error = %format!("{e:#}"),
                        "cannot start an analysis child; this message is analysed in-process"
                    );
                    return Ok(Ok(engine.analyze(
                        raw,
                        &Input {
                            sighting: Some(sighting),
                            auth: None,
                        },
                    )));
                }
                Err(e) => return Err(e),
            }
        }
        let Some(child) = slot.as_mut() else {
            return Err(anyhow::anyhow!("no analysis child"));
        };
        Ok(child.analyze(raw, sighting))
    }
}

/// Starts one child to see what the sandbox can do here, logs it in one line, and decides:
/// `Ok(analyst)` to use (possibly in-process when mode `auto` cannot start a child at all),
/// or an error in mode `required` when the sandbox is incomplete.
pub fn start(spec: SandboxSpec) -> Result<Analyst> {
    let mode = spec.mode;
    let analyst = Analyst::sandboxed(spec);
    let Some(s) = &analyst.spec else {
        tracing::info!(mode = "off", "analysis runs in-process (no sandbox)");
        return Ok(analyst);
    };
    let probe = match ChildAnalyst::spawn(s) {
        Ok(child) => child,
        Err(e) if mode == Mode::Auto => {
            tracing::warn!(
                error = %format!("{e:#}"),
                "analysis sandbox unavailable: no analysis child could be started; analysis \
                 runs in-process"
            );
            return Ok(Analyst::in_process());
        }
        Err(e) => {
            return Err(e.context("[analysis.sandbox] mode = \"required\""));
        }
    };
    let r = &probe.ready;
    if r.is_complete() {
        tracing::info!(
            mode = mode.as_str(),
            landlock = %r.landlock,
            seccomp = r.seccomp,
            memory_limit_mb = s.memory_limit_mb,
            time_limit_ms = s.time_limit.as_millis() as u64,
            "analysis runs in sandboxed child processes"
        );
    } else {
        tracing::warn!(
            mode = mode.as_str(),
            landlock = %r.landlock,
            seccomp = r.seccomp,
            missing = %r.missing.join("; "),
            "analysis runs in child processes with an incomplete sandbox"
        );
    }
    Ok(analyst)
}
