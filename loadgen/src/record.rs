//! The record of a finished run, as `run.json` holds it and every report renders it: the
//! scenario and the settings it ran with, what was measured (endpoints, timeline,
//! consistency checks, fault windows, recovery), the verdict, and for a record `loadgen
//! merge` made, the runs it combines. The run, `loadgen merge`, `loadgen compare` and the
//! reports all read and write this one shape.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::api::Targets;
use crate::assertions::{AssertionResult, IterationStats, WindowStats};
use crate::chaos::ChaosStep;
use crate::chaos_driver::ChaosTargets;
use crate::consistency::ConsistencyCheck;
use crate::fault_window::FaultWindow;
use crate::hlog::RunHistograms;
use crate::recorder::{EndpointSnapshot, SecondPoint};
use crate::recovery::RecoveryFigure;
use crate::scenario::Scenario;
use crate::service::Service;
use crate::switch::FaultStep;
use crate::workflow::TallySnapshot;

/// How load was generated, and so how latency is to be read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum LoadMode {
    /// Goose users, each running workflows back to back with think time.
    ClosedLoop { engine: String },
    /// Workflow iterations started at a fixed rate whatever the latency.
    OpenLoop { rate: f64 },
}

impl LoadMode {
    /// How latency was measured in this mode, for the report.
    pub fn measurement(&self) -> String {
        match self {
            LoadMode::ClosedLoop { engine } => format!(
                "Closed loop ({engine} users). Each request is timed by the load generator from \
                 before sending to the end of the response body, in microseconds (HDR histogram). \
                 Coordinated omission is NOT corrected in this mode: when the system slows down the \
                 users send less, so tail latency under overload is understated. Use --rate for an \
                 open-loop run."
            ),
            LoadMode::OpenLoop { rate } => format!(
                "Open loop at {rate} workflow iterations/s. The first request of each iteration is \
                 timed from its intended start on the schedule, not from when it was sent, so time \
                 spent queued behind a slow system counts (coordinated omission handled). Later \
                 requests of an iteration are timed from send to end of body, in microseconds."
            ),
        }
    }
}

/// A fault change during the run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FaultMarker {
    /// Seconds into the load phase (negative: during setup).
    pub at_secs: f64,
    pub service: Service,
    pub description: String,
    /// `scenario` (applied by the run), `observed` (seen changed by someone else) or
    /// `teardown`.
    pub origin: String,
}

/// The settings a run used, for the report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunConfig {
    pub users: usize,
    pub hatch_rate: f64,
    pub run_time: Duration,
    pub think_min: Duration,
    pub think_max: Duration,
    pub short: bool,
    pub seed: u64,
    pub mode: LoadMode,
    pub targets: Targets,
    pub faults: Vec<FaultStep>,
    /// Menu key → id created for this run.
    pub menu_ids: BTreeMap<String, i64>,
    pub run_tag: String,
    /// Open loop: the cap on iterations running at once.
    #[serde(default)]
    pub max_in_flight: Option<usize>,
    /// The process, link and dependency faults, at their (scaled) times.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chaos: Vec<ChaosStep>,
    /// Where they were driven (when the scenario had any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chaos_targets: Option<ChaosTargets>,
}

/// Everything a finished run produced; saved as `run.json`, rendered into the reports.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    pub format_version: u32,
    pub scenario: Scenario,
    pub config: RunConfig,
    pub started_at: String,
    pub finished_at: String,
    /// Seconds the load phase actually lasted.
    pub load_secs: f64,
    pub stopped_early: bool,
    pub measurement: String,
    pub endpoints: Vec<EndpointSnapshot>,
    pub timeline: Vec<SecondPoint>,
    pub markers: Vec<FaultMarker>,
    pub consistency_history: Vec<ConsistencyCheck>,
    pub final_check: Option<ConsistencyCheck>,
    pub tally: TallySnapshot,
    pub windows: Vec<WindowStats>,
    /// Open loop: scheduled and dropped iterations (all 0 in closed loop).
    #[serde(default)]
    pub iterations: IterationStats,
    pub assertions: Vec<AssertionResult>,
    pub passed: bool,
    /// Problems met along the way (setup or teardown calls that failed, …).
    pub notes: Vec<String>,
    /// Wall-clock start of the load (second 0 of the timeline), RFC 3339 to the ms.
    #[serde(default)]
    pub load_started_at: Option<String>,
    /// For a record made by `loadgen merge`: the runs it combines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<SourceRun>,
    /// When each fault was on, in seconds into the load (see [`crate::fault_window`]).
    #[serde(default)]
    pub fault_windows: Vec<FaultWindow>,
    /// Recovery after each fault window (see [`crate::recovery`]).
    #[serde(default)]
    pub recovery: Vec<RecoveryFigure>,
    /// The raw histograms, written beside the report as `histograms.hlog` (not in run.json;
    /// `None` for a record read back from run.json).
    #[serde(skip)]
    pub histograms: Option<Arc<RunHistograms>>,
}

impl RunRecord {
    pub fn total_requests(&self) -> u64 {
        self.endpoints.iter().map(|e| e.requests).sum()
    }

    pub fn total_errors(&self) -> u64 {
        self.endpoints.iter().map(|e| e.errors).sum()
    }
}

/// One of the runs a merged record combines.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SourceRun {
    /// The run's directory, as given to `loadgen merge`.
    pub dir: String,
    pub run_tag: String,
    pub started_at: String,
    pub load_started_at: String,
    /// Where the run's second 0 lies on the merged timeline.
    pub offset_secs: u64,
    pub load_secs: f64,
    pub users: usize,
    pub requests: u64,
    pub errors: u64,
    /// The run's own verdict.
    pub passed: bool,
    /// Titles of the assertions the run failed on its own.
    pub failed: Vec<String>,
    /// Endpoint → the run's own p99 (µs), for comparison with the merged one.
    pub p99: BTreeMap<String, u64>,
}
