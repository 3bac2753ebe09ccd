//! The Redis cache backend against a private `redis-server` (never the shared one, which
//! other tests use): an invalidation lost while Redis was unreachable — but kept its data —
//! is replayed before Redis serves another read, so no stale entry is ever served.

use std::time::Duration;

use bytes::Bytes;
use testbed_common::cache::Cache;
use testkit::process::PrivateRedis;

#[tokio::test]
async fn a_missed_invalidation_is_replayed_before_the_next_read() {
    let redis = PrivateRedis::start();
    let cache = Cache::redis(&redis.url(), "t").await.expect("connects");
    cache
        .set(
            "menu:1",
            Bytes::from_static(b"old"),
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(cache.get("menu:1").await.as_deref(), Some(&b"old"[..]));

    lose_a_delete_in_a_partition(&redis, &cache).await;
    tokio::time::sleep(Duration::from_millis(2200)).await; // pause and cool-down over
    let mut check = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let kept: bool = redis::cmd("EXISTS")
        .arg("t:menu:1")
        .query_async(&mut check)
        .await
        .unwrap();
    assert!(
        kept,
        "the lost delete left the old entry in Redis (the case under test)"
    );

    // Reads right after the outage may still miss while the connection comes back; none
    // may ever serve the stale entry, and the missed delete must be replayed.
    let mut replayed = false;
    for _ in 0..40 {
        assert_eq!(
            cache.get("menu:1").await,
            None,
            "the stale entry must not be served"
        );
        let exists: bool = redis::cmd("EXISTS")
            .arg("t:menu:1")
            .query_async(&mut check)
            .await
            .unwrap();
        if !exists {
            replayed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(replayed, "the missed delete was replayed");
    cache
        .set(
            "menu:1",
            Bytes::from_static(b"new"),
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(
        cache.get("menu:1").await.as_deref(),
        Some(&b"new"[..]),
        "caching resumed"
    );
}

/// A partition that keeps Redis's data: writes are held (CLIENT PAUSE WRITE), the delete
/// times out, then its connection is cut, so the held DEL is never executed.
async fn lose_a_delete_in_a_partition(redis: &PrivateRedis, cache: &Cache) {
    let admin = redis::Client::open(redis.url()).unwrap();
    let mut admin = admin.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1500)
        .arg("WRITE")
        .query_async(&mut admin)
        .await
        .unwrap();
    cache.delete(&["menu:1".to_string()]).await; // times out
    let _: redis::Value = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .arg("SKIPME")
        .arg("yes")
        .query_async(&mut admin)
        .await
        .unwrap();
}
