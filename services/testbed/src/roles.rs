//! `testbed serve <role>`: one service per process, as `testbed up --processes` runs them.
//! [`Role`] is the command line a child parses; [`specs`] writes it from the launcher's
//! configuration, so a child gets exactly what the in-process launcher gives that service
//! (ports, database URLs, cache prefix, development mode; the JWT secret and admin token by
//! environment, not on the command line), and inherits the rest of the parent's
//! environment (e.g. secrets the services read from it).

use clap::Subcommand;
use testbed_common::config::ServiceConfig;
use tokio_util::sync::CancellationToken;

use crate::StackConfig;
use crate::supervisor::ServiceSpec;

/// The service a `testbed serve` process runs.
#[derive(Subcommand, Clone, Debug)]
pub enum Role {
    /// The User Service.
    User(user_service::UserConfig),
    /// The Restaurant Service.
    Restaurant(restaurant_service::RestaurantConfig),
    /// The Order Service.
    Order(order_service::OrderConfig),
}

/// Builds the role's service (unless signalled first) and serves until `shutdown`.
pub async fn serve(role: Role, shutdown: CancellationToken) -> anyhow::Result<()> {
    use testbed_common::signals::build_and_serve;
    match role {
        Role::User(config) => build_and_serve(&shutdown, user_service::build(config)).await,
        Role::Restaurant(config) => {
            build_and_serve(&shutdown, restaurant_service::build(config)).await
        }
        Role::Order(config) => build_and_serve(&shutdown, order_service::build(config)).await,
    }
}

/// What each child runs with: the services' configurations, the Order Service's upstream
/// URLs included. [`Wiring::direct`] is the plain stack; the fault proxy rewires it.
#[derive(Clone, Debug)]
pub struct Wiring {
    pub user: ServiceConfig,
    pub restaurant: ServiceConfig,
    pub order: order_service::OrderConfig,
}

impl Wiring {
    /// Each service on its configured port, the Order Service calling the others directly.
    pub fn direct(config: &StackConfig) -> Self {
        let url = |port: u16| format!("http://{}:{port}", config.host);
        Self {
            user: config.service("user", "users", config.user_port),
            restaurant: config.service("restaurant", "restaurants", config.restaurant_port),
            order: config.order_config(&url(config.user_port), &url(config.restaurant_port)),
        }
    }
}

/// The three services as child processes of `program` (this binary), in start order.
pub fn specs(config: &StackConfig) -> Vec<ServiceSpec> {
    specs_for(&Wiring::direct(config))
}

/// The same for any wiring.
pub fn specs_for(wiring: &Wiring) -> Vec<ServiceSpec> {
    let order = &wiring.order;
    let mut order_args = vec![
        format!("--user-service-url={}", order.user_service_url),
        format!("--restaurant-service-url={}", order.restaurant_service_url),
        format!("--upstream-timeout-ms={}", order.upstream_timeout_ms),
        format!("--pending-timeout-secs={}", order.pending_timeout_secs),
    ];
    order_args.extend(common_args(&order.common));
    let (user, restaurant) = (&wiring.user, &wiring.restaurant);
    vec![
        spec("user", user, common_args(user)),
        spec("restaurant", restaurant, common_args(restaurant)),
        spec("order", &order.common, order_args),
    ]
}

fn spec(name: &'static str, common: &ServiceConfig, flags: Vec<String>) -> ServiceSpec {
    let addr = std::net::SocketAddr::new(common.host, common.port.unwrap_or_default());
    let url = format!("http://{}", crate::links::connectable(addr));
    let mut args = vec!["serve".to_string(), name.to_string()];
    args.extend(flags);
    ServiceSpec {
        name,
        url,
        args,
        env: secret_env(common),
    }
}

/// The shared settings as command-line flags (secrets excepted: see [`secret_env`]).
fn common_args(common: &ServiceConfig) -> Vec<String> {
    let mut args = vec![
        format!("--host={}", common.host),
        format!("--data-dir={}", common.data_dir.display()),
        format!("--create-database={}", common.create_database),
        format!("--db-pool-size={}", common.db_pool_size),
        format!("--jwt-ttl-secs={}", common.jwt_ttl_secs),
        format!("--max-body-bytes={}", common.max_body_bytes),
    ];
    if let Some(port) = common.port {
        args.push(format!("--port={port}"));
    }
    for (flag, value) in [
        ("database-url", &common.database_url),
        ("redis-url", &common.redis_url),
        ("cache-prefix", &common.cache_prefix),
    ] {
        if let Some(value) = value {
            args.push(format!("--{flag}={value}"));
        }
    }
    if common.dev {
        args.push("--dev".to_string());
    }
    args
}

/// Secrets go by environment (not visible in `ps`); settings the launcher leaves unset are
/// removed, so a stray variable in the parent's environment cannot change a child.
fn secret_env(common: &ServiceConfig) -> Vec<(String, Option<String>)> {
    vec![
        ("JWT_SECRET".to_string(), common.jwt_secret.clone()),
        ("ADMIN_TOKEN".to_string(), common.admin_token.clone()),
        (
            "SERVICE_TOKEN_SECRET".to_string(),
            common.service_token_secret.clone(),
        ),
        ("DATABASE_URL".to_string(), None),
        ("REDIS_URL".to_string(), None),
        ("CACHE_PREFIX".to_string(), None),
        ("PORT".to_string(), None),
    ]
}

/// The program children run: this executable.
pub fn program() -> anyhow::Result<std::path::PathBuf> {
    Ok(std::env::current_exe()?)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Serve {
        #[command(subcommand)]
        role: Role,
    }

    /// What a child parses is what the in-process launcher builds.
    #[test]
    fn children_get_the_in_process_configuration() {
        let mut config = StackConfig::embedded(Path::new("/tmp/stack-data").to_path_buf());
        config.database_server = Some("postgres://postgres@127.0.0.1:5432".into());
        config.redis_url = Some("redis://127.0.0.1:6379".into());
        config.upstream_timeout_ms = 900;
        let specs = specs(&config);
        let parse = |spec: &ServiceSpec| {
            assert_eq!(spec.args[0], "serve");
            // `testbed serve <role> …` as the binary's `serve` subcommand sees it.
            Serve::try_parse_from(spec.args.clone())
                .expect("child command line parses")
                .role
        };
        let Role::User(user) = parse(&specs[0]) else {
            panic!("user role")
        };
        assert_eq!(
            format!("{:?}", user.common),
            format!("{:?}", config.service("user", "users", 8001))
        );
        let Role::Restaurant(restaurant) = parse(&specs[1]) else {
            panic!("restaurant role")
        };
        assert_eq!(
            format!("{:?}", restaurant.common),
            format!("{:?}", config.service("restaurant", "restaurants", 8002))
        );
        let Role::Order(order) = parse(&specs[2]) else {
            panic!("order role")
        };
        let expected = config.order_config("http://127.0.0.1:8001", "http://127.0.0.1:8002");
        assert_eq!(format!("{order:?}"), format!("{expected:?}"));
    }
}
