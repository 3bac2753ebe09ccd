//! The scenario file format (TOML, documented in `scenarios/README.md`): parsing, checking
//! with file and line in every message, and finding the named scenarios shipped in
//! `scenarios/`.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::chaos::{self, ChaosStep, RawChaos};
use crate::duration::{format_duration, parse_duration};
use crate::fault_window;
pub use crate::service::{ENDPOINTS, Service};
pub use crate::switch::{Fault, FaultStep};

/// The scenarios shipped with the repository, compiled in so `list` and `run <name>` work
/// from any directory. A file of the same name in the scenarios directory wins.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "chaos-payment-fail",
        include_str!("../../scenarios/chaos-payment-fail.toml"),
    ),
    (
        "concurrent-orders",
        include_str!("../../scenarios/concurrent-orders.toml"),
    ),
    (
        "cancel-reorder",
        include_str!("../../scenarios/cancel-reorder.toml"),
    ),
    (
        "cache-effect",
        include_str!("../../scenarios/cache-effect.toml"),
    ),
    (
        "inter-service-flow",
        include_str!("../../scenarios/inter-service-flow.toml"),
    ),
    (
        "delay-injection",
        include_str!("../../scenarios/delay-injection.toml"),
    ),
    (
        "full-chaos",
        include_str!("../../scenarios/full-chaos.toml"),
    ),
    // Process, link and dependency faults: `testbed up --processes --fault-proxy` on
    // PostgreSQL + Redis (scripts/chaos-scenarios.sh).
    (
        "order-crash",
        include_str!("../../scenarios/order-crash.toml"),
    ),
    (
        "restaurant-freeze",
        include_str!("../../scenarios/restaurant-freeze.toml"),
    ),
    (
        "redis-outage",
        include_str!("../../scenarios/redis-outage.toml"),
    ),
    (
        "db-brownout",
        include_str!("../../scenarios/db-brownout.toml"),
    ),
    ("partition", include_str!("../../scenarios/partition.toml")),
    (
        "slow-network",
        include_str!("../../scenarios/slow-network.toml"),
    ),
];

/// A problem in a scenario file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

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
    const NAMES: &'static str =
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
    const NAMES: &'static str = "books, errors, p95 or all";

    pub fn name(self) -> &'static str {
        match self {
            RecoveryMeasure::Books => "books",
            RecoveryMeasure::Errors => "errors",
            RecoveryMeasure::P95 => "p95",
            RecoveryMeasure::All => "all",
        }
    }

    fn parse(text: &str) -> Option<Self> {
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

// ----- the raw file, as serde reads it -----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Spanned<String>,
    description: String,
    #[serde(default)]
    tests: String,
    load: Spanned<RawLoad>,
    #[serde(default)]
    menus: Vec<Spanned<RawMenu>>,
    #[serde(default)]
    faults: Vec<Spanned<RawFault>>,
    workflows: Spanned<Vec<Spanned<RawWorkflow>>>,
    #[serde(default)]
    assertions: Vec<Spanned<RawAssertion>>,
    #[serde(default)]
    compare: Option<Spanned<RawCompare>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCompare {
    #[serde(default)]
    p50_regression: Option<String>,
    #[serde(default)]
    p95_regression: Option<String>,
    #[serde(default)]
    p99_regression: Option<String>,
    #[serde(default)]
    throughput_drop: Option<String>,
    #[serde(default)]
    error_rate_increase: Option<String>,
    #[serde(default)]
    min_samples: Option<u64>,
    #[serde(default)]
    min_change: Option<String>,
}

fn check_compare(
    at: &Locator<'_>,
    raw: &Option<Spanned<RawCompare>>,
) -> Result<CompareThresholds, ScenarioError> {
    let Some(raw) = raw else {
        return Ok(CompareThresholds::default());
    };
    let span = raw.span();
    let raw = raw.get_ref();
    let share = |value: &Option<String>, field: &str| {
        value
            .as_deref()
            .map(|text| {
                parse_percent(text)
                    .map_err(|e| at.error(span.clone(), format!("compare.{field}: {e}")))
            })
            .transpose()
    };
    Ok(CompareThresholds {
        p50_regression: share(&raw.p50_regression, "p50_regression")?,
        p95_regression: share(&raw.p95_regression, "p95_regression")?,
        p99_regression: share(&raw.p99_regression, "p99_regression")?,
        throughput_drop: share(&raw.throughput_drop, "throughput_drop")?,
        error_rate_increase: share(&raw.error_rate_increase, "error_rate_increase")?,
        min_samples: raw.min_samples,
        min_change: raw
            .min_change
            .as_deref()
            .map(|text| at.duration(text, span.clone(), "compare.min_change"))
            .transpose()?,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoad {
    users: usize,
    #[serde(default)]
    hatch_rate: Option<f64>,
    run_time: Spanned<String>,
    #[serde(default)]
    rate: Option<f64>,
    #[serde(default)]
    think_time: Option<Spanned<String>>,
    #[serde(default)]
    request_timeout: Option<Spanned<String>>,
    #[serde(default)]
    consistency_every: Option<Spanned<String>>,
    #[serde(default)]
    settle: Option<Spanned<String>>,
    #[serde(default)]
    short: Option<RawShort>,
    #[serde(default)]
    max_in_flight: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShort {
    #[serde(default)]
    users: Option<usize>,
    #[serde(default)]
    run_time: Option<Spanned<String>>,
    #[serde(default)]
    rate: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMenu {
    key: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default = "default_price")]
    price: i64,
    stock: i64,
}

fn default_price() -> i64 {
    9000
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    service: Option<String>,
    fault: String,
    // Process, link and dependency faults (the chaos module checks them).
    #[serde(default)]
    duration: Option<String>,
    #[serde(default)]
    link: Option<String>,
    #[serde(default)]
    toxic: Option<String>,
    #[serde(default)]
    stream: Option<String>,
    #[serde(default)]
    toxicity: Option<f64>,
    #[serde(default)]
    attributes: Option<BTreeMap<String, i64>>,
    #[serde(default)]
    dependency: Option<String>,
    #[serde(default)]
    delay_ms: Option<u64>,
    #[serde(default)]
    percent: Option<u8>,
    #[serde(default)]
    enable: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    kind: String,
    #[serde(default = "one")]
    weight: usize,
    #[serde(default)]
    menus: Vec<String>,
    #[serde(default = "one_u32")]
    quantity: u32,
    #[serde(default)]
    reads: u32,
    #[serde(default)]
    read_pause: Option<String>,
}

fn one() -> usize {
    1
}
fn one_u32() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssertion {
    kind: String,
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    percentile: Option<f64>,
    #[serde(default)]
    max: Option<String>,
    #[serde(default)]
    max_rate: Option<f64>,
    #[serde(default)]
    target: Option<f64>,
    #[serde(default)]
    tolerance: Option<f64>,
    #[serde(default)]
    min: Option<u64>,
    #[serde(default)]
    min_misses: Option<u64>,
    #[serde(default)]
    window: Option<String>,
    #[serde(default)]
    max_p95: Option<String>,
    #[serde(default)]
    within: Option<String>,
    #[serde(default)]
    measure: Option<String>,
    #[serde(default)]
    fault: Option<String>,
}

/// Turns byte offsets into line and column for messages.
struct Locator<'a> {
    file: &'a str,
    text: &'a str,
}

impl Locator<'_> {
    fn error(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        let start = span.start.min(self.text.len());
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(start, |nl| start - nl - 1) + 1;
        ScenarioError {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    fn line_of(&self, span: &Range<usize>) -> usize {
        self.error(span.clone(), "").line
    }

    fn duration(
        &self,
        text: &str,
        span: Range<usize>,
        what: &str,
    ) -> Result<Duration, ScenarioError> {
        parse_duration(text).map_err(|e| self.error(span, format!("{what}: {e}")))
    }
}

/// Parses and checks a scenario. `file` names it in messages.
pub fn parse_scenario(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let at = Locator { file, text };
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        at.error(span, e.message().trim().to_string())
    })?;

    let name = raw.name.get_ref().trim().to_string();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(at.error(
            raw.name.span(),
            "name: expected lowercase letters, digits and dashes, e.g. \"cache-effect\"",
        ));
    }

    let load_span = raw.load.span();
    let load = raw.load.into_inner();
    let run_time = at.duration(load.run_time.get_ref(), load.run_time.span(), "run_time")?;
    if run_time < Duration::from_secs(1) {
        return Err(at.error(load.run_time.span(), "run_time: expected at least 1s"));
    }
    if load.users == 0 {
        return Err(at.error(load_span.clone(), "load.users: expected at least 1"));
    }
    let hatch_rate = load.hatch_rate.unwrap_or(load.users as f64);
    if hatch_rate <= 0.0 {
        return Err(at.error(
            load_span.clone(),
            "load.hatch_rate: expected a positive number",
        ));
    }
    if load.rate.is_some_and(|rate| rate <= 0.0) {
        return Err(at.error(load_span.clone(), "load.rate: expected a positive number"));
    }
    let (think_min, think_max) = match &load.think_time {
        None => (Duration::ZERO, Duration::ZERO),
        Some(spanned) => {
            let text = spanned.get_ref();
            match text.split_once("..") {
                Some((low, high)) => (
                    at.duration(low, spanned.span(), "think_time")?,
                    at.duration(high, spanned.span(), "think_time")?,
                ),
                None => {
                    let fixed = at.duration(text, spanned.span(), "think_time")?;
                    (fixed, fixed)
                }
            }
        }
    };
    if think_min > think_max {
        return Err(at.error(
            load.think_time
                .as_ref()
                .map_or(load_span.clone(), |t| t.span()),
            "think_time: expected \"low..high\" with low ≤ high",
        ));
    }
    let optional = |value: &Option<Spanned<String>>, what: &str, default: Duration| {
        value
            .as_ref()
            .map_or(Ok(default), |v| at.duration(v.get_ref(), v.span(), what))
    };
    let request_timeout = optional(
        &load.request_timeout,
        "request_timeout",
        Duration::from_secs(10),
    )?;
    let consistency_every = optional(
        &load.consistency_every,
        "consistency_every",
        Duration::from_secs(2),
    )?;
    let settle = optional(&load.settle, "settle", Duration::from_secs(5))?;
    let short = load.short.unwrap_or(RawShort {
        users: None,
        run_time: None,
        rate: None,
    });
    let short_run_time = optional(
        &short.run_time,
        "short.run_time",
        run_time.min(Duration::from_secs(15)),
    )?;
    if short_run_time > Duration::from_secs(20) {
        return Err(at.error(
            short
                .run_time
                .as_ref()
                .map_or(load_span.clone(), |t| t.span()),
            "short.run_time: the short mode runs at most 20s",
        ));
    }
    if load.max_in_flight == Some(0) {
        return Err(at.error(
            load_span.clone(),
            "load.max_in_flight: at least 1 iteration must be allowed to run",
        ));
    }
    let load = Load {
        users: load.users,
        hatch_rate,
        run_time,
        rate: load.rate,
        think_min,
        think_max,
        request_timeout,
        consistency_every,
        settle,
        short_users: short.users.unwrap_or(load.users).max(1),
        short_run_time,
        short_rate: short.rate,
        max_in_flight: load.max_in_flight,
    };

    let mut menus = Vec::new();
    let mut keys = HashSet::new();
    for spanned in &raw.menus {
        let menu = spanned.get_ref();
        if !keys.insert(menu.key.clone()) {
            return Err(at.error(
                spanned.span(),
                format!("menus: the key \"{}\" is used twice", menu.key),
            ));
        }
        if menu.stock < 0 || menu.price < 0 {
            return Err(at.error(spanned.span(), "menus: expected stock ≥ 0 and price ≥ 0"));
        }
        menus.push(MenuSetup {
            key: menu.key.clone(),
            name: menu.name.clone().unwrap_or_else(|| menu.key.clone()),
            price: menu.price,
            stock: menu.stock,
        });
    }
    let known_keys = || {
        let mut list: Vec<&str> = menus.iter().map(|m| m.key.as_str()).collect();
        list.sort_unstable();
        if list.is_empty() {
            "(no [[menus]] defined)".to_string()
        } else {
            list.join(", ")
        }
    };

    let mut faults = Vec::new();
    let mut chaos_steps = Vec::new();
    let mut chaos_spans = Vec::new();
    for spanned in &raw.faults {
        match check_fault(&at, spanned.get_ref(), spanned.span(), run_time)? {
            CheckedFault::Switch(step) => faults.push(step),
            CheckedFault::Chaos(step) => {
                chaos_steps.push(step);
                chaos_spans.push(spanned.span());
            }
        }
    }
    chaos::check_sequence(&chaos_steps, run_time)
        .map_err(|(index, message)| at.error(chaos_spans[index].clone(), message))?;

    let workflows_span = raw.workflows.span();
    let raw_workflows = raw.workflows.into_inner();
    if raw_workflows.is_empty() {
        return Err(at.error(
            workflows_span,
            "workflows: expected at least one [[workflows]]",
        ));
    }
    let mut workflows = Vec::new();
    for spanned in &raw_workflows {
        let raw = spanned.get_ref();
        let kind: WorkflowKind =
            serde_json::from_value(serde_json::Value::String(raw.kind.clone())).map_err(|_| {
                at.error(
                    spanned.span(),
                    format!(
                        "workflows: unknown kind \"{}\"; expected one of: {}",
                        raw.kind,
                        WorkflowKind::NAMES
                    ),
                )
            })?;
        if raw.weight == 0 {
            return Err(at.error(spanned.span(), "workflows: weight must be at least 1"));
        }
        if kind.needs_menus() && raw.menus.is_empty() {
            return Err(at.error(
                spanned.span(),
                format!(
                    "workflows: kind \"{}\" needs `menus = [...]`; expected keys from: {}",
                    raw.kind,
                    known_keys()
                ),
            ));
        }
        for key in &raw.menus {
            if !keys.contains(key) {
                return Err(at.error(
                    spanned.span(),
                    format!(
                        "workflows: unknown menu \"{key}\"; expected one of: {}",
                        known_keys()
                    ),
                ));
            }
        }
        if raw.quantity == 0 {
            return Err(at.error(spanned.span(), "workflows: quantity must be at least 1"));
        }
        let read_pause = match &raw.read_pause {
            Some(text) => at.duration(text, spanned.span(), "read_pause")?,
            None => Duration::ZERO,
        };
        workflows.push(Workflow {
            kind,
            weight: raw.weight,
            menus: raw.menus.clone(),
            quantity: raw.quantity,
            reads: raw.reads,
            read_pause,
        });
    }

    if raw.assertions.is_empty() {
        return Err(at.error(
            text.len()..text.len(),
            "no [[assertions]]: a run of this scenario could neither pass nor fail; add at \
             least one, e.g. [[assertions]] kind = \"no_drift\" (see scenarios/README.md)",
        ));
    }
    let mut assertions = Vec::new();
    for spanned in &raw.assertions {
        let rule = check_rule(&at, spanned.get_ref(), spanned.span())?;
        assertions.push(Assertion {
            line: at.line_of(&spanned.span()),
            rule,
        });
    }
    let rules: Vec<Rule> = assertions.iter().map(|a| a.rule.clone()).collect();
    check_recovery_filters(
        &at,
        &raw.assertions,
        &rules,
        (&faults, &chaos_steps),
        load.run_time,
    )?;

    Ok(Scenario {
        name,
        description: raw.description.trim().to_string(),
        tests: raw.tests.trim().to_string(),
        source: file.to_string(),
        load,
        menus,
        faults,
        chaos: chaos_steps,
        workflows,
        assertions,
        compare: check_compare(&at, &raw.compare)?,
    })
}

/// A `[[faults]]` table, checked: a switch or a process/link/dependency fault.
enum CheckedFault {
    Switch(FaultStep),
    Chaos(ChaosStep),
}

fn check_fault(
    at: &Locator<'_>,
    raw: &RawFault,
    span: Range<usize>,
    run_time: Duration,
) -> Result<CheckedFault, ScenarioError> {
    let when = match &raw.at {
        Some(text) => at.duration(text, span.clone(), "faults.at")?,
        None => Duration::ZERO,
    };
    if when >= run_time {
        return Err(at.error(
            span,
            format!(
                "faults.at: {} is not within the run ({})",
                format_duration(when),
                format_duration(run_time)
            ),
        ));
    }
    if chaos::KINDS.contains(&raw.fault.as_str()) {
        return check_chaos(at, raw, span, when, run_time).map(CheckedFault::Chaos);
    }
    check_switch(at, raw, span, when).map(CheckedFault::Switch)
}

/// A process, link or dependency fault (the chaos module checks the fields).
fn check_chaos(
    at: &Locator<'_>,
    raw: &RawFault,
    span: Range<usize>,
    when: Duration,
    run_time: Duration,
) -> Result<ChaosStep, ScenarioError> {
    let duration = match &raw.duration {
        Some(text) => Some(at.duration(text, span.clone(), "faults.duration")?),
        None => None,
    };
    let fields = RawChaos {
        fault: &raw.fault,
        service: raw.service.as_deref(),
        duration,
        link: raw.link.as_deref(),
        toxic: raw.toxic.as_deref(),
        stream: raw.stream.as_deref(),
        toxicity: raw.toxicity,
        attributes: raw.attributes.as_ref(),
        dependency: raw.dependency.as_deref(),
    };
    let fault =
        chaos::check(&fields, when, run_time).map_err(|message| at.error(span.clone(), message))?;
    Ok(ChaosStep {
        at: when,
        duration,
        fault,
        line: at.line_of(&span),
    })
}

/// One of the services' fault switches, as before issue 13.
fn check_switch(
    at: &Locator<'_>,
    raw: &RawFault,
    span: Range<usize>,
    when: Duration,
) -> Result<FaultStep, ScenarioError> {
    let extra = [
        ("duration", raw.duration.is_some()),
        ("link", raw.link.is_some()),
        ("toxic", raw.toxic.is_some()),
        ("stream", raw.stream.is_some()),
        ("toxicity", raw.toxicity.is_some()),
        ("attributes", raw.attributes.is_some()),
        ("dependency", raw.dependency.is_some()),
    ];
    if let Some((field, _)) = extra.iter().find(|(_, given)| *given) {
        let hint = if *field == "duration" {
            ": a switch stays on until a later `clear` step"
        } else {
            ""
        };
        return Err(at.error(
            span,
            format!(
                "faults: the switch \"{}\" takes no `{field}`{hint}",
                raw.fault
            ),
        ));
    }
    let Some(service) = raw.service.as_deref() else {
        return Err(at.error(
            span,
            format!(
                "faults: \"{}\" needs service = \"user\", \"restaurant\" or \"order\"",
                raw.fault
            ),
        ));
    };
    let service = match service {
        "user" => Service::User,
        "restaurant" => Service::Restaurant,
        "order" => Service::Order,
        other => {
            return Err(at.error(
                span,
                format!("faults.service: unknown service \"{other}\"; expected user, restaurant or order"),
            ));
        }
    };
    let need_delay = |what: &str| {
        raw.delay_ms
            .ok_or_else(|| at.error(span.clone(), format!("faults: \"{what}\" needs delay_ms")))
    };
    let fault = match raw.fault.as_str() {
        "delay" => Fault::Delay {
            delay_ms: need_delay("delay")?,
        },
        "inventory_delay" => {
            if service != Service::Restaurant {
                return Err(at.error(span, "faults: inventory_delay is a restaurant switch"));
            }
            Fault::InventoryDelay {
                delay_ms: need_delay("inventory_delay")?,
            }
        }
        "payment_fail" => {
            if service != Service::Order {
                return Err(at.error(span, "faults: payment_fail is an order switch"));
            }
            let percent = raw
                .percent
                .ok_or_else(|| at.error(span.clone(), "faults: \"payment_fail\" needs percent"))?;
            if percent > 100 {
                return Err(at.error(span, "faults: percent must be 0..=100"));
            }
            Fault::PaymentFail { percent }
        }
        "error" => {
            if raw.percent.is_some_and(|p| p > 100) {
                return Err(at.error(span, "faults: percent must be 0..=100"));
            }
            Fault::Error {
                enable: raw.enable.unwrap_or(true),
                percent: raw.percent,
            }
        }
        "clear" => Fault::Clear,
        other => {
            return Err(at.error(
                span,
                format!(
                    "faults: unknown fault \"{other}\"; expected a switch (delay, error, payment_fail, inventory_delay, clear) or one of: {}",
                    chaos::KINDS.join(", ")
                ),
            ));
        }
    };
    Ok(FaultStep {
        at: when,
        service,
        fault,
    })
}

fn check_rule(
    at: &Locator<'_>,
    raw: &RawAssertion,
    span: Range<usize>,
) -> Result<Rule, ScenarioError> {
    let missing = |field: &str| {
        at.error(
            span.clone(),
            format!("assertions: \"{}\" needs `{field}`", raw.kind),
        )
    };
    let endpoint = |required: bool| -> Result<String, ScenarioError> {
        match &raw.endpoint {
            None if required => Err(missing("endpoint")),
            None => Ok("*".to_string()),
            Some(name) if name == "*" || ENDPOINTS.contains(&name.as_str()) => Ok(name.clone()),
            Some(name) => Err(at.error(
                span.clone(),
                format!(
                    "assertions: unknown endpoint \"{name}\"; expected \"*\" or one of: {}",
                    ENDPOINTS.join(", ")
                ),
            )),
        }
    };
    let duration = |value: &Option<String>, field: &str| -> Result<Duration, ScenarioError> {
        let text = value.as_ref().ok_or_else(|| missing(field))?;
        at.duration(text, span.clone(), &format!("assertions.{field}"))
    };
    let share = |value: Option<f64>, field: &str| -> Result<f64, ScenarioError> {
        let value = value.ok_or_else(|| missing(field))?;
        if !(0.0..=1.0).contains(&value) {
            return Err(at.error(
                span.clone(),
                format!("assertions.{field}: expected a share between 0 and 1 (e.g. 0.05 for 5%)"),
            ));
        }
        Ok(value)
    };
    let rule = match raw.kind.as_str() {
        "no_drift" => Rule::NoDrift,
        "no_oversell" => Rule::NoOversell,
        "none_pending" => Rule::NonePending,
        "inventory_identity" => Rule::InventoryIdentity,
        "client_agrees" => Rule::ClientAgrees,
        "failed_share" => Rule::FailedShare {
            target: share(raw.target, "target")?,
            tolerance: share(raw.tolerance, "tolerance")?,
        },
        "latency" => {
            let percentile = raw.percentile.ok_or_else(|| missing("percentile"))?;
            if !(0.0..=100.0).contains(&percentile) {
                return Err(at.error(
                    span,
                    "assertions.percentile: expected 0..=100, e.g. 95 or 99.9",
                ));
            }
            Rule::Latency {
                endpoint: endpoint(false)?,
                percentile,
                max: duration(&raw.max, "max")?,
            }
        }
        "error_rate" => Rule::ErrorRate {
            endpoint: endpoint(false)?,
            max_rate: share(raw.max_rate, "max_rate")?,
        },
        "min_requests" => Rule::MinRequests {
            endpoint: endpoint(false)?,
            min: raw.min.ok_or_else(|| missing("min"))?,
        },
        "cache_hit_faster" => Rule::CacheHitFaster {
            endpoint: endpoint(true)?,
            min_misses: raw.min_misses.unwrap_or(1),
        },
        "recovery" => Rule::Recovery {
            window: duration(&raw.window, "window")?,
            max_rate: share(raw.max_rate, "max_rate")?,
            max_p95: duration(&raw.max_p95, "max_p95")?,
        },
        "dropped" => Rule::Dropped {
            max_rate: share(raw.max_rate.or(Some(0.0)), "max_rate")?,
        },
        "recovered_within" => check_recovered_within(at, raw, span)?,
        other => {
            return Err(at.error(
                span,
                format!(
                    "assertions: unknown kind \"{other}\"; expected one of: no_drift, no_oversell, none_pending, inventory_identity, client_agrees, failed_share, latency, error_rate, min_requests, cache_hit_faster, recovery, dropped, recovered_within"
                ),
            ));
        }
    };
    Ok(rule)
}

/// The longest `within` a `recovered_within` assertion may ask for.
const LONGEST_RECOVERY: Duration = Duration::from_secs(600);

fn check_recovered_within(
    at: &Locator<'_>,
    raw: &RawAssertion,
    span: Range<usize>,
) -> Result<Rule, ScenarioError> {
    let text = raw.within.as_ref().ok_or_else(|| {
        at.error(
            span.clone(),
            "assertions: \"recovered_within\" needs `within`, e.g. within = \"2s\"",
        )
    })?;
    let within = at.duration(text, span.clone(), "assertions.within")?;
    if within.is_zero() || within > LONGEST_RECOVERY {
        return Err(at.error(
            span,
            format!(
                "assertions.within: expected more than 0s and at most {}, got \"{text}\"",
                format_duration(LONGEST_RECOVERY)
            ),
        ));
    }
    let measure = match raw.measure.as_deref() {
        None => RecoveryMeasure::All,
        Some(name) => RecoveryMeasure::parse(name).ok_or_else(|| {
            at.error(
                span.clone(),
                format!(
                    "assertions.measure: unknown measure \"{name}\"; expected {}",
                    RecoveryMeasure::NAMES
                ),
            )
        })?,
    };
    Ok(Rule::RecoveredWithin {
        within,
        measure,
        fault: raw.fault.clone(),
    })
}

/// A `recovered_within` assertion must judge at least one of the scenario's fault windows.
fn check_recovery_filters(
    at: &Locator<'_>,
    raw: &[Spanned<RawAssertion>],
    rules: &[Rule],
    (faults, chaos): (&[FaultStep], &[ChaosStep]),
    run_time: Duration,
) -> Result<(), ScenarioError> {
    let windows = fault_window::planned_windows(faults, chaos, run_time.as_secs_f64());
    for (spanned, rule) in raw.iter().zip(rules) {
        let Rule::RecoveredWithin { fault, .. } = rule else {
            continue;
        };
        if windows.is_empty() {
            return Err(at.error(
                spanned.span(),
                "assertions: \"recovered_within\" needs a fault to recover from; this scenario has no [[faults]] that turn one on",
            ));
        }
        if let Some(filter) = fault
            && !windows.iter().any(|w| w.matches(filter))
        {
            let mut known: Vec<String> = windows
                .iter()
                .flat_map(|w| [w.kind.clone(), w.target.clone()])
                .collect();
            known.sort();
            known.dedup();
            return Err(at.error(
                spanned.span(),
                format!(
                    "assertions.fault: no fault of this scenario is \"{filter}\"; expected a kind or target ({}) or kind:target",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Reads and checks a scenario file.
pub fn load_file(path: &Path) -> anyhow::Result<Scenario> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    Ok(parse_scenario(&path.display().to_string(), &text)?)
}

/// The scenarios directory the command line chose (`--scenarios` / `LOADGEN_SCENARIOS`).
static SCENARIOS_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Sets the scenarios directory for this process (once; later calls are ignored).
pub fn use_scenarios_dir(dir: PathBuf) {
    let _ = SCENARIOS_DIR.set(dir);
}

/// Where named scenarios are looked up first: the directory the command line set, else
/// `$LOADGEN_SCENARIOS`, else `./scenarios`.
pub fn scenarios_dir() -> PathBuf {
    if let Some(dir) = SCENARIOS_DIR.get() {
        return dir.clone();
    }
    std::env::var_os("LOADGEN_SCENARIOS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("scenarios"))
}

/// The names of the shipped scenarios, in the order of the plans.
pub fn built_in_names() -> Vec<&'static str> {
    BUILT_IN.iter().map(|(name, _)| *name).collect()
}

/// Finds a scenario by file path or by name (scenarios directory first, then built in).
pub fn resolve(name_or_path: &str) -> anyhow::Result<Scenario> {
    let as_path = Path::new(name_or_path);
    if name_or_path.ends_with(".toml") || as_path.components().count() > 1 {
        return load_file(as_path);
    }
    let on_disk = scenarios_dir().join(format!("{name_or_path}.toml"));
    if on_disk.is_file() {
        return load_file(&on_disk);
    }
    match BUILT_IN.iter().find(|(name, _)| *name == name_or_path) {
        Some((name, text)) => Ok(parse_scenario(&format!("built-in:{name}.toml"), text)?),
        None => anyhow::bail!(
            "no scenario named \"{name_or_path}\"; known: {}",
            built_in_names().join(", ")
        ),
    }
}

/// The source text of a named scenario (for `loadgen show`).
pub fn source_text(name_or_path: &str) -> anyhow::Result<String> {
    let as_path = Path::new(name_or_path);
    if as_path.is_file() {
        return Ok(std::fs::read_to_string(as_path)?);
    }
    let on_disk = scenarios_dir().join(format!("{name_or_path}.toml"));
    if on_disk.is_file() {
        return Ok(std::fs::read_to_string(on_disk)?);
    }
    BUILT_IN
        .iter()
        .find(|(name, _)| *name == name_or_path)
        .map(|(_, text)| text.to_string())
        .ok_or_else(|| anyhow::anyhow!("no scenario named \"{name_or_path}\""))
}

/// Every scenario `loadgen list` shows, by name: the built-in ones (or their on-disk
/// versions) plus any other `*.toml` in the scenarios directory, each parsed or its error.
pub fn all_scenarios() -> Vec<(String, Result<Scenario, String>)> {
    let mut names: Vec<String> = built_in_names().iter().map(|n| n.to_string()).collect();
    if let Ok(entries) = std::fs::read_dir(scenarios_dir()) {
        let mut extra: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                let path = entry.path();
                (path.extension()? == "toml")
                    .then(|| path.file_stem()?.to_str().map(str::to_string))
                    .flatten()
            })
            .filter(|name| !names.contains(name))
            .collect();
        extra.sort();
        names.extend(extra);
    }
    names
        .iter()
        .map(|name| (name.clone(), resolve(name).map_err(|e| format!("{e:#}"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "tiny"
description = "A tiny scenario"

[load]
users = 4
run_time = "10s"
think_time = "10ms..50ms"

[[menus]]
key = "kimbap"
stock = 100

[[faults]]
at = "5s"
service = "order"
fault = "payment_fail"
percent = 30

[[workflows]]
kind = "order"
menus = ["kimbap"]
weight = 3

[[workflows]]
kind = "browse_menus"

[[assertions]]
kind = "no_drift"

[[assertions]]
kind = "latency"
endpoint = "POST /orders"
percentile = 95
max = "800ms"
"#;

    #[test]
    fn parses_a_good_file() {
        let scenario = parse_scenario("tiny.toml", GOOD).expect("parses");
        assert_eq!(scenario.name, "tiny");
        assert_eq!(scenario.load.users, 4);
        assert_eq!(scenario.load.run_time, Duration::from_secs(10));
        assert_eq!(scenario.load.think_max, Duration::from_millis(50));
        assert_eq!(scenario.menus[0].name, "kimbap");
        assert_eq!(scenario.faults[0].fault, Fault::PaymentFail { percent: 30 });
        assert_eq!(scenario.workflows[0].weight, 3);
        assert_eq!(scenario.assertions.len(), 2);
        assert_eq!(scenario.assertions[1].line, 31);
        assert_eq!(
            scenario.assertions[1].rule,
            Rule::Latency {
                endpoint: "POST /orders".into(),
                percentile: 95.0,
                max: Duration::from_millis(800)
            }
        );
        // Short mode defaults: same users, at most 15 s; fault times scale with the run.
        assert_eq!(scenario.effective_load(true).1, Duration::from_secs(10));
        assert_eq!(
            scenario.scaled_faults(Duration::from_secs(5))[0].at,
            Duration::from_millis(2500)
        );
    }

    fn error_of(text: &str) -> ScenarioError {
        parse_scenario("bad.toml", text).expect_err("should be refused")
    }

    #[test]
    fn a_syntax_error_names_file_and_line() {
        let err = error_of("name = \"x\"\ndescription = \"d\"\n[load\nusers = 1\n");
        assert_eq!((err.file.as_str(), err.line), ("bad.toml", 3), "{err}");
    }

    #[test]
    fn a_wrong_type_names_the_line() {
        let text = GOOD.replace("users = 4", "users = \"four\"");
        let err = error_of(&text);
        assert_eq!(err.line, 6, "{err}");
        assert!(err.message.contains("expected usize"), "{err}");
    }

    #[test]
    fn an_unknown_field_is_refused() {
        let text = GOOD.replace("weight = 3", "wieght = 3");
        let err = error_of(&text);
        assert!(err.message.contains("wieght"), "{err}");
        assert_eq!(err.line, 23, "{err}");
    }

    #[test]
    fn an_unknown_menu_key_lists_the_known_ones() {
        let text = GOOD.replace("menus = [\"kimbap\"]", "menus = [\"pizza\"]");
        let err = error_of(&text);
        assert_eq!(err.line, 20, "{err}");
        assert!(err.message.contains("unknown menu \"pizza\""), "{err}");
        assert!(err.message.contains("kimbap"), "{err}");
    }

    #[test]
    fn a_bad_duration_and_bad_endpoint_are_explained() {
        let err = error_of(&GOOD.replace("\"800ms\"", "\"fast\""));
        assert!(err.message.contains("assertions.max"), "{err}");
        assert_eq!(err.line, 31);
        let err = error_of(&GOOD.replace("POST /orders\"", "POST /order\""));
        assert!(
            err.message.contains("unknown endpoint \"POST /order\""),
            "{err}"
        );
        let err = error_of(&GOOD.replace("run_time = \"10s\"", "run_time = \"10 parsecs\""));
        assert_eq!(err.line, 7, "{err}");
    }

    #[test]
    fn a_fault_on_the_wrong_service_or_after_the_end_is_refused() {
        let err = error_of(&GOOD.replace("service = \"order\"", "service = \"user\""));
        assert!(
            err.message.contains("payment_fail is an order switch"),
            "{err}"
        );
        assert_eq!(err.line, 14);
        let err = error_of(&GOOD.replace("at = \"5s\"", "at = \"15s\""));
        assert!(err.message.contains("not within the run"), "{err}");
    }

    #[test]
    fn a_share_out_of_range_is_refused() {
        let text = format!("{GOOD}\n[[assertions]]\nkind = \"error_rate\"\nmax_rate = 5\n");
        let err = error_of(&text);
        assert!(err.message.contains("between 0 and 1"), "{err}");
        assert_eq!(err.line, 37);
    }

    #[test]
    fn a_scenario_without_assertions_is_refused() {
        let without = GOOD
            .split("[[assertions]]")
            .next()
            .expect("GOOD has a head");
        let err = error_of(without);
        assert!(err.message.contains("no [[assertions]]"), "{err}");
        assert!(err.message.contains("neither pass nor fail"), "{err}");
    }

    const RECOVERED: &str = "\n[[assertions]]\nkind = \"recovered_within\"\nwithin = \"2s\"\n";

    #[test]
    fn recovered_within_parses_with_its_defaults_measure_and_fault_filter() {
        let scenario = parse_scenario("tiny.toml", &format!("{GOOD}{RECOVERED}")).expect("parses");
        let last = scenario.assertions.last().expect("an assertion");
        assert_eq!(last.line, 37);
        assert_eq!(
            last.rule,
            Rule::RecoveredWithin {
                within: Duration::from_secs(2),
                measure: RecoveryMeasure::All,
                fault: None
            }
        );
        assert_eq!(
            last.rule.title(),
            "recovered (errors, p95, books) within 2s after every fault"
        );
        for (fault, measure) in [
            ("payment_fail", RecoveryMeasure::Books),
            ("order", RecoveryMeasure::Errors),
            ("payment_fail:order", RecoveryMeasure::P95),
        ] {
            let text = format!(
                "{GOOD}{RECOVERED}measure = \"{}\"\nfault = \"{fault}\"\n",
                measure.name()
            );
            let scenario = parse_scenario("tiny.toml", &text).expect("parses");
            assert_eq!(
                scenario.assertions.last().map(|a| a.rule.clone()),
                Some(Rule::RecoveredWithin {
                    within: Duration::from_secs(2),
                    measure,
                    fault: Some(fault.to_string())
                })
            );
        }
    }

    #[test]
    fn recovered_within_refuses_bad_spans_measures_and_faults_with_the_line() {
        let bad = |extra: &str| error_of(&format!("{GOOD}{RECOVERED}{extra}"));
        let err = error_of(&format!(
            "{GOOD}{}",
            RECOVERED.replace("within = \"2s\"\n", "")
        ));
        assert!(err.message.contains("needs `within`"), "{err}");
        assert_eq!(err.line, 37);
        for within in ["0s", "-1s", "2 fortnights", "11m"] {
            let err = error_of(&format!("{GOOD}{}", RECOVERED.replace("2s", within)));
            assert!(err.message.contains("assertions.within"), "{within}: {err}");
            assert_eq!(err.line, 37, "{err}");
        }
        let err = bad("measure = \"latency\"\n");
        assert!(
            err.message.contains("unknown measure \"latency\"")
                && err.message.contains("books, errors, p95 or all"),
            "{err}"
        );
        let err = bad("fault = \"kill\"\n");
        assert!(
            err.message
                .contains("no fault of this scenario is \"kill\"")
                && err.message.contains("order, payment_fail"),
            "{err}"
        );
        assert_eq!(err.line, 37);
        let err = bad("fault = \"delay:order\"\n");
        assert!(err.message.contains("\"delay:order\""), "{err}");
        let without_faults = GOOD.replace(
            "[[faults]]\nat = \"5s\"\nservice = \"order\"\nfault = \"payment_fail\"\npercent = 30\n",
            "",
        );
        let err = error_of(&format!("{without_faults}{RECOVERED}"));
        assert!(
            err.message.contains("needs a fault to recover from"),
            "{err}"
        );
        let err = bad("within_ms = 5\n");
        assert!(err.message.contains("within_ms"), "{err}");
    }

    #[test]
    fn every_shipped_scenario_parses() {
        for (name, text) in BUILT_IN {
            let scenario = parse_scenario(name, text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&scenario.name, name);
            assert!(!scenario.assertions.is_empty(), "{name} has assertions");
            assert!(scenario.load.short_run_time <= Duration::from_secs(20));
        }
        assert_eq!(BUILT_IN.len(), 13);
    }
}
