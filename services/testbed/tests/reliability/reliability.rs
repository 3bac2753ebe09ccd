//! Reliability under real faults (issue 9), each while orders flow:
//! - the Order Service process killed with SIGKILL and restarted;
//! - the Restaurant Service process killed in the middle of stock updates and restarted;
//! - a private Redis killed and started again;
//! - a private PostgreSQL cluster stopped (immediate mode) and started again.
//!
//! Afterwards no order is PENDING, no compensation is outstanding, every acknowledged (201)
//! order is still there as PAID (or CANCELLED when this test cancelled it), and every menu's
//! stock balances: stock = initial − Σ PAID quantities, ledger drift 0.
//!
//! The shared PostgreSQL (one database per service per test, dropped afterwards) and Redis
//! (a key prefix per test) are never stopped; the faults hit only this test's own processes.
//! Each test prints one `reliability:` line with its figures (README, "Reliability").

use std::time::{Duration, Instant};

use contract::ops::INVENTORY_DELAY;
use contract::{CreateOrder, OrderStatus, OrderView, Readiness};
use serde_json::json;
use testkit::http::{Response, call, try_get};
use testkit::process::{PrivateCluster, PrivateRedis, Service};
use testkit::{Clients, Databases, TempDir, database_server, redis_url, unique};

use crate::load::{Load, assert_none_lost, wait_ready_status};

/// The three service binaries as child processes on the shared PostgreSQL and Redis.
struct ProcessStack {
    user: Service,
    restaurant: Service,
    order: Service,
    _databases: Databases,
    _dir: TempDir,
}

impl ProcessStack {
    async fn start() -> Self {
        Self::start_with_pending_timeout(2).await
    }

    /// With the Order Service's age limit for PENDING orders (`PENDING_TIMEOUT_SECS`).
    async fn start_with_pending_timeout(pending_timeout_secs: u64) -> Self {
        let dir = TempDir::new("reliability");
        let prefix = unique("rel");
        let mut databases = Databases::default();
        let mut storage = |service: &str| {
            let url = format!("{}/{prefix}_{service}", database_server());
            databases.0.push(url.clone());
            vec![
                ("DATABASE_URL".to_string(), url),
                ("REDIS_URL".to_string(), redis_url()),
                ("CACHE_PREFIX".to_string(), format!("{prefix}:{service}")),
            ]
        };
        let user_env = storage("user");
        let restaurant_env = storage("restaurant");
        let mut order_env = storage("order");
        let mut user = Service::new("user-service", &dir.0, user_env);
        let mut restaurant = Service::new("restaurant-service", &dir.0, restaurant_env);
        order_env.extend([
            ("USER_SERVICE_URL".to_string(), user.url()),
            ("RESTAURANT_SERVICE_URL".to_string(), restaurant.url()),
            (
                "PENDING_TIMEOUT_SECS".to_string(),
                pending_timeout_secs.to_string(),
            ),
            ("RECOVERY_INTERVAL_SECS".to_string(), "1".to_string()),
        ]);
        let mut order = Service::new("order-service", &dir.0, order_env);
        user.start();
        restaurant.start();
        order.start();
        user.wait_ready().await;
        restaurant.wait_ready().await;
        order.wait_ready().await;
        Self {
            user,
            restaurant,
            order,
            _databases: databases,
            _dir: dir,
        }
    }

    /// The three services' clients over `http`.
    fn clients(&self, http: &reqwest::Client) -> Clients {
        Clients::new(
            http,
            &self.user.url(),
            &self.restaurant.url(),
            &self.order.url(),
        )
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("HTTP client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_service_killed_under_load_recovers_with_zero_drift() {
    // The default age limit (30 s): the restarted process finishes its dead predecessor's
    // orders at once because the predecessor stopped beating (`store::instances`).
    let mut stack = ProcessStack::start_with_pending_timeout(30).await;
    let http = http();
    let (user_url, order_url) = (stack.user.url(), stack.order.url());
    let clients = stack.clients(&http);
    let mut menus = Vec::new();
    for _ in 0..3 {
        menus.push(clients.create_menu(100_000, 3_000).await);
    }
    let load = Load::start(&user_url, &order_url, &menus, 6, Duration::from_secs(20)).await;

    tokio::time::sleep(Duration::from_millis(2500)).await;
    stack.order.kill9();
    let killed_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stack.order.start();
    stack.order.wait_ready().await;
    let back_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let tally = load.finish().await;

    // Well under the 30 s age limit: the orphans were recognised by liveness, not age.
    let stats = clients.settle(Duration::from_secs(3)).await;
    let settled_after_restart = back_at.elapsed();
    clients.assert_books_balance(&menus).await;
    let checked = assert_none_lost(&http, &order_url, &tally.acknowledged).await;
    tally.assert_orders_resumed(back_at, "after the restart");
    println!(
        "reliability: order service kill -9 under load: {} order requests ({} answered 201, {} \
         unanswered around the kill), down {:.1}s; afterwards {} PAID, {} CANCELLED, {} FAILED \
         (interrupted, recovered), PENDING 0, compensation pending 0, drift 0, lost 0 of {checked} acknowledged; \
         settled {:.1}s after the restart (load included)",
        tally.attempts(),
        tally.count(201),
        tally.count(0),
        (back_at - killed_at).as_secs_f64(),
        stats.count(OrderStatus::Paid),
        stats.count(OrderStatus::Cancelled),
        stats.count(OrderStatus::Failed),
        settled_after_restart.as_secs_f64(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restaurant_service_killed_mid_update_settles_with_zero_drift() {
    let mut stack = ProcessStack::start().await;
    let http = http();
    let (user_url, order_url) = (stack.user.url(), stack.order.url());
    let clients = stack.clients(&http);
    let mut menus = Vec::new();
    for _ in 0..3 {
        menus.push(clients.create_menu(100_000, 3_000).await);
    }
    // Stock updates hold the row lock for 150 ms, so the kill lands mid-update.
    clients
        .restaurants
        .set_switch(INVENTORY_DELAY, 150)
        .await
        .expect("inventory_delay set");
    let load = Load::start(&user_url, &order_url, &menus, 6, Duration::from_secs(20)).await;

    tokio::time::sleep(Duration::from_millis(2000)).await;
    stack.restaurant.kill9();
    let killed_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = clients
        .orders
        .stats()
        .await
        .expect("the order service answers while the restaurant service is down");
    stack.restaurant.start();
    stack.restaurant.wait_ready().await;
    let back_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let tally = load.finish().await;

    let stats = clients.settle(Duration::from_secs(40)).await;
    clients.assert_books_balance(&menus).await;
    let checked = assert_none_lost(&http, &order_url, &tally.acknowledged).await;
    assert!(
        tally.count(503) + tally.count(504) > 0,
        "orders during the outage are refused as unavailable: {:?}",
        tally.order_statuses
    );
    tally.assert_orders_resumed(back_at, "after the restart");
    println!(
        "reliability: restaurant service kill -9 mid-update (150 ms row-lock delay): {} order \
         requests ({} answered 201, {} answered 503/504 while it was down {:.1}s); {} \
         compensations pending during the outage, all finished after the restart; afterwards \
         {} PAID, {} CANCELLED, {} FAILED, PENDING 0, drift 0, lost 0 of {checked} acknowledged",
        tally.attempts(),
        tally.count(201),
        tally.count(503) + tally.count(504),
        (back_at - killed_at).as_secs_f64(),
        during.compensation_pending,
        stats.count(OrderStatus::Paid),
        stats.count(OrderStatus::Cancelled),
        stats.count(OrderStatus::Failed),
    );
}

/// The in-process stack (the launcher's library) on the given storage, ports picked freely.
fn stack_config(
    database_server: String,
    redis: Option<String>,
    prefix: &str,
) -> testbed::StackConfig {
    let mut config = testbed::StackConfig::embedded(std::env::temp_dir().join(prefix));
    config.user_port = 0;
    config.restaurant_port = 0;
    config.order_port = 0;
    config.database_server = Some(database_server);
    config.database_prefix = format!("{prefix}_");
    config.redis_url = redis;
    config.cache_prefix = prefix.to_string();
    config.pending_timeout_secs = 2;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_reads_fall_back_and_caching_resumes() {
    let mut redis = PrivateRedis::start();
    let prefix = unique("relredis");
    let _databases = Databases::of_launcher(&database_server(), &prefix);
    let stack = testbed::Stack::start(&stack_config(database_server(), Some(redis.url()), &prefix))
        .await
        .expect("stack starts");
    let http = http();
    let clients = Clients::new(
        &http,
        &stack.user_url,
        &stack.restaurant_url,
        &stack.order_url,
    );
    let reads = CachedReads::start(&clients, &http, &stack).await;
    let bases = [&stack.user_url, &stack.restaurant_url, &stack.order_url];
    reads.assert_served_from_redis().await;

    redis.kill9();
    let (requests, down_for, mean_read) = reads.assert_reads_fall_back_while_redis_is_down().await;
    assert_ready_with_the_cache_down(&http, bases).await;
    // A dead Redis must not tax every read with a reconnect attempt (about 300 ms each
    // before the cache's cool-down existed).
    assert!(
        mean_read < Duration::from_millis(250),
        "reads without Redis stay fast: mean {mean_read:?}"
    );

    redis.restart();
    let resumed = reads.wait_for_caching_to_resume().await;
    wait_for_the_cache_reported_up(&http, bases).await;
    let stats = clients.settle(Duration::from_secs(20)).await;
    clients.assert_books_balance(&[reads.menu]).await;
    println!(
        "reliability: Redis killed: {requests} requests in {:.1}s without it (reads from the \
         database, X-Cache MISS, no 5xx, mean read {mean_read:.1?}), /ready 200 with cache down; \
         Redis restarted: caching resumed (X-Cache HIT) after {resumed:.1?}; {} PAID orders, \
         drift 0",
        down_for.as_secs_f64(),
        stats.count(OrderStatus::Paid),
    );
    stack.stop().await.expect("stack stops");
}

/// The cacheable reads of the Redis test: the menu list and one PAID order of one user.
struct CachedReads {
    http: reqwest::Client,
    order_url: String,
    menus_url: String,
    token: String,
    menu: i64,
    id: i64,
}

impl CachedReads {
    /// A new user, a menu, and one order of it placed (201).
    async fn start(clients: &Clients, http: &reqwest::Client, stack: &testbed::Stack) -> Self {
        let token = clients.new_user().await;
        let menu = clients.create_menu(1_000, 3_000).await;
        let mut reads = Self {
            http: http.clone(),
            order_url: stack.order_url.clone(),
            menus_url: format!("{}/menus", stack.restaurant_url),
            token,
            menu,
            id: 0,
        };
        let placed = reads.place().await;
        assert_eq!(placed.status, 201, "{}", placed.body);
        reads.id = placed.order().id;
        reads
    }

    async fn place(&self) -> Response {
        call(
            &self.http,
            reqwest::Method::POST,
            format!("{}/orders", self.order_url),
            Some(&self.token),
            Some(json!(CreateOrder::of(&[(self.menu, 1)]))),
        )
        .await
    }

    async fn read_order(&self) -> Response {
        call(
            &self.http,
            reqwest::Method::GET,
            format!("{}/orders/{}", self.order_url, self.id),
            Some(&self.token),
            None,
        )
        .await
    }

    async fn read_menus(&self) -> Option<Response> {
        try_get(&self.http, self.menus_url.clone()).await
    }

    /// Warm: the second read of each is served by Redis.
    async fn assert_served_from_redis(&self) {
        for _ in 0..2 {
            self.read_menus().await;
            self.read_order().await;
        }
        assert_eq!(
            self.read_menus().await.and_then(|r| r.cache).as_deref(),
            Some("HIT")
        );
        assert_eq!(self.read_order().await.cache.as_deref(), Some("HIT"));
    }

    /// Ten rounds of reads (and an order every third round) with Redis dead: all answered
    /// from the database. Returns the requests made, the time taken and the mean read time.
    async fn assert_reads_fall_back_while_redis_is_down(&self) -> (u32, Duration, Duration) {
        let id = self.id;
        let mut requests = 0;
        let mut reads = Duration::ZERO;
        let started = Instant::now();
        for round in 0..10 {
            let t = Instant::now();
            let Response {
                status,
                body,
                cache,
            } = self.read_menus().await.expect("menus answer");
            assert_eq!(
                (status.as_u16(), cache.as_deref()),
                (200, Some("MISS")),
                "GET /menus without Redis: {body}"
            );
            let Response {
                status,
                body,
                cache,
            } = self.read_order().await;
            assert_eq!(
                (status.as_u16(), cache.as_deref()),
                (200, Some("MISS")),
                "GET /orders/{id} without Redis: {body}"
            );
            let order: OrderView = serde_json::from_value(body).expect("an order");
            assert_eq!(order.status, OrderStatus::Paid);
            reads += t.elapsed();
            requests += 2;
            if round % 3 == 0 {
                let placed = self.place().await;
                assert_eq!(
                    placed.status, 201,
                    "an order without Redis: {}",
                    placed.body
                );
                requests += 1;
            }
        }
        (requests, started.elapsed(), reads / 20)
    }

    /// Both reads are served by Redis again (within 20 s); returns how long that took.
    async fn wait_for_caching_to_resume(&self) -> Duration {
        let back = Instant::now();
        loop {
            let menus = self.read_menus().await.and_then(|r| r.cache);
            let order = self.read_order().await.cache;
            if menus.as_deref() == Some("HIT") && order.as_deref() == Some("HIT") {
                return back.elapsed();
            }
            assert!(
                back.elapsed() < Duration::from_secs(20),
                "caching did not resume after Redis came back (menus {menus:?}, order {order:?})"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A cache outage alone keeps every service ready, with `/ready` naming the cache as down.
async fn assert_ready_with_the_cache_down(http: &reqwest::Client, bases: [&String; 3]) {
    for base in bases {
        let Response {
            status,
            body: ready,
            ..
        } = try_get(http, format!("{base}/ready"))
            .await
            .expect("ready answers");
        assert_eq!(
            status, 200,
            "{base}: a cache outage alone keeps the service ready: {ready}"
        );
        let ready: Readiness = serde_json::from_value(ready).expect("a readiness body");
        assert_eq!(ready.status, "ready", "{ready:?}");
        assert_ne!(
            ready.cache, "ok",
            "{base}: /ready reports the cache as down: {ready:?}"
        );
        assert_eq!(ready.database, "ok", "{ready:?}");
    }
}

/// Every service reports the cache up again by itself (the user service uses Redis only
/// for this check, so its connection must come back without any traffic).
async fn wait_for_the_cache_reported_up(http: &reqwest::Client, bases: [&String; 3]) {
    for base in bases {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ready = wait_ready_status(http, base, 200, Duration::from_secs(10)).await;
            if ready.cache == "ok" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{base}: /ready still reports the cache down after Redis came back: {ready:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_services_recover_and_lose_nothing() {
    let cluster = PrivateCluster::start();
    let prefix = unique("relpg");
    let _databases = Databases::of_launcher(&cluster.server_url(), &prefix);
    let stack = testbed::Stack::start(&stack_config(
        cluster.server_url(),
        Some(redis_url()),
        &prefix,
    ))
    .await
    .expect("stack starts");
    let http = http();
    let clients = Clients::new(
        &http,
        &stack.user_url,
        &stack.restaurant_url,
        &stack.order_url,
    );
    let mut menus = Vec::new();
    for _ in 0..2 {
        menus.push(clients.create_menu(100_000, 3_000).await);
    }
    let load = Load::start(
        &stack.user_url,
        &stack.order_url,
        &menus,
        4,
        Duration::from_secs(40),
    )
    .await;

    tokio::time::sleep(Duration::from_millis(2000)).await;
    let (unready_after, ready_after) = stop_and_start_postgres(&http, &cluster, &stack).await;
    let back_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let tally = load.finish().await;

    let stats = clients.settle(Duration::from_secs(40)).await;
    clients.assert_books_balance(&menus).await;
    let checked = assert_none_lost(&http, &stack.order_url, &tally.acknowledged).await;
    tally.assert_orders_resumed(back_at, "without restarting the services");
    println!(
        "reliability: PostgreSQL stopped (immediate) and started: {} order requests ({} answered \
         201, {} answered 503/504 during the outage); all three services /ready 503 within \
         {unready_after:.1?}, ready again {ready_after:.1?} after the database, no restart; \
         afterwards {} PAID, {} CANCELLED, {} FAILED, PENDING 0, drift 0, lost 0 of {checked} acknowledged",
        tally.attempts(),
        tally.count(201),
        tally.count(503) + tally.count(504),
        stats.count(OrderStatus::Paid),
        stats.count(OrderStatus::Cancelled),
        stats.count(OrderStatus::Failed),
    );
    stack.stop().await.expect("stack stops");
}

/// Stops the cluster (immediate mode): every service turns unready (503, database down)
/// within 15 s; a second later starts it again: every service is ready again within 30 s,
/// without a restart. Returns how long each took.
async fn stop_and_start_postgres(
    http: &reqwest::Client,
    cluster: &PrivateCluster,
    stack: &testbed::Stack,
) -> (Duration, Duration) {
    cluster.pg_stop_immediate();
    let stopped_at = Instant::now();
    let unready = async |base: &str| {
        let ready = wait_ready_status(http, base, 503, Duration::from_secs(15)).await;
        assert_eq!(ready.status, "not_ready", "{ready:?}");
        assert_ne!(ready.database, "ok", "{ready:?}");
        stopped_at.elapsed()
    };
    let (a, b, c) = tokio::join!(
        unready(&stack.user_url),
        unready(&stack.restaurant_url),
        unready(&stack.order_url)
    );
    let unready_after = a.max(b).max(c);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    cluster.pg_start();
    let started_at = Instant::now();
    for base in [&stack.user_url, &stack.restaurant_url, &stack.order_url] {
        wait_ready_status(http, base, 200, Duration::from_secs(30)).await;
    }
    (unready_after, started_at.elapsed())
}
