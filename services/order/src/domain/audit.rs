//! Counts for audits (`GET /orders/stats`): orders by status, compensations outstanding,
//! units per menu in PAID and in PENDING orders, and how old the oldest PENDING order is, so
//! stock can be reconciled across services while orders are in flight.

use contract::OrderStats;
use testbed_common::ApiError;

use super::saga::Orders;
use crate::store;

impl Orders {
    /// The figures as of now.
    pub async fn stats(&self) -> Result<OrderStats, ApiError> {
        let stats = store::stats(&self.db.conn).await?;
        Ok(OrderStats {
            by_status: stats.by_status,
            compensation_pending: stats.compensation_pending,
            paid_quantities: stats.paid_quantities,
            pending_quantities: stats.pending_quantities,
            oldest_pending_age_ms: stats
                .oldest_pending
                .map(|created| (chrono::Utc::now() - created).num_milliseconds().max(0)),
        })
    }
}
