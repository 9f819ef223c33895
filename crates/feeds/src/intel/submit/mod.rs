//! Submission connectors (opt-in): push what the sharing policy lets leave to abuse.ch's
//! URLhaus, ThreatFox and MalwareBazaar, and to a MISP instance's REST API.
//!
//! This module is pure: the connector section ([`ConnectorConfig`]), which indicators a
//! service takes ([`ConnectorKind::wants`]), the requests ([`Request`], built in `abusech.rs`
//! and `misp.rs` from policy output only, so nothing the policy withholds can be sent) and the
//! reading of the answers ([`response::judge`]). The binary's runner reads the store, keeps a
//! cursor per connector and sends through [`crate::http_client`].
//!
//! Layout: `config.rs` (the `[[feeds.connector]]` section), `abusech.rs` (URLhaus, ThreatFox,
//! MalwareBazaar bodies), `misp.rs` (event add/edit), `response.rs` (accepted, duplicate,
//! rejected, retry).

pub mod abusech;
mod config;
pub mod misp;
pub mod response;

pub use config::{
    ConnectorConfig, ConnectorKind, DEFAULT_BATCH, DEFAULT_EVERY_SECS, DEFAULT_TIMEOUT_SECS,
    MAX_BATCH, MAX_TAGS, MIN_EVERY_SECS,
};
pub use response::{Verdict, judge};

use serde_json::Value;

/// One HTTP request to a service, ready to send (and to print for `--dry-run`).
#[derive(Clone, PartialEq)]
pub struct Request {
    /// Path and query; `None` posts to the connector's URL.
    pub path: Option<String>,
    pub content_type: String,
    /// Headers besides the client's own (`Auth-Key`, `Authorization`, `Accept`).
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// What the request carries, for logs and `--dry-run`: the JSON body, or for multipart
    /// uploads the `json_data` part plus the file's name, size and SHA-256.
    pub summary: Value,
    /// Items it carries (indicators, files or events), for counting.
    pub items: usize,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("path", &self.path)
            .field("content_type", &self.content_type)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            )
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

impl Request {
    /// The request as one JSON object for `--dry-run`, with secrets replaced by `<redacted>`.
    pub fn describe(&self, connector: &str, url: &str) -> Value {
        let headers: serde_json::Map<String, Value> = self
            .headers
            .iter()
            .map(|(n, v)| {
                let shown = if is_secret_header(n) {
                    "<redacted>".to_owned()
                } else {
                    v.clone()
                };
                ((*n).to_owned(), Value::String(shown))
            })
            .collect();
        let target = match &self.path {
            Some(p) => join_url(url, p),
            None => url.to_owned(),
        };
        serde_json::json!({
            "connector": connector,
            "method": "POST",
            "url": target,
            "content_type": self.content_type,
            "headers": headers,
            "body": self.summary,
        })
    }
}

fn is_secret_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("auth-key") || name.eq_ignore_ascii_case("authorization")
}

/// `https://misp.example/` + `/events/add` without a doubled slash.
fn join_url(base: &str, path: &str) -> String {
    let origin = match base.find("://").map(|i| i + 3) {
        Some(start) => match base[start..].find('/') {
            Some(end) => &base[..start + end],
            None => base,
        },
        None => base,
    };
    format!("{origin}{path}")
}
