//! Authentication: HS256 JWTs (issue and verify, `exp` enforced, only HS256 accepted so
//! `alg: none` and algorithm swaps fail), the bearer-user extractor, and the admin-token
//! guard for fault switches, admin calls and operator views.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The claims in every token this testbed issues.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id, as a string (JWT `sub`).
    pub sub: String,
    pub username: String,
    pub iat: i64,
    pub exp: i64,
}

/// Signing and verification keys plus the token lifetime.
#[derive(Clone)]
pub struct JwtKeys {
    inner: Arc<JwtInner>,
}

struct JwtInner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: u64,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(..)")
    }
}

impl JwtKeys {
    pub fn new(secret: &str, ttl_secs: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            inner: Arc::new(JwtInner {
                encoding: EncodingKey::from_secret(secret.as_bytes()),
                decoding: DecodingKey::from_secret(secret.as_bytes()),
                validation,
                ttl_secs,
            }),
        }
    }

    pub fn ttl_secs(&self) -> u64 {
        self.inner.ttl_secs
    }

    /// Issues a token for a user.
    pub fn issue(&self, user_id: i64, username: &str) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            username: username.to_string(),
            iat: now,
            exp: now + self.inner.ttl_secs as i64,
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.inner.encoding,
        )
        .map_err(ApiError::internal)
    }

    /// Verifies signature, algorithm and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        jsonwebtoken::decode::<Claims>(token, &self.inner.decoding, &self.inner.validation)
            .map(|data| data.claims)
            .map_err(|e| {
                let reason = match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => "the token has expired",
                    jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                        "the token's signature is invalid"
                    }
                    jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => {
                        "the token must be signed with HS256"
                    }
                    _ => "the token is malformed or invalid",
                };
                ApiError::new(
                    axum::http::StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    reason,
                )
            })
    }
}

/// The bearer token of a request, as sent.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "missing_token",
            "a bearer token is needed: send `Authorization: Bearer <access_token>` from POST /login",
        )
    })?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not valid text"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() => {
            Ok(token.trim())
        }
        _ => Err(ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "missing_token",
            "a bearer token is needed: the Authorization header must be `Bearer <access_token>`",
        )),
    }
}

/// A caller whose bearer token verified. The token is kept so it can be passed on.
#[derive(Debug, Clone)]
pub struct BearerUser {
    pub user_id: i64,
    pub username: String,
    pub token: String,
}

impl<S> FromRequestParts<S> for BearerUser
where
    JwtKeys: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let keys = JwtKeys::from_ref(state);
        let token = bearer_token(&parts.headers)?;
        let claims = keys.verify(token)?;
        let user_id = claims
            .sub
            .parse()
            .map_err(|_| ApiError::unauthorized("the token's subject is not a user id"))?;
        Ok(BearerUser {
            user_id,
            username: claims.username,
            token: token.to_string(),
        })
    }
}

/// The configured admin token, if any.
#[derive(Clone, Debug, Default)]
pub struct AdminToken(pub Option<Arc<str>>);

/// Header carrying the admin token.
pub const ADMIN_HEADER: &str = "x-admin-token";

/// Calls guarded by the admin token: fault switches, admin calls, and the operator views
/// (the Restaurant Service's stock audit, the Order Service's statistics). The stock moves
/// under `/inventory/…` are guarded by the service token instead (see `service_auth`).
pub fn is_admin_path(method: &axum::http::Method, path: &str) -> bool {
    let operator_view = *method == axum::http::Method::GET
        && (path == "/inventory" || path.starts_with("/inventory/") || path == "/orders/stats");
    operator_view || path == "/chaos" || path.starts_with("/chaos/") || path.starts_with("/admin/")
}

/// Middleware: when an admin token is configured, fault switches and admin calls need it.
pub async fn require_admin(
    State(admin): State<AdminToken>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(expected) = &admin.0
        && is_admin_path(request.method(), request.uri().path())
        && let Err(refused) = check_admin_token(request.headers(), expected)
    {
        return refused.into_response();
    }
    next.run(request).await
}

/// Checks the `X-Admin-Token` header against the configured token, without an early exit so
/// timing does not tell how much of a guess was right.
pub fn check_admin_token(headers: &HeaderMap, expected: &str) -> Result<(), ApiError> {
    let given = headers
        .get(ADMIN_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "admin_token_required",
            "this call needs the admin token in the X-Admin-Token header",
        ))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
