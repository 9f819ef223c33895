//! Listeners: bind, accept, apply connection caps, spawn one task per session, stop on shutdown.

use crate::config::{ListenerConfig, TlsMode};
use crate::limiter::{ConnLimiter, Refusal};
use crate::persona::{Ctx, Say};
use crate::session::{ConnMeta, serve_connection};
use crate::shared::{SetupError, Shared};
use model::{Event, EventKind};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Pending connections the kernel may queue per listener: bursts of thousands of new sessions
/// must not be dropped before accept.
const BACKLOG: i32 = 4096;

/// After an accept error (e.g. out of descriptors) wait this long before trying again, so the
/// loop does not spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Binds one listener with `SO_REUSEADDR` (restarts must not wait for TIME_WAIT) and, for IPv6,
/// `IPV6_V6ONLY` so `[::]` and `0.0.0.0` can be configured side by side. A plain socket, not
/// yet registered with tokio: `serve` binds before it drops root and before the runtime
/// starts.
pub(crate) fn bind(cfg: &ListenerConfig) -> Result<std::net::TcpListener, SetupError> {
    let err = |source| SetupError::Bind {
        address: cfg.address,
        source,
    };
    let domain = socket2::Domain::for_address(cfg.address);
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))
        .map_err(err)?;
    socket.set_reuse_address(true).map_err(err)?;
    if cfg.address.is_ipv6() {
        socket.set_only_v6(true).map_err(err)?;
    }
    socket.set_nonblocking(true).map_err(err)?;
    socket.bind(&cfg.address.into()).map_err(err)?;
    socket.listen(BACKLOG).map_err(err)?;
    Ok(socket.into())
}

/// Hands a socket bound by [`bind`] to tokio (inside a runtime).
pub(crate) fn register(
    cfg: &ListenerConfig,
    socket: std::net::TcpListener,
) -> Result<TcpListener, SetupError> {
    TcpListener::from_std(socket).map_err(|source| SetupError::Bind {
        address: cfg.address,
        source,
    })
}

/// Accepts connections until shutdown.
pub(crate) async fn accept_loop(
    shared: Arc<Shared>,
    cfg: ListenerConfig,
    listener: TcpListener,
    limiter: Arc<ConnLimiter>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(listener = %cfg.name, error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let local = stream.local_addr().unwrap_or(cfg.address);
        let slot = match limiter.acquire(peer.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                refuse(&shared, stream, peer, why);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let meta = ConnMeta {
            listener: cfg.name.clone(),
            peer,
            local,
            implicit_tls: cfg.tls == TlsMode::Implicit,
        };
        let shared = Arc::clone(&shared);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            serve_connection(shared, stream, meta, shutdown).await;
            drop(slot);
        });
    }
}

/// Answers `421` without reading anything and closes. Best effort: a full socket buffer simply
/// means the client gets a reset.
fn refuse(shared: &Shared, stream: TcpStream, peer: SocketAddr, why: Refusal) {
    let ip = peer.ip().to_string();
    let (say, reason) = match why {
        Refusal::Total => (Say::Overloaded, "total"),
        Refusal::PerIp => (Say::TooManyConnections, "per-ip"),
    };
    let mut out = Vec::new();
    shared
        .persona
        .say(
            say,
            Ctx {
                ip: &ip,
                ..Ctx::default()
            },
        )
        .write_to(&mut out);
    let _ = stream.try_write(&out);
    shared.events.emit(
        Event::new(EventKind::SessionRefused, None)
            .field("peer", peer.to_string())
            .field("limit", reason),
    );
}
