//! Building the Restaurant Service: kit (with the `inventory_delay` switch), state, routes,
//! server. Tests and the launcher call [`build`] exactly as `main` does.

use std::time::Duration;

use contract::ops::INVENTORY_DELAY;
use testbed_common::Kit;
use testbed_common::chaos::{Chaos, MAX_DELAY_MS};
use testbed_common::server::{Server, bind_service};
use testbed_common::service_auth::ServiceKeys;

use crate::config::RestaurantConfig;
use crate::domain::catalog::Catalog;
use crate::domain::{Inventory, MenuLocks};
use crate::routes::{self, RestaurantState};
use crate::store::migration::Migrator;

pub const SERVICE: &str = "restaurant";
pub const DEFAULT_PORT: u16 = 8002;

/// Connects storage, runs migrations (and the seed), and binds the listener.
pub async fn build(config: RestaurantConfig) -> anyhow::Result<Server> {
    let chaos = Chaos::builder(SERVICE)
        .switch(INVENTORY_DELAY.name, INVENTORY_DELAY.field, MAX_DELAY_MS)
        .build();
    let kit = Kit::init::<Migrator>(SERVICE, config.common.clone(), chaos).await?;
    let service_keys = ServiceKeys::new(&config.common.service_token_secret()?);
    let state = RestaurantState {
        inventory: Inventory {
            db: kit.db.clone(),
            cache: kit.cache.clone(),
            locks: MenuLocks::default(),
            delay: kit.chaos.switch(INVENTORY_DELAY.name),
        },
        catalog: Catalog {
            db: kit.db.clone(),
            cache: kit.cache.clone(),
            menu_list_ttl: Duration::from_secs(config.menu_list_ttl_secs),
            menu_ttl: Duration::from_secs(config.menu_ttl_secs),
        },
        service_keys,
        kit: kit.clone(),
    };
    crate::metrics::register(&kit.metrics, state.inventory.clone());
    bind_service(&kit, DEFAULT_PORT, routes::router(), state).await
}
