//! HTTP routes of the Restaurant Service: request and response shapes, status codes, docs.

mod admin;
mod inventory;
mod menus;

use std::time::Duration;

use axum::extract::FromRef;
use contract::ErrorBody;
use testbed_common::Kit;
use testbed_common::docs::ServiceTokenAddon;
use testbed_common::service_auth::ServiceKeys;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{self, Inventory};

/// State of the Restaurant Service handlers.
#[derive(Clone)]
pub struct RestaurantState {
    pub kit: Kit,
    pub inventory: Inventory,
    pub menu_list_ttl: Duration,
    pub menu_ttl: Duration,
    /// Checks the Order Service's tokens on stock moves.
    pub service_keys: ServiceKeys,
}

impl FromRef<RestaurantState> for ServiceKeys {
    fn from_ref(state: &RestaurantState) -> Self {
        state.service_keys.clone()
    }
}

impl RestaurantState {
    /// Removes the cached reads a stock change of `menu_id` made stale. Called after the
    /// change committed, so no reader can cache the old value again afterwards (beyond the
    /// commit window).
    pub async fn invalidate_menu(&self, menu_id: i64) {
        self.kit
            .cache
            .delete(&[domain::MENUS_KEY.to_string(), domain::menu_key(menu_id)])
            .await;
    }
}

const SERVICE_TOKEN: ServiceTokenAddon = ServiceTokenAddon;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Restaurant Service",
        version = "0.1.0",
        description = "Restaurants, menus (cached: list 10 s, detail 30 s, `X-Cache: HIT|MISS`) and \
                       stock. Stock changes run under a pessimistic row lock and are written to an \
                       inventory ledger, idempotent per order, so anyone can check \
                       stock = initial − reserved + restored."
    ),
    tags(
        (name = "menus", description = "Restaurants and menus (cached reads)"),
        (name = "inventory", description = "Stock reservations, compensation and audit"),
        (name = "admin", description = "Scenario setup: create menus, set stock (admin token when configured)"),
        (name = "chaos", description = "Fault injection switches"),
        (name = "operations", description = "Health, readiness and metrics"),
    ),
    components(schemas(ErrorBody)),
    modifiers(&SERVICE_TOKEN)
)]
pub struct ApiDoc;

pub fn router() -> OpenApiRouter<RestaurantState> {
    OpenApiRouter::new()
        .routes(routes!(menus::list_restaurants))
        .routes(routes!(menus::list_menus))
        .routes(routes!(menus::get_menu))
        .routes(routes!(inventory::audit_all))
        .routes(routes!(inventory::audit_one, inventory::reserve))
        .routes(routes!(inventory::restore))
        .routes(routes!(admin::create_menu))
        .routes(routes!(admin::set_stock))
}
