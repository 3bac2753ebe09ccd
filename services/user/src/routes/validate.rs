//! `POST /validate`: is this bearer token valid and its user existing? The Order Service
//! calls it at order time; `?delay=ms` delays only this call (the brief's fault parameter).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use contract::{ErrorBody, ValidateResponse};
use serde::Deserialize;
use testbed_common::auth::bearer_token;
use testbed_common::extract::ApiQuery;
use testbed_common::{ApiError, ApiResult};
use utoipa::IntoParams;

use super::{TAG, UserState};

/// Longest `?delay` accepted: one minute.
pub const MAX_VALIDATE_DELAY_MS: u64 = 60_000;

#[derive(Deserialize, IntoParams)]
pub struct ValidateQuery {
    /// Milliseconds to delay this call (0–60000), for fault injection.
    pub delay: Option<u64>,
}

/// Validate a bearer token.
#[utoipa::path(post, path = "/validate", tag = TAG,
    description = "Answers whether the bearer token is valid (signature, HS256, not expired) and \
                   belongs to an existing user.",
    params(ValidateQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "valid", body = ValidateResponse),
        (status = 401, description = "missing, invalid or expired token, or the user no longer exists", body = ErrorBody),
        (status = 422, description = "delay out of range", body = ErrorBody),
    ))]
pub async fn validate(
    State(state): State<UserState>,
    ApiQuery(query): ApiQuery<ValidateQuery>,
    headers: HeaderMap,
) -> ApiResult<Json<ValidateResponse>> {
    if let Some(delay) = query.delay
        && delay > MAX_VALIDATE_DELAY_MS
    {
        return Err(ApiError::validation(format!(
            "`delay` must be at most {MAX_VALIDATE_DELAY_MS} ms"
        )));
    }
    let token = bearer_token(&headers)?;
    let delay = query.delay.map(Duration::from_millis);
    let user = state.accounts.validate(token, delay).await?;
    Ok(Json(ValidateResponse {
        valid: true,
        user_id: user.id,
        username: user.username,
    }))
}
