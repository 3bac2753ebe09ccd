//! A run's load phase: the recorder whose start is second 0 of every timeline, the
//! workload, the helper tasks alongside (fault schedule, fault poller, consistency
//! checker, progress lines), and the load itself, closed loop through goose or open loop at
//! the scenario's rate, until the run time is up or a stop is requested.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::checks::poll_consistency;
use super::goose::drive_goose;
use super::open_loop::{Schedule, drive_open_loop};
use super::schedule::{poll_faults, schedule_chaos, schedule_faults};
use super::setup::Plan;
use super::shared::Shared;
use super::{Execution, Phase};
use crate::api::Api;
use crate::duration::format_duration;
use crate::record::LoadMode;
use crate::recorder::{DEFAULT_RETAIN_SECS, Recorder};
use crate::scenario::{Assertion, Rule};
use crate::workflow::Workload;

/// What the load runs on.
pub(super) struct Load {
    pub(super) recorder: Arc<Recorder>,
    pub(super) workload: Arc<Workload>,
}

/// How the load went.
pub(super) struct Driven {
    /// Seconds the load phase actually lasted.
    pub(super) load_secs: f64,
    pub(super) stopped_early: bool,
}

impl Execution {
    /// Makes the recorder and workload and starts the clock: the recorder's start is the
    /// load's start, second 0 of every timeline.
    pub(super) fn start_load(&self, plan: &Plan) -> anyhow::Result<Load> {
        let (options, shared) = (&self.options, &self.shared);
        let scenario = &options.scenario;
        let request_timeout = scenario.load.request_timeout;
        let recorder =
            Arc::new(Recorder::new().retaining(retention_secs(&plan.assertions, request_timeout)));
        let api = Api::new(
            options.targets.clone(),
            options.admin_token.clone(),
            request_timeout,
            recorder.clone(),
        )?;
        let workload = Arc::new(Workload::new(
            api,
            scenario.workflows.clone(),
            plan.menu_ids.clone(),
            plan.run_tag.clone(),
        ));
        let _ = shared.recorder.set(recorder.clone());
        let _ = shared.workload.set(workload.clone());
        let _ = shared.load_started.set(recorder.started());
        shared.set_phase(Phase::Running);
        for step in &plan.at_start {
            shared.mark(step.service, step.fault.to_string(), "scenario");
            shared.record_applied(step, 0.0);
        }
        Ok(Load { recorder, workload })
    }

    /// Runs the load with its helper tasks alongside, and stops them when it is over.
    pub(super) async fn drive(&mut self, plan: &Plan, load: &Load) -> Driven {
        let shared = &self.shared;
        let workload = &load.workload;
        let mut helpers = vec![
            tokio::spawn(schedule_faults(
                shared.clone(),
                workload.clone(),
                plan.later.clone(),
            )),
            tokio::spawn(poll_faults(shared.clone(), workload.clone())),
            tokio::spawn(poll_consistency(
                shared.clone(),
                workload.clone(),
                plan.menus.clone(),
                self.options.scenario.load.consistency_every,
            )),
        ];
        if let Some(driver) = &plan.chaos_driver {
            helpers.push(tokio::spawn(schedule_chaos(
                shared.clone(),
                driver.clone(),
                plan.chaos.clone(),
            )));
        }
        if self.options.progress {
            helpers.push(tokio::spawn(print_progress(shared.clone())));
        }
        if let Err(e) = self.drive_load(load).await {
            self.notes.push(format!("the load driver failed: {e:#}"));
        }
        let load_secs = load.recorder.started().elapsed().as_secs_f64();
        let stopped_early = self.shared.stopping() || load_secs + 0.5 < self.run_time.as_secs_f64();
        for helper in helpers {
            helper.abort();
        }
        Driven {
            load_secs,
            stopped_early,
        }
    }

    /// The load itself, by the run's mode.
    async fn drive_load(&self, load: &Load) -> anyhow::Result<()> {
        let (shared, workload) = (&self.shared, &load.workload);
        match &self.mode {
            LoadMode::ClosedLoop { .. } => {
                let scenario = &self.options.scenario;
                drive_goose(shared, workload, scenario, self.users, self.run_time).await
            }
            LoadMode::OpenLoop { rate } => {
                let schedule = Schedule {
                    rate: *rate,
                    until: load.recorder.started() + self.run_time,
                    max_in_flight: shared.iterations.cap.load(Ordering::Relaxed).max(1) as usize,
                    seed: self.options.seed,
                };
                drive_open_loop(shared, workload, self.users, schedule).await;
                Ok(())
            }
        }
    }
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
