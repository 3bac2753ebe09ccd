//! Every shipped scenario with switch faults only (process and link faults run in
//! scripts/chaos-scenarios.sh), in short mode, against the real services started in-process
//! on random ports with the real PostgreSQL + Redis: each must pass its assertions and write
//! its reports. And a run with a threshold no system can meet must exit non-zero, saying
//! which assertion failed and by how much.

use std::path::{Path, PathBuf};
use std::process::Command;

use loadgen::report;
use loadgen::run::{RunOptions, start_run};
use loadgen::scenario;
use testkit::unique;

use crate::stack::start_stack;

fn report_dir() -> PathBuf {
    std::env::temp_dir().join(unique("loadgen-reports"))
}

fn assert_reports_written(dir: &Path) {
    for file in [
        "index.html",
        "summary.json",
        "junit.xml",
        "run.json",
        "histograms.hlog",
    ] {
        let path = dir.join(file);
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(size > 0, "{} is missing or empty", path.display());
    }
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("summary.json")).expect("summary.json reads"),
    )
    .expect("summary.json is JSON");
    assert!(summary["requests"].as_u64().unwrap_or(0) > 0, "{summary}");
    let html = std::fs::read_to_string(dir.join("index.html")).expect("index.html reads");
    assert!(html.contains("<svg") && !html.contains("<script src"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_scenario_passes_in_short_mode() {
    let stack = start_stack().await;
    let reports = report_dir();
    let mut failures = Vec::new();
    for name in scenario::built_in_names() {
        let scenario = scenario::resolve(name).expect("scenario resolves");
        if scenario.needs_chaos() {
            // Process and link faults need `testbed up --processes --fault-proxy`:
            // scripts/chaos-scenarios.sh runs those.
            continue;
        }
        let handle = start_run(RunOptions {
            short: true,
            ..stack.options(scenario)
        });
        let record = handle.wait().await.expect("the run completes");
        assert!(
            record.config.run_time.as_secs() <= 20,
            "{name}: short mode is ≤ 20 s"
        );
        let dir = report::write_reports(&record, &reports).expect("reports are written");
        assert_reports_written(&dir);
        let requests = record.total_requests();
        println!(
            "{name}: {} in {:.1}s, {requests} requests ({:.0}/s), {} errors",
            if record.passed { "PASS" } else { "FAIL" },
            record.load_secs,
            requests as f64 / record.load_secs,
            record.total_errors()
        );
        for failed in record.assertions.iter().filter(|a| !a.passed) {
            failures.push(format!(
                "{name}: {} — expected {}, got {}: {}",
                failed.title, failed.expected, failed.actual, failed.detail
            ));
        }
        if !record.notes.is_empty() {
            failures.push(format!("{name}: notes {:?}", record.notes));
        }
        // Every scenario with faults measures recovery after each of them.
        if !record.scenario.faults.is_empty() && record.recovery.is_empty() {
            failures.push(format!("{name}: faults but no recovery figures"));
        }
        for figure in &record.recovery {
            println!(
                "  {name}: recovery after {} {:.1}–{:.1}s: errors {}, p95 {}, books {}",
                figure.window.name(),
                figure.window.start_s,
                figure.window.end_s,
                figure.errors.describe(),
                figure.p95.describe(),
                figure.books.describe()
            );
        }
    }
    let _ = std::fs::remove_dir_all(&reports);
    assert!(
        failures.is_empty(),
        "failed assertions:\n{}",
        failures.join("\n")
    );
}

/// Inventory delay on the restaurant from 1 s to 3 s under a small load, with consistency
/// checks every 2 s (so the quarter-second checks after a fault stand out).
const RECOVERY_PROBE: &str = r#"
name = "recovery-probe"
description = "Inventory delay from 1 s to 3 s under a small load"

[load]
users = 4
run_time = "6s"
think_time = "20ms..50ms"
consistency_every = "2s"
settle = "5s"

[[menus]]
key = "rice"
stock = 100000

[[faults]]
at = "1s"
service = "restaurant"
fault = "inventory_delay"
delay_ms = 300

[[faults]]
at = "3s"
service = "restaurant"
fault = "clear"

[[workflows]]
kind = "order"
menus = ["rice"]

[[assertions]]
kind = "recovered_within"
within = "5s"
measure = "books"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_after_a_fault_is_measured_with_checks_every_quarter_second() {
    let stack = start_stack().await;
    let scenario =
        scenario::parse_scenario("recovery-probe.toml", RECOVERY_PROBE).expect("the probe parses");
    let handle = start_run(stack.options(scenario));
    let record = handle.wait().await.expect("the run completes");
    assert_eq!(record.fault_windows.len(), 1, "{:?}", record.fault_windows);
    let window = &record.fault_windows[0];
    assert_eq!(window.name(), "inventory_delay restaurant");
    assert!(
        (0.9..1.5).contains(&window.start_s) && (2.9..3.5).contains(&window.end_s),
        "{window:?}"
    );
    let figure = &record.recovery[0];
    assert_eq!(figure.from_s, window.end_s);
    assert!(
        figure.books.seconds().is_some(),
        "books balanced: {:?}",
        figure.books
    );
    // Every 2 s otherwise: after the window ends the checker runs every 250 ms until the
    // books balance, so the second after the end holds several checks unless they balanced
    // at once.
    let after_end: Vec<f64> = record
        .consistency_history
        .iter()
        .map(|c| c.at_secs)
        .filter(|at| *at >= window.end_s && *at < window.end_s + 1.0)
        .collect();
    let balanced_at_once = figure.books.seconds().is_some_and(|s| s < 0.25);
    assert!(
        balanced_at_once || after_end.len() >= 2,
        "checks in the second after the end: {after_end:?}"
    );
    assert!(record.passed, "{:#?}", record.assertions);
    let summary = report::summary(&record);
    assert_eq!(summary["recovery"][0]["books"]["state"], "recovered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impossible_threshold_exits_non_zero_and_says_by_how_much() {
    let stack = start_stack().await;
    let dir = report_dir();
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("impossible.toml");
    std::fs::write(
        &file,
        r#"
name = "impossible"
description = "Orders in zero time"

[load]
users = 3
run_time = "3s"

[[menus]]
key = "rice"
stock = 1000

[[workflows]]
kind = "order"
menus = ["rice"]

[[assertions]]
kind = "no_drift"

[[assertions]]
kind = "latency"
endpoint = "POST /orders"
percentile = 50
max = "0ms"
"#,
    )
    .expect("scenario written");
    let targets = stack.targets.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_loadgen"))
            .arg("run")
            .arg(&file)
            .args(["--no-dashboard", "--report-dir"])
            .arg(file.parent().expect("parent").join("reports"))
            .args(["--user-url", &targets.user])
            .args(["--restaurant-url", &targets.restaurant])
            .args(["--order-url", &targets.order])
            .output()
            .expect("loadgen runs")
    })
    .await
    .expect("joined");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("PASS no stock drift"), "{stdout}");
    assert!(stdout.contains("FAIL POST /orders p50 < 0s"), "{stdout}");
    assert!(stdout.contains("over the bound"), "{stdout}");
    let run_dir = std::fs::read_dir(dir.join("reports").join("impossible"))
        .expect("report dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .next()
        .expect("one run");
    assert_reports_written(&run_dir);
    let junit = std::fs::read_to_string(run_dir.join("junit.xml")).expect("junit");
    assert!(
        junit.contains("failures=\"1\"") && junit.contains("over the bound"),
        "{junit}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_show_a_live_run_and_stop_ends_it_gracefully() {
    let stack = start_stack().await;
    let scenario = scenario::resolve("chaos-payment-fail").expect("scenario resolves");
    let handle = start_run(RunOptions {
        users: Some(4),
        run_time: Some(std::time::Duration::from_secs(15)),
        short: true,
        ..stack.options(scenario)
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let live = loop {
        let snapshot = handle.snapshot();
        if snapshot.total_requests > 20 && snapshot.consistency.is_some() {
            break snapshot;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no progress: {snapshot:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(live.phase, loadgen::run::Phase::Running);
    assert_eq!(live.users_planned, 4);
    assert!(live.endpoints.iter().any(|e| e.endpoint == "POST /orders"));
    assert!(live.remaining < live.run_time);
    let order_faults = live
        .faults
        .get(&loadgen::scenario::Service::Order)
        .expect("order fault state");
    assert!(order_faults.describe().contains("30"), "{order_faults:?}");
    assert!(
        live.markers
            .iter()
            .any(|m| m.description == "payment fail 30%")
    );

    handle.stop();
    let record = handle.wait().await.expect("the run completes");
    assert!(record.stopped_early);
    assert!(
        record.load_secs < 12.0,
        "stopped after {:.1}s",
        record.load_secs
    );
    let final_check = record.final_check.expect("final check");
    assert_eq!(final_check.pending(), 0);
    assert!(
        final_check.rows.iter().all(|r| r.drift == 0),
        "{:?}",
        final_check.rows
    );
}
