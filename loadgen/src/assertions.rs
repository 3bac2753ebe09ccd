//! Deciding pass or fail: each scenario assertion evaluated against what the run measured,
//! with the expected and actual values and, on failure, by how much it missed.

use serde::{Deserialize, Serialize};

use crate::consistency::ConsistencyCheck;
use crate::duration::{format_duration, format_micros};
use crate::recorder::{EndpointSnapshot, LatencySummary, Merged, SecondPoint};
use crate::recovery::{Recovery, RecoveryFigure};
use crate::scenario::{Assertion, RecoveryMeasure, Rule};
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
        if self.scheduled == 0 {
            0.0
        } else {
            self.dropped as f64 / self.scheduled as f64
        }
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

fn no_check(assertion: &Assertion, evidence: &Evidence) -> Option<AssertionResult> {
    match &evidence.final_check {
        Some(check) if check.error.is_none() => None,
        Some(check) => Some(verdict(
            assertion,
            false,
            "a final consistency check".into(),
            "could not be read".into(),
            check.error.clone().unwrap_or_default(),
        )),
        None => Some(verdict(
            assertion,
            false,
            "a final consistency check".into(),
            "none was made".into(),
            "the run ended before the final consistency check".into(),
        )),
    }
}

fn evaluate_dropped(assertion: &Assertion, evidence: &Evidence, max_rate: f64) -> AssertionResult {
    let stats = &evidence.iterations;
    let share = stats.dropped_share();
    verdict(
        assertion,
        share <= max_rate,
        format!("≤ {} of scheduled iterations dropped", percent(max_rate)),
        format!(
            "{} of {} dropped ({})",
            stats.dropped,
            stats.scheduled,
            percent(share)
        ),
        format!(
            "{:.1} points over: the system could not keep up with the rate while {} \
             iterations ran (max_in_flight)",
            (share - max_rate) * 100.0,
            stats.max_in_flight
        ),
    )
}

/// `recovered_within`: every matching fault window's measures recovered in time.
fn evaluate_recovered_within(
    assertion: &Assertion,
    evidence: &Evidence,
    within: std::time::Duration,
    measure: RecoveryMeasure,
    fault: Option<&str>,
) -> AssertionResult {
    let bound = within.as_secs_f64();
    let figures: Vec<&RecoveryFigure> = evidence
        .recovery
        .iter()
        .filter(|f| fault.is_none_or(|filter| f.window.matches(filter)))
        .collect();
    let expected = format!(
        "{} within {} of each fault's end",
        measure.name(),
        format_duration(within)
    );
    if figures.is_empty() {
        return verdict(
            assertion,
            false,
            expected,
            "no fault window".into(),
            "no fault window of the run matched, so nothing recovered".into(),
        );
    }
    let mut misses = Vec::new();
    let mut slowest: Option<(f64, String)> = None;
    for figure in &figures {
        let measures: Vec<(&str, &Recovery)> = match measure {
            RecoveryMeasure::Books => vec![("books", &figure.books)],
            RecoveryMeasure::Errors => vec![("errors", &figure.errors)],
            RecoveryMeasure::P95 => vec![("p95", &figure.p95)],
            RecoveryMeasure::All => vec![
                ("errors", &figure.errors),
                ("p95", &figure.p95),
                ("books", &figure.books),
            ],
        };
        let name = format!(
            "{} ({:.1}–{:.1}s)",
            figure.window.label, figure.window.start_s, figure.window.end_s
        );
        for (what, recovery) in measures {
            match recovery.seconds() {
                Some(after) if after <= bound => {}
                Some(after) => misses.push(format!(
                    "{name}: {what} after {}, {:.2}s over",
                    recovery.describe(),
                    after - bound
                )),
                None => misses.push(format!("{name}: {what} {}", recovery.describe())),
            }
            if let Some(after) = recovery.seconds()
                && slowest.as_ref().is_none_or(|(worst, _)| after > *worst)
            {
                slowest = Some((after, format!("{what} {after:.2}s after {name}")));
            }
        }
    }
    let actual = match (&slowest, misses.len()) {
        (Some((_, text)), 0) => format!("slowest: {text}"),
        (Some((_, text)), n) => format!("{n} late or missing; slowest measured: {text}"),
        (None, n) => format!("{n} not recovered"),
    };
    verdict(
        assertion,
        misses.is_empty(),
        expected,
        actual,
        misses.join("; "),
    )
}

fn evaluate_one(assertion: &Assertion, evidence: &Evidence) -> AssertionResult {
    let rows = evidence
        .final_check
        .as_ref()
        .map(|c| c.rows.as_slice())
        .unwrap_or_default();
    match &assertion.rule {
        Rule::Dropped { max_rate } => evaluate_dropped(assertion, evidence, *max_rate),
        Rule::RecoveredWithin {
            within,
            measure,
            fault,
        } => evaluate_recovered_within(assertion, evidence, *within, *measure, fault.as_deref()),
        Rule::NoDrift => {
            if let Some(missing) = no_check(assertion, evidence) {
                return missing;
            }
            let bad: Vec<String> = rows
                .iter()
                .filter(|r| r.drift != 0)
                .map(|r| {
                    format!(
                        "{} drift {:+} (stock {}, initial {}, sold {})",
                        r.key, r.drift, r.stock, r.initial, r.sold
                    )
                })
                .collect();
            let total: i64 = rows.iter().map(|r| r.drift.abs()).sum();
            verdict(
                assertion,
                bad.is_empty(),
                "drift 0 on every menu".into(),
                format!("total |drift| {total}"),
                bad.join("; "),
            )
        }
        Rule::NoOversell => {
            if let Some(missing) = no_check(assertion, evidence) {
                return missing;
            }
            let bad: Vec<String> = rows
                .iter()
                .filter(|r| r.oversold())
                .map(|r| {
                    format!(
                        "{}: stock {}, sold {} of {} (over by {})",
                        r.key,
                        r.stock,
                        r.sold,
                        r.initial,
                        (r.sold - r.initial).max(-r.stock)
                    )
                })
                .collect();
            let lowest = rows.iter().map(|r| r.stock).min().unwrap_or(0);
            verdict(
                assertion,
                bad.is_empty(),
                "stock ≥ 0 and sold ≤ initial".into(),
                format!("lowest stock {lowest}"),
                bad.join("; "),
            )
        }
        Rule::InventoryIdentity => {
            if let Some(missing) = no_check(assertion, evidence) {
                return missing;
            }
            let bad: Vec<String> = rows
                .iter()
                .filter(|r| r.identity_gap != 0)
                .map(|r| {
                    format!(
                        "{}: stock {} ≠ {} - {} + {} (off by {:+})",
                        r.key, r.stock, r.initial, r.reserved, r.restored, r.identity_gap
                    )
                })
                .collect();
            verdict(
                assertion,
                bad.is_empty(),
                "gap 0 on every menu".into(),
                format!("{} menus off", bad.len()),
                bad.join("; "),
            )
        }
        Rule::NonePending => {
            if let Some(missing) = no_check(assertion, evidence) {
                return missing;
            }
            let pending = evidence
                .final_check
                .as_ref()
                .map_or(0, ConsistencyCheck::pending);
            verdict(
                assertion,
                pending == 0,
                "0 PENDING".into(),
                format!("{pending} PENDING"),
                format!("{pending} orders still PENDING after the settle wait"),
            )
        }
        Rule::ClientAgrees => {
            if let Some(missing) = no_check(assertion, evidence) {
                return missing;
            }
            let mut bad = Vec::new();
            for row in rows {
                let client = evidence
                    .tally
                    .net_sold
                    .get(&row.menu_id)
                    .copied()
                    .unwrap_or(0);
                let unknown = evidence
                    .tally
                    .unknown_quantity
                    .get(&row.menu_id)
                    .copied()
                    .unwrap_or(0);
                let gap = row.sold - client;
                if gap.abs() > unknown {
                    bad.push(format!(
                        "{}: server sold {}, clients saw {} (off by {:+}, {} of unknown outcome)",
                        row.key, row.sold, client, gap, unknown
                    ));
                }
            }
            let client_total: i64 = evidence.tally.net_sold.values().sum();
            let server_total: i64 = rows.iter().map(|r| r.sold).sum();
            verdict(
                assertion,
                bad.is_empty(),
                format!("server sold = client-seen ({client_total})"),
                format!("server sold {server_total}"),
                bad.join("; "),
            )
        }
        Rule::FailedShare { target, tolerance } => {
            let answered = evidence.tally.paid + evidence.tally.declined;
            if answered == 0 {
                return verdict(
                    assertion,
                    false,
                    format!("{} ± {}", percent(*target), percent(*tolerance)),
                    "no paid or declined orders".into(),
                    "no order reached payment".into(),
                );
            }
            let share = evidence.tally.declined as f64 / answered as f64;
            let off = (share - target).abs();
            verdict(
                assertion,
                off <= *tolerance,
                format!("{} ± {}", percent(*target), percent(*tolerance)),
                format!(
                    "{} ({} of {})",
                    percent(share),
                    evidence.tally.declined,
                    answered
                ),
                format!(
                    "off by {:.1} points, {:.1} beyond the tolerance",
                    off * 100.0,
                    (off - tolerance) * 100.0
                ),
            )
        }
        Rule::Latency {
            endpoint,
            percentile,
            max,
        } => {
            let bound = max.as_micros() as f64;
            match evidence.endpoint(endpoint) {
                Some((requests, _, latency)) if requests > 0 => {
                    let value = latency.percentile(*percentile) as f64;
                    verdict(
                        assertion,
                        value < bound,
                        format!("p{percentile} < {}", format_micros(bound)),
                        format!("p{percentile} = {}", format_micros(value)),
                        format!(
                            "{} over the bound ({:.0}% above)",
                            format_micros(value - bound),
                            (value / bound - 1.0) * 100.0
                        ),
                    )
                }
                _ => verdict(
                    assertion,
                    false,
                    format!("p{percentile} < {}", format_micros(bound)),
                    "no requests".into(),
                    format!("{endpoint} was never called"),
                ),
            }
        }
        Rule::ErrorRate { endpoint, max_rate } => match evidence.endpoint(endpoint) {
            Some((requests, errors, _)) if requests > 0 => {
                let rate = errors as f64 / requests as f64;
                verdict(
                    assertion,
                    rate <= *max_rate,
                    format!("≤ {}", percent(*max_rate)),
                    format!("{} ({errors} of {requests})", percent(rate)),
                    format!("{:.1} points over the bound", (rate - max_rate) * 100.0),
                )
            }
            _ => verdict(
                assertion,
                false,
                format!("≤ {}", percent(*max_rate)),
                "no requests".into(),
                format!("{endpoint} was never called"),
            ),
        },
        Rule::MinRequests { endpoint, min } => {
            let requests = evidence.endpoint(endpoint).map_or(0, |e| e.0);
            verdict(
                assertion,
                requests >= *min,
                format!("≥ {min}"),
                requests.to_string(),
                format!("{} short", min - requests.min(*min)),
            )
        }
        Rule::CacheHitFaster {
            endpoint,
            min_misses,
        } => {
            let found = evidence.endpoints.iter().find(|e| &e.endpoint == endpoint);
            let hits = found.and_then(|e| e.cache_hits.clone()).unwrap_or_default();
            let misses = found
                .and_then(|e| e.cache_misses.clone())
                .unwrap_or_default();
            let actual = format!(
                "hits {} × p50 {}, misses {} × p50 {}",
                hits.count,
                format_micros(hits.p50 as f64),
                misses.count,
                format_micros(misses.p50 as f64)
            );
            let expected = format!("hits > 0, misses ≥ {min_misses}, hit p50 < miss p50");
            if hits.count == 0 || misses.count < *min_misses {
                return verdict(
                    assertion,
                    false,
                    expected,
                    actual.clone(),
                    format!("not enough hits and misses to compare: {actual}"),
                );
            }
            verdict(
                assertion,
                hits.p50 < misses.p50,
                expected,
                actual,
                format!(
                    "hits slower by {}",
                    format_micros(hits.p50 as f64 - misses.p50 as f64)
                ),
            )
        }
        Rule::Recovery {
            window,
            max_rate,
            max_p95,
        } => {
            let window_secs = window.as_secs();
            let Some(stats) = evidence
                .windows
                .iter()
                .find(|w| w.window_secs == window_secs)
            else {
                return verdict(
                    assertion,
                    false,
                    "a trailing window".into(),
                    "not measured".into(),
                    "the run did not last long enough for the window".into(),
                );
            };
            let bound = max_p95.as_micros() as f64;
            let expected = format!(
                "errors ≤ {}, p95 < {}",
                percent(*max_rate),
                format_micros(bound)
            );
            if stats.requests == 0 {
                return verdict(
                    assertion,
                    false,
                    expected,
                    "no requests".into(),
                    "no requests in the window".into(),
                );
            }
            let rate = stats.errors as f64 / stats.requests as f64;
            let p95 = stats.latency.p95 as f64;
            let mut misses = Vec::new();
            if rate > *max_rate {
                misses.push(format!(
                    "error rate {:.1} points over",
                    (rate - max_rate) * 100.0
                ));
            }
            if p95 >= bound {
                misses.push(format!("p95 {} over", format_micros(p95 - bound)));
            }
            verdict(
                assertion,
                misses.is_empty(),
                expected,
                format!(
                    "errors {} of {}, p95 {}",
                    stats.errors,
                    stats.requests,
                    format_micros(p95)
                ),
                misses.join("; "),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::consistency::ConsistencyRow;

    fn assertion(rule: Rule) -> Assertion {
        Assertion { line: 1, rule }
    }

    fn evidence() -> Evidence {
        Evidence {
            endpoints: vec![EndpointSnapshot {
                endpoint: "POST /orders".into(),
                requests: 100,
                errors: 2,
                latency: LatencySummary {
                    count: 100,
                    p50: 20_000,
                    p95: 90_000,
                    p99: 150_000,
                    max: 200_000,
                    ..LatencySummary::default()
                },
                ..EndpointSnapshot::default()
            }],
            final_check: Some(ConsistencyCheck {
                rows: vec![ConsistencyRow {
                    key: "a".into(),
                    menu_id: 7,
                    initial: 100,
                    stock: 70,
                    reserved: 40,
                    restored: 10,
                    sold: 30,
                    drift: 0,
                    identity_gap: 0,
                    in_flight_units: 0,
                }],
                orders_by_status: BTreeMap::from([("PENDING".into(), 0)]),
                ..ConsistencyCheck::default()
            }),
            tally: TallySnapshot {
                paid: 70,
                declined: 30,
                net_sold: BTreeMap::from([(7, 30)]),
                ..TallySnapshot::default()
            },
            windows: Vec::new(),
            iterations: IterationStats::default(),
            recovery: Vec::new(),
        }
    }

    #[test]
    fn invariants_pass_on_a_consistent_run() {
        let results = evaluate(
            &[
                Rule::NoDrift,
                Rule::NoOversell,
                Rule::NonePending,
                Rule::InventoryIdentity,
                Rule::ClientAgrees,
            ]
            .map(assertion),
            &evidence(),
        );
        assert!(results.iter().all(|r| r.passed), "{results:#?}");
    }

    #[test]
    fn drift_fails_with_the_menu_and_amount() {
        let mut evidence = evidence();
        if let Some(check) = evidence.final_check.as_mut() {
            check.rows[0].stock = 68;
            check.rows[0].drift = -2;
        }
        let result = &evaluate(&[assertion(Rule::NoDrift)], &evidence)[0];
        assert!(!result.passed);
        assert!(result.detail.contains("a drift -2"), "{}", result.detail);
        let agrees = &evaluate(&[assertion(Rule::ClientAgrees)], &evidence)[0];
        assert!(agrees.passed, "sold still agrees");
    }

    #[test]
    fn failed_share_within_and_outside_tolerance() {
        let within = assertion(Rule::FailedShare {
            target: 0.3,
            tolerance: 0.05,
        });
        assert!(evaluate(&[within], &evidence())[0].passed);
        let outside = assertion(Rule::FailedShare {
            target: 0.5,
            tolerance: 0.05,
        });
        let result = &evaluate(&[outside], &evidence())[0];
        assert!(!result.passed);
        assert_eq!(result.actual, "30.0% (30 of 100)");
        assert!(
            result.detail.contains("off by 20.0 points"),
            "{}",
            result.detail
        );
    }

    #[test]
    fn latency_says_by_how_much_it_missed() {
        let rule = |ms| {
            assertion(Rule::Latency {
                endpoint: "POST /orders".into(),
                percentile: 95.0,
                max: Duration::from_millis(ms),
            })
        };
        assert!(evaluate(&[rule(100)], &evidence())[0].passed);
        let result = &evaluate(&[rule(60)], &evidence())[0];
        assert!(!result.passed);
        assert_eq!(result.actual, "p95 = 90.0ms");
        assert!(
            result.detail.contains("30.0ms over the bound (50% above)"),
            "{}",
            result.detail
        );
    }

    #[test]
    fn error_rate_min_requests_and_missing_endpoints() {
        let ok = assertion(Rule::ErrorRate {
            endpoint: "*".into(),
            max_rate: 0.05,
        });
        let strict = assertion(Rule::ErrorRate {
            endpoint: "POST /orders".into(),
            max_rate: 0.01,
        });
        let absent = assertion(Rule::MinRequests {
            endpoint: "GET /menus".into(),
            min: 1,
        });
        let results = evaluate(&[ok, strict, absent], &evidence());
        assert!(results[0].passed);
        assert!(!results[1].passed && results[1].actual == "2.0% (2 of 100)");
        assert!(!results[2].passed && results[2].detail == "1 short");
    }

    #[test]
    fn recovery_judges_the_trailing_window() {
        let rule = assertion(Rule::Recovery {
            window: Duration::from_secs(5),
            max_rate: 0.02,
            max_p95: Duration::from_millis(500),
        });
        let mut evidence = evidence();
        evidence.windows.push(WindowStats {
            window_secs: 5,
            requests: 200,
            errors: 1,
            latency: LatencySummary {
                p95: 40_000,
                ..LatencySummary::default()
            },
        });
        assert!(evaluate(std::slice::from_ref(&rule), &evidence)[0].passed);
        evidence.windows[0].latency.p95 = 2_100_000;
        let result = &evaluate(&[rule], &evidence)[0];
        assert!(!result.passed);
        assert!(
            result.detail.contains("p95 1.60s over"),
            "{}",
            result.detail
        );
    }

    #[test]
    fn dropped_iterations_are_judged_as_a_share_of_the_scheduled() {
        let mut evidence = evidence();
        evidence.iterations = IterationStats {
            scheduled: 400,
            dropped: 6,
            peak_in_flight: 8,
            max_in_flight: 8,
        };
        let none = evaluate_one(&assertion(Rule::Dropped { max_rate: 0.0 }), &evidence);
        assert!(!none.passed, "{none:?}");
        assert_eq!(none.actual, "6 of 400 dropped (1.5%)");
        assert!(none.detail.contains("1.5 points over") && none.detail.contains("8 iterations"));
        let some = evaluate_one(&assertion(Rule::Dropped { max_rate: 0.02 }), &evidence);
        assert!(some.passed, "{some:?}");
        // Closed loop: nothing scheduled, nothing dropped.
        evidence.iterations = IterationStats::default();
        assert!(evaluate_one(&assertion(Rule::Dropped { max_rate: 0.0 }), &evidence).passed);
    }

    fn figure(kind: &str, books: Recovery, errors: Recovery) -> RecoveryFigure {
        RecoveryFigure {
            window: crate::fault_window::FaultWindow {
                kind: kind.into(),
                target: "order".into(),
                label: format!("order: {kind}"),
                start_s: 2.0,
                end_s: 5.0,
            },
            from_s: 5.0,
            until_s: None,
            bounds: crate::recovery::RecoveryBounds::default(),
            errors,
            p95: Recovery::Recovered {
                after_s: 0.0,
                first_s: 0.0,
                relapses: 0,
            },
            books,
        }
    }

    fn recovered(after_s: f64) -> Recovery {
        Recovery::Recovered {
            after_s,
            first_s: after_s,
            relapses: 0,
        }
    }

    #[test]
    fn recovered_within_judges_each_matching_window_and_measure() {
        let rule = |measure, fault: Option<&str>| {
            assertion(Rule::RecoveredWithin {
                within: Duration::from_secs(2),
                measure,
                fault: fault.map(str::to_string),
            })
        };
        let mut evidence = evidence();
        evidence.recovery = vec![
            figure("payment_fail", recovered(0.4), recovered(0.0)),
            figure(
                "delay",
                recovered(3.25),
                Recovery::NotRecovered { watched_s: 9.0 },
            ),
        ];
        let books = evaluate_one(&rule(RecoveryMeasure::Books, None), &evidence);
        assert!(!books.passed, "{books:?}");
        assert!(
            books
                .detail
                .contains("order: delay (2.0–5.0s): books after 3.25s, 1.25s over"),
            "{}",
            books.detail
        );
        assert!(
            books.actual.contains("slowest measured: books 3.25s"),
            "{}",
            books.actual
        );
        let only_payment = evaluate_one(
            &rule(RecoveryMeasure::Books, Some("payment_fail")),
            &evidence,
        );
        assert!(only_payment.passed, "{only_payment:?}");
        assert_eq!(
            only_payment.actual,
            "slowest: books 0.40s after order: payment_fail (2.0–5.0s)"
        );
        let errors = evaluate_one(&rule(RecoveryMeasure::All, Some("delay")), &evidence);
        assert!(!errors.passed);
        assert!(
            errors
                .detail
                .contains("errors not recovered (watched 9.0s)"),
            "{}",
            errors.detail
        );
        let none = evaluate_one(&rule(RecoveryMeasure::Books, Some("kill")), &evidence);
        assert!(!none.passed && none.actual == "no fault window", "{none:?}");
        evidence.recovery[1].errors = Recovery::NotMeasured {
            reason: "no requests after the fault ended".into(),
        };
        let unmeasured = evaluate_one(&rule(RecoveryMeasure::Errors, Some("delay")), &evidence);
        assert!(!unmeasured.passed, "an unmeasured figure is not a recovery");
    }
}
