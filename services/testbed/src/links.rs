//! The fault proxy on every link of the stack (`testbed up --fault-proxy`, issue 13).
//!
//! Owns the link names, which links a stack has, and how a stack is wired through
//! [`faultproxy`]: the services move to internal ports and the proxies take their places.
//! The public ports (8001–8003) stay where users and loadgen expect them, served by the
//! `loadgen-><service>` proxies; the Order Service calls the others through `order->user`
//! and `order->restaurant`; with real servers each service reaches PostgreSQL and Redis
//! through `<service>->postgres` and `<service>->redis` (the shared servers themselves are
//! never touched). The Toxiproxy-compatible API listens on loopback only and takes no token:
//! Toxiproxy clients cannot send one.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::Context;
use faultproxy::FaultProxy;
use testbed_common::config::ServiceConfig;

use crate::StackConfig;

pub const LOADGEN_USER: &str = "loadgen->user";
pub const LOADGEN_RESTAURANT: &str = "loadgen->restaurant";
pub const LOADGEN_ORDER: &str = "loadgen->order";
pub const ORDER_USER: &str = "order->user";
pub const ORDER_RESTAURANT: &str = "order->restaurant";

/// Toxiproxy's port, where the API listens unless told otherwise.
pub const DEFAULT_API_PORT: u16 = 8474;

/// The services, as they appear in link names.
const SERVICES: [&str; 3] = ["user", "restaurant", "order"];

/// The links a stack started with `config` has (with `--fault-proxy`): the five HTTP links
/// always, then `<service>->postgres` with a database server and `<service>->redis` with a
/// Redis URL. Without the fault proxy there are none. A scenario checks its links against
/// this before load starts.
pub fn link_names(config: &StackConfig) -> Vec<String> {
    if !config.fault_proxy {
        return Vec::new();
    }
    names_with(config.database_server.is_some(), config.redis_url.is_some())
}

fn names_with(postgres: bool, redis: bool) -> Vec<String> {
    let mut names: Vec<String> = [
        LOADGEN_USER,
        LOADGEN_RESTAURANT,
        LOADGEN_ORDER,
        ORDER_USER,
        ORDER_RESTAURANT,
    ]
    .map(String::from)
    .to_vec();
    for (dependency, present) in [("postgres", postgres), ("redis", redis)] {
        if present {
            names.extend(SERVICES.map(|service| format!("{service}->{dependency}")));
        }
    }
    names
}

/// The links of a running stack, asked from its fault proxy API (e.g.
/// `http://127.0.0.1:8474`): the names of `GET /proxies`, sorted. What a scenario runner in
/// another process uses to say "this link does not exist on this stack".
pub async fn running_links(api_url: &str) -> anyhow::Result<Vec<String>> {
    let url = format!("{}/proxies", api_url.trim_end_matches('/'));
    let proxies: serde_json::Map<String, serde_json::Value> = reqwest::get(&url)
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("fault proxy API at {url}"))?
        .json()
        .await
        .with_context(|| format!("fault proxy API at {url}: not a proxy list"))?;
    Ok(proxies.keys().cloned().collect())
}

/// The stack's fault proxy: its API and the links created so far.
pub struct FaultLinks {
    proxy: FaultProxy,
    names: Vec<String>,
}

impl FaultLinks {
    /// Starts the API on `127.0.0.1:<fault_proxy_port>` (0: any free port), no links yet.
    pub async fn start(config: &StackConfig) -> anyhow::Result<Self> {
        let api = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), config.fault_proxy_port);
        let proxy = FaultProxy::start(api)
            .await
            .with_context(|| format!("fault proxy API: cannot listen on {api}"))?;
        Ok(Self {
            proxy,
            names: Vec::new(),
        })
    }

    /// Base URL of the Toxiproxy-compatible API.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.proxy.api_addr())
    }

    /// The in-process handle, for toxics without HTTP.
    pub fn proxy(&self) -> &FaultProxy {
        &self.proxy
    }

    /// The links created, in the order of [`link_names`] (not the order they were made).
    pub fn names(&self) -> Vec<String> {
        let order = names_with(true, true);
        let rank = |name: &String| order.iter().position(|known| known == name);
        let mut names = self.names.clone();
        names.sort_by_key(rank);
        names
    }

    /// Creates the link `name` listening at `listen` (port 0: any) and relaying to
    /// `upstream`; answers where it listens.
    pub async fn link(
        &mut self,
        name: &str,
        listen: SocketAddr,
        upstream: SocketAddr,
    ) -> anyhow::Result<SocketAddr> {
        let upstream = connectable(upstream).to_string();
        self.link_to(name, listen, &upstream).await
    }

    async fn link_to(
        &mut self,
        name: &str,
        listen: SocketAddr,
        upstream: &str,
    ) -> anyhow::Result<SocketAddr> {
        let info = self
            .proxy
            .add_proxy(name, &listen.to_string(), upstream)
            .await
            .map_err(|e| anyhow::anyhow!("link {name}: cannot listen on {listen}: {e:?}"))?;
        self.names.push(name.to_string());
        info.listen_addr()
            .with_context(|| format!("link {name}: listens on {}", info.listen))
    }

    /// Sends `service`'s PostgreSQL and Redis connections through the links
    /// `<service>->postgres` and `<service>->redis` (when it uses them), rewriting its URLs.
    pub async fn route_dependencies(
        &mut self,
        service: &str,
        common: &mut ServiceConfig,
    ) -> anyhow::Result<()> {
        for (dependency, url, default_port) in [
            ("postgres", &mut common.database_url, 5432),
            ("redis", &mut common.redis_url, 6379),
        ] {
            let Some(url) = url.as_mut() else { continue };
            let mut parsed = url::Url::parse(url)
                .with_context(|| format!("{service}: {dependency} URL does not parse"))?;
            let host = parsed
                .host_str()
                .filter(|host| !host.is_empty())
                .with_context(|| {
                    format!(
                        "{service}: {dependency} URL has no host (a Unix socket cannot be proxied)"
                    )
                })?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let upstream = format!(
                "{}:{}",
                bracketed(host),
                parsed.port().unwrap_or(default_port)
            );
            let name = format!("{service}->{dependency}");
            let listen = self.link_to(&name, loopback(0), &upstream).await?;
            parsed
                .set_ip_host(listen.ip())
                .map_err(|()| anyhow::anyhow!("{name}: URL cannot take a host"))?;
            parsed
                .set_port(Some(listen.port()))
                .map_err(|()| anyhow::anyhow!("{name}: URL cannot take a port"))?;
            *url = parsed.to_string();
        }
        Ok(())
    }

    /// Stops the API and every link.
    pub async fn shutdown(self) {
        self.proxy.shutdown().await;
    }
}

/// `127.0.0.1:port`: where the internal links listen (the Order Service and the services'
/// database clients run on this machine; nothing else needs them).
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)
}

/// A listening address one can connect to: `0.0.0.0`/`::` become loopback.
pub fn connectable(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::new(IpAddr::from(Ipv4Addr::LOCALHOST), addr.port())
    } else {
        addr
    }
}

fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn config(fault_proxy: bool, postgres: bool, redis: bool) -> StackConfig {
        let mut config = StackConfig::embedded(PathBuf::from("/tmp/links"));
        config.fault_proxy = fault_proxy;
        config.fault_proxy_port = 0;
        if postgres {
            config.database_server = Some("postgres://postgres@127.0.0.1:5432".into());
        }
        if redis {
            config.redis_url = Some("redis://127.0.0.1:6379/0".into());
        }
        config
    }

    #[test]
    fn links_follow_the_storage() {
        assert!(link_names(&config(false, true, true)).is_empty());
        let embedded = link_names(&config(true, false, false));
        assert_eq!(
            embedded,
            [
                "loadgen->user",
                "loadgen->restaurant",
                "loadgen->order",
                "order->user",
                "order->restaurant"
            ]
        );
        let real = link_names(&config(true, true, true));
        assert_eq!(real.len(), 11);
        for name in ["restaurant->postgres", "order->redis", "user->postgres"] {
            assert!(real.iter().any(|link| link == name), "{name} in {real:?}");
        }
        let postgres_only = link_names(&config(true, true, false));
        assert!(!postgres_only.iter().any(|link| link.ends_with("->redis")));
    }

    /// The URLs keep user, database and options; only host and port move to the link.
    #[tokio::test]
    async fn dependency_urls_go_through_their_links() {
        let config = config(true, true, true);
        let mut links = FaultLinks::start(&config).await.expect("fault proxy");
        let mut common = config.service("restaurant", "restaurants", 0);
        common.database_url =
            Some("postgres://postgres:pw@127.0.0.1:5432/t_rest?sslmode=disable".into());
        links
            .route_dependencies("restaurant", &mut common)
            .await
            .expect("routed");
        let registry = links.proxy().registry().clone();
        let db = registry.get("restaurant->postgres").await.expect("db link");
        let redis = registry.get("restaurant->redis").await.expect("redis link");
        assert_eq!(db.upstream, "127.0.0.1:5432");
        assert_eq!(redis.upstream, "127.0.0.1:6379");
        assert_eq!(
            common.database_url.as_deref(),
            Some(
                format!(
                    "postgres://postgres:pw@{}/t_rest?sslmode=disable",
                    db.listen
                )
                .as_str()
            )
        );
        assert_eq!(
            common.redis_url.as_deref(),
            Some(format!("redis://{}/0", redis.listen).as_str())
        );
        assert_eq!(links.names(), ["restaurant->postgres", "restaurant->redis"]);
        links
            .link(ORDER_USER, loopback(0), loopback(1))
            .await
            .expect("order->user");
        assert_eq!(
            links.names(),
            ["order->user", "restaurant->postgres", "restaurant->redis"],
            "in the order of link_names"
        );
        links.shutdown().await;
    }

    #[tokio::test]
    async fn a_socket_url_is_refused_with_a_reason() {
        let config = config(true, false, false);
        let mut links = FaultLinks::start(&config).await.expect("fault proxy");
        let mut common = config.service("user", "users", 0);
        common.database_url = Some("postgres:///users?host=/var/run/postgresql".into());
        let error = links
            .route_dependencies("user", &mut common)
            .await
            .expect_err("no host");
        assert!(error.to_string().contains("no host"), "{error}");
        links.shutdown().await;
    }
}
