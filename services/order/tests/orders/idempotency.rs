//! `Idempotency-Key` reuse (issue 16, as the IETF Idempotency-Key draft says): the same key
//! with the same request answers the first order; the same key with a different request is
//! 422 `idempotency_key_reused` and moves nothing; keys belong to one user; orders stored
//! before fingerprints were recorded keep replaying. Both backends.

use contract::{CreateOrder, OrderStatus, OrderView};
use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use testkit::{Backend, Stack, unique};

/// `POST /orders` with `key`: the status and the order, or the refusal.
async fn send(
    stack: &Stack,
    token: &str,
    key: &str,
    items: &[(i64, i64)],
) -> Result<(StatusCode, OrderView), contract::ClientError> {
    let answer = stack
        .orders
        .create_order_keyed(token, &CreateOrder::of(items), key)
        .await?;
    Ok((answer.status, answer.body))
}

async fn reused_key_with_another_body_is_refused(backend: Backend) {
    let stack = Stack::start(backend).await;
    let token = stack.new_user().await;
    let menu = stack.create_menu(10, 1_000).await;
    let key = unique("key");

    let (status, first) = send(&stack, &token, &key, &[(menu, 2)])
        .await
        .expect("first");
    assert_eq!(status, StatusCode::CREATED, "{first:?}");
    // The same request written differently (split lines) is the same request.
    let (status, again) = send(&stack, &token, &key, &[(menu, 1), (menu, 1)])
        .await
        .expect("replay");
    assert_eq!(status, StatusCode::OK, "{again:?}");
    assert_eq!(again.id, first.id);

    let reused = send(&stack, &token, &key, &[(menu, 3)])
        .await
        .expect_err("a reused key");
    assert_eq!(reused.status(), Some(StatusCode::UNPROCESSABLE_ENTITY));
    let reused = reused.body().expect("an error body");
    assert_eq!(reused.error, "idempotency_key_reused");
    assert!(!reused.message.is_empty());
    assert_eq!(reused.detail::<i64>("order_id"), Some(first.id));

    // Another user's identical key is another user's order.
    let other = stack.new_user().await;
    let (status, theirs) = send(&stack, &other, &key, &[(menu, 3)])
        .await
        .expect("their order");
    assert_eq!(status, StatusCode::CREATED, "{theirs:?}");
    assert_ne!(theirs.id, first.id);

    let stats = stack.stats().await;
    assert_eq!(stats.count(OrderStatus::Paid), 2, "{stats:?}");
    assert_eq!(stack.stock(menu).await, 10 - 2 - 3);
    stack.assert_books_balance(&[menu]).await;
}

#[tokio::test]
async fn reused_key_with_another_body_is_refused_postgres() {
    reused_key_with_another_body_is_refused(Backend::Postgres).await;
}

#[tokio::test]
async fn reused_key_with_another_body_is_refused_embedded() {
    reused_key_with_another_body_is_refused(Backend::Embedded).await;
}

/// An order stored before fingerprints existed (NULL) replays as it always did.
async fn orders_without_a_fingerprint_still_replay(backend: Backend) {
    let mut stack = Stack::start(backend).await;
    let token = stack.new_user().await;
    let menu = stack.create_menu(10, 1_000).await;
    let key = unique("old");
    let (status, first) = send(&stack, &token, &key, &[(menu, 2)])
        .await
        .expect("first");
    assert_eq!(status, StatusCode::CREATED, "{first:?}");

    let url = stack.storage.config("order").database_url_for("order");
    let db =
        testbed_common::db::connect::<order_service::store::migration::Migrator>(&url, 1, false)
            .await
            .expect("order database");
    let cleared = db
        .conn
        .execute_unprepared(&format!(
            "UPDATE orders SET request_fingerprint = NULL WHERE id = {}",
            first.id
        ))
        .await
        .expect("clear the fingerprint");
    assert_eq!(cleared.rows_affected(), 1);

    let (status, replayed) = send(&stack, &token, &key, &[(menu, 3)])
        .await
        .expect("replay");
    assert_eq!(status, StatusCode::OK, "{replayed:?}");
    assert_eq!(replayed.id, first.id);
    assert_eq!(stack.stock(menu).await, 8);
}

#[tokio::test]
async fn orders_without_a_fingerprint_still_replay_postgres() {
    orders_without_a_fingerprint_still_replay(Backend::Postgres).await;
}

#[tokio::test]
async fn orders_without_a_fingerprint_still_replay_embedded() {
    orders_without_a_fingerprint_still_replay(Backend::Embedded).await;
}

/// A database from before the fingerprint column gains it at start-up, its rows kept.
async fn an_old_database_gains_the_fingerprint_column(backend: Backend) {
    use order_service::store::migration::Migrator;
    let mut storage = testkit::TestStorage::new(backend);
    let url = storage.config("order").database_url_for("order");
    let _ = std::fs::create_dir_all(&storage.dir);
    testbed_common::db::connect::<Migrator>(&url, 1, true)
        .await
        .expect("order database")
        .conn
        .close()
        .await
        .expect("closed");
    // A fresh connection: SQLite refuses the DROP COLUMN on one that ran the migration.
    let db = testbed_common::db::connect::<Migrator>(&url, 1, false)
        .await
        .expect("order database");
    // Back to the schema before the fingerprint, with one keyed order in it.
    for sql in [
        "ALTER TABLE orders DROP COLUMN request_fingerprint",
        "DELETE FROM seaql_migrations WHERE version = 'm20261130_000001_add_request_fingerprint'",
        "INSERT INTO orders (user_id, status, total, address, phone, compensation_pending, \
         idempotency_key, created_at, updated_at) VALUES (1, 'PAID', 2000, 'Seoul', \
         '010-1234-5678', false, 'old-key', '2026-11-28T01:00:00+00:00', '2026-11-28T01:00:00+00:00')",
    ] {
        db.conn.execute_unprepared(sql).await.expect(sql);
    }
    drop(db);

    let db = testbed_common::db::connect::<Migrator>(&url, 1, false)
        .await
        .expect("migrated again");
    let old = order_service::store::find_by_idempotency_key(&db.conn, 1, "old-key")
        .await
        .expect("query with the new column")
        .expect("the old order is still there");
    assert_eq!(old.0.status, "PAID");
    assert_eq!(old.0.request_fingerprint, None);
}

#[tokio::test]
async fn an_old_database_gains_the_fingerprint_column_postgres() {
    an_old_database_gains_the_fingerprint_column(Backend::Postgres).await;
}

#[tokio::test]
async fn an_old_database_gains_the_fingerprint_column_embedded() {
    an_old_database_gains_the_fingerprint_column(Backend::Embedded).await;
}
