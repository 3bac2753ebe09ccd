//! The all-in-one launcher: starts the User, Restaurant and Order services in one process,
//! each on its own port with its own database, talking to each other over real HTTP — the
//! same apps the per-service binaries run. Embedded storage (SQLite files, in-process cache)
//! by default; real PostgreSQL and Redis when their URLs are given. With `--processes`, each
//! service runs as its own child process under a [`supervisor`] with a [`control_api`].
//! With `--fault-proxy`, every link goes through a fault proxy ([`links`]). [`audit`] checks
//! the books of a running stack (`testbed audit`).

pub mod audit;
pub mod control_api;
pub mod links;
pub mod processes;
pub mod roles;
pub mod supervisor;

use std::net::{IpAddr, SocketAddr};
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
    /// Put a fault proxy on every link (loadgen → each service, Order → User and Restaurant,
    /// each service → PostgreSQL and Redis), driven by a Toxiproxy-compatible API. The
    /// public ports stay; the services move to internal ports behind the proxies.
    #[arg(long)]
    pub fault_proxy: bool,
    /// Port of the fault proxy API on 127.0.0.1 (with `--fault-proxy`; 0 picks a free port).
    #[arg(long, default_value_t = links::DEFAULT_API_PORT)]
    pub fault_proxy_port: u16,
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
            fault_proxy: false,
            fault_proxy_port: links::DEFAULT_API_PORT,
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
        self.order_config_on(self.order_port, user_url, restaurant_url)
    }

    /// The same on another port (an internal one, behind the fault proxy).
    fn order_config_on(
        &self,
        port: u16,
        user_url: &str,
        restaurant_url: &str,
    ) -> order_service::OrderConfig {
        let mut config = order_service::OrderConfig::new(
            self.service("order", "orders", port),
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
    /// Where users and loadgen reach each service (through `loadgen-><service>` with the
    /// fault proxy).
    pub user_url: String,
    pub restaurant_url: String,
    pub order_url: String,
    /// The Order → Restaurant link secret in use (generated when none was configured), so an
    /// operator or a test can mint a service token for direct stock calls.
    pub service_token_secret: String,
    links: Option<links::FaultLinks>,
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
            links: None,
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

    /// The links this stack has (empty without the fault proxy), in the order of
    /// [`links::link_names`].
    pub fn links(&self) -> Vec<String> {
        self.links
            .as_ref()
            .map(links::FaultLinks::names)
            .unwrap_or_default()
    }

    /// The fault proxy, when the stack runs with one.
    pub fn fault_links(&self) -> Option<&links::FaultLinks> {
        self.links.as_ref()
    }

    async fn start_services(&mut self, config: &StackConfig) -> anyhow::Result<()> {
        if config.fault_proxy {
            self.links = Some(links::FaultLinks::start(config).await?);
        }
        // Behind the fault proxy the services take any free port; the proxies take theirs.
        let port = |public: u16| if config.fault_proxy { 0 } else { public };
        let user = self
            .service_config(config, "user", "users", port(config.user_port))
            .await?;
        let user = user_service::build(user_service::UserConfig::new(user)).await?;
        let user_addr = user.local_addr();
        self.serve(user.run(self.shutdown.clone().cancelled_owned()));

        let restaurant = self
            .service_config(
                config,
                "restaurant",
                "restaurants",
                port(config.restaurant_port),
            )
            .await?;
        let restaurant =
            restaurant_service::build(restaurant_service::RestaurantConfig::new(restaurant))
                .await?;
        let restaurant_addr = restaurant.local_addr();
        self.serve(restaurant.run(self.shutdown.clone().cancelled_owned()));

        let (to_user, to_restaurant) = match &mut self.links {
            Some(links) => (
                links
                    .link(links::ORDER_USER, links::loopback(0), user_addr)
                    .await?,
                links
                    .link(links::ORDER_RESTAURANT, links::loopback(0), restaurant_addr)
                    .await?,
            ),
            None => (user_addr, restaurant_addr),
        };
        let mut order_config = config.order_config_on(
            port(config.order_port),
            &base_url(to_user),
            &base_url(to_restaurant),
        );
        self.behind_links("order", &mut order_config.common).await?;
        let order = order_service::build(order_config).await?;
        let order_addr = order.local_addr();
        self.serve(order.run(self.shutdown.clone().cancelled_owned()));

        for addr in [user_addr, restaurant_addr, order_addr] {
            let url = base_url(links::connectable(addr));
            testbed_common::server::wait_ready(&url, Duration::from_secs(30)).await?;
        }
        let [user, restaurant, order] = self
            .public_addrs(config, [user_addr, restaurant_addr, order_addr])
            .await?;
        (self.user_url, self.restaurant_url, self.order_url) =
            (base_url(user), base_url(restaurant), base_url(order));
        Ok(())
    }

    /// A service's configuration; behind the fault proxy on loopback (only the links reach
    /// it), its database and Redis routed through its links.
    async fn service_config(
        &mut self,
        config: &StackConfig,
        name: &str,
        database: &str,
        port: u16,
    ) -> anyhow::Result<ServiceConfig> {
        let mut common = config.service(name, database, port);
        self.behind_links(name, &mut common).await?;
        Ok(common)
    }

    async fn behind_links(&mut self, name: &str, common: &mut ServiceConfig) -> anyhow::Result<()> {
        if let Some(links) = &mut self.links {
            common.host = links::loopback(0).ip();
            links.route_dependencies(name, common).await?;
        }
        Ok(())
    }

    /// Where users reach the services: the `loadgen-><service>` links on the public ports,
    /// or the services themselves without the fault proxy.
    async fn public_addrs(
        &mut self,
        config: &StackConfig,
        services: [SocketAddr; 3],
    ) -> anyhow::Result<[SocketAddr; 3]> {
        let Some(links) = &mut self.links else {
            return Ok(services);
        };
        let public = [config.user_port, config.restaurant_port, config.order_port];
        let names = [
            links::LOADGEN_USER,
            links::LOADGEN_RESTAURANT,
            links::LOADGEN_ORDER,
        ];
        let mut addrs = services;
        for ((addr, name), port) in addrs.iter_mut().zip(names).zip(public) {
            let listen = SocketAddr::new(config.host, port);
            *addr = links::connectable(links.link(name, listen, *addr).await?);
        }
        Ok(addrs)
    }

    fn serve(&mut self, service: impl Future<Output = anyhow::Result<()>> + Send + 'static) {
        self.tasks.push(tokio::spawn(service));
    }

    /// Stops accepting requests, drains in-flight ones, waits for the services to stop,
    /// then closes the fault proxy.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        for task in self.tasks {
            task.await??;
        }
        if let Some(links) = self.links {
            links.shutdown().await;
        }
        Ok(())
    }
}

fn base_url(addr: SocketAddr) -> String {
    format!("http://{addr}")
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

/// An HTTP client for the operator commands (`audit`, `user-token`): a service that hangs
/// makes them fail after 10 s instead of holding a CI script.
pub fn operator_http() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
}

/// A user's bearer token: signs `username` up (a taken name is fine) and logs in, through
/// the contract's client (`testbed user-token`).
pub async fn user_token(user_url: &str, username: &str, password: &str) -> anyhow::Result<String> {
    let users = contract::UserClient::with_http(operator_http()?, user_url);
    Ok(users.signup_and_login(username, password).await?)
}
