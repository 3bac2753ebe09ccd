//! The all-in-one launcher: starts the User, Restaurant and Order services in one process,
//! each on its own port with its own database, talking to each other over real HTTP — the
//! same apps the per-service binaries run. Embedded storage (SQLite files, in-process cache)
//! by default; real PostgreSQL and Redis when their URLs are given.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use testbed_common::config::ServiceConfig;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How to run the stack.
#[derive(Args, Clone, Debug)]
pub struct StackConfig {
    /// Address the services listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port of the User Service (0 picks a free port).
    #[arg(long, default_value_t = 8001)]
    pub user_port: u16,
    /// Port of the Restaurant Service (0 picks a free port).
    #[arg(long, default_value_t = 8002)]
    pub restaurant_port: u16,
    /// Port of the Order Service (0 picks a free port).
    #[arg(long, default_value_t = 8003)]
    pub order_port: u16,
    /// Directory for the embedded SQLite databases.
    #[arg(long, env = "DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// A PostgreSQL server URL without a database name (e.g.
    /// `postgres://postgres@127.0.0.1:5432`); each service gets its own database on it
    /// (`<prefix>users`, `<prefix>restaurants`, `<prefix>orders`), created if missing.
    #[arg(long, env = "DATABASE_SERVER")]
    pub database_server: Option<String>,
    /// Prefix of the per-service database names on `--database-server`.
    #[arg(long, default_value = "testbed_")]
    pub database_prefix: String,
    /// Redis URL; absent → in-process caches.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// Prefix of every cache key, so several stacks can share one Redis.
    #[arg(long, env = "CACHE_PREFIX", default_value = "testbed")]
    pub cache_prefix: String,
    /// JWT secret; absent → the development secret (the launcher runs in development mode).
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Require `X-Admin-Token` for fault switches and admin calls.
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Timeout of the order service's calls to the others, in milliseconds.
    #[arg(long, env = "UPSTREAM_TIMEOUT_MS", default_value_t = 1500)]
    pub upstream_timeout_ms: u64,
    /// Seconds after which a PENDING order counts as interrupted and is recovered.
    #[arg(long, env = "PENDING_TIMEOUT_SECS", default_value_t = 30)]
    pub pending_timeout_secs: u64,
}

impl StackConfig {
    /// Embedded defaults on the given ports, with data under `data_dir`.
    pub fn embedded(data_dir: PathBuf) -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            user_port: 8001,
            restaurant_port: 8002,
            order_port: 8003,
            data_dir,
            database_server: None,
            database_prefix: "testbed_".into(),
            redis_url: None,
            cache_prefix: "testbed".into(),
            jwt_secret: None,
            admin_token: None,
            upstream_timeout_ms: 1500,
            pending_timeout_secs: 30,
        }
    }

    fn service(&self, name: &str, database: &str, port: u16) -> ServiceConfig {
        ServiceConfig {
            host: self.host,
            port: Some(port),
            database_url: self.database_server.as_ref().map(|server| {
                format!(
                    "{}/{}{database}",
                    server.trim_end_matches('/'),
                    self.database_prefix
                )
            }),
            data_dir: self.data_dir.clone(),
            redis_url: self.redis_url.clone(),
            cache_prefix: Some(format!("{}:{name}", self.cache_prefix)),
            jwt_secret: self.jwt_secret.clone(),
            admin_token: self.admin_token.clone(),
            dev: true,
            ..ServiceConfig::default()
        }
    }
}

/// A running stack.
pub struct Stack {
    pub user_url: String,
    pub restaurant_url: String,
    pub order_url: String,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
}

impl Stack {
    /// Starts the three services and waits until each is ready.
    pub async fn start(config: &StackConfig) -> anyhow::Result<Self> {
        let shutdown = CancellationToken::new();
        let mut tasks = Vec::new();

        let user = user_service::build(user_service::UserConfig::new(config.service(
            "user",
            "users",
            config.user_port,
        )))
        .await?;
        let user_url = format!("http://{}", user.local_addr());
        tasks.push(tokio::spawn(user.run(shutdown.clone().cancelled_owned())));

        let restaurant = restaurant_service::build(restaurant_service::RestaurantConfig::new(
            config.service("restaurant", "restaurants", config.restaurant_port),
        ))
        .await?;
        let restaurant_url = format!("http://{}", restaurant.local_addr());
        tasks.push(tokio::spawn(
            restaurant.run(shutdown.clone().cancelled_owned()),
        ));

        let mut order_config = order_service::OrderConfig::new(
            config.service("order", "orders", config.order_port),
            user_url.clone(),
            restaurant_url.clone(),
        );
        order_config.upstream_timeout_ms = config.upstream_timeout_ms;
        order_config.pending_timeout_secs = config.pending_timeout_secs;
        let order = order_service::build(order_config).await?;
        let order_url = format!("http://{}", order.local_addr());
        tasks.push(tokio::spawn(order.run(shutdown.clone().cancelled_owned())));

        for url in [&user_url, &restaurant_url, &order_url] {
            testbed_common::server::wait_ready(url, Duration::from_secs(30)).await?;
        }
        Ok(Self {
            user_url,
            restaurant_url,
            order_url,
            shutdown,
            tasks,
        })
    }

    /// Stops accepting requests, drains in-flight ones, and waits for the services to stop.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        for task in self.tasks {
            task.await??;
        }
        Ok(())
    }
}
