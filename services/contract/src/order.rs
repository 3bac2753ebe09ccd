//! Order Service bodies: placing an order, the order as clients see it, the error body of
//! a failed order, and the counts used for stock reconciliation.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The states of an order. PENDING → PAID → CANCELLED, or PENDING → FAILED. On the wire
/// (and in the database) each is its upper-case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum OrderStatus {
    Pending,
    Paid,
    Failed,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 4] = [
        OrderStatus::Pending,
        OrderStatus::Paid,
        OrderStatus::Failed,
        OrderStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "PENDING",
            OrderStatus::Paid => "PAID",
            OrderStatus::Failed => "FAILED",
            OrderStatus::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Ordered by name, so a map keyed by status (`by_status`) lists its keys in the same
/// order as when they were plain strings.
impl Ord for OrderStatus {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for OrderStatus {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One line of an order request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    #[schema(minimum = 1)]
    pub menu_id: i64,
    /// 1–100.
    #[schema(minimum = 1, maximum = 100)]
    pub quantity: i64,
}

/// `POST /orders` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"items": [{"menu_id": 1, "quantity": 2}], "address": "Seoul Gangnam-gu 123-45", "phone": "010-1234-5678"}))]
pub struct CreateOrder {
    /// 1–20 lines; lines for the same menu are added together.
    #[schema(min_items = 1, max_items = 20)]
    pub items: Vec<OrderLine>,
    /// 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub address: String,
    /// 7–20 characters: digits, spaces, `-` or `+`, at least 7 digits.
    #[schema(min_length = 7, max_length = 20, pattern = r"^[0-9 +-]{7,20}$")]
    pub phone: String,
}

impl CreateOrder {
    /// An order of these (menu id, quantity) lines to a fixed test address and phone.
    pub fn of(lines: &[(i64, i64)]) -> Self {
        Self {
            items: lines
                .iter()
                .map(|&(menu_id, quantity)| OrderLine { menu_id, quantity })
                .collect(),
            address: "Seoul Gangnam-gu 123-45".into(),
            phone: "010-1234-5678".into(),
        }
    }
}

/// An order line as clients see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OrderItemView {
    pub menu_id: i64,
    pub quantity: i64,
    /// Price per unit in won, as the Restaurant Service answered (0 if never reserved).
    pub unit_price: i64,
}

/// An order as clients see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": 42, "user_id": 7, "status": "PAID", "items": [{"menu_id": 1, "quantity": 2, "unit_price": 20000}], "total": 40000, "address": "Seoul Gangnam-gu 123-45", "phone": "010-1234-5678", "failure_reason": null, "compensation_pending": false, "created_at": "2026-11-28T01:00:00Z", "updated_at": "2026-11-28T01:00:00Z"}))]
pub struct OrderView {
    pub id: i64,
    pub user_id: i64,
    pub status: OrderStatus,
    pub items: Vec<OrderItemView>,
    /// Sum of quantity × unit price, in won.
    pub total: i64,
    pub address: String,
    pub phone: String,
    /// Why a FAILED order failed.
    pub failure_reason: Option<String>,
    /// True while stock taken for this order is still being given back.
    pub compensation_pending: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// The details of the error body `POST /orders` answers for an order that ended FAILED
/// (next to `error` and `message`): which order, why, and the order itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailedOrder {
    pub order_id: i64,
    /// Always FAILED.
    pub status: OrderStatus,
    /// The failure's code, also the body's `error`.
    pub failure_reason: String,
    pub order: OrderView,
}

/// `GET /orders/stats`: counts for audits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"by_status": {"PENDING": 0, "PAID": 70, "FAILED": 30, "CANCELLED": 5}, "compensation_pending": 0, "paid_quantities": {"1": 140}, "pending_quantities": {"1": 2}, "oldest_pending_age_ms": 35}))]
pub struct OrderStats {
    /// Orders per status (every status present, 0 when none).
    #[schema(value_type = BTreeMap<String, i64>)]
    pub by_status: BTreeMap<OrderStatus, i64>,
    /// Settled orders whose stock is still being given back.
    pub compensation_pending: i64,
    /// Units per menu id in PAID orders.
    #[schema(value_type = BTreeMap<String, i64>)]
    pub paid_quantities: BTreeMap<i64, i64>,
    /// Units per menu id in PENDING orders (stock they may hold while in flight).
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, i64>)]
    pub pending_quantities: BTreeMap<i64, i64>,
    /// How long ago the oldest PENDING order was created, in ms; absent when none is (or an
    /// older Order Service that does not say).
    #[serde(default)]
    pub oldest_pending_age_ms: Option<i64>,
}

impl OrderStats {
    /// Orders in `status`.
    pub fn count(&self, status: OrderStatus) -> i64 {
        self.by_status.get(&status).copied().unwrap_or(0)
    }

    /// Units of `menu_id` in PAID orders.
    pub fn sold(&self, menu_id: i64) -> i64 {
        self.paid_quantities.get(&menu_id).copied().unwrap_or(0)
    }

    /// Units of `menu_id` in PENDING orders.
    pub fn in_flight(&self, menu_id: i64) -> i64 {
        self.pending_quantities.get(&menu_id).copied().unwrap_or(0)
    }

    /// Nothing PENDING and no compensation outstanding.
    pub fn settled(&self) -> bool {
        self.count(OrderStatus::Pending) == 0 && self.compensation_pending == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_are_their_upper_case_names_on_the_wire() {
        for status in OrderStatus::ALL {
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                json!(status.as_str())
            );
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(OrderStatus::parse("paid"), None);
    }

    #[test]
    fn stats_keep_string_keys_on_the_wire() {
        let wire = json!({"by_status": {"CANCELLED": 1, "FAILED": 2, "PAID": 3, "PENDING": 0},
            "compensation_pending": 0, "paid_quantities": {"7": 30},
            "pending_quantities": {"7": 2}, "oldest_pending_age_ms": 35});
        let stats: OrderStats = serde_json::from_value(wire.clone()).expect("parses");
        assert_eq!(stats.count(OrderStatus::Paid), 3);
        assert_eq!(stats.sold(7), 30);
        assert_eq!(stats.in_flight(7), 2);
        assert!(stats.settled());
        assert_eq!(
            serde_json::to_value(&stats).unwrap(),
            wire,
            "the same body back"
        );
    }
}
