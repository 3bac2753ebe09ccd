//! `GET /restaurants`, `GET /menus` (cached 10 s), `GET /menus/{id}` (cached 30 s).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use contract::{ErrorBody, MenuDetail, MenuSummary, RestaurantView};
use testbed_common::cache::cached_json;
use testbed_common::extract::ApiPath;
use testbed_common::{ApiError, ApiResult};

use super::RestaurantState;
use crate::domain::{self, menu_not_found};
use crate::store::{self, menus, restaurants};

pub const TAG: &str = "menus";

fn restaurant_view(r: restaurants::Model) -> RestaurantView {
    RestaurantView {
        id: r.id,
        name: r.name,
        category: r.category,
        address: r.address,
    }
}

/// One menu in detail, with its restaurant's name.
pub fn menu_detail(menu: menus::Model, restaurant: Option<restaurants::Model>) -> MenuDetail {
    MenuDetail {
        id: menu.id,
        restaurant_id: menu.restaurant_id,
        restaurant_name: restaurant.map(|r| r.name),
        name: menu.name,
        description: menu.description,
        price: menu.price,
        stock: menu.stock,
        initial_stock: menu.initial_stock,
    }
}

/// All restaurants.
#[utoipa::path(get, path = "/restaurants", tag = TAG,
    description = "Every restaurant.",
    responses((status = 200, description = "restaurants", body = [RestaurantView]),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
pub async fn list_restaurants(
    State(state): State<RestaurantState>,
) -> ApiResult<Json<Vec<RestaurantView>>> {
    let all = store::all_restaurants(&state.kit.db.conn).await?;
    Ok(Json(all.into_iter().map(restaurant_view).collect()))
}

/// All menus (cached).
#[utoipa::path(get, path = "/menus", tag = TAG,
    description = "Every menu with its current stock. Cached (10 s by default); the response \
                   header `X-Cache` says HIT or MISS. A stock change removes the cached list.",
    responses((status = 200, description = "menus", body = [MenuSummary],
                headers(("X-Cache" = String, description = "HIT or MISS"))),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
pub async fn list_menus(State(state): State<RestaurantState>) -> ApiResult<Response> {
    let db = state.kit.db.conn.clone();
    let (bytes, status) = state
        .kit
        .cache
        .get_or_load(domain::MENUS_KEY, state.menu_list_ttl, async || {
            let all = store::all_menus(&db).await?;
            Ok::<_, ApiError>(
                all.into_iter()
                    .map(|(m, r)| MenuSummary {
                        id: m.id,
                        restaurant_id: m.restaurant_id,
                        restaurant_name: r.map(|r| r.name),
                        name: m.name,
                        price: m.price,
                        stock: m.stock,
                    })
                    .collect::<Vec<_>>(),
            )
        })
        .await?;
    Ok(cached_json(bytes, status))
}

/// One menu (cached).
#[utoipa::path(get, path = "/menus/{id}", tag = TAG,
    description = "One menu in detail. Cached (30 s by default); `X-Cache` says HIT or MISS. A \
                   stock change of this menu removes the cached entry.",
    params(("id" = i64, Path, description = "menu id")),
    responses((status = 200, description = "the menu", body = MenuDetail,
                headers(("X-Cache" = String, description = "HIT or MISS"))),
              (status = 400, description = "the id is not a number", body = ErrorBody),
              (status = 404, description = "no such menu", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
pub async fn get_menu(
    State(state): State<RestaurantState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    let db = state.kit.db.conn.clone();
    let (bytes, status) = state
        .kit
        .cache
        .get_or_load(&domain::menu_key(id), state.menu_ttl, async || {
            let (menu, restaurant) = store::find_menu(&db, id)
                .await?
                .ok_or_else(|| menu_not_found(id))?;
            Ok::<_, ApiError>(menu_detail(menu, restaurant))
        })
        .await?;
    Ok(cached_json(bytes, status))
}
