//! Service identity: the short-lived tokens with which the Order Service proves who it is
//! on every call that moves stock at the Restaurant Service (reserve, restore).
//!
//! Why an HMAC secret per link (HS256) rather than EdDSA keys: the link has exactly two
//! parties, and the only thing a service token authorises is a stock move at the Restaurant
//! Service — which whoever holds the Restaurant Service's key already controls. A key pair
//! would add key distribution without protecting anything more. What matters is that the
//! secret is not the user-token secret (checked at start-up), that tokens carry their own
//! issuer and audience (checked), that they live for minutes, and that no endpoint hands one
//! out: an operator who needs one mints it from the secret (`testbed service-token`).

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::auth::bearer_token;
use crate::error::ApiError;

/// Issuer of the Order Service's tokens.
pub const ORDER_SERVICE: &str = "order-service";
/// Audience of tokens for the Restaurant Service's stock calls.
pub const RESTAURANT_STOCK: &str = "restaurant-service/stock";
/// Lifetime of a minted service token.
pub const SERVICE_TOKEN_TTL_SECS: i64 = 300;

/// The claims of a service token. `username` is absent on purpose: a service token never
/// deserialises as a user's claims, and a user's token (no `iss`/`aud`) never as these.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

/// Mints and checks service tokens with one link secret.
#[derive(Clone)]
pub struct ServiceKeys {
    encoding: Arc<EncodingKey>,
    decoding: Arc<DecodingKey>,
    /// HS256 only, no leeway, every claim required; the audience is checked by hand so a
    /// wrong one can be told apart (403) from a bad token (401).
    validation: Arc<Validation>,
    /// The last minted token per audience, reused until a minute before it expires.
    minted: Arc<Mutex<Option<(String, i64)>>>,
}

impl std::fmt::Debug for ServiceKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceKeys(..)")
    }
}

impl ServiceKeys {
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Self {
            encoding: Arc::new(EncodingKey::from_secret(secret.as_bytes())),
            decoding: Arc::new(DecodingKey::from_secret(secret.as_bytes())),
            validation: Arc::new(validation),
            minted: Arc::new(Mutex::new(None)),
        }
    }

    /// A fresh token from `issuer` for `audience`, valid for `ttl_secs`.
    pub fn mint(&self, issuer: &str, audience: &str, ttl_secs: i64) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let claims = ServiceClaims {
            iss: issuer.to_string(),
            sub: issuer.to_string(),
            aud: audience.to_string(),
            iat: now,
            exp: now + ttl_secs,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal)
    }

    /// The Order Service's token for stock calls, minted again a minute before it expires.
    pub fn stock_token(&self) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let mut minted = self
            .minted
            .lock()
            .map_err(|_| ApiError::internal("the service token cache was poisoned by a panic"))?;
        if let Some((token, exp)) = minted.as_ref()
            && *exp - now > 60
        {
            return Ok(token.clone());
        }
        let token = self.mint(ORDER_SERVICE, RESTAURANT_STOCK, SERVICE_TOKEN_TTL_SECS)?;
        *minted = Some((token.clone(), now + SERVICE_TOKEN_TTL_SECS));
        Ok(token)
    }

    /// Checks signature, algorithm, expiry, issuer and audience. A bad or expired token is
    /// 401; a good token for someone else (wrong issuer or audience) is 403.
    pub fn verify(
        &self,
        token: &str,
        issuer: &str,
        audience: &str,
    ) -> Result<ServiceClaims, ApiError> {
        let claims = jsonwebtoken::decode::<ServiceClaims>(token, &self.decoding, &self.validation)
            .map_err(|e| {
                let reason = match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                        "the service token has expired"
                    }
                    _ => "a valid service token is needed for this internal call",
                };
                ApiError::new(StatusCode::UNAUTHORIZED, "service_token_required", reason)
            })?
            .claims;
        if claims.iss != issuer || claims.aud != audience {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "wrong_audience",
                format!(
                    "this call accepts only {issuer}'s tokens for `{audience}`; the token is \
                     {}'s for `{}`",
                    claims.iss, claims.aud
                ),
            ));
        }
        Ok(claims)
    }

    /// Checks that a request to the Restaurant Service's stock calls comes from the Order
    /// Service: 401/403 JSON otherwise, to be answered before anything else is read (and so
    /// before any stock moves).
    pub fn check_stock_caller(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let token = bearer_token(headers).map_err(|_| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "service_token_required",
                "this internal call needs the Order Service's service token \
                 (`Authorization: Bearer <service token>`)",
            )
        })?;
        self.verify(token, ORDER_SERVICE, RESTAURANT_STOCK)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a-link-secret-of-enough-length";

    /// How `keys` answer `token` for `audience`: `None` when it verifies, else the status.
    fn refusal(keys: &ServiceKeys, token: &str, audience: &str) -> Option<StatusCode> {
        let verdict = keys.verify(token, ORDER_SERVICE, audience);
        verdict.err().map(|error| error.status)
    }

    #[test]
    fn minted_token_verifies_for_its_audience_only() {
        let keys = ServiceKeys::new(SECRET);
        let token = keys.stock_token().expect("mint");
        assert_eq!(refusal(&keys, &token, RESTAURANT_STOCK), None);
        let wrong_audience = refusal(&keys, &token, "user-service");
        assert_eq!(wrong_audience, Some(StatusCode::FORBIDDEN));
        let other = ServiceKeys::new("another-secret-of-enough-length");
        let forged = refusal(&other, &token, RESTAURANT_STOCK);
        assert_eq!(forged, Some(StatusCode::UNAUTHORIZED));
    }

    #[test]
    fn expired_token_is_refused() {
        let keys = ServiceKeys::new(SECRET);
        let token = keys
            .mint(ORDER_SERVICE, RESTAURANT_STOCK, -10)
            .expect("mint");
        let expired = refusal(&keys, &token, RESTAURANT_STOCK);
        assert_eq!(expired, Some(StatusCode::UNAUTHORIZED));
    }

    #[test]
    fn cached_token_is_reused() {
        let keys = ServiceKeys::new(SECRET);
        assert_eq!(keys.stock_token().unwrap(), keys.stock_token().unwrap());
    }

    #[test]
    fn stock_callers_need_the_order_services_bearer_token() {
        let keys = ServiceKeys::new(SECRET);
        let with_bearer = |token: &str| {
            let mut headers = HeaderMap::new();
            let value = format!("Bearer {token}").parse().expect("header value");
            headers.insert(axum::http::header::AUTHORIZATION, value);
            headers
        };
        let missing = keys.check_stock_caller(&HeaderMap::new()).unwrap_err();
        assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
        assert_eq!(missing.code, "service_token_required");
        let token = keys.stock_token().expect("mint");
        assert!(keys.check_stock_caller(&with_bearer(&token)).is_ok());
        let other_audience = keys.mint(ORDER_SERVICE, "user-service", 60).expect("mint");
        let refused = keys.check_stock_caller(&with_bearer(&other_audience));
        assert_eq!(refused.unwrap_err().status, StatusCode::FORBIDDEN);
    }
}
