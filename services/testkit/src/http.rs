//! Raw HTTP answers, for tests that look at statuses, headers and error bodies the typed
//! contract clients would hide.

use contract::{ErrorBody, FailedOrder, OrderView};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A raw answer: its status, its JSON body (`Null` when empty or not JSON) and its
/// `X-Cache` header.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub body: Value,
    pub cache: Option<String>,
}

impl Response {
    /// The body as a contract type; panics (showing the body) when it has another shape.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        T::deserialize(&self.body)
            .unwrap_or_else(|e| panic!("not the expected body ({e}): {}", self.body))
    }

    pub fn order(&self) -> OrderView {
        self.json()
    }

    pub fn error(&self) -> ErrorBody {
        self.json()
    }

    /// The details of a failed order's error body.
    pub fn failed(&self) -> FailedOrder {
        self.error()
            .details_as()
            .unwrap_or_else(|| panic!("not a failed order: {}", self.body))
    }
}

/// One call; `None` when the request never got an answer (refused, reset, timed out).
pub async fn try_call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> Option<Response> {
    let mut request = http.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.ok()?;
    let status = response.status();
    let cache = response
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response.json().await.unwrap_or(Value::Null);
    Some(Response {
        status,
        body,
        cache,
    })
}

/// One call that must get an answer.
pub async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> Response {
    let shown = format!("{method} {url}");
    try_call(http, method, url, token, body)
        .await
        .unwrap_or_else(|| panic!("{shown} got no answer"))
}

/// `GET url`; `None` when it got no answer.
pub async fn try_get(http: &reqwest::Client, url: String) -> Option<Response> {
    try_call(http, reqwest::Method::GET, url, None, None).await
}
