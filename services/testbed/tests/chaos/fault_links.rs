//! The launcher's fault proxy (`--fault-proxy`, issue 13): every link is a proxy driven
//! through the Toxiproxy-compatible REST API, on the in-process stack and with
//! `--processes`. With the proxy on, orders work; a 300 ms latency toxic on
//! `order->restaurant` slows each order by at least that; `order->restaurant` disabled
//! (partition) fails orders with 503/504 and, once re-enabled, the books balance; on
//! PostgreSQL + Redis a latency toxic on `restaurant->postgres` slows stock reservations; an
//! unknown link is a 404 JSON answer. Every wait is bounded.

use std::time::{Duration, Instant};

use contract::{
    ClientError, CreateOrder, OrderClient, OrderStatus, OrderView, ReserveRequest, RestaurantClient,
};
use serde_json::{Value, json};
use testbed::links::{self, running_links};
use testkit::{Clients, Databases, TempDir, database_server, redis_url, unique};

use crate::stacks::{Launcher, proxied_config, proxied_stack};

const EMBEDDED_LINKS: [&str; 5] = [
    "loadgen->user",
    "loadgen->restaurant",
    "loadgen->order",
    "order->user",
    "order->restaurant",
];

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("HTTP client")
}

/// A call at the fault proxy API: status and JSON body (`Null` when empty).
async fn api(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("fault proxy API answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `/proxies/<name>` with the name's `>` escaped, as a Toxiproxy client sends it.
fn proxy_path(api_url: &str, link: &str) -> String {
    format!("{api_url}/proxies/{}", link.replace('>', "%3E"))
}

async fn add_latency(http: &reqwest::Client, api_url: &str, link: &str, latency_ms: u64) {
    let (status, body) = api(
        http,
        reqwest::Method::POST,
        format!("{}/toxics", proxy_path(api_url, link)),
        Some(json!({"name": "slow", "type": "latency", "stream": "downstream", "attributes": {"latency": latency_ms}})),
    )
    .await;
    assert_eq!(status, 200, "latency toxic on {link}: {body}");
}

async fn set_enabled(http: &reqwest::Client, api_url: &str, link: &str, enabled: bool) {
    let (status, body) = api(
        http,
        reqwest::Method::POST,
        proxy_path(api_url, link),
        Some(json!({"enabled": enabled})),
    )
    .await;
    assert_eq!(status, 200, "{link} enabled={enabled}: {body}");
    assert_eq!(body["enabled"], enabled, "{body}");
}

/// The fastest call `with` the toxic took at least `latency_ms`, and at least 90 % of it more
/// than the fastest `without`; returns that fastest faulted call.
fn assert_latency_added(without: &[Duration], with: &[Duration], latency_ms: u64) -> Duration {
    let fastest_without = *without.iter().min().expect("unfaulted samples");
    let fastest_with = *with.iter().min().expect("faulted samples");
    let latency = Duration::from_millis(latency_ms);
    assert!(fastest_with >= latency, "{with:?}");
    assert!(
        fastest_with.saturating_sub(fastest_without) >= latency * 9 / 10,
        "added latency under 90 % of {latency_ms} ms: without {without:?}, with {with:?}"
    );
    fastest_with
}

/// `POST /reset`: every proxy enabled, every toxic removed.
async fn reset(http: &reqwest::Client, api_url: &str) {
    let (status, _) = api(
        http,
        reqwest::Method::POST,
        format!("{api_url}/reset"),
        None,
    )
    .await;
    assert_eq!(status, 204);
}

/// POST /orders for one unit of `menu`: the order or the refusal, and how long it took.
async fn place(
    http: &reqwest::Client,
    order_url: &str,
    token: &str,
    menu: i64,
) -> (Result<OrderView, ClientError>, Duration) {
    let started = Instant::now();
    let placed = OrderClient::with_http(http.clone(), order_url)
        .create_order(token, &CreateOrder::of(&[(menu, 1)]))
        .await;
    (placed, started.elapsed())
}

/// Orders during the partition fail (503/504) and none is left PAID or PENDING; after the
/// link comes back orders work and the books balance.
async fn partition_then_heal(
    http: &reqwest::Client,
    api_url: &str,
    [user_url, restaurant_url, order_url]: [&str; 3],
    admin: Option<&str>,
) {
    let operator = Clients::new(http, user_url, restaurant_url, order_url).with_admin_token(admin);
    let token = operator.new_user().await;
    let menu = operator.create_menu(100, 3_000).await;
    let (placed, _) = place(http, order_url, &token, menu).await;
    placed.expect("an order before the partition");
    set_enabled(http, api_url, links::ORDER_RESTAURANT, false).await;
    for _ in 0..3 {
        let (placed, _) = place(http, order_url, &token, menu).await;
        let refused = placed.expect_err("no order during the partition");
        assert!(
            matches!(refused.status().map(|s| s.as_u16()), Some(503 | 504)),
            "during the partition: {refused}"
        );
        assert!(refused.body().is_some(), "JSON error: {refused}");
    }
    set_enabled(http, api_url, links::ORDER_RESTAURANT, true).await;
    let (placed, _) = place(http, order_url, &token, menu).await;
    placed.expect("an order after the partition");
    let stats = operator.settle(Duration::from_secs(20)).await;
    assert!(stats.count(OrderStatus::Failed) <= 3, "{stats:?}");
    let stats = operator.assert_books_balance(&[menu]).await;
    assert_eq!(stats.sold(menu), 2, "PAID units = the 201s: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_links_carry_orders_and_take_latency() {
    let dir = TempDir::new("links");
    let stack = proxied_stack(&dir).await;
    let api_url = stack.fault_links().expect("fault proxy on").api_url();
    assert_eq!(
        stack.links(),
        EMBEDDED_LINKS,
        "no database/Redis links on SQLite"
    );
    let mut listed = EMBEDDED_LINKS.map(String::from).to_vec();
    listed.sort();
    assert_eq!(running_links(&api_url).await.expect("links listed"), listed);

    let http = http();
    let clients = Clients::new(
        &http,
        &stack.user_url,
        &stack.restaurant_url,
        &stack.order_url,
    );
    let token = clients.new_user().await;
    let menu = clients.create_menu(100, 3_000).await;
    // Five unfaulted samples: their fastest is the base a faulted call adds to.
    let mut without = Vec::new();
    for _ in 0..5 {
        let (placed, took) = place(&http, &stack.order_url, &token, menu).await;
        assert_eq!(placed.expect("an order").status, OrderStatus::Paid);
        without.push(took);
    }
    add_latency(&http, &api_url, links::ORDER_RESTAURANT, 300).await;
    let mut with = Vec::new();
    for _ in 0..3 {
        let (placed, took) = place(&http, &stack.order_url, &token, menu).await;
        placed.expect("an order");
        with.push(took);
    }
    eprintln!(
        "fault links: POST /orders without toxic {without:?}, with 300 ms on order->restaurant {with:?}"
    );
    // The reservation's answer is held 300 ms: no order can be faster than that.
    let fastest_with = assert_latency_added(&without, &with, 300);
    reset(&http, &api_url).await;
    let (placed, took) = place(&http, &stack.order_url, &token, menu).await;
    placed.expect("an order");
    assert!(
        took < fastest_with,
        "reset removed the toxic: {took:?} vs {with:?}"
    );
    stack.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_partition_fails_orders_and_the_books_balance_after() {
    let dir = TempDir::new("links");
    let stack = proxied_stack(&dir).await;
    let api_url = stack.fault_links().expect("fault proxy on").api_url();
    let http = http();
    let urls = [
        stack.user_url.as_str(),
        stack.restaurant_url.as_str(),
        stack.order_url.as_str(),
    ];
    partition_then_heal(&http, &api_url, urls, None).await;
    stack.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_link_is_a_404_json_answer() {
    let dir = TempDir::new("links");
    let stack = proxied_stack(&dir).await;
    let api_url = stack.fault_links().expect("fault proxy on").api_url();
    let http = http();
    for (method, path) in [
        (reqwest::Method::GET, "restaurant->postgres"),
        (reqwest::Method::POST, "order->nowhere/toxics"),
    ] {
        let body = (method == reqwest::Method::POST)
            .then(|| json!({"type": "latency", "attributes": {"latency": 10}}));
        let (status, answer) = api(&http, method, proxy_path(&api_url, path), body).await;
        assert_eq!(status, 404, "{path}: {answer}");
        assert_eq!(answer["error"], "proxy not found", "{answer}");
        assert_eq!(answer["status"], 404, "{answer}");
    }
    stack.stop().await.expect("clean stop");
}

/// On PostgreSQL + Redis each service reaches them through its own links; latency on
/// `restaurant->postgres` slows the stock reservation (a direct call with a service token).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_latency_slows_stock_reservations() {
    let dir = TempDir::new("links");
    let prefix = unique("links");
    let _databases = Databases::of_launcher(&database_server(), &prefix);
    let mut config = proxied_config(&dir);
    config.database_server = Some(database_server());
    config.database_prefix = format!("{prefix}_");
    config.redis_url = Some(redis_url());
    config.cache_prefix = prefix.clone();
    let stack = testbed::Stack::start(&config).await.expect("stack starts");
    assert_eq!(stack.links(), links::link_names(&config));
    assert_eq!(stack.links().len(), 11, "{:?}", stack.links());
    let api_url = stack.fault_links().expect("fault proxy on").api_url();
    let http = http();
    let restaurants = RestaurantClient::with_http(http.clone(), &stack.restaurant_url);
    let menu = testkit::create_menu(&restaurants, 1_000, 3_000).await;
    let service_token =
        testbed::mint_service_token(&stack.service_token_secret, 60).expect("service token");
    let one = ReserveRequest {
        quantity: 1,
        order_id: None,
    };
    let reserve = async || {
        let started = Instant::now();
        restaurants
            .stock_caller(&service_token, None)
            .reserve(menu, &one)
            .await
            .expect("reserve");
        started.elapsed()
    };
    // Five unfaulted samples: their fastest is the base a faulted call adds to.
    let mut without = Vec::new();
    for _ in 0..5 {
        without.push(reserve().await);
    }
    add_latency(&http, &api_url, "restaurant->postgres", 200).await;
    let mut with = Vec::new();
    for _ in 0..3 {
        with.push(reserve().await);
    }
    eprintln!(
        "fault links: PUT /inventory without toxic {without:?}, with 200 ms on restaurant->postgres {with:?}"
    );
    assert_latency_added(&without, &with, 200);
    reset(&http, &api_url).await;
    stack.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_links_carry_orders_and_partition() {
    const ADMIN: &str = "fault-links-admin-token";
    let mut launcher = Launcher::start("links-processes", Some(ADMIN));
    launcher.wait_ready().await;
    let api_url = launcher.proxy_api.clone();
    let urls = [
        launcher.user.as_str(),
        launcher.restaurant.as_str(),
        launcher.order.as_str(),
    ];
    let mut listed = running_links(&api_url).await.expect("links listed");
    listed.sort();
    let mut expected = EMBEDDED_LINKS.map(String::from).to_vec();
    expected.sort();
    assert_eq!(listed, expected);
    let http = http();
    partition_then_heal(&http, &api_url, urls, Some(ADMIN)).await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(launcher.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let exit_deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = launcher.child.try_wait().expect("launcher status") {
            break status;
        }
        assert!(
            Instant::now() < exit_deadline,
            "launcher did not stop in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "clean shutdown: {status}");
    assert!(
        reqwest::get(format!("{api_url}/version")).await.is_err(),
        "the fault proxy API closed with the launcher"
    );
}
