//! `loadgen merge`: several runs of one scenario (load processes run at once, on one
//! machine or several) combined into one record, rendered by the same report code as a
//! single run. Latency comes from the runs' raw histograms (`histograms.hlog`) added
//! together, never from averaging percentiles; counts and client tallies are sums; the
//! timelines are lined up by the wall-clock second each load started; the scenario's
//! assertions are evaluated again on the merged data, and each run's own verdict is listed
//! beside it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::assertions::{self, Evidence, IterationStats};
use crate::consistency::ConsistencyCheck;
use crate::fault_window::FaultWindow;
use crate::hlog::{self, RunHistograms};
use crate::recorder::{EndpointData, Merged};
use crate::report;
use crate::record::{LoadMode, RunConfig, RunRecord, SourceRun};
use crate::workflow::TallySnapshot;

/// Runs further apart than this are not one load test.
const MAX_SPREAD: Duration = Duration::from_secs(7 * 24 * 3600);

/// One saved run: its record and its raw histograms.
pub struct LoadedRun {
    pub dir: PathBuf,
    pub record: RunRecord,
    pub histograms: RunHistograms,
}

/// Reads a run: a run directory (`run.json` and `histograms.hlog`) or its `run.json`.
pub fn load_run(path: &Path) -> anyhow::Result<LoadedRun> {
    if !path.exists() {
        bail!("{} does not exist", path.display());
    }
    let (dir, run_json) = if path.is_dir() {
        (path.to_path_buf(), path.join("run.json"))
    } else {
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        (dir, path.to_path_buf())
    };
    if !run_json.is_file() {
        bail!(
            "{} has no run.json: give the directory of one run, <report-dir>/<scenario>/<timestamp>/",
            dir.display()
        );
    }
    let record = report::load_record(&run_json)?;
    let log = dir.join(hlog::FILE_NAME);
    if !log.is_file() {
        bail!(
            "{} has no {}: the run was made by a loadgen that did not write histogram logs, and \
             its percentiles cannot be merged (averaging them would be wrong)",
            dir.display(),
            hlog::FILE_NAME
        );
    }
    let histograms = hlog::read_file(&log)?;
    if let Some(at) = &record.load_started_at {
        let from_record = chrono::DateTime::parse_from_rfc3339(at)
            .with_context(|| format!("{}: load_started_at \"{at}\"", run_json.display()))?;
        let from_log = chrono::DateTime::<chrono::Utc>::from(histograms.load_started);
        if (from_record.timestamp_millis() - from_log.timestamp_millis()).abs() > 1 {
            bail!(
                "{}: run.json says the load started at {at}, {} says {}: the files are not of the same run",
                dir.display(),
                hlog::FILE_NAME,
                hlog::rfc3339(histograms.load_started)
            );
        }
    }
    Ok(LoadedRun {
        dir,
        record,
        histograms,
    })
}

/// A run as a recorder view whose second 0 is `offset` seconds into the merged timeline:
/// histograms from the log, status and per-second counts from run.json.
fn run_view(run: &LoadedRun, offset: usize) -> anyhow::Result<Merged> {
    let dir = run.dir.display();
    let mut view = Merged::default();
    for endpoint in &run.record.endpoints {
        let Some(parts) = run.histograms.endpoints.get(&endpoint.endpoint) else {
            bail!(
                "{dir}: {} has no histogram of {} (run.json has {} requests): the files are not of the same run",
                hlog::FILE_NAME,
                endpoint.endpoint,
                endpoint.requests
            );
        };
        if parts.all.len() != endpoint.requests {
            bail!(
                "{dir}: {}: {} holds {} requests, run.json {}: the files are not of the same run",
                endpoint.endpoint,
                hlog::FILE_NAME,
                parts.all.len(),
                endpoint.requests
            );
        }
        let seconds = endpoint.rps.len().max(endpoint.errors_per_second.len());
        let per_second = std::iter::repeat_n((0, 0), offset)
            .chain((0..seconds).map(|s| {
                (
                    endpoint.rps.get(s).copied().unwrap_or(0),
                    endpoint.errors_per_second.get(s).copied().unwrap_or(0),
                )
            }))
            .collect();
        let data = EndpointData {
            all: parts.all.clone(),
            hits: parts.hits.clone(),
            misses: parts.misses.clone(),
            statuses: endpoint.statuses.clone(),
            errors: endpoint.errors,
            per_second,
        };
        view.endpoints.insert(endpoint.endpoint.clone(), data);
    }
    if let Some(extra) = run
        .histograms
        .endpoints
        .keys()
        .find(|name| !view.endpoints.contains_key(*name))
    {
        bail!(
            "{dir}: {} has {extra}, run.json does not: the files are not of the same run",
            hlog::FILE_NAME
        );
    }
    view.latency_by_second = run
        .histograms
        .per_second
        .histograms()?
        .into_iter()
        .enumerate()
        .filter_map(|(second, h)| h.map(|h| ((second + offset) as u64, h)))
        .collect();
    Ok(view)
}

fn add_tally(into: &mut TallySnapshot, t: &TallySnapshot) {
    into.order_attempts += t.order_attempts;
    into.paid += t.paid;
    into.declined += t.declined;
    into.out_of_stock += t.out_of_stock;
    into.order_errors += t.order_errors;
    into.cancelled += t.cancelled;
    into.cancel_refused += t.cancel_refused;
    into.login_failures += t.login_failures;
    into.unknown_outcomes += t.unknown_outcomes;
    for (menu, quantity) in &t.net_sold {
        *into.net_sold.entry(*menu).or_default() += quantity;
    }
    for (menu, quantity) in &t.unknown_quantity {
        *into.unknown_quantity.entry(*menu).or_default() += quantity;
    }
}

/// A check moved onto the merged timeline, its menus named after their run.
fn shifted_check(
    check: &ConsistencyCheck,
    offset: u64,
    label: &dyn Fn(&str) -> String,
) -> ConsistencyCheck {
    let mut check = check.clone();
    check.at_secs += offset as f64;
    for row in &mut check.rows {
        row.key = label(&row.key);
    }
    check
}

/// A fault window moved onto the merged timeline.
fn shifted_window(window: &FaultWindow, offset: u64) -> FaultWindow {
    FaultWindow {
        start_s: window.start_s + offset as f64,
        end_s: window.end_s + offset as f64,
        ..window.clone()
    }
}

fn parse_time(text: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(text).ok()
}

/// Combines the runs into one record (see the module documentation).
pub fn merge_runs(runs: &[LoadedRun]) -> anyhow::Result<RunRecord> {
    let mut runs: Vec<&LoadedRun> = runs.iter().collect();
    // Numbered in the order their loads started.
    runs.sort_by_key(|run| run.histograms.load_started);
    let Some(first) = runs.first().copied() else {
        bail!("no runs to merge");
    };
    let name = &first.record.scenario.name;
    let mut tags = BTreeMap::new();
    for run in &runs {
        if &run.record.scenario.name != name {
            bail!(
                "{} is a run of \"{}\", {} of \"{name}\": only runs of one scenario can be merged",
                run.dir.display(),
                run.record.scenario.name,
                first.dir.display()
            );
        }
        if let Some(other) = tags.insert(run.record.config.run_tag.clone(), run.dir.display()) {
            bail!(
                "{other} and {} are the same run (run tag {}): give each run once",
                run.dir.display(),
                run.record.config.run_tag
            );
        }
    }
    let earliest = first.histograms.load_started;
    let several = runs.len() > 1;
    let mut notes = Vec::new();
    let mut merged = Merged::default();
    let mut offsets = Vec::new();
    for run in &runs {
        let spread = run
            .histograms
            .load_started
            .duration_since(earliest)
            .unwrap_or_default();
        if spread > MAX_SPREAD {
            bail!(
                "{} started {:.0} hours after {}: these are not one load test",
                run.dir.display(),
                spread.as_secs_f64() / 3600.0,
                first.dir.display()
            );
        }
        // Lined up to the nearest wall-clock second.
        let offset = spread.as_secs_f64().round() as u64;
        merged.merge(&run_view(run, offset as usize)?);
        offsets.push(offset);
    }
    let endpoints = merged.endpoint_snapshots();
    let timeline = merged.timeline();
    let load_secs = runs
        .iter()
        .zip(&offsets)
        .map(|(run, offset)| *offset as f64 + run.record.load_secs)
        .fold(0.0, f64::max);

    let label = |index: usize| {
        move |key: &str| {
            if several {
                format!("{key} (run {})", index + 1)
            } else {
                key.to_string()
            }
        }
    };
    let mut tally = TallySnapshot::default();
    let mut fault_windows = Vec::new();
    let mut recovery = Vec::new();
    let mut markers = Vec::new();
    let mut history = Vec::new();
    let mut rows = Vec::new();
    let mut last_check: Option<(f64, &ConsistencyCheck)> = None;
    let mut check_errors = Vec::new();
    let mut menu_ids = BTreeMap::new();
    let mut sources = Vec::new();
    for (index, (run, offset)) in runs.iter().zip(&offsets).enumerate() {
        let record = &run.record;
        let label = label(index);
        add_tally(&mut tally, &record.tally);
        let name_run = |label: &str| {
            if several {
                format!("[run {}] {label}", index + 1)
            } else {
                label.to_string()
            }
        };
        // Each run's recovery was measured on its own timeline and checks: carried over,
        // moved onto the merged timeline.
        for window in &record.fault_windows {
            let mut window = shifted_window(window, *offset);
            window.label = name_run(&window.label);
            fault_windows.push(window);
        }
        for figure in &record.recovery {
            let mut figure = figure.clone();
            figure.window = shifted_window(&figure.window, *offset);
            figure.window.label = name_run(&figure.window.label);
            figure.from_s += *offset as f64;
            figure.until_s = figure.until_s.map(|until| until + *offset as f64);
            recovery.push(figure);
        }
        for marker in &record.markers {
            let mut marker = marker.clone();
            marker.at_secs += *offset as f64;
            if several {
                marker.description = format!("[run {}] {}", index + 1, marker.description);
            }
            markers.push(marker);
        }
        history.extend(
            record
                .consistency_history
                .iter()
                .map(|check| shifted_check(check, *offset, &label)),
        );
        match &record.final_check {
            Some(check) => {
                rows.extend(shifted_check(check, *offset, &label).rows);
                if let Some(error) = &check.error {
                    check_errors.push(format!("run {}: {error}", index + 1));
                }
                let at = check.at_secs + *offset as f64;
                if last_check.is_none_or(|(last, _)| at >= last) {
                    last_check = Some((at, check));
                }
            }
            None => check_errors.push(format!("run {} made no final check", index + 1)),
        }
        for (key, id) in &record.config.menu_ids {
            menu_ids.insert(label(key), *id);
        }
        for note in &record.notes {
            notes.push(format!("run {}: {note}", index + 1));
        }
        if index > 0 {
            let differs = |what: &str| {
                format!(
                    "run {} ({}) has a different {what} from run 1; the merged report uses run 1's",
                    index + 1,
                    run.dir.display()
                )
            };
            if record.scenario != first.record.scenario {
                notes.push(differs("scenario file"));
            }
            if record.config.run_time != first.record.config.run_time
                || record.config.short != first.record.config.short
            {
                notes.push(differs("run time"));
            }
            if record.config.targets != first.record.config.targets {
                notes.push(differs("set of targets"));
            }
        }
        sources.push(SourceRun {
            dir: run.dir.display().to_string(),
            run_tag: record.config.run_tag.clone(),
            started_at: record.started_at.clone(),
            load_started_at: hlog::rfc3339(run.histograms.load_started),
            offset_secs: *offset,
            load_secs: record.load_secs,
            users: record.config.users,
            requests: record.total_requests(),
            errors: record.total_errors(),
            passed: record.passed,
            failed: record
                .assertions
                .iter()
                .filter(|a| !a.passed)
                .map(|a| a.title.clone())
                .collect(),
            p99: record
                .endpoints
                .iter()
                .map(|e| (e.endpoint.clone(), e.latency.p99))
                .collect(),
        });
    }
    markers.sort_by(|a, b| a.at_secs.total_cmp(&b.at_secs));
    history.sort_by(|a, b| a.at_secs.total_cmp(&b.at_secs));
    fault_windows.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    recovery.sort_by(|a, b| a.window.start_s.total_cmp(&b.window.start_s));
    // The check made last saw every run's orders: its Order Service totals are the
    // merged run's (they count all orders, not one run's).
    let final_check = last_check.map(|(at_secs, check)| ConsistencyCheck {
        at_secs,
        rows,
        orders_by_status: check.orders_by_status.clone(),
        error: (!check_errors.is_empty()).then(|| check_errors.join("; ")),
        compensations_outstanding: check.compensations_outstanding,
        took_ms: check.took_ms,
        oldest_pending_age_ms: check.oldest_pending_age_ms,
    });

    let scenario = first.record.scenario.clone();
    let assertions = scenario.scaled_assertions(first.record.config.run_time);
    let windows = assertions::trailing_windows(&assertions, &merged, &timeline, load_secs);
    let iterations = runs.iter().fold(IterationStats::default(), |sum, run| {
        let theirs = run.record.iterations;
        IterationStats {
            scheduled: sum.scheduled + theirs.scheduled,
            dropped: sum.dropped + theirs.dropped,
            // Each process ran its own iterations: the caps and peaks add up.
            peak_in_flight: sum.peak_in_flight + theirs.peak_in_flight,
            max_in_flight: sum.max_in_flight + theirs.max_in_flight,
        }
    });
    let evidence = Evidence {
        endpoints: endpoints.clone(),
        final_check: final_check.clone(),
        tally: tally.clone(),
        windows: windows.clone(),
        iterations,
        recovery: recovery.clone(),
    };
    let results = assertions::evaluate(&assertions, &evidence);
    let passed = results.iter().all(|r| r.passed) && !results.is_empty();

    let modes: BTreeSet<String> = runs
        .iter()
        .map(|r| format!("{:?}", r.record.config.mode))
        .collect();
    let mode = match &first.record.config.mode {
        LoadMode::OpenLoop { .. } => {
            let rates: Option<f64> = runs
                .iter()
                .map(|r| match r.record.config.mode {
                    LoadMode::OpenLoop { rate } => Some(rate),
                    LoadMode::ClosedLoop { .. } => None,
                })
                .sum();
            rates.map_or(first.record.config.mode.clone(), |rate| {
                LoadMode::OpenLoop { rate }
            })
        }
        closed => closed.clone(),
    };
    if runs
        .iter()
        .any(|r| std::mem::discriminant(&r.record.config.mode) != std::mem::discriminant(&mode))
    {
        notes.push(format!(
            "the runs used different load modes ({}); the report shows run 1's",
            modes.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    let by_time = |text: &String| parse_time(text);
    let started_at = runs
        .iter()
        .map(|r| &r.record.started_at)
        .min_by_key(|t| by_time(t))
        .cloned()
        .unwrap_or_default();
    let finished_at = runs
        .iter()
        .map(|r| &r.record.finished_at)
        .max_by_key(|t| by_time(t))
        .cloned()
        .unwrap_or_default();
    let config = &first.record.config;
    Ok(RunRecord {
        format_version: first.record.format_version,
        config: RunConfig {
            users: runs.iter().map(|r| r.record.config.users).sum(),
            hatch_rate: runs.iter().map(|r| r.record.config.hatch_rate).sum(),
            mode: mode.clone(),
            menu_ids,
            run_tag: runs
                .iter()
                .map(|r| r.record.config.run_tag.as_str())
                .collect::<Vec<_>>()
                .join("+"),
            max_in_flight: (iterations.max_in_flight > 0)
                .then_some(iterations.max_in_flight as usize),
            ..config.clone()
        },
        measurement: format!(
            "{} Merged from {} load process{}: counts are sums, percentiles come from their HDR \
             histograms added together (never averaged), and the timelines are lined up by the \
             wall-clock second each load started.",
            mode.measurement(),
            runs.len(),
            if several { "es" } else { "" }
        ),
        scenario,
        started_at,
        finished_at,
        load_started_at: Some(hlog::rfc3339(earliest)),
        load_secs,
        stopped_early: runs.iter().any(|r| r.record.stopped_early),
        endpoints,
        timeline,
        markers,
        consistency_history: history,
        final_check,
        tally,
        windows,
        iterations,
        assertions: results,
        passed,
        notes,
        merged_from: sources,
        fault_windows,
        recovery,
        histograms: Some(Arc::new(RunHistograms::from_merged(&merged, earliest))),
    })
}

/// Writes the merged record's reports into `out`, or a new `reports/merged/<timestamp>/`.
pub fn write_merged(
    record: &RunRecord,
    out: Option<&Path>,
    runs: &[LoadedRun],
) -> anyhow::Result<PathBuf> {
    let Some(out) = out else {
        let dir = report::new_report_dir(Path::new("reports/merged"), &record.started_at)?;
        report::write_into(record, &dir)?;
        return Ok(dir);
    };
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let out_real = out
        .canonicalize()
        .with_context(|| format!("reading {}", out.display()))?;
    for run in runs {
        if run.dir.canonicalize().is_ok_and(|dir| dir == out_real) {
            bail!(
                "--out {} is one of the runs being merged; choose another directory",
                out.display()
            );
        }
    }
    report::write_into(record, out)?;
    Ok(out.to_path_buf())
}

/// For printing: one line per merged run.
pub fn describe_sources(record: &RunRecord) -> Vec<String> {
    record
        .merged_from
        .iter()
        .enumerate()
        .map(|(index, source)| {
            format!(
                "run {}: {} — load from +{}s for {:.1}s, {} users, {} requests, {} errors, {}{}",
                index + 1,
                source.dir,
                source.offset_secs,
                source.load_secs,
                source.users,
                source.requests,
                source.errors,
                if source.passed { "passed" } else { "failed" },
                if source.failed.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", source.failed.join("; "))
                }
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use hdrhistogram::Histogram;

    use super::*;
    use crate::histogram::new_histogram;
    use crate::recorder::{Recorder, Sample};
    use crate::report::fixture::fixed_run;
    use crate::scenario::parse_scenario;

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
        let evidence = Evidence {
            endpoints: record.endpoints.clone(),
            final_check: record.final_check.clone(),
            tally: record.tally.clone(),
            windows: Vec::new(),
            iterations: IterationStats::default(),
            recovery: record.recovery.clone(),
        };
        let assertions = record.scenario.scaled_assertions(record.config.run_time);
        record.assertions = assertions::evaluate(&assertions, &evidence);
        record.passed = record.assertions.iter().all(|a| a.passed);
        let histograms = RunHistograms::from_merged(&merged, load_started);
        record.histograms = Some(Arc::new(histograms.clone()));
        LoadedRun {
            dir: PathBuf::from(format!("reports/{tag}")),
            record,
            histograms,
        }
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
        let a = saved_run(
            "a",
            1_700_000_000_000,
            &repeat("POST /orders", 1_000, 1000, 0),
            7,
            3,
        );
        let b = saved_run(
            "b",
            1_700_000_000_000,
            &repeat("POST /orders", 100_000, 10, 0),
            7,
            3,
        );
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
        let a = saved_run("a", 1_700_000_000_000, &a_samples, 10, 4);
        let b = saved_run("b", 1_700_000_002_400, &b_samples, 1, 0);
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
        let a = saved_run(
            "a",
            1_700_000_000_000,
            &repeat("POST /orders", 2_000, 5, 0),
            5,
            0,
        );
        let mut b = saved_run(
            "b",
            1_700_000_003_000,
            &repeat("POST /orders", 2_000, 5, 0),
            5,
            0,
        );
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
        let a = saved_run(
            "a",
            1_700_000_000_000,
            &repeat("POST /orders", 3_000, 100, 0),
            70,
            30,
        );
        let mut b_samples = repeat("POST /orders", 3_000, 90, 0);
        b_samples.extend(repeat("POST /orders", 200_000, 10, 0));
        let b = saved_run("b", 1_700_000_000_000, &b_samples, 90, 10);
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
        let samples = repeat("POST /orders", 1_000, 5, 0);
        let twice = [
            saved_run("a", 1_700_000_000_000, &samples, 1, 0),
            saved_run("a", 1_700_000_000_000, &samples, 1, 0),
        ];
        let error = merge_runs(&twice).expect_err("refused").to_string();
        assert!(error.contains("same run"), "{error}");

        let mut other = saved_run("b", 1_700_000_000_000, &samples, 1, 0);
        other.record.scenario.name = "other".into();
        let error = merge_runs(&[saved_run("a", 1_700_000_000_000, &samples, 1, 0), other])
            .expect_err("refused")
            .to_string();
        assert!(error.contains("only runs of one scenario"), "{error}");

        let mut mismatched = saved_run("c", 1_700_000_000_000, &samples, 1, 0);
        mismatched.record.endpoints[0].requests = 6;
        let error = merge_runs(&[mismatched]).expect_err("refused").to_string();
        assert!(error.contains("not of the same run"), "{error}");

        assert!(merge_runs(&[]).is_err());
    }

    #[test]
    fn a_merged_report_is_written_with_its_log_and_reads_back() {
        let dir =
            std::env::temp_dir().join(format!("loadgen-merge-{}", uuid::Uuid::new_v4().simple()));
        let runs = [
            saved_run(
                "a",
                1_700_000_000_000,
                &repeat("POST /orders", 1_000, 50, 0),
                1,
                0,
            ),
            saved_run(
                "b",
                1_700_000_001_000,
                &repeat("POST /orders", 9_000, 50, 0),
                1,
                0,
            ),
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
}
