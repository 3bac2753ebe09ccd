//! Typed async clients of the three services, on reqwest: each method sends one call of
//! the contract and answers its typed body, or a [`ClientError`] carrying the status and
//! the JSON error body. Callers bring their own `reqwest::Client` when they need their
//! own timeouts or connection pool ([`ServiceClient::with_http`]).
//!
//! [`ServiceClient`] holds what every service serves (`/health`, `/ready`, `/chaos`);
//! [`UserClient`], [`RestaurantClient`] and [`OrderClient`] add each service's own calls
//! and dereference to it.

/// Declares a service's client: a [`ServiceClient`] newtype with the same constructors and
/// `Deref` to the shared calls (health, ready, `/chaos`), so each service's file holds only
/// its own endpoints.
macro_rules! service_client {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name(super::ServiceClient);

        impl $name {
            pub fn new(base: &str) -> Self {
                Self(super::ServiceClient::new(base))
            }

            pub fn with_http(http: reqwest::Client, base: &str) -> Self {
                Self(super::ServiceClient::with_http(http, base))
            }

            /// Sends `X-Admin-Token` on every call (see
            /// [`ServiceClient::with_admin_token`](super::ServiceClient::with_admin_token)).
            pub fn with_admin_token(self, token: Option<String>) -> Self {
                Self(self.0.with_admin_token(token))
            }
        }

        impl std::ops::Deref for $name {
            type Target = super::ServiceClient;

            fn deref(&self) -> &super::ServiceClient {
                &self.0
            }
        }
    };
}

mod order;
mod restaurant;
mod user;

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use order::OrderClient;
pub use restaurant::{RestaurantClient, StockCaller};
pub use user::UserClient;

use crate::error::ErrorBody;
use crate::ops::{ChaosSnapshot, DelayRequest, ErrorRequest, Health, Readiness, SwitchName};

/// Why a call did not answer the expected body.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No (complete) answer: refused, reset, timed out ([`ClientError::is_timeout`]).
    #[error("no answer: {0}")]
    Transport(#[source] reqwest::Error),
    /// A non-2xx answer, with its JSON error body when it carried one.
    #[error("HTTP {status}: {}", describe(.body))]
    Status {
        status: StatusCode,
        body: Option<ErrorBody>,
    },
    /// A 2xx answer whose body is not the contract's shape.
    #[error("unexpected answer (HTTP {status}): {error}")]
    Decode {
        status: StatusCode,
        #[source]
        error: serde_json::Error,
    },
}

fn describe(body: &Option<ErrorBody>) -> String {
    body.as_ref()
        .map_or_else(|| "no JSON error body".to_string(), ToString::to_string)
}

impl ClientError {
    /// The call got no answer within the client's timeout (it may still have taken effect).
    pub fn is_timeout(&self) -> bool {
        matches!(self, ClientError::Transport(e) if e.is_timeout())
    }

    /// The HTTP status, when there was an answer.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Transport(_) => None,
            ClientError::Status { status, .. } | ClientError::Decode { status, .. } => {
                Some(*status)
            }
        }
    }

    /// The JSON error body of a non-2xx answer.
    pub fn body(&self) -> Option<&ErrorBody> {
        match self {
            ClientError::Status { body, .. } => body.as_ref(),
            _ => None,
        }
    }

    /// The error body's machine code (`error`), e.g. `insufficient_stock`.
    pub fn code(&self) -> Option<&str> {
        self.body().map(|body| body.error.as_str())
    }
}

/// A successful answer with its status and headers, for callers that need more than the
/// body (`X-Cache`, 200 vs 201).
#[derive(Debug, Clone)]
pub struct Answer<T> {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: T,
}

impl<T> Answer<T> {
    /// The `X-Cache` header (`HIT` or `MISS`) of a cached read.
    pub fn cache(&self) -> Option<&str> {
        self.headers.get("x-cache").and_then(|v| v.to_str().ok())
    }
}

/// One service's base URL and the HTTP client calls go through; serves the operational
/// calls every service has.
#[derive(Clone, Debug)]
pub struct ServiceClient {
    http: reqwest::Client,
    base: String,
    admin_token: Option<String>,
}

impl ServiceClient {
    /// A client of the service at `base` (e.g. `http://127.0.0.1:8002`, or a gateway
    /// prefix such as `http://127.0.0.1:8080/api/restaurants`) with a default HTTP client.
    pub fn new(base: &str) -> Self {
        Self::with_http(reqwest::Client::new(), base)
    }

    /// A client of the service at `base` through `http` (its timeouts and pool).
    pub fn with_http(http: reqwest::Client, base: &str) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            admin_token: None,
        }
    }

    /// Sends `X-Admin-Token` on every call (admin and fault switch calls need it when the
    /// service has an admin token configured).
    pub fn with_admin_token(mut self, token: Option<String>) -> Self {
        self.admin_token = token;
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// A request to `path` of this service, carrying the admin token when set.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.admin_token {
            Some(token) => request.header("X-Admin-Token", token),
            None => request,
        }
    }

    /// Sends `request` and reads a 2xx answer as `T`, anything else as [`ClientError`].
    pub async fn call<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
    ) -> Result<Answer<T>, ClientError> {
        let response = request.send().await.map_err(ClientError::Transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(ClientError::Transport)?;
        if !status.is_success() {
            let body = serde_json::from_slice(&bytes).ok();
            return Err(ClientError::Status { status, body });
        }
        let body = serde_json::from_slice(&bytes)
            .map_err(|error| ClientError::Decode { status, error })?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    async fn body<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, ClientError> {
        Ok(self.call(request).await?.body)
    }

    async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, ClientError> {
        self.body(self.request(Method::POST, path).json(body)).await
    }

    /// `GET /health`.
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.body(self.request(Method::GET, "/health")).await
    }

    /// `GET /ready`: `Ok` when ready; a 503 is [`ClientError::Status`] (its body is a
    /// [`Readiness`], not an error body: see [`ServiceClient::readiness`]).
    pub async fn ready(&self) -> Result<Readiness, ClientError> {
        self.body(self.request(Method::GET, "/ready")).await
    }

    /// `GET /ready` whatever the answer: its status and body.
    pub async fn readiness(&self) -> Result<(StatusCode, Readiness), ClientError> {
        let response = self
            .request(Method::GET, "/ready")
            .send()
            .await
            .map_err(ClientError::Transport)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(ClientError::Transport)?;
        let body = serde_json::from_slice(&bytes)
            .map_err(|error| ClientError::Decode { status, error })?;
        Ok((status, body))
    }

    /// `GET /chaos`: the fault settings in force.
    pub async fn chaos(&self) -> Result<ChaosSnapshot, ClientError> {
        self.body(self.request(Method::GET, "/chaos")).await
    }

    /// `DELETE /chaos`: every fault off.
    pub async fn clear_faults(&self) -> Result<ChaosSnapshot, ClientError> {
        self.body(self.request(Method::DELETE, "/chaos")).await
    }

    /// `POST /chaos/delay`.
    pub async fn set_delay(&self, delay_ms: i64) -> Result<ChaosSnapshot, ClientError> {
        self.post_json("/chaos/delay", &DelayRequest { delay_ms })
            .await
    }

    /// `POST /chaos/error`: random 500s on or off (`percent` defaults to 50).
    pub async fn set_error(
        &self,
        enable: bool,
        percent: Option<i64>,
    ) -> Result<ChaosSnapshot, ClientError> {
        self.post_json("/chaos/error", &ErrorRequest { enable, percent })
            .await
    }

    /// `POST /chaos/{switch}`: one of the service's own switches (see
    /// [`crate::ops::PAYMENT_FAIL`], [`crate::ops::INVENTORY_DELAY`]).
    pub async fn set_switch(
        &self,
        switch: SwitchName,
        value: u64,
    ) -> Result<ChaosSnapshot, ClientError> {
        let body = serde_json::Map::from_iter([(switch.field.to_string(), value.into())]);
        self.post_json(&format!("/chaos/{}", switch.name), &body)
            .await
    }
}

/// Adds `X-Request-Id` when the caller has one to pass on.
fn with_request_id(request: RequestBuilder, request_id: Option<&str>) -> RequestBuilder {
    match request_id {
        Some(id) => request.header("x-request-id", id),
        None => request,
    }
}
