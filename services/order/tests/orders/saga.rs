//! Order Service end-to-end tests: all three real services in-process on random ports, over
//! real HTTP, against the real PostgreSQL and Redis (and the embedded mode for the basic flow).

use std::time::{Duration, Instant};

use contract::ops::{INVENTORY_DELAY, PAYMENT_FAIL};
use contract::{CreateOrder, OrderClient, OrderStatus};
use reqwest::StatusCode;
use serde_json::json;
use testkit::{Backend, Stack, free_port};

async fn brief_flow(backend: Backend) {
    let stack = Stack::start(backend).await;
    let token = stack.new_user().await;
    let menus = stack.restaurants.menus().await.expect("menus");
    assert!(menus.body.len() >= 5);
    let menu = stack.create_menu(10, 12_000).await;

    let placed = stack.order(&token, &[(menu, 2)]).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.body);
    let order = placed.order();
    assert_eq!(order.status, OrderStatus::Paid);
    assert_eq!(order.total, 24_000);
    assert_eq!(order.items[0].unit_price, 12_000);
    // The wire shape itself, not only what the contract type reads.
    for key in [
        "id",
        "user_id",
        "status",
        "items",
        "total",
        "address",
        "phone",
        "created_at",
    ] {
        assert!(placed.body.get(key).is_some(), "{key}");
    }
    let id = order.id;
    assert_eq!(stack.stock(menu).await, 8);

    let first = stack.get_order(&token, id).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.cache.as_deref(), Some("MISS"));
    // The answer was built from what was written, not read back: the stored order agrees.
    for key in [
        "id",
        "status",
        "items",
        "total",
        "address",
        "phone",
        "failure_reason",
        "created_at",
        "updated_at",
    ] {
        assert_eq!(first.body[key], placed.body[key], "{key}");
    }
    let second = stack.get_order(&token, id).await;
    assert_eq!(second.cache.as_deref(), Some("HIT"));
    assert_eq!(second.order().status, OrderStatus::Paid);

    let cancelled = stack.cancel(&token, id).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(cancelled.order().status, OrderStatus::Cancelled);
    assert_eq!(stack.stock(menu).await, 10);
    let read = stack.get_order(&token, id).await;
    assert_eq!(
        read.order().status,
        OrderStatus::Cancelled,
        "no stale cached status"
    );
    assert_eq!(read.cache.as_deref(), Some("MISS"));

    let again = stack.cancel(&token, id).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.error().detail("status"), Some(OrderStatus::Cancelled));
    assert_eq!(
        stack.stock(menu).await,
        10,
        "a repeated cancel moves nothing"
    );

    let reorder = stack.order(&token, &[(menu, 3)]).await;
    assert_eq!(reorder.status, StatusCode::CREATED);
    assert_eq!(stack.stock(menu).await, 7);
    stack.assert_books_balance(&[menu]).await;
}

#[tokio::test]
async fn brief_flow_postgres() {
    brief_flow(Backend::Postgres).await;
}

#[tokio::test]
async fn brief_flow_embedded() {
    brief_flow(Backend::Embedded).await;
}

#[tokio::test]
async fn payment_failures_are_rolled_back() {
    let stack = Stack::start(Backend::Postgres).await;
    let menus = [
        stack.create_menu(1_000, 5_000).await,
        stack.create_menu(1_000, 7_000).await,
    ];
    let tokens = futures::future::join_all((0..10).map(|_| stack.new_user())).await;
    stack
        .orders
        .set_switch(PAYMENT_FAIL, 30)
        .await
        .expect("payment_fail set");
    let n = 300;
    let mut failed = 0;
    let mut paid = 0;
    for batch in 0..(n / 10) {
        let calls = tokens.iter().enumerate().map(|(i, token)| {
            let items = [(menus[(batch + i) % 2], 1 + (i as i64 % 3))];
            let stack = &stack;
            async move { stack.order(token, &items).await }
        });
        for response in futures::future::join_all(calls).await {
            match response.status {
                StatusCode::CREATED => paid += 1,
                StatusCode::PAYMENT_REQUIRED => {
                    let declined = response.failed();
                    assert_eq!(declined.status, OrderStatus::Failed);
                    assert_eq!(declined.failure_reason, "payment_declined");
                    assert_eq!(declined.order.id, declined.order_id);
                    failed += 1;
                }
                other => panic!("unexpected {other}: {}", response.body),
            }
        }
    }
    assert_eq!(paid + failed, n);
    // 99.9 % two-sided binomial interval: 90 ± 3.29·√(300·0.3·0.7) ≈ 90 ± 26.
    assert!((64..=116).contains(&failed), "{failed} of {n} failed");
    let stats = stack.settle(Duration::from_secs(10)).await;
    assert_eq!(stats.count(OrderStatus::Failed), failed as i64);
    stack.assert_books_balance(&menus).await;
}

#[tokio::test]
async fn user_service_delay_times_out_without_moving_stock() {
    let stack = Stack::start(Backend::Postgres).await;
    let token = stack.new_user().await;
    let menu = stack.create_menu(10, 1_000).await;
    stack.users.set_delay(2000).await.expect("delay set");
    let started = Instant::now();
    let response = stack.order(&token, &[(menu, 1)]).await;
    let took = started.elapsed();
    assert_eq!(
        response.status,
        StatusCode::GATEWAY_TIMEOUT,
        "{}",
        response.body
    );
    assert_eq!(response.error().error, "user_service_timeout");
    assert!(took < Duration::from_millis(1500 + 250), "took {took:?}");
    assert_eq!(stack.stock(menu).await, 10);
    stack.users.clear_faults().await.expect("faults off");
    let response = stack.order(&token, &[(menu, 1)]).await;
    assert_eq!(response.status, StatusCode::CREATED);
    assert_eq!(stack.stock(menu).await, 9);
    stack.assert_books_balance(&[menu]).await;
}

#[tokio::test]
async fn user_service_errors_fail_orders_cleanly() {
    let stack = Stack::start(Backend::Postgres).await;
    let token = stack.new_user().await;
    let menu = stack.create_menu(10, 1_000).await;
    stack
        .users
        .set_error(true, Some(100))
        .await
        .expect("errors on");
    for _ in 0..5 {
        let response = stack.order(&token, &[(menu, 1)]).await;
        assert_eq!(
            response.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            response.body
        );
        assert_eq!(response.error().error, "user_service_unavailable");
    }
    assert_eq!(stack.stock(menu).await, 10);
    assert_eq!(stack.stats().await.count(OrderStatus::Pending), 0);
    stack.users.clear_faults().await.expect("faults off");
    assert_eq!(
        stack.order(&token, &[(menu, 1)]).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn inventory_delay_never_oversells() {
    let stack = Stack::start_with(Backend::Postgres, |c| {
        c.upstream_timeout_ms = 1000;
        c.pending_timeout_secs = 5;
        c.recovery_interval_secs = 1;
    })
    .await;
    let menu = stack.create_menu(5, 3_000).await;
    let tokens = futures::future::join_all((0..12).map(|_| stack.new_user())).await;
    stack
        .restaurants
        .set_switch(INVENTORY_DELAY, 250)
        .await
        .expect("inventory_delay set");
    let line = [(menu, 1)];
    let calls = tokens.iter().map(|token| stack.order(token, &line));
    let responses = futures::future::join_all(calls).await;
    let mut statuses: Vec<u16> = responses.iter().map(|r| r.status.as_u16()).collect();
    statuses.sort();
    assert!(
        statuses.iter().all(|s| [201, 409, 503, 504].contains(s)),
        "{statuses:?}"
    );
    let paid = statuses.iter().filter(|s| **s == 201).count();
    assert!(paid <= 5, "oversold: {statuses:?}");
    stack.restaurants.clear_faults().await.expect("faults off");
    stack.settle(Duration::from_secs(30)).await;
    stack.assert_books_balance(&[menu]).await;
}

#[tokio::test]
async fn stats_show_the_units_and_age_of_orders_in_flight() {
    let stack = Stack::start(Backend::Postgres).await;
    let token = stack.new_user().await;
    let menu = stack.create_menu(10, 1_000).await;
    let idle = stack.stats().await;
    assert_eq!(idle.oldest_pending_age_ms, None, "{idle:?}");
    assert!(idle.pending_quantities.is_empty(), "{idle:?}");
    // The reservation waits 600 ms while the order is PENDING.
    stack
        .restaurants
        .set_switch(INVENTORY_DELAY, 600)
        .await
        .expect("inventory_delay set");
    let watch = async {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stats = stack.stats().await;
            if stats.count(OrderStatus::Pending) == 1 {
                return stats;
            }
            assert!(Instant::now() < deadline, "never saw it PENDING: {stats:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let line = [(menu, 3)];
    let (placed, in_flight) = tokio::join!(stack.order(&token, &line), watch);
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.body);
    assert_eq!(in_flight.in_flight(menu), 3, "{in_flight:?}");
    let age = in_flight
        .oldest_pending_age_ms
        .expect("an age while an order is PENDING");
    assert!((0..10_000).contains(&age), "{in_flight:?}");
    stack.restaurants.clear_faults().await.expect("faults off");
    let settled = stack.settle(Duration::from_secs(10)).await;
    assert_eq!(settled.oldest_pending_age_ms, None);
    assert!(settled.pending_quantities.is_empty());
    assert_eq!(settled.sold(menu), 3);
}

#[tokio::test]
async fn a_failed_line_gives_back_the_lines_before_it() {
    let stack = Stack::start(Backend::Postgres).await;
    let token = stack.new_user().await;
    let plenty = stack.create_menu(10, 1_000).await;
    let scarce = stack.create_menu(1, 2_000).await;
    let response = stack.order(&token, &[(plenty, 3), (scarce, 2)]).await;
    assert_eq!(response.status, StatusCode::CONFLICT, "{}", response.body);
    let failed = response.failed();
    assert_eq!(failed.failure_reason, "out_of_stock");
    assert_eq!(stack.stock(plenty).await, 10);
    assert_eq!(stack.stock(scarce).await, 1);
    let id = failed.order_id;
    // The FAILED answer was built from what was written; the stored order agrees, with the
    // price of the line that was reserved (and given back) and none for the refused line.
    let stored = stack.get_order(&token, id).await.body;
    let answered = &response.body["order"];
    for key in [
        "status",
        "items",
        "total",
        "failure_reason",
        "compensation_pending",
        "created_at",
        "updated_at",
    ] {
        assert_eq!(stored[key], answered[key], "{key}");
    }
    assert_eq!(stored["items"][0]["unit_price"], 1_000);
    assert_eq!(stored["items"][1]["unit_price"], 0);
    // Cancelling a FAILED order is refused and restores nothing a second time.
    let cancel = stack.cancel(&token, id).await;
    assert_eq!(cancel.status, StatusCode::CONFLICT);
    assert_eq!(cancel.error().detail("status"), Some(OrderStatus::Failed));
    assert_eq!(stack.stock(plenty).await, 10);
    let unknown = stack.order(&token, &[(987_654, 1)]).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.failed().failure_reason, "unknown_menu");
    stack.assert_books_balance(&[plenty, scarce]).await;
}

#[tokio::test]
async fn orders_belong_to_their_user() {
    let stack = Stack::start(Backend::Postgres).await;
    let alice = stack.new_user().await;
    let bob = stack.new_user().await;
    let menu = stack.create_menu(10, 1_000).await;
    let order = stack.order(&alice, &[(menu, 1)]).await;
    let id = order.order().id;
    assert_eq!(stack.get_order(&alice, id).await.status, StatusCode::OK);
    let read = stack.get_order(&bob, id).await;
    assert_eq!(read.status, StatusCode::FORBIDDEN);
    assert_eq!(read.error().error, "forbidden");
    assert_eq!(stack.cancel(&bob, id).await.status, StatusCode::FORBIDDEN);
    assert_eq!(stack.stock(menu).await, 9);
    let anonymous = stack
        .call(
            reqwest::Method::GET,
            format!("{}/orders/{id}", stack.order),
            None,
            None,
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(anonymous.error().message.contains("bearer token"));
    let anonymous = stack
        .call(
            reqwest::Method::POST,
            format!("{}/orders", stack.order),
            None,
            Some(json!(CreateOrder::of(&[(menu, 1)]))),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        stack.get_order(&alice, 987_654).await.status,
        StatusCode::NOT_FOUND
    );
    let bad = stack.order(&alice, &[(menu, 0)]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn idempotency_key_returns_the_first_order() {
    let stack = Stack::start(Backend::Postgres).await;
    let token = stack.new_user().await;
    let menu = stack.create_menu(10, 1_000).await;
    let order = CreateOrder::of(&[(menu, 2)]);
    let send = || {
        stack
            .orders
            .create_order_keyed(&token, &order, "retry-me-1")
    };
    let responses = futures::future::join_all((0..4).map(|_| send())).await;
    let mut ids = Vec::new();
    let mut created = 0;
    for response in responses {
        let response = response.expect("the order or its replay");
        if response.status == StatusCode::CREATED {
            created += 1;
        } else {
            assert_eq!(response.status, StatusCode::OK);
        }
        // A replay waits for the first attempt's saga: the outcome, never PENDING.
        assert_eq!(
            response.body.status,
            OrderStatus::Paid,
            "{:?}",
            response.body
        );
        ids.push(response.body.id);
    }
    assert_eq!(created, 1);
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    assert_eq!(stack.stock(menu).await, 8);
}

#[tokio::test]
async fn crash_after_reservation_is_recovered() {
    let stack = Stack::start(Backend::Postgres).await;
    let token = stack.new_user().await;
    let menu = stack.create_menu(10, 1_000).await;
    let database_url = format!(
        "{}/{}",
        testkit::database_server(),
        testkit::unique("crash_order")
    );
    let port = free_port();
    let spawn = |crash: bool| {
        std::process::Command::new(env!("CARGO_BIN_EXE_order-service"))
            .env("PORT", port.to_string())
            .env("HOST", "127.0.0.1")
            .env("DATABASE_URL", &database_url)
            .env("TESTBED_DEV", "1")
            .env("USER_SERVICE_URL", &stack.user)
            .env("RESTAURANT_SERVICE_URL", &stack.restaurant)
            .env("PENDING_TIMEOUT_SECS", "0")
            .env("RECOVERY_INTERVAL_SECS", "1")
            .env("FAULT_CRASH_AFTER_RESERVE", if crash { "1" } else { "0" })
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("order-service binary starts")
    };
    let base = format!("http://127.0.0.1:{port}");
    let mut crashing = spawn(true);
    testbed_common::server::wait_ready(&base, Duration::from_secs(20))
        .await
        .expect("ready");
    let crashing_service = OrderClient::new(&base);
    let response = crashing_service
        .create_order(&token, &CreateOrder::of(&[(menu, 4)]))
        .await;
    assert!(
        matches!(response, Err(contract::ClientError::Transport(_))),
        "the process died mid-request: {response:?}"
    );
    let status = crashing.wait().expect("exit status");
    assert_eq!(status.code(), Some(70));
    assert_eq!(
        stack.stock(menu).await,
        6,
        "stock was taken before the crash"
    );

    let mut restarted = spawn(false);
    testbed_common::server::wait_ready(&base, Duration::from_secs(20))
        .await
        .expect("ready again");
    let deadline = Instant::now() + Duration::from_secs(15);
    let stats = loop {
        let stats = crashing_service.stats().await.expect("stats answer");
        if stats.count(OrderStatus::Failed) == 1 && stats.compensation_pending == 0 {
            break stats;
        }
        assert!(Instant::now() < deadline, "not recovered: {stats:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(stats.count(OrderStatus::Pending), 0);
    let _ = restarted.kill();
    let _ = restarted.wait();
    assert_eq!(stack.stock(menu).await, 10, "recovery gave the stock back");
    let _ = testbed_common::db::drop_postgres_database(&database_url).await;
}
