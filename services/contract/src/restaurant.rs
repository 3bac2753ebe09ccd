//! Restaurant Service bodies: restaurants and menus, stock reservations and restorations
//! (the Order Service's internal calls), the stock audit, and the admin setup calls.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A restaurant in `GET /restaurants`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": 1, "name": "Gangnam Chicken House", "category": "chicken", "address": "Seoul Gangnam-gu Teheran-ro 152"}))]
pub struct RestaurantView {
    pub id: i64,
    pub name: String,
    pub category: String,
    pub address: String,
}

/// A menu in `GET /menus`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
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

/// One menu in detail (`GET /menus/{id}`, `POST /admin/menus`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
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

/// `POST /admin/menus`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restaurant_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl CreateMenuRequest {
    /// A menu of restaurant 1 without a description.
    pub fn new(name: impl Into<String>, price: i64, stock: i64) -> Self {
        Self {
            name: name.into(),
            price,
            stock,
            restaurant_id: None,
            description: None,
        }
    }
}

/// `PUT /admin/menus/{id}/stock`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"stock": 100}))]
pub struct SetStockRequest {
    /// New stock, 0–1000000000.
    #[schema(minimum = 0, maximum = 1000000000)]
    pub stock: i64,
}

/// `PUT /inventory/{menuId}`: take stock for an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"quantity": 2, "order_id": 42}))]
pub struct ReserveRequest {
    /// Units to take, 1–10000.
    #[schema(minimum = 1, maximum = 10000)]
    pub quantity: i64,
    /// The order this is for; makes the call idempotent (a repeat moves nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<i64>,
}

/// What a reservation did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"menu_id": 1, "order_id": 42, "quantity": 2, "unit_price": 20000, "stock": 998, "replayed": false}))]
pub struct Reservation {
    pub menu_id: i64,
    pub order_id: Option<i64>,
    pub quantity: i64,
    /// The menu's price at reservation time, in won (orders take prices from here).
    pub unit_price: i64,
    /// Stock after the reservation.
    pub stock: i64,
    /// True when this order had already reserved this menu and nothing moved now.
    pub replayed: bool,
}

/// `POST /inventory/{menuId}/restore`: give back what an order reserved (compensation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"order_id": 42, "quantity": 2}))]
pub struct RestoreRequest {
    /// The order whose reservation is given back.
    pub order_id: i64,
    /// Units to give back; at most what the order reserved. Absent: all of it.
    #[schema(minimum = 1, maximum = 10000)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
}

/// What a restoration did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"menu_id": 1, "order_id": 42, "restored": 2, "stock": 1000, "replayed": false}))]
pub struct Restoration {
    pub menu_id: i64,
    pub order_id: i64,
    /// Units given back now (0 when the order had reserved nothing or was restored before).
    pub restored: i64,
    pub stock: i64,
    /// True when this order's stock had already been restored and nothing moved now.
    pub replayed: bool,
}

/// The audit figures of one menu (`GET /inventory/{menuId}`, `GET /inventory`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"menu_id": 1, "name": "Tteokbokki", "stock": 96, "initial_stock": 100, "reserved": 6, "restored": 2, "drift": 0}))]
pub struct StockAudit {
    pub menu_id: i64,
    pub name: String,
    pub stock: i64,
    pub initial_stock: i64,
    /// Units taken by reservations since accounting started.
    pub reserved: i64,
    /// Units given back by restorations.
    pub restored: i64,
    /// stock − (initial − reserved + restored); 0 when the books balance.
    pub drift: i64,
}
