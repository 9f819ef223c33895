//! Error responses: TAXII error resources for `/taxii2/`, short plain text elsewhere.
//!
//! Handlers return `ApiError`; the module that owns the route decides the body shape by
//! converting it into [`TaxiiError`] or [`PlainError`]. Internal failures are logged here
//! once, with their cause, and answered with a generic message.

use crate::taxii::media::TAXII_MEDIA_TYPE;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// The challenge sent with every 401.
pub const CHALLENGE: &str = "Basic realm=\"spamhattan\"";

/// An HTTP error with a title and a human description (never a credential or a path on disk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub title: &'static str,
    pub description: String,
}

impl ApiError {
    pub fn new(status: StatusCode, title: &'static str, description: impl Into<String>) -> Self {
        ApiError {
            status,
            title,
            description: description.into(),
        }
    }

    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "credentials required",
        )
    }

    pub fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "Not Found", "no such resource")
    }

    pub fn bad_request(description: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "Bad Request", description)
    }

    /// A failure on our side: logged with its cause, answered without it.
    pub fn internal(context: &str, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(context, error = %cause, "web request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            "the server failed to answer; see its log",
        )
    }

    fn with_challenge(&self, mut r: Response) -> Response {
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(CHALLENGE),
            );
        }
        r
    }
}

/// An error answered as a TAXII 2.1 error resource (`title`, `description`, `http_status`).
#[derive(Debug)]
pub struct TaxiiError(pub ApiError);

impl From<ApiError> for TaxiiError {
    fn from(e: ApiError) -> Self {
        TaxiiError(e)
    }
}

impl IntoResponse for TaxiiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let body = serde_json::json!({
            "title": e.title,
            "description": e.description,
            "http_status": e.status.as_u16().to_string(),
        });
        let r = (
            e.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(TAXII_MEDIA_TYPE),
            )],
            body.to_string(),
        )
            .into_response();
        e.with_challenge(r)
    }
}

/// An error answered as one line of plain text.
#[derive(Debug)]
pub struct PlainError(pub ApiError);

impl From<ApiError> for PlainError {
    fn from(e: ApiError) -> Self {
        PlainError(e)
    }
}

impl IntoResponse for PlainError {
    fn into_response(self) -> Response {
        let e = self.0;
        let r = (
            e.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            format!("{}: {}\n", e.title, e.description),
        )
            .into_response();
        e.with_challenge(r)
    }
}

/// An error answered as JSON, for `/api/v1`:
/// `{"error": {"status": 400, "title": "Bad Request", "description": "..."}}`.
#[derive(Debug)]
pub struct JsonError(pub ApiError);

impl From<ApiError> for JsonError {
    fn from(e: ApiError) -> Self {
        JsonError(e)
    }
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        let e = self.0;
        let body = serde_json::json!({"error": {
            "status": e.status.as_u16(),
            "title": e.title,
            "description": e.description,
        }});
        let r = (
            e.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body.to_string(),
        )
            .into_response();
        e.with_challenge(r)
    }
}

/// Unknown paths: 404 in the shape of the part of the site they fall in.
pub async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/taxii2/") {
        TaxiiError(ApiError::not_found()).into_response()
    } else if uri.path().starts_with("/api/") {
        JsonError(ApiError::not_found()).into_response()
    } else {
        PlainError(ApiError::not_found()).into_response()
    }
}
