//! Recovery: at start-up and then periodically, orders left PENDING longer than the
//! configured age (the process died mid-saga) get every line restored and end FAILED with
//! reason `recovered`; settled orders whose stock could not be given back yet are retried.

use std::time::Duration;

use super::FailureReason;
use super::saga::Orders;
use crate::store::{self, Transition};

/// Orders handled per pass.
const BATCH: u64 = 200;

impl Orders {
    /// One recovery pass; returns how many orders it finished.
    pub async fn recover(&self, pending_timeout: Duration) -> anyhow::Result<usize> {
        let cutoff = chrono::Utc::now()
            - chrono::Duration::from_std(pending_timeout).unwrap_or(chrono::Duration::zero());
        let mut finished = 0;
        for order in store::stale_pending(&self.db.conn, cutoff, BATCH).await? {
            let items = store::items(&self.db.conn, order.id).await?;
            let restored = self.compensate(order.id, &items, None).await;
            let moved = {
                let _writer = self.db.write_guard().await;
                store::transition(
                    &self.db.conn,
                    order.id,
                    Transition {
                        at: chrono::Utc::now(),
                        from: "PENDING",
                        to: "FAILED",
                        total: Some(0),
                        failure_reason: Some(FailureReason::Recovered.code()),
                        compensation_pending: !restored,
                        prices: &[],
                    },
                )
                .await?
            };
            if moved {
                self.cache.delete(&[super::order_key(order.id)]).await;
                tracing::warn!(
                    order_id = order.id,
                    restored,
                    "recovered an interrupted order"
                );
                finished += 1;
            }
        }
        for order in store::pending_compensations(&self.db.conn, BATCH).await? {
            if self.finish_compensation(order.id).await.unwrap_or(false) {
                finished += 1;
            }
        }
        Ok(finished)
    }

    /// Runs recovery now and then every `interval`, forever.
    pub async fn recovery_loop(self, pending_timeout: Duration, interval: Duration) {
        loop {
            if let Err(e) = self.recover(pending_timeout).await {
                tracing::warn!(error = %e, "recovery pass failed; will retry");
            }
            tokio::time::sleep(interval).await;
        }
    }
}
