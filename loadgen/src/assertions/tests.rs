//! The assertions' tests: each rule passing and failing, with what it says it missed.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::consistency::ConsistencyRow;
use crate::fault_window::FaultWindow;
use crate::recovery::{Recovery, RecoveryBounds};
use crate::scenario::RecoveryMeasure;

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

/// The result of one rule that must fail, for what it says.
fn failing(rule: Rule, evidence: &Evidence) -> AssertionResult {
    let result = evaluate_one(&assertion(rule), evidence);
    assert!(!result.passed, "{result:?}");
    result
}

fn passes(rule: Rule, evidence: &Evidence) -> bool {
    evaluate_one(&assertion(rule), evidence).passed
}

/// Fails unless `text` says `part`.
fn says(text: &str, part: &str) {
    assert!(text.contains(part), "{text:?} does not say {part:?}");
}

#[test]
fn drift_fails_with_the_menu_and_amount() {
    let mut evidence = evidence();
    if let Some(check) = evidence.final_check.as_mut() {
        check.rows[0].stock = 68;
        check.rows[0].drift = -2;
    }
    says(&failing(Rule::NoDrift, &evidence).detail, "a drift -2");
    assert!(passes(Rule::ClientAgrees, &evidence), "sold still agrees");
}

#[test]
fn failed_share_within_and_outside_tolerance() {
    let rule = |target| Rule::FailedShare {
        target,
        tolerance: 0.05,
    };
    assert!(passes(rule(0.3), &evidence()));
    let result = failing(rule(0.5), &evidence());
    assert_eq!(result.actual, "30.0% (30 of 100)");
    says(&result.detail, "off by 20.0 points");
}

#[test]
fn latency_says_by_how_much_it_missed() {
    let rule = |ms| Rule::Latency {
        endpoint: "POST /orders".into(),
        percentile: 95.0,
        max: Duration::from_millis(ms),
    };
    assert!(passes(rule(100), &evidence()));
    let result = failing(rule(60), &evidence());
    assert_eq!(result.actual, "p95 = 90.0ms");
    says(&result.detail, "30.0ms over the bound (50% above)");
}

#[test]
fn error_rate_min_requests_and_missing_endpoints() {
    let error_rate = |endpoint: &str, max_rate| Rule::ErrorRate {
        endpoint: endpoint.into(),
        max_rate,
    };
    assert!(passes(error_rate("*", 0.05), &evidence()));
    let strict = failing(error_rate("POST /orders", 0.01), &evidence());
    assert_eq!(strict.actual, "2.0% (2 of 100)");
    let absent = Rule::MinRequests {
        endpoint: "GET /menus".into(),
        min: 1,
    };
    assert_eq!(failing(absent, &evidence()).detail, "1 short");
}

#[test]
fn recovery_judges_the_trailing_window() {
    let rule = Rule::Recovery {
        window: Duration::from_secs(5),
        max_rate: 0.02,
        max_p95: Duration::from_millis(500),
    };
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
    assert!(passes(rule.clone(), &evidence));
    evidence.windows[0].latency.p95 = 2_100_000;
    says(&failing(rule, &evidence).detail, "p95 1.60s over");
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
    let none = failing(Rule::Dropped { max_rate: 0.0 }, &evidence);
    assert_eq!(none.actual, "6 of 400 dropped (1.5%)");
    says(&none.detail, "1.5 points over");
    says(&none.detail, "8 iterations");
    assert!(passes(Rule::Dropped { max_rate: 0.02 }, &evidence));
    // Closed loop: nothing scheduled, nothing dropped.
    evidence.iterations = IterationStats::default();
    assert!(passes(Rule::Dropped { max_rate: 0.0 }, &evidence));
}

#[test]
fn the_verdict_passes_only_when_every_assertion_does_and_there_is_one() {
    let merged = Merged::default();
    let judged = |rules: &[Rule]| {
        let assertions: Vec<Assertion> = rules.iter().cloned().map(assertion).collect();
        judge(&assertions, &merged, &[], 10.0, evidence())
    };
    assert!(
        judged(&[
            Rule::NoDrift,
            Rule::MinRequests {
                endpoint: "*".into(),
                min: 1
            }
        ])
        .passed
    );
    let mixed = judged(&[
        Rule::NoDrift,
        Rule::MinRequests {
            endpoint: "*".into(),
            min: 500,
        },
    ]);
    assert!(!mixed.passed && mixed.results.len() == 2);
    assert!(
        !judged(&[]).passed,
        "no assertion: neither pass nor fail counts as a pass"
    );
    let recovery = Rule::Recovery {
        window: Duration::from_secs(5),
        max_rate: 0.02,
        max_p95: Duration::from_millis(500),
    };
    assert_eq!(
        judged(&[recovery]).windows.len(),
        1,
        "one trailing window measured"
    );
}

fn figure(kind: &str, books: Recovery, errors: Recovery) -> RecoveryFigure {
    RecoveryFigure {
        window: FaultWindow {
            kind: kind.into(),
            target: "order".into(),
            label: format!("order: {kind}"),
            start_s: 2.0,
            end_s: 5.0,
        },
        from_s: 5.0,
        until_s: None,
        bounds: RecoveryBounds::default(),
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
