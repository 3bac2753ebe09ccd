//! The real services started in this test process on random ports, talking over real HTTP,
//! on either backend: one service alone ([`Served`]) or the whole stack ([`Stack`]).

use std::time::Duration;

use contract::{CreateOrder, OrderClient, OrderStats, RestaurantClient, StockAudit, UserClient};
use order_service::OrderConfig;
use restaurant_service::RestaurantConfig;
use serde_json::Value;
use testbed_common::config::DEV_SERVICE_TOKEN_SECRET;
use testbed_common::service_auth::ServiceKeys;
use tokio_util::sync::CancellationToken;
use user_service::UserConfig;

use crate::books;
use crate::http::{Response, call};
use crate::storage::{Backend, TestStorage};

/// Starts the User Service on `storage` with `tweak` applied; returns its base URL.
pub async fn serve_user(storage: &mut TestStorage, tweak: impl FnOnce(&mut UserConfig)) -> String {
    let mut config = UserConfig::new(storage.config("user"));
    tweak(&mut config);
    let server = user_service::build(config)
        .await
        .expect("user service starts");
    let base = format!("http://{}", server.local_addr());
    tokio::spawn(server.run(std::future::pending()));
    base
}

/// Starts the Restaurant Service on `storage` with `tweak` applied; returns its base URL.
pub async fn serve_restaurant(
    storage: &mut TestStorage,
    tweak: impl FnOnce(&mut RestaurantConfig),
) -> String {
    let mut config = RestaurantConfig::new(storage.config("restaurant"));
    tweak(&mut config);
    let server = restaurant_service::build(config)
        .await
        .expect("restaurant service starts");
    let base = format!("http://{}", server.local_addr());
    tokio::spawn(server.run(std::future::pending()));
    base
}

/// The Order Service's credential for stock calls, minted from the development link secret
/// the way an operator would.
pub fn stock_token() -> String {
    ServiceKeys::new(DEV_SERVICE_TOKEN_SECRET)
        .stock_token()
        .expect("mint a service token")
}

/// One service alone in this process, with its storage.
pub struct Served {
    pub base: String,
    pub http: reqwest::Client,
    pub storage: TestStorage,
}

impl Served {
    /// The User Service on `backend`.
    pub async fn user(backend: Backend) -> Self {
        Self::user_with(backend, |_| {}).await
    }

    /// The User Service on `backend` with `tweak` applied to its config.
    pub async fn user_with(backend: Backend, tweak: impl FnOnce(&mut UserConfig)) -> Self {
        let mut storage = TestStorage::new(backend);
        let base = serve_user(&mut storage, tweak).await;
        Self::at(base, storage)
    }

    /// The Restaurant Service on `backend` with `tweak` applied to its config.
    pub async fn restaurant_with(
        backend: Backend,
        tweak: impl FnOnce(&mut RestaurantConfig),
    ) -> Self {
        let mut storage = TestStorage::new(backend);
        let base = serve_restaurant(&mut storage, tweak).await;
        Self::at(base, storage)
    }

    fn at(base: String, storage: TestStorage) -> Self {
        Self {
            base,
            http: reqwest::Client::new(),
            storage,
        }
    }

    /// A call at `path` that must get an answer.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        call(
            &self.http,
            method,
            format!("{}{path}", self.base),
            token,
            body,
        )
        .await
    }
}

/// The three services in this process, the Order Service stoppable.
pub struct Stack {
    pub user: String,
    pub restaurant: String,
    pub order: String,
    pub http: reqwest::Client,
    pub users: UserClient,
    pub restaurants: RestaurantClient,
    pub orders: OrderClient,
    pub storage: TestStorage,
    /// Cancel to stop the Order Service gracefully; its task ends once it has stopped.
    pub order_stop: CancellationToken,
    pub order_task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Stack {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts the User and Restaurant Services, then the Order Service with `tweak` applied.
    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut OrderConfig)) -> Self {
        let mut storage = TestStorage::new(backend);
        let user = serve_user(&mut storage, |_| {}).await;
        let restaurant = serve_restaurant(&mut storage, |_| {}).await;
        let mut config =
            OrderConfig::new(storage.config("order"), user.clone(), restaurant.clone());
        tweak(&mut config);
        let server = order_service::build(config)
            .await
            .expect("order service starts");
        let order = format!("http://{}", server.local_addr());
        let order_stop = CancellationToken::new();
        let order_task = tokio::spawn(server.run(order_stop.clone().cancelled_owned()));
        Self {
            users: UserClient::new(&user),
            restaurants: RestaurantClient::new(&restaurant),
            orders: OrderClient::new(&order),
            user,
            restaurant,
            order,
            http: reqwest::Client::new(),
            storage,
            order_stop,
            order_task,
        }
    }

    /// A raw call that must get an answer.
    pub async fn call(
        &self,
        method: reqwest::Method,
        url: String,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        call(&self.http, method, url, token, body).await
    }

    /// Signs up a fresh user and logs in; returns the token.
    pub async fn new_user(&self) -> String {
        books::new_user(&self.users).await
    }

    /// Creates a menu with `stock` units at `price`; returns its id.
    pub async fn create_menu(&self, stock: i64, price: i64) -> i64 {
        books::create_menu(&self.restaurants, stock, price).await
    }

    /// `POST /orders` for `items` (menu id, quantity), the raw answer.
    pub async fn order(&self, token: &str, items: &[(i64, i64)]) -> Response {
        let body = serde_json::to_value(CreateOrder::of(items)).expect("order body");
        let url = format!("{}/orders", self.order);
        self.call(reqwest::Method::POST, url, Some(token), Some(body))
            .await
    }

    /// `POST /orders` with an `Idempotency-Key`, through `client` (e.g. one with a short
    /// timeout, to hang up mid-order).
    pub fn keyed_order(
        &self,
        client: &reqwest::Client,
        token: &str,
        key: &str,
        items: &[(i64, i64)],
    ) -> reqwest::RequestBuilder {
        client
            .post(format!("{}/orders", self.order))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&CreateOrder::of(items))
    }

    pub async fn get_order(&self, token: &str, id: i64) -> Response {
        let url = format!("{}/orders/{id}", self.order);
        self.call(reqwest::Method::GET, url, Some(token), None)
            .await
    }

    pub async fn cancel(&self, token: &str, id: i64) -> Response {
        let url = format!("{}/orders/{id}/cancel", self.order);
        self.call(reqwest::Method::POST, url, Some(token), None)
            .await
    }

    pub async fn inventory(&self, menu: i64) -> StockAudit {
        self.restaurants
            .inventory(menu)
            .await
            .expect("inventory answers")
    }

    pub async fn stock(&self, menu: i64) -> i64 {
        self.inventory(menu).await.stock
    }

    pub async fn stats(&self) -> OrderStats {
        self.orders.stats().await.expect("stats answer")
    }

    /// Waits until no order is PENDING and no compensation is outstanding.
    pub async fn settle(&self, within: Duration) -> OrderStats {
        books::settle(&self.orders, within).await
    }

    /// The books balance for `menus`; see [`books::assert_books_balance`].
    pub async fn assert_books_balance(&self, menus: &[i64]) -> OrderStats {
        books::assert_books_balance(&self.restaurants, &self.orders, menus).await
    }
}
