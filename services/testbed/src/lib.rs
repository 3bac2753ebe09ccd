//! The all-in-one launcher: starts the User, Restaurant and Order services in one process,
//! each on its own port with its own database, talking to each other over real HTTP — the
//! same apps the per-service binaries run. Embedded storage (SQLite files, in-process cache)
//! by default; real PostgreSQL and Redis when their URLs are given. With `--processes`, each
//! service runs as its own child process under a [`supervisor`] with a [`control_api`].

pub mod control_api;
pub mod processes;
pub mod roles;
pub mod supervisor;

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
    /// Secret of the Order → Restaurant service tokens; absent → a fresh random one on every
    /// start (nobody outside the launcher can mint a stock-moving token then).
    #[arg(long, env = "SERVICE_TOKEN_SECRET", hide_env_values = true)]
    pub service_token_secret: Option<String>,
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
            service_token_secret: None,
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
            service_token_secret: self.service_token_secret.clone(),
            admin_token: self.admin_token.clone(),
            dev: true,
            ..ServiceConfig::default()
        }
    }

    /// The Order Service's configuration, calling the other two at these URLs.
    pub fn order_config(&self, user_url: &str, restaurant_url: &str) -> order_service::OrderConfig {
        let mut config = order_service::OrderConfig::new(
            self.service("order", "orders", self.order_port),
            user_url.to_string(),
            restaurant_url.to_string(),
        );
        config.upstream_timeout_ms = self.upstream_timeout_ms;
        config.pending_timeout_secs = self.pending_timeout_secs;
        config
    }
}

/// A running stack.
pub struct Stack {
    pub user_url: String,
    pub restaurant_url: String,
    pub order_url: String,
    /// The Order → Restaurant link secret in use (generated when none was configured), so an
    /// operator or a test can mint a service token for direct stock calls.
    pub service_token_secret: String,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
}

impl Stack {
    /// Starts the three services and waits until each is ready.
    pub async fn start(config: &StackConfig) -> anyhow::Result<Self> {
        Self::start_unless(config, &CancellationToken::new())
            .await?
            .ok_or_else(|| anyhow::anyhow!("start-up cancelled"))
    }

    /// Starts the three services unless `cancel` fires first: then the services already
    /// started are stopped gracefully and the answer is `Ok(None)`. A failed start-up also
    /// stops what it had started.
    pub async fn start_unless(
        config: &StackConfig,
        cancel: &CancellationToken,
    ) -> anyhow::Result<Option<Self>> {
        let mut config = config.clone();
        let service_token_secret = config
            .service_token_secret
            .get_or_insert_with(random_secret)
            .clone();
        let config = &config;
        let mut stack = Self {
            user_url: String::new(),
            restaurant_url: String::new(),
            order_url: String::new(),
            service_token_secret,
            shutdown: CancellationToken::new(),
            tasks: Vec::new(),
        };
        match cancel
            .run_until_cancelled(stack.start_services(config))
            .await
        {
            Some(Ok(())) => Ok(Some(stack)),
            Some(Err(error)) => {
                if let Err(stop_error) = stack.stop().await {
                    tracing::warn!(error = %stop_error, "stopping after a failed start-up");
                }
                Err(error)
            }
            None => {
                tracing::info!("shutdown signal during start-up: stopping what was started");
                stack.stop().await?;
                Ok(None)
            }
        }
    }

    async fn start_services(&mut self, config: &StackConfig) -> anyhow::Result<()> {
        let user = user_service::build(user_service::UserConfig::new(config.service(
            "user",
            "users",
            config.user_port,
        )))
        .await?;
        self.user_url = format!("http://{}", user.local_addr());
        self.tasks.push(tokio::spawn(
            user.run(self.shutdown.clone().cancelled_owned()),
        ));

        let restaurant = restaurant_service::build(restaurant_service::RestaurantConfig::new(
            config.service("restaurant", "restaurants", config.restaurant_port),
        ))
        .await?;
        self.restaurant_url = format!("http://{}", restaurant.local_addr());
        self.tasks.push(tokio::spawn(
            restaurant.run(self.shutdown.clone().cancelled_owned()),
        ));

        let order =
            order_service::build(config.order_config(&self.user_url, &self.restaurant_url)).await?;
        self.order_url = format!("http://{}", order.local_addr());
        self.tasks.push(tokio::spawn(
            order.run(self.shutdown.clone().cancelled_owned()),
        ));

        for url in [&self.user_url, &self.restaurant_url, &self.order_url] {
            testbed_common::server::wait_ready(url, Duration::from_secs(30)).await?;
        }
        Ok(())
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

/// 256 random bits as hex, from the operating system's generator (via UUID v4).
pub fn random_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// A service token for direct stock calls (reserve, restore), minted from the link secret
/// the way an operator would: whoever holds `SERVICE_TOKEN_SECRET`.
pub fn mint_service_token(secret: &str, ttl_secs: i64) -> anyhow::Result<String> {
    use testbed_common::service_auth::{ORDER_SERVICE, RESTAURANT_STOCK, ServiceKeys};
    ServiceKeys::new(secret)
        .mint(ORDER_SERVICE, RESTAURANT_STOCK, ttl_secs)
        .map_err(|e| anyhow::anyhow!("{}", e.message))
}
