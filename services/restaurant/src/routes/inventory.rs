//! `GET /inventory` and `GET /inventory/{menuId}` (audit figures), `PUT /inventory/{menuId}`
//! (reserve), `POST /inventory/{menuId}/restore` (compensate), in the router's order.

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use contract::{ErrorBody, Reservation, ReserveRequest, Restoration, RestoreRequest, StockAudit};
use testbed_common::extract::{ApiJson, ApiPath};
use testbed_common::responses::{DatabaseUnavailable, IdNotANumber, ServiceTokenRefused};
use testbed_common::{ApiError, ApiResult};

use super::{NoSuchMenu, RestaurantState};
use crate::domain::Inventory;

pub const TAG: &str = "inventory";

testbed_common::error_responses! {
    /// The body is not JSON, or the path id is not a number.
    MalformedStockCall = 400, "malformed JSON or non-numeric id";
    /// The quantity is out of range, or the body has fields the call does not take.
    BadQuantity = 422, "quantity ≤ 0 or above 10000, or unknown fields";
}

testbed_common::response_set! {
    /// What a stock move may answer besides its 200 and its 409.
    StockCallRefused =
        MalformedStockCall, ServiceTokenRefused, NoSuchMenu, BadQuantity, DatabaseUnavailable;
}

/// A stock move as the Order Service sends it: its service token is checked first (so
/// nothing moves for anyone else, and a stranger learns nothing of the menu or the body),
/// then the menu id in the path and the JSON body are read.
pub struct StockCall<B> {
    pub inventory: Inventory,
    /// The id of the menu in the path.
    pub menu: i64,
    pub body: B,
}

impl<B> FromRequest<RestaurantState> for StockCall<B>
where
    ApiJson<B>: FromRequest<RestaurantState, Rejection = ApiError>,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &RestaurantState) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        state.service_keys.check_stock_caller(&parts.headers)?;
        let ApiPath(menu) = ApiPath::from_request_parts(&mut parts, state).await?;
        let ApiJson(body) = ApiJson::from_request(Request::from_parts(parts, body), state).await?;
        let inventory = state.inventory.clone();
        Ok(Self {
            inventory,
            menu,
            body,
        })
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

/// Audit one menu's stock.
#[utoipa::path(get, path = "/inventory/{menuId}", tag = TAG,
    description = "Stock, initial stock, total reserved and restored, and the drift \
                   stock − (initial − reserved + restored), which is 0 when the books balance.",
    params(("menuId" = i64, Path, description = "menu id")),
    responses(
        (status = 200, description = "audit figures", body = StockAudit),
        IdNotANumber,
        NoSuchMenu,
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
        (status = 409, description = "not enough stock (body says how many are left), or the order was already compensated", body = ErrorBody,
            example = json!({"error": "insufficient_stock", "message": "menu 3 has 1 left; 2 were requested", "menu_id": 3, "available": 1, "requested": 2})),
        StockCallRefused,
    ))]
pub async fn reserve(call: StockCall<ReserveRequest>) -> ApiResult<Json<Reservation>> {
    let ReserveRequest { quantity, order_id } = call.body;
    let reserved = call.inventory.reserve_stock(call.menu, quantity, order_id);
    Ok(Json(reserved.await?))
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
        (status = 409, description = "more than the order reserved", body = ErrorBody),
        StockCallRefused,
    ))]
pub async fn restore(call: StockCall<RestoreRequest>) -> ApiResult<Json<Restoration>> {
    let RestoreRequest { order_id, quantity } = call.body;
    let restored = call.inventory.restore_stock(call.menu, order_id, quantity);
    Ok(Json(restored.await?))
}
