//! Admin calls for scenario setup: create a menu with a given stock, set a menu's stock.
//! Open by default; with an admin token configured they need `X-Admin-Token`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use testbed_common::error::ErrorBody;
use testbed_common::extract::{ApiJson, ApiPath};
use testbed_common::{ApiError, ApiResult};
use utoipa::ToSchema;

use super::RestaurantState;
use super::menus::MenuDetail;
use crate::domain::StockAudit;
use crate::store;

pub const TAG: &str = "admin";

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Scenario Bibimbap", "price": 9000, "stock": 100, "restaurant_id": 1}))]
pub struct CreateMenuRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// Price in won, 0–10000000.
    #[schema(minimum = 0, maximum = 10000000)]
    pub price: i64,
    /// Starting stock, 0–1000000000.
    #[schema(minimum = 0, maximum = 1000000000)]
    pub stock: i64,
    /// Defaults to restaurant 1.
    pub restaurant_id: Option<i64>,
    pub description: Option<String>,
}

/// Create a menu.
#[utoipa::path(post, path = "/admin/menus", tag = TAG,
    description = "Creates a menu with the given stock (its accounting starts there). Scenarios \
                   use this to get isolated, repeatable menus.",
    request_body = CreateMenuRequest,
    responses(
        (status = 201, description = "created", body = MenuDetail),
        (status = 400, description = "malformed JSON", body = ErrorBody),
        (status = 401, description = "admin token required", body = ErrorBody),
        (status = 404, description = "no such restaurant", body = ErrorBody),
        (status = 422, description = "empty name, negative price or stock", body = ErrorBody),
    ))]
pub async fn create_menu(
    State(state): State<RestaurantState>,
    ApiJson(body): ApiJson<CreateMenuRequest>,
) -> ApiResult<(StatusCode, Json<MenuDetail>)> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::validation("`name` must be 1–200 characters"));
    }
    if !(0..=10_000_000).contains(&body.price) {
        return Err(ApiError::validation("`price` must be from 0 to 10000000"));
    }
    if !(0..=1_000_000_000).contains(&body.stock) {
        return Err(ApiError::validation("`stock` must be from 0 to 1000000000"));
    }
    let restaurant_id = body.restaurant_id.unwrap_or(1);
    let db = &state.kit.db;
    let restaurant = store::find_restaurant(&db.conn, restaurant_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("restaurant {restaurant_id} does not exist")))?;
    let menu = {
        let _writer = db.write_guard().await;
        store::insert_menu(
            &db.conn,
            restaurant_id,
            name,
            body.description.as_deref(),
            body.price,
            body.stock,
        )
        .await?
    };
    state
        .kit
        .cache
        .delete(&[crate::domain::MENUS_KEY.to_string()])
        .await;
    Ok((
        StatusCode::CREATED,
        Json(MenuDetail::new(menu, Some(restaurant))),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"stock": 100}))]
pub struct SetStockRequest {
    /// New stock, 0–1000000000.
    #[schema(minimum = 0, maximum = 1000000000)]
    pub stock: i64,
}

/// Set a menu's stock (resets its accounting).
#[utoipa::path(put, path = "/admin/menus/{id}/stock", tag = TAG,
    description = "Sets the stock and restarts the menu's accounting: initial stock = stock, and \
                   its ledger is emptied. Run it only while no orders for the menu are in flight.",
    params(("id" = i64, Path, description = "menu id")),
    request_body = SetStockRequest,
    responses(
        (status = 200, description = "the menu's fresh audit figures", body = StockAudit),
        (status = 400, description = "malformed JSON", body = ErrorBody),
        (status = 401, description = "admin token required", body = ErrorBody),
        (status = 404, description = "no such menu", body = ErrorBody),
        (status = 422, description = "stock out of range", body = ErrorBody),
    ))]
pub async fn set_stock(
    State(state): State<RestaurantState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<SetStockRequest>,
) -> ApiResult<Json<StockAudit>> {
    state.inventory.set_stock(id, body.stock).await?;
    state.invalidate_menu(id).await;
    let mut audit = state.inventory.audit(Some(id)).await?;
    audit
        .pop()
        .map(Json)
        .ok_or_else(|| crate::domain::menu_not_found(id))
}
