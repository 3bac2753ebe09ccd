//! User rules: what a valid name and password are, argon2id hashing (on the blocking pool,
//! so hashing never stalls the async runtime), and per-name login throttling.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use testbed_common::ApiError;

pub const USERNAME_MAX: usize = 64;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 128;
pub const EMAIL_MAX: usize = 254;

/// Checks a new account's fields; the error says which rule failed.
pub fn validate_signup(
    username: &str,
    password: &str,
    email: Option<&str>,
) -> Result<(), ApiError> {
    let name = username.trim();
    if name.is_empty() {
        return Err(ApiError::validation("`username` must not be empty"));
    }
    if name.chars().count() > USERNAME_MAX {
        return Err(ApiError::validation(format!(
            "`username` must be at most {USERNAME_MAX} characters"
        )));
    }
    if name != username || username.chars().any(char::is_control) {
        return Err(ApiError::validation(
            "`username` must not have surrounding spaces or control characters",
        ));
    }
    let length = password.chars().count();
    if length < PASSWORD_MIN {
        return Err(ApiError::validation(format!(
            "`password` must be at least {PASSWORD_MIN} characters"
        )));
    }
    if length > PASSWORD_MAX {
        return Err(ApiError::validation(format!(
            "`password` must be at most {PASSWORD_MAX} characters"
        )));
    }
    if let Some(email) = email
        && (email.len() > EMAIL_MAX
            || !email.contains('@')
            || email.chars().any(char::is_whitespace))
    {
        return Err(ApiError::validation("`email` is not a valid address"));
    }
    Ok(())
}

/// Hashes a password with argon2id (default OWASP parameters) off the async runtime.
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(ApiError::internal)
    })
    .await
    .map_err(ApiError::internal)?
}

/// Checks a password against a stored PHC hash, off the async runtime.
pub async fn verify_password(password: String, stored: String) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&stored).map_err(ApiError::internal)?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(ApiError::internal)?
}

/// A hash of a fixed password, used to spend the same time on unknown names as on known
/// ones, so response time does not reveal which names exist.
pub async fn dummy_hash() -> Result<String, ApiError> {
    hash_password("not-a-real-password".to_string()).await
}

/// Login attempts per user name in a sliding one-minute window.
#[derive(Clone)]
pub struct LoginThrottle {
    limit: usize,
    window: Duration,
    attempts: Arc<Mutex<HashMap<String, VecDeque<Instant>>>>,
}

impl LoginThrottle {
    pub fn new(per_minute: u32) -> Self {
        Self {
            limit: per_minute as usize,
            window: Duration::from_secs(60),
            attempts: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Records an attempt; `Err` with the seconds to wait when the name is over its limit.
    pub fn check(&self, username: &str) -> Result<(), u64> {
        let now = Instant::now();
        let Ok(mut attempts) = self.attempts.lock() else {
            return Ok(());
        };
        if attempts.len() > 100_000 {
            let window = self.window;
            attempts.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let queue = attempts.entry(username.to_string()).or_default();
        while queue
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            queue.pop_front();
        }
        if queue.len() >= self.limit {
            let oldest = queue.front().copied().unwrap_or(now);
            let wait = self.window.saturating_sub(now.duration_since(oldest));
            return Err(wait.as_secs().max(1));
        }
        queue.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signup_rules() {
        assert!(validate_signup("kim", "password1", None).is_ok());
        assert!(validate_signup("", "password1", None).is_err());
        assert!(validate_signup(" kim", "password1", None).is_err());
        assert!(validate_signup(&"k".repeat(65), "password1", None).is_err());
        assert!(validate_signup("kim", "short", None).is_err());
        assert!(validate_signup("kim", "password1", Some("nope")).is_err());
        assert!(validate_signup("kim", "password1", Some("kim@example.com")).is_ok());
    }

    #[test]
    fn throttle_limits_per_name() {
        let throttle = LoginThrottle::new(3);
        for _ in 0..3 {
            assert!(throttle.check("a").is_ok());
        }
        assert!(throttle.check("a").is_err());
        assert!(throttle.check("b").is_ok());
    }

    #[tokio::test]
    async fn hashes_verify() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            verify_password("correct horse".into(), hash.clone())
                .await
                .unwrap()
        );
        assert!(!verify_password("wrong horse".into(), hash).await.unwrap());
    }
}
