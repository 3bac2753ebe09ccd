//! Telemetry: structured logs (tracing, JSON or human format), request ids (`X-Request-Id`
//! taken from the caller or generated, returned, and recorded in every log line of the
//! request), and Prometheus metrics: requests and latency by route and status, cache
//! lookups, fault settings, and each service's business figures (refreshed at scrape time).
//! `/metrics` speaks OpenMetrics 1.0, or the classic text format 0.0.4 to a scraper that
//! asks for `text/plain` (e.g. `promtool check metrics`).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{EncodeLabelSet, prometheus_text, text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};
use tracing_subscriber::EnvFilter;

use crate::cache::Cache;
use crate::chaos::Chaos;

/// The request-id header.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Installs the global tracing subscriber once. `LOG_FORMAT=json` gives JSON lines.
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,tower_http=info"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // `try_init` fails when a subscriber exists (tests, the launcher): that is fine.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Labels of the HTTP metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

/// A refresh run before every scrape, for figures read from elsewhere (the database).
type ScrapeHook = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// How long one scrape hook may take before the scrape goes on without it.
const SCRAPE_HOOK_TIMEOUT: Duration = Duration::from_secs(2);

/// One service's metrics registry: the HTTP metrics, plus whatever the service registers
/// (cache lookups, fault settings, business figures refreshed at scrape time).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<RwLock<Registry>>,
    requests: Family<HttpLabels, Counter>,
    latency: Family<HttpLabels, Histogram>,
    scrape_hooks: Arc<RwLock<Vec<ScrapeHook>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("testbed");
        let requests = Family::<HttpLabels, Counter>::default();
        // 100 µs … ~52 s in 20 doubling steps.
        let latency = Family::<HttpLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.0001, 2.0, 20))) as fn() -> Histogram,
        );
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency, by method, route and status",
            latency.clone(),
        );
        Self {
            registry: Arc::new(RwLock::new(registry)),
            requests,
            latency,
            scrape_hooks: Arc::default(),
        }
    }

    /// The metrics every service has: HTTP, cache lookups and fault settings.
    pub fn for_service(chaos: &Chaos, cache: &Cache) -> Self {
        let metrics = Self::new();
        metrics.register(
            "cache_lookups",
            "Cache reads, by result (hit or miss; a cache error counts as a miss)",
            cache.lookup_counter(),
        );
        metrics.register_collector(Box::new(chaos.clone()));
        metrics
    }

    /// Registers a metric under the `testbed_` prefix.
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        if let Ok(mut registry) = self.registry.write() {
            registry.register(name, help, metric);
        }
    }

    /// Registers a collector, asked for its metrics on every scrape.
    pub fn register_collector(&self, collector: Box<dyn Collector>) {
        if let Ok(mut registry) = self.registry.write() {
            registry.register_collector(collector);
        }
    }

    /// Runs `hook` before every scrape (bounded by [`SCRAPE_HOOK_TIMEOUT`]), e.g. to read
    /// business figures from the database into gauges.
    pub fn on_scrape<F, Fut>(&self, hook: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        if let Ok(mut hooks) = self.scrape_hooks.write() {
            hooks.push(Arc::new(move || Box::pin(hook())));
        }
    }

    /// Runs the scrape hooks; one that times out leaves its metrics as they were.
    pub async fn refresh(&self) {
        let hooks: Vec<ScrapeHook> = match self.scrape_hooks.read() {
            Ok(hooks) => hooks.clone(),
            Err(_) => return,
        };
        for hook in hooks {
            if tokio::time::timeout(SCRAPE_HOOK_TIMEOUT, hook())
                .await
                .is_err()
            {
                tracing::warn!(
                    "a metrics refresh timed out; its figures are from an earlier scrape"
                );
            }
        }
    }

    /// The registry in the given exposition format.
    pub fn render(&self, format: Exposition) -> String {
        let mut out = String::new();
        let encoded = match self.registry.read() {
            Ok(registry) => match format {
                Exposition::OpenMetrics => text::encode(&mut out, &registry),
                Exposition::Classic => prometheus_text::encode(&mut out, &registry),
            },
            Err(_) => Err(std::fmt::Error),
        };
        if let Err(e) = encoded {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        out
    }

    fn observe(&self, labels: HttpLabels, seconds: f64) {
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(seconds);
    }
}

/// The two text formats `/metrics` speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exposition {
    /// OpenMetrics 1.0 text (what Prometheus asks for first).
    OpenMetrics,
    /// The classic Prometheus text format 0.0.4 (what `promtool check metrics` reads).
    Classic,
}

/// Content type of OpenMetrics 1.0 text.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

impl Exposition {
    /// Content negotiation on an `Accept` header: the format with the higher quality wins;
    /// OpenMetrics on a tie, for `*/*`, without the header, or when neither is acceptable.
    pub fn negotiate(accept: Option<&str>) -> Self {
        let (mut openmetrics, mut classic) = (0.0f32, 0.0f32);
        for range in accept.unwrap_or("").split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match media.as_str() {
                "application/openmetrics-text" | "application/*" | "*/*" => {
                    openmetrics = openmetrics.max(quality)
                }
                "text/plain" | "text/*" => classic = classic.max(quality),
                _ => {}
            }
        }
        if classic > openmetrics {
            Exposition::Classic
        } else {
            Exposition::OpenMetrics
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Exposition::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
            Exposition::Classic => prometheus_text::CONTENT_TYPE,
        }
    }
}

/// Middleware recording every request in the metrics.
pub async fn record_metrics(
    State(metrics): State<Metrics>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let response = next.run(request).await;
    metrics.observe(
        HttpLabels {
            method,
            route,
            status: response.status().as_u16(),
        },
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`: refreshes the scrape-time figures, then answers in the negotiated format.
pub async fn metrics_handler(State(metrics): State<Metrics>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = Exposition::negotiate(accept);
    metrics.refresh().await;
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            ),
            (header::VARY, HeaderValue::from_static("accept")),
        ],
        metrics.render(format),
    )
        .into_response()
}

/// The value of one series in a text exposition (either format), e.g.
/// `testbed_orders{status="PAID"}`; for tests and checks.
pub fn sample_value(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?.strip_prefix(' ')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// The request id of a request (set by the request-id layer).
pub fn request_id(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get(&REQUEST_ID).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::Exposition::{self, Classic, OpenMetrics};

    #[test]
    fn negotiation_follows_the_accept_header() {
        assert_eq!(Exposition::negotiate(None), OpenMetrics);
        assert_eq!(Exposition::negotiate(Some("*/*")), OpenMetrics);
        assert_eq!(Exposition::negotiate(Some("text/plain")), Classic);
        assert_eq!(
            Exposition::negotiate(Some("text/plain;version=0.0.4, */*;q=0.1")),
            Classic
        );
        // What Prometheus 2.x sends.
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                          version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Exposition::negotiate(Some(prometheus)), OpenMetrics);
        assert_eq!(
            Exposition::negotiate(Some(
                "application/openmetrics-text; q=0.2, text/plain; q=0.9"
            )),
            Classic
        );
        assert_eq!(Exposition::negotiate(Some("application/json")), OpenMetrics);
    }

    #[test]
    fn both_formats_render_the_same_samples() {
        let metrics = super::Metrics::new();
        metrics.observe(
            super::HttpLabels {
                method: "GET".into(),
                route: "/health".into(),
                status: 200,
            },
            0.001,
        );
        let open = metrics.render(OpenMetrics);
        let classic = metrics.render(Classic);
        let sample =
            "testbed_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 1";
        assert!(open.contains(sample) && open.ends_with("# EOF\n"), "{open}");
        assert!(
            classic.contains(sample) && !classic.contains("# EOF"),
            "{classic}"
        );
        assert!(
            classic.contains("# TYPE testbed_http_requests_total counter"),
            "{classic}"
        );
    }
}
