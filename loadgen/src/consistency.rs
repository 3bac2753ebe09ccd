//! The consistency checker: reconciles each scenario menu's stock in the Restaurant Service
//! with the PAID orders the Order Service counts, during the run and at the end.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::{Api, Inventory, OrderStats};

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
}

impl ConsistencyRow {
    pub fn from_figures(key: &str, inventory: &Inventory, sold: i64) -> Self {
        Self {
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

    /// Seconds into the load phase when the check's reads were done.
    pub fn done_secs(&self) -> f64 {
        self.at_secs + self.took_ms / 1000.0
    }
}

/// Builds the rows from the raw figures (separate from I/O so it can be tested).
pub fn reconcile(menus: &[(String, Inventory)], stats: &OrderStats) -> Vec<ConsistencyRow> {
    menus
        .iter()
        .map(|(key, inventory)| {
            let sold = stats
                .paid_quantities
                .get(&inventory.menu_id.to_string())
                .copied()
                .unwrap_or(0);
            ConsistencyRow::from_figures(key, inventory, sold)
        })
        .collect()
}

/// Reads the figures of the scenario's menus and reconciles them.
pub async fn check(api: &Api, menus: &[(String, i64)], at_secs: f64) -> ConsistencyCheck {
    let started = std::time::Instant::now();
    let gathered = gather(api, menus).await;
    let took_ms = started.elapsed().as_secs_f64() * 1000.0;
    match gathered {
        Ok((inventories, stats)) => ConsistencyCheck {
            at_secs,
            rows: reconcile(&inventories, &stats),
            orders_by_status: stats.by_status,
            error: None,
            compensations_outstanding: stats.compensation_pending,
            took_ms,
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
) -> anyhow::Result<(Vec<(String, Inventory)>, OrderStats)> {
    // Orders first: a sale counted here has already taken its stock.
    let stats = api.order_stats().await?;
    let mut inventories = Vec::with_capacity(menus.len());
    for (key, id) in menus {
        inventories.push((key.clone(), api.inventory(*id).await?));
    }
    Ok((inventories, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_show_drift_identity_and_oversell() {
        let stats = OrderStats {
            by_status: BTreeMap::from([("PAID".into(), 3), ("PENDING".into(), 0)]),
            paid_quantities: BTreeMap::from([("7".into(), 30), ("8".into(), 5)]),
            compensation_pending: 0,
        };
        let exact = Inventory {
            menu_id: 7,
            stock: 70,
            initial_stock: 100,
            reserved: 40,
            restored: 10,
        };
        let lost = Inventory {
            menu_id: 8,
            stock: 3,
            initial_stock: 10,
            reserved: 7,
            restored: 0,
        };
        let rows = reconcile(&[("a".into(), exact), ("b".into(), lost)], &stats);
        assert_eq!(rows[0].drift, 0);
        assert_eq!(rows[0].identity_gap, 0);
        assert!(rows[0].healthy());
        // 5 sold of 10 but only 3 left: 2 units lost.
        assert_eq!(rows[1].drift, -2);
        assert_eq!(rows[1].identity_gap, 0);
        assert!(!rows[1].healthy());
    }
}
