//! The User Service client: `POST /validate`.

use contract::UserClient;

use super::{UpstreamError, upstream_error};

#[derive(Clone)]
pub struct UsersClient {
    client: UserClient,
}

/// A user the User Service vouched for.
pub struct ValidUser {
    pub user_id: i64,
}

impl UsersClient {
    pub fn new(http: reqwest::Client, base: &str) -> Self {
        Self {
            client: UserClient::with_http(http, base),
        }
    }

    /// Asks the User Service whether `token` is valid and its user exists.
    pub async fn validate(
        &self,
        token: &str,
        request_id: Option<&str>,
    ) -> Result<ValidUser, UpstreamError> {
        let answer = self
            .client
            .validate(token, request_id)
            .await
            .map_err(|e| upstream_error("user", e))?;
        if !answer.valid {
            return Err(UpstreamError::Unavailable {
                service: "user",
                detail: "unexpected /validate answer: valid is false".into(),
            });
        }
        Ok(ValidUser {
            user_id: answer.user_id,
        })
    }
}
