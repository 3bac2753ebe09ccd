//! Running a scenario: setup (readiness, isolated menus, clean fault switches), the load
//! (closed-loop goose users, or an open-loop request rate), faults switched on and off on
//! schedule, the consistency checker and fault poller alongside, teardown, the settle wait,
//! the final check and the verdict. [`start_run`] returns a [`RunHandle`] whose
//! [`Snapshot`]s a dashboard can read while the run goes on.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use contract::ChaosSnapshot;
use goose::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::api::{Api, Targets};
use crate::assertions::{self, AssertionResult, Evidence, IterationStats, WindowStats};
use crate::chaos::{ChaosStep, ProcessAction};
use crate::chaos_driver::{ChaosDriver, ChaosTargets};
use crate::consistency::{self, ConsistencyCheck};
use crate::duration::format_duration;
use crate::fault_window::{self, FaultWindow, WindowBook};
use crate::hlog::{self, RunHistograms, Seconds};
use crate::recorder::{DEFAULT_RETAIN_SECS, EndpointSnapshot, Recorder, SecondPoint};
use crate::recovery::{self, Observed, RecoveryBounds, RecoveryFigure};
pub use crate::record::{FaultMarker, LoadMode, RunConfig, RunRecord};
use crate::scenario::{Assertion, Rule, Scenario};
use crate::service::Service;
use crate::switch::{Fault, FaultStep};
use crate::workflow::{TallySnapshot, VirtualUser, Workload};

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
        if self.total_requests == 0 {
            0.0
        } else {
            self.total_errors as f64 / self.total_requests as f64
        }
    }
}

/// State shared by the run task, its helpers and the handle.
struct Shared {
    scenario: String,
    mode: LoadMode,
    run_time: Duration,
    users_planned: usize,
    phase: Mutex<Phase>,
    recorder: OnceLock<Arc<Recorder>>,
    workload: OnceLock<Arc<Workload>>,
    load_started: OnceLock<Instant>,
    users_active: AtomicUsize,
    faults: Mutex<BTreeMap<Service, ChaosSnapshot>>,
    markers: Mutex<Vec<FaultMarker>>,
    windows: Mutex<WindowBook>,
    /// Process, link and dependency faults set and not yet cleared, by scenario line.
    chaos_active: Mutex<BTreeMap<usize, ChaosStep>>,
    consistency: Mutex<Vec<ConsistencyCheck>>,
    stop_requested: AtomicBool,
    stop: Notify,
    iterations: IterationCounters,
    /// Fault steps as applied, at seconds into the load.
    applied: Mutex<Vec<(f64, FaultStep)>>,
    /// A fault step was applied (wakes the consistency checker).
    fault_applied: Notify,
    /// When the teardown turned every fault off (seconds into the load).
    teardown_at: OnceLock<f64>,
    recovery_bounds: RecoveryBounds,
}

/// Open-loop iteration counters, shared by the scheduler, its iterations and snapshots.
#[derive(Default)]
struct IterationCounters {
    scheduled: AtomicU64,
    dropped: AtomicU64,
    running: AtomicU64,
    peak: AtomicU64,
    cap: AtomicU64,
}

impl IterationCounters {
    fn stats(&self) -> IterationStats {
        IterationStats {
            scheduled: self.scheduled.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            peak_in_flight: self.peak.load(Ordering::Relaxed),
            max_in_flight: self.cap.load(Ordering::Relaxed),
        }
    }
}

/// Counts one iteration as running for as long as it lives.
struct Running<'a>(&'a IterationCounters);

impl<'a> Running<'a> {
    fn start(counters: &'a IterationCounters) -> Self {
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Shared {
    fn elapsed(&self) -> Duration {
        self.load_started
            .get()
            .map_or(Duration::ZERO, Instant::elapsed)
    }

    fn elapsed_secs(&self) -> f64 {
        match self.load_started.get() {
            Some(start) => start.elapsed().as_secs_f64(),
            None => 0.0,
        }
    }

    fn set_phase(&self, phase: Phase) {
        *lock(&self.phase) = phase;
    }

    fn stopping(&self) -> bool {
        self.stop_requested.load(Ordering::SeqCst)
    }

    /// Sleeps until `deadline` or a stop request; true when stopped.
    async fn sleep_until(&self, deadline: Instant) -> bool {
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
    fn record_applied(&self, step: &FaultStep, at_secs: f64) {
        lock(&self.applied).push((at_secs, step.clone()));
        self.fault_applied.notify_one();
    }

    /// The fault windows that have ended, and those still on (ending now). After the
    /// teardown every window has ended.
    fn fault_windows(&self) -> (Vec<FaultWindow>, Vec<FaultWindow>) {
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
    fn live_recovery(
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

    fn mark(&self, service: Service, description: String, origin: &str) {
        lock(&self.markers).push(FaultMarker {
            at_secs: self.elapsed_secs(),
            service,
            description,
            origin: origin.to_string(),
        });
    }

    fn snapshot(&self) -> Snapshot {
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
            goose::trigger_killswitch("stop requested");
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
    let shared = Arc::new(Shared {
        scenario: scenario.name.clone(),
        mode: mode.clone(),
        run_time,
        users_planned: users,
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
    });
    shared
        .iterations
        .cap
        .store(max_in_flight.unwrap_or(0) as u64, Ordering::Relaxed);
    let task = tokio::spawn(execute(options, shared.clone(), users, run_time, mode));
    RunHandle { shared, task }
}

async fn execute(
    options: RunOptions,
    shared: Arc<Shared>,
    users: usize,
    run_time: Duration,
    mode: LoadMode,
) -> anyhow::Result<RunRecord> {
    let scenario = options.scenario.clone();
    let started_at = chrono::Local::now();
    let run_tag = format!(
        "{}{:04x}",
        started_at.format("%H%M%S"),
        rand::rng().random::<u16>()
    );
    let mut notes = Vec::new();

    // ----- setup -----
    // Setup calls are untimed; they get a recorder of their own that nobody reads.
    let setup_api = Api::new(
        options.targets.clone(),
        options.admin_token.clone(),
        Duration::from_secs(10),
        Arc::new(Recorder::with_shards(1)),
    )?;
    setup_api.wait_ready(Duration::from_secs(30)).await?;
    let chaos_driver = if scenario.needs_chaos() {
        let driver = ChaosDriver::new(options.chaos.clone(), options.admin_token.clone())?;
        driver
            .preflight(&scenario.chaos, &options.targets)
            .await
            .context("preflight")?;
        notes.extend(driver.prepare(&scenario.chaos).await?);
        Some(driver)
    } else {
        None
    };
    for service in Service::ALL {
        setup_api
            .apply_fault(service, &Fault::Clear)
            .await
            .with_context(|| format!("clearing faults before the run on the {service} service"))?;
    }
    let mut menu_ids = HashMap::new();
    for menu in &scenario.menus {
        let name = format!("{} [{} {run_tag}]", menu.name, scenario.name);
        let id = setup_api
            .create_menu(&name, menu.price, menu.stock)
            .await
            .with_context(|| format!("creating the scenario menu \"{}\"", menu.key))?;
        menu_ids.insert(menu.key.clone(), id);
    }
    let menus: Vec<(String, i64)> = scenario
        .menus
        .iter()
        .filter_map(|m| menu_ids.get(&m.key).map(|id| (m.key.clone(), *id)))
        .collect();
    let faults = scenario.scaled_faults(run_time);
    let chaos_steps = scenario.scaled_chaos(run_time);
    let assertions = scenario.scaled_assertions(run_time);

    // Faults due at the start are on before the first request.
    let (at_start, later): (Vec<FaultStep>, Vec<FaultStep>) =
        faults.iter().cloned().partition(|step| step.at.is_zero());
    for step in &at_start {
        setup_api
            .apply_fault(step.service, &step.fault)
            .await
            .with_context(|| format!("setting {} on the {} service", step.fault, step.service))?;
    }
    let mut initial_states = BTreeMap::new();
    for service in Service::ALL {
        if let Ok(state) = setup_api.fault_state(service).await {
            initial_states.insert(service, state);
        }
    }
    *lock(&shared.faults) = initial_states;

    // ----- load -----
    // The recorder's start is the load's start: second 0 of every timeline.
    let recorder = Arc::new(
        Recorder::new().retaining(retention_secs(&assertions, scenario.load.request_timeout)),
    );
    let api = Api::new(
        options.targets.clone(),
        options.admin_token.clone(),
        scenario.load.request_timeout,
        recorder.clone(),
    )?;
    let workload = Arc::new(Workload::new(
        api,
        scenario.workflows.clone(),
        menu_ids.clone(),
        run_tag.clone(),
    ));
    let _ = shared.recorder.set(recorder.clone());
    let _ = shared.workload.set(workload.clone());
    let load_start = recorder.started();
    let _ = shared.load_started.set(load_start);
    shared.set_phase(Phase::Running);
    let load_until = load_start + run_time;
    for step in &at_start {
        shared.mark(step.service, step.fault.to_string(), "scenario");
        shared.record_applied(step, 0.0);
    }

    let mut helpers = vec![
        tokio::spawn(schedule_faults(shared.clone(), workload.clone(), later)),
        tokio::spawn(poll_faults(shared.clone(), workload.clone())),
        tokio::spawn(poll_consistency(
            shared.clone(),
            workload.clone(),
            menus.clone(),
            scenario.load.consistency_every,
        )),
    ];
    if let Some(driver) = &chaos_driver {
        helpers.push(tokio::spawn(schedule_chaos(
            shared.clone(),
            driver.clone(),
            chaos_steps.clone(),
        )));
    }
    let progress = options
        .progress
        .then(|| tokio::spawn(print_progress(shared.clone())));

    let driven = match &mode {
        LoadMode::ClosedLoop { .. } => {
            drive_goose(&shared, &workload, &scenario, users, run_time).await
        }
        LoadMode::OpenLoop { rate } => {
            let schedule = Schedule {
                rate: *rate,
                until: load_until,
                max_in_flight: shared.iterations.cap.load(Ordering::Relaxed).max(1) as usize,
                seed: options.seed,
            };
            drive_open_loop(&shared, &workload, users, schedule).await;
            Ok(())
        }
    };
    if let Err(e) = driven {
        notes.push(format!("the load driver failed: {e:#}"));
    }
    let load_secs = load_start.elapsed().as_secs_f64();
    let stopped_early = shared.stopping() || load_secs + 0.5 < run_time.as_secs_f64();
    for helper in helpers {
        helper.abort();
    }
    if let Some(progress) = progress {
        progress.abort();
    }

    // ----- teardown, settle, final check -----
    shared.set_phase(Phase::Settling);
    let _ = shared.teardown_at.set(shared.elapsed_secs());
    if let Some(driver) = &chaos_driver {
        clear_chaos(&shared, driver, &mut notes).await;
    }
    lock(&shared.windows).close_where(|_, _| true, load_secs);
    for service in Service::ALL {
        match workload.api.apply_fault(service, &Fault::Clear).await {
            Ok(()) => shared.mark(service, "all faults off".into(), "teardown"),
            Err(e) => notes.push(format!("teardown on the {service} service failed: {e:#}")),
        }
        if let Ok(state) = workload.api.fault_state(service).await {
            lock(&shared.faults).insert(service, state);
        }
    }
    // Until the books balance (or the settle time is up), every quarter second: each check
    // is kept, so recovery after faults still on at the end is measured to that resolution.
    let settle_until = Instant::now() + scenario.load.settle;
    let final_check = loop {
        let check = consistency::check(&workload.api, &menus, shared.elapsed_secs()).await;
        lock(&shared.consistency).push(check.clone());
        if check.balanced() || Instant::now() >= settle_until {
            break check;
        }
        tokio::time::sleep(RECOVERY_CHECK_EVERY).await;
    };

    // ----- verdict -----
    let merged = recorder.merged();
    let endpoints = merged.endpoint_snapshots();
    let timeline = merged.timeline();
    let windows = assertions::trailing_windows(&assertions, &merged, &timeline, load_secs);
    let tally = workload.tally.snapshot();
    let iterations = shared.iterations.stats();
    let (fault_windows, _) = shared.fault_windows();
    let mut consistency_history = lock(&shared.consistency).clone();
    // Checks overlap, so they finish out of order.
    consistency_history.sort_by(|a, b| a.at_secs.total_cmp(&b.at_secs));
    let recovery = recovery::measure(
        &fault_windows,
        &Observed {
            timeline: &timeline,
            checks: &consistency_history,
            whole_secs: load_secs.floor() as u64,
            now_s: shared.elapsed_secs(),
            finished: true,
        },
        shared.recovery_bounds,
    );
    let evidence = Evidence {
        endpoints: endpoints.clone(),
        final_check: Some(final_check.clone()),
        tally: tally.clone(),
        windows: windows.clone(),
        iterations,
        recovery: recovery.clone(),
    };
    let results = assertions::evaluate(&assertions, &evidence);
    let passed = results.iter().all(|r| r.passed) && !results.is_empty();
    let seconds_log = recorder.finish_log();
    if let Some(error) = seconds_log.error() {
        notes.push(format!(
            "the per-second histograms could not all be kept for {}: {error}",
            hlog::FILE_NAME
        ));
    }
    let late = recorder.late_samples();
    if late > 0 {
        notes.push(format!(
            "{late} requests ended after their second's latency had been folded: they count \
             everywhere except that second's percentiles"
        ));
    }
    shared.set_phase(Phase::Done);

    Ok(RunRecord {
        format_version: 1,
        config: RunConfig {
            users,
            hatch_rate: scenario.load.hatch_rate,
            run_time,
            think_min: scenario.load.think_min,
            think_max: scenario.load.think_max,
            short: options.short,
            seed: options.seed,
            mode: mode.clone(),
            targets: options.targets.clone(),
            faults,
            menu_ids: menu_ids.into_iter().collect(),
            run_tag,
            max_in_flight: (iterations.max_in_flight > 0)
                .then_some(iterations.max_in_flight as usize),
            chaos: chaos_steps,
            chaos_targets: chaos_driver.as_ref().map(|d| d.targets().clone()),
        },
        scenario,
        started_at: started_at.to_rfc3339(),
        finished_at: chrono::Local::now().to_rfc3339(),
        load_secs,
        stopped_early,
        measurement: mode.measurement(),
        endpoints,
        timeline,
        markers: lock(&shared.markers).clone(),
        consistency_history,
        final_check: Some(final_check),
        tally,
        windows,
        iterations,
        assertions: results,
        passed,
        notes,
        load_started_at: Some(hlog::rfc3339(recorder.started_wall())),
        merged_from: Vec::new(),
        fault_windows,
        recovery,
        histograms: Some(Arc::new(RunHistograms::of_run(
            &merged,
            recorder.started_wall(),
            Seconds::Spooled(seconds_log),
        ))),
    })
}

/// How many recent seconds the recorder keeps as histograms: the longest trailing window an
/// assertion reads, plus the longest a request may take (it is recorded when it ends, under
/// the second it started in), plus a margin.
fn retention_secs(assertions: &[Assertion], request_timeout: Duration) -> u64 {
    let longest_window = assertions
        .iter()
        .filter_map(|a| match &a.rule {
            Rule::Recovery { window, .. } => Some(window.as_secs() + 1),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    (longest_window + request_timeout.as_secs() + 5).max(DEFAULT_RETAIN_SECS)
}

/// Applies the scenario's fault steps at their times.
async fn schedule_faults(shared: Arc<Shared>, workload: Arc<Workload>, mut steps: Vec<FaultStep>) {
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
async fn schedule_chaos(shared: Arc<Shared>, driver: ChaosDriver, steps: Vec<ChaosStep>) {
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
async fn clear_chaos(shared: &Shared, driver: &ChaosDriver, notes: &mut Vec<String>) {
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
async fn poll_faults(shared: Arc<Shared>, workload: Arc<Workload>) {
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
async fn poll_consistency(
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
                let check = consistency::check(&workload.api, &menus, shared.elapsed_secs()).await;
                lock(&shared.consistency).push(check);
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

/// Prints one progress line every five seconds.
async fn print_progress(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(5));
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let snapshot = shared.snapshot();
        let drift: i64 = snapshot
            .consistency
            .as_ref()
            .map_or(0, |c| c.rows.iter().map(|r| r.drift.abs()).sum());
        println!(
            "[{}] {}/{}  users {}/{}  requests {} ({}/s)  errors {} ({:.1}%)  |drift| {}",
            snapshot.scenario,
            format_duration(Duration::from_secs(snapshot.elapsed.as_secs())),
            format_duration(snapshot.run_time),
            snapshot.users_active,
            snapshot.users_planned,
            snapshot.total_requests,
            snapshot.current_rps,
            snapshot.total_errors,
            snapshot.error_rate() * 100.0,
            drift,
        );
    }
}

// ----- closed loop: goose -----

/// Runs the workflows as goose users: one goose scenario, a start transaction that signs
/// the user up and logs in once, and one weighted transaction per workflow.
async fn drive_goose(
    shared: &Arc<Shared>,
    workload: &Arc<Workload>,
    scenario: &Scenario,
    users: usize,
    run_time: Duration,
) -> anyhow::Result<()> {
    let hatch_secs = (users as f64 / scenario.load.hatch_rate).ceil() as u64;
    let total_secs = run_time.as_secs().max(1);
    let hatch_secs = hatch_secs.min(total_secs.saturating_sub(1));
    let hold_secs = (total_secs - hatch_secs).max(1);
    let plan = format!("{users},{hatch_secs}s;{users},{hold_secs}s;0,0s");

    let mut load = goose::goose::Scenario::new("load")
        .set_wait_time(scenario.load.think_min, scenario.load.think_max)
        .map_err(|e| anyhow::anyhow!("think time: {e}"))?
        .register_transaction(
            user_start_transaction(shared.clone(), workload.clone())
                .set_name("signup+login")
                .set_on_start(),
        )
        .register_transaction(
            user_stop_transaction(shared.clone())
                .set_name("stop")
                .set_on_stop(),
        );
    for (index, workflow) in scenario.workflows.iter().enumerate() {
        let transaction = workflow_transaction(workload.clone(), index)
            .set_name(&workflow.label())
            .set_weight(workflow.weight)
            .map_err(|e| anyhow::anyhow!("workflow weight: {e}"))?;
        load = load.register_transaction(transaction);
    }

    let configuration = goose::config::GooseConfiguration::parse_args_default::<&str>(&[])
        .map_err(|e| anyhow::anyhow!("goose configuration: {e}"))?;
    let goose_error = |e: GooseError| anyhow::anyhow!("goose: {e:?}");
    let attack = GooseAttack::initialize_with_config(configuration)
        .map_err(goose_error)?
        .register_scenario(load)
        .set_default(
            GooseDefault::Host,
            workload.api.targets().direct(Service::Order),
        )
        .map_err(goose_error)?
        .set_default(GooseDefault::TestPlan, plan.as_str())
        .map_err(goose_error)?
        .set_default(GooseDefault::NoPrintMetrics, true)
        .map_err(goose_error)?
        .set_default(GooseDefault::NoErrorSummary, true)
        .map_err(goose_error)?
        .set_default(GooseDefault::NoTelnet, true)
        .map_err(goose_error)?
        .set_default(GooseDefault::Quiet, 1)
        .map_err(goose_error)?;

    // A stop request reaches goose through its killswitch.
    let watcher = {
        let shared = shared.clone();
        tokio::spawn(async move {
            loop {
                if shared.stopping() {
                    goose::trigger_killswitch("stop requested");
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let result = attack.execute().await;
    watcher.abort();
    result.map(|_| ()).map_err(goose_error)
}

fn user_start_transaction(shared: Arc<Shared>, workload: Arc<Workload>) -> Transaction {
    Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let shared = shared.clone();
        let workload = workload.clone();
        Box::pin(async move {
            shared.users_active.fetch_add(1, Ordering::Relaxed);
            let virtual_user = workload.new_user().await;
            user.set_session_data(virtual_user);
            Ok(())
        })
    }))
}

fn user_stop_transaction(shared: Arc<Shared>) -> Transaction {
    Transaction::new(Arc::new(move |_user: &mut GooseUser| {
        let shared = shared.clone();
        Box::pin(async move {
            let _ = shared
                .users_active
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
            Ok(())
        })
    }))
}

fn workflow_transaction(workload: Arc<Workload>, index: usize) -> Transaction {
    Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let workload = workload.clone();
        Box::pin(async move {
            let mut virtual_user = user
                .get_session_data::<VirtualUser>()
                .cloned()
                .unwrap_or_default();
            if virtual_user.username.is_empty() {
                virtual_user = workload.new_user().await;
            }
            workload.run(index, &mut virtual_user, None).await;
            user.set_session_data(virtual_user);
            Ok(())
        })
    }))
}

// ----- open loop -----

/// The default cap on open-loop iterations in flight: as many as the rate starts in one
/// request timeout, so a system that answers within the timeout never sees drops.
pub fn default_max_in_flight(rate: f64, request_timeout: Duration) -> usize {
    (rate * request_timeout.as_secs_f64()).ceil().max(1.0) as usize
}

/// When and how many open-loop iterations to start.
struct Schedule {
    rate: f64,
    until: Instant,
    max_in_flight: usize,
    seed: u64,
}

/// Starts workflow iterations at the schedule's rate until its end, spread over `users`
/// logged-in virtual users, each measured from its intended start. An iteration due while
/// `max_in_flight` are running is not started and counts as dropped (as k6 counts
/// `dropped_iterations`), so a stalled system cannot pile up unbounded tasks.
async fn drive_open_loop(
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
