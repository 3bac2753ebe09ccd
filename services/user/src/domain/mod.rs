//! The User Service's rules in one place: [`Accounts`] signs up, logs in (with both
//! throttles and the bounded hasher), validates tokens and decides who sees which profile
//! fields. Routes call it and only translate HTTP; the store only runs SQL.

mod passwords;
mod rules;
mod throttle;

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::StatusCode;
use contract::UserProfile;
use sea_orm::DatabaseConnection;
use testbed_common::ApiError;
use testbed_common::auth::JwtKeys;

pub use passwords::{M_COST_KIB, P_COST, PasswordHasher, T_COST};
pub use rules::{EMAIL_MAX, PASSWORD_MAX, PASSWORD_MIN, USERNAME_MAX, validate_signup};
pub use throttle::Throttle;

use crate::store::{self, users};

/// Limits of the login path.
#[derive(Clone, Debug)]
pub struct LoginLimits {
    /// Attempts per user name per minute.
    pub per_name_per_minute: u32,
    /// Failed attempts per client address per minute (0: off).
    pub failures_per_address_per_minute: u32,
    /// Hashing threads, and requests allowed to wait for one.
    pub hash_workers: usize,
    pub hash_queue: usize,
}

/// A logged-in session's token.
pub struct Session {
    pub access_token: String,
    pub expires_in: u64,
}

/// The profile as its owner sees it (email included).
fn owned_profile(user: users::Model) -> UserProfile {
    UserProfile {
        id: user.id,
        username: user.username,
        email: user.email,
        created_at: user.created_at,
    }
}

/// Accounts: rules, hashing, throttles, tokens.
#[derive(Clone)]
pub struct Accounts {
    db: DatabaseConnection,
    jwt: JwtKeys,
    hasher: PasswordHasher,
    per_name: Throttle<String>,
    per_address: Throttle<IpAddr>,
    /// Hash checked for unknown names so their login takes as long as a known name's.
    dummy_hash: Arc<str>,
}

impl Accounts {
    pub async fn new(
        db: DatabaseConnection,
        jwt: JwtKeys,
        limits: &LoginLimits,
    ) -> anyhow::Result<Self> {
        let hasher = PasswordHasher::start(limits.hash_workers, limits.hash_queue)?;
        let dummy_hash = hasher
            .hash("not-a-real-password".to_string())
            .await
            .map_err(|e| anyhow::anyhow!("hashing the dummy password: {}", e.message))?;
        Ok(Self {
            db,
            jwt,
            hasher,
            per_name: Throttle::per_minute(limits.per_name_per_minute),
            per_address: Throttle::per_minute(limits.failures_per_address_per_minute),
            dummy_hash: dummy_hash.into(),
        })
    }

    /// Creates an account; a taken name is 409.
    pub async fn signup(
        &self,
        username: &str,
        password: String,
        email: Option<&str>,
    ) -> Result<UserProfile, ApiError> {
        validate_signup(username, &password, email)?;
        let hash = self.hasher.hash(password).await?;
        let user = store::insert_user(&self.db, username, email, &hash)
            .await?
            .ok_or_else(|| {
                ApiError::conflict(
                    "username_taken",
                    format!("the user name `{username}` is taken"),
                )
            })?;
        tracing::info!(user_id = user.id, "signed up");
        Ok(owned_profile(user))
    }

    /// Checks a password and issues a token. Unknown name and wrong password answer the
    /// same, after the same work; the address throttle counts both.
    pub async fn login(
        &self,
        username: &str,
        password: String,
        client: Option<IpAddr>,
    ) -> Result<Session, ApiError> {
        if let Some(address) = client {
            self.per_address
                .check(&address)
                .map_err(|wait| too_many("too many failed logins from this address", wait))?;
        }
        self.per_name
            .check_and_record(&username.to_string())
            .map_err(|wait| too_many("too many login attempts for this user name", wait))?;
        let user = store::find_by_username(&self.db, username).await?;
        let stored = user
            .as_ref()
            .map_or_else(|| self.dummy_hash.to_string(), |u| u.password_hash.clone());
        let matches = self.hasher.verify(password, stored).await?;
        match user {
            Some(user) if matches => Ok(Session {
                access_token: self.jwt.issue(user.id, &user.username)?,
                expires_in: self.jwt.ttl_secs(),
            }),
            _ => {
                if let Some(address) = client {
                    self.per_address.record(&address);
                }
                Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_credentials",
                    "wrong user name or password",
                ))
            }
        }
    }

    /// A user's profile as `viewer` may see it.
    /// A profile as `viewer` may see it: the email only for its owner.
    pub async fn profile(&self, viewer: i64, id: i64) -> Result<UserProfile, ApiError> {
        let user = store::find_by_id(&self.db, id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("user {id} does not exist")))?;
        let show_email = user.id == viewer;
        let mut profile = owned_profile(user);
        if !show_email {
            profile.email = None;
        }
        Ok(profile)
    }

    /// The user behind a bearer token, if the token verifies and the user still exists.
    /// `delay` (the brief's fault parameter) is spent after the token verified and before
    /// the lookup: only a caller with a genuine token can make the service wait, since an
    /// anonymous caller's delay would hold a connection at no cost.
    pub async fn validate(
        &self,
        token: &str,
        delay: Option<std::time::Duration>,
    ) -> Result<users::Model, ApiError> {
        let claims = self.jwt.verify(token)?;
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        let user_id: i64 = claims
            .sub
            .parse()
            .map_err(|_| ApiError::unauthorized("the token's subject is not a user id"))?;
        store::find_by_id(&self.db, user_id)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the token's user no longer exists"))
    }
}

fn too_many(what: &str, wait: u64) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        format!("{what}; try again in {wait} s"),
    )
    .with("retry_after_secs", wait)
}
