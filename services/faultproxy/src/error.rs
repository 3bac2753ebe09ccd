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

    /// A server-side failure such as a listen address already in use (Toxiproxy: 500).
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::new(detail.to_string(), StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// One constructor per row: Toxiproxy's fixed errors, each a message and a status.
macro_rules! fixed_errors {
    ($($name:ident = $status:ident, $message:literal;)*) => {
        impl ApiError {
            $(
                #[doc = concat!("`", $message, "`")]
                pub fn $name() -> Self {
                    Self::new($message, StatusCode::$status)
                }
            )*
        }
    };
}

fixed_errors! {
    proxy_not_found = NOT_FOUND, "proxy not found";
    proxy_exists = CONFLICT, "proxy already exists";
    invalid_stream = BAD_REQUEST, "stream was invalid, can be either upstream or downstream";
    invalid_toxic_type = BAD_REQUEST, "invalid toxic type";
    toxic_exists = CONFLICT, "toxic already exists";
    toxic_not_found = NOT_FOUND, "toxic not found";
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status_code(), axum::Json(&self)).into_response()
    }
}
