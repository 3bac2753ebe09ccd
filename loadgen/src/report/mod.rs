//! Run reports: the directory `<report-dir>/<scenario>/<timestamp>/` with a self-contained
//! `index.html` (inline SVG, no network), `summary.json` and `junit.xml` for CI,
//! `run.json`, the saved run that `loadgen report` renders again, and `histograms.hlog`,
//! the raw latency histograms that `loadgen merge` adds up (see [`crate::hlog`]).

mod html;
mod svg;

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Value, json};

use crate::hlog;
use crate::run::RunRecord;

pub(crate) use html::page;
pub use html::render_html;

/// Writes the report files for `record` under `report_dir`; returns the run's directory.
pub fn write_reports(record: &RunRecord, report_dir: &Path) -> anyhow::Result<PathBuf> {
    let dir = new_report_dir(&report_dir.join(&record.scenario.name), &record.started_at)?;
    write_into(record, &dir)?;
    Ok(dir)
}

/// Creates a new directory `<base>/<timestamp>` (`-2`, `-3`, … when it exists), named after
/// `started_at` (RFC 3339; now if unreadable).
pub fn new_report_dir(base: &Path, started_at: &str) -> anyhow::Result<PathBuf> {
    let stamp = chrono::DateTime::parse_from_rfc3339(started_at)
        .map(|t| t.format("%Y%m%d-%H%M%S").to_string())
        .unwrap_or_else(|_| chrono::Local::now().format("%Y%m%d-%H%M%S").to_string());
    let mut dir = base.join(&stamp);
    let mut suffix = 2;
    while dir.exists() {
        dir = base.join(format!("{stamp}-{suffix}"));
        suffix += 1;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Writes the four files into an existing directory, and `histograms.hlog` when the record
/// carries its raw histograms (a record read back from run.json does not: its log stays).
pub fn write_into(record: &RunRecord, dir: &Path) -> anyhow::Result<()> {
    if let Some(histograms) = &record.histograms {
        let about = format!(
            "scenario {}, run {}, started {}",
            record.scenario.name, record.config.run_tag, record.started_at
        );
        hlog::write_file(
            histograms,
            record.load_secs,
            &about,
            &dir.join(hlog::FILE_NAME),
        )?;
    }
    let write = |name: &str, contents: String| {
        let path = dir.join(name);
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))
    };
    write("run.json", serde_json::to_string_pretty(record)?)?;
    write(
        "summary.json",
        serde_json::to_string_pretty(&summary(record))?,
    )?;
    write("junit.xml", junit(record))?;
    write("index.html", render_html(record))?;
    Ok(())
}

/// Reads a saved `run.json`.
pub fn load_record(path: &Path) -> anyhow::Result<RunRecord> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a saved run", path.display()))
}

fn ms(micros: u64) -> f64 {
    (micros as f64 / 10.0).round() / 100.0
}

/// The machine-readable summary.
pub fn summary(record: &RunRecord) -> Value {
    let requests = record.total_requests();
    let endpoints: Vec<Value> = record
        .endpoints
        .iter()
        .map(|e| {
            json!({
                "endpoint": e.endpoint,
                "requests": e.requests,
                "errors": e.errors,
                "statuses": e.statuses,
                "latency_ms": {
                    "p50": ms(e.latency.p50), "p90": ms(e.latency.p90), "p95": ms(e.latency.p95),
                    "p99": ms(e.latency.p99), "p99_9": ms(e.latency.p999), "max": ms(e.latency.max),
                    "mean": (e.latency.mean / 10.0).round() / 100.0,
                },
                "cache_hit_p50_ms": e.cache_hits.as_ref().map(|h| ms(h.p50)),
                "cache_miss_p50_ms": e.cache_misses.as_ref().map(|h| ms(h.p50)),
            })
        })
        .collect();
    json!({
        "scenario": record.scenario.name,
        "passed": record.passed,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "load_secs": record.load_secs,
        "stopped_early": record.stopped_early,
        "mode": record.config.mode,
        "users": record.config.users,
        "short": record.config.short,
        "requests": requests,
        "errors": record.total_errors(),
        "requests_per_second": if record.load_secs > 0.0 { requests as f64 / record.load_secs } else { 0.0 },
        "endpoints": endpoints,
        "orders": record.tally,
        "iterations": record.iterations,
        "dropped_iterations": record.iterations.dropped,
        "consistency": record.final_check,
        "assertions": record.assertions,
        "notes": record.notes,
        "load_started_at": record.load_started_at,
        "merged_from": record.merged_from,
        "fault_windows": record.fault_windows,
        "recovery": record.recovery,
    })
}

/// JUnit XML (through quick-junit, which strips control characters and ANSI escapes): one
/// test suite per run, one test case per assertion. Every assertion judges the whole load
/// phase, so each case's time is the load time.
pub fn junit(record: &RunRecord) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let load_time = std::time::Duration::from_secs_f64(record.load_secs.max(0.0));
    let suite_name = format!("loadgen.{}", record.scenario.name);
    let mut suite = TestSuite::new(suite_name.as_str());
    suite.set_time(load_time);
    if let Ok(started) = chrono::DateTime::parse_from_rfc3339(&record.started_at) {
        suite.set_timestamp(started);
    }
    let i = &record.iterations;
    for (name, value) in [
        ("scheduled_iterations", i.scheduled),
        ("dropped_iterations", i.dropped),
        ("max_in_flight", i.max_in_flight),
    ] {
        suite.add_property(quick_junit::Property::new(name, value.to_string()));
    }
    for assertion in &record.assertions {
        let status = if assertion.passed {
            TestCaseStatus::success()
        } else {
            let mut failure = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let message = format!(
                "expected {}, got {}: {}",
                assertion.expected, assertion.actual, assertion.detail
            );
            failure
                .set_type("assertion")
                .set_description(message.as_str())
                .set_message(message);
            failure
        };
        let name = format!("{} (line {})", assertion.title, assertion.line);
        let mut case = TestCase::new(name, status);
        case.set_classname(suite_name.as_str()).set_time(load_time);
        suite.add_test_case(case);
    }
    let mut report = Report::new("loadgen");
    report.set_time(load_time).add_test_suite(suite);
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- junit serialization failed: {e} -->\n"))
}

#[cfg(test)]
pub(crate) mod fixture;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_has_one_case_per_assertion_and_the_failure_text() {
        let record = fixture::fixed_run();
        let xml = junit(&record);
        assert!(xml.contains("tests=\"3\" failures=\"1\""), "{xml}");
        assert!(
            xml.contains("name=\"no stock drift (line 40)\"")
                && xml.contains("classname=\"loadgen.chaos-payment-fail\""),
            "{xml}"
        );
        assert!(
            xml.contains("p95 = 90.0ms: 40.0ms over the bound (80% above)"),
            "{xml}"
        );
        let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit XML");
        let cases = &parsed.test_suites[0].test_cases;
        assert_eq!(cases.len(), 3);
        let load_time = std::time::Duration::from_secs_f64(record.load_secs);
        for case in cases {
            let time = case.time.expect("every case has a time");
            assert!(time.abs_diff(load_time).as_millis() <= 1, "{time:?}");
        }
    }

    #[test]
    fn junit_strips_control_characters() {
        let mut record = fixture::fixed_run();
        record.assertions[2].detail = "\u{1b}[31mred\u{1b}[0m bell\u{7} nul\u{0} end".into();
        let xml = junit(&record);
        assert!(
            !xml.chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')),
            "{xml:?}"
        );
        assert!(xml.contains("red bell nul end"), "{xml}");
        quick_junit::Report::deserialize_from_str(&xml).expect("still valid XML");
    }

    #[test]
    fn summary_carries_the_verdict_and_percentiles() {
        let summary = summary(&fixture::fixed_run());
        assert_eq!(summary["passed"], json!(false));
        assert_eq!(summary["requests"], json!(1500));
        assert_eq!(summary["endpoints"][0]["latency_ms"]["p95"], json!(90.0));
        assert_eq!(summary["assertions"][2]["passed"], json!(false));
        let figure = &summary["recovery"][0];
        assert_eq!(figure["window"]["kind"], json!("payment_fail"));
        assert_eq!(figure["from_s"], json!(10.0));
        assert_eq!(figure["errors"]["state"], json!("not_measured"));
        assert_eq!(figure["books"]["state"], json!("recovered"));
        let books = figure["books"]["after_s"].as_f64().expect("a number");
        assert!((books - 0.412).abs() < 1e-9, "{books}");
        assert_eq!(summary["fault_windows"][0]["end_s"], json!(10.0));
    }

    #[test]
    fn reports_are_written_and_a_saved_run_renders_again() {
        let record = fixture::fixed_run();
        let dir =
            std::env::temp_dir().join(format!("loadgen-report-{}", uuid::Uuid::new_v4().simple()));
        let run_dir = write_reports(&record, &dir).expect("written");
        for file in ["index.html", "summary.json", "junit.xml", "run.json"] {
            assert!(run_dir.join(file).is_file(), "{file}");
        }
        assert!(run_dir.starts_with(dir.join("chaos-payment-fail")));
        let reloaded = load_record(&run_dir.join("run.json")).expect("reloads");
        assert_eq!(reloaded, record);
        assert_eq!(render_html(&reloaded), render_html(&record));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn open_loop_iterations_reach_html_summary_and_junit() {
        let mut record = fixture::fixed_run();
        assert!(
            !render_html(&record).contains("id=\"iterations\""),
            "closed loop"
        );
        record.iterations = crate::assertions::IterationStats {
            scheduled: 500,
            dropped: 37,
            peak_in_flight: 20,
            max_in_flight: 20,
        };
        let html = render_html(&record);
        assert!(
            html.contains("500 scheduled") && html.contains("37 dropped</span> (7.4%"),
            "{html}"
        );
        assert_eq!(summary(&record)["dropped_iterations"], json!(37));
        assert_eq!(summary(&record)["iterations"]["peak_in_flight"], json!(20));
        let xml = junit(&record);
        assert!(
            xml.contains("<property name=\"dropped_iterations\" value=\"37\"/>"),
            "{xml}"
        );
    }
}
