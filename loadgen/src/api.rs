//! The services' HTTP API as the load generator uses it: timed calls on the public API
//! (directly or through the gateway), recorded per endpoint, and untimed control calls
//! (readiness, admin menus, fault switches, inventory and order statistics) that always go
//! straight to each service. Bodies are the contract crate's types; the control calls go
//! through its typed clients.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use contract::ops::{INVENTORY_DELAY, PAYMENT_FAIL};
use contract::{
    ChaosSnapshot, CreateMenuRequest, CreateOrder, ErrorBody, LoginRequest, OrderClient, OrderLine,
    OrderStats, OrderStatus, OrderView, RestaurantClient, ServiceClient, SignupRequest, StockAudit,
    UserClient,
};
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::recorder::{CacheOutcome, Recorder, Sample, TRANSPORT_ERROR};
use crate::service::Service;
use crate::switch::Fault;

/// Where the services are.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Targets {
    pub user: String,
    pub restaurant: String,
    pub order: String,
    /// When set, the timed public API goes through this NGINX gateway.
    pub gateway: Option<String>,
}

impl Default for Targets {
    fn default() -> Self {
        Self {
            user: "http://127.0.0.1:8001".into(),
            restaurant: "http://127.0.0.1:8002".into(),
            order: "http://127.0.0.1:8003".into(),
            gateway: None,
        }
    }
}

impl Targets {
    /// The direct base URL of a service (control calls).
    pub fn direct(&self, service: Service) -> &str {
        let url = match service {
            Service::User => &self.user,
            Service::Restaurant => &self.restaurant,
            Service::Order => &self.order,
        };
        url.trim_end_matches('/')
    }

    /// The URL of a public API path of `service`, through the gateway when one is set.
    pub fn public(&self, service: Service, path: &str) -> String {
        match &self.gateway {
            Some(gateway) => {
                let gateway = gateway.trim_end_matches('/');
                match service {
                    Service::User => format!("{gateway}/api/users{path}"),
                    Service::Restaurant => format!("{gateway}/api/restaurants{path}"),
                    // `/orders` → `/api/orders`, `/orders/7` → `/api/orders/7`.
                    Service::Order => format!("{gateway}/api{path}"),
                }
            }
            None => format!("{}{path}", self.direct(service)),
        }
    }
}

/// An answer to a timed call.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status, or [`TRANSPORT_ERROR`].
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body read as a contract type, when it has that shape.
    pub fn decode<T: DeserializeOwned>(&self) -> Option<T> {
        T::deserialize(&self.body).ok()
    }

    pub fn id(&self) -> Option<i64> {
        self.body.get("id").and_then(Value::as_i64)
    }

    /// The order's status in an answer to `POST /orders`: the order itself on success, the
    /// `status` detail of an error body (a failed order's, see `contract::FailedOrder`).
    pub fn order_status(&self) -> Option<OrderStatus> {
        if self.is_success() {
            self.decode::<OrderView>().map(|order| order.status)
        } else {
            self.decode::<ErrorBody>()
                .and_then(|body| body.detail::<OrderStatus>("status"))
        }
    }
}

/// The HTTP client of a run.
pub struct Api {
    http: reqwest::Client,
    targets: Targets,
    /// Control clients, straight to each service (never through the gateway).
    users: UserClient,
    restaurants: RestaurantClient,
    orders: OrderClient,
    recorder: Arc<Recorder>,
}

impl Api {
    pub fn new(
        targets: Targets,
        admin_token: Option<String>,
        request_timeout: Duration,
        recorder: Arc<Recorder>,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(request_timeout)
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(256)
            .build()
            .context("building the HTTP client")?;
        let restaurants =
            RestaurantClient::with_http(http.clone(), targets.direct(Service::Restaurant))
                .with_admin_token(admin_token.clone());
        let orders = OrderClient::with_http(http.clone(), targets.direct(Service::Order))
            .with_admin_token(admin_token.clone());
        let users = UserClient::with_http(http.clone(), targets.direct(Service::User))
            .with_admin_token(admin_token);
        Ok(Self {
            http,
            targets,
            users,
            restaurants,
            orders,
            recorder,
        })
    }

    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    pub fn recorder(&self) -> &Arc<Recorder> {
        &self.recorder
    }

    /// Sends a timed request of the public API and records it under `endpoint`: latency
    /// from before sending (or from `intended`, the open-loop start time) to the end of the
    /// body. Statuses in `expected` (besides 2xx) are answers, not errors.
    pub async fn timed(
        &self,
        endpoint: &'static str,
        request: RequestBuilder,
        intended: Option<Instant>,
        expected: &[u16],
    ) -> Reply {
        let sent = Instant::now();
        let started = intended.unwrap_or(sent);
        let (status, cache, bytes) = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let cache = match response.headers().get("x-cache").map(|v| v.as_bytes()) {
                    Some(b"HIT") => Some(CacheOutcome::Hit),
                    Some(b"MISS") => Some(CacheOutcome::Miss),
                    _ => None,
                };
                match response.bytes().await {
                    Ok(bytes) => (status, cache, Some(bytes)),
                    Err(_) => (TRANSPORT_ERROR, cache, None),
                }
            }
            Err(_) => (TRANSPORT_ERROR, None, None),
        };
        let latency = started.elapsed();
        let error = !(200..300).contains(&status) && !expected.contains(&status);
        self.recorder.record(Sample {
            endpoint,
            status,
            latency,
            started,
            cache,
            error,
        });
        let body = bytes
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or(Value::Null);
        Reply { status, body }
    }

    fn public(&self, method: Method, service: Service, path: &str) -> RequestBuilder {
        self.http
            .request(method, self.targets.public(service, path))
    }

    /// A timed `POST` of a JSON body to the User Service.
    async fn post_user(
        &self,
        endpoint: &'static str,
        path: &str,
        body: &impl Serialize,
        expected: &[u16],
    ) -> Reply {
        let request = self.public(Method::POST, Service::User, path).json(body);
        self.timed(endpoint, request, None, expected).await
    }

    /// `POST /signup`; 409 (the name is taken) is an answer, not an error.
    pub async fn signup(&self, username: &str, password: &str) -> Reply {
        let (username, password) = (username.to_string(), password.to_string());
        let body = SignupRequest {
            username,
            password,
            email: None,
        };
        self.post_user("POST /signup", "/signup", &body, &[409])
            .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Reply {
        let (username, password) = (username.to_string(), password.to_string());
        let body = LoginRequest { username, password };
        self.post_user("POST /login", "/login", &body, &[]).await
    }

    pub async fn validate(&self, token: &str, intended: Option<Instant>) -> Reply {
        let request = self
            .public(Method::POST, Service::User, "/validate")
            .bearer_auth(token);
        self.timed("POST /validate", request, intended, &[]).await
    }

    pub async fn menus(&self, intended: Option<Instant>) -> Reply {
        let request = self.public(Method::GET, Service::Restaurant, "/menus");
        self.timed("GET /menus", request, intended, &[]).await
    }

    pub async fn menu(&self, menu_id: i64, intended: Option<Instant>) -> Reply {
        let request = self.public(
            Method::GET,
            Service::Restaurant,
            &format!("/menus/{menu_id}"),
        );
        self.timed("GET /menus/{id}", request, intended, &[]).await
    }

    /// `POST /orders`; 402 (declined) and 409 (out of stock) are answers, not errors.
    pub async fn order(
        &self,
        token: &str,
        items: &[(i64, u32)],
        idempotency_key: &str,
        intended: Option<Instant>,
    ) -> Reply {
        let order = CreateOrder {
            items: items
                .iter()
                .map(|&(menu_id, quantity)| OrderLine {
                    menu_id,
                    quantity: i64::from(quantity),
                })
                .collect(),
            address: "Seoul Gangnam-gu 123-45".into(),
            phone: "010-1234-5678".into(),
        };
        let request = self
            .public(Method::POST, Service::Order, "/orders")
            .bearer_auth(token)
            .header("Idempotency-Key", idempotency_key)
            .json(&order);
        self.timed("POST /orders", request, intended, &[402, 409])
            .await
    }

    pub async fn read_order(&self, token: &str, order_id: i64, intended: Option<Instant>) -> Reply {
        let request = self
            .public(Method::GET, Service::Order, &format!("/orders/{order_id}"))
            .bearer_auth(token);
        self.timed("GET /orders/{id}", request, intended, &[]).await
    }

    pub async fn cancel(&self, token: &str, order_id: i64, intended: Option<Instant>) -> Reply {
        let request = self
            .public(
                Method::POST,
                Service::Order,
                &format!("/orders/{order_id}/cancel"),
            )
            .bearer_auth(token);
        self.timed("POST /orders/{id}/cancel", request, intended, &[409])
            .await
    }

    // ----- control calls: direct, untimed, through the contract's clients -----

    fn control(&self, service: Service) -> &ServiceClient {
        match service {
            Service::User => &self.users,
            Service::Restaurant => &self.restaurants,
            Service::Order => &self.orders,
        }
    }

    /// Waits until every service answers `GET /ready`.
    pub async fn wait_ready(&self, patience: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + patience;
        for service in Service::ALL {
            while self.control(service).ready().await.is_err() {
                if Instant::now() >= deadline {
                    anyhow::bail!(
                        "the {service} service at {} is not ready (GET /ready)",
                        self.targets.direct(service)
                    );
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        Ok(())
    }

    /// Creates a menu for the run; returns its id.
    pub async fn create_menu(&self, name: &str, price: i64, stock: i64) -> anyhow::Result<i64> {
        let menu = self
            .restaurants
            .create_menu(&CreateMenuRequest::new(name, price, stock))
            .await
            .context("creating a menu")?;
        Ok(menu.id)
    }

    pub async fn inventory(&self, menu_id: i64) -> anyhow::Result<StockAudit> {
        self.restaurants
            .inventory(menu_id)
            .await
            .context("reading inventory (GET /inventory/{id})")
    }

    pub async fn order_stats(&self) -> anyhow::Result<OrderStats> {
        self.orders
            .stats()
            .await
            .context("reading order statistics (GET /orders/stats)")
    }

    pub async fn fault_state(&self, service: Service) -> anyhow::Result<ChaosSnapshot> {
        self.control(service)
            .chaos()
            .await
            .context("reading fault settings (GET /chaos)")
    }

    /// Sets one fault switch of a service.
    pub async fn apply_fault(&self, service: Service, fault: &Fault) -> anyhow::Result<()> {
        let client = self.control(service);
        let applied = match fault {
            Fault::Delay { delay_ms } => {
                client
                    .set_delay(i64::try_from(*delay_ms).unwrap_or(i64::MAX))
                    .await
            }
            Fault::Error { enable, percent } => {
                client.set_error(*enable, percent.map(i64::from)).await
            }
            Fault::PaymentFail { percent } => {
                client.set_switch(PAYMENT_FAIL, u64::from(*percent)).await
            }
            Fault::InventoryDelay { delay_ms } => {
                client.set_switch(INVENTORY_DELAY, *delay_ms).await
            }
            Fault::Clear => client.clear_faults().await,
        };
        applied
            .map(|_| ())
            .with_context(|| format!("setting {fault} on the {service} service"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_go_through_the_gateway_when_set() {
        let mut targets = Targets::default();
        assert_eq!(
            targets.public(Service::Order, "/orders/7"),
            "http://127.0.0.1:8003/orders/7"
        );
        targets.gateway = Some("http://127.0.0.1:8080/".into());
        assert_eq!(
            targets.public(Service::User, "/login"),
            "http://127.0.0.1:8080/api/users/login"
        );
        assert_eq!(
            targets.public(Service::Restaurant, "/menus/3"),
            "http://127.0.0.1:8080/api/restaurants/menus/3"
        );
        assert_eq!(
            targets.public(Service::Order, "/orders"),
            "http://127.0.0.1:8080/api/orders"
        );
        assert_eq!(targets.direct(Service::Order), "http://127.0.0.1:8003");
    }

    #[test]
    fn order_status_reads_orders_and_failed_order_errors() {
        let order = serde_json::json!({"id": 42, "user_id": 7, "status": "PAID",
            "items": [{"menu_id": 1, "quantity": 2, "unit_price": 20000}], "total": 40000,
            "address": "Seoul", "phone": "010-1234-5678", "failure_reason": null,
            "compensation_pending": false, "created_at": "2026-11-28T01:00:00Z",
            "updated_at": "2026-11-28T01:00:00Z"});
        let paid = Reply {
            status: 201,
            body: order.clone(),
        };
        assert_eq!(paid.order_status(), Some(OrderStatus::Paid));
        assert_eq!(paid.id(), Some(42));
        let mut failed_order = order;
        failed_order["status"] = "FAILED".into();
        let declined = Reply {
            status: 402,
            body: serde_json::json!({"error": "payment_declined", "message": "declined",
                "order_id": 42, "status": "FAILED", "failure_reason": "payment_declined",
                "order": failed_order}),
        };
        assert_eq!(declined.order_status(), Some(OrderStatus::Failed));
        let timeout = Reply {
            status: 504,
            body: serde_json::json!({"error": "gateway_timeout", "message": "late"}),
        };
        assert_eq!(timeout.order_status(), None);
    }
}
