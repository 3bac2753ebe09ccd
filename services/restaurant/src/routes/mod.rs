//! HTTP routes of the Restaurant Service: request and response shapes, status codes, docs.

mod admin;
mod inventory;
mod menus;

use testbed_common::Kit;
use testbed_common::docs::{ServiceDoc, ServiceTokenAddon};
use testbed_common::service_auth::ServiceKeys;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::Inventory;
use crate::domain::catalog::Catalog;

testbed_common::error_responses! {
    /// No menu has the id (the routes on one menu).
    NoSuchMenu = 404, "no such menu";
}

/// State of the Restaurant Service handlers.
#[derive(Clone)]
pub struct RestaurantState {
    pub kit: Kit,
    pub inventory: Inventory,
    pub catalog: Catalog,
    /// Checks the Order Service's tokens on stock moves.
    pub service_keys: ServiceKeys,
}

/// The service's routes, with what its OpenAPI document says about the service.
pub fn router() -> OpenApiRouter<RestaurantState> {
    ServiceDoc {
        title: "Restaurant Service",
        description: "Restaurants, menus (cached: list 10 s, detail 30 s, `X-Cache: HIT|MISS`) and \
                       stock. Stock changes run under a pessimistic row lock and are written to an \
                       inventory ledger, idempotent per order, so anyone can check \
                       stock = initial − reserved + restored.",
        tags: &[
            (menus::TAG, "Restaurants and menus (cached reads)"),
            (inventory::TAG, "Stock reservations, compensation and audit"),
            (
                admin::TAG,
                "Scenario setup: create menus, set stock (admin token when configured)",
            ),
        ],
    }
    .router(ServiceTokenAddon)
    .routes(routes!(menus::list_restaurants))
    .routes(routes!(menus::list_menus))
    .routes(routes!(menus::get_menu))
    .routes(routes!(inventory::audit_all))
    .routes(routes!(inventory::audit_one, inventory::reserve))
    .routes(routes!(inventory::restore))
    .routes(routes!(admin::create_menu))
    .routes(routes!(admin::set_stock))
}
