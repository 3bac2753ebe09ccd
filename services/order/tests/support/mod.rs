//! Test harness: the three real services in-process on random ports, talking over real
//! HTTP, against the real PostgreSQL + Redis or the embedded storage; plus helpers for the
//! calls every test makes, through the contract's typed clients.

#![allow(dead_code)]

use std::time::Duration;

use contract::{
    CreateMenuRequest, CreateOrder, ErrorBody, FailedOrder, OrderClient, OrderStats, OrderView,
    RestaurantClient, StockAudit, UserClient,
};
use order_service::OrderConfig;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;
use testbed_common::testing::{Backend, TestStorage, unique};
use tokio_util::sync::CancellationToken;

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

pub async fn start(backend: Backend) -> Stack {
    start_with(backend, |_| {}).await
}

/// Starts user and restaurant services, then the order service with `tweak` applied.
pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut OrderConfig)) -> Stack {
    let mut storage = TestStorage::new(backend);
    let user = user_service::build(user_service::UserConfig::new(storage.config("user")))
        .await
        .expect("user service");
    let user_url = format!("http://{}", user.local_addr());
    tokio::spawn(user.run(std::future::pending()));
    let restaurant = restaurant_service::build(restaurant_service::RestaurantConfig::new(
        storage.config("restaurant"),
    ))
    .await
    .expect("restaurant service");
    let restaurant_url = format!("http://{}", restaurant.local_addr());
    tokio::spawn(restaurant.run(std::future::pending()));
    let mut config = OrderConfig::new(
        storage.config("order"),
        user_url.clone(),
        restaurant_url.clone(),
    );
    tweak(&mut config);
    let order = order_service::build(config).await.expect("order service");
    let order_url = format!("http://{}", order.local_addr());
    let order_stop = CancellationToken::new();
    let order_task = tokio::spawn(order.run(order_stop.clone().cancelled_owned()));
    Stack {
        users: UserClient::new(&user_url),
        restaurants: RestaurantClient::new(&restaurant_url),
        orders: OrderClient::new(&order_url),
        user: user_url,
        restaurant: restaurant_url,
        order: order_url,
        http: reqwest::Client::new(),
        storage,
        order_stop,
        order_task,
    }
}

/// A raw answer, for tests that look at statuses, headers and error bodies.
pub struct Response {
    pub status: StatusCode,
    pub body: Value,
    pub cache: Option<String>,
}

impl Response {
    /// The body as a contract type; panics (showing the body) when it has another shape.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        T::deserialize(&self.body)
            .unwrap_or_else(|e| panic!("not the expected body ({e}): {}", self.body))
    }

    pub fn order(&self) -> OrderView {
        self.json()
    }

    pub fn error(&self) -> ErrorBody {
        self.json()
    }

    /// The details of a failed order's error body.
    pub fn failed(&self) -> FailedOrder {
        self.error()
            .details_as()
            .unwrap_or_else(|| panic!("not a failed order: {}", self.body))
    }
}

impl Stack {
    pub async fn call(
        &self,
        method: reqwest::Method,
        url: String,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.http.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let cache = response
            .headers()
            .get("x-cache")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Response {
            status,
            body: response.json().await.unwrap_or(Value::Null),
            cache,
        }
    }

    /// Signs up a fresh user and logs in; returns the token.
    pub async fn new_user(&self) -> String {
        self.users
            .signup_and_login(&unique("u"), "s3cret-pass")
            .await
            .expect("signup and login")
    }

    pub async fn create_menu(&self, stock: i64, price: i64) -> i64 {
        self.restaurants
            .create_menu(&CreateMenuRequest::new("Test Naengmyeon", price, stock))
            .await
            .expect("menu created")
            .id
    }

    pub async fn order(&self, token: &str, items: &[(i64, i64)]) -> Response {
        self.call(
            reqwest::Method::POST,
            format!("{}/orders", self.order),
            Some(token),
            Some(serde_json::to_value(CreateOrder::of(items)).expect("order body")),
        )
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
        self.call(
            reqwest::Method::GET,
            format!("{}/orders/{id}", self.order),
            Some(token),
            None,
        )
        .await
    }

    pub async fn cancel(&self, token: &str, id: i64) -> Response {
        self.call(
            reqwest::Method::POST,
            format!("{}/orders/{id}/cancel", self.order),
            Some(token),
            None,
        )
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
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let stats = self.stats().await;
            if stats.settled() {
                return stats;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "orders did not settle: {stats:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Asserts, for `menu`, stock = initial − Σ PAID quantities and the ledger identity.
    pub async fn assert_zero_drift(&self, menu: i64) {
        let inventory = self.inventory(menu).await;
        let sold = self.stats().await.sold(menu);
        assert!(inventory.stock >= 0, "oversold: {inventory:?}");
        assert_eq!(
            inventory.stock,
            inventory.initial_stock - sold,
            "drift on menu {menu}: {inventory:?} sold {sold}"
        );
        assert_eq!(inventory.drift, 0, "ledger identity: {inventory:?}");
    }
}
