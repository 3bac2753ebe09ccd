//! The error answers that many operations of the services document alike, as named
//! OpenAPI responses: a route lists `MalformedJson` in its `responses(...)` instead of
//! repeating the status, the wording and the body. Answers particular to one route stay
//! written out at the route.

use contract::ErrorBody;
use utoipa::IntoResponses;

/// One response type per row: its doc, name, status and description; the body is always
/// [`ErrorBody`].
macro_rules! error_responses {
    ($($(#[doc = $doc:literal])* $name:ident = $status:tt, $description:tt;)*) => {$(
        $(#[doc = $doc])*
        #[derive(IntoResponses)]
        #[response(status = $status, description = $description)]
        pub struct $name(pub ErrorBody);
    )*};
}

error_responses! {
    /// The body is not the JSON the operation takes.
    MalformedJson = 400, "malformed JSON";
    /// A path id that is not a number.
    IdNotANumber = 400, "the id is not a number";
    /// A user's bearer token is missing, invalid or expired.
    TokenRefused = 401, "no, invalid or expired token";
    /// An admin token is configured and the call did not send it.
    AdminTokenRequired = 401, "admin token required";
    /// The service's database does not answer.
    DatabaseUnavailable = 503, "the database is unavailable";
}

/// 401 and 403: the Order Service's service token is missing, invalid, expired or meant for
/// another audience.
#[derive(IntoResponses)]
pub enum ServiceTokenRefused {
    #[response(
        status = 401,
        description = "no, invalid or expired service token (a user's token is refused too)"
    )]
    Missing(ErrorBody),
    #[response(status = 403, description = "a service token for another audience")]
    WrongAudience(ErrorBody),
}
