//! The JSON-lines event log: what Elastic, Splunk and friends ingest. A writer thread appends;
//! sessions never wait on the disk for it.

use model::Event;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

/// Events queued for the writer. When the disk cannot keep up, newer events are dropped and
/// counted rather than growing memory: the store, not the log, is the record of truth.
const QUEUE: usize = 65_536;

/// An [`trap::EventSink`] writing one JSON object per line.
#[derive(Debug)]
pub struct EventLog {
    tx: Mutex<Option<SyncSender<String>>>,
    dropped: AtomicU64,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl EventLog {
    /// Opens `target` (a path, or `-` for stdout) for appending.
    pub fn open(target: &str, data_dir: &Path) -> anyhow::Result<Self> {
        let out: Box<dyn Write + Send> = if target == "-" {
            Box::new(std::io::stdout())
        } else {
            let path = data_dir.join(target);
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| anyhow::anyhow!("cannot open event log {}: {e}", path.display()))?;
            Box::new(f)
        };
        let (tx, rx) = sync_channel(QUEUE);
        let writer = std::thread::Builder::new()
            .name("event-log".into())
            .spawn(move || write_loop(rx, out))?;
        Ok(Self {
            tx: Mutex::new(Some(tx)),
            dropped: AtomicU64::new(0),
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Events dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Writes everything queued and stops the writer.
    pub fn close(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        if let Some(h) = self.writer.lock().ok().and_then(|mut w| w.take()) {
            let _ = h.join();
        }
    }
}

fn write_loop(rx: Receiver<String>, out: Box<dyn Write + Send>) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    while let Ok(line) = rx.recv() {
        let _ = writeln!(out, "{line}");
        while let Ok(line) = rx.try_recv() {
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
    }
    let _ = out.flush();
}

impl trap::EventSink for EventLog {
    fn emit(&self, event: Event) {
        let line = event.to_json_line();
        let Ok(guard) = self.tx.lock() else { return };
        if let Some(tx) = guard.as_ref()
            && let Err(TrySendError::Full(_)) = tx.try_send(line)
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}
