//! `[bus]` settings shared by `spamhattan sensor` and `spamhattan collector`.

use crate::subject::{Subjects, valid_prefix};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_URL: &str = "nats://127.0.0.1:4222";
pub const DEFAULT_STREAM: &str = "SPAMHATTAN";
pub const DEFAULT_PREFIX: &str = "spamhattan";
/// NATS's own default reply prefix.
pub const DEFAULT_INBOX_PREFIX: &str = "_INBOX";
/// Longest stream name: the dead-letter stream appends `_DEAD`, and names become file names
/// in the server's store directory.
pub const MAX_STREAM_NAME: usize = 48;
/// Upper bound of `max_ack_pending`: each unacked message may be held in a collector's memory
/// (up to 64 MiB each in theory), so the bound is what keeps a collector's memory finite.
pub const MAX_ACK_PENDING_LIMIT: i64 = 65_536;

/// Connection, authentication, TLS, stream and consumer settings of the bus.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    /// One server URL or a comma-separated list (`nats://a:4222,nats://b:4222`).
    pub url: String,
    /// The main stream; the dead-letter stream is `<stream>_DEAD`.
    pub stream: String,
    pub subject_prefix: String,
    /// Prefix of this client's reply subjects (publish acks, fetches). Give each user its own
    /// (`_INBOX.sensor-a`) and allow it only `<inbox_prefix>.>` on the server: with a shared
    /// `_INBOX.>` a compromised sensor could subscribe to the collector's fetch replies and
    /// read every other sensor's captures.
    pub inbox_prefix: String,

    // Authentication: at most one of user+password, token, nkey seed, credentials file.
    pub user: Option<String>,
    /// Printed (by `config check`) as `<redacted>`, as is `token`.
    #[serde(serialize_with = "redacted")]
    pub password: Option<String>,
    #[serde(serialize_with = "redacted")]
    pub token: Option<String>,
    /// File holding an nkey seed (`SU...`), e.g. made by `nk -gen user`.
    pub nkey_seed_file: Option<PathBuf>,
    /// A `.creds` file (JWT + seed) for operator-mode servers.
    pub credentials_file: Option<PathBuf>,

    /// CA bundle (PEM) to verify the server with, in addition to none: when set, only it.
    pub tls_ca_file: Option<PathBuf>,
    /// Client certificate and key (PEM) for servers that verify clients.
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// Refuse to talk to a server that does not offer TLS.
    pub tls_required: bool,

    /// How long JetStream remembers a `Nats-Msg-Id` to drop a re-published duplicate. 20 min
    /// covers a sensor that retries a batch after a long network outage.
    pub duplicate_window_secs: u64,
    pub connect_timeout_ms: u64,
    /// Wait for a publish ack or a JetStream API answer.
    pub request_timeout_ms: u64,
    /// Bound of the main stream in bytes; 0 = unlimited. When full, publishes are refused
    /// (discard `new`), so sensors see back-pressure instead of the bus dropping old captures.
    pub max_bytes: u64,
    /// Bound of the dead-letter stream; when full, its oldest entries go.
    pub dead_max_bytes: u64,
    /// Age after which dead letters are dropped.
    pub dead_max_age_secs: u64,
    /// Time a collector has to ack a delivery before the server hands it to another collector.
    pub ack_wait_secs: u64,
    /// Deliveries handed out and not yet acked, across all collectors sharing the consumer.
    pub max_ack_pending: i64,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_URL.into(),
            stream: DEFAULT_STREAM.into(),
            subject_prefix: DEFAULT_PREFIX.into(),
            inbox_prefix: DEFAULT_INBOX_PREFIX.into(),
            user: None,
            password: None,
            token: None,
            nkey_seed_file: None,
            credentials_file: None,
            tls_ca_file: None,
            tls_cert_file: None,
            tls_key_file: None,
            tls_required: false,
            duplicate_window_secs: 1200,
            connect_timeout_ms: 5_000,
            request_timeout_ms: 10_000,
            max_bytes: 0,
            dead_max_bytes: 1024 * 1024 * 1024,
            dead_max_age_secs: 30 * 24 * 3600,
            ack_wait_secs: 60,
            max_ack_pending: 1024,
        }
    }
}

impl fmt::Debug for BusConfig {
    /// Everything but the password and the token, which show as `<redacted>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("BusConfig")
            .field("url", &self.url)
            .field("stream", &self.stream)
            .field("subject_prefix", &self.subject_prefix)
            .field("inbox_prefix", &self.inbox_prefix)
            .field("user", &self.user)
            .field("password", &redact(&self.password))
            .field("token", &redact(&self.token))
            .field("nkey_seed_file", &self.nkey_seed_file)
            .field("credentials_file", &self.credentials_file)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("tls_cert_file", &self.tls_cert_file)
            .field("tls_key_file", &self.tls_key_file)
            .field("tls_required", &self.tls_required)
            .field("duplicate_window_secs", &self.duplicate_window_secs)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("max_bytes", &self.max_bytes)
            .field("dead_max_bytes", &self.dead_max_bytes)
            .field("dead_max_age_secs", &self.dead_max_age_secs)
            .field("ack_wait_secs", &self.ack_wait_secs)
            .field("max_ack_pending", &self.max_ack_pending)
            .finish()
    }
}

/// The one authentication method a config selects.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth<'a> {
    None,
    UserPassword(&'a str, &'a str),
    Token(&'a str),
    NkeySeedFile(&'a std::path::Path),
    CredentialsFile(&'a std::path::Path),
}

impl fmt::Debug for Auth<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Auth<'_> {
    /// How the method is named in messages (never the secret).
    pub fn name(&self) -> &'static str {
        match self {
            Auth::None => "no authentication",
            Auth::UserPassword(..) => "user and password",
            Auth::Token(_) => "token",
            Auth::NkeySeedFile(_) => "nkey seed",
            Auth::CredentialsFile(_) => "credentials file",
        }
    }
}

impl BusConfig {
    /// Checks every rule a field alone cannot express; `connect` calls it first.
    pub fn validate(&self) -> Result<(), String> {
        self.auth()?;
        if self.url.split(',').all(|u| u.trim().is_empty()) {
            return Err("bus.url is empty".into());
        }
        let stream_ok = !self.stream.is_empty()
            && self.stream.len() <= MAX_STREAM_NAME
            && model::valid_sensor_id(&self.stream);
        if !stream_ok {
            return Err(format!(
                "bus.stream must be 1 to {MAX_STREAM_NAME} characters of A-Z, a-z, 0-9, '_' or '-'"
            ));
        }
        if !valid_prefix(&self.subject_prefix) {
            return Err(
                "bus.subject_prefix must be '.'-separated tokens of A-Z, a-z, 0-9, '_' or '-'"
                    .into(),
            );
        }
        if !valid_prefix(&self.inbox_prefix) {
            return Err(
                "bus.inbox_prefix must be '.'-separated tokens of A-Z, a-z, 0-9, '_' or '-'".into(),
            );
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            return Err("bus.tls_cert_file and bus.tls_key_file go together".into());
        }
        for (name, value) in [
            ("duplicate_window_secs", self.duplicate_window_secs),
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("request_timeout_ms", self.request_timeout_ms),
            ("dead_max_age_secs", self.dead_max_age_secs),
            ("ack_wait_secs", self.ack_wait_secs),
        ] {
            if value == 0 {
                return Err(format!("bus.{name} must be positive"));
            }
        }
        if !(1..=MAX_ACK_PENDING_LIMIT).contains(&self.max_ack_pending) {
            return Err(format!(
                "bus.max_ack_pending must be 1 to {MAX_ACK_PENDING_LIMIT}"
            ));
        }
        if i64::try_from(self.max_bytes).is_err() || i64::try_from(self.dead_max_bytes).is_err() {
            return Err("bus.max_bytes and bus.dead_max_bytes must fit in 63 bits".into());
        }
        Ok(())
    }

    /// The selected authentication method; an error names the conflicting fields.
    pub fn auth(&self) -> Result<Auth<'_>, String> {
        let mut methods = Vec::new();
        match (&self.user, &self.password) {
            (Some(u), Some(p)) => methods.push(Auth::UserPassword(u, p)),
            (None, None) => {}
            _ => return Err("bus.user and bus.password go together".into()),
        }
        if let Some(t) = &self.token {
            methods.push(Auth::Token(t));
        }
        if let Some(p) = &self.nkey_seed_file {
            methods.push(Auth::NkeySeedFile(p));
        }
        if let Some(p) = &self.credentials_file {
            methods.push(Auth::CredentialsFile(p));
        }
        match methods.len() {
            0 => Ok(Auth::None),
            1 => Ok(methods.remove(0)),
            _ => Err(format!(
                "bus: choose one authentication method, not {}",
                methods
                    .iter()
                    .map(Auth::name)
                    .collect::<Vec<_>>()
                    .join(" and ")
            )),
        }
    }

    pub fn subjects(&self) -> Subjects {
        Subjects::new(&self.subject_prefix)
    }

    /// `<stream>_DEAD`.
    pub fn dead_stream(&self) -> String {
        format!("{}_DEAD", self.stream)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
}

fn redacted<S: serde::Serializer>(secret: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(_) => s.serialize_some("<redacted>"),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<BusConfig, serde_json::Error> {
        serde_json::from_str(text)
    }

    #[test]
    fn defaults_are_valid_and_local() {
        let cfg = parse("{}").expect("empty config");
        assert_eq!(cfg.url, DEFAULT_URL);
        assert_eq!(cfg.stream, "SPAMHATTAN");
        assert_eq!(cfg.dead_stream(), "SPAMHATTAN_DEAD");
        assert_eq!(cfg.duplicate_window_secs, 1200);
        assert_eq!(cfg.validate(), Ok(()));
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(parse(r#"{"pasword": "x"}"#).is_err());
    }

    #[test]
    fn at_most_one_auth_method() {
        let cfg = parse(r#"{"user": "a", "password": "b", "token": "t"}"#).expect("parse");
        let err = cfg.validate().expect_err("two methods");
        assert!(err.contains("user and password and token"), "{err}");
        let half = parse(r#"{"user": "a"}"#).expect("parse");
        assert!(half.validate().is_err());
        let one = parse(r#"{"nkey_seed_file": "/etc/x.nk"}"#).expect("parse");
        assert_eq!(one.auth().map(|a| a.name()), Ok("nkey seed"));
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let cfg = parse(r#"{"user": "sensor-a", "password": "hunter2"}"#).expect("parse");
        let tok = parse(r#"{"token": "s3cr3t-token"}"#).expect("parse");
        let text = format!("{cfg:?} {tok:?} {:?}", cfg.auth());
        assert!(
            !text.contains("hunter2") && !text.contains("s3cr3t"),
            "{text}"
        );
        assert!(
            text.contains("sensor-a") && text.contains("<redacted>"),
            "{text}"
        );
    }

    #[test]
    fn names_and_bounds_are_checked() {
        for bad in [
            r#"{"stream": "A.B"}"#,
            r#"{"stream": ""}"#,
            r#"{"subject_prefix": "a.*"}"#,
            r#"{"inbox_prefix": "_INBOX.>"}"#,
            r#"{"tls_cert_file": "c.pem"}"#,
            r#"{"ack_wait_secs": 0}"#,
            r#"{"max_ack_pending": 0}"#,
            r#"{"max_ack_pending": 100000}"#,
            r#"{"url": " , "}"#,
        ] {
            assert!(parse(bad).expect("parse").validate().is_err(), "{bad}");
        }
    }
}
