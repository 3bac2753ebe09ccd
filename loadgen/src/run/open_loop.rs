//! The open-loop load driver: workflow iterations started at a fixed rate whatever the
//! latency, spread over a pool of logged-in virtual users, each timed from its intended
//! start; an iteration due while `max_in_flight` run is dropped and counted.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::shared::{Running, Shared, lock};
use crate::workflow::{VirtualUser, Workload};

/// The default cap on open-loop iterations in flight: as many as the rate starts in one
/// request timeout, so a system that answers within the timeout never sees drops.
pub fn default_max_in_flight(rate: f64, request_timeout: Duration) -> usize {
    (rate * request_timeout.as_secs_f64()).ceil().max(1.0) as usize
}

/// When and how many open-loop iterations to start.
pub(super) struct Schedule {
    pub(super) rate: f64,
    pub(super) until: Instant,
    pub(super) max_in_flight: usize,
    pub(super) seed: u64,
}

/// Starts workflow iterations at the schedule's rate until its end, spread over `users`
/// logged-in virtual users, each measured from its intended start. An iteration due while
/// `max_in_flight` are running is not started and counts as dropped (as k6 counts
/// `dropped_iterations`), so a stalled system cannot pile up unbounded tasks.
pub(super) async fn drive_open_loop(
    shared: &Arc<Shared>,
    workload: &Arc<Workload>,
    users: usize,
    schedule: Schedule,
) {
    // Log the users in first, a few at a time.
    let pool: Vec<Arc<Mutex<VirtualUser>>> = futures::future::join_all((0..users).map(|_| {
        let workload = workload.clone();
        let shared = shared.clone();
        async move {
            let user = workload.new_user().await;
            shared.users_active.fetch_add(1, Ordering::Relaxed);
            Arc::new(Mutex::new(user))
        }
    }))
    .await;
    let mut rng = StdRng::seed_from_u64(schedule.seed);
    let period = Duration::from_secs_f64(1.0 / schedule.rate.max(0.001));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut in_flight = tokio::task::JoinSet::new();
    let mut next_user = 0usize;
    let counters = &shared.iterations;
    loop {
        let intended = ticker.tick().await.into_std();
        if intended >= schedule.until || shared.stopping() {
            break;
        }
        while in_flight.try_join_next().is_some() {}
        counters.scheduled.fetch_add(1, Ordering::Relaxed);
        if in_flight.len() >= schedule.max_in_flight {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let index = workload.pick(rng.random_range(0..workload.total_weight()));
        let slot = pool[next_user % pool.len()].clone();
        next_user += 1;
        let workload = workload.clone();
        let shared = shared.clone();
        in_flight.spawn(async move {
            let _running = Running::start(&shared.iterations);
            let mut user = lock(&slot).clone();
            workload.run(index, &mut user, Some(intended)).await;
            let mut shared_user = lock(&slot);
            shared_user.last_paid_order = user.last_paid_order.or(shared_user.last_paid_order);
            shared_user.sequence = shared_user.sequence.max(user.sequence) + 1;
            if user.token.is_none() {
                shared_user.token = None;
            } else if shared_user.token.is_none() {
                shared_user.token = user.token;
            }
        });
    }
    // Let what was started finish, so every outcome is known.
    while in_flight.join_next().await.is_some() {}
    shared.users_active.store(0, Ordering::Relaxed);
}
