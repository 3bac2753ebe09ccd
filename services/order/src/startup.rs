//! Building the Order Service: kit (with the `payment_fail` switch), clients, the saga,
//! the recovery loop, routes, server. Tests and the launcher call [`build`] as `main` does.

use std::time::Duration;

use contract::ops::PAYMENT_FAIL;
use testbed_common::Kit;
use testbed_common::chaos::Chaos;
use testbed_common::server::{Server, bind_service};
use testbed_common::service_auth::ServiceKeys;
use tokio_util::task::TaskTracker;

use crate::clients::http_client;
use crate::clients::restaurants::RestaurantsClient;
use crate::clients::users::UsersClient;
use crate::config::OrderConfig;
use crate::domain::recovery::Process;
use crate::domain::saga::Orders;
use crate::routes::{self, OrderState};
use crate::store::migration::Migrator;

pub const SERVICE: &str = "order";
pub const DEFAULT_PORT: u16 = 8003;

/// Connects storage, runs migrations, starts the recovery loop and binds the listener.
pub async fn build(config: OrderConfig) -> anyhow::Result<Server> {
    let chaos = Chaos::builder(SERVICE)
        .switch(PAYMENT_FAIL.name, PAYMENT_FAIL.field, 100)
        .build();
    let kit = Kit::init::<Migrator>(SERVICE, config.common.clone(), chaos).await?;
    let service_keys = ServiceKeys::new(&config.common.service_token_secret()?);
    crate::metrics::register(&kit);
    let http = http_client(Duration::from_millis(config.upstream_timeout_ms));
    let orders = Orders {
        db: kit.db.clone(),
        cache: kit.cache.clone(),
        users: UsersClient::new(http.clone(), &config.user_service_url),
        restaurants: RestaurantsClient::new(http, &config.restaurant_service_url, service_keys),
        payment_fail: kit.chaos.switch(PAYMENT_FAIL.name),
        order_ttl: Duration::from_secs(config.order_ttl_secs),
        crash_after_reserve: config.crash_after_reserve,
        sagas: TaskTracker::new(),
        // Validation plus a reservation and a restore, each bounded by the upstream timeout.
        replay_wait: Duration::from_millis(config.upstream_timeout_ms) * 3,
    };
    let sagas = orders.sagas.clone();
    // Registered before the first order and before the first recovery pass, which then
    // finishes at once whatever a crashed predecessor left PENDING.
    let me = Process::starting_now();
    orders.beat(&me).await?;
    tokio::spawn(
        orders
            .clone()
            .liveness_loop(me, Duration::from_secs(config.pending_timeout_secs)),
    );
    tokio::spawn(orders.clone().recovery_loop(
        Duration::from_secs(config.pending_timeout_secs),
        Duration::from_secs(config.recovery_interval_secs.max(1)),
    ));
    let state = OrderState {
        orders,
        kit: kit.clone(),
    };
    let server = bind_service(&kit, DEFAULT_PORT, routes::router(), state).await?;
    Ok(server.finishing(finish_sagas(sagas)))
}

/// Waits for the sagas still running once the server has stopped (their callers may have
/// hung up; each step is bounded by the upstream timeout), so no order is left PENDING by
/// a graceful stop.
async fn finish_sagas(sagas: TaskTracker) {
    sagas.close();
    if !sagas.is_empty() {
        tracing::info!(sagas = sagas.len(), "waiting for the sagas still running");
    }
    sagas.wait().await;
}
