//! The User Service client.

use reqwest::Method;

use super::{ClientError, with_request_id};
use crate::user::{LoginRequest, LoginResponse, SignupRequest, UserProfile, ValidateResponse};

service_client! {
    /// Calls of the User Service.
    UserClient
}

impl UserClient {
    /// `POST /signup`: a new account (409 `username_taken` when the name exists).
    pub async fn signup(&self, request: &SignupRequest) -> Result<UserProfile, ClientError> {
        self.post_json("/signup", request).await
    }

    /// `POST /login` (JSON): a bearer token.
    pub async fn login(&self, request: &LoginRequest) -> Result<LoginResponse, ClientError> {
        self.post_json("/login", request).await
    }

    /// Signs `username` up (an existing name is fine) and logs in; the access token.
    pub async fn signup_and_login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<String, ClientError> {
        let login = LoginRequest::new(username, password);
        match self.signup(&login.clone().into()).await {
            Ok(_) => {}
            Err(e) if e.code() == Some("username_taken") => {}
            Err(e) => return Err(e),
        }
        Ok(self.login(&login).await?.access_token)
    }

    /// `POST /validate`: is `token` valid and its user existing? `request_id` is passed on
    /// as `X-Request-Id`.
    pub async fn validate(
        &self,
        token: &str,
        request_id: Option<&str>,
    ) -> Result<ValidateResponse, ClientError> {
        let request = self.request(Method::POST, "/validate").bearer_auth(token);
        self.body(with_request_id(request, request_id)).await
    }

    /// `GET /users/{id}` as the bearer of `token`.
    pub async fn profile(&self, token: &str, id: i64) -> Result<UserProfile, ClientError> {
        let request = self
            .request(Method::GET, &format!("/users/{id}"))
            .bearer_auth(token);
        self.body(request).await
    }
}
