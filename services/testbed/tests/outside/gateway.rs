//! The NGINX gateway in front of the real services (what scripts/gateway-test.sh did):
//! the stack in this process on free ports, gateway/templates/default.conf.template rendered
//! for it, `nginx -t`, nginx on a free port with a private prefix. Through the gateway, with
//! the contract clients: signup → login → validate → profile → menus → order (PAID) →
//! status → cancel (CANCELLED), stock moving and restored, request ids passed and made;
//! fault switches, admin calls, metrics, stock calls and operator views never routed; a
//! dead upstream answered with the gateway's own JSON 502/504.
//!
//! Needs nginx (`apt-get install nginx`; scripts/test.sh and scripts/gateway-ci.sh install
//! it): without it these tests fail and say so.

use crate::in_process::TestStack;
use crate::nginx::{self, Gateway, RawAnswer};
use contract::{
    CreateOrder, ErrorBody, Health, LoginRequest, MenuSummary, OrderClient, OrderStatus, OrderView,
    RestaurantClient, ServiceClient, SignupRequest, UserClient, UserProfile,
};
use reqwest::{Method, StatusCode};

/// The services' clients pointed at the gateway's public prefixes.
struct Api {
    gateway: ServiceClient,
    /// `/api/users/{signup,login,validate}`.
    users: UserClient,
    /// `/api/users/{id}` (the client's `/users/{id}` under `/api`).
    profiles: UserClient,
    restaurants: RestaurantClient,
    /// `/api/orders…` (the client's `/orders…` under `/api`).
    orders: OrderClient,
}

impl Api {
    fn new(gateway: &str) -> Self {
        Self {
            gateway: ServiceClient::new(gateway),
            users: UserClient::new(&format!("{gateway}/api/users")),
            profiles: UserClient::new(&format!("{gateway}/api")),
            restaurants: RestaurantClient::new(&format!("{gateway}/api/restaurants")),
            orders: OrderClient::new(&format!("{gateway}/api")),
        }
    }
}

/// The stack and a gateway in front of it.
async fn gateway_in_front(name: &str) -> (TestStack, Gateway) {
    let stack = TestStack::start(name).await;
    let urls = stack.urls();
    let [user, restaurant, order] =
        [&urls.user_url, &urls.restaurant_url, &urls.order_url].map(|url| host_port(url));
    let gateway = Gateway::start(&stack.scratch("gateway"), user, restaurant, order).await;
    (stack, gateway)
}

fn host_port(url: &str) -> &str {
    url.trim_start_matches("http://")
}

fn is_json(headers: &reqwest::header::HeaderMap) -> bool {
    headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_brief_flow_through_the_gateway() {
    let (stack, gateway) = gateway_in_front("gateway-flow").await;
    let urls = stack.urls();
    for url in [&urls.user_url, &urls.restaurant_url, &urls.order_url] {
        let health = ServiceClient::new(url).health().await;
        assert_eq!(health.expect("the service's own /health").status, "ok");
    }
    let api = Api::new(&gateway.url);
    let health = api
        .gateway
        .call::<Health>(api.gateway.request(Method::GET, "/health"))
        .await
        .expect("GET /health on the gateway");
    assert_eq!(health.status, StatusCode::OK);
    assert!(is_json(&health.headers), "{:?}", health.headers);
    assert_eq!(
        (health.body.status.as_str(), health.body.service.as_str()),
        ("ok", "gateway")
    );

    let token = sign_up_and_log_in(&api).await;
    let menu = menu_in_stock(&api).await;
    // The stock audit is an operator view, read directly at the service (never routed).
    let direct = RestaurantClient::new(&stack.urls().restaurant_url);
    let before = stock(&direct, menu).await;

    let order = create_order(&api, &token, menu).await;
    assert_eq!(
        stock(&direct, menu).await,
        before - 1,
        "one unit of menu {menu} taken"
    );
    let read = api.orders.order(&token, order.id).await.expect("GET order");
    assert_eq!(read.body.status, OrderStatus::Paid);
    let cancelled = api.orders.cancel_order(&token, order.id).await;
    let cancelled = cancelled.expect("POST /api/orders/{id}/cancel");
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    let read = api.orders.order(&token, order.id).await.expect("GET order");
    assert_eq!(read.body.status, OrderStatus::Cancelled);
    assert_eq!(
        stock(&direct, menu).await,
        before,
        "stock of menu {menu} restored"
    );

    // Upstream errors pass through untouched (not replaced by the gateway).
    let anonymous = api.orders.request(Method::POST, "/orders");
    let answer = anonymous
        .json(&CreateOrder::of(&[(menu, 1)]))
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert!(is_json(answer.headers()), "{:?}", answer.headers());
    let body: ErrorBody = answer.json().await.expect("the service's JSON error");
    assert!(!body.error.is_empty());
    drop(gateway);
    stack.stop().await;
}

/// A menu's stock from its audit figures.
async fn stock(direct: &RestaurantClient, menu: i64) -> i64 {
    direct.inventory(menu).await.expect("stock audit").stock
}

/// signup (201) → login (access token) → validate (valid) → profile (the name); the token.
async fn sign_up_and_log_in(api: &Api) -> String {
    let username = format!("gw_{}", uuid::Uuid::new_v4().simple());
    let password = "Gateway-test-pass-123".to_string();
    let signup = SignupRequest {
        username: username.clone(),
        password: password.clone(),
        email: None,
    };
    let created = api
        .users
        .call::<UserProfile>(api.users.request(Method::POST, "/signup").json(&signup))
        .await
        .expect("POST /api/users/signup");
    assert_eq!(created.status, StatusCode::CREATED);
    let login = LoginRequest {
        username: username.clone(),
        password,
    };
    let token = api.users.login(&login).await.expect("login").access_token;
    assert!(!token.is_empty());
    let valid = api.users.validate(&token, None).await.expect("validate");
    assert!(valid.valid && valid.username == username);
    let profile = api.profiles.profile(&token, created.body.id).await;
    assert_eq!(profile.expect("GET /api/users/{id}").username, username);
    token
}

/// A menu in stock (menu 1 when it is), checking the request id comes back when sent and
/// is made (32 hex digits) when not; also the other public reads.
async fn menu_in_stock(api: &Api) -> i64 {
    let restaurants = &api.restaurants;
    let request_id = format!("gwtest-{}", uuid::Uuid::new_v4().simple());
    let menus = restaurants
        .call::<Vec<MenuSummary>>(
            restaurants
                .request(Method::GET, "/menus")
                .header("x-request-id", &request_id),
        )
        .await
        .expect("GET /api/restaurants/menus");
    let echoed = menus.headers.get("x-request-id").map(|v| v.as_bytes());
    assert_eq!(
        echoed,
        Some(request_id.as_bytes()),
        "the caller's request id"
    );
    let made = restaurants
        .menus()
        .await
        .expect("GET /api/restaurants/menus");
    let made = made.headers.get("x-request-id").map(|v| v.to_str());
    let made = made.and_then(Result::ok).unwrap_or_default().to_string();
    assert!(
        made.len() == 32 && made.chars().all(|c| c.is_ascii_hexdigit()),
        "a request id made by the gateway: {made:?}"
    );
    let in_stock: Vec<i64> = menus
        .body
        .iter()
        .filter(|m| m.stock > 0)
        .map(|m| m.id)
        .collect();
    let menu = *in_stock
        .iter()
        .find(|&&id| id == 1)
        .or(in_stock.first())
        .expect("a menu in stock");
    restaurants
        .restaurants()
        .await
        .expect("GET /api/restaurants/restaurants");
    restaurants
        .menu(menu)
        .await
        .expect("GET /api/restaurants/menus/{id}");
    menu
}

/// `POST /api/orders` → 201 PAID.
async fn create_order(api: &Api, token: &str, menu: i64) -> OrderView {
    let request = api
        .orders
        .request(Method::POST, "/orders")
        .bearer_auth(token)
        .json(&CreateOrder::of(&[(menu, 1)]));
    let order = api.orders.call::<OrderView>(request).await;
    let order = order.expect("POST /api/orders");
    assert_eq!(order.status, StatusCode::CREATED);
    assert_eq!(order.body.status, OrderStatus::Paid);
    order.body
}

/// Never routed: fault switches, admin calls, metrics, stock moves, operator views; also
/// encoded, upper-case, `..` and `//` spellings of them (sent as written). One call a line:
/// `METHOD PATH [JSON BODY]`.
const BLOCKED: &str = r#"
GET /api/users/chaos
GET /api/restaurants/chaos
GET /api/orders/chaos
DELETE /api/users/chaos
DELETE /api/orders/chaos
POST /api/users/chaos/delay {"delay_ms":1500}
POST /api/users/chaos/error {"enable":true}
POST /api/restaurants/chaos/inventory_delay {"delay_ms":3000}
POST /api/orders/chaos/payment_fail {"fail_percent":100}
GET /api/users/metrics
GET /api/restaurants/metrics
GET /api/orders/metrics
GET /api/restaurants/admin/menus
POST /api/restaurants/admin/menus {"restaurant_id":1,"name":"x","price":1,"stock":1}
GET /api/restaurants/%63haos
GET /api/restaurants/CHAOS
GET /api/restaurants/menus/../chaos
GET /api/orders//metrics
GET /chaos
GET /metrics
GET /admin/menus
GET /api/restaurants/inventory
GET /api/restaurants/inventory/1
PUT /api/restaurants/inventory/1 {"quantity":1,"order_id":999999}
POST /api/restaurants/inventory/1/restore {"order_id":999999}
PUT /api/restaurants/Inventory/1 {"quantity":1}
GET /api/restaurants/menus/1/../../inventory/1
GET /api/orders/stats
"#;

/// The gateway's JSON error: `status`, `application/json`, `{"error": code, …}`.
fn gateway_error(answer: &RawAnswer) -> Option<(u16, String)> {
    let json = answer
        .header("content-type")
        .is_some_and(|value| value.starts_with("application/json"));
    let body: ErrorBody = serde_json::from_str(&answer.body).ok()?;
    json.then_some((answer.status, body.error))
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_switches_admin_metrics_and_stock_calls_are_not_routed() {
    let (stack, gateway) = gateway_in_front("gateway-blocked").await;
    let mut leaks = Vec::new();
    let calls: Vec<&str> = BLOCKED.lines().filter(|line| !line.is_empty()).collect();
    assert_eq!(calls.len(), 28, "the blocked calls as listed");
    for call in calls {
        let mut parts = call.splitn(3, ' ');
        let (method, path, body) = (parts.next(), parts.next(), parts.next());
        let (Some(method), Some(path)) = (method, path) else {
            panic!("not `METHOD PATH [BODY]`: {call}")
        };
        let answer = nginx::raw(&gateway.addr, method, path, body).await;
        if gateway_error(&answer) != Some((404, "not_found".into())) {
            leaks.push(format!(
                "{method} {path} -> {} {}",
                answer.status, answer.body
            ));
        }
    }
    assert!(leaks.is_empty(), "routed through the gateway: {leaks:#?}");

    // The blocked POST /chaos/payment_fail never reached the service: an order still pays.
    let api = Api::new(&gateway.url);
    let token = api
        .users
        .signup_and_login(
            &format!("gw_{}", uuid::Uuid::new_v4().simple()),
            "pw-123456",
        )
        .await
        .expect("logged in through the gateway");
    let order = create_order(&api, &token, 1).await;
    let cancelled = api.orders.cancel_order(&token, order.id).await;
    assert_eq!(cancelled.expect("cancel").status, OrderStatus::Cancelled);
    drop(gateway);
    stack.stop().await;
}

#[tokio::test]
async fn a_dead_upstream_gets_the_gateways_json_502_or_504() {
    let dir = std::env::temp_dir().join(format!("gateway-dead-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("work directory");
    let dead = format!("127.0.0.1:{}", testbed_common::net::free_port());
    let gateway = Gateway::start(&dir, &dead, &dead, &dead).await;
    let order = serde_json::to_string(&CreateOrder::of(&[(1, 1)])).expect("JSON");
    let calls = [
        ("GET", "/api/restaurants/menus", None),
        ("POST", "/api/orders", Some(order.as_str())),
        ("GET", "/api/users/1", None),
    ];
    let mut wrong = Vec::new();
    for (method, path, body) in calls {
        let answer = nginx::raw(&gateway.addr, method, path, body).await;
        let ok = matches!(
            gateway_error(&answer),
            Some((502, code)) if code == "bad_gateway"
        ) || matches!(
            gateway_error(&answer),
            Some((504, code)) if code == "gateway_timeout"
        );
        if !ok || answer.header("x-request-id").is_none_or(str::is_empty) {
            wrong.push(format!(
                "{method} {path} -> {} {}",
                answer.status, answer.body
            ));
        }
    }
    drop(gateway);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        wrong.is_empty(),
        "not the gateway's JSON 502/504: {wrong:#?}"
    );
}
