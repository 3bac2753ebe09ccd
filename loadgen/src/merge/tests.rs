//! `loadgen merge`'s tests: percentiles from added histograms, timelines lined up by the
//! wall clock, recovery carried over, assertions judged again, mismatches refused.

use std::time::UNIX_EPOCH;

use hdrhistogram::Histogram;

use super::*;
use crate::histogram::new_histogram;
use crate::recorder::{Recorder, Sample};
use crate::report::fixture::fixed_run;
use crate::scenario::parse_scenario;
use crate::workflow::TallySnapshot;

const SCENARIO: &str = r#"
name = "merge-test"
description = "two processes"

[load]
users = 2
run_time = "10s"

[[menus]]
key = "rice"
stock = 100

[[workflows]]
kind = "order"
menus = ["rice"]

[[assertions]]
kind = "latency"
endpoint = "POST /orders"
percentile = 95
max = "50ms"

[[assertions]]
kind = "min_requests"
endpoint = "POST /orders"
min = 150

[[assertions]]
kind = "failed_share"
target = 0.30
tolerance = 0.10
"#;

/// A saved run: `samples` are (endpoint, latency µs, second of the load), and its load
/// started `start_ms` after the epoch.
fn saved_run(
    tag: &str,
    start_ms: u64,
    samples: &[(&'static str, u64, u64)],
    paid: u64,
    declined: u64,
) -> LoadedRun {
    let recorder = Recorder::with_shards(2);
    for &(endpoint, micros, second) in samples {
        recorder.record(Sample {
            endpoint,
            status: if micros > 1_000_000 { 504 } else { 201 },
            latency: Duration::from_micros(micros),
            started: recorder.started() + Duration::from_secs(second),
            cache: None,
            error: micros > 1_000_000,
        });
    }
    let merged = recorder.merged();
    let load_started = UNIX_EPOCH + Duration::from_millis(start_ms);
    let mut record = fixed_run();
    record.scenario = parse_scenario("merge-test.toml", SCENARIO).expect("parses");
    record.config.run_tag = tag.into();
    record.config.users = 2;
    record.endpoints = merged.endpoint_snapshots();
    record.timeline = merged.timeline();
    record.load_secs = record.timeline.len() as f64;
    record.load_started_at = Some(hlog::rfc3339(load_started));
    record.tally = TallySnapshot {
        order_attempts: paid + declined,
        paid,
        declined,
        ..TallySnapshot::default()
    };
    let measured = Evidence {
        endpoints: record.endpoints.clone(),
        final_check: record.final_check.clone(),
        tally: record.tally.clone(),
        recovery: record.recovery.clone(),
        ..Evidence::default()
    };
    let assertions = record.scenario.scaled_assertions(record.config.run_time);
    let verdict = assertions::judge(
        &assertions,
        &merged,
        &record.timeline,
        record.load_secs,
        measured,
    );
    record.assertions = verdict.results;
    record.passed = verdict.passed;
    let histograms = RunHistograms::from_merged(&merged, load_started);
    record.histograms = Some(Arc::new(histograms.clone()));
    LoadedRun {
        dir: PathBuf::from(format!("reports/{tag}")),
        record,
        histograms,
    }
}

/// When the first load of every test starts, in ms since the epoch.
const T0: u64 = 1_700_000_000_000;

/// A saved run whose load started `after_ms` after [`T0`]: `count` orders of `micros` each
/// in its second 0, `paid` and `declined` as the clients tallied them.
fn orders_run(
    tag: &str,
    after_ms: u64,
    micros: u64,
    count: usize,
    paid: u64,
    declined: u64,
) -> LoadedRun {
    let samples = repeat("POST /orders", micros, count, 0);
    saved_run(tag, T0 + after_ms, &samples, paid, declined)
}

fn repeat(
    endpoint: &'static str,
    micros: u64,
    count: usize,
    second: u64,
) -> Vec<(&'static str, u64, u64)> {
    vec![(endpoint, micros, second); count]
}

#[test]
fn merged_percentiles_come_from_the_added_histograms_never_from_averages() {
    // A: 1000 fast orders. B: 10 slow ones. All 1010 together: 99 % are fast.
    let a = orders_run("a", 0, 1_000, 1000, 7, 3);
    let b = orders_run("b", 0, 100_000, 10, 7, 3);
    let record = merge_runs(&[a, b]).expect("merges");
    let orders = &record.endpoints[0];
    assert_eq!(orders.requests, 1010);
    assert_eq!(orders.statuses.get(&201), Some(&1010));
    let mut all = new_histogram();
    for micros in std::iter::repeat_n(1_000, 1000).chain(std::iter::repeat_n(100_000, 10)) {
        all.record(micros).expect("in range");
    }
    assert_eq!(orders.latency.p99, all.value_at_quantile(0.99));
    assert_eq!(orders.latency.max, all.max());
    assert_eq!(orders.latency.p50, all.value_at_quantile(0.50));
    let runs_p99: Vec<u64> = record
        .merged_from
        .iter()
        .map(|r| r.p99["POST /orders"])
        .collect();
    let average = runs_p99.iter().sum::<u64>() / 2;
    assert!(
        orders.latency.p99 < 1_100,
        "p99 {} is the fast one",
        orders.latency.p99
    );
    assert!(
        average > 50_000,
        "the average of p99s ({average} µs) would be wrong"
    );
    // The merged log holds the added histograms too, so merged runs merge again.
    let histograms = record.histograms.as_ref().expect("raw histograms");
    assert!(histograms.endpoints["POST /orders"].all == all);
}

#[test]
fn timelines_line_up_by_the_wall_clock_second_and_counts_add_up() {
    let mut a_samples = repeat("POST /orders", 2_000, 30, 0);
    a_samples.extend(repeat("POST /orders", 2_000, 40, 1));
    a_samples.extend(repeat("GET /menus", 500, 5, 2));
    // B began 2.4 s later: its second 0 is merged second 2.
    let mut b_samples = repeat("POST /orders", 8_000, 11, 0);
    b_samples.extend(repeat("POST /orders", 5_000_000, 2, 1));
    let a = saved_run("a", T0, &a_samples, 10, 4);
    let b = saved_run("b", T0 + 2_400, &b_samples, 1, 0);
    let expected_total = a.record.total_requests() + b.record.total_requests();
    // Given in either order, B is run 2.
    let record = merge_runs(&[b, a]).expect("merges");
    assert_eq!(record.total_requests(), expected_total);
    assert_eq!(record.total_requests(), 88);
    let requests: Vec<u64> = record.timeline.iter().map(|p| p.requests).collect();
    assert_eq!(requests, vec![30, 40, 5 + 11, 2]);
    let errors: Vec<u64> = record.timeline.iter().map(|p| p.errors).collect();
    assert_eq!(errors, vec![0, 0, 0, 2]);
    assert_eq!(record.total_errors(), 2);
    assert_eq!(
        record
            .merged_from
            .iter()
            .map(|r| r.offset_secs)
            .collect::<Vec<_>>(),
        vec![0, 2]
    );
    assert!(record.merged_from[1].dir.ends_with('b'));
    // Merged second 2 holds A's menus and B's first orders: its p99 is B's 8 ms.
    let mut second_two: Histogram<u64> =
        Histogram::new_with_bounds(1, 120_000_000, 2).expect("bounds");
    for micros in std::iter::repeat_n(500, 5).chain(std::iter::repeat_n(8_000, 11)) {
        second_two.record(micros).expect("in range");
    }
    assert_eq!(record.timeline[2].p99, second_two.value_at_quantile(0.99));
    assert!(
        (record.load_secs - (2.0 + 2.0)).abs() < 1e-9,
        "{}",
        record.load_secs
    );
    assert_eq!(record.tally.paid, 11);
    assert_eq!(record.config.users, 4);
    assert_eq!(record.config.run_tag, "a+b");
}

#[test]
fn recovery_figures_are_carried_onto_the_merged_timeline_and_judged_again() {
    let a = orders_run("a", 0, 2_000, 5, 5, 0);
    let mut b = orders_run("b", 3_000, 2_000, 5, 5, 0);
    // B's books took 3 s to balance after its fault.
    b.record.recovery[0].books = crate::recovery::Recovery::Recovered {
        after_s: 3.0,
        first_s: 3.0,
        relapses: 0,
    };
    let mut scenario = a.record.scenario.clone();
    scenario.assertions.push(crate::scenario::Assertion {
        line: 99,
        rule: crate::scenario::Rule::RecoveredWithin {
            within: Duration::from_secs(2),
            measure: crate::scenario::RecoveryMeasure::Books,
            fault: None,
        },
    });
    let (mut a, mut b) = (a, b);
    a.record.scenario = scenario.clone();
    b.record.scenario = scenario;
    let record = merge_runs(&[a, b]).expect("merges");
    let windows: Vec<(String, f64, f64)> = record
        .fault_windows
        .iter()
        .map(|w| (w.label.clone(), w.start_s, w.end_s))
        .collect();
    assert_eq!(
        windows,
        vec![
            ("[run 1] order: payment fail 30%".to_string(), 0.0, 10.0),
            ("[run 2] order: payment fail 30%".to_string(), 3.0, 13.0),
        ]
    );
    assert_eq!(record.recovery.len(), 2);
    assert_eq!(record.recovery[1].from_s, 13.0);
    assert_eq!(record.recovery[1].window.start_s, 3.0);
    let judged = record.assertions.last().expect("the recovery assertion");
    assert_eq!(judged.line, 99);
    assert!(!judged.passed, "run 2's books were late: {judged:?}");
    assert!(
        judged
            .detail
            .contains("[run 2] order: payment fail 30% (3.0–13.0s): books after 3.00s"),
        "{judged:?}"
    );
}

#[test]
fn assertions_are_judged_again_on_the_merged_data() {
    // Alone, A has too few orders and B too slow a p95; B's share of declines is off.
    let a = orders_run("a", 0, 3_000, 100, 70, 30);
    let mut b_samples = repeat("POST /orders", 3_000, 90, 0);
    b_samples.extend(repeat("POST /orders", 200_000, 10, 0));
    let b = saved_run("b", T0, &b_samples, 90, 10);
    assert!(!a.record.passed && !b.record.passed);
    let record = merge_runs(&[a, b]).expect("merges");
    let verdicts: Vec<(bool, &str)> = record
        .assertions
        .iter()
        .map(|a| (a.passed, a.actual.as_str()))
        .collect();
    // 200 orders; 10 of 200 slow = 5 %: p95 is a fast one; 40 of 200 declined = 20 %.
    assert_eq!(
        verdicts,
        vec![
            (true, "p95 = 3.0ms"),
            (true, "200"),
            (true, "20.0% (40 of 200)"),
        ]
    );
    assert!(record.passed);
    assert_eq!(
        record.merged_from[0].failed,
        vec!["POST /orders ≥ 150 requests"]
    );
    assert!(!record.merged_from[1].passed);
}

#[test]
fn the_same_run_twice_other_scenarios_and_mismatched_files_are_refused() {
    let twice = [
        orders_run("a", 0, 1_000, 5, 1, 0),
        orders_run("a", 0, 1_000, 5, 1, 0),
    ];
    let error = merge_runs(&twice).expect_err("refused").to_string();
    assert!(error.contains("same run"), "{error}");

    let mut other = orders_run("b", 0, 1_000, 5, 1, 0);
    other.record.scenario.name = "other".into();
    let error = merge_runs(&[orders_run("a", 0, 1_000, 5, 1, 0), other])
        .expect_err("refused")
        .to_string();
    assert!(error.contains("only runs of one scenario"), "{error}");

    let mut mismatched = orders_run("c", 0, 1_000, 5, 1, 0);
    mismatched.record.endpoints[0].requests = 6;
    let error = merge_runs(&[mismatched]).expect_err("refused").to_string();
    assert!(error.contains("not of the same run"), "{error}");

    assert!(merge_runs(&[]).is_err());
}

#[test]
fn a_merged_report_is_written_with_its_log_and_reads_back() {
    let dir = std::env::temp_dir().join(format!("loadgen-merge-{}", uuid::Uuid::new_v4().simple()));
    let runs = [
        orders_run("a", 0, 1_000, 50, 1, 0),
        orders_run("b", 1_000, 9_000, 50, 1, 0),
    ];
    for run in &runs {
        std::fs::create_dir_all(dir.join(&run.dir)).expect("run dir");
        report::write_into(&run.record, &dir.join(&run.dir)).expect("run written");
    }
    let loaded: Vec<LoadedRun> = runs
        .iter()
        .map(|run| load_run(&dir.join(&run.dir)).expect("loads"))
        .collect();
    let record = merge_runs(&loaded).expect("merges");
    let out = dir.join("merged");
    assert!(
        write_merged(&record, Some(&loaded[0].dir), &loaded).is_err(),
        "--out on an input is refused"
    );
    write_merged(&record, Some(&out), &loaded).expect("written");
    for file in [
        "index.html",
        "summary.json",
        "junit.xml",
        "run.json",
        hlog::FILE_NAME,
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let html = std::fs::read_to_string(out.join("index.html")).expect("html");
    assert!(html.contains("Merged from 2 runs") && html.contains("id=\"p99\""));
    // The merged directory is itself a run that merges (alone, it gives itself back).
    let again = merge_runs(&[load_run(&out).expect("loads")]).expect("merges");
    assert_eq!(again.endpoints, record.endpoints);
    assert_eq!(again.timeline, record.timeline);
    let missing = load_run(&dir).err().expect("no run.json").to_string();
    assert!(missing.contains("has no run.json"), "{missing}");
    std::fs::remove_file(dir.join("reports/a").join(hlog::FILE_NAME)).expect("removed");
    let missing = load_run(&dir.join("reports/a"))
        .err()
        .expect("no log")
        .to_string();
    assert!(
        missing.contains("averaging them would be wrong"),
        "{missing}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
