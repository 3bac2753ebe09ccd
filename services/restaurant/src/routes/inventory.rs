//! `PUT /inventory/{menuId}` (reserve), `POST /inventory/{menuId}/restore` (compensate),
//! `GET /inventory/{menuId}` and `GET /inventory` (audit figures).

use axum::Json;
use axum::extract::State;
use contract::{ErrorBody, Reservation, ReserveRequest, Restoration, RestoreRequest, StockAudit};
use testbed_common::ApiResult;
use testbed_common::extract::{ApiJson, ApiPath};
use testbed_common::responses::{DatabaseUnavailable, ServiceTokenRefused};
use testbed_common::service_auth::OrderServiceCaller;

use super::RestaurantState;

pub const TAG: &str = "inventory";

/// Decrease stock (reserve for an order).
#[utoipa::path(put, path = "/inventory/{menuId}", tag = TAG,
    description = "In one transaction: lock the menu row (`SELECT … FOR UPDATE`), check, decrease, \
                   write the ledger row, commit. With `order_id` the call is idempotent: a repeat \
                   answers the first outcome (`replayed: true`) and moves nothing. The \
                   `inventory_delay` fault runs while the row lock is held. Internal: only the \
                   Order Service may call it, with its service token (audience \
                   `restaurant-service/stock`); anything else is 401/403 and moves nothing.",
    security(("service_token" = [])),
    params(("menuId" = i64, Path, description = "menu id")),
    request_body = ReserveRequest,
    responses(
        (status = 200, description = "reserved", body = Reservation),
        (status = 400, description = "malformed JSON or non-numeric id", body = ErrorBody),
        ServiceTokenRefused,
        (status = 404, description = "no such menu", body = ErrorBody),
        (status = 409, description = "not enough stock (body says how many are left), or the order was already compensated", body = ErrorBody,
            example = json!({"error": "insufficient_stock", "message": "menu 3 has 1 left; 2 were requested", "menu_id": 3, "available": 1, "requested": 2})),
        (status = 422, description = "quantity ≤ 0 or above 10000, unknown fields", body = ErrorBody),
        DatabaseUnavailable,
    ))]
pub async fn reserve(
    _caller: OrderServiceCaller,
    State(state): State<RestaurantState>,
    ApiPath(menu_id): ApiPath<i64>,
    ApiJson(body): ApiJson<ReserveRequest>,
) -> ApiResult<Json<Reservation>> {
    let reservation = state
        .inventory
        .reserve_stock(menu_id, body.quantity, body.order_id)
        .await?;
    Ok(Json(reservation))
}

/// Restore stock (compensation).
#[utoipa::path(post, path = "/inventory/{menuId}/restore", tag = TAG,
    description = "Gives back what an order reserved of this menu. Idempotent: a repeat moves \
                   nothing (`replayed: true`); an order that reserved nothing restores 0, and is \
                   then refused any late reservation (so a reservation the caller gave up on can \
                   never keep stock). Internal: only the Order Service, with its service token.",
    security(("service_token" = [])),
    params(("menuId" = i64, Path, description = "menu id")),
    request_body = RestoreRequest,
    responses(
        (status = 200, description = "restored (possibly 0)", body = Restoration),
        (status = 400, description = "malformed JSON or non-numeric id", body = ErrorBody),
        ServiceTokenRefused,
        (status = 404, description = "no such menu", body = ErrorBody),
        (status = 409, description = "more than the order reserved", body = ErrorBody),
        (status = 422, description = "bad quantity or unknown fields", body = ErrorBody),
        DatabaseUnavailable,
    ))]
pub async fn restore(
    _caller: OrderServiceCaller,
    State(state): State<RestaurantState>,
    ApiPath(menu_id): ApiPath<i64>,
    ApiJson(body): ApiJson<RestoreRequest>,
) -> ApiResult<Json<Restoration>> {
    let restoration = state
        .inventory
        .restore_stock(menu_id, body.order_id, body.quantity)
        .await?;
    Ok(Json(restoration))
}

/// Audit one menu's stock.
#[utoipa::path(get, path = "/inventory/{menuId}", tag = TAG,
    description = "Stock, initial stock, total reserved and restored, and the drift \
                   stock − (initial − reserved + restored), which is 0 when the books balance.",
    params(("menuId" = i64, Path, description = "menu id")),
    responses(
        (status = 200, description = "audit figures", body = StockAudit),
        (status = 400, description = "non-numeric id", body = ErrorBody),
        (status = 404, description = "no such menu", body = ErrorBody),
        DatabaseUnavailable,
    ))]
pub async fn audit_one(
    State(state): State<RestaurantState>,
    ApiPath(menu_id): ApiPath<i64>,
) -> ApiResult<Json<StockAudit>> {
    let mut audits = state.inventory.audit(Some(menu_id)).await?;
    match audits.pop() {
        Some(audit) => Ok(Json(audit)),
        None => Err(crate::domain::menu_not_found(menu_id)),
    }
}

/// Audit every menu's stock.
#[utoipa::path(get, path = "/inventory", tag = TAG,
    description = "The audit figures of every menu (see GET /inventory/{menuId}).",
    responses(
        (status = 200, description = "audit figures", body = [StockAudit]),
        DatabaseUnavailable,
    ))]
pub async fn audit_all(State(state): State<RestaurantState>) -> ApiResult<Json<Vec<StockAudit>>> {
    Ok(Json(state.inventory.audit(None).await?))
}
