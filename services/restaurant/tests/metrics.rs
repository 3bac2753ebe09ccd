//! `/metrics` of the Restaurant Service: the content type, cache hits and misses as the
//! menus are read, and the stock drift per menu (0 while the ledger balances).

use reqwest::header::CONTENT_TYPE;
use restaurant_service::RestaurantConfig;
use serde_json::json;
use testbed_common::telemetry::sample_value;
use testbed_common::testing::{Backend, TestStorage};

#[tokio::test]
async fn business_metrics_after_a_reservation() {
    let mut storage = TestStorage::new(Backend::Postgres);
    let server = restaurant_service::build(RestaurantConfig::new(storage.config("restaurant")))
        .await
        .expect("restaurant service");
    let base = format!("http://{}", server.local_addr());
    tokio::spawn(server.run(std::future::pending()));
    let http = reqwest::Client::new();
    let scrape = async || {
        let response = http.get(format!("{base}/metrics")).send().await.unwrap();
        let content_type = response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        (content_type, response.text().await.unwrap())
    };
    let (_, before) = scrape().await;
    let hits = |text: &str| sample_value(text, "testbed_cache_lookups_total{result=\"hit\"}");
    let misses = |text: &str| sample_value(text, "testbed_cache_lookups_total{result=\"miss\"}");

    let menu: serde_json::Value = http
        .post(format!("{base}/admin/menus"))
        .json(&json!({"name": "Metrics Mandu", "price": 7000, "stock": 10}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = menu["id"].as_i64().expect("menu id");
    let reserve = http
        .put(format!("{base}/inventory/{id}"))
        .bearer_auth(
            testbed_common::service_auth::ServiceKeys::new(
                testbed_common::config::DEV_SERVICE_TOKEN_SECRET,
            )
            .stock_token()
            .expect("service token"),
        )
        .json(&json!({"quantity": 3, "order_id": 1}))
        .send()
        .await
        .unwrap();
    assert!(reserve.status().is_success());
    for _ in 0..2 {
        let read = http.get(format!("{base}/menus/{id}")).send().await.unwrap();
        assert!(read.status().is_success());
    }

    let (content_type, after) = scrape().await;
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let drift = format!("testbed_stock_drift{{menu_id=\"{id}\"}}");
    assert_eq!(sample_value(&after, &drift), Some(0.0), "{after}");
    assert_eq!(
        sample_value(&after, "testbed_stock_drift{menu_id=\"1\"}"),
        Some(0.0),
        "the seeded menu is there too: {after}"
    );
    // The first read of the menu misses, the second hits.
    assert!(hits(&after) >= hits(&before).map(|h| h + 1.0), "{after}");
    assert!(
        misses(&after) >= misses(&before).map(|m| m + 1.0),
        "{after}"
    );
    assert_eq!(
        sample_value(
            &after,
            "testbed_fault_setting{fault=\"inventory_delay\",field=\"delay_ms\"}"
        ),
        Some(0.0),
        "{after}"
    );
}
