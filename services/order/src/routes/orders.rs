//! `POST /orders`, `GET /orders/{id}`, `POST /orders/{id}/cancel`, `GET /orders/stats`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use contract::{CreateOrder, ErrorBody, OrderStats, OrderView};
use testbed_common::auth::BearerUser;
use testbed_common::cache::cached_json;
use testbed_common::extract::{ApiJson, ApiPath};
use testbed_common::responses::{BearerPathRefused, DatabaseUnavailable, MalformedJson};
use testbed_common::telemetry::request_id;
use testbed_common::{ApiError, ApiResult};

use super::OrderState;
use crate::domain::failure;
use crate::domain::saga::{PlaceOrder, Placed};

pub const TAG: &str = "orders";

testbed_common::error_responses! {
    /// The order is another user's.
    OtherUsersOrder = 403, "another user's order";
    /// No order has the id.
    NoSuchOrder = 404, "no such order";
}

testbed_common::response_set! {
    /// 400, 401, 403 and 404: an owner-only call on an order id, refused for the id, the
    /// token, the owner or the order.
    OwnOrderRefused = BearerPathRefused, OtherUsersOrder, NoSuchOrder;
}

/// Longest accepted `Idempotency-Key`.
const MAX_IDEMPOTENCY_KEY: usize = 128;

/// Place an order.
#[utoipa::path(post, path = "/orders", tag = TAG,
    description = "Validates the bearer token with the User Service, records the order PENDING, \
                   reserves each line's stock at the Restaurant Service (prices come from there), \
                   runs the simulated payment and answers the PAID order (201). On any failure \
                   every reservation is given back and the order ends FAILED; the JSON error \
                   carries `order_id`, `failure_reason` and the order. The saga runs to its end even \
                   if the caller hangs up. An `Idempotency-Key` header makes a retried POST \
                   answer the first order's outcome instead of creating a second (waiting for \
                   it while its saga still runs); the same key with a different request is 422.",
    request_body = CreateOrder,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe (≤ 128 characters)")),
    security(("bearer" = []), ("oauth2" = [])),
    responses(
        (status = 201, description = "PAID", body = OrderView),
        (status = 200, description = "replayed: the order an earlier request with this Idempotency-Key created", body = OrderView),
        MalformedJson,
        (status = 401, description = "no, invalid or expired token", body = ErrorBody,
            example = json!({"error": "missing_token", "message": "a bearer token is needed: send `Authorization: Bearer <access_token>` from POST /login"})),
        (status = 402, description = "payment declined; order FAILED, stock given back", body = ErrorBody,
            example = json!({"error": "payment_declined", "message": "the payment was declined; the stock was given back", "order_id": 42, "status": "FAILED", "failure_reason": "payment_declined"})),
        (status = 409, description = "out of stock (order FAILED, nothing taken), or `idempotency_in_progress`: the order with this Idempotency-Key is still being placed", body = ErrorBody),
        (status = 422, description = "invalid order (lines, quantities, address, phone), unknown menu, or `idempotency_key_reused`: the Idempotency-Key was used for a different request", body = ErrorBody,
            example = json!({"error": "idempotency_key_reused", "message": "this Idempotency-Key was already used for a different order request; send a new key for a new order", "order_id": 42})),
        (status = 503, description = "a dependency failed; order FAILED (or not created when the User Service failed)", body = ErrorBody),
        (status = 504, description = "a dependency timed out; order FAILED (or not created when the User Service timed out)", body = ErrorBody),
    ))]
pub async fn create_order(
    State(state): State<OrderState>,
    user: BearerUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateOrder>,
) -> ApiResult<Response> {
    let key = match headers.get("idempotency-key") {
        Some(value) => {
            let key = value
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY)
                .ok_or_else(|| {
                    ApiError::validation("`Idempotency-Key` must be 1–128 visible ASCII characters")
                })?;
            Some(key.to_string())
        }
        None => None,
    };
    let placed = state
        .orders
        .place_order(PlaceOrder {
            user_id: user.user_id,
            token: user.token,
            order: body,
            idempotency_key: key,
            request_id: request_id(&headers).map(str::to_string),
        })
        .await?;
    let (view, created) = match placed {
        Placed::New(view) => (view, true),
        Placed::Replayed(view) => (view, false),
    };
    if let Some(failure) = failure(&view) {
        return Err(failure);
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)).into_response())
}

/// Read an order (cached).
#[utoipa::path(get, path = "/orders/{id}", tag = TAG,
    description = "The order, for its owner only. Cached for 5 minutes; `X-Cache` says HIT or MISS. \
                   Every status change removes the cached entry, so a read never shows a stale status.",
    params(("id" = i64, Path, description = "order id")),
    security(("bearer" = []), ("oauth2" = [])),
    responses(
        (status = 200, description = "the order", body = OrderView,
            headers(("X-Cache" = String, description = "HIT or MISS"))),
        OwnOrderRefused,
    ))]
pub async fn get_order(
    State(state): State<OrderState>,
    user: BearerUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    let (bytes, status) = state.orders.read_order(user.user_id, id).await?;
    Ok(cached_json(bytes, status))
}

/// Cancel a PAID order.
#[utoipa::path(post, path = "/orders/{id}/cancel", tag = TAG,
    description = "PAID → CANCELLED, and every line's stock is given back. Only the owner may \
                   cancel. A repeat, or cancelling an order that is not PAID (e.g. FAILED, whose \
                   stock was already given back), is 409 with the current state and moves nothing.",
    params(("id" = i64, Path, description = "order id")),
    security(("bearer" = []), ("oauth2" = [])),
    responses(
        (status = 200, description = "cancelled", body = OrderView),
        OwnOrderRefused,
        (status = 409, description = "not PAID", body = ErrorBody,
            example = json!({"error": "not_cancellable", "message": "order 42 is CANCELLED and cannot be cancelled; only PAID orders can", "order_id": 42, "status": "CANCELLED"})),
    ))]
pub async fn cancel_order(
    State(state): State<OrderState>,
    user: BearerUser,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<OrderView>> {
    let view = state
        .orders
        .cancel_order(user.user_id, id, request_id(&headers))
        .await?;
    Ok(Json(view))
}

/// Order counts for stock reconciliation.
#[utoipa::path(get, path = "/orders/stats", tag = TAG,
    description = "Orders by status and units per menu in PAID orders, so stock can be reconciled \
                   across services: for every menu, stock = initial − Σ PAID quantities. Also the \
                   units in PENDING orders and the age of the oldest one, so an audit under load \
                   can tell orders in flight from orders left behind.",
    responses(
        (status = 200, description = "counts", body = OrderStats),
        DatabaseUnavailable,
    ))]
pub async fn order_stats(State(state): State<OrderState>) -> ApiResult<Json<OrderStats>> {
    Ok(Json(state.orders.stats().await?))
}
