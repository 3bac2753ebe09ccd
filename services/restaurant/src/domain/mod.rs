//! The Restaurant Service's domain: [`Inventory`] (this module) owns the stock rules —
//! reserving stock for an order under the menu's row lock, giving it back (compensation),
//! both idempotent per order, the audit identity stock = initial − reserved + restored — and
//! removes the cached reads a stock change made stale; [`catalog::Catalog`] owns restaurants
//! and menus (cached reads, the rules of a new menu). Routes call these two and nothing
//! below them.
//!
//! Lock discipline: on PostgreSQL the menu row is locked with `SELECT … FOR UPDATE` for the
//! whole transaction and the injected inventory delay runs while it is held, so the switch
//! shows real lock contention. SQLite has no row locks, so there a per-menu async mutex gives
//! the same per-menu exclusion (and the delay runs under it), and the database's write gate
//! serializes the short write transactions. On PostgreSQL a reservation without the delay
//! runs the same steps in one round trip (`store::reserve_in_one_call`): the lock is held
//! for the server-side work only, never across a network round trip.

pub mod catalog;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use contract::{Reservation, Restoration, StockAudit};
use sea_orm::DatabaseTransaction;
use testbed_common::ApiError;
use testbed_common::cache::Cache;
use testbed_common::chaos::Switch;
use testbed_common::db::Db;

use crate::store::{self, RESERVE, RESTORE, ReserveOutcome, menus};

/// The largest quantity one call may move: anything above is a caller's mistake.
pub const MAX_QUANTITY: i64 = 10_000;

/// Cache key of the menu list.
pub const MENUS_KEY: &str = "menus";

/// Cache key of one menu.
pub fn menu_key(menu_id: i64) -> String {
    format!("menu:{menu_id}")
}

/// Per-menu async locks, used where the database has no row locks (SQLite).
#[derive(Clone, Default)]
pub struct MenuLocks {
    locks: Arc<Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>>,
}

impl MenuLocks {
    fn lock_for(&self, menu_id: i64) -> Arc<tokio::sync::Mutex<()>> {
        match self.locks.lock() {
            Ok(mut map) => map.entry(menu_id).or_default().clone(),
            // A poisoned map only means another task panicked mid-insert; a fresh mutex
            // still excludes everyone who gets it from the map later.
            Err(poisoned) => poisoned.into_inner().entry(menu_id).or_default().clone(),
        }
    }
}

/// The stock operations, with the state they need.
#[derive(Clone)]
pub struct Inventory {
    pub db: Db,
    pub cache: Cache,
    pub locks: MenuLocks,
    pub delay: Arc<Switch>,
}

fn check_quantity(quantity: i64) -> Result<(), ApiError> {
    if quantity <= 0 {
        return Err(ApiError::validation("`quantity` must be at least 1"));
    }
    if quantity > MAX_QUANTITY {
        return Err(ApiError::validation(format!(
            "`quantity` must be at most {MAX_QUANTITY}"
        )));
    }
    Ok(())
}

impl Inventory {
    /// Removes the cached reads a stock change of `menu_id` made stale. Called after the
    /// change committed, so no reader can cache the old value again afterwards (beyond the
    /// commit window).
    async fn invalidate_menu(&self, menu_id: i64) {
        self.cache
            .delete(&[MENUS_KEY.to_string(), menu_key(menu_id)])
            .await;
    }

    /// Runs `work` with the menu row exclusively held (404 when it does not exist), the
    /// injected delay spent inside the hold, in one write transaction committed on success
    /// (`store` takes the SQLite write gate around it).
    async fn with_menu_locked<T, F>(&self, menu_id: i64, work: F) -> Result<T, ApiError>
    where
        F: for<'t> AsyncFnOnce(&'t DatabaseTransaction, menus::Model) -> Result<T, ApiError>,
    {
        let delay = Duration::from_millis(self.delay.get());
        let sqlite_lock = self.db.is_sqlite().then(|| self.locks.lock_for(menu_id));
        let _menu_guard = match &sqlite_lock {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        if sqlite_lock.is_some() && !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        store::in_write_transaction(&self.db, async |txn| {
            let menu = store::lock_menu(txn, menu_id)
                .await?
                .ok_or_else(|| menu_not_found(menu_id))?;
            if sqlite_lock.is_none() && !delay.is_zero() {
                // PostgreSQL: the row lock is held now, so the delay shows contention.
                tokio::time::sleep(delay).await;
            }
            work(txn, menu).await
        })
        .await
    }

    /// Takes `quantity` from a menu's stock for an order (idempotent per order and menu).
    ///
    /// On PostgreSQL without the injected delay, the steps run in one round trip (the
    /// `reserve_stock` function); otherwise — SQLite, or the delay that must be spent while
    /// the lock is held — one by one in a transaction. Both follow the same rules.
    pub async fn reserve_stock(
        &self,
        menu_id: i64,
        quantity: i64,
        order_id: Option<i64>,
    ) -> Result<Reservation, ApiError> {
        check_quantity(quantity)?;
        let outcome = if !self.db.is_sqlite() && self.delay.get() == 0 {
            store::reserve_in_one_call(&self.db.conn, menu_id, order_id, quantity).await?
        } else {
            self.with_menu_locked(menu_id, async |txn, menu| {
                reserve_step_by_step(txn, menu, order_id, quantity).await
            })
            .await?
        };
        let reserved = reservation(menu_id, order_id, quantity, outcome)?;
        if !reserved.replayed {
            self.invalidate_menu(menu_id).await;
        }
        Ok(reserved)
    }

    /// Gives back what an order reserved of a menu (idempotent; never more than reserved).
    ///
    /// Also records the restoration when nothing was reserved, so a reservation that
    /// arrives late (after the caller gave up and compensated) is refused.
    pub async fn restore_stock(
        &self,
        menu_id: i64,
        order_id: i64,
        quantity: Option<i64>,
    ) -> Result<Restoration, ApiError> {
        if let Some(quantity) = quantity {
            check_quantity(quantity)?;
        }
        let restoration = self.give_back(menu_id, order_id, quantity).await?;
        if restoration.restored > 0 {
            self.invalidate_menu(menu_id).await;
        }
        Ok(restoration)
    }

    /// The restore's transaction (see [`Inventory::restore_stock`]).
    async fn give_back(
        &self,
        menu_id: i64,
        order_id: i64,
        quantity: Option<i64>,
    ) -> Result<Restoration, ApiError> {
        self.with_menu_locked(menu_id, async |txn, menu| {
            let entries = store::order_entries(txn, menu_id, order_id).await?;
            if entries.restored.is_some() {
                return Ok(Restoration {
                    menu_id,
                    order_id,
                    restored: 0,
                    stock: menu.stock,
                    replayed: true,
                });
            }
            let reserved = entries.reserved.map_or(0, |r| r.quantity);
            if let Some(quantity) = quantity
                && quantity > reserved
            {
                return Err(ApiError::conflict(
                    "restore_exceeds_reservation",
                    format!(
                        "order {order_id} reserved {reserved} of menu {menu_id}; {quantity} cannot be restored"
                    ),
                )
                .with("reserved", reserved));
            }
            let restored = quantity.unwrap_or(reserved).min(reserved);
            if restored > 0 {
                store::add_stock(txn, menu_id, restored).await?;
            }
            store::insert_ledger(txn, menu_id, Some(order_id), RESTORE, restored).await?;
            Ok(Restoration {
                menu_id,
                order_id,
                restored,
                stock: menu.stock + restored,
                replayed: false,
            })
        })
        .await
    }

    /// Audit figures for one menu, or all.
    pub async fn audit(&self, menu_id: Option<i64>) -> Result<Vec<StockAudit>, ApiError> {
        let menus = match menu_id {
            Some(id) => match store::find_menu(&self.db.conn, id).await? {
                Some(found) => vec![found],
                None => return Err(menu_not_found(id)),
            },
            None => store::all_menus(&self.db.conn).await?,
        };
        let totals: HashMap<i64, store::LedgerTotals> =
            store::ledger_totals(&self.db.conn, menu_id)
                .await?
                .into_iter()
                .collect();
        Ok(menus
            .into_iter()
            .map(|(menu, _)| {
                let t = totals.get(&menu.id).copied().unwrap_or_default();
                StockAudit {
                    menu_id: menu.id,
                    name: menu.name,
                    stock: menu.stock,
                    initial_stock: menu.initial_stock,
                    reserved: t.reserved,
                    restored: t.restored,
                    drift: menu.stock - (menu.initial_stock - t.reserved + t.restored),
                }
            })
            .collect())
    }

    /// Sets a menu's stock and restarts its accounting.
    pub async fn set_stock(&self, menu_id: i64, stock: i64) -> Result<(), ApiError> {
        if !(0..=1_000_000_000).contains(&stock) {
            return Err(ApiError::validation("`stock` must be from 0 to 1000000000"));
        }
        self.with_menu_locked(menu_id, async |txn, _menu| {
            store::reset_stock(txn, menu_id, stock).await?;
            Ok(())
        })
        .await?;
        self.invalidate_menu(menu_id).await;
        Ok(())
    }
}

/// The reservation's steps one by one, the menu row already locked (SQLite, or with the
/// injected delay): check this order's ledger entries, then the stock, then take it.
async fn reserve_step_by_step(
    txn: &DatabaseTransaction,
    menu: menus::Model,
    order_id: Option<i64>,
    quantity: i64,
) -> Result<ReserveOutcome, ApiError> {
    if let Some(order_id) = order_id {
        let entries = store::order_entries(txn, menu.id, order_id).await?;
        if let Some(first) = entries.reserved {
            return Ok(ReserveOutcome::Replayed {
                quantity: first.quantity,
                price: menu.price,
                stock: menu.stock,
            });
        }
        if entries.restored.is_some() {
            return Ok(ReserveOutcome::Compensated);
        }
    }
    if menu.stock < quantity {
        return Ok(ReserveOutcome::Insufficient { stock: menu.stock });
    }
    store::add_stock(txn, menu.id, -quantity).await?;
    store::insert_ledger(txn, menu.id, order_id, RESERVE, quantity).await?;
    Ok(ReserveOutcome::Reserved {
        price: menu.price,
        stock: menu.stock - quantity,
    })
}

/// The answer to a reservation.
fn reservation(
    menu_id: i64,
    order_id: Option<i64>,
    quantity: i64,
    outcome: ReserveOutcome,
) -> Result<Reservation, ApiError> {
    match outcome {
        ReserveOutcome::Reserved { price, stock } => Ok(Reservation {
            menu_id,
            order_id,
            quantity,
            unit_price: price,
            stock,
            replayed: false,
        }),
        ReserveOutcome::Replayed {
            quantity,
            price,
            stock,
        } => Ok(Reservation {
            menu_id,
            order_id,
            quantity,
            unit_price: price,
            stock,
            replayed: true,
        }),
        // A restoration already ran for this order (the order service gave up on an
        // earlier, slow reservation): a late reservation must not take stock that nobody
        // would ever give back.
        ReserveOutcome::Compensated => Err(ApiError::conflict(
            "order_compensated",
            format!(
                "order {} was already compensated; it cannot reserve stock",
                order_id.unwrap_or_default()
            ),
        )),
        ReserveOutcome::Insufficient { stock } => Err(ApiError::conflict(
            "insufficient_stock",
            format!("menu {menu_id} has {stock} left; {quantity} were requested"),
        )
        .with("menu_id", menu_id)
        .with("available", stock)
        .with("requested", quantity)),
        ReserveOutcome::NotFound => Err(menu_not_found(menu_id)),
    }
}

pub fn menu_not_found(menu_id: i64) -> ApiError {
    ApiError::not_found(format!("menu {menu_id} does not exist"))
}
