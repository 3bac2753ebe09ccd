//! The end of a run: the teardown (every fault cleared, every window closed), the settle
//! wait and the final consistency check, then the verdict: recovery after each fault
//! window, the assertions judged, and everything gathered into the run's record.

use std::sync::Arc;

use super::checks::settle;
use super::load::{Driven, Load};
use super::schedule::clear_chaos;
use super::setup::Plan;
use super::shared::lock;
use super::{Execution, Phase};
use crate::assertions::{self, Evidence, IterationStats};
use crate::consistency::ConsistencyCheck;
use crate::fault_window::FaultWindow;
use crate::hlog::{self, RunHistograms, Seconds};
use crate::record::{RunConfig, RunRecord};
use crate::recorder::{Recorder, SecondPoint};
use crate::recovery::{self, Observed, RecoveryFigure};
use crate::service::Service;
use crate::switch::Fault;

impl Execution {
    /// Clears every fault, then waits for the books to settle; answers the final check.
    pub(super) async fn tear_down(
        &mut self,
        plan: &Plan,
        load: &Load,
        load_secs: f64,
    ) -> ConsistencyCheck {
        let shared = &self.shared;
        shared.set_phase(Phase::Settling);
        let _ = shared.teardown_at.set(shared.elapsed_secs());
        if let Some(driver) = &plan.chaos_driver {
            clear_chaos(shared, driver, &mut self.notes).await;
        }
        lock(&shared.windows).close_where(|_, _| true, load_secs);
        let api = &load.workload.api;
        for service in Service::ALL {
            match api.apply_fault(service, &Fault::Clear).await {
                Ok(()) => shared.mark(service, "all faults off".into(), "teardown"),
                Err(e) => self
                    .notes
                    .push(format!("teardown on the {service} service failed: {e:#}")),
            }
            if let Ok(state) = api.fault_state(service).await {
                lock(&shared.faults).insert(service, state);
            }
        }
        let scenario = &self.options.scenario;
        settle(shared, &load.workload, &plan.menus, scenario.load.settle).await
    }

    /// Judges the run and gathers its record.
    pub(super) fn finish(
        mut self,
        plan: Plan,
        load: Load,
        driven: Driven,
        final_check: ConsistencyCheck,
        started_at: chrono::DateTime<chrono::Local>,
    ) -> RunRecord {
        let shared = self.shared.clone();
        let merged = load.recorder.merged();
        let endpoints = merged.endpoint_snapshots();
        let timeline = merged.timeline();
        let tally = load.workload.tally.snapshot();
        let iterations = shared.iterations.stats();
        let (fault_windows, _) = shared.fault_windows();
        let mut consistency_history = lock(&shared.consistency).clone();
        // Checks overlap, so they finish out of order.
        consistency_history.sort_by(|a, b| a.at_secs.total_cmp(&b.at_secs));
        let recovery = self.recovery(&fault_windows, &timeline, &consistency_history, &driven);
        let measured = Evidence {
            endpoints: endpoints.clone(),
            final_check: Some(final_check.clone()),
            tally: tally.clone(),
            iterations,
            recovery: recovery.clone(),
            ..Evidence::default()
        };
        let verdict = assertions::judge(
            &plan.assertions,
            &merged,
            &timeline,
            driven.load_secs,
            measured,
        );
        let seconds_log = self.note_what_the_log_lacks(&load.recorder);
        shared.set_phase(Phase::Done);
        let load_started_wall = load.recorder.started_wall();
        RunRecord {
            format_version: 1,
            config: self.config(plan, iterations),
            measurement: self.mode.measurement(),
            scenario: self.options.scenario,
            started_at: started_at.to_rfc3339(),
            finished_at: chrono::Local::now().to_rfc3339(),
            load_secs: driven.load_secs,
            stopped_early: driven.stopped_early,
            endpoints,
            timeline,
            markers: lock(&shared.markers).clone(),
            consistency_history,
            final_check: Some(final_check),
            tally,
            windows: verdict.windows,
            iterations,
            assertions: verdict.results,
            passed: verdict.passed,
            notes: self.notes,
            load_started_at: Some(hlog::rfc3339(load_started_wall)),
            merged_from: Vec::new(),
            fault_windows,
            recovery,
            histograms: Some(Arc::new(RunHistograms::of_run(
                &merged,
                load_started_wall,
                seconds_log,
            ))),
        }
    }

    /// Recovery after each fault window, now that the run is over.
    fn recovery(
        &self,
        fault_windows: &[FaultWindow],
        timeline: &[SecondPoint],
        checks: &[ConsistencyCheck],
        driven: &Driven,
    ) -> Vec<RecoveryFigure> {
        let observed = Observed {
            timeline,
            checks,
            whole_secs: driven.load_secs.floor() as u64,
            now_s: self.shared.elapsed_secs(),
            finished: true,
        };
        recovery::measure(fault_windows, &observed, self.shared.recovery_bounds)
    }

    /// The per-second histograms the recorder spooled, with a note for what they lack.
    fn note_what_the_log_lacks(&mut self, recorder: &Recorder) -> Seconds {
        let seconds_log = recorder.finish_log();
        if let Some(error) = seconds_log.error() {
            self.notes.push(format!(
                "the per-second histograms could not all be kept for {}: {error}",
                hlog::FILE_NAME
            ));
        }
        let late = recorder.late_samples();
        if late > 0 {
            self.notes.push(format!(
                "{late} requests ended after their second's latency had been folded: they count \
                 everywhere except that second's percentiles"
            ));
        }
        Seconds::Spooled(seconds_log)
    }

    /// The settings the run used.
    fn config(&self, plan: Plan, iterations: IterationStats) -> RunConfig {
        let options = &self.options;
        let load = &options.scenario.load;
        RunConfig {
            users: self.users,
            hatch_rate: load.hatch_rate,
            run_time: self.run_time,
            think_min: load.think_min,
            think_max: load.think_max,
            short: options.short,
            seed: options.seed,
            mode: self.mode.clone(),
            targets: options.targets.clone(),
            faults: plan.faults,
            menu_ids: plan.menu_ids.into_iter().collect(),
            run_tag: plan.run_tag,
            max_in_flight: iterations.cap(),
            chaos: plan.chaos,
            chaos_targets: plan.chaos_driver.as_ref().map(|d| d.targets().clone()),
        }
    }
}
