//! The command-line conventions a k6/goose user expects, checked on the built `loadgen`
//! binary: `--version`, help on every flag, short flags and environment variables for
//! users/run time/rate/report directory, `--out`, `--json` for `list` and `run`, `validate`
//! by name or path, `list` failing on a broken file, and scenarios without assertions
//! refused. Most need no network; the two runs use the real services in-process.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use testkit::unique;

use crate::stack::start_stack;

/// A scenario small enough to run in a few seconds, that passes on a healthy stack.
const TINY: &str = r#"
name = "tiny"
description = "A tiny order flow for the CLI tests"

[load]
users = 1
run_time = "10s"
think_time = "10ms..20ms"

[[menus]]
key = "rice"
stock = 100000

[[workflows]]
kind = "order"
menus = ["rice"]

[[assertions]]
kind = "no_drift"
"#;

/// A fresh scenarios directory holding `files` (name → text).
fn scenarios_dir(files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(unique("loadgen-cli"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("scenario written");
    }
    dir
}

/// `loadgen` with a clean environment for its own variables and `dir` as scenarios dir.
fn loadgen(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loadgen"));
    for var in [
        "LOADGEN_USERS",
        "LOADGEN_RUN_TIME",
        "LOADGEN_RATE",
        "LOADGEN_REPORT_DIR",
        "LOADGEN_OUT",
        "LOADGEN_SHORT",
        "LOADGEN_GATEWAY",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("LOADGEN_SCENARIOS", dir);
    cmd
}

fn run(cmd: &mut Command) -> (Option<i32>, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("loadgen runs");
    (
        status.code(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn without_assertions() -> String {
    TINY.split("[[assertions]]")
        .next()
        .expect("TINY has a head")
        .to_string()
}

#[test]
fn version_is_printed() {
    let dir = scenarios_dir(&[]);
    let (code, stdout, _) = run(loadgen(&dir).arg("--version"));
    assert_eq!(code, Some(0));
    assert_eq!(
        stdout.trim(),
        format!("loadgen {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_shows_short_flags_their_variables_and_the_scenarios_directory() {
    let dir = scenarios_dir(&[]);
    let (code, top, _) = run(loadgen(&dir).arg("--help"));
    assert_eq!(code, Some(0));
    assert!(top.contains("LOADGEN_SCENARIOS"), "{top}");
    let (code, help, _) = run(loadgen(&dir).args(["run", "--help"]));
    assert_eq!(code, Some(0));
    // Help is wrapped at the terminal width: compare with the line breaks taken out.
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "-u, --users",
        "-t, --run-time",
        "-r, --rate",
        "-o, --out <DIR>",
        "--scenarios <DIR>",
        "--json",
        "env: LOADGEN_USERS",
        "env: LOADGEN_RUN_TIME",
        "env: LOADGEN_RATE",
        "env: LOADGEN_REPORT_DIR",
        "env: USER_URL",
        "env: LOADGEN_GATEWAY",
    ] {
        assert!(
            help.contains(expected),
            "`{expected}` missing from:\n{help}"
        );
    }
}

#[test]
fn validate_takes_a_name_or_a_path() {
    let dir = scenarios_dir(&[("tiny.toml", TINY)]);
    let (code, stdout, stderr) = run(loadgen(&dir).args(["validate", "tiny"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("ok — tiny"), "{stdout}");
    let (code, stdout, stderr) = run(loadgen(&dir).args(["validate", "cache-effect"]));
    assert_eq!(code, Some(0), "a built-in by name: {stderr}");
    assert!(stdout.contains("ok — cache-effect"), "{stdout}");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/full-chaos.toml");
    let (code, stdout, stderr) = run(loadgen(&dir).arg("validate").arg(&path));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("ok — full-chaos"), "{stdout}");
    let (code, _, stderr) = run(loadgen(&dir).args(["validate", "no-such-scenario"]));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("no scenario named"), "{stderr}");
}

#[test]
fn a_scenario_without_assertions_is_refused_by_validate_and_run() {
    let dir = scenarios_dir(&[("bare.toml", &without_assertions())]);
    let (code, _, stderr) = run(loadgen(&dir).args(["validate", "bare"]));
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("bare.toml") && stderr.contains("no [[assertions]]"),
        "{stderr}"
    );
    // Refused before any connection is tried: the URLs point nowhere.
    let (code, stdout, stderr) = run(loadgen(&dir).args([
        "run",
        "bare",
        "--no-dashboard",
        "--user-url",
        "http://127.0.0.1:9",
    ]));
    assert_eq!(code, Some(2), "{stdout}");
    assert!(stderr.contains("neither pass nor fail"), "{stderr}");
    assert!(!stdout.contains("starting"), "{stdout}");
}

#[test]
fn list_fails_and_names_the_file_when_a_scenario_is_broken() {
    let good = scenarios_dir(&[("tiny.toml", TINY)]);
    let (code, stdout, stderr) = run(loadgen(&good).arg("list"));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("tiny") && stdout.contains("cache-effect"));

    let broken = TINY.replace("users = 1", "users = \"one\"");
    let bad = scenarios_dir(&[("tiny.toml", TINY), ("broken.toml", &broken)]);
    let (code, stdout, stderr) = run(loadgen(&bad).arg("list"));
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("tiny"),
        "the good ones are still listed: {stdout}"
    );
    assert!(
        stderr.contains("broken.toml:6") && stderr.contains("1 scenario file(s)"),
        "{stderr}"
    );
}

#[test]
fn list_json_is_one_array_with_errors_marked() {
    let broken = TINY.replace("users = 1", "users = \"one\"");
    let dir = scenarios_dir(&[("broken.toml", &broken)]);
    let (code, stdout, _) = run(loadgen(&dir).args(["list", "--json"]));
    assert_eq!(code, Some(1));
    let items: Vec<Value> = serde_json::from_str(&stdout).expect("stdout is one JSON array");
    assert_eq!(items.len(), 14, "13 built in + 1: {stdout}");
    let chaos = items
        .iter()
        .find(|i| i["name"] == "full-chaos")
        .expect("full-chaos listed");
    assert!(chaos["assertions"].as_u64().unwrap_or(0) > 0, "{chaos}");
    assert!(chaos["description"].as_str().is_some_and(|d| !d.is_empty()));
    let bad = items
        .iter()
        .find(|i| i["name"] == "broken")
        .expect("broken listed");
    assert!(
        bad["error"]
            .as_str()
            .is_some_and(|e| e.contains("broken.toml")),
        "{bad}"
    );
}

/// Runs `loadgen` on a blocking thread (the services run on this test's runtime).
async fn run_blocking(mut cmd: Command) -> (Option<i32>, String, String) {
    tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .expect("joined")
}

fn run_json(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("run.json")).expect("run.json");
    serde_json::from_str(&text).expect("run.json is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_flags_out_and_json_drive_a_run() {
    let stack = start_stack().await;
    let dir = scenarios_dir(&[("tiny.toml", TINY)]);
    let out = dir.join("exactly-here");
    let mut cmd = loadgen(&dir);
    cmd.args(["run", "tiny", "-u", "2", "-t", "2s", "--json", "-o"])
        .arg(&out)
        .args(["--user-url", &stack.targets.user])
        .args(["--restaurant-url", &stack.targets.restaurant])
        .args(["--order-url", &stack.targets.order]);
    let (code, stdout, stderr) = run_blocking(cmd).await;
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let summary: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not only the JSON summary ({e}):\n{stdout}"));
    assert_eq!(summary["passed"], true, "{summary}");
    assert_eq!(summary["users"], 2, "{summary}");
    assert_eq!(summary["report_dir"], out.display().to_string());
    assert!(summary["requests"].as_u64().unwrap_or(0) > 0, "{summary}");
    for file in ["index.html", "summary.json", "junit.xml", "run.json"] {
        assert!(out.join(file).is_file(), "{file} not directly in --out");
    }
    assert_eq!(run_json(&out)["config"]["run_time"]["secs"], 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_run_time_rate_report_dir_and_targets_come_from_the_environment() {
    let stack = start_stack().await;
    let dir = scenarios_dir(&[("tiny.toml", TINY)]);
    let reports = dir.join("reports");
    let mut cmd = loadgen(&dir);
    cmd.args(["run", "tiny", "--json"])
        .env("LOADGEN_USERS", "3")
        .env("LOADGEN_RUN_TIME", "2s")
        .env("LOADGEN_RATE", "4")
        .env("LOADGEN_REPORT_DIR", &reports)
        .env("USER_URL", &stack.targets.user)
        .env("RESTAURANT_URL", &stack.targets.restaurant)
        .env("ORDER_URL", &stack.targets.order);
    let (code, stdout, stderr) = run_blocking(cmd).await;
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let summary: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not only the JSON summary ({e}):\n{stdout}"));
    let report_dir = PathBuf::from(summary["report_dir"].as_str().expect("report_dir"));
    assert!(
        report_dir.starts_with(reports.join("tiny")),
        "{}",
        report_dir.display()
    );
    let record = run_json(&report_dir);
    assert_eq!(record["config"]["users"], 3);
    assert_eq!(record["config"]["run_time"]["secs"], 2);
    assert_eq!(
        record["config"]["mode"]["rate"], 4.0,
        "{}",
        record["config"]
    );
    assert_eq!(record["config"]["targets"]["order"], stack.targets.order);
    let _ = std::fs::remove_dir_all(&dir);
}
