//! A fixed run for report tests: every number chosen by hand.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::api::Targets;
use crate::assertions::AssertionResult;
use crate::consistency::{ConsistencyCheck, ConsistencyRow};
use crate::fault_window::FaultWindow;
use crate::recorder::{EndpointSnapshot, LatencySummary, SecondPoint};
use crate::recovery::{self, Observed, RecoveryBounds};
use crate::run::{FaultMarker, LoadMode, RunConfig, RunRecord};
use crate::scenario::{Fault, FaultStep, Service, parse_scenario};
use crate::workflow::TallySnapshot;

fn latency(p50: u64, p95: u64, max: u64, count: u64) -> LatencySummary {
    LatencySummary {
        count,
        min: p50 / 4,
        mean: p50 as f64 * 1.2,
        p50,
        p90: p95 * 8 / 10,
        p95,
        p99: p95 * 2,
        p999: max * 9 / 10,
        max,
        curve: vec![
            (0.0, p50 / 4),
            (50.0, p50),
            (90.0, p95 * 8 / 10),
            (95.0, p95),
            (99.0, p95 * 2),
            (99.9, max * 9 / 10),
            (100.0, max),
        ],
        buckets: vec![(p50, count / 2), (max, count / 2)],
    }
}

/// `POST /orders` (2 errors, in seconds 5 and 6) and `GET /orders/{id}` with cache hits
/// and misses.
fn endpoints() -> Vec<EndpointSnapshot> {
    let orders = EndpointSnapshot {
        endpoint: "POST /orders".into(),
        latency: latency(20_000, 90_000, 400_000, 1000),
        statuses: BTreeMap::from([(201, 700), (402, 298), (503, 2)]),
        requests: 1000,
        errors: 2,
        rps: vec![100; 10],
        errors_per_second: vec![0, 0, 0, 0, 0, 1, 1, 0, 0, 0],
        ..EndpointSnapshot::default()
    };
    let reads = EndpointSnapshot {
        endpoint: "GET /orders/{id}".into(),
        latency: latency(3_000, 12_000, 30_000, 500),
        cache_hits: Some(latency(2_000, 4_000, 9_000, 450)),
        cache_misses: Some(latency(11_000, 25_000, 30_000, 50)),
        statuses: BTreeMap::from([(200, 500)]),
        requests: 500,
        errors: 0,
        rps: vec![50; 10],
        errors_per_second: vec![0; 10],
    };
    vec![orders, reads]
}

fn timeline() -> Vec<SecondPoint> {
    (0..10)
        .map(|second| SecondPoint {
            second,
            requests: 150,
            errors: u64::from(second == 5 || second == 6),
            p50: 9_000 + second * 100,
            p95: 60_000,
            p99: 180_000,
        })
        .collect()
}

/// A check during the run that saw drift −2, and the final check, 12 ms long, that found
/// the books balanced.
fn consistency_history() -> Vec<ConsistencyCheck> {
    let row = ConsistencyRow {
        key: "bibimbap".into(),
        menu_id: 41,
        initial: 100_000,
        stock: 99_300,
        reserved: 998,
        restored: 298,
        sold: 700,
        ..ConsistencyRow::default()
    };
    let final_check = ConsistencyCheck {
        at_secs: 10.4,
        rows: vec![row.clone()],
        orders_by_status: BTreeMap::from([
            ("PENDING".into(), 0),
            ("PAID".into(), 700),
            ("FAILED".into(), 300),
            ("CANCELLED".into(), 0),
        ]),
        took_ms: 12.0,
        ..ConsistencyCheck::default()
    };
    let during = ConsistencyCheck {
        at_secs: 4.0,
        rows: vec![ConsistencyRow {
            stock: 99_598,
            sold: 400,
            drift: -2,
            ..row
        }],
        ..final_check.clone()
    };
    vec![during, final_check]
}

fn config() -> RunConfig {
    RunConfig {
        users: 20,
        hatch_rate: 10.0,
        run_time: Duration::from_secs(10),
        think_min: Duration::from_millis(10),
        think_max: Duration::from_millis(50),
        short: true,
        seed: 7,
        mode: LoadMode::ClosedLoop {
            engine: "goose 0.19".into(),
        },
        targets: Targets::default(),
        faults: vec![FaultStep {
            at: Duration::ZERO,
            service: Service::Order,
            fault: Fault::PaymentFail { percent: 30 },
        }],
        menu_ids: BTreeMap::from([("bibimbap".into(), 41)]),
        run_tag: "120000abcd".into(),
        max_in_flight: None,
        chaos: Vec::new(),
        chaos_targets: None,
    }
}

/// Payment failing on the order service from the start until the teardown at 10 s.
fn markers() -> Vec<FaultMarker> {
    let marker = |at_secs, description: &str, origin: &str| FaultMarker {
        at_secs,
        service: Service::Order,
        description: description.into(),
        origin: origin.into(),
    };
    vec![
        marker(0.0, "payment fail 30%", "scenario"),
        marker(10.0, "all faults off", "teardown"),
    ]
}

/// Two assertions that held and a latency bound that did not.
fn assertions() -> Vec<AssertionResult> {
    let result = |title: &str, line, expected: &str, actual: &str, detail: &str| AssertionResult {
        title: title.into(),
        line,
        passed: detail.is_empty(),
        expected: expected.into(),
        actual: actual.into(),
        detail: detail.into(),
    };
    vec![
        result(
            "no stock drift",
            40,
            "drift 0 on every menu",
            "total |drift| 0",
            "",
        ),
        result(
            "FAILED share 30% ± 8%",
            43,
            "30.0% ± 8.0%",
            "29.9% (298 of 998)",
            "",
        ),
        result(
            "POST /orders p95 < 50ms",
            48,
            "p95 < 50.0ms",
            "p95 = 90.0ms",
            "40.0ms over the bound (80% above)",
        ),
    ]
}

pub fn fixed_run() -> RunRecord {
    let scenario = parse_scenario(
        "scenarios/chaos-payment-fail.toml",
        include_str!("../../../scenarios/chaos-payment-fail.toml"),
    )
    .expect("the shipped scenario parses");
    let timeline = timeline();
    let consistency_history = consistency_history();
    // The final check began 0.4 s after the fault window closed.
    let fault_windows = vec![FaultWindow {
        kind: "payment_fail".into(),
        target: "order".into(),
        label: "order: payment fail 30%".into(),
        start_s: 0.0,
        end_s: 10.0,
    }];
    let observed = Observed {
        timeline: &timeline,
        checks: &consistency_history,
        whole_secs: 10,
        now_s: 10.4,
        finished: true,
    };
    let recovery = recovery::measure(&fault_windows, &observed, RecoveryBounds::default());
    let config = config();
    RunRecord {
        format_version: 1,
        measurement: config.mode.measurement(),
        config,
        scenario,
        started_at: "2026-05-01T12:00:00+00:00".into(),
        finished_at: "2026-05-01T12:00:12+00:00".into(),
        load_secs: 10.0,
        stopped_early: false,
        endpoints: endpoints(),
        timeline,
        markers: markers(),
        final_check: consistency_history.last().cloned(),
        consistency_history,
        tally: TallySnapshot {
            order_attempts: 1000,
            paid: 700,
            declined: 298,
            order_errors: 2,
            net_sold: BTreeMap::from([(41, 700)]),
            ..TallySnapshot::default()
        },
        windows: Vec::new(),
        iterations: Default::default(),
        assertions: assertions(),
        passed: false,
        notes: Vec::new(),
        load_started_at: Some("2026-05-01T12:00:01.250+00:00".into()),
        merged_from: Vec::new(),
        fault_windows,
        recovery,
        histograms: None,
    }
}
