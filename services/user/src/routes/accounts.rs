//! `POST /signup`, `POST /login` (JSON or OAuth2 password form), `GET /users/{id}`.

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, header};
use contract::{ErrorBody, LoginRequest, LoginResponse, SignupRequest, UserProfile};
use testbed_common::auth::BearerUser;
use testbed_common::extract::{ApiJson, ApiPath, ClientAddr};
use testbed_common::responses::{BearerPathRefused, MalformedJson};
use testbed_common::{ApiError, ApiResult};

use super::{TAG, UserState};

testbed_common::error_responses! {
    /// The body is sent as neither JSON nor (login only) the OAuth2 password form.
    UnsupportedBody = 415, "not JSON (login also takes the OAuth2 password form)";
    /// The password hashing pool is full.
    HashingPoolFull = 503, "the password hashing pool is full; retry after `Retry-After`";
}

testbed_common::response_set! {
    /// 400, 415 and 503: signup and login, which both hash a password, refused before the
    /// credentials are looked at: an unreadable body, or no room to hash.
    PasswordCallRefused = MalformedJson, UnsupportedBody, HashingPoolFull;
}

/// Create an account.
#[utoipa::path(post, path = "/signup", tag = TAG,
    description = "Creates an account. The password is stored as an argon2id hash.",
    request_body = SignupRequest,
    responses(
        (status = 201, description = "created", body = UserProfile),
        (status = 409, description = "the name is taken", body = ErrorBody,
            example = json!({"error": "username_taken", "message": "the user name `kim` is taken"})),
        (status = 422, description = "empty or over-long name, short password, bad email", body = ErrorBody),
        PasswordCallRefused,
    ))]
pub async fn signup(
    State(state): State<UserState>,
    ApiJson(body): ApiJson<SignupRequest>,
) -> ApiResult<(StatusCode, Json<UserProfile>)> {
    let user = state
        .accounts
        .signup(&body.username, body.password, body.email.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Accepts `application/json` and `application/x-www-form-urlencoded` (OAuth2 password form,
/// which Swagger's Authorize button sends; its extra fields such as `grant_type` are ignored).
pub struct Credentials(LoginRequest);

impl<S: Send + Sync> FromRequest<S> for Credentials {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
            v.as_bytes()
                .starts_with(b"application/x-www-form-urlencoded")
        });
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
        (status = 401, description = "wrong name or password", body = ErrorBody,
            example = json!({"error": "invalid_credentials", "message": "wrong user name or password"})),
        (status = 422, description = "missing fields", body = ErrorBody),
        (status = 429, description = "too many attempts for this name, or failures from this address", body = ErrorBody),
        PasswordCallRefused,
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
        BearerPathRefused,
        (status = 404, description = "no such user", body = ErrorBody),
    ))]
pub async fn get_user(
    State(state): State<UserState>,
    viewer: BearerUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<UserProfile>> {
    Ok(Json(state.accounts.profile(viewer.user_id, id).await?))
}
