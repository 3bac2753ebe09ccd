//! What a valid account is: name, password and email rules, each error saying which rule
//! failed.

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
}
