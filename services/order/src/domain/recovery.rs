//! Recovery: orders a dead process left PENDING get every line restored and end FAILED with
//! reason `recovered`; settled orders whose stock could not be given back yet are retried.
//! An order is known orphaned when it is older than the configured age, or at once when it
//! was created before the oldest live Order Service process started (every process that
//! could own it has died: see [`store::instances`]). Each process beats every 250 ms and
//! looks for such orphans every other beat, so a crashed process's orders are finished
//! within about a second of its successor starting, not after the age limit.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::FailureReason;
use super::saga::Orders;
use crate::store::{self, Transition, instances};

/// This process, as the liveness table knows it.
pub struct Process {
    id: String,
    started_at: DateTime<Utc>,
}

impl Process {
    /// A new process id, started now: every order it places is newer than this.
    pub fn starting_now() -> Self {
        Self {
            id: format!("{:016x}", rand::random::<u64>()),
            started_at: Utc::now(),
        }
    }
}

/// Orders handled per pass.
const BATCH: u64 = 200;

impl Orders {
    /// One recovery pass; returns how many orders it finished.
    pub async fn recover(&self, pending_timeout: Duration) -> anyhow::Result<usize> {
        let cutoff = self.orphan_cutoff(pending_timeout).await?;
        let mut finished = 0;
        for order in store::stale_pending(&self.db.conn, cutoff, BATCH).await? {
            let items = store::items(&self.db.conn, order.id).await?;
            let restored = self.compensate(order.id, &items, None).await;
            let reason = FailureReason::Recovered.code();
            let change = Transition::failed(chrono::Utc::now(), reason, !restored, &[]);
            let moved = store::transition(&self.db, order.id, change).await?;
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

    /// Orders created before this are orphaned: older than the age limit, or older than the
    /// oldest live process.
    async fn orphan_cutoff(&self, pending_timeout: Duration) -> anyhow::Result<DateTime<Utc>> {
        let now = Utc::now();
        let by_age = now - chrono::Duration::from_std(pending_timeout).unwrap_or_default();
        let by_liveness = instances::oldest_live_start(&self.db.conn, now).await?;
        Ok(by_liveness.map_or(by_age, |started| started.max(by_age)))
    }

    /// Says this process is alive every [`instances::BEAT_EVERY`], and every other beat
    /// finishes the orders of processes that have died. Runs forever.
    pub async fn liveness_loop(self, me: Process, pending_timeout: Duration) {
        let mut ticker = tokio::time::interval(instances::BEAT_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for beat in 0u64.. {
            ticker.tick().await;
            if let Err(e) = self.beat(&me).await {
                tracing::warn!(error = %e, "liveness beat failed; will retry");
                continue;
            }
            if beat % 2 == 1
                && self.orphans_waiting(pending_timeout).await.unwrap_or(false)
                && let Err(e) = self.recover(pending_timeout).await
            {
                tracing::warn!(error = %e, "recovery of a dead process's orders failed");
            }
            if beat % 14_400 == 0 {
                let _ = instances::forget_dead(&self.db, Utc::now()).await;
            }
        }
    }

    /// Registers `me` as alive now (also the first beat, before any order is placed).
    pub async fn beat(&self, me: &Process) -> anyhow::Result<()> {
        instances::beat(&self.db, &me.id, me.started_at).await?;
        Ok(())
    }

    /// Whether some PENDING order is orphaned (one cheap indexed query).
    async fn orphans_waiting(&self, pending_timeout: Duration) -> anyhow::Result<bool> {
        let cutoff = self.orphan_cutoff(pending_timeout).await?;
        Ok(!store::stale_pending(&self.db.conn, cutoff, 1)
            .await?
            .is_empty())
    }
}
