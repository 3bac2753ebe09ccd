//! Restaurants and menus as callers read them: the menu list and each menu cached (the TTLs
//! come from the configuration, `X-Cache` from the cache), and the rules of a new menu
//! (name, price and stock bounds, an existing restaurant). Creating a menu removes the cached
//! list; stock changes are [`super::Inventory`]'s and invalidate there.

use std::time::Duration;

use bytes::Bytes;
use contract::{CreateMenuRequest, MenuDetail, MenuSummary, RestaurantView};
use testbed_common::ApiError;
use testbed_common::cache::{Cache, CacheStatus};
use testbed_common::db::Db;

use super::{MENUS_KEY, menu_key, menu_not_found};
use crate::store::{self, menus, restaurants};

/// The catalogue, with the state it needs.
#[derive(Clone)]
pub struct Catalog {
    pub db: Db,
    pub cache: Cache,
    pub menu_list_ttl: Duration,
    pub menu_ttl: Duration,
}

impl Catalog {
    /// Every restaurant.
    pub async fn restaurants(&self) -> Result<Vec<RestaurantView>, ApiError> {
        let all = store::all_restaurants(&self.db.conn).await?;
        Ok(all.into_iter().map(restaurant_view).collect())
    }

    /// Every menu with its stock, as cached JSON.
    pub async fn menus(&self) -> Result<(Bytes, CacheStatus), ApiError> {
        let db = self.db.conn.clone();
        self.cache
            .get_or_load(MENUS_KEY, self.menu_list_ttl, async || {
                let all = store::all_menus(&db).await?;
                Ok::<_, ApiError>(all.into_iter().map(menu_summary).collect::<Vec<_>>())
            })
            .await
    }

    /// One menu in detail, as cached JSON (404 when it does not exist).
    pub async fn menu(&self, id: i64) -> Result<(Bytes, CacheStatus), ApiError> {
        let db = self.db.conn.clone();
        self.cache
            .get_or_load(&menu_key(id), self.menu_ttl, async || {
                let (menu, restaurant) = store::find_menu(&db, id)
                    .await?
                    .ok_or_else(|| menu_not_found(id))?;
                Ok::<_, ApiError>(menu_detail(menu, restaurant))
            })
            .await
    }

    /// A new menu with its starting stock (its accounting starts there).
    pub async fn create_menu(&self, request: &CreateMenuRequest) -> Result<MenuDetail, ApiError> {
        let name = check_new_menu(request)?;
        let restaurant_id = request.restaurant_id.unwrap_or(1);
        let restaurant = store::find_restaurant(&self.db.conn, restaurant_id)
            .await?
            .ok_or_else(|| {
                ApiError::not_found(format!("restaurant {restaurant_id} does not exist"))
            })?;
        let menu = store::insert_menu(
            &self.db,
            restaurant_id,
            name,
            request.description.as_deref(),
            request.price,
            request.stock,
        )
        .await?;
        self.cache.delete(&[MENUS_KEY.to_string()]).await;
        Ok(menu_detail(menu, Some(restaurant)))
    }
}

/// The rules of a new menu; its trimmed name when they hold.
fn check_new_menu(request: &CreateMenuRequest) -> Result<&str, ApiError> {
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::validation("`name` must be 1–200 characters"));
    }
    if !(0..=10_000_000).contains(&request.price) {
        return Err(ApiError::validation("`price` must be from 0 to 10000000"));
    }
    if !(0..=1_000_000_000).contains(&request.stock) {
        return Err(ApiError::validation("`stock` must be from 0 to 1000000000"));
    }
    Ok(name)
}

fn restaurant_view(r: restaurants::Model) -> RestaurantView {
    RestaurantView {
        id: r.id,
        name: r.name,
        category: r.category,
        address: r.address,
    }
}

fn menu_summary((menu, restaurant): (menus::Model, Option<restaurants::Model>)) -> MenuSummary {
    MenuSummary {
        id: menu.id,
        restaurant_id: menu.restaurant_id,
        restaurant_name: restaurant.map(|r| r.name),
        name: menu.name,
        price: menu.price,
        stock: menu.stock,
    }
}

/// One menu in detail, with its restaurant's name.
fn menu_detail(menu: menus::Model, restaurant: Option<restaurants::Model>) -> MenuDetail {
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
