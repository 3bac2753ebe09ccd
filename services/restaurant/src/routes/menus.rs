//! `GET /restaurants`, `GET /menus` (cached 10 s), `GET /menus/{id}` (cached 30 s).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use testbed_common::cache::cached_json;
use testbed_common::error::ErrorBody;
use testbed_common::extract::ApiPath;
use testbed_common::{ApiError, ApiResult};
use utoipa::ToSchema;

use super::RestaurantState;
use crate::domain::{self, menu_not_found};
use crate::store::{self, menus, restaurants};

pub const TAG: &str = "menus";

#[derive(Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": 1, "name": "Gangnam Chicken House", "category": "chicken", "address": "Seoul Gangnam-gu Teheran-ro 152"}))]
pub struct RestaurantView {
    pub id: i64,
    pub name: String,
    pub category: String,
    pub address: String,
}

impl From<restaurants::Model> for RestaurantView {
    fn from(r: restaurants::Model) -> Self {
        Self {
            id: r.id,
            name: r.name,
            category: r.category,
            address: r.address,
        }
    }
}

/// A menu in the list.
#[derive(Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": 1, "restaurant_id": 1, "restaurant_name": "Gangnam Chicken House", "name": "Fried Chicken (huraideu)", "price": 20000, "stock": 999998}))]
pub struct MenuSummary {
    pub id: i64,
    pub restaurant_id: i64,
    pub restaurant_name: Option<String>,
    pub name: String,
    /// Price in won.
    pub price: i64,
    pub stock: i64,
}

/// One menu in detail.
#[derive(Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": 1, "restaurant_id": 1, "restaurant_name": "Gangnam Chicken House", "name": "Fried Chicken (huraideu)", "description": "Crispy whole fried chicken", "price": 20000, "stock": 999998, "initial_stock": 1000000}))]
pub struct MenuDetail {
    pub id: i64,
    pub restaurant_id: i64,
    pub restaurant_name: Option<String>,
    pub name: String,
    pub description: Option<String>,
    /// Price in won.
    pub price: i64,
    pub stock: i64,
    pub initial_stock: i64,
}

impl MenuDetail {
    pub fn new(menu: menus::Model, restaurant: Option<restaurants::Model>) -> Self {
        Self {
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
    Ok(Json(all.into_iter().map(Into::into).collect()))
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
            Ok::<_, ApiError>(MenuDetail::new(menu, restaurant))
        })
        .await?;
    Ok(cached_json(bytes, status))
}
