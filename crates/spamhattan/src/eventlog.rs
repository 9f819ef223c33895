//! The JSON-lines event log: what Elastic, Splunk and friends ingest. Sessions append lines to a
//! shared buffer; a writer thread drains it to the file every [`FLUSH_EVERY`] or when it grows
//! past [`FLUSH_AT`], so emitting an event costs a lock and a copy, never a syscall or a wake-up.

use model::Event;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Most bytes held in memory waiting for the disk. When the disk cannot keep up, newer events
/// are dropped and counted rather than growing memory: the store, not the log, is the record.
const MAX_BUFFER: usize = 16 * 1024 * 1024;
/// Buffer size at which the writer is woken early.
const FLUSH_AT: usize = 256 * 1024;
/// Longest time an event waits in memory: log shippers see events within this delay.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

#[derive(Debug, Default)]
struct Buffer {
    bytes: Vec<u8>,
    dropped: u64,
    closed: bool,
}

#[derive(Debug, Default)]
struct Shared {
    buf: Mutex<Buffer>,
    wake: Condvar,
}

/// A [`trap::EventSink`] writing one JSON object per line.
#[derive(Debug)]
pub struct EventLog {
    shared: Arc<Shared>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl EventLog {
    /// Opens `target` (a path relative to the data dir, or `-` for stdout) for appending.
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
        let shared = Arc::new(Shared::default());
        let s = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("event-log".into())
            .spawn(move || write_loop(&s, out))?;
        Ok(Self {
            shared,
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Events dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.shared.buf.lock().map(|b| b.dropped).unwrap_or(0)
    }

    /// Writes everything buffered and stops the writer.
    pub fn close(&self) {
        if let Ok(mut b) = self.shared.buf.lock() {
            b.closed = true;
        }
        self.shared.wake.notify_one();
        if let Some(h) = self.writer.lock().ok().and_then(|mut w| w.take()) {
            let _ = h.join();
        }
    }
}

fn write_loop(shared: &Shared, mut out: Box<dyn Write + Send>) {
    let mut pending = Vec::new();
    loop {
        let closed = {
            let Ok(mut b) = shared.buf.lock() else { return };
            if b.bytes.len() < FLUSH_AT && !b.closed {
                b = match shared.wake.wait_timeout(b, FLUSH_EVERY) {
                    Ok((b, _)) => b,
                    Err(_) => return,
                };
            }
            std::mem::swap(&mut pending, &mut b.bytes);
            b.closed
        };
        if !pending.is_empty() {
            let _ = out.write_all(&pending);
            let _ = out.flush();
            pending.clear();
        }
        if closed {
            return;
        }
    }
}

impl trap::EventSink for EventLog {
    fn emit(&self, event: Event) {
        let line = event.to_json_line();
        let Ok(mut b) = self.shared.buf.lock() else {
            return;
        };
        if b.bytes.len() + line.len() + 1 > MAX_BUFFER {
            b.dropped += 1;
            return;
        }
        b.bytes.extend_from_slice(line.as_bytes());
        b.bytes.push(b'\n');
        if b.bytes.len() >= FLUSH_AT {
            self.shared.wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trap::EventSink;

    #[test]
    fn every_event_is_one_json_line_after_close() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let log = EventLog::open("events.jsonl", dir.path())?;
        for i in 0..1000 {
            log.emit(
                Event::new(model::EventKind::SessionHelo, None).field("helo", format!("h{i}\nx")),
            );
        }
        log.close();
        let text = std::fs::read_to_string(dir.path().join("events.jsonl"))?;
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1000);
        for (i, l) in lines.iter().enumerate() {
            let v: serde_json::Value = serde_json::from_str(l)?;
            assert_eq!(v["helo"], format!("h{i}\nx"));
        }
        assert_eq!(log.dropped(), 0);
        Ok(())
    }
}
