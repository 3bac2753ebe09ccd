//! The Restaurant Service's endpoints: concurrent and idempotent reservations, restores,
//! the row lock under a delay, caching, seed data and bad input, on both backends.

use std::time::{Duration, Instant};

use contract::ops::INVENTORY_DELAY;
use contract::{ClientError, Reservation, StockAudit};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::Backend;

use crate::app::{App, spawn, spawn_with};

/// The status of a refused call.
fn refused<T: std::fmt::Debug>(result: Result<T, ClientError>) -> StatusCode {
    result.expect_err("refused").status().expect("an answer")
}

async fn concurrent_decrements(backend: Backend) {
    let app = spawn(backend).await;
    let menu = app.create_menu(100).await;
    let calls = (0..200).map(|_| app.reserve(menu, 1, None));
    let results = futures::future::join_all(calls).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let conflicts: Vec<_> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .filter(|e| e.status() == Some(StatusCode::CONFLICT))
        .collect();
    assert_eq!(ok, 100);
    assert_eq!(conflicts.len(), 100);
    let refusal = conflicts[0].body().expect("an error body");
    assert_eq!(refusal.error, "insufficient_stock");
    assert_eq!(refusal.detail::<i64>("available"), Some(0));
    let audit = app.audit(menu).await;
    assert_eq!(audit.stock, 0);
    assert_eq!(audit.reserved, 100);
    assert_eq!(audit.restored, 0);
    assert_eq!(audit.drift, 0);
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
    let reservations: Vec<Reservation> = results
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("every repeat answers");
    assert_eq!(reservations.iter().filter(|r| !r.replayed).count(), 1);
    assert_eq!(app.audit(menu).await.stock, 47);

    let first = app.restore(menu, 7).await.expect("restored");
    assert_eq!(first.restored, 3);
    let second = app.restore(menu, 7).await.expect("replayed");
    assert_eq!(second.restored, 0);
    assert!(second.replayed);
    let audit = app.audit(menu).await;
    assert_eq!(audit.stock, 50);
    assert_eq!(audit.restored, 3);
    assert_eq!(audit.drift, 0);

    // An order that reserved nothing restores nothing, and can no longer reserve late.
    let nothing = app.restore(menu, 8).await.expect("restored nothing");
    assert_eq!(nothing.restored, 0);
    let late = app.reserve(menu, 1, Some(8)).await.expect_err("too late");
    assert_eq!(late.status(), Some(StatusCode::CONFLICT));
    assert_eq!(late.code(), Some("order_compensated"));
    let audit = app.audit(menu).await;
    assert_eq!(audit.stock, 50);
    assert_eq!(audit.drift, 0);
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
    // A refusal's status and error code.
    let refused = |result: Result<Reservation, ClientError>| {
        let error = result.expect_err("refused");
        let code = error.body().map(|body| body.error.clone());
        (error.status(), code, error)
    };
    let (status, _, _) = refused(app.reserve(987_654, 1, Some(1)).await);
    assert_eq!(status, Some(StatusCode::NOT_FOUND));
    let menu = app.create_menu(3).await;
    let first = app.reserve(menu, 3, Some(9)).await.expect("reserved");
    assert_eq!(first.stock, 0);
    let again = app.reserve(menu, 3, Some(9)).await.expect("replayed");
    assert!(again.replayed, "{again:?}");
    assert_eq!(again.quantity, 3);
    let (status, code, none_left) = refused(app.reserve(menu, 1, Some(10)).await);
    assert_eq!(status, Some(StatusCode::CONFLICT));
    assert_eq!(code.as_deref(), Some("insufficient_stock"));
    let available = none_left
        .body()
        .and_then(|body| body.details.get("available").cloned());
    assert_eq!(available, Some(json!(0)));
    assert_eq!(app.restore(menu, 9).await.expect("restored").restored, 3);
    // Stock is there again: a replay must still take nothing.
    let replay = app.reserve(menu, 3, Some(9)).await.expect("replayed");
    assert!(replay.replayed);
    assert_eq!(replay.stock, 3);
    assert_eq!(app.restore(menu, 11).await.expect("restored").restored, 0);
    let (status, code, _) = refused(app.reserve(menu, 1, Some(11)).await);
    assert_eq!(status, Some(StatusCode::CONFLICT));
    assert_eq!(code.as_deref(), Some("order_compensated"));
    let audit = app.audit(menu).await;
    assert_eq!((audit.stock, audit.drift), (3, 0));

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
            let restored = restored.expect("restore answers").restored;
            let outcome = match &reserved {
                Ok(_) => (Some(StatusCode::OK), restored),
                Err(error) => (error.status(), restored),
            };
            assert!(
                outcome == (Some(StatusCode::OK), 2) || outcome == (Some(StatusCode::CONFLICT), 0),
                "order {order}: {reserved:?} restored {restored}"
            );
        }
    });
    futures::future::join_all(races).await;
    let audit = app.audit(racing).await;
    assert_eq!(audit.stock, 1_000, "{audit:?}");
    assert_eq!(audit.drift, 0);
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
    app.client
        .set_switch(INVENTORY_DELAY, 300)
        .await
        .expect("inventory_delay set");
    let chaos = app.client.chaos().await.expect("fault settings");
    assert_eq!(
        chaos.switches[INVENTORY_DELAY.name][INVENTORY_DELAY.field],
        300
    );

    let started = Instant::now();
    let timed = |menu| {
        let app = &app;
        async move {
            app.reserve(menu, 1, None).await.expect("reserved");
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
    assert_eq!(app.audit(hot).await.stock, 8);
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
    let read = async || app.client.menu(menu).await.expect("the menu");
    let list = async || app.client.menus().await.expect("the menus");
    let first = read().await;
    assert_eq!(first.cache(), Some("MISS"));
    let second = read().await;
    assert_eq!(second.cache(), Some("HIT"));
    assert_eq!(first.body, second.body);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(read().await.cache(), Some("MISS"), "expired entry");
    assert_eq!(read().await.cache(), Some("HIT"));

    app.reserve(menu, 5, None).await.expect("reserved");
    let after = read().await;
    assert_eq!(after.cache(), Some("MISS"), "a stock change invalidates");
    assert_eq!(after.body.stock, 15);

    let menus = list().await;
    assert_eq!(menus.cache(), Some("MISS"));
    assert!(menus.body.len() >= 11);
    assert_eq!(list().await.cache(), Some("HIT"));
    app.reserve(menu, 1, None).await.expect("reserved");
    let menus = list().await;
    assert_eq!(menus.cache(), Some("MISS"));
    let row = menus.body.iter().find(|m| m.id == menu).expect("the menu");
    assert_eq!(row.stock, 14);
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
    // The wire shape itself, not only what the contract type reads.
    for key in ["id", "restaurant_id", "name", "price", "stock"] {
        assert!(menu.get(key).is_some(), "{key}");
    }
    assert!(app.client.menu(1).await.expect("menu 1").body.stock >= 100_000);
    assert!(app.client.restaurants().await.expect("restaurants").len() >= 3);

    let (status, body, _) = app.get("/menus/abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_path");
    let (status, _, _) = app.get("/menus/987654").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        refused(app.reserve(987654, 1, None).await),
        StatusCode::NOT_FOUND
    );
    for quantity in [-2, 0, 1_000_000] {
        assert_eq!(
            refused(app.reserve(1, quantity, None).await),
            StatusCode::UNPROCESSABLE_ENTITY,
            "quantity {quantity}"
        );
    }
    assert_malformed_inventory_bodies_are_refused(&app).await;
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
    app.reserve(menu, 2, Some(99)).await.expect("reserved");
    let (status, _, _) = app
        .send(
            reqwest::Method::POST,
            &format!("/inventory/{menu}/restore"),
            Some(json!({"order_id": 99, "quantity": 3})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(app.audit(menu).await.stock, 3);
}

/// A stock update with an unknown field is 422 naming it, one without a JSON content type
/// 415 with an error body, one with truncated JSON 400.
async fn assert_malformed_inventory_bodies_are_refused(app: &App) {
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
}

#[tokio::test]
async fn set_stock_resets_accounting() {
    let app = spawn(Backend::Postgres).await;
    let menu = app.create_menu(10).await;
    app.reserve(menu, 4, Some(1)).await.expect("reserved");
    let audit = app.client.set_stock(menu, 30).await.expect("stock set");
    assert_eq!(
        audit,
        StockAudit {
            menu_id: menu,
            name: testkit::MENU_NAME.into(),
            stock: 30,
            initial_stock: 30,
            reserved: 0,
            restored: 0,
            drift: 0,
        }
    );
    let all = app.client.inventories().await.expect("audit figures");
    assert!(all.iter().all(|m| m.drift == 0));
}

/// The stock calls check the Order Service's credential before they read the path or the
/// body: a caller without it learns nothing (no 400/404/415/422 about the menu or the body)
/// and moves nothing.
#[tokio::test]
async fn stock_calls_check_the_credential_before_path_and_body() {
    let app = spawn(Backend::Embedded).await;
    let menu = app.create_menu(10).await;
    let before = app.audit(menu).await;
    let unknown_field = || json!({"quantity": 1, "colour": "red"});
    let cases: [(reqwest::Method, String, Option<Value>, Option<&str>); 6] = [
        (
            reqwest::Method::PUT,
            "/inventory/abc".into(),
            Some(json!({"quantity": 1})),
            None,
        ),
        (
            reqwest::Method::PUT,
            "/inventory/987654".into(),
            Some(json!({"quantity": 1})),
            None,
        ),
        (
            reqwest::Method::PUT,
            format!("/inventory/{menu}"),
            Some(unknown_field()),
            None,
        ),
        (
            reqwest::Method::PUT,
            format!("/inventory/{menu}"),
            None,
            None,
        ),
        (
            reqwest::Method::POST,
            format!("/inventory/{menu}/restore"),
            Some(unknown_field()),
            None,
        ),
        (
            reqwest::Method::PUT,
            format!("/inventory/{menu}"),
            Some(json!({"quantity": 1})),
            Some("not-a-token"),
        ),
    ];
    for (method, path, body, token) in cases {
        let mut request = app
            .http
            .request(method.clone(), format!("{}{path}", app.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the service answers");
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path} without the credential"
        );
    }
    // Truncated JSON, no credential: still 401, not 400.
    let response = app
        .http
        .put(format!("{}/inventory/{menu}", app.base))
        .header("content-type", "application/json")
        .body("{\"quantity\": ")
        .send()
        .await
        .expect("the service answers");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.audit(menu).await, before, "nothing moved");
}
