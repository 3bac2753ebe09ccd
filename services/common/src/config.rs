//! Configuration shared by every service: where to listen, which database and cache to use,
//! secrets, and limits. Read from CLI flags or environment variables (clap), or built in
//! code by tests and the all-in-one launcher.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use clap::Args;

/// The settings every service shares. Service crates flatten this into their own config.
#[derive(Args, Clone, Debug)]
pub struct ServiceConfig {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (each service has its own default; 0 picks a free port).
    #[arg(long, env = "PORT")]
    pub port: Option<u16>,
    /// PostgreSQL (`postgres://…`) or SQLite (`sqlite://…`) URL. Absent: a SQLite file in
    /// `--data-dir`.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Directory for the embedded SQLite databases.
    #[arg(long, env = "DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Create the service's database when it does not exist yet.
    #[arg(long, env = "CREATE_DATABASE", default_value_t = true, action = clap::ArgAction::Set)]
    pub create_database: bool,
    /// Database connection pool size.
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 10)]
    pub db_pool_size: u32,
    /// Redis URL. Absent: an in-process cache.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// Prefix for cache keys (defaults to the service name), so several stacks can share
    /// one Redis.
    #[arg(long, env = "CACHE_PREFIX")]
    pub cache_prefix: Option<String>,
    /// HS256 secret for JWTs. Required unless `--dev` is given.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Lifetime of issued tokens, in seconds.
    #[arg(long, env = "JWT_TTL_SECS", default_value_t = 3600)]
    pub jwt_ttl_secs: u64,
    /// When set, fault switches and admin calls require `X-Admin-Token: <token>`.
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Explicit development mode: allows the built-in development JWT secret.
    #[arg(long, env = "TESTBED_DEV", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub dev: bool,
    /// Largest accepted request body, in bytes (larger bodies get 413).
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,
    /// HS256 secret of the Order → Restaurant link: the Order Service signs its stock calls
    /// with it, the Restaurant Service checks them. Must differ from `JWT_SECRET`. Required by
    /// those two services unless `--dev` is given.
    #[arg(long, env = "SERVICE_TOKEN_SECRET", hide_env_values = true)]
    pub service_token_secret: Option<String>,
    /// Seconds a connection may take to send a request's headers, and may sit idle between
    /// requests, before it is closed.
    #[arg(long, env = "HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    pub header_read_timeout_secs: u64,
    /// Most connections served at once; beyond it a connection gets 503 and is closed.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
}

/// The JWT secret used only in explicit development mode, so newcomers need no setup.
pub const DEV_JWT_SECRET: &str = "testbed-development-secret-not-for-production";

/// The Order → Restaurant link secret of explicit development mode (separate binaries with
/// `--dev`). The launcher does not use it: it generates a fresh link secret on every start.
pub const DEV_SERVICE_TOKEN_SECRET: &str = "testbed-development-service-secret-not-for-production";

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: None,
            database_url: None,
            data_dir: PathBuf::from("data"),
            create_database: true,
            db_pool_size: 10,
            redis_url: None,
            cache_prefix: None,
            jwt_secret: None,
            jwt_ttl_secs: 3600,
            admin_token: None,
            dev: false,
            max_body_bytes: 64 * 1024,
            service_token_secret: None,
            header_read_timeout_secs: 10,
            max_connections: 4096,
        }
    }
}

impl ServiceConfig {
    /// The database URL to use: the configured one, or a SQLite file named after the
    /// service in the data directory.
    pub fn database_url_for(&self, service: &str) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join(format!("{service}.db")).display()
            ),
        }
    }

    /// The JWT secret, refusing to fall back to the development secret outside dev mode.
    pub fn jwt_secret(&self) -> anyhow::Result<String> {
        match (&self.jwt_secret, self.dev) {
            (Some(secret), _) if secret.len() >= 16 => Ok(secret.clone()),
            (Some(_), _) => anyhow::bail!("JWT_SECRET must be at least 16 characters long"),
            (None, true) => Ok(DEV_JWT_SECRET.to_string()),
            (None, false) => anyhow::bail!(
                "no JWT secret configured: set JWT_SECRET (or --jwt-secret), or start in \
                 explicit development mode with TESTBED_DEV=1 (or --dev)"
            ),
        }
    }

    /// The Order → Restaurant link secret: at least 16 characters, never the user-token
    /// secret (a user's token must never pass as a service's), the development one only in
    /// development mode.
    pub fn service_token_secret(&self) -> anyhow::Result<String> {
        let secret = match (&self.service_token_secret, self.dev) {
            (Some(secret), _) if secret.len() >= 16 => secret.clone(),
            (Some(_), _) => {
                anyhow::bail!("SERVICE_TOKEN_SECRET must be at least 16 characters long")
            }
            (None, true) => DEV_SERVICE_TOKEN_SECRET.to_string(),
            (None, false) => anyhow::bail!(
                "no service token secret configured: set SERVICE_TOKEN_SECRET (the same value \
                 for the Order and Restaurant services), or start in explicit development mode \
                 with TESTBED_DEV=1 (or --dev)"
            ),
        };
        if secret == self.jwt_secret()? {
            anyhow::bail!("SERVICE_TOKEN_SECRET must differ from JWT_SECRET");
        }
        Ok(secret)
    }
}
