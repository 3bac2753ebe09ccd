//! Scenario faults beyond the switches (issue 13), driven by loadgen against real stacks:
//! - preflight: a scenario that needs what the running stack cannot give (a link it lacks,
//!   no control API, no fault proxy, another stack's proxy) exits 2 with the reason before
//!   any load starts (no menu created, no report written);
//! - a partition and a latency toxic on the in-process stack's links, beside a switch: each
//!   is on for its window, recorded in `fault_windows`, cleared afterwards, and the books
//!   balance;
//! - a kill, pauses (one with a duration, one ended by a `resume` step) and a restart through
//!   `testbed up --processes --fault-proxy`: the killed service is started again, the paused
//!   ones resumed, every window recorded, the books balance.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use loadgen::api::Targets;
use loadgen::chaos_driver::{ChaosDriver, ChaosTargets};
use loadgen::fault_window::FaultWindow;
use loadgen::run::{RunOptions, RunRecord, start_run};
use loadgen::scenario::parse_scenario;
use serde_json::Value;
use testkit::{TempDir, free_port};

use crate::stacks::{Launcher, proxied_stack};

fn targets_of(user: &str, restaurant: &str, order: &str) -> Targets {
    Targets {
        user: user.into(),
        restaurant: restaurant.into(),
        order: order.into(),
        gateway: None,
    }
}

/// `testbed loadgen run <scenario> --short` against `targets`: its output.
fn loadgen_run(scenario: &str, targets: &Targets, chaos: &ChaosTargets, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_testbed"))
        .args(["loadgen", "run", scenario, "--short", "--no-dashboard"])
        .arg(format!("--user-url={}", targets.user))
        .arg(format!("--restaurant-url={}", targets.restaurant))
        .arg(format!("--order-url={}", targets.order))
        .arg(format!("--control-url={}", chaos.control_url))
        .arg(format!("--fault-proxy-url={}", chaos.proxy_url))
        .arg("--out")
        .arg(out)
        .env_remove("ADMIN_TOKEN")
        .env_remove("LOADGEN_SCENARIOS")
        .output()
        .expect("loadgen runs")
}

/// Exit 2, `words` in the message, no report and no menu of the scenario created.
async fn refused_before_load(
    output: &Output,
    scenario: &str,
    restaurant_url: &str,
    out: &Path,
    words: &[&str],
) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{scenario}: {stderr}");
    for word in words {
        assert!(
            stderr.contains(word),
            "{scenario}: should say {word:?}: {stderr}"
        );
    }
    assert!(!out.join("run.json").exists(), "{scenario}: no report");
    let menus: Value = reqwest::get(format!("{restaurant_url}/menus"))
        .await
        .expect("menus answer")
        .json()
        .await
        .expect("menus JSON");
    assert!(
        !menus.to_string().contains(&format!("[{scenario} ")),
        "{scenario}: no menu created before the refusal: {menus}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_refuses_what_the_stack_cannot_give() {
    let dir = TempDir::new("chaos-preflight");
    let stack = proxied_stack(&dir).await;
    let api_url = stack.fault_links().expect("fault proxy").api_url();
    let targets = targets_of(&stack.user_url, &stack.restaurant_url, &stack.order_url);
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let out = dir.0.join("reports");

    // A link the embedded stack does not have.
    let chaos = ChaosTargets {
        control_url: nobody.clone(),
        proxy_url: api_url.clone(),
    };
    let output = loadgen_run("db-brownout", &targets, &chaos, &out);
    refused_before_load(
        &output,
        "db-brownout",
        &stack.restaurant_url,
        &out,
        &["restaurant->postgres", "does not have", "real servers"],
    )
    .await;

    // No control API: the stack runs in one process.
    let output = loadgen_run("order-crash", &targets, &chaos, &out);
    refused_before_load(
        &output,
        "order-crash",
        &stack.restaurant_url,
        &out,
        &["control API", &nobody, "testbed up --processes"],
    )
    .await;

    // No fault proxy at all.
    let no_proxy = ChaosTargets {
        control_url: nobody.clone(),
        proxy_url: nobody.clone(),
    };
    let output = loadgen_run("partition", &targets, &no_proxy, &out);
    refused_before_load(
        &output,
        "partition",
        &stack.restaurant_url,
        &out,
        &["fault proxy", "--fault-proxy"],
    )
    .await;

    // A fault proxy, but in front of another stack than the one the run targets.
    let other_dir = TempDir::new("chaos-preflight-other");
    let mut other = testbed::StackConfig::embedded(other_dir.0.clone());
    (other.user_port, other.restaurant_port, other.order_port) = (0, 0, 0);
    let other = testbed::Stack::start(&other).await.expect("second stack");
    let elsewhere = targets_of(&other.user_url, &other.restaurant_url, &other.order_url);
    let output = loadgen_run("partition", &elsewhere, &chaos, &out);
    refused_before_load(
        &output,
        "partition",
        &other.restaurant_url,
        &out,
        &["another stack", "loadgen->order"],
    )
    .await;
    other.stop().await.expect("clean stop");
    stack.stop().await.expect("clean stop");
}

/// Runs `toml` in full (not short) mode and waits for its record.
async fn run_scenario(toml: &str, targets: Targets, chaos: ChaosTargets) -> RunRecord {
    let scenario = parse_scenario("test.toml", toml).unwrap_or_else(|e| panic!("{e}"));
    start_run(RunOptions {
        scenario,
        users: None,
        run_time: None,
        rate: None,
        short: false,
        targets,
        admin_token: None,
        seed: 1,
        progress: false,
        max_in_flight: None,
        chaos,
    })
    .wait()
    .await
    .expect("the run completes")
}

fn window<'a>(record: &'a RunRecord, kind: &str, target: &str) -> &'a FaultWindow {
    record
        .fault_windows
        .iter()
        .find(|w| w.kind == kind && w.target == target)
        .unwrap_or_else(|| panic!("no {kind} window on {target}: {:?}", record.fault_windows))
}

/// Started within 0.6 s after `start`, lasted `duration` within 0.6 s.
fn assert_window(window: &FaultWindow, start: f64, duration: f64) {
    assert!(
        window.start_s >= start - 0.05 && window.start_s <= start + 0.6,
        "{window:?} starts near {start}"
    );
    assert!(
        (window.duration_s() - duration).abs() <= 0.6,
        "{window:?} lasts about {duration}s"
    );
}

fn assert_passed(record: &RunRecord) {
    let failed: Vec<String> = record
        .assertions
        .iter()
        .filter(|a| !a.passed)
        .map(|a| format!("{}: {} ({})", a.title, a.actual, a.detail))
        .collect();
    assert!(
        record.passed,
        "failed: {failed:?}; notes {:?}",
        record.notes
    );
}

const LINK_FAULTS: &str = r#"
name = "links-under-load"
description = "a partition and a latency toxic beside a switch"

[load]
users = 4
run_time = "7s"
think_time = "20ms..60ms"
settle = "15s"

[[menus]]
key = "gimbap"
stock = 100000

[[faults]]
at = "0s"
service = "restaurant"
fault = "inventory_delay"
delay_ms = 20

[[faults]]
at = "5s"
service = "restaurant"
fault = "clear"

[[faults]]
at = "1s"
fault = "partition"
link = "order->restaurant"
duration = "2s"

[[faults]]
at = "4s"
fault = "link"
link = "order->user"
toxic = "latency"
stream = "both"
attributes = { latency = 100 }
duration = "1s"

[[workflows]]
kind = "order"
menus = ["gimbap"]

[[assertions]]
kind = "no_drift"

[[assertions]]
kind = "none_pending"

[[assertions]]
kind = "client_agrees"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn link_faults_are_applied_for_their_window_and_cleared() {
    let dir = TempDir::new("chaos-links");
    let stack = proxied_stack(&dir).await;
    let api_url = stack.fault_links().expect("fault proxy").api_url();
    let targets = targets_of(&stack.user_url, &stack.restaurant_url, &stack.order_url);
    let chaos = ChaosTargets {
        control_url: format!("http://127.0.0.1:{}", free_port()),
        proxy_url: api_url.clone(),
    };
    let record = run_scenario(LINK_FAULTS, targets, chaos.clone()).await;
    eprintln!("fault windows: {:#?}", record.fault_windows);
    assert_passed(&record);
    assert_window(window(&record, "partition", "order->restaurant"), 1.0, 2.0);
    assert_window(window(&record, "link", "order->user"), 4.0, 1.0);
    let switch = window(&record, "inventory_delay", "restaurant");
    assert_eq!(switch.start_s, 0.0);
    assert!((switch.end_s - 5.0).abs() < 0.6, "{switch:?}");
    assert_eq!(record.fault_windows.len(), 3, "{:?}", record.fault_windows);
    // While the partition was on, orders failed; the markers say what was set.
    let described: Vec<&str> = record
        .markers
        .iter()
        .map(|m| m.description.as_str())
        .collect();
    assert!(
        described.contains(&"partition order->restaurant for 2s"),
        "{described:?}"
    );
    assert!(record.tally.order_errors > 0, "{:?}", record.tally);
    // Cleared: every link up, no toxic left.
    let links = ChaosDriver::new(chaos, None)
        .expect("driver")
        .links()
        .await
        .expect("links");
    assert!(links.values().all(|l| l.enabled), "{links:?}");
    let proxies: Value = reqwest::get(format!("{api_url}/proxies"))
        .await
        .expect("proxies")
        .json()
        .await
        .expect("JSON");
    for (name, proxy) in proxies.as_object().expect("object") {
        assert_eq!(proxy["toxics"], Value::Array(vec![]), "{name}: {proxy}");
    }
    // run.json keeps the windows.
    let json = serde_json::to_string(&record).expect("serialises");
    let back: RunRecord = serde_json::from_str(&json).expect("reads back");
    // serde_json parses floats fast rather than exactly (no `float_roundtrip`): a second
    // may come back a few ulps off, which no reader of run.json can see at µs.
    assert_eq!(back.fault_windows.len(), record.fault_windows.len());
    for (read, kept) in back.fault_windows.iter().zip(&record.fault_windows) {
        assert_eq!(
            (&read.kind, &read.target, &read.label),
            (&kept.kind, &kept.target, &kept.label)
        );
        assert!(
            (read.start_s - kept.start_s).abs() < 1e-6,
            "{read:?} vs {kept:?}"
        );
        assert!(
            (read.end_s - kept.end_s).abs() < 1e-6,
            "{read:?} vs {kept:?}"
        );
    }
    stack.stop().await.expect("clean stop");
}

const PROCESS_FAULTS: &str = r#"
name = "processes-under-load"
description = "a kill, two pauses and a restart"

[load]
users = 4
run_time = "9s"
think_time = "20ms..60ms"
request_timeout = "5s"
settle = "15s"

[[menus]]
key = "gimbap"
stock = 100000

[[faults]]
at = "1s"
fault = "kill"
service = "order"
duration = "1500ms"

[[faults]]
at = "5s"
fault = "pause"
service = "restaurant"
duration = "1s"

[[faults]]
at = "3s"
fault = "pause"
service = "user"

[[faults]]
at = "3500ms"
fault = "resume"
service = "user"

[[faults]]
at = "7s"
fault = "restart"
service = "user"

[[workflows]]
kind = "order"
menus = ["gimbap"]

[[assertions]]
kind = "no_drift"

[[assertions]]
kind = "none_pending"

[[assertions]]
kind = "client_agrees"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn process_faults_kill_and_pause_then_bring_the_service_back() {
    let mut launcher = Launcher::start("chaos-processes", None);
    launcher.wait_ready().await;
    let chaos = ChaosTargets {
        control_url: launcher.control.clone(),
        proxy_url: launcher.proxy_api.clone(),
    };
    let driver = ChaosDriver::new(chaos.clone(), None).expect("driver");
    let deadline = Instant::now() + Duration::from_secs(90);
    while driver.processes().await.is_err() {
        assert!(Instant::now() < deadline, "no control API in 90 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let targets = targets_of(&launcher.user, &launcher.restaurant, &launcher.order);
    let record = run_scenario(PROCESS_FAULTS, targets, chaos).await;
    eprintln!(
        "fault windows: {:#?}\ntally: {:?}",
        record.fault_windows, record.tally
    );
    assert_passed(&record);
    assert_window(window(&record, "kill", "order"), 1.0, 1.5);
    assert_window(window(&record, "pause", "restaurant"), 5.0, 1.0);
    assert_window(window(&record, "pause", "user"), 3.0, 0.5);
    let restart = window(&record, "restart", "user");
    assert!(
        (7.0..7.6).contains(&restart.start_s) && restart.duration_s() < 5.0,
        "{restart:?}"
    );
    assert_eq!(
        record.fault_windows.len(),
        4,
        "no window for the resume step"
    );
    let processes = driver.processes().await.expect("process list");
    for process in &processes {
        assert_eq!(process.state, "running", "{processes:?}");
    }
    let order = processes
        .iter()
        .find(|p| p.service == "order")
        .expect("order");
    assert_eq!(
        order.restarts, 1,
        "started again once after the kill: {order:?}"
    );
    let restaurant = processes
        .iter()
        .find(|p| p.service == "restaurant")
        .expect("restaurant");
    assert_eq!(
        restaurant.restarts, 0,
        "a pause is not a restart: {restaurant:?}"
    );
    let user = processes
        .iter()
        .find(|p| p.service == "user")
        .expect("user");
    assert_eq!(user.restarts, 1, "restarted once: {user:?}");
}
