//! Where the trap's events go. The binary decides (a JSON-lines file, stdout, a bus); tests keep
//! them in memory.

use model::Event;
use std::sync::Mutex;

/// A consumer of events. `emit` must not block the session for long: sinks buffer.
pub trait EventSink: Send + Sync + 'static {
    fn emit(&self, event: Event);
}

/// Discards everything.
#[derive(Debug, Default)]
pub struct NullSink;

impl EventSink for NullSink {
    fn emit(&self, _event: Event) {}
}

/// Keeps events in memory, for tests and for the console's recent-events view.
#[derive(Debug, Default)]
pub struct MemorySink {
    events: Mutex<Vec<Event>>,
}

impl MemorySink {
    /// A copy of everything emitted so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl EventSink for MemorySink {
    fn emit(&self, event: Event) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event);
        }
    }
}
