//! The one error type of every service, rendered as the contract's JSON error body
//! ([`ErrorBody`]): `{"error": "<machine code>", "message": "<human sentence>"}` plus
//! optional details.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use contract::ErrorBody;
use serde::Serialize;
use serde_json::{Map, Value};

/// An error answered to the caller with a status and a JSON body.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Map<String, Value>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Map::new(),
        }
    }

    /// Adds a detail field to the body.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }

    /// Adds every field of `details` (a struct of the contract, such as
    /// `contract::FailedOrder`) to the body.
    pub fn with_details(mut self, details: &impl Serialize) -> Self {
        match serde_json::to_value(details) {
            Ok(Value::Object(fields)) => self.details.extend(fields),
            Ok(other) => tracing::error!(details = %other, "error details are not an object"),
            Err(e) => tracing::error!(error = %e, "error details do not serialise"),
        }
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            message,
        )
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    /// A real bug or an unexpected failure of our own storage: 500, logged.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the service hit an unexpected error; see its logs",
        )
    }
    /// The service's own database did not answer: 503, so callers may retry.
    pub fn unavailable(err: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %err, "dependency unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "a dependency of this service is unavailable; try again shortly",
        )
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code.to_string(),
            message: self.message.clone(),
            details: self.details.clone(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

/// An error whose details carry `retry_after_secs` also sends the `Retry-After` header, so
/// throttled and busy answers say when to come back in the standard way too.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = self
            .details
            .get("retry_after_secs")
            .and_then(Value::as_u64)
            .map(|secs| secs.to_string());
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(secs) = retry_after
            && let Ok(value) = axum::http::HeaderValue::from_str(&secs)
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        response
    }
}

/// Database errors: a lost or refused connection is 503 (retryable), text PostgreSQL cannot
/// store (a NUL character) is the caller's 422, anything else a 500 bug.
impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        if db_unavailable(&err) {
            ApiError::unavailable(err)
        } else if db_invalid_text(&err) {
            ApiError::validation(
                "text fields must not contain NUL (\\u0000) characters: the database cannot store them",
            )
        } else {
            ApiError::internal(err)
        }
    }
}

/// Whether PostgreSQL refused a text value it cannot store or compare: SQLSTATE 22021
/// (`invalid byte sequence`, which a NUL character in any text parameter gives) or 22P05.
pub fn db_invalid_text(err: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr, sqlx};
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Database(db)))
        | DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Database(db))) => {
            matches!(db.code().as_deref(), Some("22021" | "22P05"))
        }
        _ => false,
    }
}

/// Whether a database error means the database, or the connection to it, is unavailable
/// (restarting, shutting down, unreachable, pool exhausted) rather than a bug.
pub fn db_unavailable(err: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr, sqlx};
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e {
                // The socket broke mid-query (e.g. the server was killed or restarted).
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => return true,
                // SQLSTATE 08xxx connection exception, 57P01–57P03 shutdown / starting up,
                // 53300 too many connections.
                sqlx::Error::Database(db) => {
                    if let Some(code) = db.code()
                        && (code.starts_with("08") || code.starts_with("57P") || code == "53300")
                    {
                        return true;
                    }
                }
                _ => {}
            }
        }
        _ => {}
    }
    let text = err.to_string();
    text.contains("connection") || text.contains("PoolTimedOut")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{DbErr, RuntimeErr, sqlx};

    #[test]
    fn retry_after_secs_is_also_the_header() {
        let busy = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "retry")
            .with("retry_after_secs", 3)
            .into_response();
        assert_eq!(busy.headers()[axum::http::header::RETRY_AFTER], "3");
        let plain = ApiError::not_found("nothing").into_response();
        assert!(
            !plain
                .headers()
                .contains_key(axum::http::header::RETRY_AFTER)
        );
    }

    #[test]
    fn a_broken_database_connection_is_503_not_500() {
        let eof = std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "expected to read 5 bytes",
        );
        let broken = DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Io(eof)));
        assert_eq!(
            ApiError::from(broken).status,
            StatusCode::SERVICE_UNAVAILABLE
        );
        let timed_out = DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::PoolTimedOut));
        assert_eq!(
            ApiError::from(timed_out).status,
            StatusCode::SERVICE_UNAVAILABLE
        );
        let bug = DbErr::Custom("no such column".into());
        assert_eq!(
            ApiError::from(bug).status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
