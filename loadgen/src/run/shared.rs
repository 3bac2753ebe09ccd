//! The state a run shares between its task, its helper tasks (fault schedule, pollers,
//! load drivers) and its handle: phase, recorder, faults and their windows, consistency
//! checks, open-loop counters and the stop request; and the live [`Snapshot`] taken of it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use contract::ChaosSnapshot;
use tokio::sync::Notify;

use super::{Phase, Snapshot};
use crate::assertions::IterationStats;
use crate::chaos::ChaosStep;
use crate::consistency::ConsistencyCheck;
use crate::fault_window::{self, FaultWindow, WindowBook};
use crate::record::{FaultMarker, LoadMode};
use crate::recorder::{Recorder, SecondPoint};
use crate::recovery::{self, Observed, RecoveryBounds, RecoveryFigure};
use crate::scenario::Scenario;
use crate::service::Service;
use crate::switch::FaultStep;
use crate::workflow::Workload;

/// State shared by the run task, its helpers and the handle.
pub(super) struct Shared {
    pub(super) scenario: String,
    pub(super) mode: LoadMode,
    pub(super) run_time: Duration,
    pub(super) users_planned: usize,
    pub(super) phase: Mutex<Phase>,
    pub(super) recorder: OnceLock<Arc<Recorder>>,
    pub(super) workload: OnceLock<Arc<Workload>>,
    pub(super) load_started: OnceLock<Instant>,
    pub(super) users_active: AtomicUsize,
    pub(super) faults: Mutex<BTreeMap<Service, ChaosSnapshot>>,
    pub(super) markers: Mutex<Vec<FaultMarker>>,
    pub(super) windows: Mutex<WindowBook>,
    /// Process, link and dependency faults set and not yet cleared, by scenario line.
    pub(super) chaos_active: Mutex<BTreeMap<usize, ChaosStep>>,
    pub(super) consistency: Mutex<Vec<ConsistencyCheck>>,
    pub(super) stop_requested: AtomicBool,
    pub(super) stop: Notify,
    pub(super) iterations: IterationCounters,
    /// Fault steps as applied, at seconds into the load.
    pub(super) applied: Mutex<Vec<(f64, FaultStep)>>,
    /// A fault step was applied (wakes the consistency checker).
    pub(super) fault_applied: Notify,
    /// When the teardown turned every fault off (seconds into the load).
    pub(super) teardown_at: OnceLock<f64>,
    pub(super) recovery_bounds: RecoveryBounds,
}

/// Open-loop iteration counters, shared by the scheduler, its iterations and snapshots.
#[derive(Default)]
pub(super) struct IterationCounters {
    pub(super) scheduled: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) running: AtomicU64,
    pub(super) peak: AtomicU64,
    pub(super) cap: AtomicU64,
}

impl IterationCounters {
    pub(super) fn stats(&self) -> IterationStats {
        IterationStats {
            scheduled: self.scheduled.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            peak_in_flight: self.peak.load(Ordering::Relaxed),
            max_in_flight: self.cap.load(Ordering::Relaxed),
        }
    }
}

/// Counts one iteration as running for as long as it lives.
pub(super) struct Running<'a>(&'a IterationCounters);

impl<'a> Running<'a> {
    pub(super) fn start(counters: &'a IterationCounters) -> Self {
        let now = counters.running.fetch_add(1, Ordering::SeqCst) + 1;
        counters.peak.fetch_max(now, Ordering::SeqCst);
        Self(counters)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Shared {
    /// A run of `scenario` about to be set up; `max_in_flight` caps open-loop iterations.
    pub(super) fn new(
        scenario: &Scenario,
        mode: LoadMode,
        run_time: Duration,
        users_planned: usize,
        max_in_flight: Option<usize>,
    ) -> Self {
        let shared = Self {
            scenario: scenario.name.clone(),
            mode,
            run_time,
            users_planned,
            phase: Mutex::new(Phase::Setup),
            recorder: OnceLock::new(),
            workload: OnceLock::new(),
            load_started: OnceLock::new(),
            users_active: AtomicUsize::new(0),
            faults: Mutex::new(BTreeMap::new()),
            markers: Mutex::new(Vec::new()),
            windows: Mutex::new(WindowBook::default()),
            chaos_active: Mutex::new(BTreeMap::new()),
            consistency: Mutex::new(Vec::new()),
            stop_requested: AtomicBool::new(false),
            stop: Notify::new(),
            iterations: IterationCounters::default(),
            applied: Mutex::new(Vec::new()),
            fault_applied: Notify::new(),
            teardown_at: OnceLock::new(),
            recovery_bounds: RecoveryBounds::of(&scenario.assertions),
        };
        shared
            .iterations
            .cap
            .store(max_in_flight.unwrap_or(0) as u64, Ordering::Relaxed);
        shared
    }

    pub(super) fn elapsed(&self) -> Duration {
        self.load_started
            .get()
            .map_or(Duration::ZERO, Instant::elapsed)
    }

    pub(super) fn elapsed_secs(&self) -> f64 {
        match self.load_started.get() {
            Some(start) => start.elapsed().as_secs_f64(),
            None => 0.0,
        }
    }

    pub(super) fn set_phase(&self, phase: Phase) {
        *lock(&self.phase) = phase;
    }

    pub(super) fn stopping(&self) -> bool {
        self.stop_requested.load(Ordering::SeqCst)
    }

    /// Sleeps until `deadline` or a stop request; true when stopped.
    pub(super) async fn sleep_until(&self, deadline: Instant) -> bool {
        if self.stopping() {
            return true;
        }
        let stop = self.stop.notified();
        tokio::select! {
            _ = tokio::time::sleep_until(deadline.into()) => self.stopping(),
            _ = stop => true,
        }
    }

    /// Records a fault step the run applied, and wakes the consistency checker.
    pub(super) fn record_applied(&self, step: &FaultStep, at_secs: f64) {
        lock(&self.applied).push((at_secs, step.clone()));
        self.fault_applied.notify_one();
    }

    /// The fault windows that have ended, and those still on (ending now). After the
    /// teardown every window has ended.
    pub(super) fn fault_windows(&self) -> (Vec<FaultWindow>, Vec<FaultWindow>) {
        let applied = lock(&self.applied).clone();
        let now_s = self.teardown_at.get().copied();
        let (mut ended, mut active) =
            fault_window::switch_windows(&applied, now_s.unwrap_or_else(|| self.elapsed_secs()));
        let (chaos_ended, chaos_active) = lock(&self.windows).split(self.elapsed_secs());
        ended.extend(chaos_ended);
        active.extend(chaos_active);
        if now_s.is_some() {
            // After the teardown nothing is on any more.
            ended.append(&mut active);
        }
        ended.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        (ended, active)
    }

    /// Recovery so far after the windows that have ended.
    pub(super) fn live_recovery(
        &self,
        ended: &[FaultWindow],
        active: &[FaultWindow],
        timeline: &[SecondPoint],
    ) -> Vec<RecoveryFigure> {
        let now_s = self.elapsed_secs();
        let checks = lock(&self.consistency);
        let observed = Observed {
            timeline,
            checks: &checks,
            whole_secs: (now_s.floor() as u64).min(self.run_time.as_secs()),
            now_s,
            finished: false,
        };
        recovery::measure_ended(ended, active, &observed, self.recovery_bounds)
    }

    pub(super) fn mark(&self, service: Service, description: String, origin: &str) {
        lock(&self.markers).push(FaultMarker {
            at_secs: self.elapsed_secs(),
            service,
            description,
            origin: origin.to_string(),
        });
    }

    pub(super) fn snapshot(&self) -> Snapshot {
        let merged = self.recorder.get().map(|r| r.merged());
        let endpoints = merged
            .as_ref()
            .map(|m| m.endpoint_snapshots())
            .unwrap_or_default();
        let timeline = merged.as_ref().map(|m| m.timeline()).unwrap_or_default();
        let elapsed = self.elapsed();
        let current_second = elapsed.as_secs() as usize;
        let current_rps = current_second
            .checked_sub(1)
            .and_then(|s| timeline.get(s))
            .map_or(0, |p| p.requests);
        let (ended_faults, active_faults) = self.fault_windows();
        let recovery = self.live_recovery(&ended_faults, &active_faults, &timeline);
        Snapshot {
            scenario: self.scenario.clone(),
            mode: self.mode.clone(),
            phase: *lock(&self.phase),
            elapsed,
            run_time: self.run_time,
            remaining: self.run_time.saturating_sub(elapsed),
            users_active: self.users_active.load(Ordering::Relaxed),
            users_planned: self.users_planned,
            total_requests: endpoints.iter().map(|e| e.requests).sum(),
            total_errors: endpoints.iter().map(|e| e.errors).sum(),
            current_rps,
            endpoints,
            timeline,
            faults: lock(&self.faults).clone(),
            markers: lock(&self.markers).clone(),
            consistency: lock(&self.consistency)
                .iter()
                .max_by(|a, b| a.at_secs.total_cmp(&b.at_secs))
                .cloned(),
            tally: self
                .workload
                .get()
                .map(|w| w.tally.snapshot())
                .unwrap_or_default(),
            iterations: self.iterations.stats(),
            in_flight: self.iterations.running.load(Ordering::Relaxed),
            active_faults,
            ended_faults,
            recovery,
        }
    }
}
