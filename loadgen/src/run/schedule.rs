//! The fault schedule of a run: the scenario's switch steps applied at their times, its
//! process, link and dependency faults set and cleared on their own tasks (their windows
//! kept in the run's window book), the services' switches polled for changes nobody
//! announced, and at the teardown every fault still set cleared.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::shared::{Shared, lock};
use crate::chaos::{ChaosStep, ProcessAction};
use crate::chaos_driver::ChaosDriver;
use crate::fault_window::FaultWindow;
use crate::service::Service;
use crate::switch::FaultStep;
use crate::workflow::Workload;

/// Applies the scenario's fault steps at their times.
pub(super) async fn schedule_faults(
    shared: Arc<Shared>,
    workload: Arc<Workload>,
    mut steps: Vec<FaultStep>,
) {
    steps.sort_by_key(|s| s.at);
    let Some(start) = shared.load_started.get().copied() else {
        return;
    };
    for step in steps {
        if shared.sleep_until(start + step.at).await {
            return;
        }
        match workload.api.apply_fault(step.service, &step.fault).await {
            Ok(()) => {
                shared.record_applied(&step, shared.elapsed_secs());
                shared.mark(step.service, step.fault.to_string(), "scenario");
                if let Ok(state) = workload.api.fault_state(step.service).await {
                    lock(&shared.faults).insert(step.service, state);
                }
            }
            Err(e) => shared.mark(
                step.service,
                format!("FAILED to set {}: {e:#}", step.fault),
                "scenario",
            ),
        }
    }
}

/// Sets each process, link and dependency fault at its time and clears it when its
/// duration is over, each step on its own task (a service start can take seconds and must
/// not hold up the next step). Aborting this task (the load is over) aborts the steps;
/// teardown clears what they left set.
pub(super) async fn schedule_chaos(
    shared: Arc<Shared>,
    driver: ChaosDriver,
    steps: Vec<ChaosStep>,
) {
    let Some(start) = shared.load_started.get().copied() else {
        return;
    };
    let mut tasks = tokio::task::JoinSet::new();
    for step in steps {
        tasks.spawn(run_chaos_step(shared.clone(), driver.clone(), step, start));
    }
    while tasks.join_next().await.is_some() {}
}

/// One step: set at `at`, cleared after `duration` (a restart or resume is one action).
async fn run_chaos_step(shared: Arc<Shared>, driver: ChaosDriver, step: ChaosStep, start: Instant) {
    if shared.sleep_until(start + step.at).await {
        return;
    }
    let service = step.fault.service();
    let label = step.label();
    let key = format!("chaos:{}", step.line);
    // Known as set before the call, so teardown clears it even if the load ends mid-call.
    lock(&shared.chaos_active).insert(step.line, step.clone());
    let begun = shared.elapsed_secs();
    if let Err(e) = driver.apply(&step).await {
        lock(&shared.chaos_active).remove(&step.line);
        shared.mark(service, format!("FAILED to set {label}: {e:#}"), "scenario");
        return;
    }
    shared.mark(service, label.clone(), "scenario");
    // Wakes the consistency checker, as a switch step does.
    shared.fault_applied.notify_one();
    if let Some((ProcessAction::Resume, resumed)) = step.fault.process() {
        // No window of its own: it ends the pause's.
        end_open_pause(&shared, &step, resumed, begun);
        return;
    }
    lock(&shared.windows).open(
        &key,
        FaultWindow {
            kind: step.fault.kind().into(),
            target: step.fault.target(),
            label,
            start_s: begun,
            end_s: begun,
        },
    );
    if let Some((ProcessAction::Restart, _)) = step.fault.process() {
        // One action: the window is the time the restart took.
        lock(&shared.chaos_active).remove(&step.line);
        lock(&shared.windows).close(&key, shared.elapsed_secs());
        return;
    }
    let Some(end) = step.end() else {
        return; // a pause ended by a later resume step
    };
    if shared.sleep_until(start + end).await {
        return; // teardown clears it
    }
    let ended = shared.elapsed_secs();
    match driver.clear(&step).await {
        Ok(()) => {
            lock(&shared.chaos_active).remove(&step.line);
            shared.mark(service, format!("cleared: {}", step.fault), "scenario");
        }
        Err(e) => shared.mark(
            service,
            format!("FAILED to clear {}: {e:#}", step.fault),
            "scenario",
        ),
    }
    // The window ends when the clearing began: a killed service's start-up is recovery.
    lock(&shared.windows).close(&key, ended);
}

/// A `resume` step ends the open-ended `pause` of its service, at `at_s`.
fn end_open_pause(shared: &Shared, step: &ChaosStep, resumed: Service, at_s: f64) {
    lock(&shared.chaos_active).retain(|line, active| {
        let open_pause = active.fault.process() == Some((ProcessAction::Pause, resumed))
            && active.duration.is_none();
        !open_pause && *line != step.line
    });
    let target = resumed.to_string();
    lock(&shared.windows).close_where(
        |_, window| window.kind == "pause" && window.target == target,
        at_s,
    );
}

/// Teardown: clears every process, link and dependency fault still set (the load ended
/// first, or a clear failed).
pub(super) async fn clear_chaos(shared: &Shared, driver: &ChaosDriver, notes: &mut Vec<String>) {
    let active: Vec<ChaosStep> = std::mem::take(&mut *lock(&shared.chaos_active))
        .into_values()
        .collect();
    for step in active {
        match driver.clear(&step).await {
            Ok(()) => shared.mark(
                step.fault.service(),
                format!("cleared: {}", step.fault),
                "teardown",
            ),
            Err(e) => notes.push(format!("teardown: clearing {} failed: {e:#}", step.label())),
        }
    }
}

/// Reads every service's fault settings once a second; marks changes nobody announced.
pub(super) async fn poll_faults(shared: Arc<Shared>, workload: Arc<Workload>) {
    loop {
        for service in Service::ALL {
            if let Ok(state) = workload.api.fault_state(service).await {
                let previous = lock(&shared.faults).insert(service, state.clone());
                if let Some(previous) = previous
                    && previous != state
                {
                    shared.mark(service, format!("now: {}", state.describe()), "observed");
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
