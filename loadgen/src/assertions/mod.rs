//! Deciding pass or fail: each scenario assertion evaluated against what the run measured,
//! with the expected and actual values and, on failure, by how much it missed. The rules
//! are judged next to what they read: the books of the final consistency check (`books`),
//! the requests and orders of the whole run (`traffic`), and recovery after faults
//! (`recovered`).

mod books;
mod recovered;
#[cfg(test)]
mod tests;
mod traffic;

use serde::{Deserialize, Serialize};

use crate::consistency::ConsistencyCheck;
use crate::recorder::{EndpointSnapshot, LatencySummary, Merged, SecondPoint};
use crate::recovery::RecoveryFigure;
use crate::scenario::{Assertion, Rule};
use crate::workflow::TallySnapshot;

/// Requests, errors and latency over one trailing window of the run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WindowStats {
    pub window_secs: u64,
    pub requests: u64,
    pub errors: u64,
    pub latency: LatencySummary,
}

/// Everything the assertions are judged on.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub endpoints: Vec<EndpointSnapshot>,
    pub final_check: Option<ConsistencyCheck>,
    pub tally: TallySnapshot,
    /// Trailing windows, one per recovery assertion.
    pub windows: Vec<WindowStats>,
    /// Open loop: iterations due on the schedule, and those not started because
    /// `max_in_flight` were running (both 0 in closed-loop mode).
    pub iterations: IterationStats,
    /// Recovery after every fault window.
    pub recovery: Vec<RecoveryFigure>,
}

/// Open-loop iterations: scheduled, dropped, and the most that ran at once.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct IterationStats {
    pub scheduled: u64,
    pub dropped: u64,
    pub peak_in_flight: u64,
    /// The cap in force (0: closed loop, no cap).
    pub max_in_flight: u64,
}

impl IterationStats {
    /// Share of the scheduled iterations that were dropped.
    pub fn dropped_share(&self) -> f64 {
        share(self.dropped, self.scheduled)
    }

    /// The cap on iterations in flight, when there was one (open loop).
    pub fn cap(&self) -> Option<usize> {
        (self.max_in_flight > 0).then_some(self.max_in_flight as usize)
    }
}

/// `part` of `whole` as a fraction; 0 of nothing is 0.
pub fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// One assertion's verdict.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AssertionResult {
    pub title: String,
    /// Line in the scenario file.
    pub line: usize,
    pub passed: bool,
    pub expected: String,
    pub actual: String,
    /// On failure: which part failed and by how much.
    pub detail: String,
}

impl Evidence {
    /// Requests, errors and latency of an endpoint, or of all endpoints for `*`.
    fn endpoint(&self, name: &str) -> Option<(u64, u64, LatencySummary)> {
        if name == "*" {
            let requests = self.endpoints.iter().map(|e| e.requests).sum();
            let errors = self.endpoints.iter().map(|e| e.errors).sum();
            // The slowest endpoint's figures bound the whole run's from above.
            let worst = self
                .endpoints
                .iter()
                .max_by_key(|e| e.latency.p99)
                .map(|e| e.latency.clone())
                .unwrap_or_default();
            return Some((requests, errors, worst));
        }
        self.endpoints
            .iter()
            .find(|e| e.endpoint == name)
            .map(|e| (e.requests, e.errors, e.latency.clone()))
    }
}

fn verdict(
    assertion: &Assertion,
    passed: bool,
    expected: String,
    actual: String,
    detail: String,
) -> AssertionResult {
    AssertionResult {
        title: assertion.rule.title(),
        line: assertion.line,
        passed,
        expected,
        actual,
        detail: if passed { String::new() } else { detail },
    }
}

fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// The trailing window of each recovery assertion: requests, errors and latency over the
/// last `window` whole seconds of a load that lasted `load_secs`.
pub fn trailing_windows(
    assertions: &[Assertion],
    merged: &Merged,
    timeline: &[SecondPoint],
    load_secs: f64,
) -> Vec<WindowStats> {
    let load_whole_secs = (load_secs.floor() as u64).max(1);
    let mut windows = Vec::new();
    for assertion in assertions {
        if let Rule::Recovery { window, .. } = &assertion.rule {
            let window_secs = window.as_secs().max(1);
            let from = load_whole_secs.saturating_sub(window_secs);
            let (requests, errors) = timeline
                .iter()
                .skip(from as usize)
                .take(window_secs as usize)
                .fold((0, 0), |acc, p| (acc.0 + p.requests, acc.1 + p.errors));
            windows.push(WindowStats {
                window_secs: window.as_secs(),
                requests,
                errors,
                latency: merged.latency_between(from, load_whole_secs),
            });
        }
    }
    windows
}

/// Evaluates every assertion.
pub fn evaluate(assertions: &[Assertion], evidence: &Evidence) -> Vec<AssertionResult> {
    assertions
        .iter()
        .map(|a| evaluate_one(a, evidence))
        .collect()
}

/// What the assertions concluded about a run.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The trailing windows they read (one per recovery assertion).
    pub windows: Vec<WindowStats>,
    pub results: Vec<AssertionResult>,
    /// Every assertion passed, and there was at least one.
    pub passed: bool,
}

/// Judges a run (or merged runs): measures the trailing windows the assertions read from
/// `merged` and its `timeline` over a load of `load_secs`, adds them to `measured` (whose
/// `windows` are ignored) and evaluates every assertion.
pub fn judge(
    assertions: &[Assertion],
    merged: &Merged,
    timeline: &[SecondPoint],
    load_secs: f64,
    measured: Evidence,
) -> Verdict {
    let windows = trailing_windows(assertions, merged, timeline, load_secs);
    let evidence = Evidence {
        windows: windows.clone(),
        ..measured
    };
    let results = evaluate(assertions, &evidence);
    let passed = results.iter().all(|r| r.passed) && !results.is_empty();
    Verdict {
        windows,
        results,
        passed,
    }
}

/// One assertion, by its rule's evaluator.
fn evaluate_one(assertion: &Assertion, evidence: &Evidence) -> AssertionResult {
    match &assertion.rule {
        Rule::NoDrift => books::no_drift(assertion, evidence),
        Rule::NoOversell => books::no_oversell(assertion, evidence),
        Rule::InventoryIdentity => books::inventory_identity(assertion, evidence),
        Rule::NonePending => books::none_pending(assertion, evidence),
        Rule::ClientAgrees => books::client_agrees(assertion, evidence),
        Rule::FailedShare { target, tolerance } => {
            traffic::failed_share(assertion, evidence, *target, *tolerance)
        }
        Rule::Latency {
            endpoint,
            percentile,
            max,
        } => traffic::latency(assertion, evidence, endpoint, *percentile, *max),
        Rule::ErrorRate { endpoint, max_rate } => {
            traffic::error_rate(assertion, evidence, endpoint, *max_rate)
        }
        Rule::MinRequests { endpoint, min } => {
            traffic::min_requests(assertion, evidence, endpoint, *min)
        }
        Rule::CacheHitFaster {
            endpoint,
            min_misses,
        } => traffic::cache_hit_faster(assertion, evidence, endpoint, *min_misses),
        Rule::Dropped { max_rate } => traffic::dropped(assertion, evidence, *max_rate),
        Rule::Recovery {
            window,
            max_rate,
            max_p95,
        } => recovered::trailing_window(assertion, evidence, *window, *max_rate, *max_p95),
        Rule::RecoveredWithin {
            within,
            measure,
            fault,
        } => recovered::within(assertion, evidence, *within, *measure, fault.as_deref()),
    }
}
