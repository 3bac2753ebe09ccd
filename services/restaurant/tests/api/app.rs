//! The Restaurant Service alone in the test process, and the calls its tests make: raw
//! calls carrying the Order Service's stock credential, a menu, reservations and restores
//! through the contract client, the stock audit.

use contract::{
    ClientError, Reservation, ReserveRequest, RestaurantClient, Restoration, RestoreRequest,
    StockAudit,
};
use reqwest::StatusCode;
use serde_json::Value;
use testkit::{Backend, Served};

pub struct App {
    pub base: String,
    pub http: reqwest::Client,
    pub client: RestaurantClient,
    /// The Order Service's credential for stock calls.
    pub service_token: String,
    served: Served,
}

/// The service on `backend`, its menu caches living `ttl_secs` when given.
pub async fn spawn_with(backend: Backend, ttl_secs: Option<u64>) -> App {
    let served = Served::restaurant_with(backend, |config| {
        if let Some(ttl) = ttl_secs {
            config.menu_ttl_secs = ttl;
            config.menu_list_ttl_secs = ttl;
        }
    })
    .await;
    App {
        base: served.base.clone(),
        http: served.http.clone(),
        client: RestaurantClient::new(&served.base),
        service_token: testkit::stock_token(),
        served,
    }
}

pub async fn spawn(backend: Backend) -> App {
    spawn_with(backend, None).await
}

impl App {
    /// A raw call with the stock credential: status, JSON body and `X-Cache`.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value, Option<String>) {
        let answer = self
            .served
            .call(method, path, Some(&self.service_token), body)
            .await;
        (answer.status, answer.body, answer.cache)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value, Option<String>) {
        self.send(reqwest::Method::GET, path, None).await
    }

    /// A menu of [`testkit::MENU_NAME`] with `stock` units.
    pub async fn create_menu(&self, stock: i64) -> i64 {
        testkit::create_menu(&self.client, stock, 9000).await
    }

    pub async fn reserve(
        &self,
        menu: i64,
        quantity: i64,
        order_id: Option<i64>,
    ) -> Result<Reservation, ClientError> {
        let reserve = ReserveRequest { quantity, order_id };
        self.client
            .stock_caller(&self.service_token, None)
            .reserve(menu, &reserve)
            .await
    }

    pub async fn restore(&self, menu: i64, order_id: i64) -> Result<Restoration, ClientError> {
        let restore = RestoreRequest {
            order_id,
            quantity: None,
        };
        self.client
            .stock_caller(&self.service_token, None)
            .restore(menu, &restore)
            .await
    }

    pub async fn audit(&self, menu: i64) -> StockAudit {
        self.client.inventory(menu).await.expect("audit figures")
    }
}
