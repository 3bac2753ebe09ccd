//! `loadgen compare` on real runs: three short open-loop runs against the services started
//! in-process (a baseline, an equal run, and a run slowed by the Restaurant Service's delay
//! switch), saved as report directories; the gate passes the equal run and fails the slow
//! one, with the thresholds from the scenario's `[compare]` section.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use loadgen::report;
use loadgen::run::start_run;
use loadgen::scenario::parse_scenario;
use testkit::unique;

use crate::stack::{Stack, start_stack};

const SCENARIO: &str = r#"
name = "compare-gate"
description = "Menu listings at a fixed rate, for the regression gate"

[load]
users = 2
run_time = "4s"
rate = 25

[[workflows]]
kind = "browse_menus"

[[assertions]]
kind = "min_requests"
min = 1

[compare]
p50_regression = "50%"
p99_regression = "50%"
min_samples = 40
min_change = "50ms"
"#;

/// The same load with every Restaurant Service call delayed 300 ms.
const SLOWED: &str = r#"
[[faults]]
at = "0s"
service = "restaurant"
fault = "delay"
delay_ms = 300
"#;

async fn saved_run(stack: &Stack, text: &str, reports: &Path) -> PathBuf {
    let scenario = parse_scenario("compare-gate.toml", text).expect("parses");
    let record = start_run(stack.options(scenario))
        .wait()
        .await
        .expect("the run completes");
    // 100 iterations are scheduled; a loaded machine drops some (counted as `dropped`).
    // The gate needs `min_samples` (40) to judge p50, with room to spare.
    assert!(record.total_requests() >= 50, "{}", record.total_requests());
    report::write_reports(&record, reports).expect("reports are written")
}

async fn compare(baseline: &Path, run: &Path) -> Output {
    let (baseline, run) = (baseline.to_path_buf(), run.to_path_buf());
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_loadgen"))
            .arg("compare")
            .arg(&baseline)
            .arg(&run)
            .output()
            .expect("loadgen runs")
    })
    .await
    .expect("joined")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_gate_passes_an_equal_run_and_fails_a_slowed_one() {
    let stack = start_stack().await;
    let reports = std::env::temp_dir().join(unique("loadgen-compare"));
    let baseline = saved_run(&stack, SCENARIO, &reports).await;
    let equal = saved_run(&stack, SCENARIO, &reports).await;
    let slowed = saved_run(&stack, &format!("{SCENARIO}{SLOWED}"), &reports).await;

    let same = compare(&baseline, &equal).await;
    let stdout = String::from_utf8_lossy(&same.stdout);
    println!("{stdout}");
    assert_eq!(
        same.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&same.stderr)
    );
    assert!(
        stdout.contains("PASSED") && !stdout.contains("REGRESSION"),
        "{stdout}"
    );
    // ~100 requests cannot measure a p99 (5 beyond it needs 500): not judged.
    assert!(stdout.contains("too few samples"), "{stdout}");

    let slow = compare(&baseline, &slowed).await;
    let stdout = String::from_utf8_lossy(&slow.stdout);
    println!("{stdout}");
    assert_eq!(
        slow.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&slow.stderr)
    );
    let p50 = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("p50"))
        .expect("a p50 line");
    assert!(
        p50.contains("REGRESSION") && p50.contains("(limit 50%)"),
        "{stdout}"
    );
    assert!(stdout.contains("FAILED"), "{stdout}");
    let html = std::fs::read_to_string(slowed.join("compare.html")).expect("the HTML diff");
    assert!(
        html.contains("class=\"badge fail\"") && html.contains("class=\"bad\""),
        "{html}"
    );
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(slowed.join("compare.json")).expect("compare.json"),
    )
    .expect("JSON");
    assert_eq!(json["passed"], serde_json::json!(false));
    let _ = std::fs::remove_dir_all(&reports);
}
