//! Callers that hang up mid-order (issue 13). The saga runs in a task of its own, so a closed
//! connection (a client or gateway timeout) does not interrupt it: with an inventory delay
//! longer than the callers' patience, callers that give up still get their orders settled,
//! nothing is left PENDING, the books balance, and a retry with the same `Idempotency-Key`
//! answers the outcome (or places the order its caller gave up on before it was written).
//! A graceful stop of the Order Service waits for such sagas too. Both backends.

use std::time::Duration;

use contract::ops::INVENTORY_DELAY;
use contract::{CreateOrder, OrderClient, OrderStats, OrderStatus};
use reqwest::StatusCode;
use testkit::{Backend, Stack, unique};
use tokio::time::Instant;

// The caller hangs up well after its request reached the handler (even on a busy machine),
// and well before the reservation under the inventory delay is done.
const INVENTORY_DELAY_MS: u64 = 600;
const HANG_UP_AFTER: Duration = Duration::from_millis(300);
// Every saga ends on its own well within this: a reservation under the delay, or its
// upstream timeout (1.5 s) and compensation; a busy machine stretched that past the second
// this test once allowed. It stays far below the recovery loop's 30 s PENDING timeout, so
// a settled order is one its own saga settled, not one recovery swept up after the hang-up
// killed it.
const SETTLE_WITHIN: Duration = Duration::from_secs(10);
const STOCK: i64 = 50;
const QUANTITY: i64 = 2;
// Callers that hang up, each on a menu of its own.
const CALLERS: usize = 5;

/// A client that gives up (closes the connection) `HANG_UP_AFTER` into a request.
fn impatient() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(HANG_UP_AFTER)
        .build()
        .expect("HTTP client")
}

async fn slow_inventory(stack: &Stack) {
    stack
        .restaurants
        .set_switch(INVENTORY_DELAY, INVENTORY_DELAY_MS)
        .await
        .expect("inventory_delay set");
}

/// Sends an order through a client that hangs up, and checks that it did hang up.
async fn hang_up(stack: &Stack, token: &str, key: &str, menu: i64) {
    let result = stack
        .keyed_order(&impatient(), token, key, &[(menu, QUANTITY)])
        .send()
        .await;
    match result {
        Err(error) => assert!(error.is_timeout(), "expected a hang-up, got {error}"),
        Ok(response) => panic!(
            "the order answered {} within {HANG_UP_AFTER:?} despite the inventory delay",
            response.status()
        ),
    }
}

/// The order figures once no order is PENDING and no compensation outstanding, which must
/// happen within `SETTLE_WITHIN` of `hung_up`.
async fn settled_stats(stack: &Stack, hung_up: Instant) -> OrderStats {
    loop {
        let stats = stack.stats().await;
        if stats.count(OrderStatus::Pending) == 0 && stats.compensation_pending == 0 {
            return stats;
        }
        assert!(
            hung_up.elapsed() < SETTLE_WITHIN,
            "{SETTLE_WITHIN:?} after hanging up, sagas have not ended: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Each caller retries with its key. A retry with the same key answers the caller's one
/// order: the first attempt's outcome (200, a replay) when that attempt's order was written,
/// or, for a caller gone before it was, the order the retry itself places (201). Never a
/// second order for a key. Returns how many retries placed the order themselves (201).
async fn retry_with_the_same_keys(
    stack: &Stack,
    tokens: &[String],
    keys: &[String],
    menus: &[i64],
) -> i64 {
    let mut ids = Vec::new();
    let mut placed_by_retries = 0;
    for i in 0..CALLERS {
        let retry = stack
            .orders
            .create_order_keyed(
                &tokens[i],
                &CreateOrder::of(&[(menus[i], QUANTITY)]),
                &keys[i],
            )
            .await
            .expect("retry");
        match retry.status {
            StatusCode::OK => {}
            StatusCode::CREATED => placed_by_retries += 1,
            other => panic!("retry {i} answered {other}: {:?}", retry.body),
        }
        let order = retry.body;
        let settled = [OrderStatus::Paid, OrderStatus::Failed];
        assert!(settled.contains(&order.status), "{order:?}");
        assert_eq!(order.items[0].menu_id, menus[i]);
        ids.push(order.id);
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), CALLERS, "one order per caller");
    placed_by_retries
}

async fn callers_hanging_up_leave_nothing_pending(backend: Backend) {
    let stack = Stack::start(backend).await;
    let mut menus = Vec::new();
    let mut tokens = Vec::new();
    for _ in 0..CALLERS {
        // One menu per caller: each reservation holds only its own row lock.
        menus.push(stack.create_menu(STOCK, 1_000).await);
        tokens.push(stack.new_user().await);
    }
    let keys: Vec<String> = (0..CALLERS).map(|_| unique("hangup")).collect();
    // One ordinary order first, on its own menu, so no caller below pays for the stack's
    // first connections: on a slow machine that cold start outlasted the hang-up, and a
    // caller gone before its order is written leaves, correctly, no order at all.
    let warm_up_menu = stack.create_menu(STOCK, 1_000).await;
    let warm_up = stack.order(&tokens[0], &[(warm_up_menu, QUANTITY)]).await;
    assert_eq!(
        warm_up.status, 201,
        "the warm-up order is placed: {}",
        warm_up.body
    );
    slow_inventory(&stack).await;

    let calls = (0..CALLERS).map(|i| hang_up(&stack, &tokens[i], &keys[i], menus[i]));
    futures::future::join_all(calls).await;
    let hung_up = Instant::now();

    let stats = settled_stats(&stack, hung_up).await;
    // Every saga that began ran to its end: PAID, or FAILED when a busy machine let a
    // reservation outlast the upstream timeout; either way its stock is exact. A caller that
    // hung up before its order was written (the SQLite write gate, held through a slow
    // reservation, can delay the PENDING insert past the hang-up) leaves no order at all.
    let ended = stats.count(OrderStatus::Paid) + stats.count(OrderStatus::Failed);
    assert_eq!(stats.count(OrderStatus::Cancelled), 0, "{stats:?}");
    assert!(
        ended >= 2,
        "the warm-up and at least one hung-up caller's saga ended: {stats:?}"
    );
    // Stock = initial − PAID units on every menu, drift 0, nothing pending.
    stack.assert_books_balance(&menus).await;

    let placed_by_retries = retry_with_the_same_keys(&stack, &tokens, &keys, &menus).await;

    let after = stack.stats().await;
    let orders = CALLERS as i64 + 1; // the warm-up's and one per caller
    assert_eq!(
        after.count(OrderStatus::Paid) + after.count(OrderStatus::Failed),
        orders,
        "exactly one order per key: {after:?}"
    );
    assert!(
        placed_by_retries <= orders - ended,
        "{placed_by_retries} retries placed an order, but only {} callers had none: {stats:?}",
        orders - ended
    );
    if ended == orders {
        assert_eq!(
            after, stats,
            "every first attempt was written: the retries created nothing"
        );
    }
    // Nothing pending, no compensation owed, stock = initial − PAID units, drift 0.
    stack.assert_books_balance(&menus).await;
}

#[tokio::test]
async fn callers_hanging_up_leave_nothing_pending_postgres() {
    callers_hanging_up_leave_nothing_pending(Backend::Postgres).await;
}

#[tokio::test]
async fn callers_hanging_up_leave_nothing_pending_embedded() {
    callers_hanging_up_leave_nothing_pending(Backend::Embedded).await;
}

/// A retry sent while the first attempt's saga still runs waits for its outcome.
async fn a_retry_during_the_saga_answers_its_outcome(backend: Backend) {
    let stack = Stack::start(backend).await;
    let menu = stack.create_menu(STOCK, 1_000).await;
    let token = stack.new_user().await;
    let key = unique("retry");
    slow_inventory(&stack).await;

    hang_up(&stack, &token, &key, menu).await;
    let retry = stack
        .orders
        .create_order_keyed(&token, &CreateOrder::of(&[(menu, QUANTITY)]), &key)
        .await
        .expect("retry");
    assert_eq!(retry.status, StatusCode::OK);
    assert_eq!(
        retry.body.status,
        OrderStatus::Paid,
        "the outcome, not PENDING: {:?}",
        retry.body
    );

    let stats = stack.stats().await;
    assert_eq!(stats.count(OrderStatus::Paid), 1, "one order: {stats:?}");
    assert_eq!(stats.count(OrderStatus::Pending), 0, "{stats:?}");
    assert_eq!(stats.count(OrderStatus::Failed), 0, "{stats:?}");
    stack.assert_books_balance(&[menu]).await;
    assert_eq!(stack.stock(menu).await, STOCK - QUANTITY);
}

#[tokio::test]
async fn a_retry_during_the_saga_answers_its_outcome_postgres() {
    a_retry_during_the_saga_answers_its_outcome(Backend::Postgres).await;
}

#[tokio::test]
async fn a_retry_during_the_saga_answers_its_outcome_embedded() {
    a_retry_during_the_saga_answers_its_outcome(Backend::Embedded).await;
}

/// A graceful stop of the Order Service right after a caller hung up finishes that saga.
async fn graceful_stop_waits_for_running_sagas(backend: Backend) {
    let mut stack = Stack::start(backend).await;
    let menu = stack.create_menu(STOCK, 1_000).await;
    let token = stack.new_user().await;
    slow_inventory(&stack).await;

    hang_up(&stack, &token, &unique("stop"), menu).await;
    stack.order_stop.cancel();
    let task = &mut stack.order_task;
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the Order Service stops within 10 s")
        .expect("order task")
        .expect("clean stop");

    // A fresh Order Service on the same database shows what the stopped one left behind.
    let config = order_service::OrderConfig::new(
        stack.storage.config("order"),
        stack.user.clone(),
        stack.restaurant.clone(),
    );
    let order = order_service::build(config).await.expect("order service");
    stack.order = format!("http://{}", order.local_addr());
    stack.orders = OrderClient::new(&stack.order);
    tokio::spawn(order.run(std::future::pending()));
    let stats = stack.stats().await;
    assert_eq!(stats.count(OrderStatus::Pending), 0, "{stats:?}");
    assert_eq!(
        stats.count(OrderStatus::Paid),
        1,
        "the saga finished: {stats:?}"
    );
    stack.assert_books_balance(&[menu]).await;
}

#[tokio::test]
async fn graceful_stop_waits_for_running_sagas_postgres() {
    graceful_stop_waits_for_running_sagas(Backend::Postgres).await;
}

#[tokio::test]
async fn graceful_stop_waits_for_running_sagas_embedded() {
    graceful_stop_waits_for_running_sagas(Backend::Embedded).await;
}
