//! Assembling and running a service: its own routes plus the operational routes and docs,
//! wrapped in the shared layers (request id, tracing, metrics, body limit, admin guard,
//! fault injection, panic to JSON 500), served with connection limits and graceful
//! shutdown (the accept loop itself lives in `connections`).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::CorsLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::kit::Kit;
use crate::telemetry::REQUEST_ID;

/// Binds a service's listener at its configured host and port (`default_port` when none is
/// configured), serving [`build_app`] with its connection limits.
pub async fn bind_service<S>(
    kit: &Kit,
    default_port: u16,
    api: OpenApiRouter<S>,
    state: S,
) -> anyhow::Result<Server>
where
    S: Clone + Send + Sync + 'static,
{
    let config = &kit.config;
    let addr = SocketAddr::new(config.host, config.port.unwrap_or(default_port));
    let app = build_app(kit, api, state);
    Ok(Server::bind(format!("{}-service", kit.service), addr, app)
        .await?
        .with_limits(ConnectionLimits::from_config(config)))
}

/// Builds the complete HTTP app of a service.
///
/// `api` is the service's routes on state `S`, its OpenAPI document carrying the service's
/// title, description and tags (see [`crate::docs::ServiceDoc::router`]).
pub fn build_app<S>(kit: &Kit, api: OpenApiRouter<S>, state: S) -> Router
where
    S: Clone + Send + Sync + 'static,
{
    let (service_routes, mut openapi) = api.split_for_parts();
    let (ops_routes, ops_api) = crate::ops::router().split_for_parts();
    openapi.merge(ops_api);
    crate::docs::document_body_errors(&mut openapi);

    Router::new()
        .merge(service_routes.with_state(state))
        .merge(ops_routes.with_state(kit.clone()))
        .merge(crate::docs::router(openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(
            kit.chaos.clone(),
            crate::chaos::inject_faults,
        ))
        .layer(from_fn_with_state(
            kit.admin.clone(),
            crate::auth::require_admin,
        ))
        .layer(DefaultBodyLimit::max(kit.config.max_body_bytes))
        .layer(from_fn_with_state(
            kit.metrics.clone(),
            crate::telemetry::record_metrics,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let request_id = crate::telemetry::request_id(request.headers()).unwrap_or("-");
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    request_id = %request_id,
                )
            }),
        )
        // Any origin may call with a bearer token (no cookies are used, so this opens no CSRF
        // hole): Swagger UI on one service can log in at the User Service and call another.
        .layer(CorsLayer::permissive())
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!(
        "no route for {} {}",
        request.method(),
        request.uri().path()
    ))
}

/// The JSON 405 every router of the testbed answers.
pub async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("handler panicked").into_response()
}

/// What one service accepts from its connections: how long headers (and the idle time
/// between keep-alive requests) may take, and how many connections are served at once.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

impl ConnectionLimits {
    pub fn from_config(config: &crate::config::ServiceConfig) -> Self {
        Self {
            header_read_timeout: Duration::from_secs(config.header_read_timeout_secs.max(1)),
            max_connections: config.max_connections.max(1),
        }
    }
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self::from_config(&crate::config::ServiceConfig::default())
    }
}

/// A bound, not yet running server.
pub struct Server {
    name: String,
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    /// What must still end after the last request was answered (see [`Server::finishing`]).
    finishing: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port) with the default connection limits.
    pub async fn bind(
        name: impl Into<String>,
        addr: SocketAddr,
        app: Router,
    ) -> anyhow::Result<Self> {
        let name = name.into();
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("{name}: cannot listen on {addr}: {e}"))?;
        Ok(Self {
            name,
            listener,
            app,
            limits: ConnectionLimits::default(),
            finishing: None,
        })
    }

    /// Work that [`Server::run`] waits for once serving has stopped and in-flight requests
    /// are drained: e.g. tasks that requests started and that outlive their callers.
    pub fn finishing(mut self, work: impl Future<Output = ()> + Send + 'static) -> Self {
        self.finishing = Some(Box::pin(work));
        self
    }

    /// Replaces the connection limits (from the service's configuration).
    pub fn with_limits(mut self, limits: ConnectionLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has a local address")
    }

    /// Serves until `shutdown` completes, then drains in-flight requests and waits for the
    /// [`Server::finishing`] work.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.local_addr();
        tracing::info!(service = %self.name, %addr, "listening");
        crate::connections::serve(self.listener, self.app, self.limits, shutdown).await;
        if let Some(work) = self.finishing {
            work.await;
        }
        tracing::info!(service = %self.name, "stopped");
        Ok(())
    }
}

/// Waits until `GET {base}/ready` answers 200, or fails after `timeout`.
pub async fn wait_ready(base: &str, timeout: Duration) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Ok(response) = client
            .get(format!("{base}/ready"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            && response.status().is_success()
        {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("{base} did not become ready within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
