//! Connecting to NATS (auth, TLS, retry) and declaring the two streams.

use crate::config::{Auth, BusConfig};
use crate::error::BusError;
use async_nats::jetstream::{self, stream};
use async_nats::{ConnectErrorKind, ConnectOptions, Event, ServerAddr};
use std::time::Duration;

/// Connects as `name` (shown in the server's connection list).
///
/// A first attempt is made at once: refused credentials, a TLS failure or a bad URL are
/// returned as errors, since waiting will not fix them. If the server is only unreachable
/// (down, DNS, timeout), the client is returned anyway and keeps connecting in the background
/// (`retry_on_initial_connect`), so a sensor can start before the bus; publishes then fail
/// with [`BusError::AckTimeout`] until it is up. Connection events are logged with `tracing`.
pub async fn connect(cfg: &BusConfig, name: &str) -> Result<async_nats::Client, BusError> {
    cfg.validate().map_err(BusError::Config)?;
    let addrs = server_addrs(&cfg.url)?;
    let method = cfg.auth().map_err(BusError::Config)?.name();
    match options(cfg, name).await?.connect(addrs.clone()).await {
        Ok(client) => Ok(client),
        Err(e) => {
            let (url, detail) = (cfg.url.clone(), e.to_string());
            match e.kind() {
                ConnectErrorKind::AuthorizationViolation | ConnectErrorKind::Authentication => {
                    Err(BusError::Auth {
                        url,
                        method,
                        detail,
                    })
                }
                ConnectErrorKind::Tls => Err(BusError::Tls { url, detail }),
                // async-nats reports a failed handshake (a certificate the client does not
                // trust, or a server refusing the client's) as an I/O error: retrying will not
                // fix it, and a sensor would otherwise spool for ever behind a typo.
                ConnectErrorKind::Io if tls_failure(&detail) => Err(BusError::Tls { url, detail }),
                ConnectErrorKind::ServerParse => Err(BusError::Config(detail)),
                ConnectErrorKind::Io
                | ConnectErrorKind::TimedOut
                | ConnectErrorKind::Dns
                | ConnectErrorKind::MaxReconnects => {
                    tracing::warn!(%url, error = %detail, "bus not reachable; connecting in the background");
                    let opts = options(cfg, name).await?.retry_on_initial_connect();
                    opts.connect(addrs).await.map_err(|e| BusError::Connect {
                        url,
                        detail: e.to_string(),
                    })
                }
            }
        }
    }
}

/// The JetStream context of `client`, with `request_timeout` on API calls and publish acks.
pub fn jetstream(client: async_nats::Client, cfg: &BusConfig) -> jetstream::Context {
    jetstream::ContextBuilder::new()
        .timeout(cfg.request_timeout())
        .build(client)
}

fn server_addrs(url: &str) -> Result<Vec<ServerAddr>, BusError> {
    url.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| {
            u.parse::<ServerAddr>()
                .map_err(|e| BusError::Config(format!("bus.url {u:?}: {e}")))
        })
        .collect()
}

async fn options(cfg: &BusConfig, name: &str) -> Result<ConnectOptions, BusError> {
    let mut opts = ConnectOptions::new()
        .name(name)
        .connection_timeout(cfg.connect_timeout())
        .request_timeout(Some(cfg.request_timeout()))
        .max_reconnects(None)
        .custom_inbox_prefix(&cfg.inbox_prefix)
        .event_callback(|event| async move { log_event(event) });
    opts = match cfg.auth().map_err(BusError::Config)? {
        Auth::None => opts,
        Auth::UserPassword(u, p) => opts.user_and_password(u.into(), p.into()),
        Auth::Token(t) => opts.token(t.into()),
        Auth::NkeySeedFile(path) => {
            let seed = std::fs::read_to_string(path).map_err(|e| {
                BusError::Config(format!("bus.nkey_seed_file {}: {e}", path.display()))
            })?;
            opts.nkey(seed.trim().to_owned())
        }
        Auth::CredentialsFile(path) => opts.credentials_file(path).await.map_err(|e| {
            BusError::Config(format!("bus.credentials_file {}: {e}", path.display()))
        })?,
    };
    if let Some(ca) = &cfg.tls_ca_file {
        opts = opts.add_root_certificates(ca.clone());
    }
    if let (Some(cert), Some(key)) = (&cfg.tls_cert_file, &cfg.tls_key_file) {
        opts = opts.add_client_certificate(cert.clone(), key.clone());
    }
    if cfg.tls_required {
        opts = opts.require_tls(true);
    }
    Ok(opts)
}

/// While the bus is away the client reports every failed reconnect (several a second); one
/// warning per this interval says it, the rest go to debug.
const CLIENT_ERROR_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

static LAST_CLIENT_ERROR: std::sync::Mutex<Option<std::time::Instant>> =
    std::sync::Mutex::new(None);

fn client_error_is_news() -> bool {
    let Ok(mut last) = LAST_CLIENT_ERROR.lock() else {
        return true;
    };
    match *last {
        Some(t) if t.elapsed() < CLIENT_ERROR_EVERY => false,
        _ => {
            *last = Some(std::time::Instant::now());
            true
        }
    }
}

fn log_event(event: Event) {
    match event {
        Event::Connected => {
            if let Ok(mut last) = LAST_CLIENT_ERROR.lock() {
                *last = None;
            }
            tracing::info!("bus connected")
        }
        Event::Disconnected => tracing::warn!("bus disconnected; reconnecting"),
        Event::LameDuckMode => tracing::warn!("bus server entering lame duck mode"),
        Event::Draining | Event::Closed => tracing::info!(%event, "bus connection"),
        // Permission violations arrive here: the denied publish itself just gets no ack.
        Event::ServerError(e) => tracing::warn!(error = %e, "bus server error"),
        Event::ClientError(e) if client_error_is_news() => {
            tracing::warn!(error = %e, "bus client error (repeats are logged at debug level for 30 s)")
        }
        Event::ClientError(e) => tracing::debug!(error = %e, "bus client error"),
        Event::SlowConsumer(sid) => tracing::warn!(sid, "bus subscription too slow"),
    }
}

/// Creates or checks both streams. Idempotent: an existing stream with the same subjects and
/// retention is kept, its limits updated to `cfg`; other subjects or retention is an error.
pub async fn ensure_streams(js: &jetstream::Context, cfg: &BusConfig) -> Result<(), BusError> {
    ensure_stream(js, main_stream(cfg)).await?;
    ensure_stream(js, dead_stream(cfg)).await
}

/// The main stream: captures and sessions of every sensor.
///
/// Work-queue retention: a message is deleted once a collector acks it and only one consumer
/// may cover a subject, so collectors sharing one durable consumer split the work and nothing
/// is stored twice. File storage, so a server restart loses nothing unacked. Discard `new`:
/// a full stream refuses publishes (the sensor keeps its copy) instead of dropping old ones.
pub fn main_stream(cfg: &BusConfig) -> stream::Config {
    let subjects = cfg.subjects();
    stream::Config {
        name: cfg.stream.clone(),
        description: Some("spamhattan captures and sessions, sensor to collector".into()),
        subjects: vec![subjects.all_captures(), subjects.all_sessions()],
        retention: stream::RetentionPolicy::WorkQueue,
        storage: stream::StorageType::File,
        discard: stream::DiscardPolicy::New,
        max_bytes: limit(cfg.max_bytes),
        max_messages: -1,
        max_messages_per_subject: -1,
        max_consumers: -1,
        num_replicas: 1,
        duplicate_window: Duration::from_secs(cfg.duplicate_window_secs),
        ..Default::default()
    }
}

/// The dead-letter stream: refused payloads, kept for inspection, bounded by size and age.
pub fn dead_stream(cfg: &BusConfig) -> stream::Config {
    stream::Config {
        name: cfg.dead_stream(),
        description: Some("spamhattan payloads the collector refused".into()),
        subjects: vec![cfg.subjects().all_dead()],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        discard: stream::DiscardPolicy::Old,
        max_bytes: limit(cfg.dead_max_bytes),
        max_messages: -1,
        max_messages_per_subject: -1,
        max_consumers: -1,
        num_replicas: 1,
        max_age: Duration::from_secs(cfg.dead_max_age_secs),
        ..Default::default()
    }
}

/// JetStream's "unlimited" is -1; the config says 0.
fn limit(bytes: u64) -> i64 {
    match i64::try_from(bytes) {
        Ok(0) | Err(_) => -1,
        Ok(n) => n,
    }
}

async fn ensure_stream(js: &jetstream::Context, want: stream::Config) -> Result<(), BusError> {
    let name = want.name.clone();
    let setup = |detail: String| BusError::Setup {
        what: format!("stream {name}"),
        detail,
    };
    let existing = match js.get_stream(&name).await {
        Ok(mut s) => Some(
            s.info()
                .await
                .map_err(|e| setup(e.to_string()))?
                .config
                .clone(),
        ),
        Err(e) if is_not_found(&e) => None,
        Err(e) => return Err(setup(e.to_string())),
    };
    let Some(have) = existing else {
        tracing::info!(stream = %name, subjects = ?want.subjects, "creating stream");
        return match js.create_stream(want.clone()).await {
            Ok(_) => Ok(()),
            // Another collector created it meanwhile: check what it made.
            Err(e) => match js.get_stream(&name).await {
                Ok(mut s) => {
                    let have = s
                        .info()
                        .await
                        .map_err(|e| setup(e.to_string()))?
                        .config
                        .clone();
                    adopt(js, have, want).await
                }
                Err(_) => Err(setup(e.to_string())),
            },
        };
    };
    adopt(js, have, want).await
}

/// Accepts an existing stream if its subjects and retention are ours, updating its limits.
async fn adopt(
    js: &jetstream::Context,
    have: stream::Config,
    want: stream::Config,
) -> Result<(), BusError> {
    let mut have_subjects = have.subjects.clone();
    let mut want_subjects = want.subjects.clone();
    have_subjects.sort();
    want_subjects.sort();
    if have_subjects != want_subjects {
        return Err(BusError::StreamConflict {
            stream: want.name,
            detail: format!("stores {have_subjects:?}, the bus needs {want_subjects:?}"),
        });
    }
    if have.retention != want.retention {
        return Err(BusError::StreamConflict {
            stream: want.name,
            detail: format!(
                "has retention {:?}, the bus needs {:?}",
                have.retention, want.retention
            ),
        });
    }
    let same_limits = have.max_bytes == want.max_bytes
        && have.max_age == want.max_age
        && have.discard == want.discard
        && (want.duplicate_window.is_zero() || have.duplicate_window == want.duplicate_window);
    if same_limits {
        return Ok(());
    }
    tracing::info!(stream = %want.name, "updating stream limits");
    let name = want.name.clone();
    js.update_stream(want)
        .await
        .map(|_| ())
        .map_err(|e| BusError::Setup {
            what: format!("stream {name}"),
            detail: e.to_string(),
        })
}

fn is_not_found(e: &jetstream::context::GetStreamError) -> bool {
    matches!(
        e.kind(),
        jetstream::context::GetStreamErrorKind::JetStream(js)
            if js.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
    )
}

/// Whether an I/O error text from the connect is a TLS handshake failure (rustls's wording:
/// "invalid peer certificate: UnknownIssuer", "received fatal alert: BadCertificate").
fn tls_failure(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    ["certificate", "fatal alert", "handshake", "tls"]
        .iter()
        .any(|m| d.contains(m))
}

#[cfg(test)]
mod tls_failure_tests {
    use super::tls_failure;

    #[test]
    fn handshake_failures_are_told_from_an_unreachable_server() {
        for tls in [
            "IO error: invalid peer certificate: UnknownIssuer",
            "IO error: invalid peer certificate: BadSignature",
            "IO error: received fatal alert: BadCertificate",
            "IO error: received fatal alert: CertificateRequired",
        ] {
            assert!(tls_failure(tls), "{tls}");
        }
        for down in [
            "IO error: Connection refused (os error 111)",
            "IO error: Connection reset by peer (os error 104)",
            "timed out",
        ] {
            assert!(!tls_failure(down), "{down}");
        }
    }
}
