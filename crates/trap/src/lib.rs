//! The trap: an SMTP server that looks like an ordinary Postfix MX for its trap domains,
//! captures every message durably, never relays and never sends mail.
//!
//! Main types: [`Trap`] (bind listeners, run until shutdown), [`TrapConfig`] and [`Limits`],
//! [`Persona`] (every byte sent), [`RelayPolicy`] (who may receive), [`EventSink`].
//!
//! Layout: `listener.rs` accepts and applies `limiter.rs` caps; `session/` holds the state
//! machine, one file per verb (`ehlo`, `mail`, `rcpt`, `data`, `bdat`, `starttls`, `auth`,
//! `misc`), the I/O loop (`io.rs`) and the hand-over to the store (`capture.rs`); `tls.rs`,
//! `ja4.rs` and `rewind.rs` do TLS and ClientHello fingerprinting. There is no SMTP client
//! anywhere in this crate: the trap has no code path that could send mail.

mod config;
mod events;
mod ja4;
mod limiter;
mod listener;
mod persona;
mod policy;
mod rewind;
mod session;
mod shared;
mod tls;

pub use config::{AddressPolicy, Limits, ListenerConfig, TlsMode, TlsSource, TrapConfig};
pub use events::{EventSink, MemorySink, NullSink};
pub use ja4::{ClientHello, ja4, parse_client_hello};
pub use persona::{PERSONAS, Persona};
pub use policy::{RcptDecision, RelayPolicy, normalize_domain};
pub use session::{ConnMeta, MAX_ANOMALIES};
pub use shared::SetupError;

use limiter::ConnLimiter;
use shared::Shared;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long sessions may take to finish after shutdown is requested before the process exits
/// anyway. Sessions waiting for a command are told `421` at once; this covers a message that is
/// being received or stored.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A bound trap, ready to run.
pub struct Trap {
    shared: Arc<Shared>,
    listeners: Vec<(ListenerConfig, TcpListener)>,
    limiter: Arc<ConnLimiter>,
}

impl std::fmt::Debug for Trap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trap")
            .field("listeners", &self.local_addrs())
            .finish_non_exhaustive()
    }
}

impl Trap {
    /// Validates the configuration, prepares TLS and binds every listener. Nothing is accepted
    /// until [`Trap::run`].
    pub async fn bind(
        config: &TrapConfig,
        store: Store,
        events: Arc<dyn EventSink>,
    ) -> Result<Self, SetupError> {
        let shared = Arc::new(Shared::new(config, store, events)?);
        let mut listeners = Vec::new();
        for l in &config.listeners {
            let listener = listener::bind(l)?;
            let mut cfg = l.clone();
            if let Ok(addr) = listener.local_addr() {
                cfg.address = addr;
            }
            listeners.push((cfg, listener));
        }
        let limits = &config.limits;
        let limiter = ConnLimiter::new(limits.max_connections, limits.max_connections_per_ip);
        Ok(Self {
            shared,
            listeners,
            limiter,
        })
    }

    /// The bound listeners (with the real port when port 0 was asked for).
    pub fn local_addrs(&self) -> Vec<ListenerConfig> {
        self.listeners.iter().map(|(cfg, _)| cfg.clone()).collect()
    }

    /// Accepts and serves sessions until `shutdown` resolves, then lets sessions finish for at
    /// most [`SHUTDOWN_GRACE`].
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let (tx, rx) = watch::channel(false);
        let mut tasks = Vec::new();
        for (cfg, listener) in self.listeners {
            let task = listener::accept_loop(
                Arc::clone(&self.shared),
                cfg,
                listener,
                Arc::clone(&self.limiter),
                rx.clone(),
            );
            tasks.push(tokio::spawn(task));
        }
        shutdown.await;
        let _ = tx.send(true);
        for t in tasks {
            let _ = t.await;
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, self.limiter.wait_idle())
            .await
            .is_err()
        {
            tracing::warn!(
                active = self.limiter.active(),
                "sessions still open after the shutdown grace period"
            );
        }
    }

    /// Live sessions.
    pub fn active_sessions(&self) -> usize {
        self.limiter.active()
    }
}

impl Trap {
    /// Serves one session over any stream, outside the listeners: the in-memory test entry
    /// point (and the hand-over point for a proxy-protocol front end).
    pub async fn serve_stream<S>(&self, stream: S, meta: ConnMeta, shutdown: watch::Receiver<bool>)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
    {
        session::serve_connection(Arc::clone(&self.shared), stream, meta, shutdown).await;
    }
}
