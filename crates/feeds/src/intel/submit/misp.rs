//! MISP REST requests: `POST <base>/events/add` with the event the MISP feed writer builds
//! (`{"Event": {...}}`), and `POST <base>/events/edit/<uuid>` when the instance already has
//! that event (a campaign pushed before that grew since). Authentication is the automation
//! key in `Authorization`; `Accept` and `Content-Type` are `application/json`, as the MISP
//! API requires.

use super::{ConnectorConfig, Request};
use serde_json::Value;

/// `<base path>/events/add`, without a doubled slash.
pub fn add_path(base_path: &str) -> String {
    format!("{}/events/add", base_path.trim_end_matches('/'))
}

/// `<base path>/events/edit/<uuid>`.
pub fn edit_path(base_path: &str, uuid: uuid::Uuid) -> String {
    format!("{}/events/edit/{uuid}", base_path.trim_end_matches('/'))
}

fn request(cfg: &ConnectorConfig, path: String, event: &Value) -> Request {
    let mut headers = vec![("Accept", "application/json".to_owned())];
    if let Some(k) = &cfg.api_key {
        headers.push(("Authorization", k.clone()));
    }
    let attributes = event["Event"]["Attribute"].as_array().map_or(0, Vec::len)
        + event["Event"]["Object"].as_array().map_or(0, Vec::len);
    Request {
        path: Some(path),
        content_type: "application/json".to_owned(),
        headers,
        body: serde_json::to_vec(event).unwrap_or_default(),
        summary: event.clone(),
        items: attributes,
    }
}

/// Creates the event.
pub fn add(cfg: &ConnectorConfig, base_path: &str, event: &Value) -> Request {
    request(cfg, add_path(base_path), event)
}

/// Updates the event `uuid` with `event` (attributes matched by their UUIDs).
pub fn edit(cfg: &ConnectorConfig, base_path: &str, uuid: uuid::Uuid, event: &Value) -> Request {
    request(cfg, edit_path(base_path, uuid), event)
}

/// Whether a refused `/events/add` means "this UUID exists": MISP answers 403 (older
/// versions) or 409 with a message saying so.
pub fn already_exists(status: u16, body: &[u8]) -> bool {
    matches!(status, 403 | 409)
        && String::from_utf8_lossy(body)
            .to_ascii_lowercase()
            .contains("already exist")
}
