//! Operational routes every service serves: `/health`, `/ready`, `/metrics`, and the fault
//! switches under `/chaos`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use contract::{ChaosSnapshot, DelayRequest, ErrorBody, ErrorRequest, Health, Readiness};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::chaos::MAX_DELAY_MS;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::kit::Kit;
use crate::response_set;
use crate::responses::{AdminJsonRefused, AdminTokenRequired};

/// Tag of the operational routes in the docs.
pub const OPS_TAG: &str = "operations";
/// Tag of the fault switches in the docs.
pub const CHAOS_TAG: &str = "chaos";

/// 200: the fault settings a change left in force.
#[derive(utoipa::IntoResponses)]
#[response(status = 200, description = "new settings")]
struct NewSettings(
    #[expect(dead_code, reason = "the body type is read by the OpenAPI derive only")] ChaosSnapshot,
);

response_set! {
    /// What every fault setter answers, but for its own 404 and 422.
    SetterAnswers = NewSettings, AdminJsonRefused;
}

pub fn router() -> OpenApiRouter<Kit> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(get_chaos, reset_chaos))
        .routes(routes!(set_delay))
        .routes(routes!(set_error))
        .routes(routes!(set_switch))
        .routes(routes!(metrics))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = OPS_TAG,
    description = "Answers 200 while the process runs. Never delayed or failed by fault injection.",
    responses((status = 200, description = "alive", body = Health)))]
async fn health(State(kit): State<Kit>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        service: kit.service.into(),
    })
}

/// Readiness: the database answers. The cache is reported; a cache outage does not make
/// the service unready, because reads fall back to the database.
#[utoipa::path(get, path = "/ready", tag = OPS_TAG,
    description = "200 when the service's database answers, 503 otherwise. The cache state is \
                   reported (`cache`), but a cache outage alone keeps the service ready: reads fall \
                   back to the database.",
    responses((status = 200, description = "ready", body = Readiness),
              (status = 503, description = "the database does not answer", body = Readiness)))]
async fn ready(State(kit): State<Kit>) -> Response {
    let (database, cache) = tokio::join!(kit.db.ping(), kit.cache.ping());
    let ok = database.is_ok();
    let body = Readiness {
        status: if ok { "ready" } else { "not_ready" }.into(),
        service: kit.service.into(),
        database: database.err().unwrap_or_else(|| "ok".into()),
        cache: cache.err().unwrap_or_else(|| "ok".into()),
        cache_backend: kit.cache.backend_name().into(),
    };
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = OPS_TAG,
    description = "OpenMetrics 1.0 text (`application/openmetrics-text`), or the classic \
                   Prometheus text format 0.0.4 when `Accept` prefers `text/plain`. Every \
                   service: `testbed_http_requests_total` and \
                   `testbed_http_request_duration_seconds` by method, route and status, \
                   `testbed_cache_lookups_total` by result, `testbed_fault_setting` by switch \
                   and field, `testbed_faults_active`. The Order Service adds `testbed_orders` \
                   by status and `testbed_compensations_outstanding`; the Restaurant Service \
                   `testbed_stock_drift` by menu. Business figures are read at scrape time.",
    responses((status = 200, description = "metrics", content(
        (String = "application/openmetrics-text"),
        (String = "text/plain")))))]
async fn metrics(State(kit): State<Kit>, headers: HeaderMap) -> Response {
    crate::telemetry::metrics_handler(State(kit.metrics.clone()), headers).await
}

/// Current fault settings.
#[utoipa::path(get, path = "/chaos", tag = CHAOS_TAG,
    description = "The fault settings in force: global delay, random errors and this service's own switches.",
    responses((status = 200, description = "current settings", body = ChaosSnapshot),
              AdminTokenRequired))]
async fn get_chaos(State(kit): State<Kit>) -> Json<ChaosSnapshot> {
    Json(kit.chaos.snapshot())
}

/// All faults off.
#[utoipa::path(delete, path = "/chaos", tag = CHAOS_TAG,
    description = "Turns every fault of this service off and answers the resulting settings.",
    responses((status = 200, description = "all faults off", body = ChaosSnapshot),
              AdminTokenRequired))]
async fn reset_chaos(State(kit): State<Kit>) -> Json<ChaosSnapshot> {
    kit.chaos.reset();
    tracing::warn!("all faults off");
    Json(kit.chaos.snapshot())
}

/// Delay every API call.
#[utoipa::path(post, path = "/chaos/delay", tag = CHAOS_TAG,
    description = "Adds an artificial delay to every API call of this service (not to /health, \
                   /ready, /metrics, docs or /chaos). The delay is asynchronous: only the delayed \
                   requests wait.",
    request_body = DelayRequest,
    responses(SetterAnswers,
              (status = 422, description = "delay out of range", body = ErrorBody)))]
async fn set_delay(
    State(kit): State<Kit>,
    ApiJson(body): ApiJson<DelayRequest>,
) -> ApiResult<Json<ChaosSnapshot>> {
    if !(0..=MAX_DELAY_MS as i64).contains(&body.delay_ms) {
        return Err(ApiError::validation(format!(
            "`delay_ms` must be from 0 to {MAX_DELAY_MS}"
        )));
    }
    kit.chaos.set_delay_ms(body.delay_ms as u64);
    tracing::warn!(delay_ms = body.delay_ms, "global delay set");
    Ok(Json(kit.chaos.snapshot()))
}

/// Random 500s.
#[utoipa::path(post, path = "/chaos/error", tag = CHAOS_TAG,
    description = "Makes every API call of this service answer 500 (JSON body, code \
                   `injected_fault`) with the given probability, 50 % by default.",
    request_body = ErrorRequest,
    responses(SetterAnswers,
              (status = 422, description = "percent out of range", body = ErrorBody)))]
async fn set_error(
    State(kit): State<Kit>,
    ApiJson(body): ApiJson<ErrorRequest>,
) -> ApiResult<Json<ChaosSnapshot>> {
    let percent = body.percent.unwrap_or(50);
    if !(0..=100).contains(&percent) {
        return Err(ApiError::validation("`percent` must be from 0 to 100"));
    }
    kit.chaos.set_error(body.enable, percent as u64);
    tracing::warn!(enable = body.enable, percent, "random errors set");
    Ok(Json(kit.chaos.snapshot()))
}

/// Set one of this service's own switches.
#[utoipa::path(post, path = "/chaos/{switch}", tag = CHAOS_TAG,
    description = "Sets one of this service's own fault switches, listed under `switches` in \
                   GET /chaos: `inventory_delay {\"delay_ms\"}` on the Restaurant Service (the \
                   delay runs while the stock row lock is held), `payment_fail {\"fail_percent\"}` \
                   on the Order Service.",
    params(("switch" = String, Path, description = "switch name, e.g. `payment_fail`")),
    request_body(content = Object, example = json!({"fail_percent": 30})),
    responses(SetterAnswers,
              (status = 404, description = "no such switch", body = ErrorBody),
              (status = 422, description = "value out of range or wrong field", body = ErrorBody)))]
async fn set_switch(
    State(kit): State<Kit>,
    ApiPath(switch): ApiPath<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<ChaosSnapshot>> {
    kit.chaos.set_switch_from_json(&switch, &body)?;
    Ok(Json(kit.chaos.snapshot()))
}
