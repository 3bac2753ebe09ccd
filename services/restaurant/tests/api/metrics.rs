//! `/metrics` of the Restaurant Service: the content type, cache hits and misses as the
//! menus are read, and the stock drift per menu (0 while the ledger balances).

use contract::{CreateMenuRequest, ReserveRequest, RestaurantClient};
use reqwest::header::CONTENT_TYPE;
use testbed_common::telemetry::sample_value;
use testkit::{Backend, Served};

#[tokio::test]
async fn business_metrics_after_a_reservation() {
    let served = Served::restaurant_with(Backend::Postgres, |_| {}).await;
    let base = served.base.clone();
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

    let restaurants = RestaurantClient::new(&base);
    let id = restaurants
        .create_menu(&CreateMenuRequest::new("Metrics Mandu", 7000, 10))
        .await
        .expect("menu created")
        .id;
    let service_token = testkit::stock_token();
    let three = ReserveRequest {
        quantity: 3,
        order_id: Some(1),
    };
    restaurants
        .stock_caller(&service_token, None)
        .reserve(id, &three)
        .await
        .expect("reserved");
    for _ in 0..2 {
        restaurants.menu(id).await.expect("the menu");
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
