//! Calls to the other services over HTTP, through the contract's typed clients: one pooled
//! HTTP client (connections are reused), a timeout on every call, the caller's
//! `X-Request-Id` passed on, and failures sorted into what the saga needs to know: timed
//! out, unavailable, or answered with a refusal.

pub mod restaurants;
pub mod users;

use std::time::Duration;

use contract::{ClientError, ErrorBody};

/// Why a call to another service did not succeed.
#[derive(Debug)]
pub enum UpstreamError {
    /// No answer within the timeout. The call may or may not have taken effect.
    Timeout { service: &'static str },
    /// Connection refused or reset, a 5xx answer, or an answer not in the contract's shape.
    Unavailable {
        service: &'static str,
        detail: String,
    },
    /// A 4xx answer: the other service refused the request (with its JSON error body, when
    /// it sent one).
    Refused {
        status: u16,
        body: Option<ErrorBody>,
    },
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamError::Timeout { service } => write!(f, "{service} service timed out"),
            UpstreamError::Unavailable { service, detail } => {
                write!(f, "{service} service unavailable: {detail}")
            }
            UpstreamError::Refused { status, body } => match body {
                Some(body) => write!(f, "refused with {status}: {body}"),
                None => write!(f, "refused with {status}"),
            },
        }
    }
}

/// The shared HTTP client.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(2)))
        .pool_max_idle_per_host(64)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Sorts a failed call of `service` into what the saga needs to know.
pub(crate) fn upstream_error(service: &'static str, error: ClientError) -> UpstreamError {
    match error {
        error if error.is_timeout() => UpstreamError::Timeout { service },
        ClientError::Transport(error) => UpstreamError::Unavailable {
            service,
            detail: error.to_string(),
        },
        ClientError::Status { status, body } if status.is_server_error() => {
            UpstreamError::Unavailable {
                service,
                detail: format!(
                    "{status}: {}",
                    body.as_ref().map_or("", |b| b.message.as_str())
                ),
            }
        }
        ClientError::Status { status, body } => UpstreamError::Refused {
            status: status.as_u16(),
            body,
        },
        ClientError::Decode { status, error } => UpstreamError::Unavailable {
            service,
            detail: format!("unexpected answer ({status}): {error}"),
        },
    }
}
