//! A fixed snapshot for the dashboard's rendering tests: every number chosen by hand so a
//! test can say exactly what must be on screen.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::consistency::{ConsistencyCheck, ConsistencyRow};
use crate::fault_window::FaultWindow;
use crate::recorder::{EndpointSnapshot, LatencySummary};
use crate::recovery::{Recovery, RecoveryBounds, RecoveryFigure};
use crate::run::{FaultMarker, LoadMode, Phase, Snapshot};
use crate::scenario::Service;
use crate::workflow::TallySnapshot;
use contract::ChaosSnapshot;

/// Histogram buckets of `POST /orders`: (upper bound µs, count). The 6.4 ms bucket is the
/// tallest; the leading 100–400 µs buckets are empty and must not be drawn.
pub const ORDER_BUCKETS: [(u64, u64); 10] = [
    (100, 0),
    (200, 0),
    (400, 0),
    (800, 10),
    (1_600, 60),
    (3_200, 300),
    (6_400, 500),
    (12_800, 100),
    (25_600, 25),
    (51_200, 5),
];

pub fn orders_latency() -> LatencySummary {
    LatencySummary {
        count: 1_000,
        min: 700,
        mean: 5_900.0,
        p50: 4_700,
        p90: 9_100,
        p95: 12_000,
        p99: 23_400,
        p999: 48_800,
        max: 51_100,
        curve: Vec::new(),
        buckets: ORDER_BUCKETS.to_vec(),
    }
}

fn menus_latency() -> LatencySummary {
    LatencySummary {
        count: 400,
        min: 300,
        mean: 1_100.0,
        p50: 900,
        p90: 1_500,
        p95: 1_700,
        p99: 2_900,
        p999: 3_100,
        max: 3_150,
        curve: Vec::new(),
        buckets: vec![
            (100, 0),
            (200, 0),
            (400, 20),
            (800, 150),
            (1_600, 200),
            (3_200, 30),
        ],
    }
}

/// `POST /orders` (3 errors) and `GET /menus`, 12 s into the run.
fn endpoints() -> Vec<EndpointSnapshot> {
    let orders = EndpointSnapshot {
        endpoint: "POST /orders".into(),
        latency: orders_latency(),
        statuses: BTreeMap::from([(201, 700), (402, 297), (503, 3)]),
        requests: 1_000,
        errors: 3,
        rps: vec![70, 80, 85, 90, 95, 100, 84, 82, 81, 80, 79, 77, 67],
        errors_per_second: vec![0; 13],
        ..EndpointSnapshot::default()
    };
    let menus = EndpointSnapshot {
        endpoint: "GET /menus".into(),
        latency: menus_latency(),
        statuses: BTreeMap::from([(200, 400)]),
        requests: 400,
        errors: 0,
        rps: vec![30; 13],
        errors_per_second: vec![0; 13],
        ..EndpointSnapshot::default()
    };
    vec![menus, orders]
}

/// The fault switches each service reports: user delayed 250 ms, order failing 30 % of
/// payments, restaurant clean.
fn faults() -> BTreeMap<Service, ChaosSnapshot> {
    let clean = |service: Service| ChaosSnapshot {
        service: service.name().into(),
        ..ChaosSnapshot::default()
    };
    let payment_fail = BTreeMap::from([("fail_percent".to_string(), 30)]);
    BTreeMap::from([
        (
            Service::User,
            ChaosSnapshot {
                delay_ms: 250,
                ..clean(Service::User)
            },
        ),
        (Service::Restaurant, clean(Service::Restaurant)),
        (
            Service::Order,
            ChaosSnapshot {
                switches: BTreeMap::from([("payment_fail".to_string(), payment_fail)]),
                ..clean(Service::Order)
            },
        ),
    ])
}

fn markers() -> Vec<FaultMarker> {
    let marker = |at_secs, service, description: &str| FaultMarker {
        at_secs,
        service,
        description: description.into(),
        origin: "scenario".into(),
    };
    vec![
        marker(0.0, Service::User, "delay 250 ms"),
        marker(10.0, Service::Order, "payment fail 30%"),
    ]
}

/// Menu `bulgogi` consistent, menu `kimchi` missing two units with no order in flight.
fn consistency() -> ConsistencyCheck {
    let row = |key: &str, menu_id, initial, stock, reserved, restored, sold| ConsistencyRow {
        key: key.into(),
        menu_id,
        initial,
        stock,
        reserved,
        restored,
        sold,
        drift: stock - (initial - sold),
        identity_gap: stock - (initial - reserved + restored),
        in_flight_units: 0,
    };
    ConsistencyCheck {
        at_secs: 11.0,
        rows: vec![
            row("bulgogi", 1, 1_000, 300, 1_000, 300, 700),
            // 10 sold of 50, yet only 38 left and the ledger agrees: 2 units lost.
            row("kimchi", 2, 50, 38, 12, 0, 10),
        ],
        orders_by_status: BTreeMap::from([
            ("PAID".to_string(), 700),
            ("FAILED".to_string(), 297),
            ("PENDING".to_string(), 0),
        ]),
        took_ms: 9.0,
        ..ConsistencyCheck::default()
    }
}

fn window(kind: &str, target: &str, start_s: f64, end_s: f64) -> FaultWindow {
    FaultWindow {
        kind: kind.into(),
        target: target.into(),
        label: format!("{target}: {kind}"),
        start_s,
        end_s,
    }
}

/// The restaurant's 500s from 4 s to 8 s, recovered: books balanced 0.41 s after.
fn recovery() -> Vec<RecoveryFigure> {
    let recovered = |after_s| Recovery::Recovered {
        after_s,
        first_s: after_s,
        relapses: 0,
    };
    vec![RecoveryFigure {
        window: window("error", "restaurant", 4.0, 8.0),
        from_s: 8.0,
        until_s: Some(10.0),
        bounds: RecoveryBounds::default(),
        errors: recovered(1.0),
        p95: recovered(0.0),
        books: recovered(0.41),
    }]
}

/// A run 12 s into 30 s: `POST /orders` and `GET /menus` recorded, payment failing at 30 %
/// on the order service since 10 s (a recent change), the user service delayed since the
/// start (an old change), restaurant 500s from 4 s to 8 s (recovered: books balanced 0.41 s
/// after), menu `bulgogi` consistent and menu `kimchi` missing two units with no order in
/// flight.
pub fn snapshot() -> Snapshot {
    let recovery = recovery();
    Snapshot {
        scenario: "chaos-payment-fail".into(),
        mode: LoadMode::ClosedLoop {
            engine: "goose 0.19".into(),
        },
        phase: Phase::Running,
        elapsed: Duration::from_millis(12_400),
        run_time: Duration::from_secs(30),
        remaining: Duration::from_millis(17_600),
        users_active: 12,
        users_planned: 12,
        total_requests: 1_400,
        total_errors: 3,
        current_rps: 107,
        endpoints: endpoints(),
        timeline: Vec::new(),
        faults: faults(),
        markers: markers(),
        consistency: Some(consistency()),
        tally: TallySnapshot::default(),
        iterations: Default::default(),
        in_flight: 0,
        active_faults: vec![
            window("delay", "user", 0.0, 12.4),
            window("payment_fail", "order", 10.0, 12.4),
        ],
        ended_faults: vec![recovery[0].window.clone()],
        recovery,
    }
}
