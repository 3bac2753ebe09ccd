//! `/metrics` of the User Service: OpenMetrics by default, the classic format on request,
//! and the metrics every service shares (cache lookups, fault settings) with their values.

use contract::UserClient;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use testbed_common::telemetry::sample_value;
use testkit::{Backend, Served};

async fn metrics(http: &reqwest::Client, base: &str, accept: Option<&str>) -> (String, String) {
    let mut request = http.get(format!("{base}/metrics"));
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    let response = request.send().await.expect("GET /metrics");
    assert!(response.status().is_success());
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    (content_type, response.text().await.unwrap())
}

#[tokio::test]
async fn metrics_formats_and_shared_metrics() {
    let served = Served::user(Backend::Embedded).await;
    let base = served.base.clone();
    let http = reqwest::Client::new();

    let (content_type, open) = metrics(&http, &base, None).await;
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(open.ends_with("# EOF\n"), "{open}");
    let (content_type, classic) = metrics(&http, &base, Some("text/plain")).await;
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert!(!classic.contains("# EOF"), "{classic}");
    for result in ["hit", "miss"] {
        let series = format!("testbed_cache_lookups_total{{result=\"{result}\"}}");
        assert!(
            sample_value(&classic, &series).is_some(),
            "{series}: {classic}"
        );
    }

    let users = UserClient::new(&base);
    users.set_delay(7).await.expect("delay set");
    let (_, on) = metrics(&http, &base, None).await;
    let delay_series = "testbed_fault_setting{fault=\"delay\",field=\"delay_ms\"}";
    assert_eq!(sample_value(&on, delay_series), Some(7.0), "{on}");
    assert_eq!(
        sample_value(
            &on,
            "testbed_fault_setting{fault=\"error\",field=\"percent\"}"
        ),
        Some(0.0),
        "random errors are off, so 0 % whatever the stored percent: {on}"
    );
    assert_eq!(
        sample_value(&on, "testbed_faults_active"),
        Some(1.0),
        "{on}"
    );

    users.clear_faults().await.expect("faults off");
    let (_, off) = metrics(&http, &base, None).await;
    assert_eq!(sample_value(&off, delay_series), Some(0.0), "{off}");
    assert_eq!(
        sample_value(&off, "testbed_faults_active"),
        Some(0.0),
        "{off}"
    );
}
