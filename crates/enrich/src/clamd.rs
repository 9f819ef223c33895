//! ClamAV through clamd's socket: `zINSTREAM` with the bytes themselves, never a path, so clamd
//! needs no access to the spool and nothing is written to disk for it.

use crate::EnrichError;
use model::report::ScanHit;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bytes per INSTREAM chunk. clamd reads chunks of any size up to its StreamMaxLength; 64 KiB
/// keeps the client's writes small without making the per-chunk header overhead noticeable.
const CHUNK: usize = 64 * 1024;

/// Longest reply read from clamd. Real replies are one line (`stream: <signature> FOUND`,
/// signature names are well under 200 bytes); a peer that keeps talking is not clamd.
const MAX_REPLY: u64 = 4096;

/// The `[analysis.clamav]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClamdConfig {
    /// `unix:/run/clamav/clamd.ctl` or `tcp:127.0.0.1:3310`.
    pub address: String,
    /// For one whole exchange (connect, send, verdict).
    #[serde(rename = "timeout_ms", with = "millis")]
    pub timeout: Duration,
    /// Objects larger than this are not sent (clamd would refuse them anyway): keep it at most
    /// clamd's `StreamMaxLength` (Debian's default: 25 MiB).
    pub max_stream: u64,
}

impl Default for ClamdConfig {
    fn default() -> Self {
        ClamdConfig {
            address: "unix:/run/clamav/clamd.ctl".to_string(),
            timeout: Duration::from_secs(30),
            max_stream: 25 * 1024 * 1024,
        }
    }
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[derive(Debug, Clone)]
enum Address {
    Unix(PathBuf),
    Tcp(String),
}

/// A clamd client. Each call opens its own connection, so one `Clamd` serves every worker.
#[derive(Debug, Clone)]
pub struct Clamd {
    address: Address,
    shown: String,
    timeout: Duration,
    max_stream: u64,
}

impl Clamd {
    /// Checks the address syntax only; clamd need not be running yet (see [`Clamd::ping`]).
    pub fn new(cfg: &ClamdConfig) -> Result<Clamd, EnrichError> {
        let address = if let Some(path) = cfg.address.strip_prefix("unix:") {
            Address::Unix(PathBuf::from(path))
        } else if let Some(addr) = cfg.address.strip_prefix("tcp:") {
            Address::Tcp(addr.to_string())
        } else {
            return Err(EnrichError::ClamdAddress(cfg.address.clone()));
        };
        if matches!(&address, Address::Unix(p) if p.as_os_str().is_empty())
            || matches!(&address, Address::Tcp(a) if a.is_empty())
        {
            return Err(EnrichError::ClamdAddress(cfg.address.clone()));
        }
        Ok(Clamd {
            address,
            shown: cfg.address.clone(),
            timeout: cfg.timeout,
            max_stream: cfg.max_stream,
        })
    }

    /// `PING` → `PONG`: is clamd there and answering (for start-up checks and health).
    pub async fn ping(&self) -> Result<(), EnrichError> {
        let reply = self.exchange(b"zPING\0", &[]).await?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(EnrichError::ClamdProtocol(reply))
        }
    }

    /// clamd's `VERSION` line (`ClamAV 1.4.6/<db version>/<db date>`), for the report's engine
    /// string and the logs.
    pub async fn version(&self) -> Result<String, EnrichError> {
        self.exchange(b"zVERSION\0", &[]).await
    }

    /// Scans `data`: `Ok(None)` when clean, `Ok(Some(signature))` on a hit (clamd's name, e.g.
    /// `Win.Test.EICAR_HDB-1`; signatures from unsigned databases end in `.UNOFFICIAL`).
    pub async fn scan(&self, data: &[u8]) -> Result<Option<String>, EnrichError> {
        let size = u64::try_from(data.len()).unwrap_or(u64::MAX);
        if size > self.max_stream {
            return Err(EnrichError::TooLarge {
                size,
                limit: self.max_stream,
            });
        }
        let reply = self.exchange(b"zINSTREAM\0", data).await?;
        parse_scan_reply(&reply)
    }

    /// [`Clamd::scan`] as the report's scan hit; `at` is `message` or `artifacts[N]`.
    pub async fn scan_hit(&self, at: &str, data: &[u8]) -> Result<Option<ScanHit>, EnrichError> {
        Ok(self.scan(data).await?.map(|rule| ScanHit {
            engine: "clamav".to_string(),
            rule,
            namespace: None,
            tags: Vec::new(),
            at: at.to_string(),
        }))
    }

    async fn exchange(&self, command: &[u8], stream: &[u8]) -> Result<String, EnrichError> {
        let work = async {
            match &self.address {
                Address::Unix(path) => {
                    let conn = tokio::net::UnixStream::connect(path).await;
                    talk(self.connected(conn)?, command, stream).await
                }
                Address::Tcp(addr) => {
                    let conn = tokio::net::TcpStream::connect(addr.as_str()).await;
                    talk(self.connected(conn)?, command, stream).await
                }
            }
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| EnrichError::ClamdTimeout(self.timeout))?
    }

    fn connected<S>(&self, conn: std::io::Result<S>) -> Result<S, EnrichError> {
        conn.map_err(|source| EnrichError::ClamdUnreachable {
            address: self.shown.clone(),
            source,
        })
    }
}

/// Sends the command and, for INSTREAM, the chunks and the zero-length terminator; then reads
/// the NUL-terminated reply. clamd closes the connection as soon as a stream passes its own
/// limit, so a failed write is followed by an attempt to read the reply that explains it.
async fn talk<S>(mut conn: S, command: &[u8], stream: &[u8]) -> Result<String, EnrichError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let sent = send(&mut conn, command, stream).await;
    let mut reply = Vec::new();
    let read = read_reply(&mut conn, &mut reply).await;
    let text = String::from_utf8_lossy(&reply)
        .trim_end_matches(['\0', '\n', '\r'])
        .to_string();
    match (sent, read) {
        (_, Ok(())) if !text.is_empty() => Ok(text),
        (Err(e), _) | (Ok(()), Err(e)) => Err(EnrichError::ClamdIo(e)),
        (Ok(()), Ok(())) => Err(EnrichError::ClamdProtocol(
            "connection closed without a reply".into(),
        )),
    }
}

/// Reads up to the terminating NUL, the end of the connection or [`MAX_REPLY`] bytes.
async fn read_reply<S: AsyncRead + Unpin>(
    conn: &mut S,
    reply: &mut Vec<u8>,
) -> std::io::Result<()> {
    let mut buf = [0u8; 512];
    while u64::try_from(reply.len()).unwrap_or(u64::MAX) < MAX_REPLY {
        let n = conn.read(&mut buf).await?;
        let Some(got) = buf.get(..n).filter(|got| !got.is_empty()) else {
            break;
        };
        reply.extend_from_slice(got);
        if got.contains(&0) {
            break;
        }
    }
    Ok(())
}

async fn send<S: AsyncWrite + Unpin>(
    conn: &mut S,
    command: &[u8],
    stream: &[u8],
) -> std::io::Result<()> {
    conn.write_all(command).await?;
    if command.starts_with(b"zINSTREAM") {
        for chunk in stream.chunks(CHUNK) {
            // CHUNK fits in u32, so the conversion cannot fail.
            let len = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
            conn.write_all(&len.to_be_bytes()).await?;
            conn.write_all(chunk).await?;
        }
        conn.write_all(&0u32.to_be_bytes()).await?;
    }
    conn.flush().await
}

/// `stream: OK`, `stream: <signature> FOUND`, `INSTREAM size limit exceeded. ERROR`,
/// `<anything> ERROR`.
fn parse_scan_reply(reply: &str) -> Result<Option<String>, EnrichError> {
    if reply.starts_with("INSTREAM size limit exceeded") {
        return Err(EnrichError::ClamdSizeLimit);
    }
    if let Some(error) = reply.strip_suffix(" ERROR") {
        return Err(EnrichError::Clamd(error.to_string()));
    }
    let Some(verdict) = reply.strip_prefix("stream: ") else {
        return Err(EnrichError::ClamdProtocol(reply.to_string()));
    };
    if verdict == "OK" {
        return Ok(None);
    }
    match verdict.strip_suffix(" FOUND") {
        Some(signature) if !signature.is_empty() => Ok(Some(signature.to_string())),
        _ => Err(EnrichError::ClamdProtocol(reply.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_parsed_into_verdicts_and_errors() {
        assert!(matches!(parse_scan_reply("stream: OK"), Ok(None)));
        assert_eq!(
            parse_scan_reply("stream: Win.Test.EICAR_HDB-1 FOUND")
                .ok()
                .flatten(),
            Some("Win.Test.EICAR_HDB-1".to_string())
        );
        assert!(matches!(
            parse_scan_reply("INSTREAM size limit exceeded. ERROR"),
            Err(EnrichError::ClamdSizeLimit)
        ));
        assert!(matches!(
            parse_scan_reply("stream: Can't allocate memory ERROR"),
            Err(EnrichError::Clamd(_))
        ));
        assert!(matches!(
            parse_scan_reply("stream:  FOUND"),
            Err(EnrichError::ClamdProtocol(_))
        ));
        assert!(matches!(
            parse_scan_reply("HTTP/1.1 400"),
            Err(EnrichError::ClamdProtocol(_))
        ));
    }

    #[test]
    fn address_needs_a_known_scheme() {
        let cfg = |address: &str| ClamdConfig {
            address: address.into(),
            ..ClamdConfig::default()
        };
        assert!(Clamd::new(&cfg("unix:/run/clamav/clamd.ctl")).is_ok());
        assert!(Clamd::new(&cfg("tcp:127.0.0.1:3310")).is_ok());
        assert!(Clamd::new(&cfg("/run/clamav/clamd.ctl")).is_err());
        assert!(Clamd::new(&cfg("unix:")).is_err());
    }
}
