//! The User Service alone in the test process, and the raw calls its tests make: statuses
//! and JSON bodies, with or without a bearer token.

use contract::{ChaosSnapshot, UserClient};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use testkit::{Backend, Served};

pub struct App {
    pub base: String,
    pub http: reqwest::Client,
    pub client: UserClient,
    served: Served,
}

pub async fn spawn(backend: Backend) -> App {
    let served = Served::user(backend).await;
    App {
        base: served.base.clone(),
        http: served.http.clone(),
        client: UserClient::new(&served.base),
        served,
    }
}

impl App {
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let answer = self.served.call(method, path, token, body).await;
        (answer.status, answer.body)
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, None, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None, None).await
    }

    pub async fn get_as(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, Some(token), None).await
    }

    /// A bodiless POST at a `/validate` path, with `token` when given.
    pub async fn send_validate(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.send(Method::POST, path, token, None).await
    }

    pub async fn validate(&self, token: &str) -> (StatusCode, Value) {
        self.send_validate("/validate", Some(token)).await
    }

    /// The fault settings (`GET /chaos`).
    pub async fn chaos(&self) -> ChaosSnapshot {
        self.client.chaos().await.expect("fault settings")
    }
}
