//! Capture throughput: N 4 KiB messages from T threads (default 100), each waiting for its `250`.
//!
//! `cargo run --release -p spamhattan-store --example capture_bench [messages] [dir|-] [threads]`
//! (`-`: a temporary directory; fewer threads make smaller group commits).

use model::{Envelope, MailFrom, MessageId, Sighting, SightingSource, Timings};
use std::time::Instant;
use store::{Store, StoreConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let total: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(200_000);
    let tmp = tempfile::tempdir()?;
    let dir = match args.next() {
        Some(dir) if dir != "-" => dir.into(),
        _ => tmp.path().to_path_buf(),
    };
    let threads: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100);
    let store = Store::open(StoreConfig::new(&dir))?;
    let per_thread = total / threads.max(1);
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || -> Result<(), store::StoreError> {
                for n in 0..per_thread {
                    let raw = message(t, n);
                    let s = sighting(&raw);
                    store.capture(raw, s).wait()?;
                }
                Ok(())
            })
        })
        .collect();
    for t in handles {
        t.join().map_err(|_| "capture thread panicked")??;
    }
    let elapsed = started.elapsed();
    let (user, sys) = cpu_seconds();
    let (user, sys) = (user - cpu_before.0, sys - cpu_before.1);
    let stats = store.stats()?;
    let n = per_thread * threads;
    println!(
        "{n} messages of 4 KiB from {threads} threads in {:.2} s: {:.0} msgs/s, {} commits \
         ({:.1} messages per commit), {} segment bytes, {} sqlite bytes",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        stats.commits,
        n as f64 / stats.commits.max(1) as f64,
        stats.segment_bytes,
        stats.sqlite_bytes,
    );
    println!(
        "process CPU: {:.2} s user + {:.2} s sys = {:.1} µs per message ({:.0}% of one core)",
        user,
        sys,
        (user + sys) * 1e6 / n as f64,
        (user + sys) * 100.0 / elapsed.as_secs_f64(),
    );
    store.close()?;
    Ok(())
}

/// User and system CPU seconds of the whole process so far (every thread: sessions and writer).
#[allow(unsafe_code)]
fn cpu_seconds() -> (f64, f64) {
    // SAFETY: `rusage` is plain old data (all-zero is valid) and `ru` a valid out-pointer.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: see above.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return (0.0, 0.0);
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(ru.ru_utime), secs(ru.ru_stime))
}

fn message(t: usize, n: usize) -> Vec<u8> {
    let mut m = format!("From: x@spam.example\r\nSubject: bench {t}/{n}\r\n\r\n").into_bytes();
    m.resize(4096, b'x');
    m
}

fn sighting(raw: &[u8]) -> Sighting {
    Sighting {
        id: uuid::Uuid::now_v7(),
        message_id: MessageId::of(raw),
        received_at: model::now(),
        source: SightingSource::Smtp,
        size: raw.len() as u64,
        session_id: uuid::Uuid::now_v7(),
        listener: "smtp".into(),
        peer: "192.0.2.7:40000".into(),
        local: "198.51.100.1:25".into(),
        helo: Some("spam.example".into()),
        tls: None,
        envelope: Envelope {
            mail_from: MailFrom {
                raw: "MAIL FROM:<bulk@spam.example>".into(),
                address: "bulk@spam.example".into(),
                params: vec![],
            },
            recipients: vec![],
        },
        anomalies: vec![],
        timings: Timings::default(),
        queue_id: "4XyZ1".into(),
        sensor: None,
    }
}
