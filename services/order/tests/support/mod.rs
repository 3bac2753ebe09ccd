//! Test harness: the three real services in-process on random ports, talking over real
//! HTTP, against the real PostgreSQL + Redis or the embedded storage; plus helpers for the
//! calls every test makes.

#![allow(dead_code)]

use std::time::Duration;

use order_service::OrderConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};
use testbed_common::testing::{Backend, TestStorage, unique};
use tokio_util::sync::CancellationToken;

pub struct Stack {
    pub user: String,
    pub restaurant: String,
    pub order: String,
    pub http: reqwest::Client,
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
        user: user_url,
        restaurant: restaurant_url,
        order: order_url,
        http: reqwest::Client::new(),
        storage,
        order_stop,
        order_task,
    }
}

/// A valid order body for these (menu id, quantity) lines.
pub fn order_body(items: &[(i64, i64)]) -> Value {
    let items: Vec<Value> = items
        .iter()
        .map(|(menu, quantity)| json!({"menu_id": menu, "quantity": quantity}))
        .collect();
    json!({"items": items, "address": "Seoul Gangnam-gu 123-45", "phone": "010-1234-5678"})
}

pub struct Response {
    pub status: StatusCode,
    pub body: Value,
    pub cache: Option<String>,
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
        let name = unique("u");
        let signup = self
            .call(
                reqwest::Method::POST,
                format!("{}/signup", self.user),
                None,
                Some(json!({"username": name, "password": "s3cret-pass"})),
            )
            .await;
        assert_eq!(signup.status, StatusCode::CREATED, "{}", signup.body);
        let login = self
            .call(
                reqwest::Method::POST,
                format!("{}/login", self.user),
                None,
                Some(json!({"username": name, "password": "s3cret-pass"})),
            )
            .await;
        assert_eq!(login.status, StatusCode::OK);
        login.body["access_token"].as_str().unwrap().to_string()
    }

    pub async fn create_menu(&self, stock: i64, price: i64) -> i64 {
        let response = self
            .call(
                reqwest::Method::POST,
                format!("{}/admin/menus", self.restaurant),
                None,
                Some(json!({"name": "Test Naengmyeon", "price": price, "stock": stock})),
            )
            .await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
        response.body["id"].as_i64().unwrap()
    }

    pub async fn order(&self, token: &str, items: &[(i64, i64)]) -> Response {
        self.call(
            reqwest::Method::POST,
            format!("{}/orders", self.order),
            Some(token),
            Some(order_body(items)),
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
            .json(&order_body(items))
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

    pub async fn inventory(&self, menu: i64) -> Value {
        let response = self
            .call(
                reqwest::Method::GET,
                format!("{}/inventory/{menu}", self.restaurant),
                None,
                None,
            )
            .await;
        assert_eq!(response.status, StatusCode::OK);
        response.body
    }

    pub async fn stock(&self, menu: i64) -> i64 {
        self.inventory(menu).await["stock"].as_i64().unwrap()
    }

    pub async fn stats(&self) -> Value {
        self.call(
            reqwest::Method::GET,
            format!("{}/orders/stats", self.order),
            None,
            None,
        )
        .await
        .body
    }

    pub async fn chaos(&self, base: &str, switch: &str, body: Value) {
        let response = self
            .call(
                reqwest::Method::POST,
                format!("{base}/chaos/{switch}"),
                None,
                Some(body),
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    }

    pub async fn chaos_off(&self, base: &str) {
        let response = self
            .call(reqwest::Method::DELETE, format!("{base}/chaos"), None, None)
            .await;
        assert_eq!(response.status, StatusCode::OK);
    }

    /// Waits until no order is PENDING and no compensation is outstanding.
    pub async fn settle(&self, within: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let stats = self.stats().await;
            if stats["by_status"]["PENDING"] == 0 && stats["compensation_pending"] == 0 {
                return stats;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "orders did not settle: {stats}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Asserts, for `menu`, stock = initial − Σ PAID quantities and the ledger identity.
    pub async fn assert_zero_drift(&self, menu: i64) {
        let inventory = self.inventory(menu).await;
        let stats = self.stats().await;
        let sold = stats["paid_quantities"][menu.to_string()]
            .as_i64()
            .unwrap_or(0);
        let initial = inventory["initial_stock"].as_i64().unwrap();
        let stock = inventory["stock"].as_i64().unwrap();
        assert!(stock >= 0, "oversold: {inventory}");
        assert_eq!(
            stock,
            initial - sold,
            "drift on menu {menu}: {inventory} sold {sold}"
        );
        assert_eq!(inventory["drift"], 0, "ledger identity: {inventory}");
    }
}
