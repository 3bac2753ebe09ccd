//! The REST API against Toxiproxy 2.x's contract: paths, JSON shapes, status codes and the
//! `{"error", "status"}` body for every bad input (unknown names 404, duplicates 409, bad
//! types, streams and values 400).

use crate::fixtures::*;
use reqwest::{Client, Response};
use serde_json::{Value, json};

async fn call(method: reqwest::Method, url: String, body: Option<Value>) -> Response {
    let mut request = Client::new().request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("API answers")
}

/// Asserts a Toxiproxy error: the status, and a JSON body repeating it with a message.
async fn assert_error(response: Response, status: u16, message_part: &str) {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(body["status"], status, "{body}");
    let message = body["error"].as_str().expect("error message");
    assert!(
        message.contains(message_part),
        "{message:?} lacks {message_part:?}"
    );
}

#[tokio::test]
async fn version_is_json() {
    let proxy = start_proxy().await;
    let response = call(reqwest::Method::GET, api(&proxy, "/version"), None).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert!(body["version"].as_str().is_some_and(|v| !v.is_empty()));
}

#[tokio::test]
async fn proxies_are_created_listed_shown_updated_and_deleted() {
    let proxy = start_proxy().await;
    let upstream = echo_server().await.to_string();
    let create = json!({"name": "db", "listen": "127.0.0.1:0", "upstream": upstream});
    let response = call(
        reqwest::Method::POST,
        api(&proxy, "/proxies"),
        Some(create.clone()),
    )
    .await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.expect("json");
    assert_eq!(created["name"], "db");
    assert_eq!(created["upstream"], upstream.as_str());
    assert_eq!(created["enabled"], true);
    assert_eq!(created["toxics"], json!([]));
    assert!(
        !created["listen"].as_str().expect("listen").ends_with(":0"),
        "resolved port"
    );

    let duplicate = call(reqwest::Method::POST, api(&proxy, "/proxies"), Some(create)).await;
    assert_error(duplicate, 409, "proxy already exists").await;

    let listed: Value = call(reqwest::Method::GET, api(&proxy, "/proxies"), None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(listed["db"], created);

    let disabled: Value = call(
        reqwest::Method::POST,
        api(&proxy, "/proxies/db"),
        Some(json!({"enabled": false})),
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(disabled["enabled"], false);
    assert_eq!(
        disabled["listen"], created["listen"],
        "listen kept while disabled"
    );

    let deleted = call(reqwest::Method::DELETE, api(&proxy, "/proxies/db"), None).await;
    assert_eq!(deleted.status(), 204);
    let gone = call(reqwest::Method::GET, api(&proxy, "/proxies/db"), None).await;
    assert_error(gone, 404, "proxy not found").await;
}

#[tokio::test]
async fn bad_proxy_requests_get_json_errors() {
    let proxy = start_proxy().await;
    let post = |body: Value| call(reqwest::Method::POST, api(&proxy, "/proxies"), Some(body));
    assert_error(
        post(json!({"upstream": "127.0.0.1:1"})).await,
        400,
        "missing required field: name",
    )
    .await;
    assert_error(
        post(json!({"name": "x"})).await,
        400,
        "missing required field: upstream",
    )
    .await;
    assert_error(
        post(json!({"name": 5, "upstream": "a:1"})).await,
        400,
        "bad request body",
    )
    .await;
    assert_error(
        post(json!({"name": "x", "upstream": "a:1", "listen": "not an address"})).await,
        400,
        "listen",
    )
    .await;
    let raw = Client::new()
        .post(api(&proxy, "/proxies"))
        .body("{oops")
        .send()
        .await
        .expect("answer");
    assert_error(raw, 400, "bad request body").await;
    for (method, path) in [
        (reqwest::Method::GET, "/proxies/nope"),
        (reqwest::Method::POST, "/proxies/nope"),
        (reqwest::Method::DELETE, "/proxies/nope"),
        (reqwest::Method::GET, "/proxies/nope/toxics"),
        (reqwest::Method::POST, "/proxies/nope/toxics"),
        (
            reqwest::Method::GET,
            "/proxies/nope/toxics/latency_downstream",
        ),
        (
            reqwest::Method::DELETE,
            "/proxies/nope/toxics/latency_downstream",
        ),
    ] {
        let body = (method == reqwest::Method::POST).then(|| json!({"type": "latency"}));
        let response = call(method.clone(), api(&proxy, path), body).await;
        assert_error(response, 404, "proxy not found").await;
    }
}

#[tokio::test]
async fn toxics_follow_toxiproxy_shapes_and_errors() {
    let proxy = start_proxy().await;
    create_proxy(&proxy, "svc", echo_server().await).await;
    let toxics = api(&proxy, "/proxies/svc/toxics");
    let add = |body: Value| call(reqwest::Method::POST, toxics.clone(), Some(body));

    let created =
        add(json!({"type": "latency", "attributes": {"latency": 100, "jitter": 10}})).await;
    assert_eq!(
        created.status(),
        200,
        "Toxiproxy answers a new toxic with 200"
    );
    let created: Value = created.json().await.expect("json");
    assert_eq!(
        created,
        json!({"attributes": {"latency": 100, "jitter": 10}, "name": "latency_downstream",
               "type": "latency", "stream": "downstream", "toxicity": 1.0})
    );
    assert_bad_toxics_are_refused(&toxics).await;

    let upstream =
        add(json!({"name": "cut", "type": "reset_peer", "stream": "upstream", "toxicity": 0.5}))
            .await;
    assert_eq!(upstream.status(), 200);
    let listed: Value = call(reqwest::Method::GET, toxics.clone(), None)
        .await
        .json()
        .await
        .expect("json");
    let names: Vec<&str> = listed
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["cut", "latency_downstream"],
        "upstream toxics first, as Toxiproxy"
    );

    let updated: Value = call(
        reqwest::Method::POST,
        format!("{toxics}/latency_downstream"),
        Some(json!({"attributes": {"latency": 300}})),
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(updated["attributes"], json!({"latency": 300, "jitter": 10}));
    let shown: Value = call(
        reqwest::Method::GET,
        format!("{toxics}/latency_downstream"),
        None,
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(shown, updated);

    assert_unknown_toxics_are_404(&toxics).await;
    let deleted = call(reqwest::Method::DELETE, format!("{toxics}/cut"), None).await;
    assert_eq!(deleted.status(), 204);
}

/// A duplicate name is 409; an unknown type, an unknown stream and every out-of-range or
/// mistyped value are 400. `toxics` already holds `latency_downstream`.
async fn assert_bad_toxics_are_refused(toxics: &str) {
    let add = |body: Value| call(reqwest::Method::POST, toxics.to_string(), Some(body));
    assert_error(
        add(json!({"type": "latency"})).await,
        409,
        "toxic already exists",
    )
    .await;
    assert_error(
        add(json!({"type": "teleport"})).await,
        400,
        "invalid toxic type",
    )
    .await;
    assert_error(
        add(json!({"type": "latency", "stream": "sideways"})).await,
        400,
        "stream was invalid",
    )
    .await;
    for bad in [
        json!({"name": "a", "type": "latency", "attributes": {"latency": -5}}),
        json!({"name": "b", "type": "timeout", "attributes": {"timeout": 86_400_000_000i64}}),
        json!({"name": "c", "type": "bandwidth", "attributes": {"rate": -1}}),
        json!({"name": "d", "type": "limit_data", "attributes": {"bytes": -1}}),
        json!({"name": "e", "type": "slow_close", "attributes": {"delay": "soon"}}),
        json!({"name": "f", "type": "latency", "toxicity": 1.5}),
    ] {
        assert_error(add(bad).await, 400, "bad request body").await;
    }
}

/// Reading, deleting or updating a toxic the proxy does not have is 404.
async fn assert_unknown_toxics_are_404(toxics: &str) {
    assert_error(
        call(reqwest::Method::GET, format!("{toxics}/nope"), None).await,
        404,
        "toxic not found",
    )
    .await;
    assert_error(
        call(reqwest::Method::DELETE, format!("{toxics}/nope"), None).await,
        404,
        "toxic not found",
    )
    .await;
    assert_error(
        call(
            reqwest::Method::POST,
            format!("{toxics}/nope"),
            Some(json!({})),
        )
        .await,
        404,
        "toxic not found",
    )
    .await;
}

#[tokio::test]
async fn populate_creates_keeps_and_replaces_like_toxiproxy() {
    let proxy = start_proxy().await;
    let (first, second) = (
        echo_server().await.to_string(),
        echo_server().await.to_string(),
    );
    let populate = |body: Value| call(reqwest::Method::POST, api(&proxy, "/populate"), Some(body));

    let response = populate(json!([{"name": "a", "listen": "127.0.0.1:0", "upstream": first},
                                   {"name": "b", "listen": "127.0.0.1:0", "upstream": first, "enabled": false}]))
    .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.expect("json");
    let proxies = body["proxies"].as_array().expect("proxies");
    assert_eq!(proxies.len(), 2);
    assert_eq!(proxies[1]["enabled"], false);
    let a_listen = proxies[0]["listen"].as_str().expect("listen").to_string();

    // Same listen and upstream: kept as it is, toxics and all.
    add_toxic(
        &proxy,
        "a",
        json!({"type": "latency", "attributes": {"latency": 1}}),
    )
    .await;
    let kept: Value = populate(json!([{"name": "a", "listen": a_listen, "upstream": first}]))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        kept["proxies"][0]["toxics"].as_array().map(Vec::len),
        Some(1)
    );
    // Another upstream: replaced, toxics dropped.
    let replaced: Value = populate(json!([{"name": "a", "listen": a_listen, "upstream": second}]))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(replaced["proxies"][0]["upstream"], second.as_str());
    assert_eq!(replaced["proxies"][0]["toxics"], json!([]));

    let missing = populate(json!([{"name": "c", "upstream": first}, {"upstream": first}])).await;
    assert_eq!(missing.status(), 400);
    let body: Value = missing.json().await.expect("json");
    assert_eq!(body["error"], "missing required field: name at proxy 2");
    assert_eq!(
        body["proxies"],
        Value::Null,
        "nothing created when the input is bad"
    );
    assert_error(
        populate(json!({"name": "x"})).await,
        400,
        "bad request body",
    )
    .await;
}

#[tokio::test]
async fn reset_enables_every_proxy_and_removes_every_toxic() {
    let proxy = start_proxy().await;
    create_proxy(&proxy, "one", echo_server().await).await;
    add_toxic(&proxy, "one", json!({"type": "timeout"})).await;
    proxy.set_enabled("one", false).await.expect("disable");

    let response = call(reqwest::Method::POST, api(&proxy, "/reset"), None).await;
    assert_eq!(response.status(), 204);
    let shown: Value = call(reqwest::Method::GET, api(&proxy, "/proxies/one"), None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(shown["enabled"], true);
    assert_eq!(shown["toxics"], json!([]));
}

#[tokio::test]
async fn browsers_are_refused_as_toxiproxy_does() {
    let proxy = start_proxy().await;
    let response = Client::new()
        .get(api(&proxy, "/proxies"))
        .header("User-Agent", "Mozilla/5.0")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn link_names_with_arrows_are_addressable() {
    let proxy = start_proxy().await;
    create_proxy(&proxy, "order->restaurant", echo_server().await).await;
    let shown = call(
        reqwest::Method::GET,
        api(&proxy, "/proxies/order-%3Erestaurant"),
        None,
    )
    .await;
    assert_eq!(shown.status(), 200);
    let body: Value = shown.json().await.expect("json");
    assert_eq!(body["name"], "order->restaurant");
    let toxic = json!({"type": "latency", "attributes": {"latency": 1}});
    let added = call(
        reqwest::Method::POST,
        api(&proxy, "/proxies/order-%3Erestaurant/toxics"),
        Some(toxic),
    )
    .await;
    assert_eq!(added.status(), 200);
}
