//! HTTP routes of the Order Service: request and response shapes, status codes, docs.

mod orders;

use axum::extract::FromRef;
use testbed_common::Kit;
use testbed_common::auth::JwtKeys;
use testbed_common::docs::{SecurityAddon, ServiceDoc};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::saga::Orders;

/// State of the Order Service handlers.
#[derive(Clone)]
pub struct OrderState {
    pub kit: Kit,
    pub orders: Orders,
}

impl FromRef<OrderState> for JwtKeys {
    fn from_ref(state: &OrderState) -> Self {
        state.kit.jwt.clone()
    }
}

const SECURITY: SecurityAddon = SecurityAddon {
    token_url: "http://127.0.0.1:8001/login",
};

/// The service's routes, with what its OpenAPI document says about the service.
pub fn router() -> OpenApiRouter<OrderState> {
    ServiceDoc {
        title: "Order Service",
        description: "Orders as a saga across the User Service (token validation), the Restaurant \
                       Service (stock) and a simulated payment. Every failure gives the stock back \
                       and ends the order FAILED with a reason; a cancelled PAID order gets its stock \
                       back and ends CANCELLED. Log in at the User Service (`POST /login`) for a \
                       bearer token.",
        tags: &[
            (orders::TAG, "Placing, reading and cancelling orders"),
        ],
    }
    .router(SECURITY)
        .routes(routes!(orders::create_order))
        .routes(routes!(orders::order_stats))
        .routes(routes!(orders::get_order))
        .routes(routes!(orders::cancel_order))
}
