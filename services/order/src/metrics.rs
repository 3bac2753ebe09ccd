//! The Order Service's business metrics, read from its database at every scrape:
//! `testbed_orders` (orders by status) and `testbed_compensations_outstanding` (settled
//! orders whose stock has not been given back yet). Both should settle at "no PENDING, no
//! compensation outstanding" once a fault is over.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use testbed_common::Kit;

use crate::store;

/// Label of `testbed_orders`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

/// Registers the business metrics and their scrape-time refresh.
pub fn register(kit: &Kit) {
    let orders = Family::<StatusLabels, Gauge>::default();
    let outstanding = Gauge::<i64>::default();
    kit.metrics.register(
        "orders",
        "Orders by status, from the database",
        orders.clone(),
    );
    kit.metrics.register(
        "compensations_outstanding",
        "Orders whose stock restoration is still to be done (retries and recovery finish them)",
        outstanding.clone(),
    );
    let db = kit.db.clone();
    kit.metrics.on_scrape(move || {
        let (db, orders, outstanding) = (db.clone(), orders.clone(), outstanding.clone());
        async move {
            match store::stats(&db.conn).await {
                Ok(stats) => {
                    for (status, count) in stats.by_status {
                        orders
                            .get_or_create(&StatusLabels {
                                status: status.as_str().to_string(),
                            })
                            .set(count);
                    }
                    outstanding.set(stats.compensation_pending);
                }
                // Absent rather than stale: the figures are unknown while the database is.
                Err(e) => {
                    tracing::warn!(error = %e, "order metrics: database unavailable");
                    orders.clear();
                }
            }
        }
    });
}
