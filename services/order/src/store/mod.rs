//! Storage of the Order Service: orders and their items (entities, migrations) and the
//! queries the saga runs. Status changes are conditional (`WHERE status = <expected>`), so
//! two actors (a request and the recovery loop) can never both move one order. On
//! PostgreSQL the order path's two writes are one statement each ([`postgres`]); SQLite runs
//! the same writes one by one in a transaction.

pub mod instances;
pub mod migration;
pub mod order_items;
pub mod orders;
mod postgres;

use std::collections::BTreeMap;

use contract::OrderStatus;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};
use testbed_common::db::Db;

/// An order with its items.
pub type OrderWithItems = (orders::Model, Vec<order_items::Model>);

/// A new order's fields.
pub struct NewOrder<'a> {
    pub user_id: i64,
    pub address: &'a str,
    pub phone: &'a str,
    pub idempotency_key: Option<&'a str>,
    /// Fingerprint of the keyed request (see `domain::CreateOrder::fingerprint`).
    pub request_fingerprint: Option<&'a str>,
    /// (menu id, quantity), menu ids distinct.
    pub items: &'a [(i64, i64)],
}

/// Inserts an order as PENDING with its items, atomically (one statement on PostgreSQL, a
/// transaction on SQLite, under the write gate), and answers what was written without
/// reading it back. A repeated idempotency key surfaces as `Ok(None)`.
pub async fn insert_pending(
    db: &Db,
    new: NewOrder<'_>,
) -> Result<Option<OrderWithItems>, sea_orm::DbErr> {
    let writer = db.write_guard().await;
    // Microseconds, as PostgreSQL stores them: the answer equals what a read would show.
    let now = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6);
    let inserted = if db.is_sqlite() {
        insert_pending_step_by_step(&db.conn, &new, now).await
    } else {
        postgres::insert_pending(&db.conn, &new, now).await
    };
    drop(writer);
    let (order_id, ids) = match inserted {
        Ok(inserted) => inserted,
        Err(e)
            if matches!(
                e.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let order = orders::Model {
        id: order_id,
        user_id: new.user_id,
        status: OrderStatus::Pending.as_str().into(),
        total: 0,
        address: new.address.to_string(),
        phone: new.phone.to_string(),
        failure_reason: None,
        compensation_pending: false,
        idempotency_key: new.idempotency_key.map(str::to_string),
        request_fingerprint: new.request_fingerprint.map(str::to_string),
        created_at: now,
        updated_at: now,
    };
    let mut items = Vec::with_capacity(ids.len());
    for (item_id, menu_id) in ids {
        let quantity = new
            .items
            .iter()
            .find(|(menu, _)| *menu == menu_id)
            .map(|(_, quantity)| *quantity)
            .ok_or_else(|| {
                sea_orm::DbErr::Custom(format!("line for menu {menu_id} not asked for"))
            })?;
        items.push(order_items::Model {
            id: item_id,
            order_id,
            menu_id,
            quantity,
            unit_price: 0,
        });
    }
    Ok(Some((order, items)))
}

/// SQLite: the order, then each line, in a transaction; the ids assigned, as
/// [`postgres::insert_pending`] answers them.
async fn insert_pending_step_by_step(
    db: &(impl ConnectionTrait + TransactionTrait),
    new: &NewOrder<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(i64, Vec<(i64, i64)>), sea_orm::DbErr> {
    let txn = db.begin().await?;
    let order = orders::ActiveModel {
        user_id: Set(new.user_id),
        status: Set(OrderStatus::Pending.as_str().into()),
        total: Set(0),
        address: Set(new.address.to_string()),
        phone: Set(new.phone.to_string()),
        failure_reason: Set(None),
        compensation_pending: Set(false),
        idempotency_key: Set(new.idempotency_key.map(str::to_string)),
        request_fingerprint: Set(new.request_fingerprint.map(str::to_string)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let mut ids = Vec::with_capacity(new.items.len());
    for &(menu_id, quantity) in new.items {
        let item = order_items::ActiveModel {
            order_id: Set(order.id),
            menu_id: Set(menu_id),
            quantity: Set(quantity),
            unit_price: Set(0),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        ids.push((item.id, menu_id));
    }
    txn.commit().await?;
    Ok((order.id, ids))
}

pub async fn find_order(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<OrderWithItems>, sea_orm::DbErr> {
    let Some(order) = orders::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let items = items_of(db, id).await?;
    Ok(Some((order, items)))
}

pub async fn find_by_idempotency_key(
    db: &impl ConnectionTrait,
    user_id: i64,
    key: &str,
) -> Result<Option<OrderWithItems>, sea_orm::DbErr> {
    let order = orders::Entity::find()
        .filter(orders::Column::UserId.eq(user_id))
        .filter(orders::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?;
    match order {
        Some(order) => {
            let items = items_of(db, order.id).await?;
            Ok(Some((order, items)))
        }
        None => Ok(None),
    }
}

async fn items_of(
    db: &impl ConnectionTrait,
    order_id: i64,
) -> Result<Vec<order_items::Model>, sea_orm::DbErr> {
    order_items::Entity::find()
        .filter(order_items::Column::OrderId.eq(order_id))
        .order_by_asc(order_items::Column::Id)
        .all(db)
        .await
}

/// Records the price an item was reserved at.
async fn set_unit_price(
    db: &impl ConnectionTrait,
    item_id: i64,
    unit_price: i64,
) -> Result<(), sea_orm::DbErr> {
    order_items::Entity::update_many()
        .col_expr(order_items::Column::UnitPrice, Expr::value(unit_price))
        .filter(order_items::Column::Id.eq(item_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The change a transition makes to an order.
pub struct Transition<'a> {
    /// When it happens (stored as `updated_at`).
    pub at: chrono::DateTime<chrono::Utc>,
    pub from: OrderStatus,
    pub to: OrderStatus,
    pub total: Option<i64>,
    pub failure_reason: Option<&'a str>,
    pub compensation_pending: bool,
    /// (item id, unit price) of the lines reserved so far, recorded with the change (and
    /// also when the order was not in `from` any more: a reservation's price is a fact).
    pub prices: &'a [(i64, i64)],
}

impl<'a> Transition<'a> {
    /// PENDING → PAID at `total`, recording the reserved lines' `prices`.
    pub fn paid(at: chrono::DateTime<chrono::Utc>, total: i64, prices: &'a [(i64, i64)]) -> Self {
        Self {
            at,
            from: OrderStatus::Pending,
            to: OrderStatus::Paid,
            total: Some(total),
            failure_reason: None,
            compensation_pending: false,
            prices,
        }
    }

    /// PENDING → FAILED for `reason` (total 0), recording the prices of the lines reserved
    /// before it failed; `compensation_pending` while stock is still to be given back.
    pub fn failed(
        at: chrono::DateTime<chrono::Utc>,
        reason: &'a str,
        compensation_pending: bool,
        prices: &'a [(i64, i64)],
    ) -> Self {
        Self {
            at,
            from: OrderStatus::Pending,
            to: OrderStatus::Failed,
            total: Some(0),
            failure_reason: Some(reason),
            compensation_pending,
            prices,
        }
    }

    /// PAID → CANCELLED; its stock is still to be given back.
    pub fn cancelled(at: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            at,
            from: OrderStatus::Paid,
            to: OrderStatus::Cancelled,
            total: None,
            failure_reason: None,
            compensation_pending: true,
            prices: &[],
        }
    }
}

/// Moves an order from one status to another; false when it was not in `from` any more.
/// With prices and a total on PostgreSQL this is one statement; otherwise the prices, then
/// the status change, in a transaction (on SQLite under the write gate).
pub async fn transition(db: &Db, id: i64, change: Transition<'_>) -> Result<bool, sea_orm::DbErr> {
    let _writer = db.write_guard().await;
    let conn = &db.conn;
    if change.prices.is_empty() {
        return update_status(conn, id, &change).await;
    }
    if !db.is_sqlite() && change.total.is_some() {
        return postgres::transition_with_prices(conn, id, &change).await;
    }
    let txn = conn.begin().await?;
    for &(item_id, price) in change.prices {
        set_unit_price(&txn, item_id, price).await?;
    }
    let moved = update_status(&txn, id, &change).await?;
    txn.commit().await?;
    Ok(moved)
}

async fn update_status(
    db: &impl ConnectionTrait,
    id: i64,
    change: &Transition<'_>,
) -> Result<bool, sea_orm::DbErr> {
    let mut update = orders::Entity::update_many()
        .col_expr(orders::Column::Status, Expr::value(change.to.as_str()))
        .col_expr(
            orders::Column::CompensationPending,
            Expr::value(change.compensation_pending),
        )
        .col_expr(orders::Column::UpdatedAt, Expr::value(change.at))
        .filter(orders::Column::Id.eq(id))
        .filter(orders::Column::Status.eq(change.from.as_str()));
    if let Some(total) = change.total {
        update = update.col_expr(orders::Column::Total, Expr::value(total));
    }
    if let Some(reason) = change.failure_reason {
        update = update.col_expr(orders::Column::FailureReason, Expr::value(reason));
    }
    Ok(update.exec(db).await?.rows_affected == 1)
}

/// Marks an order's compensation as done (on SQLite under the write gate).
pub async fn compensation_done(db: &Db, id: i64) -> Result<(), sea_orm::DbErr> {
    let _writer = db.write_guard().await;
    orders::Entity::update_many()
        .col_expr(orders::Column::CompensationPending, Expr::value(false))
        .col_expr(orders::Column::UpdatedAt, Expr::value(chrono::Utc::now()))
        .filter(orders::Column::Id.eq(id))
        .exec(&db.conn)
        .await?;
    Ok(())
}

/// Orders PENDING since before `older_than`, oldest first.
pub async fn stale_pending(
    db: &impl ConnectionTrait,
    older_than: chrono::DateTime<chrono::Utc>,
    limit: u64,
) -> Result<Vec<orders::Model>, sea_orm::DbErr> {
    let pending = orders::Column::Status.eq(OrderStatus::Pending.as_str());
    let stale = orders::Column::CreatedAt.lt(older_than);
    oldest_orders(db, pending.and(stale), limit).await
}

/// Settled orders whose stock still has to be given back, oldest first.
pub async fn pending_compensations(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<orders::Model>, sea_orm::DbErr> {
    let owed = orders::Column::CompensationPending.eq(true);
    let settled = orders::Column::Status.ne(OrderStatus::Pending.as_str());
    oldest_orders(db, owed.and(settled), limit).await
}

/// Up to `limit` orders that meet `condition`, oldest first.
async fn oldest_orders(
    db: &impl ConnectionTrait,
    condition: sea_orm::sea_query::SimpleExpr,
    limit: u64,
) -> Result<Vec<orders::Model>, sea_orm::DbErr> {
    orders::Entity::find()
        .filter(condition)
        .order_by_asc(orders::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

pub async fn items(
    db: &impl ConnectionTrait,
    order_id: i64,
) -> Result<Vec<order_items::Model>, sea_orm::DbErr> {
    items_of(db, order_id).await
}

/// Counts for audits: orders by status, compensations pending, units per menu in PAID and
/// in PENDING orders, and when the oldest PENDING order was created.
pub struct Stats {
    pub by_status: BTreeMap<OrderStatus, i64>,
    pub compensation_pending: i64,
    pub paid_quantities: BTreeMap<i64, i64>,
    /// Units per menu in orders still PENDING (in flight, or left by an interruption).
    pub pending_quantities: BTreeMap<i64, i64>,
    pub oldest_pending: Option<chrono::DateTime<chrono::Utc>>,
}

/// Units per menu in the orders of one status.
async fn quantities(
    db: &impl ConnectionTrait,
    status: OrderStatus,
) -> Result<BTreeMap<i64, i64>, sea_orm::DbErr> {
    #[derive(FromQueryResult)]
    struct MenuQuantity {
        menu_id: i64,
        quantity: i64,
    }
    let rows = order_items::Entity::find()
        .select_only()
        .column(order_items::Column::MenuId)
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(order_items.quantity), 0) AS BIGINT)"),
            "quantity",
        )
        .inner_join(orders::Entity)
        .filter(orders::Column::Status.eq(status.as_str()))
        .group_by(order_items::Column::MenuId)
        .into_model::<MenuQuantity>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|q| (q.menu_id, q.quantity)).collect())
}

pub async fn stats(db: &impl ConnectionTrait) -> Result<Stats, sea_orm::DbErr> {
    #[derive(FromQueryResult)]
    struct StatusCount {
        status: String,
        compensation_pending: bool,
        count: i64,
    }
    let counts = orders::Entity::find()
        .select_only()
        .column(orders::Column::Status)
        .column(orders::Column::CompensationPending)
        .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "count")
        .group_by(orders::Column::Status)
        .group_by(orders::Column::CompensationPending)
        .into_model::<StatusCount>()
        .all(db)
        .await?;
    let paid_quantities = quantities(db, OrderStatus::Paid).await?;
    let pending_quantities = quantities(db, OrderStatus::Pending).await?;
    // The (status, created_at) index answers this one.
    let oldest_pending = orders::Entity::find()
        .filter(orders::Column::Status.eq(OrderStatus::Pending.as_str()))
        .order_by_asc(orders::Column::CreatedAt)
        .one(db)
        .await?
        .map(|order| order.created_at);
    let mut by_status: BTreeMap<OrderStatus, i64> =
        OrderStatus::ALL.into_iter().map(|s| (s, 0)).collect();
    let mut compensation_pending = 0;
    for row in counts {
        if let Some(status) = OrderStatus::parse(&row.status) {
            *by_status.entry(status).or_default() += row.count;
        }
        if row.compensation_pending {
            compensation_pending += row.count;
        }
    }
    Ok(Stats {
        by_status,
        compensation_pending,
        paid_quantities,
        pending_quantities,
        oldest_pending,
    })
}
