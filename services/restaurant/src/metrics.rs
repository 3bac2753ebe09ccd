//! The Restaurant Service's business metrics, read from its database at every scrape:
//! `testbed_stock_drift` per menu — stock − (initial − reserved + restored), 0 when the
//! inventory ledger balances — the same figure `GET /inventory` reports.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use testbed_common::telemetry::Metrics;

use crate::domain::Inventory;

/// Label of `testbed_stock_drift`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MenuLabels {
    menu_id: String,
}

/// Registers the business metrics and their scrape-time refresh.
pub fn register(metrics: &Metrics, inventory: Inventory) {
    let drift = Family::<MenuLabels, Gauge>::default();
    metrics.register(
        "stock_drift",
        "Stock minus what the inventory ledger says it should be, per menu (0: balanced)",
        drift.clone(),
    );
    metrics.on_scrape(move || {
        let (inventory, drift) = (inventory.clone(), drift.clone());
        async move {
            let audit = inventory.audit(None).await;
            // Menus come and go (tests, scenario setup): rebuilt from scratch every time, and
            // absent rather than stale while the database is unavailable.
            drift.clear();
            match audit {
                Ok(menus) => {
                    for menu in menus {
                        let labels = MenuLabels {
                            menu_id: menu.menu_id.to_string(),
                        };
                        drift.get_or_create(&labels).set(menu.drift);
                    }
                }
                Err(e) => tracing::warn!(error = %e.message, "restaurant metrics: audit failed"),
            }
        }
    });
}
