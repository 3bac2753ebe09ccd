//! faultproxy: a TCP fault proxy for the testbed's links, driven like Toxiproxy 2.x.
//!
//! Each named proxy listens on an address and relays every connection to its upstream;
//! toxics (latency, bandwidth, timeout, reset_peer, slow_close, limit_data) act on one stream
//! of it, on a share of the connections (toxicity), also on connections already open, and a
//! disabled proxy refuses connections. It is driven three ways: the Toxiproxy-compatible REST
//! API ([`api`]), the in-process [`FaultProxy`] handle (what the launcher embeds), or the
//! [`Registry`] alone, without HTTP.

pub mod api;
pub mod error;
mod link;
pub mod registry;
pub mod toxic;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use error::ApiError;
pub use registry::{ProxyChange, ProxyInfo, ProxySpec, Registry};
pub use toxic::{Stream, Toxic, ToxicKind};

/// Toxiproxy's API port, the default for the binary.
pub const DEFAULT_API_ADDR: &str = "127.0.0.1:8474";

/// A running fault proxy: its API server and its proxies. Dropping it stops both.
pub struct FaultProxy {
    registry: Arc<Registry>,
    api_addr: SocketAddr,
    shutdown: CancellationToken,
    server: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Binds the API at `api_addr` (port 0 picks a free one) and serves it in the background.
    pub async fn start(api_addr: impl ToSocketAddrs) -> std::io::Result<Self> {
        let listener = TcpListener::bind(api_addr).await?;
        let api_addr = listener.local_addr()?;
        let registry = Arc::new(Registry::new());
        let shutdown = CancellationToken::new();
        let app = api::router(registry.clone());
        let (stop, stop_registry) = (shutdown.clone(), registry.clone());
        let server = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "fault proxy API stopped");
            }
            stop_registry.stop_all().await;
        });
        tracing::info!(%api_addr, "fault proxy API listening");
        Ok(Self {
            registry,
            api_addr,
            shutdown,
            server: Some(server),
        })
    }

    /// Where the REST API listens.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The proxies, for everything beyond the shortcuts below.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Creates an enabled proxy from `listen` (port 0: any free port) to `upstream`.
    pub async fn add_proxy(
        &self,
        name: &str,
        listen: &str,
        upstream: &str,
    ) -> Result<ProxyInfo, ApiError> {
        let spec = ProxySpec {
            name: name.to_string(),
            listen: listen.to_string(),
            upstream: upstream.to_string(),
            enabled: true,
        };
        self.registry.create(spec).await
    }

    /// Enables (listening) or disables (connection refused, open connections closed) a proxy.
    pub async fn set_enabled(&self, proxy: &str, enabled: bool) -> Result<ProxyInfo, ApiError> {
        let change = ProxyChange {
            enabled: Some(enabled),
            ..ProxyChange::default()
        };
        self.registry.update(proxy, change).await
    }

    pub async fn add_toxic(&self, proxy: &str, toxic: Toxic) -> Result<Toxic, ApiError> {
        self.registry.add_toxic(proxy, toxic).await
    }

    pub async fn remove_toxic(&self, proxy: &str, toxic: &str) -> Result<(), ApiError> {
        self.registry.remove_toxic(proxy, toxic).await
    }

    /// Enables every proxy and removes every toxic, as `POST /reset`.
    pub async fn reset(&self) -> Result<(), ApiError> {
        self.registry.reset().await
    }

    /// Stops the API and every proxy, and waits until they are closed.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
