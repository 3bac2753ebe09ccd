//! Request extractors that answer bad input with the JSON error body instead of axum's
//! plain-text rejections: malformed JSON is 400, wrong types or unknown fields 422, a
//! non-numeric path id 400, a wrong content type 415, an oversized body 413.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// `Json<T>` with JSON errors.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => ApiError::validation(format!(
            "the JSON body does not match the expected shape: {}",
            e.body_text()
        )),
        JsonRejection::JsonSyntaxError(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {}", e.body_text()),
        ),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with `Content-Type: application/json`",
        ),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            payload_too_large()
        }
        other => ApiError::bad_request(other.body_text()),
    }
}

/// The 413 answer for a body over `MAX_BODY_BYTES` (for extractors other than [`ApiJson`]).
pub fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "the request body is larger than this service accepts",
    )
}

/// An axum extractor of request parts, as a wrapper whose rejection answers as JSON: the
/// wrapper's name, the axum extractor it wraps, and the function that words its rejection.
macro_rules! json_rejecting {
    ($($(#[doc = $doc:literal])* $name:ident wraps $axum:ident, rejected by $reject:ident;)*) => {$(
        $(#[doc = $doc])*
        pub struct $name<T>(pub T);

        impl<T, S> FromRequestParts<S> for $name<T>
        where
            T: DeserializeOwned + Send,
            S: Send + Sync,
        {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
                let axum::extract::$axum(value) =
                    axum::extract::$axum::<T>::from_request_parts(parts, state)
                        .await
                        .map_err($reject)?;
                Ok(Self(value))
            }
        }
    )*};
}

json_rejecting! {
    /// `Path<T>` with JSON errors.
    ApiPath wraps Path, rejected by path_rejection;
    /// `Query<T>` with JSON errors.
    ApiQuery wraps Query, rejected by query_rejection;
}

fn path_rejection(rejection: PathRejection) -> ApiError {
    match rejection {
        PathRejection::FailedToDeserializePathParams(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_path",
            format!("invalid path parameter: {}", e.body_text()),
        ),
        other => ApiError::bad_request(other.body_text()),
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    match rejection {
        QueryRejection::FailedToDeserializeQueryString(e) => {
            ApiError::validation(format!("invalid query string: {}", e.body_text()))
        }
        other => ApiError::bad_request(other.body_text()),
    }
}

/// The caller's address: the TCP peer the accept loop recorded, and the `X-Real-IP` header
/// the gateway sets (to be trusted only when the service sits behind that gateway). Never
/// rejects: a request served without the accept loop (an in-memory test) has neither.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr {
    pub peer: Option<std::net::IpAddr>,
    pub real_ip: Option<std::net::IpAddr>,
}

impl ClientAddr {
    /// The address to throttle on: the gateway's `X-Real-IP` when trusted, else the peer.
    pub fn effective(&self, trust_real_ip: bool) -> Option<std::net::IpAddr> {
        if trust_real_ip {
            self.real_ip.or(self.peer)
        } else {
            self.peer
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip());
        let real_ip = parts
            .headers
            .get("x-real-ip")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        Ok(Self { peer, real_ip })
    }
}

#[cfg(test)]
mod tests {
    use super::ClientAddr;

    #[test]
    fn the_gateway_header_counts_only_when_trusted() {
        let peer = "10.0.0.2".parse().ok();
        let real_ip = "203.0.113.7".parse().ok();
        let behind_gateway = ClientAddr { peer, real_ip };
        assert_eq!(
            behind_gateway.effective(false),
            peer,
            "a direct caller can send the header"
        );
        assert_eq!(behind_gateway.effective(true), real_ip);
        let direct = ClientAddr {
            peer,
            real_ip: None,
        };
        assert_eq!(direct.effective(true), peer);
    }
}
