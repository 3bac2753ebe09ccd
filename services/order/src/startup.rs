//! Building the Order Service: kit (with the `payment_fail` switch), clients, the saga,
//! the recovery loop, routes, server. Tests and the launcher call [`build`] as `main` does.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use contract::ops::PAYMENT_FAIL;
use testbed_common::Kit;
use testbed_common::chaos::Chaos;
use testbed_common::server::{ConnectionLimits, Server, build_app};
use testbed_common::service_auth::ServiceKeys;
use tokio_util::task::TaskTracker;
use utoipa::OpenApi;

use crate::clients::http_client;
use crate::clients::restaurants::RestaurantsClient;
use crate::clients::users::UsersClient;
use crate::config::OrderConfig;
use crate::domain::recovery::Process;
use crate::domain::saga::Orders;
use crate::routes::{self, ApiDoc, OrderState};
use crate::store::migration::Migrator;

pub const SERVICE: &str = "order";
pub const DEFAULT_PORT: u16 = 8003;

/// The bound Order Service: its HTTP server and the sagas it runs in tasks of their own.
pub struct OrderServer {
    server: Server,
    sagas: TaskTracker,
}

impl OrderServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Serves until `shutdown` completes, drains in-flight requests, then waits for the
    /// sagas still running (their callers may have hung up; each step is bounded by the
    /// upstream timeout), so no order is left PENDING by a graceful stop.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let served = self.server.run(shutdown).await;
        self.sagas.close();
        if !self.sagas.is_empty() {
            tracing::info!(
                sagas = self.sagas.len(),
                "waiting for the sagas still running"
            );
        }
        self.sagas.wait().await;
        served
    }
}

/// Connects storage, runs migrations, starts the recovery loop and binds the listener.
pub async fn build(config: OrderConfig) -> anyhow::Result<OrderServer> {
    let addr = SocketAddr::new(
        config.common.host,
        config.common.port.unwrap_or(DEFAULT_PORT),
    );
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
    let app = build_app(&kit, ApiDoc::openapi(), routes::router(), state);
    let server = Server::bind("order-service", addr, app)
        .await?
        .with_limits(ConnectionLimits::from_config(&config.common));
    Ok(OrderServer { server, sagas })
}
