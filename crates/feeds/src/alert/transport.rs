//! Syslog delivery: one UDP datagram, or one TCP connection with one octet-counted frame.

use super::config::{SyslogConfig, SyslogFormat, SyslogTransport, split_host_port};
use super::error::{ConfigError, DeliveryError};
use super::syslog::{SyslogOrigin, format_cef, format_rfc5424, tcp_frame, udp_datagram};
use model::Alert;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpStream, UdpSocket};

/// Where the system keeps its host name (Linux); read once when the sink is built.
const HOSTNAME_FILES: [&str; 2] = ["/proc/sys/kernel/hostname", "/etc/hostname"];

/// A resolved syslog receiver.
#[derive(Debug)]
pub(crate) struct SyslogTarget {
    host: String,
    port: u16,
    transport: SyslogTransport,
    format: SyslogFormat,
    origin: SyslogOrigin,
    pub(crate) timeout: Duration,
}

impl SyslogTarget {
    pub(crate) fn from_config(cfg: &SyslogConfig) -> Result<SyslogTarget, ConfigError> {
        cfg.validate()?;
        let (host, port) =
            split_host_port(&cfg.address).map_err(|p| ConfigError::new(&cfg.name, p))?;
        let hostname = cfg.hostname.clone().unwrap_or_else(system_hostname);
        Ok(SyslogTarget {
            host,
            port,
            transport: cfg.transport,
            format: cfg.format,
            origin: SyslogOrigin {
                facility: cfg.facility,
                hostname,
                app_name: cfg.app_name.clone(),
            },
            timeout: Duration::from_secs(cfg.timeout_secs),
        })
    }

    /// The record this receiver gets for `alert` (before transport framing).
    pub(crate) fn record(&self, alert: &Alert) -> String {
        match self.format {
            SyslogFormat::Rfc5424 => format_rfc5424(alert, &self.origin),
            SyslogFormat::Cef => format_cef(alert, &self.origin),
        }
    }

    /// Sends one record. Every failure is retryable: sockets fail for passing reasons, and a
    /// UDP send that "succeeds" proves nothing more than that it left.
    pub(crate) async fn send(&self, alert: &Alert) -> Result<(), DeliveryError> {
        let record = self.record(alert);
        let work = async {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((self.host.as_str(), self.port))
                .await
                .map_err(|e| self.failed("resolve", e))?
                .collect();
            let addr = *addrs.first().ok_or_else(|| {
                DeliveryError::retryable(format!("{} resolves to nothing", self.host))
            })?;
            match self.transport {
                SyslogTransport::Udp => {
                    let local: SocketAddr = if addr.is_ipv4() {
                        ([0, 0, 0, 0], 0).into()
                    } else {
                        ([0u16; 8], 0).into()
                    };
                    let socket = UdpSocket::bind(local)
                        .await
                        .map_err(|e| self.failed("bind", e))?;
                    let datagram = udp_datagram(&record);
                    let sent = socket
                        .send_to(&datagram, addr)
                        .await
                        .map_err(|e| self.failed("send", e))?;
                    if sent != datagram.len() {
                        return Err(DeliveryError::retryable(format!(
                            "syslog {addr}: sent {sent} of {} bytes",
                            datagram.len()
                        )));
                    }
                    Ok(())
                }
                SyslogTransport::Tcp => {
                    let mut stream = TcpStream::connect(&addrs[..])
                        .await
                        .map_err(|e| self.failed("connect", e))?;
                    stream
                        .write_all(&tcp_frame(&record))
                        .await
                        .map_err(|e| self.failed("write", e))?;
                    stream.shutdown().await.map_err(|e| self.failed("close", e))
                }
            }
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(DeliveryError::retryable(format!(
                "syslog {}:{} did not take the record within {:?}",
                self.host, self.port, self.timeout
            ))),
        }
    }

    fn failed(&self, what: &str, e: std::io::Error) -> DeliveryError {
        DeliveryError::retryable(format!("syslog {}:{} {what}: {e}", self.host, self.port))
    }
}

/// The system host name when it is a valid HOSTNAME field, else `-` (RFC 5424 NILVALUE).
fn system_hostname() -> String {
    HOSTNAME_FILES
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|name| name.trim().to_owned())
        .find(|name| super::config::is_header_token(name, super::config::MAX_HOSTNAME_LEN))
        .unwrap_or_else(|| "-".to_owned())
}
