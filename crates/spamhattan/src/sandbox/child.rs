//! `spamhattan analysis-sandbox`: the analysis child. Started by the worker (never by hand),
//! it reads the Hello frame, builds the engine (reading rule files), puts itself in the
//! sandbox, answers Ready, then analyses one job after another until its stdin closes.
//!
//! `--probe` applies the same sandbox and then tries what it must refuse (a TCP connection,
//! creating and reading files, starting processes), printing the outcomes as JSON: the test of
//! the policy on the running kernel (`crates/spamhattan/tests/sandbox.rs`).

use super::policy;
use super::protocol::{
    self, FrameError, Hello, MAX_HELLO_FRAME, MAX_RAW_FRAME, MAX_SIGHTING_FRAME, Ready,
};
use crate::cli::SandboxArgs;
use analysis::{Engine, Input};
use anyhow::{Context, Result};
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::os::fd::AsFd;
use std::process::ExitCode;

/// Analysed once right after the sandbox closes and before Ready is sent, so that a child
/// whose engine cannot work inside the sandbox fails at start, not on the first message. It
/// runs *inside* the sandbox on purpose: YARA-X starts its timer thread on the first scan, and
/// a thread started before Landlock is applied would stay outside it (Landlock before ABI 8
/// restricts the calling thread and the threads it starts later). A multipart with HTML, a
/// URL and a zip attachment reaches most of the engine.
const WARM_UP: &[u8] = b"From: a@warm-up.invalid\r\nTo: b@warm-up.invalid\r\nSubject: warm up\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=w\r\n\r\n--w\r\n\
Content-Type: text/html\r\n\r\n<p>See <a href=\"http://warm-up.invalid/x\">this</a></p>\r\n--w\r\n\
Content-Type: application/zip; name=\"a.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
UEsDBBQAAAAAACxQhV2GphA2BQAAAAUAAAAFAAAAYS50eHRoZWxsb1BLAQIUAxQAAAAAACxQhV2GphA2BQAAAAUAAAAF\r\n\
AAAAAAAAAAAAAACAAQAAAABhLnR4dFBLBQYAAAAAAQABADMAAAAoAAAAAAA=\r\n--w--\r\n";

/// Job buffers (raw message, report JSON) are kept between jobs up to this capacity. Most
/// messages are far smaller; keeping more would hold address space the next message may need.
const KEEP_BUFFER: usize = 16 << 20;

pub fn run(args: &SandboxArgs) -> Result<ExitCode> {
    if let Err(e) = policy::close_inherited_descriptors() {
        tracing::warn!(error = %e, "analysis child: cannot close inherited descriptors");
    }
    if let Err(e) = policy::die_with_parent() {
        tracing::warn!(error = %e, "analysis child: cannot ask to die with its parent");
    }
    if args.probe {
        return probe(args);
    }
    // Own descriptors for the pipes, not std's line-buffered handles. Input is read through a
    // buffer (a whole job in one `read`); output is written a whole frame at a time.
    let mut input = BufReader::with_capacity(
        protocol::PIPE_BUFFER,
        File::from(std::io::stdin().as_fd().try_clone_to_owned()?),
    );
    let mut output = File::from(std::io::stdout().as_fd().try_clone_to_owned()?);
    let mut buf = Vec::new();
    protocol::read_frame(&mut input, &mut buf, "hello", MAX_HELLO_FRAME)?;
    let hello: Hello = serde_json::from_slice(&buf).context("analysis child: bad Hello")?;
    let refuse = |output: &mut File, error: String| -> Result<ExitCode> {
        let ready = Ready {
            error: Some(error),
            ..Ready::default()
        };
        protocol::write_frame(output, &serde_json::to_vec(&ready)?)?;
        Ok(ExitCode::from(2))
    };
    if hello.version != protocol::VERSION {
        let msg = format!(
            "protocol version {} asked, {} spoken",
            hello.version,
            protocol::VERSION
        );
        return refuse(&mut output, msg);
    }
    let engine = match Engine::new(hello.engine) {
        Ok(engine) => engine,
        Err(e) => {
            return refuse(
                &mut output,
                format!("cannot build the analysis engine: {e}"),
            );
        }
    };
    let mut ready = policy::apply(hello.memory_limit);
    let _ = engine.analyze(WARM_UP, &Input::default());
    if hello.required && !ready.is_complete() {
        ready.error = Some(format!(
            "the sandbox is required (`[analysis.sandbox] mode = \"required\"`) but could not \
             be applied in full: {}",
            ready.missing.join("; ")
        ));
    }
    protocol::write_frame(&mut output, &serde_json::to_vec(&ready)?)?;
    if ready.error.is_some() {
        return Ok(ExitCode::from(2));
    }
    serve_jobs(&engine, &mut input, &mut output)
}

/// The job loop: sighting and raw message in, report out, until the parent closes stdin.
fn serve_jobs(engine: &Engine, input: &mut impl Read, output: &mut File) -> Result<ExitCode> {
    let (mut sighting_buf, mut raw, mut out) = (Vec::new(), Vec::new(), Vec::new());
    loop {
        match protocol::read_frame(input, &mut sighting_buf, "sighting", MAX_SIGHTING_FRAME) {
            Ok(()) => {}
            Err(FrameError::Closed) => return Ok(ExitCode::SUCCESS),
            Err(e) => return Err(e.into()),
        }
        protocol::read_frame(input, &mut raw, "raw message", MAX_RAW_FRAME)?;
        let sighting: model::Sighting =
            serde_json::from_slice(&sighting_buf).context("analysis child: bad sighting")?;
        let report = engine.analyze(
            &raw,
            &Input {
                sighting: Some(&sighting),
                auth: None,
            },
        );
        protocol::begin_frame(&mut out);
        serde_json::to_writer(&mut out, &report)?;
        drop(report);
        protocol::end_frame(&mut out);
        output.write_all(&out)?;
        // Buffers are reused between jobs, but a rare huge message must not keep its
        // megabytes mapped: they count against RLIMIT_AS for every message after it.
        for buf in [&mut raw, &mut out] {
            if buf.capacity() > KEEP_BUFFER {
                *buf = Vec::new();
            }
        }
    }
}

/// One attempt of the probe: did it work, and what was said.
#[derive(Debug, serde::Serialize)]
struct Attempt {
    succeeded: bool,
    detail: String,
}

impl Attempt {
    fn of<T>(r: std::io::Result<T>) -> Attempt {
        match r {
            Ok(_) => Attempt {
                succeeded: true,
                detail: "succeeded".into(),
            },
            Err(e) => Attempt {
                succeeded: false,
                detail: e.to_string(),
            },
        }
    }
}

/// Applies the sandbox (unless `--no-sandbox`), tries each forbidden thing, prints one JSON
/// line of outcomes, then tries to replace itself with `/bin/true`: a second line
/// `{"exec": ...}` follows only when that was refused. The control run without the sandbox
/// prints no second line and exits 0 (it became `/bin/true`), which is how a test sees that
/// the probe can observe success.
fn probe(args: &SandboxArgs) -> Result<ExitCode> {
    let ready = if args.no_sandbox {
        None
    } else {
        Some(policy::apply(args.memory_limit_mb << 20))
    };
    let connect = args.connect.as_deref().map(|addr| {
        Attempt::of(
            addr.parse::<std::net::SocketAddr>()
                .map_err(std::io::Error::other)
                .and_then(|a| {
                    std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(5))
                }),
        )
    });
    let write = args.write_dir.as_deref().map(|dir| {
        Attempt::of(
            File::create(dir.join("written-by-the-probe"))
                .and_then(|mut f| f.write_all(b"escaped")),
        )
    });
    let read = Attempt::of(std::fs::read(&args.read));
    let spawn = Attempt::of(std::process::Command::new("/bin/true").env_clear().status());
    let fork = Attempt::of(fork_and_reap());
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer(
        &mut stdout,
        &serde_json::json!({
            "sandbox": ready,
            "connect": connect,
            "write": write,
            "read": read,
            "spawn": spawn,
            "fork": fork,
        }),
    )?;
    stdout.write_all(b"\n")?;
    stdout.flush()?;
    drop(stdout);
    use std::os::unix::process::CommandExt;
    let exec = Attempt::of::<()>(Err(std::process::Command::new("/bin/true")
        .env_clear()
        .exec()));
    println!("{}", serde_json::json!({ "exec": exec }));
    Ok(ExitCode::SUCCESS)
}

/// `fork(2)` itself (not `posix_spawn`, which std prefers): the child exits at once.
fn fork_and_reap() -> std::io::Result<()> {
    #[allow(unsafe_code)]
    // SAFETY: the probe is single-threaded; the child calls only `_exit`, which is
    // async-signal-safe, and the parent only `waitpid` with a valid status pointer.
    unsafe {
        match libc::fork() {
            -1 => Err(std::io::Error::last_os_error()),
            0 => libc::_exit(0),
            pid => {
                let mut status = 0;
                libc::waitpid(pid, &mut status, 0);
                Ok(())
            }
        }
    }
}
