//! The order path's two writes as one PostgreSQL statement each: the PENDING order with its
//! lines (data-modifying CTEs: one round trip, one implicit transaction, nothing read back
//! but the ids the database assigned), and a status change with the reserved prices folded
//! in. SQLite has no data-modifying CTEs; `store` runs the same writes there one by one in a
//! transaction.

use std::fmt::Write as _;

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use super::{NewOrder, Transition};

/// The first placeholder after the order's own six values in [`insert_pending`].
const FIRST_LINE_PARAM: usize = 7;

/// The statement for an order with `lines` lines (one text per line count, so each is
/// prepared once per connection and then reused from sqlx's statement cache).
fn insert_pending_sql(lines: usize) -> String {
    let mut sql = String::from(
        "WITH new_order AS (\
           INSERT INTO orders (user_id, status, total, address, phone, compensation_pending, \
                               idempotency_key, request_fingerprint, created_at, updated_at) \
           VALUES ($1, 'PENDING', 0, $2, $3, FALSE, $4, $5, $6, $6) RETURNING id), \
         new_items AS (\
           INSERT INTO order_items (order_id, menu_id, quantity, unit_price) \
           SELECT new_order.id, line.menu_id, line.quantity, 0 FROM new_order, (VALUES ",
    );
    for i in 0..lines {
        let menu = FIRST_LINE_PARAM + 2 * i;
        let separator = if i == 0 { "" } else { ", " };
        let _ = write!(sql, "{separator}(${menu}::bigint, ${}::bigint)", menu + 1);
    }
    sql.push_str(
        ") AS line(menu_id, quantity) RETURNING id, order_id, menu_id) \
         SELECT id, order_id, menu_id FROM new_items ORDER BY id",
    );
    sql
}

/// Inserts the PENDING order and its lines in one statement; returns the order id and
/// (item id, menu id) per line in id order. A repeated idempotency key is the unique
/// violation the caller turns into "replay".
pub async fn insert_pending(
    db: &impl ConnectionTrait,
    new: &NewOrder<'_>,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(i64, Vec<(i64, i64)>), sea_orm::DbErr> {
    let mut values: Vec<Value> = vec![
        new.user_id.into(),
        new.address.into(),
        new.phone.into(),
        new.idempotency_key.map(str::to_string).into(),
        new.request_fingerprint.map(str::to_string).into(),
        at.into(),
    ];
    for &(menu_id, quantity) in new.items {
        values.push(menu_id.into());
        values.push(quantity.into());
    }
    let sql = insert_pending_sql(new.items.len());
    let rows = db.query_all(postgres(sql, values)).await?;
    let mut order_id = None;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        order_id = Some(row.try_get::<i64>("", "order_id")?);
        items.push((
            row.try_get::<i64>("", "id")?,
            row.try_get::<i64>("", "menu_id")?,
        ));
    }
    let order_id = order_id.ok_or_else(|| sea_orm::DbErr::RecordNotInserted)?;
    Ok((order_id, items))
}

/// The statement for a transition that also records `prices` lines' unit prices.
fn transition_sql(prices: usize, failure_reason: bool) -> String {
    let mut sql = String::from(
        "WITH priced AS (\
           UPDATE order_items SET unit_price = price.unit_price \
           FROM (VALUES ",
    );
    // $1 id, $2 from, $3 to, $4 total, $5 compensation_pending, $6 updated_at,
    // then [$7 failure_reason], then (item id, price) pairs.
    let first = if failure_reason { 8 } else { 7 };
    for i in 0..prices {
        let item = first + 2 * i;
        let separator = if i == 0 { "" } else { ", " };
        let _ = write!(sql, "{separator}(${item}::bigint, ${}::bigint)", item + 1);
    }
    sql.push_str(
        ") AS price(item_id, unit_price) \
           WHERE order_items.id = price.item_id AND order_items.order_id = $1), \
         moved AS (\
           UPDATE orders SET status = $3, total = $4, compensation_pending = $5, updated_at = $6",
    );
    if failure_reason {
        sql.push_str(", failure_reason = $7");
    }
    sql.push_str(
        " WHERE id = $1 AND status = $2 RETURNING id) \
         SELECT CAST(COUNT(*) AS BIGINT) AS moved FROM moved",
    );
    sql
}

/// Records the unit prices (whatever the status, as each reservation's answer is a fact)
/// and moves the order from `change.from` to `change.to`, in one statement; false when the
/// order was not in `change.from` any more. `change.total` must be set.
pub async fn transition_with_prices(
    db: &impl ConnectionTrait,
    id: i64,
    change: &Transition<'_>,
) -> Result<bool, sea_orm::DbErr> {
    let mut values: Vec<Value> = vec![
        id.into(),
        change.from.as_str().into(),
        change.to.as_str().into(),
        change.total.unwrap_or(0).into(),
        change.compensation_pending.into(),
        change.at.into(),
    ];
    if let Some(reason) = change.failure_reason {
        values.push(reason.into());
    }
    for &(item_id, price) in change.prices {
        values.push(item_id.into());
        values.push(price.into());
    }
    let sql = transition_sql(change.prices.len(), change.failure_reason.is_some());
    let row = db.query_one(postgres(sql, values)).await?;
    let moved = match row {
        Some(row) => row.try_get::<i64>("", "moved")?,
        None => 0,
    };
    Ok(moved == 1)
}

/// A PostgreSQL statement with its values.
fn postgres(sql: String, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_placeholder_pair_per_line() {
        let sql = insert_pending_sql(2);
        assert!(sql.contains("($7::bigint, $8::bigint), ($9::bigint, $10::bigint)"));
        assert!(!sql.contains("$11"));
        let sql = transition_sql(1, true);
        assert!(sql.contains("failure_reason = $7"));
        assert!(sql.contains("($8::bigint, $9::bigint)"));
        let sql = transition_sql(2, false);
        assert!(sql.contains("($7::bigint, $8::bigint), ($9::bigint, $10::bigint)"));
    }
}
