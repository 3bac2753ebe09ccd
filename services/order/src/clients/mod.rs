//! Calls to the other services over HTTP: one pooled client (connections are reused), a
//! timeout on every call, the caller's `X-Request-Id` passed on, and failures sorted into
//! what the saga needs to know: timed out, unavailable, or answered with a refusal.

pub mod restaurants;
pub mod users;

use std::time::Duration;

use serde_json::Value;

/// Why a call to another service did not succeed.
#[derive(Debug)]
pub enum UpstreamError {
    /// No answer within the timeout. The call may or may not have taken effect.
    Timeout { service: &'static str },
    /// Connection refused or reset, or a 5xx answer.
    Unavailable {
        service: &'static str,
        detail: String,
    },
    /// A 4xx answer: the other service refused the request.
    Refused { status: u16, body: Value },
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamError::Timeout { service } => write!(f, "{service} service timed out"),
            UpstreamError::Unavailable { service, detail } => {
                write!(f, "{service} service unavailable: {detail}")
            }
            UpstreamError::Refused { status, body } => write!(f, "refused with {status}: {body}"),
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

/// Sends a request and sorts the outcome.
pub(crate) async fn send(
    service: &'static str,
    request: reqwest::RequestBuilder,
    request_id: Option<&str>,
) -> Result<Value, UpstreamError> {
    let request = match request_id {
        Some(id) => request.header("x-request-id", id),
        None => request,
    };
    let response = request.send().await.map_err(|e| classify(service, e))?;
    let status = response.status();
    let body: Value = match response.bytes().await {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        Err(e) => return Err(classify(service, e)),
    };
    if status.is_success() {
        Ok(body)
    } else if status.is_server_error() {
        Err(UpstreamError::Unavailable {
            service,
            detail: format!("{status}: {}", body["message"].as_str().unwrap_or("")),
        })
    } else {
        Err(UpstreamError::Refused {
            status: status.as_u16(),
            body,
        })
    }
}

fn classify(service: &'static str, error: reqwest::Error) -> UpstreamError {
    if error.is_timeout() {
        UpstreamError::Timeout { service }
    } else {
        UpstreamError::Unavailable {
            service,
            detail: error.to_string(),
        }
    }
}
