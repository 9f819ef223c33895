//! Standard Webhooks (standardwebhooks.com): the signature and the event body.
//!
//! The signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the signature header is
//! `v1,` followed by the base64 HMAC-SHA256 of it. The key is the base64-decoded part after
//! `whsec_` when the secret has that prefix (the spec's format), else the secret's own bytes
//! (receivers such as simple scripts often use a plain shared string).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use model::{Alert, Timestamp};
use serde::Serialize;
use sha2::Sha256;

/// The `type` of every event spamhattan sends.
pub const EVENT_TYPE: &str = "spamhattan.alert.raised";

/// The prefix of secrets in the Standard Webhooks format.
pub const SECRET_PREFIX: &str = "whsec_";

/// The HMAC key of a secret, or why it is unusable (empty, or bad base64 after `whsec_`).
pub fn signing_key(secret: &str) -> Result<Vec<u8>, String> {
    let key = match secret.strip_prefix(SECRET_PREFIX) {
        Some(encoded) => BASE64
            .decode(encoded)
            .map_err(|e| format!("secret after {SECRET_PREFIX} is not valid base64: {e}"))?,
        None => secret.as_bytes().to_vec(),
    };
    if key.is_empty() {
        return Err("secret is empty".to_owned());
    }
    Ok(key)
}

/// The `webhook-signature` value for one request.
///
/// A secret that [`signing_key`] rejects (configuration validation refuses those) is used as
/// raw bytes, so this stays total.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = signing_key(secret).unwrap_or_else(|_| secret.as_bytes().to_vec());
    sign_with_key(&key, id, timestamp, body)
}

/// [`sign`] with an already decoded key (the sink decodes once at start-up).
pub fn sign_with_key(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    /// When the alert was raised (the `webhook-timestamp` header is the sending time instead).
    #[serde(with = "time::serde::rfc3339")]
    timestamp: Timestamp,
    data: &'a Alert,
}

/// The Standard Webhooks body: `{"type":"spamhattan.alert.raised","timestamp":..,"data":<Alert>}`.
pub fn standard_body(alert: &Alert) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&Event {
        kind: EVENT_TYPE,
        timestamp: alert.created_at,
        data: alert,
    })
}
