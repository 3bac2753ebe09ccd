//! The User Service client: `POST /validate`.

use serde_json::Value;

use super::{UpstreamError, send};

#[derive(Clone)]
pub struct UsersClient {
    http: reqwest::Client,
    base: String,
}

/// A user the User Service vouched for.
pub struct ValidUser {
    pub user_id: i64,
}

impl UsersClient {
    pub fn new(http: reqwest::Client, base: &str) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_string(),
        }
    }

    /// Asks the User Service whether `token` is valid and its user exists.
    pub async fn validate(
        &self,
        token: &str,
        request_id: Option<&str>,
    ) -> Result<ValidUser, UpstreamError> {
        let request = self
            .http
            .post(format!("{}/validate", self.base))
            .bearer_auth(token);
        let body: Value = send("user", request, request_id).await?;
        match (body["valid"].as_bool(), body["user_id"].as_i64()) {
            (Some(true), Some(user_id)) => Ok(ValidUser { user_id }),
            _ => Err(UpstreamError::Unavailable {
                service: "user",
                detail: format!("unexpected /validate answer: {body}"),
            }),
        }
    }
}
