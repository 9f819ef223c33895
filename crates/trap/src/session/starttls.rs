//! STARTTLS (RFC 3207) and the TLS handshake, with the ClientHello fingerprinted first.

use super::{Exit, Flow, Session};
use crate::ja4;
use crate::persona::{Ctx, Say};
use crate::rewind::Rewind;
use model::{AnomalyKind, EventKind, TlsInfo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio_rustls::server::TlsStream;

impl Session {
    pub(super) async fn handle_starttls(&mut self) -> Flow {
        if self.tls.is_some() {
            return self.fail(Say::StartTlsAgain, Ctx::default()).await;
        }
        if self.shared.tls.is_none() {
            return self.fail(Say::StartTlsUnavailable, Ctx::default()).await;
        }
        // CVE-2011-0411 class: anything pipelined behind STARTTLS was sent in plaintext and must
        // not be executed inside the TLS session. Keep it as evidence, then drop it.
        if !self.buf.is_empty() {
            let seen = String::from_utf8_lossy(&self.buf[..self.buf.len().min(200)]).into_owned();
            self.anomaly(AnomalyKind::StarttlsInjection, seen);
            self.buf.clear();
        }
        self.say(Say::StartTlsGo, Ctx::default());
        Flow::Exit(Exit::StartTls)
    }
}

/// Reads the ClientHello, fingerprints it, and completes the handshake. Returns `None` (after
/// recording why) if the client is not speaking TLS we can complete.
pub(super) async fn handshake<S>(
    session: &mut Session,
    mut stream: S,
    implicit: bool,
) -> Option<TlsStream<Rewind<S>>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let acceptor = session.shared.tls.clone()?;
    let timeout = session.shared.limits.idle_timeout;
    let mut hello = Vec::with_capacity(512);
    let peeked = tokio::time::timeout(timeout, async {
        loop {
            match ja4::record_len(&hello) {
                Some(need) if hello.len() >= need => return true,
                Some(need) => {
                    let mut chunk = vec![0u8; need - hello.len()];
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return false,
                        Ok(n) => hello.extend_from_slice(&chunk[..n]),
                    }
                }
                None => return false,
            }
        }
    })
    .await
    .unwrap_or(false);
    let parsed = if peeked {
        ja4::parse_client_hello(&hello)
    } else {
        None
    };
    let fingerprint = parsed.as_ref().map(ja4::ja4);
    let sni = parsed.as_ref().and_then(|ch| ch.sni.clone());
    let accepted =
        tokio::time::timeout(timeout, acceptor.accept(Rewind::new(hello.clone(), stream))).await;
    match accepted {
        Ok(Ok(tls)) => {
            let (_, conn) = tls.get_ref();
            let info = TlsInfo {
                version: conn
                    .protocol_version()
                    .map(|v| format!("{v:?}"))
                    .unwrap_or_default(),
                cipher: conn
                    .negotiated_cipher_suite()
                    .map(|c| format!("{:?}", c.suite()))
                    .unwrap_or_default(),
                sni,
                ja4: fingerprint,
                alpn: conn
                    .alpn_protocol()
                    .map(|p| String::from_utf8_lossy(p).into_owned()),
                implicit,
            };
            session.emit(session.event(EventKind::SessionStarttls).fields_of(&info));
            session.tls = Some(info);
            // RFC 3207 §4.2: forget everything learnt before the handshake.
            session.helo = None;
            session.esmtp = false;
            session.tx = None;
            Some(tls)
        }
        Ok(Err(e)) => {
            tls_failed(session, e.to_string(), &hello, fingerprint);
            None
        }
        Err(_) => {
            tls_failed(session, "handshake timed out".into(), &hello, fingerprint);
            None
        }
    }
}

fn tls_failed(session: &mut Session, error: String, hello: &[u8], ja4: Option<String>) {
    let detail = format!("{error}; ja4={}", ja4.as_deref().unwrap_or("-"));
    session.anomaly(AnomalyKind::TlsHandshakeFailed, detail);
    let head = &hello[..hello.len().min(64)];
    session.emit(
        session
            .event(EventKind::SessionTlsFailed)
            .field("error", &error)
            .field("ja4", &ja4)
            .field("client_hello_head", hex::encode(head)),
    );
}
