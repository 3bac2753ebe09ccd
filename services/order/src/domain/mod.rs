//! Order rules: why an order fails, what a valid order request is, and the order as
//! clients see it (the wire types themselves, `OrderStatus` among them, are the contract's). The saga that moves orders lives in [`saga`], the recovery
//! loop in [`recovery`].

mod audit;
pub mod recovery;
pub mod saga;

use axum::http::StatusCode;
use contract::{CreateOrder, FailedOrder, OrderItemView, OrderStatus, OrderView};
use testbed_common::ApiError;

use crate::store::OrderWithItems;

/// Why an order ended FAILED.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureReason {
    PaymentDeclined,
    OutOfStock,
    UnknownMenu,
    RestaurantTimeout,
    RestaurantUnavailable,
    /// Left PENDING by a crash and finished by the recovery loop.
    Recovered,
}

impl FailureReason {
    pub fn code(self) -> &'static str {
        match self {
            FailureReason::PaymentDeclined => "payment_declined",
            FailureReason::OutOfStock => "out_of_stock",
            FailureReason::UnknownMenu => "unknown_menu",
            FailureReason::RestaurantTimeout => "restaurant_timeout",
            FailureReason::RestaurantUnavailable => "restaurant_unavailable",
            FailureReason::Recovered => "recovered",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        [
            FailureReason::PaymentDeclined,
            FailureReason::OutOfStock,
            FailureReason::UnknownMenu,
            FailureReason::RestaurantTimeout,
            FailureReason::RestaurantUnavailable,
            FailureReason::Recovered,
        ]
        .into_iter()
        .find(|r| r.code() == code)
    }

    /// The status a client gets for an order that failed this way.
    pub fn status(self) -> StatusCode {
        match self {
            FailureReason::PaymentDeclined => StatusCode::PAYMENT_REQUIRED,
            FailureReason::OutOfStock => StatusCode::CONFLICT,
            FailureReason::UnknownMenu => StatusCode::UNPROCESSABLE_ENTITY,
            FailureReason::RestaurantTimeout => StatusCode::GATEWAY_TIMEOUT,
            FailureReason::RestaurantUnavailable | FailureReason::Recovered => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            FailureReason::PaymentDeclined => "the payment was declined; the stock was given back",
            FailureReason::OutOfStock => "a menu in the order is out of stock; nothing was taken",
            FailureReason::UnknownMenu => "the order names a menu that does not exist",
            FailureReason::RestaurantTimeout => {
                "the Restaurant Service did not answer in time; any stock taken is given back"
            }
            FailureReason::RestaurantUnavailable => {
                "the Restaurant Service is unavailable; any stock taken is given back"
            }
            FailureReason::Recovered => {
                "the order was interrupted and finished by recovery; its stock was given back"
            }
        }
    }
}

pub const MAX_LINES: usize = 20;
pub const MAX_QUANTITY: i64 = 100;

/// Checks an order request and returns its lines as (menu id, quantity), one per menu,
/// ordered by menu id.
pub fn validated_lines(order: &CreateOrder) -> Result<Vec<(i64, i64)>, ApiError> {
    if order.items.is_empty() {
        return Err(ApiError::validation("`items` must not be empty"));
    }
    if order.items.len() > MAX_LINES {
        return Err(ApiError::validation(format!(
            "an order has at most {MAX_LINES} lines"
        )));
    }
    let mut lines = std::collections::BTreeMap::<i64, i64>::new();
    for line in &order.items {
        if line.menu_id <= 0 {
            return Err(ApiError::validation("`menu_id` must be a positive id"));
        }
        if !(1..=MAX_QUANTITY).contains(&line.quantity) {
            return Err(ApiError::validation(format!(
                "`quantity` must be from 1 to {MAX_QUANTITY}"
            )));
        }
        *lines.entry(line.menu_id).or_default() += line.quantity;
    }
    if lines.values().any(|q| *q > MAX_QUANTITY) {
        return Err(ApiError::validation(format!(
            "at most {MAX_QUANTITY} of one menu per order"
        )));
    }
    let address = order.address.trim();
    if address.is_empty() || address.chars().count() > 200 {
        return Err(ApiError::validation("`address` must be 1–200 characters"));
    }
    let phone_ok = (7..=20).contains(&order.phone.len())
        && order
            .phone
            .chars()
            .all(|c| c.is_ascii_digit() || c == '-' || c == '+' || c == ' ')
        && order.phone.chars().filter(char::is_ascii_digit).count() >= 7;
    if !phone_ok {
        return Err(ApiError::validation(
            "`phone` must be 7–20 characters of digits, spaces, `-` or `+`",
        ));
    }
    Ok(lines.into_iter().collect())
}

/// SHA-256 (hex) of the request as understood: the user, the `lines` from
/// [`validated_lines`] (merged per menu, ordered), the trimmed address and the phone.
/// Bodies that mean the same order share it; a reused `Idempotency-Key` with another
/// fingerprint is a different request.
pub fn fingerprint(order: &CreateOrder, user_id: i64, lines: &[(i64, i64)]) -> String {
    use sha2::{Digest, Sha256};
    let canonical = serde_json::json!([1, user_id, lines, order.address.trim(), order.phone]);
    Sha256::digest(canonical.to_string().as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// An order as clients see it.
pub fn order_view((order, items): OrderWithItems) -> OrderView {
    OrderView {
        id: order.id,
        user_id: order.user_id,
        status: OrderStatus::parse(&order.status).unwrap_or(OrderStatus::Pending),
        items: items
            .into_iter()
            .map(|i| OrderItemView {
                menu_id: i.menu_id,
                quantity: i.quantity,
                unit_price: i.unit_price,
            })
            .collect(),
        total: order.total,
        address: order.address,
        phone: order.phone,
        failure_reason: order.failure_reason,
        compensation_pending: order.compensation_pending,
        created_at: order.created_at,
        updated_at: order.updated_at,
    }
}

/// The answer for a settled order: none when it did not fail, else the JSON error whose
/// details are the [`FailedOrder`].
pub fn failure(view: &OrderView) -> Option<ApiError> {
    if view.status != OrderStatus::Failed {
        return None;
    }
    let reason = view
        .failure_reason
        .as_deref()
        .and_then(FailureReason::parse)
        .unwrap_or(FailureReason::Recovered);
    let details = FailedOrder {
        order_id: view.id,
        status: OrderStatus::Failed,
        failure_reason: reason.code().to_string(),
        order: view.clone(),
    };
    Some(ApiError::new(reason.status(), reason.code(), reason.message()).with_details(&details))
}

/// Cache key of one order.
pub fn order_key(order_id: i64) -> String {
    format!("order:{order_id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::OrderLine;

    fn order(items: Vec<(i64, i64)>, phone: &str) -> CreateOrder {
        CreateOrder {
            items: items
                .into_iter()
                .map(|(menu_id, quantity)| OrderLine { menu_id, quantity })
                .collect(),
            address: "Seoul".into(),
            phone: phone.into(),
        }
    }

    #[test]
    fn merges_lines_per_menu() {
        let lines = validated_lines(&order(vec![(3, 1), (1, 2), (3, 4)], "010-1234-5678")).unwrap();
        assert_eq!(lines, vec![(1, 2), (3, 5)]);
    }

    #[test]
    fn rejects_bad_orders() {
        assert!(validated_lines(&order(vec![], "010-1234-5678")).is_err());
        assert!(validated_lines(&order(vec![(1, 0)], "010-1234-5678")).is_err());
        assert!(validated_lines(&order(vec![(1, 101)], "010-1234-5678")).is_err());
        assert!(validated_lines(&order(vec![(1, 60), (1, 60)], "010-1234-5678")).is_err());
        assert!(validated_lines(&order(vec![(-1, 1)], "010-1234-5678")).is_err());
        assert!(validated_lines(&order(vec![(1, 1)], "call me")).is_err());
    }

    #[test]
    fn fingerprints_tell_requests_apart() {
        let print = |order: CreateOrder, user: i64| {
            let lines = validated_lines(&order).unwrap();
            fingerprint(&order, user, &lines)
        };
        let first = print(order(vec![(1, 2), (3, 1)], "010-1234-5678"), 7);
        assert_eq!(first.len(), 64);
        // The same order written differently: lines reordered or split.
        assert_eq!(
            first,
            print(order(vec![(3, 1), (1, 1), (1, 1)], "010-1234-5678"), 7)
        );
        assert_ne!(
            first,
            print(order(vec![(1, 3), (3, 1)], "010-1234-5678"), 7)
        );
        assert_ne!(
            first,
            print(order(vec![(1, 2), (3, 1)], "010-1234-0000"), 7)
        );
        assert_ne!(
            first,
            print(order(vec![(1, 2), (3, 1)], "010-1234-5678"), 8)
        );
    }

    #[test]
    fn failure_reasons_round_trip() {
        for reason in [
            FailureReason::PaymentDeclined,
            FailureReason::OutOfStock,
            FailureReason::Recovered,
        ] {
            assert_eq!(FailureReason::parse(reason.code()), Some(reason));
        }
        assert_eq!(
            FailureReason::PaymentDeclined.status(),
            StatusCode::PAYMENT_REQUIRED
        );
    }
}
