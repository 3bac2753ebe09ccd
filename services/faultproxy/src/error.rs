//! The API error: Toxiproxy's `{"error": "<message>", "status": <code>}` body with its status
//! code, and the named errors Toxiproxy's clients know (proxy not found, already exists, …).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error as Toxiproxy reports it: a message and an HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{error} ({status})")]
pub struct ApiError {
    /// Toxiproxy names the message field `error`.
    pub error: String,
    pub status: u16,
}

impl ApiError {
    pub fn new(message: impl Into<String>, status: StatusCode) -> Self {
        Self {
            error: message.into(),
            status: status.as_u16(),
        }
    }

    /// `bad request body: <detail>` (400), as Toxiproxy's `joinError(err, ErrBadRequestBody)`.
    pub fn bad_body(detail: impl std::fmt::Display) -> Self {
        Self::new(
            format!("bad request body: {detail}"),
            StatusCode::BAD_REQUEST,
        )
    }

    /// `missing required field: <field>` (400).
    pub fn missing_field(field: &str) -> Self {
        Self::new(
            format!("missing required field: {field}"),
            StatusCode::BAD_REQUEST,
        )
    }

    pub fn proxy_not_found() -> Self {
        Self::new("proxy not found", StatusCode::NOT_FOUND)
    }

    pub fn proxy_exists() -> Self {
        Self::new("proxy already exists", StatusCode::CONFLICT)
    }

    pub fn invalid_stream() -> Self {
        Self::new(
            "stream was invalid, can be either upstream or downstream",
            StatusCode::BAD_REQUEST,
        )
    }

    pub fn invalid_toxic_type() -> Self {
        Self::new("invalid toxic type", StatusCode::BAD_REQUEST)
    }

    pub fn toxic_exists() -> Self {
        Self::new("toxic already exists", StatusCode::CONFLICT)
    }

    pub fn toxic_not_found() -> Self {
        Self::new("toxic not found", StatusCode::NOT_FOUND)
    }

    /// A server-side failure such as a listen address already in use (Toxiproxy: 500).
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::new(detail.to_string(), StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status_code(), axum::Json(&self)).into_response()
    }
}
