//! Safe downloads: `GET /api/v1/messages/{id}/raw` and `/api/v1/messages/{id}/attachments/{part}`.
//!
//! Hostile bytes never reach the browser as something it would open: both answers are a zip
//! encrypted with the password `infected` (the convention malware analysts use, so antivirus
//! on the analyst's machine leaves it alone and nobody opens it by a double click), served as
//! `application/zip` with `nosniff` and `Content-Disposition: attachment`. The encryption is
//! ZipCrypto: weak, but every unzip, 7-Zip and Python `zipfile` opens it, which is the point.
//! File names, outside and inside the zip, are reduced to `[A-Za-z0-9._-]`.
//!
//! `{id}` is a sighting UUID or a message SHA-256 (hex); `{part}` is the MIME part index shown
//! in the console's MIME tree ([`crate::mail_view::PartInfo::index`]).

use crate::error::{ApiError, JsonError};
use crate::mail_view;
use crate::principal::Principal;
use crate::state::Console;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use model::MessageId;
use std::io::Write;
use std::sync::Arc;
use store::{RawLookup, Store};
use zip::unstable::write::FileOptionsExt;
use zip::write::SimpleFileOptions;

/// The password of every download zip.
pub const ZIP_PASSWORD: &str = "infected";

/// Longest sanitised file name (without `.zip`). File systems allow 255 bytes; a crafted
/// 10,000-character attachment name only has to stay recognisable.
pub const MAX_NAME_CHARS: usize = 100;

/// The download routes (merged into `/api/v1` by `api::routes`).
pub fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/api/v1/messages/{id}/raw", get(raw))
        .route("/api/v1/messages/{id}/attachments/{part}", get(attachment))
}

async fn raw(
    State(console): State<Arc<Console>>,
    _who: Principal,
    Path(id): Path<String>,
) -> Result<Response, JsonError> {
    let store = console.store.clone();
    let zip = blocking(move || {
        let (message, raw) = raw_of(&store, &id)?;
        let name = format!("message-{}.eml", &message.to_hex()[..16]);
        zip_one(&name, &raw).map(|z| (name, z))
    })
    .await?;
    Ok(zip_response(&zip.0, zip.1))
}

async fn attachment(
    State(console): State<Arc<Console>>,
    _who: Principal,
    Path((id, part)): Path<(String, String)>,
) -> Result<Response, JsonError> {
    let part: usize = part.parse().map_err(|_| {
        ApiError::bad_request("the part must be a MIME part index (a small number), like 2")
    })?;
    let store = console.store.clone();
    let zip = blocking(move || {
        let (message, raw) = raw_of(&store, &id)?;
        let (bytes, declared) = mail_view::part_bytes(&raw, part).ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "Not Found",
                format!("the message has no downloadable MIME part {part}"),
            )
        })?;
        let fallback = format!("message-{}-part-{part}.bin", &message.to_hex()[..16]);
        let name = sanitise_name(declared.as_deref().unwrap_or(""), &fallback);
        zip_one(&name, &bytes).map(|z| (name, z))
    })
    .await?;
    Ok(zip_response(&zip.0, zip.1))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, JsonError> {
    Ok(tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal("download task", &e))??)
}

/// The message named by `id` (sighting UUID or SHA-256 hex) and its raw bytes.
fn raw_of(store: &Store, id: &str) -> Result<(MessageId, Vec<u8>), ApiError> {
    let message = message_of(store, id)?.ok_or_else(ApiError::not_found)?;
    match store
        .raw(&message)
        .map_err(|e| ApiError::internal("raw read", &e))?
    {
        RawLookup::Found(raw) => Ok((message, raw)),
        RawLookup::Purged => Err(ApiError::new(
            axum::http::StatusCode::GONE,
            "Gone",
            "retention removed this message's raw bytes; its sightings and report remain",
        )),
        RawLookup::Unknown => Err(ApiError::not_found()),
    }
}

/// Resolves a sighting UUID or a message SHA-256 (64 hex digits) to the message id.
/// A malformed id is a 400 that says which forms are accepted.
pub(crate) fn message_of(store: &Store, id: &str) -> Result<Option<MessageId>, ApiError> {
    if let Some(m) = parse_sha256(id) {
        return Ok(Some(m));
    }
    let sighting = uuid::Uuid::parse_str(id).map_err(|_| {
        ApiError::bad_request("the id must be a sighting UUID or a message SHA-256 (64 hex digits)")
    })?;
    Ok(store
        .sighting(sighting)
        .map_err(|e| ApiError::internal("sighting read", &e))?
        .map(|s| s.message_id))
}

fn parse_sha256(s: &str) -> Option<MessageId> {
    if s.len() == 64 { s.parse().ok() } else { None }
}

/// `name` reduced to ASCII letters, digits and `._-`, with no leading dot, no `..`, at most
/// [`MAX_NAME_CHARS`]; `fallback` when nothing is left.
pub fn sanitise_name(name: &str, fallback: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if out.len() >= MAX_NAME_CHARS {
            break;
        }
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            c
        } else {
            '_'
        };
        // No `..` (a path component on extraction) and no run of `_` from a foreign name.
        if (c == '.' || c == '_') && out.ends_with(c) {
            continue;
        }
        out.push(c);
    }
    let out = out.trim_start_matches(['.', '_', '-']).to_owned();
    if out.is_empty() || out.chars().all(|c| c == '.') {
        if fallback.is_empty() {
            return "download".into();
        }
        return sanitise_name(fallback, "");
    }
    out
}

/// A zip holding `bytes` as `name`, encrypted with [`ZIP_PASSWORD`].
pub fn zip_one(name: &str, bytes: &[u8]) -> Result<Vec<u8>, ApiError> {
    let fail = |e: &dyn std::fmt::Display| ApiError::internal("zip writing", e);
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .with_deprecated_encryption(ZIP_PASSWORD.as_bytes())
        .map_err(|e| fail(&e))?;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::with_capacity(bytes.len() / 2)));
    w.start_file(name, options).map_err(|e| fail(&e))?;
    w.write_all(bytes).map_err(|e| fail(&e))?;
    Ok(w.finish().map_err(|e| fail(&e))?.into_inner())
}

fn zip_response(inner_name: &str, zip: Vec<u8>) -> Response {
    // `inner_name` is already sanitised, so it needs no quoting inside the header.
    let disposition = format!("attachment; filename=\"{inner_name}.zip\"");
    let mut r = zip.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_reduced_to_a_safe_alphabet() {
        assert_eq!(sanitise_name("invoice.pdf", "x"), "invoice.pdf");
        assert_eq!(sanitise_name("../../etc/passwd", "x"), "etc_passwd");
        assert_eq!(sanitise_name("..\\..\\boot.ini", "x"), "boot.ini");
        assert_eq!(sanitise_name("a..b", "x"), "a.b");
        assert_eq!(sanitise_name("\u{202e}fdp.exe", "x"), "fdp.exe");
        assert_eq!(sanitise_name("\"><img src=x>.js", "x"), "img_src_x_.js");
        assert_eq!(sanitise_name("...", "fallback.bin"), "fallback.bin");
        assert_eq!(sanitise_name("", ""), "download");
        assert_eq!(sanitise_name(&"a".repeat(500), "x").len(), MAX_NAME_CHARS);
    }

    #[test]
    fn sha256_ids_parse() {
        let id = MessageId::of(b"x");
        assert_eq!(parse_sha256(&id.to_hex()), Some(id));
        assert_eq!(parse_sha256("zz"), None);
        assert_eq!(parse_sha256(&"é".repeat(32)), None);
    }
}
