//! The REST API, path for path and body for body Toxiproxy 2.x's (api.go): `/version`,
//! `/proxies`, `/populate`, `/reset`, `/proxies/{proxy}` and `/proxies/{proxy}/toxics[/{toxic}]`,
//! with its status codes (201 on create and populate, 204 on delete and reset, 200 on a new
//! toxic) and its error body `{"error": "...", "status": N}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::registry::{ProxyChange, ProxySpec, Registry};
use crate::toxic::{Toxic, json_object, optional_bool, optional_str};

type Shared = State<Arc<Registry>>;
/// `/proxies/{proxy}`: the proxy's name.
type ProxyPath = Path<String>;
/// `/proxies/{proxy}/toxics/{toxic}`: the proxy's and the toxic's names.
type ToxicPath = Path<(String, String)>;
type ApiResult = Result<Response, ApiError>;

/// The API router over a registry.
pub fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/version", get(version))
        .route("/reset", post(reset))
        .route("/populate", post(populate))
        .route("/proxies", get(proxy_index).post(proxy_create))
        .route(
            "/proxies/{proxy}",
            get(proxy_show)
                .post(proxy_update)
                .patch(proxy_update)
                .delete(proxy_delete),
        )
        .route(
            "/proxies/{proxy}/toxics",
            get(toxic_index).post(toxic_create),
        )
        .route(
            "/proxies/{proxy}/toxics/{toxic}",
            get(toxic_show)
                .post(toxic_update)
                .patch(toxic_update)
                .delete(toxic_delete),
        )
        .layer(middleware::from_fn(stop_browsers))
        .with_state(registry)
}

/// Toxiproxy refuses browsers (a page could otherwise drive the API cross-site): 403.
async fn stop_browsers(request: Request, next: Next) -> Response {
    let from_browser = request
        .headers()
        .get(header::USER_AGENT)
        .is_some_and(|agent| agent.as_bytes().starts_with(b"Mozilla/"));
    if from_browser {
        return (StatusCode::FORBIDDEN, "User agent not allowed\n").into_response();
    }
    next.run(request).await
}

async fn version() -> Response {
    let body = format!(
        "{{\"version\": \"{}\"}}\n",
        concat!(env!("CARGO_PKG_VERSION"), "-faultproxy")
    );
    (
        [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
        body,
    )
        .into_response()
}

async fn reset(State(registry): Shared) -> ApiResult {
    registry.reset().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn proxy_index(State(registry): Shared) -> Response {
    let proxies: Map<String, Value> = registry
        .list()
        .await
        .into_iter()
        .map(|proxy| (proxy.name.clone(), proxy.to_json()))
        .collect();
    Json(proxies).into_response()
}

async fn proxy_create(State(registry): Shared, body: Bytes) -> ApiResult {
    let spec = proxy_spec(&json_object(&body)?)?;
    let proxy = registry.create(spec).await?;
    Ok((StatusCode::CREATED, Json(proxy.to_json())).into_response())
}

async fn populate(State(registry): Shared, body: Bytes) -> Response {
    let (proxies, error) = match populate_specs(&body) {
        Ok(specs) => registry.populate(specs).await,
        Err(error) => (Vec::new(), Some(error)),
    };
    // Go marshals an empty slice of proxies as null; clients expect exactly that.
    let listed = if proxies.is_empty() {
        Value::Null
    } else {
        proxies.iter().map(|proxy| proxy.to_json()).collect()
    };
    match error {
        None => (StatusCode::CREATED, Json(json!({"proxies": listed}))).into_response(),
        Some(error) => {
            let body = json!({"error": error.error, "status": error.status, "proxies": listed});
            (error.status_code(), Json(body)).into_response()
        }
    }
}

fn populate_specs(body: &[u8]) -> Result<Vec<ProxySpec>, ApiError> {
    let items = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) => items,
        Ok(other) => {
            return Err(ApiError::bad_body(format!(
                "expected a JSON array, got {other}"
            )));
        }
        Err(error) => return Err(ApiError::bad_body(error)),
    };
    items
        .into_iter()
        .map(|item| {
            let Value::Object(object) = item else {
                return Err(ApiError::bad_body(format!(
                    "expected a proxy object, got {item}"
                )));
            };
            proxy_spec(&object)
        })
        .collect()
}

/// A proxy as a create or populate body describes it (missing fields empty, enabled unless
/// said otherwise; the registry checks what is required).
fn proxy_spec(object: &Map<String, Value>) -> Result<ProxySpec, ApiError> {
    Ok(ProxySpec {
        name: optional_str(object, "name")?.unwrap_or_default(),
        listen: optional_str(object, "listen")?.unwrap_or_default(),
        upstream: optional_str(object, "upstream")?.unwrap_or_default(),
        enabled: optional_bool(object, "enabled")?.unwrap_or(true),
    })
}

async fn proxy_show(State(registry): Shared, Path(proxy): ProxyPath) -> ApiResult {
    Ok(Json(registry.get(&proxy).await?.to_json()).into_response())
}

async fn proxy_update(State(registry): Shared, Path(proxy): ProxyPath, body: Bytes) -> ApiResult {
    // An unknown proxy is 404 before the body is looked at, as in Toxiproxy.
    registry.get(&proxy).await?;
    let object = json_object(&body)?;
    let change = ProxyChange {
        listen: optional_str(&object, "listen")?,
        upstream: optional_str(&object, "upstream")?,
        enabled: optional_bool(&object, "enabled")?,
    };
    Ok(Json(registry.update(&proxy, change).await?.to_json()).into_response())
}

async fn proxy_delete(State(registry): Shared, Path(proxy): ProxyPath) -> ApiResult {
    registry.remove(&proxy).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn toxic_index(State(registry): Shared, Path(proxy): ProxyPath) -> ApiResult {
    let toxics: Vec<Value> = registry
        .toxics(&proxy)
        .await?
        .iter()
        .map(Toxic::to_json)
        .collect();
    Ok(Json(toxics).into_response())
}

async fn toxic_create(State(registry): Shared, Path(proxy): ProxyPath, body: Bytes) -> ApiResult {
    registry.get(&proxy).await?;
    let toxic = Toxic::from_create_body(&body)?;
    let toxic = registry.add_toxic(&proxy, toxic).await?;
    // Toxiproxy answers a new toxic with 200, not 201.
    Ok(Json(toxic.to_json()).into_response())
}

async fn toxic_show(State(registry): Shared, Path((proxy, toxic)): ToxicPath) -> ApiResult {
    Ok(Json(registry.toxic(&proxy, &toxic).await?.to_json()).into_response())
}

async fn toxic_update(
    State(registry): Shared,
    Path((proxy, toxic)): ToxicPath,
    body: Bytes,
) -> ApiResult {
    let updated = registry
        .update_toxic(&proxy, &toxic, |current| current.updated_from_body(&body))
        .await?;
    Ok(Json(updated.to_json()).into_response())
}

async fn toxic_delete(State(registry): Shared, Path((proxy, toxic)): ToxicPath) -> ApiResult {
    registry.remove_toxic(&proxy, &toxic).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
