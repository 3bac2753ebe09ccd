//! The error answers that many operations of the services document alike, as named
//! OpenAPI responses: a route lists `MalformedJson` in its `responses(...)` instead of
//! repeating the status, the wording and the body, and names the sets of them that always
//! go together (`AdminJsonRefused`: an admin call with a JSON body). A service names its
//! own with the same two macros; answers particular to one route stay written out there.

/// One response type per row: its doc, visibility, name, status and description; the body
/// is always `contract::ErrorBody`. The caller's crate needs `utoipa` and `contract`.
#[macro_export]
macro_rules! error_responses {
    ($($(#[doc = $doc:literal])* $vis:vis $name:ident = $status:tt, $description:tt;)*) => {$(
        $(#[doc = $doc])*
        #[derive(utoipa::IntoResponses)]
        #[response(status = $status, description = $description)]
        $vis struct $name(pub contract::ErrorBody);
    )*};
}

error_responses! {
    /// The body is not the JSON the operation takes.
    pub MalformedJson = 400, "malformed JSON";
    /// A path id that is not a number.
    pub IdNotANumber = 400, "the id is not a number";
    /// A user's bearer token is missing, invalid or expired.
    pub TokenRefused = 401, "no, invalid or expired token";
    /// An admin token is configured and the call did not send it.
    pub AdminTokenRequired = 401, "admin token required";
    /// The service's database does not answer.
    pub DatabaseUnavailable = 503, "the database is unavailable";
}

/// 401 and 403: the Order Service's service token is missing, invalid, expired or meant for
/// another audience.
#[derive(utoipa::IntoResponses)]
pub enum ServiceTokenRefused {
    #[response(
        status = 401,
        description = "no, invalid or expired service token (a user's token is refused too)"
    )]
    Missing(contract::ErrorBody),
    #[response(status = 403, description = "a service token for another audience")]
    WrongAudience(contract::ErrorBody),
}

/// The responses of several response types that always go together, as one name a route
/// lists once. The parts' statuses must differ: a status two parts share would hide one of
/// them, so building the document (at every service start) panics naming the set.
#[macro_export]
macro_rules! response_set {
    ($($(#[doc = $doc:literal])* $vis:vis $name:ident = $($part:ty),+;)*) => {$(
        $(#[doc = $doc])*
        $vis struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<
                String,
                utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
            > {
                let mut all = std::collections::BTreeMap::new();
                $(for (status, response) in <$part as utoipa::IntoResponses>::responses() {
                    let hidden = all.insert(status.clone(), response);
                    assert!(hidden.is_none(), "{} lists status {status} twice", stringify!($name));
                })+
                all
            }
        }
    )*};
}

response_set! {
    /// 400 and 401: an admin call with a JSON body, refused for its body or for the missing
    /// admin token.
    pub AdminJsonRefused = MalformedJson, AdminTokenRequired;
    /// 400 and 401: a user's call on a numeric path id, refused for the id or the token.
    pub BearerPathRefused = IdNotANumber, TokenRefused;
}

#[cfg(test)]
mod tests {
    use utoipa::IntoResponses;

    use super::*;

    fn statuses<R: IntoResponses>() -> Vec<String> {
        R::responses().into_keys().collect()
    }

    #[test]
    fn sets_list_every_part() {
        assert_eq!(statuses::<AdminJsonRefused>(), ["400", "401"]);
        assert_eq!(statuses::<BearerPathRefused>(), ["400", "401"]);
    }

    response_set! {
        Clashing = MalformedJson, IdNotANumber;
    }

    #[test]
    #[should_panic(expected = "Clashing lists status 400 twice")]
    fn a_status_two_parts_share_is_refused() {
        Clashing::responses();
    }
}
