//! Running a scenario: setup (readiness, isolated menus, clean fault switches), the load
//! (closed-loop goose users, or an open-loop request rate), faults switched on and off on
//! schedule, the consistency checker and fault poller alongside, teardown, the settle wait,
//! the final check and the verdict. [`start_run`] returns a [`RunHandle`] whose
//! [`Snapshot`]s a dashboard can read while the run goes on.
//!
//! The parts: the state shared by the run's tasks and its handle (`shared`), each phase of
//! a run (`setup`, `load`, `finish`), the two load drivers (`goose`, `open_loop`), the
//! fault schedule (`schedule`) and the consistency checker (`checks`).

mod checks;
mod finish;
mod goose;
mod load;
mod open_loop;
mod schedule;
mod setup;
mod shared;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use contract::ChaosSnapshot;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

pub use checks::RECOVERY_CHECK_EVERY;
pub use open_loop::default_max_in_flight;
use shared::{Shared, lock};

use crate::api::Targets;
use crate::assertions::{IterationStats, share};
use crate::chaos_driver::ChaosTargets;
use crate::consistency::ConsistencyCheck;
use crate::fault_window::FaultWindow;
// The record of a run has a module of its own; these names stay reachable here.
pub use crate::record::{FaultMarker, LoadMode, RunConfig, RunRecord};
use crate::recorder::{EndpointSnapshot, SecondPoint};
use crate::recovery::RecoveryFigure;
use crate::scenario::Scenario;
use crate::service::Service;
use crate::workflow::TallySnapshot;

/// What to run and against what.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub scenario: Scenario,
    pub users: Option<usize>,
    pub run_time: Option<Duration>,
    /// Open-loop iterations per second; overrides the scenario's.
    pub rate: Option<f64>,
    pub short: bool,
    pub targets: Targets,
    pub admin_token: Option<String>,
    pub seed: u64,
    /// Print a progress line every few seconds (when no dashboard shows the run).
    pub progress: bool,
    /// Open loop: the most iterations running at once; overrides the scenario's.
    pub max_in_flight: Option<usize>,
    /// The control API and fault proxy that process, link and dependency faults go
    /// through (only called when the scenario has such faults).
    pub chaos: ChaosTargets,
}

/// Where the run is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Setup,
    Running,
    Settling,
    Done,
}

/// A live view of a run, cheap to take once a second.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    pub scenario: String,
    pub mode: LoadMode,
    pub phase: Phase,
    pub elapsed: Duration,
    pub run_time: Duration,
    pub remaining: Duration,
    pub users_active: usize,
    pub users_planned: usize,
    pub endpoints: Vec<EndpointSnapshot>,
    pub timeline: Vec<SecondPoint>,
    pub total_requests: u64,
    pub total_errors: u64,
    /// Requests in the last complete second.
    pub current_rps: u64,
    pub faults: BTreeMap<Service, ChaosSnapshot>,
    pub markers: Vec<FaultMarker>,
    pub consistency: Option<ConsistencyCheck>,
    pub tally: TallySnapshot,
    /// Open loop: scheduled and dropped iterations so far, and the cap.
    #[serde(default)]
    pub iterations: IterationStats,
    /// Open loop: iterations running now.
    #[serde(default)]
    pub in_flight: u64,
    /// Faults on now (their `end_s` is now).
    #[serde(default)]
    pub active_faults: Vec<FaultWindow>,
    /// Fault windows that have ended.
    #[serde(default)]
    pub ended_faults: Vec<FaultWindow>,
    /// Recovery so far after the ended windows no active fault overlaps.
    #[serde(default)]
    pub recovery: Vec<RecoveryFigure>,
}

impl Snapshot {
    pub fn error_rate(&self) -> f64 {
        share(self.total_errors, self.total_requests)
    }
}

/// A run in progress.
pub struct RunHandle {
    shared: Arc<Shared>,
    task: JoinHandle<anyhow::Result<RunRecord>>,
}

impl RunHandle {
    /// What the run has measured so far.
    pub fn snapshot(&self) -> Snapshot {
        self.shared.snapshot()
    }

    /// Asks the run to end the load now; teardown, the final check and the verdict still
    /// happen, so the report is written.
    pub fn stop(&self) {
        self.shared.stop_requested.store(true, Ordering::SeqCst);
        self.shared.stop.notify_waiters();
        if *lock(&self.shared.phase) == Phase::Running {
            ::goose::trigger_killswitch("stop requested");
        }
    }

    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits for the run to end.
    pub async fn wait(self) -> anyhow::Result<RunRecord> {
        self.task.await.context("the run task failed")?
    }
}

/// Starts a run on the current tokio runtime.
pub fn start_run(options: RunOptions) -> RunHandle {
    let scenario = &options.scenario;
    let (users, run_time, rate) = scenario.effective_load(options.short);
    let users = options.users.unwrap_or(users).max(1);
    let run_time = options.run_time.unwrap_or(run_time);
    let rate = options.rate.or(rate);
    let max_in_flight = rate.map(|rate| {
        options
            .max_in_flight
            .or(scenario.load.max_in_flight)
            .unwrap_or_else(|| default_max_in_flight(rate, scenario.load.request_timeout))
            .max(1)
    });
    let mode = match rate {
        Some(rate) => LoadMode::OpenLoop { rate },
        None => LoadMode::ClosedLoop {
            engine: "goose 0.19".into(),
        },
    };
    let shared = Arc::new(Shared::new(
        scenario,
        mode.clone(),
        run_time,
        users,
        max_in_flight,
    ));
    let execution = Execution {
        options,
        shared: shared.clone(),
        users,
        run_time,
        mode,
        notes: Vec::new(),
    };
    let task = tokio::spawn(execution.run());
    RunHandle { shared, task }
}

/// One run from setup to verdict, on its own task.
struct Execution {
    options: RunOptions,
    shared: Arc<Shared>,
    users: usize,
    run_time: Duration,
    mode: LoadMode,
    /// Problems met along the way, for the record.
    notes: Vec<String>,
}

impl Execution {
    async fn run(mut self) -> anyhow::Result<RunRecord> {
        let started_at = chrono::Local::now();
        let plan = self.set_up(&started_at).await?;
        let load = self.start_load(&plan)?;
        let driven = self.drive(&plan, &load).await;
        let final_check = self.tear_down(&plan, &load, driven.load_secs).await;
        Ok(self.finish(plan, load, driven, final_check, started_at))
    }
}
