//! `POST /signup`, `POST /login` (JSON or OAuth2 password form), `GET /users/{id}`.

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use testbed_common::auth::BearerUser;
use testbed_common::error::ErrorBody;
use testbed_common::extract::{ApiJson, ApiPath, ClientAddr};
use testbed_common::{ApiError, ApiResult};
use utoipa::ToSchema;

use super::{TAG, UserState};
use crate::store;

#[derive(Deserialize, ToSchema)]
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
    pub email: Option<String>,
}

/// A user's profile (never the password hash; the email only for its owner).
#[derive(Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": 1, "username": "kim_minji", "email": "minji@example.com", "created_at": "2026-11-28T01:00:00Z"}))]
pub struct UserProfile {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl UserProfile {
    /// The profile as its owner sees it (email included).
    fn owned(user: store::users::Model) -> Self {
        Self {
            id: user.id,
            username: user.username,
            email: user.email,
            created_at: user.created_at,
        }
    }
}

/// Create an account.
#[utoipa::path(post, path = "/signup", tag = TAG,
    description = "Creates an account. The password is stored as an argon2id hash.",
    request_body = SignupRequest,
    responses(
        (status = 201, description = "created", body = UserProfile),
        (status = 400, description = "malformed JSON", body = ErrorBody),
        (status = 409, description = "the name is taken", body = ErrorBody,
            example = json!({"error": "username_taken", "message": "the user name `kim` is taken"})),
        (status = 415, description = "not JSON", body = ErrorBody),
        (status = 422, description = "empty or over-long name, short password, bad email", body = ErrorBody),
        (status = 503, description = "the password hashing pool is full; retry after `Retry-After`", body = ErrorBody),
    ))]
pub async fn signup(
    State(state): State<UserState>,
    ApiJson(body): ApiJson<SignupRequest>,
) -> ApiResult<(StatusCode, Json<UserProfile>)> {
    let user = state
        .accounts
        .signup(&body.username, body.password, body.email.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(UserProfile::owned(user))))
}

/// Login credentials, as JSON or as the OAuth2 password form.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"username": "kim_minji", "password": "s3cret-pass"}))]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// Accepts `application/json` and `application/x-www-form-urlencoded` (OAuth2 password form,
/// which Swagger's Authorize button sends; its extra fields such as `grant_type` are ignored).
pub struct Credentials(LoginRequest);

impl<S: Send + Sync> FromRequest<S> for Credentials {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            let axum::Form(body) = axum::Form::<LoginRequest>::from_request(req, state)
                .await
                .map_err(|e| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        testbed_common::extract::payload_too_large()
                    } else {
                        ApiError::validation(format!("invalid login form: {}", e.body_text()))
                    }
                })?;
            Ok(Self(body))
        } else {
            let ApiJson(body) = ApiJson::<LoginRequest>::from_request(req, state).await?;
            Ok(Self(body))
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"access_token": "eyJhbGciOiJIUzI1NiJ9…", "token_type": "bearer", "expires_in": 3600}))]
pub struct LoginResponse {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

/// Log in and get a token.
#[utoipa::path(post, path = "/login", tag = TAG,
    description = "Checks the password and issues a JWT (HS256, `sub` = user id, `exp`). Accepts \
                   a JSON body or the OAuth2 password form. Wrong name and wrong password give the \
                   same answer. Attempts are limited per user name, and failed attempts per client \
                   address (429 with `Retry-After`); password checks run on a bounded pool (503 with \
                   `Retry-After` when it is full).",
    request_body(content(
        (LoginRequest = "application/json"),
        (LoginRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "logged in", body = LoginResponse),
        (status = 400, description = "malformed JSON", body = ErrorBody),
        (status = 401, description = "wrong name or password", body = ErrorBody,
            example = json!({"error": "invalid_credentials", "message": "wrong user name or password"})),
        (status = 422, description = "missing fields", body = ErrorBody),
        (status = 429, description = "too many attempts for this name, or failures from this address", body = ErrorBody),
        (status = 503, description = "the password hashing pool is full; retry after `Retry-After`", body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<UserState>,
    client: ClientAddr,
    Credentials(body): Credentials,
) -> ApiResult<Json<LoginResponse>> {
    let client = client.effective(state.trust_x_real_ip);
    let session = state
        .accounts
        .login(&body.username, body.password, client)
        .await?;
    Ok(Json(LoginResponse {
        access_token: session.access_token,
        token_type: "bearer".into(),
        expires_in: session.expires_in,
    }))
}

/// A user's profile.
#[utoipa::path(get, path = "/users/{id}", tag = TAG,
    description = "A user's profile, for a caller with a valid token. The email is shown only to \
                   its owner (`null` for anyone else); the password hash is never returned.",
    params(("id" = i64, Path, description = "user id")),
    security(("bearer" = []), ("oauth2" = [])),
    responses(
        (status = 200, description = "the profile", body = UserProfile),
        (status = 400, description = "the id is not a number", body = ErrorBody),
        (status = 401, description = "no, invalid or expired token", body = ErrorBody),
        (status = 404, description = "no such user", body = ErrorBody),
    ))]
pub async fn get_user(
    State(state): State<UserState>,
    viewer: BearerUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<UserProfile>> {
    let visible = state.accounts.profile(viewer.user_id, id).await?;
    let mut profile = UserProfile::owned(visible.user);
    if !visible.show_email {
        profile.email = None;
    }
    Ok(Json(profile))
}
