//! User Service bodies: signup, login, token validation, profiles.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /signup`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "kim_minji", "password": "s3cret-pass", "email": "minji@example.com"}))]
pub struct SignupRequest {
    /// 1–64 characters, unique; no surrounding spaces or control characters.
    #[schema(min_length = 1, max_length = 64, pattern = r"^\S(.*\S)?$")]
    pub username: String,
    /// 8–128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    /// Optional contact address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// A user's profile (never the password hash; the email only for its owner).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": 1, "username": "kim_minji", "email": "minji@example.com", "created_at": "2026-11-28T01:00:00Z"}))]
pub struct UserProfile {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// `POST /login` credentials, as JSON or as the OAuth2 password form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"username": "kim_minji", "password": "s3cret-pass"}))]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

impl LoginRequest {
    /// The credentials `username` and `password`.
    pub fn new(username: &str, password: &str) -> Self {
        Self {
            username: username.to_string(),
            password: password.to_string(),
        }
    }
}

/// An account with these credentials and no email.
impl From<LoginRequest> for SignupRequest {
    fn from(credentials: LoginRequest) -> Self {
        Self {
            username: credentials.username,
            password: credentials.password,
            email: None,
        }
    }
}

/// `POST /login` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"access_token": "eyJhbGciOiJIUzI1NiJ9…", "token_type": "bearer", "expires_in": 3600}))]
pub struct LoginResponse {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

/// `POST /validate` answer: the token is valid and its user exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"valid": true, "user_id": 1, "username": "kim_minji"}))]
pub struct ValidateResponse {
    pub valid: bool,
    pub user_id: i64,
    pub username: String,
}
