//! `testbed up --processes`: the three services as supervised child processes (`testbed
//! serve <role>`), started in order, each ready before the next; the control API on its own
//! port; on SIGTERM/SIGINT the children are stopped (SIGTERM, last started first) and the
//! control API closes. With `--fault-proxy` the launcher also runs the fault proxy, in this
//! process, so links outlive a killed service: the children take internal ports and the
//! links take the public ones ([`wire_through`]).

use std::net::SocketAddr;

use tokio_util::sync::CancellationToken;

use crate::StackConfig;
use crate::links::{self, FaultLinks};
use crate::roles::Wiring;
use crate::supervisor::{ControlError, Supervisor};

/// The running supervised stack.
pub struct Processes {
    pub supervisor: Supervisor,
    pub control_url: String,
    /// Where users and loadgen reach each service (the public ports).
    pub user_url: String,
    pub restaurant_url: String,
    pub order_url: String,
    links: Option<FaultLinks>,
    api: tokio::task::JoinHandle<std::io::Result<()>>,
    api_stop: CancellationToken,
}

impl Processes {
    /// Starts the children and the control API on `control_port`, unless `cancel` fires
    /// first (then whatever started is stopped and the answer is `Ok(None)`).
    pub async fn start_unless(
        config: &StackConfig,
        control_port: u16,
        cancel: &CancellationToken,
    ) -> anyhow::Result<Option<Self>> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(config.host, control_port))
            .await
            .map_err(|e| {
                anyhow::anyhow!("control API: cannot listen on port {control_port}: {e}")
            })?;
        let control_url = format!("http://{}", listener.local_addr()?);
        // One fresh link secret for the Order and Restaurant children, unless one was given.
        let mut config = config.clone();
        config
            .service_token_secret
            .get_or_insert_with(crate::random_secret);
        let config = &config;
        let (wiring, links) = if config.fault_proxy {
            let mut links = FaultLinks::start(config).await?;
            (wire_through(config, &mut links).await?, Some(links))
        } else {
            (Wiring::direct(config), None)
        };
        let supervisor =
            Supervisor::new(std::env::current_exe()?, crate::roles::specs_for(&wiring));
        let started = cancel.run_until_cancelled(supervisor.start_all()).await;
        if !matches!(started, Some(Ok(()))) {
            supervisor.stop_all().await;
            if let Some(links) = links {
                links.shutdown().await;
            }
            return match started {
                Some(Err(error)) => Err(anyhow::anyhow!("start-up failed: {}", describe(error))),
                _ => Ok(None),
            };
        }
        let api_stop = CancellationToken::new();
        let app = crate::control_api::router(supervisor.clone(), config.admin_token.clone());
        let api = tokio::spawn(
            axum::serve(listener, app)
                .with_graceful_shutdown(api_stop.clone().cancelled_owned())
                .into_future(),
        );
        let public = |port: u16| format!("http://{}", SocketAddr::new(config.host, port));
        Ok(Some(Self {
            supervisor,
            control_url,
            user_url: public(config.user_port),
            restaurant_url: public(config.restaurant_port),
            order_url: public(config.order_port),
            links,
            api,
            api_stop,
        }))
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
    pub fn fault_links(&self) -> Option<&FaultLinks> {
        self.links.as_ref()
    }

    /// Stops every child (SIGTERM, waiting for each) and the control API.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.supervisor.stop_all().await;
        self.api_stop.cancel();
        self.api.await??;
        if let Some(links) = self.links {
            links.shutdown().await;
        }
        Ok(())
    }
}

/// The children on internal ports (free now, fixed for restarts) and every link created up
/// front: the proxies connect to their upstream per connection, so a child that is not up
/// yet (or killed) is a refused connection, as it would be without the proxy. The public
/// ports (already resolved, never 0) are the `loadgen-><service>` links'.
pub async fn wire_through(config: &StackConfig, links: &mut FaultLinks) -> anyhow::Result<Wiring> {
    let internal = |_| links::loopback(testbed_common::net::free_port());
    let [user, restaurant, order] = [(); 3].map(internal);
    let mut wiring = Wiring::direct(config);
    for (name, internal_addr, public_port) in [
        (links::LOADGEN_USER, user, config.user_port),
        (
            links::LOADGEN_RESTAURANT,
            restaurant,
            config.restaurant_port,
        ),
        (links::LOADGEN_ORDER, order, config.order_port),
    ] {
        let listen = SocketAddr::new(config.host, public_port);
        links.link(name, listen, internal_addr).await?;
    }
    let to_user = links
        .link(links::ORDER_USER, links::loopback(0), user)
        .await?;
    let to_restaurant = links
        .link(links::ORDER_RESTAURANT, links::loopback(0), restaurant)
        .await?;
    wiring.order.user_service_url = format!("http://{to_user}");
    wiring.order.restaurant_service_url = format!("http://{to_restaurant}");
    for (name, common, addr) in [
        ("user", &mut wiring.user, user),
        ("restaurant", &mut wiring.restaurant, restaurant),
        ("order", &mut wiring.order.common, order),
    ] {
        // Internal ports are on loopback: only the links reach the services.
        common.host = addr.ip();
        common.port = Some(addr.port());
        links.route_dependencies(name, common).await?;
    }
    Ok(wiring)
}

fn describe(error: ControlError) -> String {
    match error {
        ControlError::Failed(message) => message,
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The children get internal loopback ports, the Order Service calls the others through
    /// its links, every database/Redis URL goes through its service's link, and the public
    /// ports are the `loadgen->…` links'.
    #[tokio::test]
    async fn children_are_wired_through_the_links() {
        let mut config = StackConfig::embedded(std::path::PathBuf::from("/tmp/wired"));
        config.fault_proxy = true;
        config.fault_proxy_port = 0;
        let free = testbed_common::net::free_port;
        (config.user_port, config.restaurant_port, config.order_port) = (free(), free(), free());
        config.database_server = Some("postgres://postgres@127.0.0.1:5432".into());
        config.redis_url = Some("redis://127.0.0.1:6379".into());
        let mut links = FaultLinks::start(&config).await.expect("fault proxy");
        let wiring = wire_through(&config, &mut links).await.expect("wired");
        assert_eq!(links.names(), links::link_names(&config));
        let registry = links.proxy().registry().clone();
        let listen = async |name: &str| registry.get(name).await.expect(name).listen;
        let upstream = async |name: &str| registry.get(name).await.expect(name).upstream;
        assert_eq!(
            wiring.order.user_service_url,
            format!("http://{}", listen(links::ORDER_USER).await)
        );
        assert_eq!(
            wiring.order.restaurant_service_url,
            format!("http://{}", listen(links::ORDER_RESTAURANT).await)
        );
        for (service, common, public) in [
            ("user", &wiring.user, config.user_port),
            ("restaurant", &wiring.restaurant, config.restaurant_port),
            ("order", &wiring.order.common, config.order_port),
        ] {
            let internal = format!("127.0.0.1:{}", common.port.expect("port"));
            assert_eq!(common.host, links::loopback(0).ip());
            assert_ne!(common.port, Some(public));
            let front = format!("loadgen->{service}");
            assert_eq!(listen(&front).await, format!("127.0.0.1:{public}"));
            assert_eq!(upstream(&front).await, internal);
            let db = listen(&format!("{service}->postgres")).await;
            let redis = listen(&format!("{service}->redis")).await;
            let database_url = common.database_url.as_deref().expect("database URL");
            assert!(database_url.starts_with(&format!("postgres://postgres@{db}/testbed_")));
            assert_eq!(
                common.redis_url.as_deref(),
                Some(format!("redis://{redis}").as_str())
            );
        }
        assert_eq!(
            upstream("order->user").await,
            upstream("loadgen->user").await
        );
        links.shutdown().await;
    }
}
