//! HTTP routes of the User Service: request and response shapes, status codes, docs.

mod accounts;
mod validate;

use axum::extract::FromRef;
use testbed_common::Kit;
use testbed_common::auth::JwtKeys;
use testbed_common::docs::{SecurityAddon, ServiceDoc};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::Accounts;

/// State of the User Service handlers.
#[derive(Clone)]
pub struct UserState {
    pub kit: Kit,
    pub accounts: Accounts,
    /// Throttle on the gateway's `X-Real-IP` rather than the TCP peer.
    pub trust_x_real_ip: bool,
}

impl FromRef<UserState> for JwtKeys {
    fn from_ref(state: &UserState) -> Self {
        state.kit.jwt.clone()
    }
}

pub const TAG: &str = "users";

const SECURITY: SecurityAddon = SecurityAddon {
    token_url: "/login",
};

/// The service's routes, with what its OpenAPI document says about the service.
pub fn router() -> OpenApiRouter<UserState> {
    ServiceDoc {
        title: "User Service",
        description: "Accounts, login (JWT, HS256) and token validation for the food-delivery \
                       chaos testbed. The Order Service calls `POST /validate` at order time; \
                       `?delay=ms` on that call and the `/chaos` switches inject faults.",
        tags: &[(TAG, "Accounts and tokens")],
    }
    .router(SECURITY)
    .routes(routes!(accounts::signup))
    .routes(routes!(accounts::login))
    .routes(routes!(accounts::get_user))
    .routes(routes!(validate::validate))
}
