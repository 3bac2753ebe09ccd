//! A checked scenario, ready to run: its load, menus, fault steps, weighted workflows,
//! assertions and `[compare]` thresholds, with the words reports use for them and the
//! scaling of its times to a shorter run.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::chaos::ChaosStep;
use crate::duration::format_duration;
use crate::switch::FaultStep;

/// A checked scenario, ready to run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Scenario {
    pub name: String,
    /// One line for `loadgen list`.
    pub description: String,
    /// What the scenario tests and how to read its result.
    pub tests: String,
    /// Where it was read from (a path, or `built-in:<name>`).
    pub source: String,
    pub load: Load,
    pub menus: Vec<MenuSetup>,
    /// The fault switches (`[[faults]]` of kind delay, error, payment_fail,
    /// inventory_delay, clear).
    pub faults: Vec<FaultStep>,
    /// Process, link and dependency faults (`[[faults]]` of kind kill, restart, pause,
    /// resume, link, partition, dependency_down); they need `testbed up --processes
    /// --fault-proxy`.
    #[serde(default)]
    pub chaos: Vec<ChaosStep>,
    pub workflows: Vec<Workflow>,
    pub assertions: Vec<Assertion>,
    /// Thresholds for `loadgen compare` against a baseline run (`[compare]`).
    #[serde(default)]
    pub compare: CompareThresholds,
}

/// When `loadgen compare` fails a run against its baseline. Shares are fractions
/// (0.2 = 20 %); `None` reports the figure without gating on it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CompareThresholds {
    /// Largest allowed rise of an endpoint's p50, p95, p99 (relative to the baseline).
    pub p50_regression: Option<f64>,
    pub p95_regression: Option<f64>,
    pub p99_regression: Option<f64>,
    /// Largest allowed fall of an endpoint's throughput (relative).
    pub throughput_drop: Option<f64>,
    /// Largest allowed rise of an endpoint's error rate, in percentage points / 100.
    pub error_rate_increase: Option<f64>,
    /// Fewest requests an endpoint needs in both runs before anything is judged.
    pub min_samples: Option<u64>,
    /// Latency changes smaller than this never count as regressions (noise floor).
    pub min_change: Option<Duration>,
}

/// A share written as `"20%"` (or a bare number of percent, `"20"`).
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    match number.parse::<f64>() {
        Ok(value) if value.is_finite() && value >= 0.0 => Ok(value / 100.0),
        _ => Err(format!(
            "\"{text}\" is not a percentage: expected e.g. \"20%\""
        )),
    }
}

/// How much load, for how long.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Load {
    pub users: usize,
    /// Users started per second.
    pub hatch_rate: f64,
    pub run_time: Duration,
    /// Open-loop target: workflow iterations started per second, whatever the latency.
    pub rate: Option<f64>,
    /// Pause between a user's workflow iterations (closed loop), picked uniformly.
    pub think_min: Duration,
    pub think_max: Duration,
    pub request_timeout: Duration,
    pub consistency_every: Duration,
    /// How long to wait at the end for orders to leave PENDING.
    pub settle: Duration,
    /// The short mode (`--short`, CI): fewer users, a shorter run, fault times scaled.
    pub short_users: usize,
    pub short_run_time: Duration,
    pub short_rate: Option<f64>,
    /// Open loop: the most workflow iterations running at once; an iteration due while
    /// this many run is not started and counts as dropped. `None`: rate × request timeout.
    #[serde(default)]
    pub max_in_flight: Option<usize>,
}

/// A menu the scenario creates for itself, so runs are isolated and repeatable.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MenuSetup {
    /// The name workflows refer to it by.
    pub key: String,
    pub name: String,
    pub price: i64,
    pub stock: i64,
}

/// What one iteration of a virtual user does.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowKind {
    /// `GET /menus`.
    BrowseMenus,
    /// `GET /menus/{id}` of one of the workflow's menus.
    MenuDetail,
    /// `POST /orders` with one item per listed menu, then `reads` × `GET /orders/{id}`.
    Order,
    /// Order, cancel it, order again.
    CancelReorder,
    /// `reads` × `GET /orders/{id}` of the user's last order (placing one first if needed).
    ReadOrder,
    /// `POST /validate` with the user's token.
    Validate,
}

impl WorkflowKind {
    pub(super) const NAMES: &'static str =
        "browse_menus, menu_detail, order, cancel_reorder, read_order, validate";

    pub fn needs_menus(self) -> bool {
        matches!(
            self,
            WorkflowKind::MenuDetail
                | WorkflowKind::Order
                | WorkflowKind::CancelReorder
                | WorkflowKind::ReadOrder
        )
    }
}

/// A weighted workflow.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Workflow {
    pub kind: WorkflowKind,
    pub weight: usize,
    /// Keys of the scenario's menus.
    pub menus: Vec<String>,
    pub quantity: u32,
    pub reads: u32,
    /// Pause between the reads of `read_order` (lets cache expiry be observed).
    pub read_pause: Duration,
}

impl Workflow {
    pub fn label(&self) -> String {
        let kind = serde_json::to_value(self.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        if self.menus.is_empty() {
            kind
        } else {
            format!("{kind}[{}]", self.menus.join("+"))
        }
    }
}

/// A pass/fail rule, with the line it was written on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Assertion {
    pub line: usize,
    pub rule: Rule,
}

/// What an assertion checks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rule {
    /// Every scenario menu: stock = initial − sold (sold = PAID quantity).
    NoDrift,
    /// Every scenario menu: stock ≥ 0 and sold ≤ initial.
    NoOversell,
    /// No order left PENDING at the end (after the settle wait).
    NonePending,
    /// Every scenario menu: stock = initial − reserved + restored (the restaurant's ledger).
    InventoryIdentity,
    /// What the clients saw PAID (less what they cancelled) equals what the Order Service
    /// counts as sold, per menu: no lost or phantom updates.
    ClientAgrees,
    /// Share of answered order attempts that ended FAILED by declined payment.
    FailedShare { target: f64, tolerance: f64 },
    /// A latency percentile of an endpoint (or of all, `*`) stays under a bound.
    Latency {
        endpoint: String,
        percentile: f64,
        max: Duration,
    },
    /// Share of requests that errored (transport error, 5xx, or an unexpected 4xx).
    ErrorRate { endpoint: String, max_rate: f64 },
    /// At least this many requests reached the endpoint.
    MinRequests { endpoint: String, min: u64 },
    /// Cached reads: both hits and misses seen, and hits faster at p50.
    CacheHitFaster { endpoint: String, min_misses: u64 },
    /// In the last `window` of the run (after faults were removed) the error rate and p95
    /// latency are back within bounds.
    Recovery {
        window: Duration,
        max_rate: f64,
        max_p95: Duration,
    },
    /// Open loop: share of the scheduled iterations that could not start on time because
    /// `max_in_flight` were already running (k6's `dropped_iterations`).
    Dropped { max_rate: f64 },
    /// After every fault window (or those `fault` names: a kind, a target or `kind:target`)
    /// the measure recovered within `within` of the fault's end (see `recovery.rs`).
    RecoveredWithin {
        within: Duration,
        measure: RecoveryMeasure,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fault: Option<String>,
    },
}

/// Which recovery figure a `recovered_within` assertion judges.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryMeasure {
    /// Nothing PENDING, no compensation outstanding, drift 0.
    Books,
    /// The error rate back under the threshold.
    Errors,
    /// p95 back under its bound.
    P95,
    /// All three.
    All,
}

impl RecoveryMeasure {
    pub(super) const NAMES: &'static str = "books, errors, p95 or all";

    pub fn name(self) -> &'static str {
        match self {
            RecoveryMeasure::Books => "books",
            RecoveryMeasure::Errors => "errors",
            RecoveryMeasure::P95 => "p95",
            RecoveryMeasure::All => "all",
        }
    }

    pub(super) fn parse(text: &str) -> Option<Self> {
        match text {
            "books" => Some(RecoveryMeasure::Books),
            "errors" => Some(RecoveryMeasure::Errors),
            "p95" => Some(RecoveryMeasure::P95),
            "all" => Some(RecoveryMeasure::All),
            _ => None,
        }
    }
}

impl Rule {
    /// A short name for reports and JUnit test cases.
    pub fn title(&self) -> String {
        match self {
            Rule::NoDrift => "no stock drift".into(),
            Rule::NoOversell => "no oversell".into(),
            Rule::NonePending => "nothing left PENDING".into(),
            Rule::InventoryIdentity => "stock = initial - reserved + restored".into(),
            Rule::ClientAgrees => "client-seen sales = server sales".into(),
            Rule::FailedShare { target, tolerance } => format!(
                "FAILED share {:.0}% ± {:.0}%",
                target * 100.0,
                tolerance * 100.0
            ),
            Rule::Latency {
                endpoint,
                percentile,
                max,
            } => format!("{endpoint} p{percentile} < {}", format_duration(*max)),
            Rule::ErrorRate { endpoint, max_rate } => {
                format!("{endpoint} error rate ≤ {:.1}%", max_rate * 100.0)
            }
            Rule::MinRequests { endpoint, min } => format!("{endpoint} ≥ {min} requests"),
            Rule::CacheHitFaster { endpoint, .. } => {
                format!("{endpoint} cache hits faster than misses")
            }
            Rule::Recovery {
                window,
                max_rate,
                max_p95,
            } => format!(
                "recovered in last {}: errors ≤ {:.1}%, p95 < {}",
                format_duration(*window),
                max_rate * 100.0,
                format_duration(*max_p95)
            ),
            Rule::Dropped { max_rate } => {
                format!("dropped iterations ≤ {:.1}%", max_rate * 100.0)
            }
            Rule::RecoveredWithin {
                within,
                measure,
                fault,
            } => {
                let what = match measure {
                    RecoveryMeasure::Books => "books balanced",
                    RecoveryMeasure::Errors => "errors back",
                    RecoveryMeasure::P95 => "p95 back",
                    RecoveryMeasure::All => "recovered (errors, p95, books)",
                };
                let after = fault
                    .as_ref()
                    .map_or("every fault".to_string(), |f| format!("{f} faults"));
                format!("{what} within {} after {after}", format_duration(*within))
            }
        }
    }
}

impl Scenario {
    /// The load settings to use, in normal or short mode.
    pub fn effective_load(&self, short: bool) -> (usize, Duration, Option<f64>) {
        if short {
            (
                self.load.short_users,
                self.load.short_run_time,
                self.load.short_rate.or(self.load.rate),
            )
        } else {
            (self.load.users, self.load.run_time, self.load.rate)
        }
    }

    /// The fault steps with their times scaled to a run of `run_time` (short mode, or a
    /// `--run-time` override), so "halfway" stays halfway.
    pub fn scaled_faults(&self, run_time: Duration) -> Vec<FaultStep> {
        let ratio = run_time.as_secs_f64() / self.load.run_time.as_secs_f64().max(0.001);
        self.faults
            .iter()
            .map(|step| FaultStep {
                at: Duration::from_secs_f64(step.at.as_secs_f64() * ratio),
                ..step.clone()
            })
            .collect()
    }

    /// The process, link and dependency faults with their start times scaled like the
    /// switches'; durations stay as written (a 2 s kill is a 2 s kill), and a fault that
    /// would then outlast the run starts earlier so that it ends with it.
    pub fn scaled_chaos(&self, run_time: Duration) -> Vec<ChaosStep> {
        let ratio = run_time.as_secs_f64() / self.load.run_time.as_secs_f64().max(0.001);
        self.chaos
            .iter()
            .map(|step| {
                let mut at = Duration::from_secs_f64(step.at.as_secs_f64() * ratio);
                if let Some(duration) = step.duration {
                    at = at.min(run_time.saturating_sub(duration));
                }
                ChaosStep { at, ..step.clone() }
            })
            .collect()
    }

    /// Whether a run needs the launcher's control API or fault proxy.
    pub fn needs_chaos(&self) -> bool {
        !self.chaos.is_empty()
    }

    /// The assertions with time windows scaled like the faults.
    pub fn scaled_assertions(&self, run_time: Duration) -> Vec<Assertion> {
        let ratio = run_time.as_secs_f64() / self.load.run_time.as_secs_f64().max(0.001);
        self.assertions
            .iter()
            .map(|assertion| {
                let mut assertion = assertion.clone();
                if let Rule::Recovery { window, .. } = &mut assertion.rule {
                    *window = Duration::from_secs_f64(window.as_secs_f64() * ratio.min(1.0));
                }
                assertion
            })
            .collect()
    }
}
