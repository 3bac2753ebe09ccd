//! The consistency checker during a run: every `consistency_every`, at once when a fault
//! step is applied, every [`RECOVERY_CHECK_EVERY`] while recovery after a fault window is
//! being watched; and after the teardown until the books balance or the settle time is up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::shared::{Shared, lock};
use crate::consistency::{self, ConsistencyCheck};
use crate::recovery;
use crate::workflow::Workload;

/// How often the consistency checker runs after a fault window ends, until the books
/// balance, so the time they take has sub-second resolution.
pub const RECOVERY_CHECK_EVERY: Duration = Duration::from_millis(250);
/// The checker runs that often for at most this long after a window's end.
const RECOVERY_WATCH_SECS: f64 = 30.0;
/// Checks running at once, at most: a fault that slows the services slows the checks too
/// (a 2 s delay makes each take 2 s), and the one due when the fault ends must not wait
/// for them.
const CHECKS_IN_FLIGHT: usize = 3;

/// Runs the consistency checker every `every` during the load; right when a fault step is
/// applied, and every [`RECOVERY_CHECK_EVERY`] from a window's measuring point (see
/// [`crate::recovery`]) until a check finds the books balanced. Each check runs in a task
/// of its own, so a slow one does not hold the next back.
pub(super) async fn poll_consistency(
    shared: Arc<Shared>,
    workload: Arc<Workload>,
    menus: Vec<(String, i64)>,
    every: Duration,
) {
    let menus = Arc::new(menus);
    let mut checks = tokio::task::JoinSet::new();
    loop {
        while checks.try_join_next().is_some() {}
        if checks.len() < CHECKS_IN_FLIGHT {
            let (shared, workload, menus) = (shared.clone(), workload.clone(), menus.clone());
            checks.spawn(async move {
                check_now(&shared, &workload, &menus).await;
            });
        }
        let now = shared.elapsed_secs();
        let (ended, active) = shared.fault_windows();
        let watching = {
            let checks = lock(&shared.consistency);
            recovery::measuring_points(&ended, &active)
                .into_iter()
                .filter(|from| now - from < RECOVERY_WATCH_SECS)
                .any(|from| !recovery::books_balanced_after(from, &checks))
        };
        let pause = if watching {
            RECOVERY_CHECK_EVERY.min(every)
        } else {
            every
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shared.fault_applied.notified() => {}
        }
    }
}

/// After the teardown: a check every [`RECOVERY_CHECK_EVERY`] until the books balance or
/// `settle` is up; each is kept, so recovery after faults still on at the end is measured
/// to that resolution. The last one is the run's final check.
pub(super) async fn settle(
    shared: &Shared,
    workload: &Workload,
    menus: &[(String, i64)],
    settle: Duration,
) -> ConsistencyCheck {
    let settle_until = Instant::now() + settle;
    loop {
        let check = check_now(shared, workload, menus).await;
        if check.balanced() || Instant::now() >= settle_until {
            return check;
        }
        tokio::time::sleep(RECOVERY_CHECK_EVERY).await;
    }
}

/// One check, kept in the run's history.
async fn check_now(
    shared: &Shared,
    workload: &Workload,
    menus: &[(String, i64)],
) -> ConsistencyCheck {
    let check = consistency::check(&workload.api, menus, shared.elapsed_secs()).await;
    lock(&shared.consistency).push(check.clone());
    check
}
