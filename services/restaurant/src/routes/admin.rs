//! Admin calls for scenario setup: create a menu with a given stock, set a menu's stock.
//! Open by default; with an admin token configured they need `X-Admin-Token`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use contract::{CreateMenuRequest, ErrorBody, MenuDetail, SetStockRequest, StockAudit};
use testbed_common::ApiResult;
use testbed_common::extract::{ApiJson, ApiPath};
use testbed_common::responses::AdminJsonRefused;

use super::{NoSuchMenu, RestaurantState};

pub const TAG: &str = "admin";

/// Create a menu.
#[utoipa::path(post, path = "/admin/menus", tag = TAG,
    description = "Creates a menu with the given stock (its accounting starts there). Scenarios \
                   use this to get isolated, repeatable menus.",
    request_body = CreateMenuRequest,
    responses(
        (status = 201, description = "created", body = MenuDetail),
        AdminJsonRefused,
        (status = 404, description = "no such restaurant", body = ErrorBody),
        (status = 422, description = "empty name, negative price or stock", body = ErrorBody),
    ))]
pub async fn create_menu(
    State(state): State<RestaurantState>,
    ApiJson(body): ApiJson<CreateMenuRequest>,
) -> ApiResult<(StatusCode, Json<MenuDetail>)> {
    let menu = state.catalog.create_menu(&body).await?;
    Ok((StatusCode::CREATED, Json(menu)))
}

/// Set a menu's stock (resets its accounting).
#[utoipa::path(put, path = "/admin/menus/{id}/stock", tag = TAG,
    description = "Sets the stock and restarts the menu's accounting: initial stock = stock, and \
                   its ledger is emptied. Run it only while no orders for the menu are in flight.",
    params(("id" = i64, Path, description = "menu id")),
    request_body = SetStockRequest,
    responses(
        (status = 200, description = "the menu's fresh audit figures", body = StockAudit),
        AdminJsonRefused,
        NoSuchMenu,
        (status = 422, description = "stock out of range", body = ErrorBody),
    ))]
pub async fn set_stock(
    State(state): State<RestaurantState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<SetStockRequest>,
) -> ApiResult<Json<StockAudit>> {
    state.inventory.set_stock(id, body.stock).await?;
    let mut audit = state.inventory.audit(Some(id)).await?;
    audit
        .pop()
        .map(Json)
        .ok_or_else(|| crate::domain::menu_not_found(id))
}
