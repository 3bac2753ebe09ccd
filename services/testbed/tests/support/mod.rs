//! Shared by the reliability tests: child processes that are killed and reaped when dropped
//! (service binaries, a private Redis, a private PostgreSQL cluster), a bounded order load
//! that records every acknowledged order, and the end-of-run audits (nothing PENDING,
//! nothing acknowledged lost, zero stock drift).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use contract::{
    ClientError, CreateMenuRequest, CreateOrder, OrderClient, OrderStats, OrderStatus, Readiness,
    RestaurantClient, UserClient,
};
use serde_json::Value;
use testbed_common::testing::unique;

pub use testbed_common::testing::free_port;

/// A temporary directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Self {
        let dir = std::env::temp_dir().join(unique(prefix));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// PostgreSQL databases dropped when this goes away (also when a test panics).
#[derive(Default)]
pub struct Databases(pub Vec<String>);

impl Drop for Databases {
    fn drop(&mut self) {
        let urls = std::mem::take(&mut self.0);
        if urls.is_empty() {
            return;
        }
        // Drop may run inside the test's runtime: clean up on a thread with its own.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(async {
                    for url in urls {
                        let _ = testbed_common::db::drop_postgres_database(&url).await;
                    }
                });
            }
        })
        .join();
    }
}

/// A service binary from this workspace's target directory (next to this test's `deps/`).
/// `scripts/test.sh` builds them before the tests; `cargo nextest run --workspace` does too.
pub fn service_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test executable");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile> above the test executable");
    let bin = dir.join(name);
    assert!(
        bin.is_file(),
        "{} is missing: build the service binaries first with \
         `cargo build -p user-service -p restaurant-service -p order-service --bins` \
         (scripts/test.sh does this before the tests)",
        bin.display()
    );
    bin
}

/// One service binary run as a child process; SIGKILLed and reaped when dropped.
pub struct Service {
    pub name: &'static str,
    pub port: u16,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Service {
    pub fn new(name: &'static str, log_dir: &Path, env: Vec<(String, String)>) -> Self {
        Self {
            name,
            port: free_port(),
            env,
            log: log_dir.join(format!("{name}.log")),
            child: None,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the binary (again, after a kill: same port, same environment).
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("service log file");
        let err = log.try_clone().expect("service log file");
        let child = Command::new(service_bin(self.name))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOST", "127.0.0.1")
            .env("PORT", self.port.to_string())
            .env("TESTBED_DEV", "1")
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", self.name));
        self.child = Some(child);
    }

    /// Waits for `/ready`; on failure shows the end of the service's log.
    pub async fn wait_ready(&mut self) {
        if let Err(e) =
            testbed_common::server::wait_ready(&self.url(), Duration::from_secs(60)).await
        {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            panic!(
                "{} not ready ({e}); exit status {exited:?}; log:\n{}",
                self.name,
                self.log_tail()
            );
        }
    }

    /// The running child's process id.
    #[allow(dead_code)]
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `kill -9`, then reap.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A private `redis-server` on a free port (never the shared one on 6379).
pub struct PrivateRedis {
    pub port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    pub fn start() -> Self {
        let mut redis = Self {
            port: free_port(),
            child: None,
        };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on its port and waits until it answers PING.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "Redis is already running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts (apt-get install redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            assert!(
                Instant::now() < deadline,
                "redis-server on {} did not answer",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn answers(&self) -> bool {
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 16];
        stream.write_all(b"PING\r\n").is_ok()
            && stream
                .read(&mut buf)
                .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
    }

    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A private PostgreSQL cluster (initdb in a temporary directory, trust auth, a free port),
/// never the shared server. As root, its commands run as the `postgres` user.
pub struct PrivateCluster {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
}

impl PrivateCluster {
    /// The binaries: `PG_BIN_DIR`, or the newest `/usr/lib/postgresql/<v>/bin`.
    fn bin_dir() -> PathBuf {
        if let Ok(dir) = std::env::var("PG_BIN_DIR") {
            return PathBuf::from(dir);
        }
        let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
                let bin = entry.path().join("bin");
                bin.join("initdb").is_file().then_some((version, bin))
            })
            .collect();
        found.sort();
        found
            .pop()
            .map(|(_, bin)| bin)
            .expect("PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin or PG_BIN_DIR")
    }

    fn run(&self, tool: &str, args: &[&str]) -> std::process::Output {
        let program = self.bin.join(tool);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        command
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{tool} runs: {e}"))
    }

    fn check(&self, tool: &str, args: &[&str]) {
        let out = self.run(tool, args);
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}\n{}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
        );
    }

    pub fn start() -> Self {
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let dir = std::env::temp_dir().join(unique("pgcluster"));
        std::fs::create_dir_all(&dir).expect("cluster directory");
        if is_root {
            let chown = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .expect("chown runs");
            assert!(chown.success(), "chown postgres {}", dir.display());
        }
        let cluster = Self {
            port: free_port(),
            dir,
            bin: Self::bin_dir(),
            as_postgres: is_root,
        };
        let data = cluster.data();
        cluster.check(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "-N"],
        );
        cluster.pg_start();
        cluster
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    pub fn server_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    pub fn pg_start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=120",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log").display().to_string();
        self.check(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// Stops the server the hard way (like a crash: in-flight transactions are lost, and
    /// committed ones must survive through the WAL).
    pub fn pg_stop_immediate(&self) {
        self.check(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A plain HTTP call; `None` when the request never got an answer (refused, reset, timed out).
pub async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> Option<(u16, Value, Option<String>)> {
    let mut request = http.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    let cache = response
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response.json().await.unwrap_or(Value::Null);
    Some((status, body, cache))
}

pub async fn get(http: &reqwest::Client, url: String) -> Option<(u16, Value, Option<String>)> {
    call(http, reqwest::Method::GET, url, None, None).await
}

/// Signs up a fresh user and logs in; returns the token.
pub async fn new_user(http: &reqwest::Client, user_url: &str) -> String {
    UserClient::with_http(http.clone(), user_url)
        .signup_and_login(&unique("rel"), "s3cret-pass")
        .await
        .expect("signup and login")
}

/// Creates a menu with `stock` through the admin call; returns its id.
pub async fn create_menu(http: &reqwest::Client, restaurant_url: &str, stock: i64) -> i64 {
    RestaurantClient::with_http(http.clone(), restaurant_url)
        .create_menu(&CreateMenuRequest::new(
            unique("Reliability Gimbap"),
            3_000,
            stock,
        ))
        .await
        .expect("menu created")
        .id
}

/// An order this test was told about with 201, and what it must be at the end.
#[derive(Clone, Debug)]
pub struct Acknowledged {
    pub id: i64,
    pub token: Arc<str>,
    /// PAID, CANCELLED, or `None` when a cancel got no clear answer (either is right).
    pub expect: Option<OrderStatus>,
    pub at: Instant,
}

/// What the load saw.
#[derive(Default, Debug)]
pub struct Tally {
    pub acknowledged: Vec<Acknowledged>,
    /// Answers per status code for POST /orders (0: no answer at all).
    pub order_statuses: BTreeMap<u16, u64>,
    /// Answers per status code for cancels.
    pub cancel_statuses: BTreeMap<u16, u64>,
}

impl Tally {
    pub fn attempts(&self) -> u64 {
        self.order_statuses.values().sum()
    }
    pub fn count(&self, status: u16) -> u64 {
        self.order_statuses.get(&status).copied().unwrap_or(0)
    }
    fn merge(&mut self, other: Tally) {
        self.acknowledged.extend(other.acknowledged);
        for (k, v) in other.order_statuses {
            *self.order_statuses.entry(k).or_default() += v;
        }
        for (k, v) in other.cancel_statuses {
            *self.cancel_statuses.entry(k).or_default() += v;
        }
    }
    /// Acknowledged orders placed after `t`.
    pub fn acknowledged_after(&self, t: Instant) -> usize {
        self.acknowledged.iter().filter(|a| a.at > t).count()
    }
}

/// A running order load: `workers` users each placing orders one after another, over the
/// given menus (quantity 1–3), cancelling every fourth order they get; bounded by `max`.
pub struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Tally>>,
}

impl Load {
    pub async fn start(
        user_url: &str,
        order_url: &str,
        menus: &[i64],
        workers: usize,
        max: Duration,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .expect("HTTP client");
        let mut tokens = Vec::new();
        for _ in 0..workers {
            tokens.push(Arc::<str>::from(new_user(&http, user_url).await));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let orders = OrderClient::with_http(http, order_url);
        let tasks = tokens
            .into_iter()
            .enumerate()
            .map(|(worker, token)| {
                let (orders, stop, menus) = (orders.clone(), stop.clone(), menus.to_vec());
                tokio::spawn(async move {
                    let mut tally = Tally::default();
                    let mut i = worker;
                    while !stop.load(Ordering::Relaxed) && started.elapsed() < max {
                        i += 1;
                        let order =
                            CreateOrder::of(&[(menus[i % menus.len()], 1 + (i % 3) as i64)]);
                        let answer = orders.create_order(&token, &order).await;
                        *tally
                            .order_statuses
                            .entry(answer_status(&answer, 201))
                            .or_default() += 1;
                        match answer {
                            Ok(order) => {
                                let expect = if i % 4 == 0 {
                                    let cancel = orders.cancel_order(&token, order.id).await;
                                    let status = answer_status(&cancel, 200);
                                    *tally.cancel_statuses.entry(status).or_default() += 1;
                                    match status {
                                        200 => Some(OrderStatus::Cancelled),
                                        409 => Some(OrderStatus::Paid),
                                        _ => None,
                                    }
                                } else {
                                    Some(OrderStatus::Paid)
                                };
                                tally.acknowledged.push(Acknowledged {
                                    id: order.id,
                                    token: token.clone(),
                                    expect,
                                    at: Instant::now(),
                                });
                            }
                            // The service is down (or restarting): do not spin.
                            Err(ClientError::Transport(_)) => {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                            Err(_) => {}
                        }
                    }
                    tally
                })
            })
            .collect();
        Self { stop, tasks }
    }

    /// Stops the load and adds up what every worker saw.
    pub async fn finish(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = Tally::default();
        for task in self.tasks {
            total.merge(task.await.expect("load worker"));
        }
        total
    }
}

/// The status of an answer: `success` (the call's documented 2xx) for a typed body, the
/// error's status, 0 for no answer.
pub fn answer_status<T>(answer: &Result<T, ClientError>, success: u16) -> u16 {
    match answer {
        Ok(_) => success,
        Err(error) => error.status().map_or(0, |status| status.as_u16()),
    }
}

/// Waits until no order is PENDING and no compensation is outstanding; returns the stats.
pub async fn settle(http: &reqwest::Client, order_url: &str, within: Duration) -> OrderStats {
    let orders = OrderClient::with_http(http.clone(), order_url);
    let deadline = Instant::now() + within;
    let mut last = None;
    loop {
        if let Ok(stats) = orders.stats().await {
            if stats.settled() {
                return stats;
            }
            last = Some(stats);
        }
        assert!(
            Instant::now() < deadline,
            "orders did not settle within {within:?}: {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// For every menu: stock = initial − Σ PAID quantities, the ledger identity holds
/// (`drift` = 0) and stock never went negative. Returns the summed |drift| (always 0 when
/// this returns).
pub async fn assert_zero_drift(
    http: &reqwest::Client,
    restaurant_url: &str,
    order_url: &str,
    menus: &[i64],
) -> i64 {
    let stats = OrderClient::with_http(http.clone(), order_url)
        .stats()
        .await
        .expect("stats answer");
    let restaurants = RestaurantClient::with_http(http.clone(), restaurant_url);
    let mut drift = 0;
    for &menu in menus {
        let inventory = restaurants
            .inventory(menu)
            .await
            .expect("inventory answers");
        let sold = stats.sold(menu);
        assert!(inventory.stock >= 0, "oversold: {inventory:?}");
        assert_eq!(
            inventory.stock,
            inventory.initial_stock - sold,
            "drift on menu {menu}: {inventory:?}; PAID units {sold}"
        );
        assert_eq!(inventory.drift, 0, "ledger identity: {inventory:?}");
        drift += (inventory.stock - (inventory.initial_stock - sold)).abs();
    }
    drift
}

/// Every acknowledged (201) order is still there and settled as expected. Returns how many
/// were lost (always 0 when this returns).
pub async fn assert_none_lost(
    http: &reqwest::Client,
    order_url: &str,
    acknowledged: &[Acknowledged],
) -> usize {
    let orders = OrderClient::with_http(http.clone(), order_url);
    let mut lost = Vec::new();
    for order in acknowledged {
        let answer = orders.order(&order.token, order.id).await;
        let ok = match (&answer, order.expect) {
            (Ok(read), Some(want)) => read.body.status == want,
            (Ok(read), None) => {
                matches!(read.body.status, OrderStatus::Paid | OrderStatus::Cancelled)
            }
            (Err(_), _) => false,
        };
        if !ok {
            lost.push((order.id, order.expect, answer.map(|a| a.body)));
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged orders lost or wrong: {lost:?}",
        lost.len(),
        acknowledged.len()
    );
    0
}

/// Polls `/ready` until it answers `want`; returns the last body.
pub async fn wait_ready_status(
    http: &reqwest::Client,
    base: &str,
    want: u16,
    within: Duration,
) -> Readiness {
    let service = contract::ServiceClient::with_http(http.clone(), base);
    let deadline = Instant::now() + within;
    loop {
        if let Ok((status, body)) = service.readiness().await
            && status.as_u16() == want
        {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{base}/ready did not answer {want} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
