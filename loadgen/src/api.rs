//! The services' HTTP API as the load generator uses it: timed calls on the public API
//! (directly or through the gateway), recorded per endpoint, and untimed control calls
//! (readiness, admin menus, fault switches, inventory and order statistics) that always go
//! straight to each service.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::recorder::{CacheOutcome, Recorder, Sample, TRANSPORT_ERROR};
use crate::scenario::{Fault, Service};

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

    pub fn id(&self) -> Option<i64> {
        self.body.get("id").and_then(Value::as_i64)
    }
}

/// One service's fault settings as `GET /chaos` reports them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FaultState {
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub delay_ms: u64,
    #[serde(default)]
    pub error_enabled: bool,
    #[serde(default)]
    pub error_percent: u64,
    #[serde(default)]
    pub switches: BTreeMap<String, BTreeMap<String, Value>>,
}

impl FaultState {
    /// The active faults in a few words, e.g. `delay 2000ms, payment_fail fail_percent=30`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.delay_ms > 0 {
            parts.push(format!("delay {}ms", self.delay_ms));
        }
        if self.error_enabled {
            parts.push(format!("500s {}%", self.error_percent));
        }
        for (switch, fields) in &self.switches {
            let active = fields.values().any(|v| match v {
                Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
                Value::Bool(b) => *b,
                _ => false,
            });
            if active {
                let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                parts.push(format!("{switch} {}", fields.join(" ")));
            }
        }
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        }
    }
}

/// One menu's stock ledger as `GET /inventory/{id}` reports it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Inventory {
    pub menu_id: i64,
    pub stock: i64,
    pub initial_stock: i64,
    #[serde(default)]
    pub reserved: i64,
    #[serde(default)]
    pub restored: i64,
}

/// `GET /orders/stats`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct OrderStats {
    #[serde(default)]
    pub by_status: BTreeMap<String, u64>,
    #[serde(default)]
    pub paid_quantities: BTreeMap<String, i64>,
    /// Settled orders whose stock is still to be given back.
    #[serde(default)]
    pub compensation_pending: u64,
    /// Units per menu in PENDING orders.
    #[serde(default)]
    pub pending_quantities: BTreeMap<String, i64>,
    /// How long ago the oldest PENDING order was created (absent: none is, or an older
    /// Order Service that does not say).
    #[serde(default)]
    pub oldest_pending_age_ms: Option<i64>,
}

/// The HTTP client of a run.
pub struct Api {
    http: reqwest::Client,
    targets: Targets,
    admin_token: Option<String>,
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
        Ok(Self {
            http,
            targets,
            admin_token,
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

    pub async fn signup(&self, username: &str, password: &str) -> Reply {
        let request = self
            .public(Method::POST, Service::User, "/signup")
            .json(&json!({"username": username, "password": password}));
        self.timed("POST /signup", request, None, &[409]).await
    }

    pub async fn login(&self, username: &str, password: &str) -> Reply {
        let request = self
            .public(Method::POST, Service::User, "/login")
            .json(&json!({"username": username, "password": password}));
        self.timed("POST /login", request, None, &[]).await
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
        let items: Vec<Value> = items
            .iter()
            .map(|(menu_id, quantity)| json!({"menu_id": menu_id, "quantity": quantity}))
            .collect();
        let request = self
            .public(Method::POST, Service::Order, "/orders")
            .bearer_auth(token)
            .header("Idempotency-Key", idempotency_key)
            .json(&json!({
                "items": items,
                "address": "Seoul Gangnam-gu 123-45",
                "phone": "010-1234-5678",
            }));
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

    // ----- control calls: direct, untimed -----

    fn control(&self, method: Method, service: Service, path: &str) -> RequestBuilder {
        let url = format!("{}{path}", self.targets.direct(service));
        let request = self.http.request(method, url);
        match &self.admin_token {
            Some(token) => request.header("X-Admin-Token", token),
            None => request,
        }
    }

    async fn control_json(&self, request: RequestBuilder, what: &str) -> anyhow::Result<Value> {
        let response = request.send().await.with_context(|| what.to_string())?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            anyhow::bail!("{what}: HTTP {status}: {body}");
        }
        Ok(body)
    }

    /// Waits until every service answers `GET /ready`.
    pub async fn wait_ready(&self, patience: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + patience;
        for service in Service::ALL {
            loop {
                let ready = self
                    .control(Method::GET, service, "/ready")
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == StatusCode::OK);
                if ready {
                    break;
                }
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
        let request = self
            .control(Method::POST, Service::Restaurant, "/admin/menus")
            .json(&json!({"name": name, "price": price, "stock": stock}));
        let body = self.control_json(request, "creating a menu").await?;
        body.get("id")
            .and_then(Value::as_i64)
            .with_context(|| format!("POST /admin/menus answered without an id: {body}"))
    }

    pub async fn inventory(&self, menu_id: i64) -> anyhow::Result<Inventory> {
        let request = self.control(
            Method::GET,
            Service::Restaurant,
            &format!("/inventory/{menu_id}"),
        );
        let body = self.control_json(request, "reading inventory").await?;
        serde_json::from_value(body).context("reading GET /inventory/{id}")
    }

    pub async fn order_stats(&self) -> anyhow::Result<OrderStats> {
        let request = self.control(Method::GET, Service::Order, "/orders/stats");
        let body = self
            .control_json(request, "reading order statistics")
            .await?;
        serde_json::from_value(body).context("reading GET /orders/stats")
    }

    pub async fn fault_state(&self, service: Service) -> anyhow::Result<FaultState> {
        let request = self.control(Method::GET, service, "/chaos");
        let body = self.control_json(request, "reading fault settings").await?;
        serde_json::from_value(body).context("reading GET /chaos")
    }

    /// Sets one fault switch of a service.
    pub async fn apply_fault(&self, service: Service, fault: &Fault) -> anyhow::Result<()> {
        let request = match fault {
            Fault::Delay { delay_ms } => self
                .control(Method::POST, service, "/chaos/delay")
                .json(&json!({"delay_ms": delay_ms})),
            Fault::Error { enable, percent } => {
                let mut body = json!({"enable": enable});
                if let Some(percent) = percent {
                    body["percent"] = json!(percent);
                }
                self.control(Method::POST, service, "/chaos/error")
                    .json(&body)
            }
            Fault::PaymentFail { percent } => self
                .control(Method::POST, service, "/chaos/payment_fail")
                .json(&json!({"fail_percent": percent})),
            Fault::InventoryDelay { delay_ms } => self
                .control(Method::POST, service, "/chaos/inventory_delay")
                .json(&json!({"delay_ms": delay_ms})),
            Fault::Clear => self.control(Method::DELETE, service, "/chaos"),
        };
        self.control_json(
            request,
            &format!("setting {fault} on the {service} service"),
        )
        .await
        .map(|_| ())
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
    fn fault_state_describes_active_switches() {
        let state: FaultState = serde_json::from_value(json!({
            "service": "order", "delay_ms": 0, "error_enabled": false, "error_percent": 50,
            "switches": {"payment_fail": {"fail_percent": 30}}
        }))
        .expect("parses");
        assert_eq!(state.describe(), "payment_fail fail_percent=30");
        assert_eq!(FaultState::default().describe(), "none");
    }
}
