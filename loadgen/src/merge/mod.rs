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
use crate::hlog::{self, RunHistograms};
use crate::record::{LoadMode, RunConfig, RunRecord};
use crate::recorder::{EndpointData, Merged};
use crate::report;
use carry::{Carried, RunLabel};

mod carry;
#[cfg(test)]
mod tests;

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
    check_one_scenario(first, &runs)?;
    let earliest = first.histograms.load_started;
    let (merged, offsets) = line_up(first, &runs)?;
    let endpoints = merged.endpoint_snapshots();
    let timeline = merged.timeline();
    let load_secs = runs
        .iter()
        .zip(&offsets)
        .map(|(run, offset)| *offset as f64 + run.record.load_secs)
        .fold(0.0, f64::max);
    let mut carried = Carried::default();
    for (index, (run, offset)) in runs.iter().zip(&offsets).enumerate() {
        let several = runs.len() > 1;
        carried.add(RunLabel { index, several }, run, *offset, &first.record);
    }
    let final_check = carried.finish();
    let scenario = first.record.scenario.clone();
    let assertions = scenario.scaled_assertions(first.record.config.run_time);
    let iterations = added_iterations(&runs);
    let measured = Evidence {
        endpoints: endpoints.clone(),
        final_check: final_check.clone(),
        tally: carried.tally.clone(),
        iterations,
        recovery: carried.recovery.clone(),
        ..Evidence::default()
    };
    let verdict = assertions::judge(&assertions, &merged, &timeline, load_secs, measured);
    let mode = merged_mode(&first.record.config.mode, &runs, &mut carried.notes);
    let (started_at, finished_at) = wall_clock_span(&runs);
    Ok(RunRecord {
        format_version: first.record.format_version,
        config: merged_config(
            &first.record.config,
            &runs,
            mode.clone(),
            iterations,
            carried.menu_ids,
        ),
        measurement: merged_measurement(&mode, runs.len()),
        scenario,
        started_at,
        finished_at,
        load_started_at: Some(hlog::rfc3339(earliest)),
        load_secs,
        stopped_early: runs.iter().any(|r| r.record.stopped_early),
        endpoints,
        timeline,
        markers: carried.markers,
        consistency_history: carried.history,
        final_check,
        tally: carried.tally,
        windows: verdict.windows,
        iterations,
        assertions: verdict.results,
        passed: verdict.passed,
        notes: carried.notes,
        merged_from: carried.sources,
        fault_windows: carried.fault_windows,
        recovery: carried.recovery,
        histograms: Some(Arc::new(RunHistograms::from_merged(&merged, earliest))),
    })
}

/// Only runs of one scenario merge, and each run only once.
fn check_one_scenario(first: &LoadedRun, runs: &[&LoadedRun]) -> anyhow::Result<()> {
    let name = &first.record.scenario.name;
    let mut tags = BTreeMap::new();
    for run in runs {
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
    Ok(())
}

/// The runs' recorder views added up, each lined up to the nearest wall-clock second after
/// `first`, the earliest; and each run's offset, in seconds.
fn line_up(first: &LoadedRun, runs: &[&LoadedRun]) -> anyhow::Result<(Merged, Vec<u64>)> {
    let mut merged = Merged::default();
    let mut offsets = Vec::new();
    for run in runs {
        let spread = run
            .histograms
            .load_started
            .duration_since(first.histograms.load_started)
            .unwrap_or_default();
        if spread > MAX_SPREAD {
            bail!(
                "{} started {:.0} hours after {}: these are not one load test",
                run.dir.display(),
                spread.as_secs_f64() / 3600.0,
                first.dir.display()
            );
        }
        let offset = spread.as_secs_f64().round() as u64;
        merged.merge(&run_view(run, offset as usize)?);
        offsets.push(offset);
    }
    Ok((merged, offsets))
}

/// Open-loop iterations of all the runs. Each process ran its own iterations: the caps and
/// peaks add up too.
fn added_iterations(runs: &[&LoadedRun]) -> IterationStats {
    runs.iter().fold(IterationStats::default(), |sum, run| {
        let theirs = run.record.iterations;
        IterationStats {
            scheduled: sum.scheduled + theirs.scheduled,
            dropped: sum.dropped + theirs.dropped,
            peak_in_flight: sum.peak_in_flight + theirs.peak_in_flight,
            max_in_flight: sum.max_in_flight + theirs.max_in_flight,
        }
    })
}

/// Run 1's load mode (`first`), open-loop rates added up; a note when the runs' modes
/// differ.
fn merged_mode(first: &LoadMode, runs: &[&LoadedRun], notes: &mut Vec<String>) -> LoadMode {
    let mode = match first {
        LoadMode::OpenLoop { .. } => {
            let rates: Option<f64> = runs
                .iter()
                .map(|r| match r.record.config.mode {
                    LoadMode::OpenLoop { rate } => Some(rate),
                    LoadMode::ClosedLoop { .. } => None,
                })
                .sum();
            rates.map_or(first.clone(), |rate| LoadMode::OpenLoop { rate })
        }
        closed => closed.clone(),
    };
    if runs
        .iter()
        .any(|r| std::mem::discriminant(&r.record.config.mode) != std::mem::discriminant(&mode))
    {
        let modes: BTreeSet<String> = runs
            .iter()
            .map(|r| format!("{:?}", r.record.config.mode))
            .collect();
        notes.push(format!(
            "the runs used different load modes ({}); the report shows run 1's",
            modes.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    mode
}

/// When the first run started and the last one finished, by the wall clock.
fn wall_clock_span(runs: &[&LoadedRun]) -> (String, String) {
    let in_order = |pick: fn(&RunRecord) -> &String| {
        let mut times: Vec<&String> = runs.iter().map(|run| pick(&run.record)).collect();
        times.sort_by_key(|text| parse_time(text));
        times
    };
    let started = in_order(|record| &record.started_at);
    let finished = in_order(|record| &record.finished_at);
    (
        started.first().map(|t| t.to_string()).unwrap_or_default(),
        finished.last().map(|t| t.to_string()).unwrap_or_default(),
    )
}

/// Run 1's settings (`first`), with the users, hatch rates, menus and run tags of all the
/// runs.
fn merged_config(
    first: &RunConfig,
    runs: &[&LoadedRun],
    mode: LoadMode,
    iterations: IterationStats,
    menu_ids: BTreeMap<String, i64>,
) -> RunConfig {
    RunConfig {
        users: runs.iter().map(|r| r.record.config.users).sum(),
        hatch_rate: runs.iter().map(|r| r.record.config.hatch_rate).sum(),
        mode,
        menu_ids,
        run_tag: runs
            .iter()
            .map(|r| r.record.config.run_tag.as_str())
            .collect::<Vec<_>>()
            .join("+"),
        max_in_flight: iterations.cap(),
        ..first.clone()
    }
}

fn merged_measurement(mode: &LoadMode, runs: usize) -> String {
    format!(
        "{} Merged from {} load process{}: counts are sums, percentiles come from their HDR \
         histograms added together (never averaged), and the timelines are lined up by the \
         wall-clock second each load started.",
        mode.measurement(),
        runs,
        if runs > 1 { "es" } else { "" }
    )
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
