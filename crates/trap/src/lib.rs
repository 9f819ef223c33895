//! The trap: an SMTP server that looks like an ordinary Postfix MX for its trap domains,
//! captures every message durably, never relays and never sends mail.
//!
//! Main types: [`Trap`] (bind listeners, run until shutdown), [`TrapConfig`] and [`Limits`],
//! [`Persona`] (every byte sent), [`RelayPolicy`] (who may receive), [`EventSink`].
//!
//! Layout: `listener.rs` binds (before `serve` drops root: [`Trap::bind_listeners`]), accepts
//! and applies `limiter.rs` caps; `budget.rs` bounds the message bytes all sessions hold while
//! receiving; `session/` holds the state machine, one file per verb (`ehlo`, `mail`, `rcpt`,
//! `data`, `bdat`, `starttls`, `auth`, `misc`), the I/O loop with its timeouts and per-record
//! deadlines (`io.rs`) and the hand-over to the store (`capture.rs`); `tls.rs`, `ja4.rs` and
//! `rewind.rs` do TLS and ClientHello fingerprinting. There is no SMTP client
//! anywhere in this crate: the trap has no code path that could send mail.

mod budget;
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

pub use budget::{InflightStats, MAIL_HEADROOM_DIVISOR};
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

/// Listening sockets bound by [`Trap::bind_listeners`], not yet accepting: what a process
/// started as root holds when it gives up root, before it builds the rest of the trap.
#[derive(Debug)]
pub struct BoundListeners(Vec<(ListenerConfig, std::net::TcpListener)>);

impl BoundListeners {
    /// The bound listeners (with the real port when port 0 was asked for).
    pub fn local_addrs(&self) -> Vec<ListenerConfig> {
        self.0.iter().map(|(cfg, _)| cfg.clone()).collect()
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
        let bound = Self::bind_listeners(config)?;
        Self::from_listeners(config, bound, store, events).await
    }

    /// Binds every listener of `config` and nothing else: no runtime, no store, no files. A
    /// process started as root calls this, drops root, then [`Trap::from_listeners`].
    pub fn bind_listeners(config: &TrapConfig) -> Result<BoundListeners, SetupError> {
        let mut listeners = Vec::new();
        for l in &config.listeners {
            let socket = listener::bind(l)?;
            let mut cfg = l.clone();
            if let Ok(addr) = socket.local_addr() {
                cfg.address = addr;
            }
            listeners.push((cfg, socket));
        }
        Ok(BoundListeners(listeners))
    }

    /// Validates the configuration and prepares TLS (reading or generating the certificate)
    /// around listeners already bound. Must run inside a tokio runtime, where the sockets are
    /// registered.
    pub async fn from_listeners(
        config: &TrapConfig,
        bound: BoundListeners,
        store: Store,
        events: Arc<dyn EventSink>,
    ) -> Result<Self, SetupError> {
        let shared = Arc::new(Shared::new(config, store, events)?);
        let mut listeners = Vec::new();
        for (cfg, socket) in bound.0 {
            let listener = listener::register(&cfg, socket)?;
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

    /// Message bytes held by sessions receiving DATA/BDAT now, their peak and the budget.
    pub fn inflight(&self) -> InflightStats {
        self.shared.inflight.stats()
    }

    /// A handle that reads [`Trap::inflight`] after the trap has been moved into
    /// [`Trap::run`] (the metrics gauge).
    pub fn inflight_gauge(&self) -> InflightGauge {
        InflightGauge(Arc::clone(&self.shared.inflight))
    }
}

/// Reads the in-flight budget of a running trap.
#[derive(Debug, Clone)]
pub struct InflightGauge(Arc<budget::InflightBudget>);

impl InflightGauge {
    pub fn stats(&self) -> InflightStats {
        self.0.stats()
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
