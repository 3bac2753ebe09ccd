//! Restaurant Service end-to-end tests: the real app on a random port, against the real
//! PostgreSQL + Redis and against the embedded SQLite + in-process cache.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use restaurant_service::RestaurantConfig;
use serde_json::{Value, json};
use testbed_common::config::DEV_SERVICE_TOKEN_SECRET;
use testbed_common::service_auth::ServiceKeys;
use testbed_common::testing::{Backend, TestStorage};

struct App {
    base: String,
    http: reqwest::Client,
    /// The Order Service's credential for stock calls, minted from the development link
    /// secret the way an operator would.
    service_token: String,
    _storage: TestStorage,
}

async fn spawn_with(backend: Backend, ttl_secs: Option<u64>) -> App {
    let mut storage = TestStorage::new(backend);
    let mut config = RestaurantConfig::new(storage.config("restaurant"));
    if let Some(ttl) = ttl_secs {
        config.menu_ttl_secs = ttl;
        config.menu_list_ttl_secs = ttl;
    }
    let server = restaurant_service::build(config)
        .await
        .expect("service starts");
    let base = format!("http://{}", server.local_addr());
    tokio::spawn(server.run(std::future::pending()));
    App {
        base,
        http: reqwest::Client::new(),
        service_token: ServiceKeys::new(DEV_SERVICE_TOKEN_SECRET)
            .stock_token()
            .expect("mint a service token"),
        _storage: storage,
    }
}

async fn spawn(backend: Backend) -> App {
    spawn_with(backend, None).await
}

impl App {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value, Option<String>) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.service_token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let cache = response
            .headers()
            .get("x-cache")
            .map(|v| v.to_str().unwrap().to_string());
        (status, response.json().await.unwrap_or(Value::Null), cache)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value, Option<String>) {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn create_menu(&self, stock: i64) -> i64 {
        let (status, menu, _) = self
            .send(
                reqwest::Method::POST,
                "/admin/menus",
                Some(json!({"name": "Test Bibimbap", "price": 9000, "stock": stock})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{menu}");
        menu["id"].as_i64().unwrap()
    }

    async fn reserve(&self, menu: i64, quantity: i64, order: Option<i64>) -> (StatusCode, Value) {
        let mut body = json!({"quantity": quantity});
        if let Some(order) = order {
            body["order_id"] = json!(order);
        }
        let (status, body, _) = self
            .send(
                reqwest::Method::PUT,
                &format!("/inventory/{menu}"),
                Some(body),
            )
            .await;
        (status, body)
    }

    async fn restore(&self, menu: i64, order: i64) -> (StatusCode, Value) {
        let (status, body, _) = self
            .send(
                reqwest::Method::POST,
                &format!("/inventory/{menu}/restore"),
                Some(json!({"order_id": order})),
            )
            .await;
        (status, body)
    }

    async fn audit(&self, menu: i64) -> Value {
        let (status, audit, _) = self.get(&format!("/inventory/{menu}")).await;
        assert_eq!(status, StatusCode::OK);
        audit
    }
}

async fn concurrent_decrements(backend: Backend) {
    let app = spawn(backend).await;
    let menu = app.create_menu(100).await;
    let calls = (0..200).map(|_| app.reserve(menu, 1, None));
    let results = futures::future::join_all(calls).await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let conflicts: Vec<_> = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CONFLICT)
        .collect();
    assert_eq!(ok, 100);
    assert_eq!(conflicts.len(), 100);
    assert_eq!(conflicts[0].1["error"], "insufficient_stock");
    assert_eq!(conflicts[0].1["available"], 0);
    let audit = app.audit(menu).await;
    assert_eq!(audit["stock"], 0);
    assert_eq!(audit["reserved"], 100);
    assert_eq!(audit["restored"], 0);
    assert_eq!(audit["drift"], 0);
}

#[tokio::test]
async fn concurrent_decrements_postgres() {
    concurrent_decrements(Backend::Postgres).await;
}

#[tokio::test]
async fn concurrent_decrements_embedded() {
    concurrent_decrements(Backend::Embedded).await;
}

async fn idempotency(backend: Backend) {
    let app = spawn(backend).await;
    let menu = app.create_menu(50).await;
    let calls = (0..5).map(|_| app.reserve(menu, 3, Some(7)));
    let results = futures::future::join_all(calls).await;
    assert!(
        results.iter().all(|(s, _)| *s == StatusCode::OK),
        "{results:?}"
    );
    assert_eq!(
        results
            .iter()
            .filter(|(_, b)| b["replayed"] == false)
            .count(),
        1
    );
    assert_eq!(app.audit(menu).await["stock"], 47);

    let (status, first) = app.restore(menu, 7).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["restored"], 3);
    let (_, second) = app.restore(menu, 7).await;
    assert_eq!(second["restored"], 0);
    assert_eq!(second["replayed"], true);
    let audit = app.audit(menu).await;
    assert_eq!(audit["stock"], 50);
    assert_eq!(audit["restored"], 3);
    assert_eq!(audit["drift"], 0);

    // An order that reserved nothing restores nothing, and can no longer reserve late.
    let (_, nothing) = app.restore(menu, 8).await;
    assert_eq!(nothing["restored"], 0);
    let (status, late) = app.reserve(menu, 1, Some(8)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(late["error"], "order_compensated");
    let audit = app.audit(menu).await;
    assert_eq!(audit["stock"], 50);
    assert_eq!(audit["drift"], 0);
}

#[tokio::test]
async fn idempotency_postgres() {
    idempotency(Backend::Postgres).await;
}

#[tokio::test]
async fn idempotency_embedded() {
    idempotency(Backend::Embedded).await;
}

/// The reservation's less common answers (on PostgreSQL these run through the one-call
/// function's slower branches): a replay when the stock has run out, a replay or a refusal
/// that must give back what the first statement took, an unknown menu, and reservations
/// racing their own compensation, which must never keep stock.
async fn reservation_edges(backend: Backend) {
    let app = spawn(backend).await;
    let (status, _) = app.reserve(987_654, 1, Some(1)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let menu = app.create_menu(3).await;
    let (status, first) = app.reserve(menu, 3, Some(9)).await;
    assert_eq!((status, first["stock"].clone()), (StatusCode::OK, json!(0)));
    let (status, again) = app.reserve(menu, 3, Some(9)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["replayed"], true);
    assert_eq!(again["quantity"], 3);
    let (status, none_left) = app.reserve(menu, 1, Some(10)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(none_left["error"], "insufficient_stock");
    assert_eq!(none_left["available"], 0);
    assert_eq!(app.restore(menu, 9).await.1["restored"], 3);
    // Stock is there again: a replay must still take nothing.
    let (status, replay) = app.reserve(menu, 3, Some(9)).await;
    assert_eq!(
        (status, replay["replayed"].clone()),
        (StatusCode::OK, json!(true))
    );
    assert_eq!(replay["stock"], 3);
    assert_eq!(app.restore(menu, 11).await.1["restored"], 0);
    let (status, late) = app.reserve(menu, 1, Some(11)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(late["error"], "order_compensated");
    let audit = app.audit(menu).await;
    assert_eq!(
        (audit["stock"].clone(), audit["drift"].clone()),
        (json!(3), json!(0))
    );

    // Each order's reservation and compensation at once: whichever wins, nothing is kept.
    let racing = app.create_menu(1_000).await;
    let races = (100..140).map(|order| {
        let app = &app;
        async move {
            let (reserved, restored) = tokio::join!(
                app.reserve(racing, 2, Some(order)),
                app.restore(racing, order)
            );
            // Reserved first and then given back, or compensated first and then refused.
            let outcome = (reserved.0, restored.1["restored"].as_i64());
            assert!(
                outcome == (StatusCode::OK, Some(2)) || outcome == (StatusCode::CONFLICT, Some(0)),
                "order {order}: {reserved:?} {restored:?}"
            );
        }
    });
    futures::future::join_all(races).await;
    let audit = app.audit(racing).await;
    assert_eq!(audit["stock"], 1_000, "{audit}");
    assert_eq!(audit["drift"], 0);
}

#[tokio::test]
async fn reservation_edges_postgres() {
    reservation_edges(Backend::Postgres).await;
}

#[tokio::test]
async fn reservation_edges_embedded() {
    reservation_edges(Backend::Embedded).await;
}

async fn delay_holds_the_row_lock(backend: Backend) {
    let app = spawn(backend).await;
    let hot = app.create_menu(10).await;
    let other = app.create_menu(10).await;
    let (status, _, _) = app
        .send(
            reqwest::Method::POST,
            "/chaos/inventory_delay",
            Some(json!({"delay_ms": 300})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, chaos, _) = app.get("/chaos").await;
    assert_eq!(chaos["switches"]["inventory_delay"]["delay_ms"], 300);

    let started = Instant::now();
    let timed = |menu| {
        let app = &app;
        async move {
            let (status, _) = app.reserve(menu, 1, None).await;
            assert_eq!(status, StatusCode::OK);
            started.elapsed()
        }
    };
    let (a, b, c) = tokio::join!(timed(hot), timed(hot), timed(other));
    let slowest = a.max(b);
    assert!(
        slowest >= Duration::from_millis(600),
        "hot menu: {a:?} {b:?}"
    );
    assert!(
        c < Duration::from_millis(550),
        "other menu was held up: {c:?}"
    );
    assert_eq!(app.audit(hot).await["stock"], 8);
}

#[tokio::test]
async fn delay_holds_the_row_lock_postgres() {
    delay_holds_the_row_lock(Backend::Postgres).await;
}

#[tokio::test]
async fn delay_holds_the_row_lock_embedded() {
    delay_holds_the_row_lock(Backend::Embedded).await;
}

async fn caching(backend: Backend) {
    let app = spawn_with(backend, Some(1)).await;
    let menu = app.create_menu(20).await;
    let path = format!("/menus/{menu}");
    let (status, first, cache) = app.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cache.as_deref(), Some("MISS"));
    let (_, second, cache) = app.get(&path).await;
    assert_eq!(cache.as_deref(), Some("HIT"));
    assert_eq!(first, second);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (_, _, cache) = app.get(&path).await;
    assert_eq!(cache.as_deref(), Some("MISS"), "expired entry");
    assert_eq!(app.get(&path).await.2.as_deref(), Some("HIT"));

    app.reserve(menu, 5, None).await;
    let (_, after, cache) = app.get(&path).await;
    assert_eq!(cache.as_deref(), Some("MISS"), "a stock change invalidates");
    assert_eq!(after["stock"], 15);

    let (_, list, cache) = app.get("/menus").await;
    assert_eq!(cache.as_deref(), Some("MISS"));
    assert!(list.as_array().unwrap().len() >= 11);
    assert_eq!(app.get("/menus").await.2.as_deref(), Some("HIT"));
    app.reserve(menu, 1, None).await;
    let (_, list, cache) = app.get("/menus").await;
    assert_eq!(cache.as_deref(), Some("MISS"));
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == menu)
        .unwrap()
        .clone();
    assert_eq!(row["stock"], 14);
}

#[tokio::test]
async fn caching_redis() {
    caching(Backend::Postgres).await;
}

#[tokio::test]
async fn caching_in_process() {
    caching(Backend::Embedded).await;
}

#[tokio::test]
async fn seed_data_and_bad_input() {
    let app = spawn(Backend::Embedded).await;
    let (status, menu, _) = app.get("/menus/1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(menu["stock"].as_i64().unwrap() >= 100_000);
    for key in ["id", "restaurant_id", "name", "price", "stock"] {
        assert!(menu.get(key).is_some(), "{key}");
    }
    let (_, restaurants, _) = app.get("/restaurants").await;
    assert!(restaurants.as_array().unwrap().len() >= 3);

    let (status, body, _) = app.get("/menus/abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_path");
    let (status, _, _) = app.get("/menus/987654").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.reserve(987654, 1, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app.reserve(1, -2, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = app.reserve(1, 0, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app.reserve(1, 1_000_000, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body, _) = app
        .send(
            reqwest::Method::PUT,
            "/inventory/1",
            Some(json!({"quantity": 1, "colour": "red"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["message"].as_str().unwrap().contains("colour"),
        "{body}"
    );
    let response = app
        .http
        .put(format!("{}/inventory/1", app.base))
        .bearer_auth(&app.service_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].is_string());
    let response = app
        .http
        .put(format!("{}/inventory/1", app.base))
        .bearer_auth(&app.service_token)
        .header("content-type", "application/json")
        .body("{\"quantity\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (status, _, _) = app
        .send(
            reqwest::Method::POST,
            "/chaos/inventory_delay",
            Some(json!({"delay_ms": -5})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _, _) = app
        .send(
            reqwest::Method::POST,
            "/chaos/nonexistent",
            Some(json!({"x": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Restoring more than reserved is refused and moves nothing.
    let menu = app.create_menu(5).await;
    app.reserve(menu, 2, Some(99)).await;
    let (status, _, _) = app
        .send(
            reqwest::Method::POST,
            &format!("/inventory/{menu}/restore"),
            Some(json!({"order_id": 99, "quantity": 3})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(app.audit(menu).await["stock"], 3);
}

#[tokio::test]
async fn set_stock_resets_accounting() {
    let app = spawn(Backend::Postgres).await;
    let menu = app.create_menu(10).await;
    app.reserve(menu, 4, Some(1)).await;
    let (status, audit, _) = app
        .send(
            reqwest::Method::PUT,
            &format!("/admin/menus/{menu}/stock"),
            Some(json!({"stock": 30})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        audit,
        json!({"menu_id": menu, "name": "Test Bibimbap", "stock": 30, "initial_stock": 30, "reserved": 0, "restored": 0, "drift": 0})
    );
    let (_, all, _) = app.get("/inventory").await;
    assert!(all.as_array().unwrap().iter().all(|m| m["drift"] == 0));
}
