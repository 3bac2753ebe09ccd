//! `/metrics` of the Order Service: the content type, and orders by status and
//! compensations outstanding read from the database after real orders.

use contract::ops::PAYMENT_FAIL;
use reqwest::header::CONTENT_TYPE;
use testbed_common::telemetry::sample_value;
use testkit::{Backend, Stack};

#[tokio::test]
async fn orders_by_status_after_orders() {
    let stack = Stack::start(Backend::Postgres).await;
    let token = stack.new_user().await;
    let menu = stack.create_menu(10, 5000).await;
    let paid = stack.order(&token, &[(menu, 2)]).await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    stack
        .orders
        .set_switch(PAYMENT_FAIL, 100)
        .await
        .expect("payment_fail set");
    let failed = stack.order(&token, &[(menu, 1)]).await;
    assert_eq!(failed.status, 402, "{}", failed.body);

    let response = stack
        .http
        .get(format!("{}/metrics", stack.order))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()[CONTENT_TYPE],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    let orders =
        |status: &str| sample_value(&text, &format!("testbed_orders{{status=\"{status}\"}}"));
    assert_eq!(orders("PAID"), Some(1.0), "{text}");
    assert_eq!(orders("FAILED"), Some(1.0), "{text}");
    assert_eq!(orders("PENDING"), Some(0.0), "{text}");
    assert_eq!(orders("CANCELLED"), Some(0.0), "{text}");
    assert_eq!(
        sample_value(&text, "testbed_compensations_outstanding"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample_value(
            &text,
            "testbed_fault_setting{fault=\"payment_fail\",field=\"fail_percent\"}"
        ),
        Some(100.0),
        "{text}"
    );
    assert_eq!(
        sample_value(&text, "testbed_faults_active"),
        Some(1.0),
        "{text}"
    );
}
