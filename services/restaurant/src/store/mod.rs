//! Storage of the Restaurant Service: restaurants, menus and the inventory ledger (entities,
//! migrations with seed data) and the queries the domain runs inside its transactions.

pub mod ledger;
pub mod menus;
pub mod migration;
pub mod restaurants;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
    TransactionTrait,
};
use testbed_common::db::Db;

/// What a query answers: its value, or the database's error.
pub type DbResult<T> = Result<T, DbErr>;

/// Ledger entry kinds.
pub const RESERVE: &str = "reserve";
pub const RESTORE: &str = "restore";

/// Reserved and restored totals of one menu.
#[derive(Debug, Default, Clone, Copy, FromQueryResult)]
pub struct LedgerTotals {
    pub reserved: i64,
    pub restored: i64,
}

/// Runs `work` in one write transaction, committed when it succeeds and rolled back when it
/// fails; on SQLite the whole transaction holds the write gate.
pub async fn in_write_transaction<T, E, F>(db: &Db, work: F) -> Result<T, E>
where
    E: From<DbErr>,
    F: for<'t> AsyncFnOnce(&'t DatabaseTransaction) -> Result<T, E>,
{
    let _writer = db.write_guard().await;
    let txn = db.conn.begin().await?;
    match work(&txn).await {
        Ok(value) => {
            txn.commit().await?;
            Ok(value)
        }
        Err(e) => {
            // Rolling back a failed business rule is the normal path; a failed rollback is
            // harmless too (the connection drops the transaction).
            let _ = txn.rollback().await;
            Err(e)
        }
    }
}

/// A menu row, locked for update (`FOR UPDATE` on PostgreSQL; on SQLite the write gate of
/// [`in_write_transaction`] serializes writers instead).
pub async fn lock_menu(db: &impl ConnectionTrait, menu_id: i64) -> DbResult<Option<menus::Model>> {
    menus::Entity::find_by_id(menu_id)
        .lock_exclusive()
        .one(db)
        .await
}

pub async fn find_menu(
    db: &impl ConnectionTrait,
    menu_id: i64,
) -> DbResult<Option<(menus::Model, Option<restaurants::Model>)>> {
    menus::Entity::find_by_id(menu_id)
        .find_also_related(restaurants::Entity)
        .one(db)
        .await
}

pub async fn all_menus(
    db: &impl ConnectionTrait,
) -> DbResult<Vec<(menus::Model, Option<restaurants::Model>)>> {
    menus::Entity::find()
        .find_also_related(restaurants::Entity)
        .order_by_asc(menus::Column::Id)
        .all(db)
        .await
}

pub async fn all_restaurants(db: &impl ConnectionTrait) -> DbResult<Vec<restaurants::Model>> {
    restaurants::Entity::find()
        .order_by_asc(restaurants::Column::Id)
        .all(db)
        .await
}

/// What an order has done to a menu so far: its reservation and its restoration, if any
/// (one query, because it runs while the menu's row lock is held).
#[derive(Debug, Default)]
pub struct OrderEntries {
    pub reserved: Option<ledger::Model>,
    pub restored: Option<ledger::Model>,
}

pub async fn order_entries(
    db: &impl ConnectionTrait,
    menu_id: i64,
    order_id: i64,
) -> DbResult<OrderEntries> {
    let rows = ledger::Entity::find()
        .filter(ledger::Column::MenuId.eq(menu_id))
        .filter(ledger::Column::OrderId.eq(order_id))
        .all(db)
        .await?;
    let mut entries = OrderEntries::default();
    for row in rows {
        match row.kind.as_str() {
            RESERVE => entries.reserved = Some(row),
            RESTORE => entries.restored = Some(row),
            _ => {}
        }
    }
    Ok(entries)
}

/// What a reservation found or did, before it becomes an answer.
#[derive(Debug, PartialEq, Eq)]
pub enum ReserveOutcome {
    /// Stock taken now; `stock` is what is left.
    Reserved {
        price: i64,
        stock: i64,
    },
    /// This order had reserved this menu before (`quantity`); nothing moved.
    Replayed {
        quantity: i64,
        price: i64,
        stock: i64,
    },
    /// This order was compensated already: a late reservation must not take stock.
    Compensated,
    /// Not enough stock; nothing moved.
    Insufficient {
        stock: i64,
    },
    NotFound,
}

/// PostgreSQL: the whole reservation (lock, ledger check, decrement, ledger row) in one
/// round trip and one transaction, through the `reserve_stock` function (see
/// `reserve_stock.sql`: the same steps `domain::Inventory` runs one by one on SQLite).
pub async fn reserve_in_one_call(
    db: &impl ConnectionTrait,
    menu_id: i64,
    order_id: Option<i64>,
    quantity: i64,
) -> DbResult<ReserveOutcome> {
    let row = db
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT outcome, taken, price_now, stock_now FROM reserve_stock($1, $2, $3)",
            [menu_id.into(), order_id.into(), quantity.into()],
        ))
        .await?
        .ok_or_else(|| sea_orm::DbErr::RecordNotFound("reserve_stock returned no row".into()))?;
    let outcome: String = row.try_get("", "outcome")?;
    let number = |column: &str| -> DbResult<i64> {
        Ok(row.try_get::<Option<i64>>("", column)?.unwrap_or(0))
    };
    Ok(match outcome.as_str() {
        "reserved" => ReserveOutcome::Reserved {
            price: number("price_now")?,
            stock: number("stock_now")?,
        },
        "replayed" => ReserveOutcome::Replayed {
            quantity: number("taken")?,
            price: number("price_now")?,
            stock: number("stock_now")?,
        },
        "compensated" => ReserveOutcome::Compensated,
        "insufficient" => ReserveOutcome::Insufficient {
            stock: number("stock_now")?,
        },
        "not_found" => ReserveOutcome::NotFound,
        other => {
            return Err(sea_orm::DbErr::Custom(format!(
                "reserve_stock answered an unknown outcome `{other}`"
            )));
        }
    })
}

/// Adds `delta` to a menu's stock.
pub async fn add_stock(db: &impl ConnectionTrait, menu_id: i64, delta: i64) -> DbResult<()> {
    menus::Entity::update_many()
        .col_expr(
            menus::Column::Stock,
            Expr::col(menus::Column::Stock).add(delta),
        )
        .filter(menus::Column::Id.eq(menu_id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn insert_ledger(
    db: &impl ConnectionTrait,
    menu_id: i64,
    order_id: Option<i64>,
    kind: &str,
    quantity: i64,
) -> DbResult<ledger::Model> {
    ledger::ActiveModel {
        menu_id: Set(menu_id),
        order_id: Set(order_id),
        kind: Set(kind.to_string()),
        quantity: Set(quantity),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Reserved and restored totals per menu (all menus, or one).
pub async fn ledger_totals(
    db: &impl ConnectionTrait,
    menu_id: Option<i64>,
) -> DbResult<Vec<(i64, LedgerTotals)>> {
    #[derive(FromQueryResult)]
    struct Row {
        menu_id: i64,
        kind: String,
        total: Option<i64>,
    }
    let mut query = ledger::Entity::find()
        .select_only()
        .column(ledger::Column::MenuId)
        .column(ledger::Column::Kind)
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(quantity), 0) AS BIGINT)"),
            "total",
        )
        .group_by(ledger::Column::MenuId)
        .group_by(ledger::Column::Kind);
    if let Some(id) = menu_id {
        query = query.filter(ledger::Column::MenuId.eq(id));
    }
    let rows = query.into_model::<Row>().all(db).await?;
    let mut totals: std::collections::BTreeMap<i64, LedgerTotals> = Default::default();
    for row in rows {
        let entry = totals.entry(row.menu_id).or_default();
        match row.kind.as_str() {
            RESERVE => entry.reserved += row.total.unwrap_or(0),
            RESTORE => entry.restored += row.total.unwrap_or(0),
            _ => {}
        }
    }
    Ok(totals.into_iter().collect())
}

/// A new menu whose accounting starts at its stock (on SQLite under the write gate).
pub async fn insert_menu(
    db: &Db,
    restaurant_id: i64,
    name: &str,
    description: Option<&str>,
    price: i64,
    stock: i64,
) -> DbResult<menus::Model> {
    let menu = menus::ActiveModel {
        restaurant_id: Set(restaurant_id),
        name: Set(name.to_string()),
        description: Set(description.map(str::to_string)),
        price: Set(price),
        stock: Set(stock),
        initial_stock: Set(stock),
        ..Default::default()
    };
    let _writer = db.write_guard().await;
    menu.insert(&db.conn).await
}

pub async fn find_restaurant(
    db: &impl ConnectionTrait,
    id: i64,
) -> DbResult<Option<restaurants::Model>> {
    restaurants::Entity::find_by_id(id).one(db).await
}

/// Sets a menu's stock and starts its accounting afresh: initial = stock, ledger emptied.
pub async fn reset_stock(db: &impl ConnectionTrait, menu_id: i64, stock: i64) -> DbResult<()> {
    ledger::Entity::delete_many()
        .filter(ledger::Column::MenuId.eq(menu_id))
        .exec(db)
        .await?;
    menus::Entity::update_many()
        .col_expr(menus::Column::Stock, Expr::value(stock))
        .col_expr(menus::Column::InitialStock, Expr::value(stock))
        .filter(menus::Column::Id.eq(menu_id))
        .exec(db)
        .await?;
    Ok(())
}
