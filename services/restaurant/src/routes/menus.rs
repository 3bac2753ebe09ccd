//! `GET /restaurants`, `GET /menus` (cached 10 s), `GET /menus/{id}` (cached 30 s).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use contract::{MenuDetail, MenuSummary, RestaurantView};
use testbed_common::ApiResult;
use testbed_common::cache::cached_json;
use testbed_common::extract::ApiPath;
use testbed_common::responses::{DatabaseUnavailable, IdNotANumber};

use super::{NoSuchMenu, RestaurantState};

pub const TAG: &str = "menus";

/// All restaurants.
#[utoipa::path(get, path = "/restaurants", tag = TAG,
    description = "Every restaurant.",
    responses((status = 200, description = "restaurants", body = [RestaurantView]),
              DatabaseUnavailable))]
pub async fn list_restaurants(
    State(state): State<RestaurantState>,
) -> ApiResult<Json<Vec<RestaurantView>>> {
    Ok(Json(state.catalog.restaurants().await?))
}

/// All menus (cached).
#[utoipa::path(get, path = "/menus", tag = TAG,
    description = "Every menu with its current stock. Cached (10 s by default); the response \
                   header `X-Cache` says HIT or MISS. A stock change removes the cached list.",
    responses((status = 200, description = "menus", body = [MenuSummary],
                headers(("X-Cache" = String, description = "HIT or MISS"))),
              DatabaseUnavailable))]
pub async fn list_menus(State(state): State<RestaurantState>) -> ApiResult<Response> {
    let (bytes, status) = state.catalog.menus().await?;
    Ok(cached_json(bytes, status))
}

/// One menu (cached).
#[utoipa::path(get, path = "/menus/{id}", tag = TAG,
    description = "One menu in detail. Cached (30 s by default); `X-Cache` says HIT or MISS. A \
                   stock change of this menu removes the cached entry.",
    params(("id" = i64, Path, description = "menu id")),
    responses((status = 200, description = "the menu", body = MenuDetail,
                headers(("X-Cache" = String, description = "HIT or MISS"))),
              IdNotANumber,
              NoSuchMenu,
              DatabaseUnavailable))]
pub async fn get_menu(
    State(state): State<RestaurantState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    let (bytes, status) = state.catalog.menu(id).await?;
    Ok(cached_json(bytes, status))
}
