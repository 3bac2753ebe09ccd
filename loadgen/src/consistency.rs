//! The consistency checker: reconciles each scenario menu's stock in the Restaurant Service
//! with the PAID orders the Order Service counts, during the run and at the end.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use contract::{OrderStats, OrderStatus, StockAudit};

use crate::api::Api;

/// One menu's reconciliation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ConsistencyRow {
    /// The scenario's key for the menu.
    pub key: String,
    pub menu_id: i64,
    pub initial: i64,
    pub stock: i64,
    pub reserved: i64,
    pub restored: i64,
    /// PAID quantity of this menu in the Order Service.
    pub sold: i64,
    /// stock − (initial − sold): 0 when stock matches what was sold.
    pub drift: i64,
    /// stock − (initial − reserved + restored): 0 when the restaurant's ledger adds up.
    pub identity_gap: i64,
    /// Units of this menu that orders in flight during the check may hold: those of the
    /// PENDING orders when it began and when it ended, and of the orders paid meanwhile
    /// (the reads are not one snapshot: stock is read between two reads of the orders).
    #[serde(default)]
    pub in_flight_units: i64,
}

impl ConsistencyRow {
    pub fn from_figures(key: &str, inventory: &StockAudit, sold: i64) -> Self {
        Self {
            in_flight_units: 0,
            key: key.to_string(),
            menu_id: inventory.menu_id,
            initial: inventory.initial_stock,
            stock: inventory.stock,
            reserved: inventory.reserved,
            restored: inventory.restored,
            sold,
            drift: inventory.stock - (inventory.initial_stock - sold),
            identity_gap: inventory.stock
                - (inventory.initial_stock - inventory.reserved + inventory.restored),
        }
    }

    pub fn oversold(&self) -> bool {
        self.stock < 0 || self.sold > self.initial
    }

    /// Drift, ledger and oversell all fine.
    pub fn healthy(&self) -> bool {
        self.drift == 0 && self.identity_gap == 0 && !self.oversold()
    }
}

/// One pass of the checker.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ConsistencyCheck {
    /// Seconds into the load phase.
    pub at_secs: f64,
    pub rows: Vec<ConsistencyRow>,
    /// All orders by status, as the Order Service counts them.
    pub orders_by_status: BTreeMap<String, u64>,
    /// Why the check could not be completed, if it could not.
    pub error: Option<String>,
    /// Orders whose stock restoration is still to be done (`compensation_pending`).
    #[serde(default)]
    pub compensations_outstanding: u64,
    /// How long the check took (its reads), in milliseconds.
    #[serde(default)]
    pub took_ms: f64,
    /// How long before the check the oldest PENDING order was created, in ms (`None`: no
    /// order is PENDING, or the Order Service does not say).
    #[serde(default)]
    pub oldest_pending_age_ms: Option<f64>,
}

impl ConsistencyCheck {
    pub fn pending(&self) -> u64 {
        self.orders_by_status.get("PENDING").copied().unwrap_or(0)
    }

    /// The books balance: the check was read, no order is PENDING, no compensation is
    /// outstanding and every menu's stock matches its paid orders (drift 0).
    pub fn balanced(&self) -> bool {
        self.error.is_none()
            && self.pending() == 0
            && self.compensations_outstanding == 0
            && self.rows.iter().all(|row| row.drift == 0)
    }

    /// The books balance as far as anything from before `from_s` (seconds into the load) is
    /// concerned, while orders placed since may be in flight: the check was read, no
    /// compensation is outstanding, every PENDING order was created at or after `from_s`,
    /// and every menu's drift is at most what its PENDING orders may hold (0 without any).
    /// Needs the Order Service to give the oldest PENDING order's age; without it this is
    /// [`balanced`](Self::balanced).
    pub fn balanced_since(&self, from_s: f64) -> bool {
        if self.error.is_some() || self.compensations_outstanding > 0 {
            return false;
        }
        // The age was read after the check began, so the order is at least this recent. A
        // PENDING count without an age is a service that does not say: nothing to go on.
        let nothing_older = match self.oldest_pending_age_ms {
            Some(age) => self.at_secs - age / 1000.0 >= from_s,
            None => self.pending() == 0,
        };
        nothing_older
            && self
                .rows
                .iter()
                .all(|row| row.drift <= 0 && -row.drift <= row.in_flight_units)
    }

    /// Seconds into the load phase when the check's reads were done.
    pub fn done_secs(&self) -> f64 {
        self.at_secs + self.took_ms / 1000.0
    }
}

/// Builds the rows from the raw figures (separate from I/O so it can be tested): `stats`
/// read before the stock, `after` (when read) after it.
pub fn reconcile(
    menus: &[(String, StockAudit)],
    stats: &OrderStats,
    after: Option<&OrderStats>,
) -> Vec<ConsistencyRow> {
    menus
        .iter()
        .map(|(key, inventory)| {
            let menu = inventory.menu_id;
            let sold = stats.sold(menu);
            let in_flight_units = stats.in_flight(menu)
                + after.map_or(0, |after| {
                    after.in_flight(menu) + (after.sold(menu) - sold).max(0)
                });
            ConsistencyRow {
                in_flight_units,
                ..ConsistencyRow::from_figures(key, inventory, sold)
            }
        })
        .collect()
}

/// Reads the figures of the scenario's menus and reconciles them.
pub async fn check(api: &Api, menus: &[(String, i64)], at_secs: f64) -> ConsistencyCheck {
    let started = std::time::Instant::now();
    let gathered = gather(api, menus).await;
    let took_ms = started.elapsed().as_secs_f64() * 1000.0;
    match gathered {
        Ok((inventories, stats, after)) => ConsistencyCheck {
            at_secs,
            rows: reconcile(&inventories, &stats, after.as_ref()),
            orders_by_status: stats
                .by_status
                .iter()
                .map(|(status, count)| (status.to_string(), u64::try_from(*count).unwrap_or(0)))
                .collect(),
            error: None,
            compensations_outstanding: u64::try_from(stats.compensation_pending).unwrap_or(0),
            took_ms,
            oldest_pending_age_ms: stats.oldest_pending_age_ms.map(|ms| ms as f64),
        },
        Err(e) => ConsistencyCheck {
            at_secs,
            error: Some(format!("{e:#}")),
            took_ms,
            ..ConsistencyCheck::default()
        },
    }
}

async fn gather(
    api: &Api,
    menus: &[(String, i64)],
) -> anyhow::Result<(Vec<(String, StockAudit)>, OrderStats, Option<OrderStats>)> {
    // Orders first: a sale counted here has already taken its stock. Orders again after the
    // stock when anything may have been in flight around the stock reads (see
    // `in_flight_units`); a quiet system is read once.
    let stats = api.order_stats().await?;
    let mut inventories = Vec::with_capacity(menus.len());
    for (key, id) in menus {
        inventories.push((key.clone(), api.inventory(*id).await?));
    }
    let quiet = stats.count(OrderStatus::Pending) == 0
        && reconcile(&inventories, &stats, None)
            .iter()
            .all(|row| row.drift == 0);
    let after = if quiet {
        None
    } else {
        Some(api.order_stats().await?)
    };
    Ok((inventories, stats, after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::OrderStatus;

    /// A menu's stock audit: id, stock, initial stock, reserved and restored units.
    fn audit(menu_id: i64, stock: i64, initial: i64, reserved: i64, restored: i64) -> StockAudit {
        StockAudit {
            menu_id,
            stock,
            initial_stock: initial,
            reserved,
            restored,
            ..StockAudit::default()
        }
    }

    #[test]
    fn rows_show_drift_identity_and_oversell() {
        let stats = OrderStats {
            by_status: BTreeMap::from([(OrderStatus::Paid, 3), (OrderStatus::Pending, 0)]),
            paid_quantities: BTreeMap::from([(7, 30), (8, 5)]),
            ..OrderStats::default()
        };
        let exact = audit(7, 70, 100, 40, 10);
        let lost = audit(8, 3, 10, 7, 0);
        let rows = reconcile(
            &[("a".into(), exact.clone()), ("b".into(), lost)],
            &stats,
            None,
        );
        assert_eq!(rows[0].drift, 0);
        assert_eq!(rows[0].identity_gap, 0);
        assert!(rows[0].healthy());
        // 5 sold of 10 but only 3 left: 2 units lost.
        assert_eq!(rows[1].drift, -2);
        assert_eq!(rows[1].identity_gap, 0);
        assert!(!rows[1].healthy());
        assert_eq!(rows[0].in_flight_units, 0);
        // Orders in flight around the stock reads: 2 units PENDING before, 1 after, and 3
        // more paid in between.
        let before = OrderStats {
            pending_quantities: BTreeMap::from([(7, 2)]),
            ..stats.clone()
        };
        let after = OrderStats {
            pending_quantities: BTreeMap::from([(7, 1)]),
            paid_quantities: BTreeMap::from([(7, 33), (8, 5)]),
            ..stats.clone()
        };
        let rows = reconcile(&[("a".into(), exact)], &before, Some(&after));
        assert_eq!(rows[0].in_flight_units, 6);
        assert_eq!(rows[0].sold, 30, "sold is read before the stock");
    }

    #[test]
    fn books_balance_since_a_moment_when_only_newer_orders_are_in_flight() {
        let check = |pending: u64, age_ms: Option<f64>, drift: i64, in_flight_units: i64| {
            ConsistencyCheck {
                at_secs: 10.0,
                rows: vec![ConsistencyRow {
                    drift,
                    in_flight_units,
                    ..ConsistencyRow::default()
                }],
                orders_by_status: BTreeMap::from([("PENDING".into(), pending)]),
                oldest_pending_age_ms: age_ms,
                ..ConsistencyCheck::default()
            }
        };
        // Two orders in flight, the oldest placed 0.5 s before the check, holding 2 units.
        let busy = check(2, Some(500.0), -2, 2);
        assert!(busy.balanced_since(9.5));
        assert!(!busy.balanced(), "strictly, orders are in flight");
        // An order from before the fault ended is still PENDING.
        assert!(!busy.balanced_since(9.6));
        // More stock missing than the orders in flight can hold, or stock that appeared.
        assert!(!check(2, Some(500.0), -3, 2).balanced_since(9.0));
        assert!(!check(2, Some(500.0), 1, 2).balanced_since(9.0));
        // A compensation outstanding, an unread check, or a service that gives no age.
        let mut owed = busy.clone();
        owed.compensations_outstanding = 1;
        assert!(!owed.balanced_since(0.0));
        assert!(!check(2, None, 0, 2).balanced_since(0.0));
        // The count saw none PENDING, the age query a new one (the reads are not one
        // snapshot): an order in flight since after the fault.
        assert!(check(0, Some(40.0), -1, 2).balanced_since(9.9));
        let quiet = check(0, None, 0, 0);
        assert!(quiet.balanced_since(10.0) && quiet.balanced());
        assert!(!check(0, None, -1, 0).balanced_since(0.0));
    }
}
