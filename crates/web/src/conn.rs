//! Connection limits for the HTTP listeners: how many connections in total and per client,
//! and how long one may stay silent.
//!
//! `axum::serve` sets no timer, so hyper's header-read timeout never applies: without this
//! module a client that opens a connection and sends half a request head (or nothing) holds
//! it forever, and a few thousand of them exhaust descriptors. The public bait listener faces
//! exactly those clients. [`GuardedListener`] wraps any axum `Listener`:
//! - it accepts at most [`ConnLimits::max_total`] connections at once; past it, it stops
//!   accepting (new clients wait in the kernel's backlog until a slot frees);
//! - a client (an IPv4 address or an IPv6 /64) holding [`ConnLimits::max_per_client`]
//!   connections has further ones closed at once, unless it is a listed proxy;
//! - every connection is a [`Guarded`] stream whose reads and writes fail with `TimedOut` after
//!   [`ConnLimits::idle`] without a byte moving either way. That ends idle keep-alive
//!   connections, silent or drip-feeding clients (each byte must come within the window), and
//!   clients that stop reading their response. Live updates (SSE) send a keep-alive comment
//!   every 15 s, well inside the window.

use axum::serve::Listener;
use model::client_key;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// Default most connections at once on one HTTP listener.
pub const MAX_HTTP_CONNECTIONS: usize = 1024;
/// Default most connections at once from one client (IPv4 address or IPv6 /64). A browser
/// opens six per host; API clients and benchmarks a few more.
pub const MAX_HTTP_CONNECTIONS_PER_CLIENT: usize = 64;
/// Default time a connection may pass without a byte read or written: nginx's
/// `client_header_timeout`, and longer than [`crate::REQUEST_TIMEOUT`], so a slow handler is
/// still answered (503) rather than cut off.
pub const HTTP_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The limits one listener enforces.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    pub max_total: usize,
    pub max_per_client: usize,
    pub idle: Duration,
    /// Clients exempt from the per-client cap: reverse proxies that carry many visitors.
    pub proxies: Vec<IpAddr>,
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            max_total: MAX_HTTP_CONNECTIONS,
            max_per_client: MAX_HTTP_CONNECTIONS_PER_CLIENT,
            idle: HTTP_IDLE_TIMEOUT,
            proxies: Vec::new(),
        }
    }
}

/// Live connections per client.
#[derive(Debug, Default)]
struct Clients(Mutex<HashMap<IpAddr, usize>>);

impl Clients {
    fn take(self: &Arc<Self>, key: IpAddr, max: usize) -> Option<ClientSlot> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(key).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            clients: Arc::clone(self),
            key,
        })
    }
}

/// One connection counted for its client; released on drop.
#[derive(Debug)]
struct ClientSlot {
    clients: Arc<Clients>,
    key: IpAddr,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut m = self.clients.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.key);
            }
        }
    }
}

/// A listener that enforces [`ConnLimits`].
#[derive(Debug)]
pub struct GuardedListener<L> {
    inner: L,
    limits: ConnLimits,
    slots: Arc<Semaphore>,
    clients: Arc<Clients>,
}

impl<L> GuardedListener<L> {
    pub fn new(inner: L, limits: ConnLimits) -> Self {
        Self {
            inner,
            slots: Arc::new(Semaphore::new(limits.max_total.max(1))),
            limits,
            clients: Arc::default(),
        }
    }
}

impl<L> Listener for GuardedListener<L>
where
    L: Listener<Addr = SocketAddr>,
{
    type Io = Guarded<L::Io>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            // Wait for a free slot before accepting: past the cap, clients queue in the
            // kernel's backlog instead of costing a task and a descriptor each.
            let Ok(permit) = Arc::clone(&self.slots).acquire_owned().await else {
                // The semaphore is never closed; accept without a slot rather than spin.
                let (io, addr) = self.inner.accept().await;
                return (Guarded::new(io, self.limits.idle, None, None), addr);
            };
            let (io, addr) = self.inner.accept().await;
            let ip = addr.ip();
            let client = if self.limits.proxies.contains(&ip) {
                None
            } else {
                match self
                    .clients
                    .take(client_key(ip), self.limits.max_per_client)
                {
                    Some(slot) => Some(slot),
                    None => {
                        tracing::debug!(client = %ip, "too many HTTP connections from one client; closed");
                        continue;
                    }
                }
            };
            return (
                Guarded::new(io, self.limits.idle, Some(permit), client),
                addr,
            );
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection that fails after `idle` without progress, holding its slots until dropped.
#[derive(Debug)]
pub struct Guarded<S> {
    inner: S,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    _slot: Option<OwnedSemaphorePermit>,
    _client: Option<ClientSlot>,
}

impl<S> Guarded<S> {
    fn new(
        inner: S,
        idle: Duration,
        slot: Option<OwnedSemaphorePermit>,
        client: Option<ClientSlot>,
    ) -> Self {
        Self {
            inner,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
            _slot: slot,
            _client: client,
        }
    }

    fn progress(&mut self) {
        self.deadline.as_mut().reset(Instant::now() + self.idle);
    }

    /// `Pending` while the window is open, a `TimedOut` error once it has passed.
    fn expired<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "HTTP connection idle for too long",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.progress();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.expired(cx),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, data) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.progress();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.expired(cx),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending => this.expired(cx),
            done => done,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_slot_is_given_back_on_drop() {
        let clients = Arc::new(Clients::default());
        let key: IpAddr = [192, 0, 2, 1].into();
        let a = clients.take(key, 2).expect("first");
        let _b = clients.take(key, 2).expect("second");
        assert!(clients.take(key, 2).is_none());
        drop(a);
        assert!(clients.take(key, 2).is_some());
    }
}
